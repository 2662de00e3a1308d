//! The security group rule verbs (authorize- and revoke-security-group-ingress and
//! -egress): a rule from the aws CLI's simple flags (`--protocol`, `--port`, `--cidr`,
//! `--source-group`) or several from `--ip-permissions`, shaped like `aws ec2`'s.

use clap::Args;
use serde_json::{json, Value};

use super::ctx::{to_json, Ctx, Failure};
use super::shorthand;
use super::vpc::{store, synced};
use crate::ec2::shapes::network::{
    IpPermission, IpRange, SecurityGroupRulesRequest, UserIdGroupPair,
};
use crate::net::groups::{self, Direction};

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab authorize-security-group-ingress --group-id sg-… --protocol tcp --port 80 --cidr 0.0.0.0/0\n  \
  ec2lab authorize-security-group-ingress --group-id sg-… --protocol tcp --port 8000-8100 --source-group sg-…\n  \
  ec2lab authorize-security-group-ingress --group-id sg-… --protocol icmp --port -1 --cidr 10.0.0.0/8\n  \
  ec2lab authorize-security-group-ingress --group-id sg-… --ip-permissions \\\n      \
  'IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=203.0.113.0/24}]' \\\n      \
  'IpProtocol=tcp,FromPort=443,ToPort=443,UserIdGroupPairs=[{GroupId=sg-…}]'\n\n\
  Rules are stateful (replies pass) and apply to running instances at once.")]
/// Add a rule to a security group (the same flags revoke it).
pub struct RuleArgs {
    /// The group.
    #[arg(long)]
    pub group_id: String,
    /// tcp, udp, icmp, or -1 (all).
    #[arg(
        long,
        allow_hyphen_values = true,
        required_unless_present = "ip_permissions"
    )]
    pub protocol: Option<String>,
    /// A port, a range (8000-8100), or -1 for all.
    #[arg(long, allow_hyphen_values = true)]
    pub port: Option<String>,
    /// An IPv4 range, e.g. 0.0.0.0/0.
    #[arg(long)]
    pub cidr: Option<String>,
    /// A group of the same VPC whose members the rule covers.
    #[arg(long)]
    pub source_group: Option<String>,
    /// Rules as EC2 writes them, instead of --protocol, --port, --cidr and --source-group
    /// (shorthand or JSON; several rules at once).
    #[arg(long, num_args = 1..)]
    pub ip_permissions: Vec<String>,
}

/// `--ip-permissions`: the rules, read by the model's shape (`IpPermission`); a member it
/// lacks (`Ipv6Ranges`, `PrefixListIds`, …) is EC2's `Unsupported`, naming it.
fn ip_permissions(raw: &[String]) -> Result<Vec<IpPermission>, Failure> {
    /// The request member the rules are, for the error's path (`IpPermissions.1.…`).
    #[derive(serde::Deserialize, serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Rules {
        ip_permissions: Vec<IpPermission>,
    }
    let mut rules = shorthand::parse_list(raw).map_err(|e| e.with_param("--ip-permissions"))?;
    for rule in &mut rules {
        // Shorthand gives text where the model has numbers, and one item where it has lists.
        for key in ["FromPort", "ToPort"] {
            if let Some(v) = rule.get_mut(key) {
                if let Some(n) = shorthand::as_i64(v) {
                    *v = n.into();
                }
            }
        }
        for key in [
            "IpRanges",
            "UserIdGroupPairs",
            "Ipv6Ranges",
            "PrefixListIds",
        ] {
            if let Some(v) = rule.get_mut(key) {
                *v = Value::Array(shorthand::as_list(v));
            }
        }
    }
    let rules: Rules = crate::api::actions::from_request(json!({ "IpPermissions": rules }))?;
    Ok(rules.ip_permissions)
}

/// The four rule verbs: `authorize-…` when `grant`, `revoke-…` otherwise.
pub fn change_rule(ctx: &Ctx, a: RuleArgs, dir: Direction, grant: bool) -> Result<Value, Failure> {
    if !a.ip_permissions.is_empty() {
        // The aws CLI's check, in its words.
        let simple = [
            ("protocol", a.protocol.is_some()),
            ("port", a.port.is_some()),
            ("cidr", a.cidr.is_some()),
            ("source-group", a.source_group.is_some()),
        ];
        if let Some((flag, _)) = simple.iter().find(|(_, given)| *given) {
            return Err(Failure::Param(format!(
                "The --{flag} option is not compatible with the --ip-permissions option"
            )));
        }
        let req = SecurityGroupRulesRequest {
            group_id: a.group_id,
            ip_permissions: ip_permissions(&a.ip_permissions)?,
        };
        return apply_rules(ctx, &req, dir, grant);
    }
    let (from_port, to_port) = match &a.port {
        Some(p) => groups::parse_ports(p)?,
        None => (None, None),
    };
    let req = SecurityGroupRulesRequest {
        group_id: a.group_id,
        ip_permissions: vec![IpPermission {
            ip_protocol: a.protocol.unwrap_or_default(),
            from_port: from_port.map(i32::from),
            to_port: to_port.map(i32::from),
            ip_ranges: a
                .cidr
                .into_iter()
                .map(|cidr_ip| IpRange { cidr_ip })
                .collect(),
            user_id_group_pairs: a
                .source_group
                .into_iter()
                .map(|group_id| UserIdGroupPair {
                    group_id,
                    user_id: None,
                })
                .collect(),
        }],
    };
    apply_rules(ctx, &req, dir, grant)
}

fn apply_rules(
    ctx: &Ctx,
    req: &SecurityGroupRulesRequest,
    dir: Direction,
    grant: bool,
) -> Result<Value, Failure> {
    ctx.answer_dry_run(req)?;
    let mut s = store(ctx)?;
    let result = if grant {
        groups::authorize_rules(&mut s, req, dir)?
    } else {
        groups::revoke_rules(&mut s, req, dir)?
    };
    let v = to_json(&result)?;
    synced(&s, v)
}
