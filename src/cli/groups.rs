//! The security group verbs, shaped like `aws ec2`'s: create-, describe- and
//! delete-security-group, and the four rule verbs with `--ip-permissions` or the short
//! `--protocol`/`--port`/`--cidr`/`--source-group` form.

use clap::Args;
use serde_json::Value;

use super::ctx::{filters_from, tag_specifications, to_json, Ctx, Failure};
use super::shorthand;
use crate::ec2::members;
use crate::ec2::shapes::network::{
    CreateSecurityGroupRequest, DeleteSecurityGroupRequest, DescribeSecurityGroupsRequest,
    IpPermission, IpRange, SecurityGroupRulesRequest, UserIdGroupPair,
};
use crate::net::actions::groups as group_actions;
use crate::net::groups::{self, Direction};

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab create-security-group --group-name web --description 'web servers' --vpc-id vpc-…\n\n\
  A new group allows all outbound traffic and no inbound traffic."
)]
/// Create a security group.
pub struct CreateSecurityGroup {
    /// The name, unique in its VPC.
    #[arg(long)]
    pub group_name: String,
    /// Free text.
    #[arg(long)]
    pub description: String,
    /// Default: the default VPC.
    #[arg(long)]
    pub vpc_id: Option<String>,
    /// Tags for the group, e.g. 'ResourceType=security-group,Tags=[{Key=Name,Value=web}]'.
    #[arg(long, num_args = 1..)]
    pub tag_specifications: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab authorize-security-group-ingress --group-id sg-… --protocol tcp --port 80 --cidr 0.0.0.0/0\n  \
  ec2lab authorize-security-group-ingress --group-id sg-… --protocol tcp --port 8000-8100 --source-group sg-…\n  \
  ec2lab authorize-security-group-ingress --group-id sg-… --protocol icmp --port -1 --cidr 10.0.0.0/8\n  \
  ec2lab authorize-security-group-ingress --group-id sg-… --ip-permissions \\\n      \
  'IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=0.0.0.0/0}]' \\\n      \
  'IpProtocol=tcp,FromPort=80,ToPort=80,IpRanges=[{CidrIp=0.0.0.0/0}]'\n\n\
  Rules are stateful (replies pass) and apply to running instances at once. --ip-permissions\n\
  (shorthand or JSON, as the aws CLI takes it) adds or takes away several rules at once.")]
/// Add a rule to a security group (the same flags revoke it).
pub struct RuleArgs {
    /// The group.
    #[arg(long)]
    pub group_id: String,
    /// The rules, as EC2's IpPermissions: IpProtocol, FromPort, ToPort,
    /// IpRanges=[{CidrIp=…}], UserIdGroupPairs=[{GroupId=…}].
    #[arg(long, num_args = 1..)]
    pub ip_permissions: Vec<String>,
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
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ec2lab describe-security-groups --group-ids sg-…\n  \
  ec2lab describe-security-groups --filters Name=group-name,Values=web Name=vpc-id,Values=vpc-…"
)]
/// Describe security groups.
pub struct DescribeSecurityGroups {
    /// Only these groups.
    #[arg(long, num_args = 1..)]
    pub group_ids: Vec<String>,
    /// Filters: Name=group-id|group-name|vpc-id|description|ip-permission.cidr|…,Values=…
    #[arg(long, num_args = 1..)]
    pub filters: Vec<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ec2lab delete-security-group --group-id sg-…\n  \
  ec2lab delete-security-group --group-name web   (in the default VPC)\n\n\
  A group in use by an interface, or named by another group's rule, cannot be deleted\n\
  (DependencyViolation)."
)]
/// Delete a security group.
pub struct DeleteSecurityGroup {
    /// The group.
    #[arg(long, required_unless_present = "group_name")]
    pub group_id: Option<String>,
    /// Or the group by name, in the default VPC.
    #[arg(long)]
    pub group_name: Option<String>,
}

/// `create-security-group`.
pub fn create_security_group(ctx: &Ctx, a: CreateSecurityGroup) -> Result<Value, Failure> {
    let req = CreateSecurityGroupRequest {
        group_name: a.group_name,
        description: a.description,
        vpc_id: a.vpc_id,
        tag_specifications: tag_specifications(&a.tag_specifications)?,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&group_actions::create_security_group(
        &mut ctx.tidy_store()?,
        &req,
    )?)
}

/// `describe-security-groups`.
pub fn describe_security_groups(ctx: &Ctx, a: DescribeSecurityGroups) -> Result<Value, Failure> {
    let req = DescribeSecurityGroupsRequest {
        filters: filters_from(&a.filters)?,
        group_ids: a.group_ids,
        ..Default::default()
    };
    ctx.answer_dry_run(&req)?;
    to_json(&group_actions::describe_security_groups(
        &mut ctx.tidy_store()?,
        &req,
    )?)
}

/// `delete-security-group`.
pub fn delete_security_group(ctx: &Ctx, a: DeleteSecurityGroup) -> Result<Value, Failure> {
    let req = DeleteSecurityGroupRequest {
        group_id: a.group_id,
        group_name: a.group_name,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&group_actions::delete_security_group(
        &mut ctx.tidy_store()?,
        &req,
    )?)
}

/// The four rule verbs: `authorize-…` when `grant`, `revoke-…` otherwise.
pub fn change_rule(ctx: &Ctx, a: RuleArgs, dir: Direction, grant: bool) -> Result<Value, Failure> {
    // The aws CLI's own check, in its words (a parameter error, not a parse error).
    if !a.ip_permissions.is_empty() {
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
    }
    let req = SecurityGroupRulesRequest {
        ip_permissions: match a.protocol {
            Some(protocol) => vec![one_rule(protocol, a.port, a.cidr, a.source_group)?],
            None => ip_permissions(&a.ip_permissions)?,
        },
        group_id: a.group_id,
    };
    ctx.answer_dry_run(&req)?;
    let s = &mut ctx.tidy_store()?;
    to_json(&if grant {
        group_actions::authorize_rules(s, &req, dir)?
    } else {
        group_actions::revoke_rules(s, &req, dir)?
    })
}

/// `--ip-permissions`: shorthand gives strings where the model has numbers, and single
/// elements where it has lists; they are converted as the aws CLI converts them.
fn ip_permissions(raw: &[String]) -> Result<Vec<IpPermission>, Failure> {
    let param = "--ip-permissions";
    let mut out = Vec::new();
    for (i, mut p) in shorthand::parse_list(raw)
        .map_err(|e| e.with_param(param))?
        .into_iter()
        .enumerate()
    {
        let Some(obj) = p.as_object_mut() else {
            return Err(Failure::Param(format!(
                "Error parsing parameter '{param}': each permission is IpProtocol=…,FromPort=…,…"
            )));
        };
        for port in ["FromPort", "ToPort"] {
            if let Some(v) = obj.get(port) {
                let n = shorthand::as_i64(v).ok_or_else(|| {
                    Failure::Param(format!(
                        "Error parsing parameter '{param}': {port} must be a number, got {v}"
                    ))
                })?;
                obj.insert(port.into(), n.into());
            }
        }
        for list in ["IpRanges", "UserIdGroupPairs"] {
            if let Some(v) = obj.get(list) {
                let items = shorthand::as_list(v);
                obj.insert(list.into(), Value::Array(items));
            }
        }
        // What EC2 has and ec2lab lacks (Ipv6Ranges, PrefixListIds, ...) is named, not dropped.
        out.push(members::decode(
            p,
            &format!("IpPermissions.{}", i + 1),
            &[],
        )?);
    }
    Ok(out)
}

/// The one rule of `--protocol`, `--port`, `--cidr` and `--source-group`.
fn one_rule(
    protocol: String,
    port: Option<String>,
    cidr: Option<String>,
    source_group: Option<String>,
) -> Result<IpPermission, Failure> {
    let (from_port, to_port) = match &port {
        Some(p) => groups::parse_ports(p)?,
        None => (None, None),
    };
    Ok(IpPermission {
        ip_protocol: protocol,
        from_port: from_port.map(i32::from),
        to_port: to_port.map(i32::from),
        ip_ranges: cidr
            .into_iter()
            .map(|cidr_ip| IpRange {
                cidr_ip,
                description: None,
            })
            .collect(),
        user_id_group_pairs: source_group
            .into_iter()
            .map(|group_id| UserIdGroupPair {
                group_id,
                user_id: None,
                description: None,
            })
            .collect(),
    })
}
