//! The aws CLI's flags for each `aws ec2` verb ec2lab has, read from botocore's EC2 model
//! (`ec2/ec2-model.json`) the way the aws CLI derives them (member names in kebab case,
//! `--no-…` for booleans, plus its own additions such as `--count`, `--cli-input-json` and
//! the paging flags). The parser accepts every one of them: `--dry-run` answers as EC2
//! does, a flag that only asks for what ec2lab does anyway is taken, and a flag for
//! something ec2lab does not do is answered with EC2's `Unsupported`, naming it, instead of
//! a usage error.

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::ec2::model::{Kind, Model};
use crate::error::Ec2Error;

/// What a flag that ec2lab's own arguments lack means here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meaning {
    /// `--dry-run` (`true`) or `--no-dry-run` (`false`).
    DryRun(bool),
    /// Asks for what ec2lab does anyway (`--no-encrypted`, `--page-size`): taken.
    NoOp,
    /// Asks for something ec2lab does not do: answered with `Unsupported`.
    Unsupported,
}

/// How many values a flag takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Takes {
    /// A switch.
    Nothing,
    /// A switch that may carry a value (the aws CLI's `--source-dest-check [Value=true]`).
    OptionalValue,
    /// One value.
    Value,
    /// One or more values (a list).
    Values,
}

/// One flag of an `aws ec2` verb.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsFlag {
    /// The flag without its dashes, e.g. `ipv6-address-count`.
    pub flag: String,
    /// The model member it sets (`Ipv6AddressCount`), if any.
    pub member: Option<String>,
    /// How many values it takes.
    pub takes: Takes,
    /// What it means where ec2lab's own arguments lack it.
    pub meaning: Meaning,
}

/// Verbs the aws CLI pages through on its own (botocore's `paginators-1.json`), which
/// gives them `--starting-token`, `--page-size` and `--max-items`.
const PAGINATED: &[&str] = &[
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeInstanceTypes",
    "DescribeImages",
    "DescribeVolumes",
    "DescribeSnapshots",
    "DescribeVpcs",
    "DescribeSubnets",
    "DescribeSecurityGroups",
    "DescribeNetworkInterfaces",
    "DescribeTags",
    "DescribeSpotInstanceRequests",
    "DescribeSpotPriceHistory",
    "DescribeReservedInstancesOfferings",
    "DescribeLaunchTemplates",
    "DescribeLaunchTemplateVersions",
];

/// Booleans whose `true` is what ec2lab does (an Elastic IP moves to the new instance),
/// so that the flag is taken and its negation is not.
const TRUE_IS_WHAT_EC2LAB_DOES: &[(&str, &str)] = &[("AssociateAddress", "AllowReassociation")];

/// The heading the flags ec2lab does not support are listed under in `--help`.
const HEADING: &str = "aws ec2 flags ec2lab accepts without supporting them";

/// Prefix of the ids of the arguments added here (never a valid flag name).
const ID_PREFIX: &str = "aws:";

/// botocore's `xform_name` with `-`: `Ipv6AddressCount` -> `ipv6-address-count`.
pub fn kebab(name: &str) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    // A trailing acronym plural ("ARNs") becomes one word ("-arns").
    let n = chars.len();
    let caps = chars
        .iter()
        .rev()
        .skip(1)
        .take_while(|c| c.is_ascii_uppercase())
        .count();
    if n >= 3 && chars[n - 1] == 's' && caps >= 2 {
        let mut tail: Vec<char> = chars[n - 1 - caps..]
            .iter()
            .map(|c| c.to_ascii_lowercase())
            .collect();
        chars.truncate(n - 1 - caps);
        chars.push('-');
        chars.append(&mut tail);
    }
    // (.)([A-Z][a-z]+) -> \1-\2, left to right, without overlaps.
    let mut first = Vec::with_capacity(chars.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        if i + 2 < chars.len()
            && chars[i + 1].is_ascii_uppercase()
            && chars[i + 2].is_ascii_lowercase()
        {
            let mut j = i + 2;
            while j < chars.len() && chars[j].is_ascii_lowercase() {
                j += 1;
            }
            first.push(chars[i]);
            first.push('-');
            first.extend_from_slice(&chars[i + 1..j]);
            i = j;
        } else {
            first.push(chars[i]);
            i += 1;
        }
    }
    // ([a-z0-9])([A-Z]) -> \1-\2, then lower case.
    let mut out = String::with_capacity(first.len() + 8);
    let mut i = 0;
    while i < first.len() {
        let c = first[i];
        if i + 1 < first.len()
            && (c.is_ascii_lowercase() || c.is_ascii_digit())
            && first[i + 1].is_ascii_uppercase()
        {
            out.push(c);
            out.push('-');
            out.push(first[i + 1].to_ascii_lowercase());
            i += 2;
        } else {
            out.push(c.to_ascii_lowercase());
            i += 1;
        }
    }
    out
}

/// `run-instances` -> `RunInstances`.
pub fn operation_of(verb: &str) -> String {
    verb.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Every flag the aws CLI gives `operation`'s verb, with what it means where ec2lab's own
/// arguments lack it; empty for an operation the model does not have.
pub fn flags(operation: &str) -> Vec<AwsFlag> {
    let model = Model::get();
    let Some(input) = model
        .operations
        .get(operation)
        .and_then(|o| o.input.as_deref())
    else {
        return vec![];
    };
    let modify = operation.starts_with("Modify");
    let mut out = Vec::new();
    let mut add = |flag: String, member: Option<&str>, takes, meaning| {
        out.push(AwsFlag {
            flag,
            member: member.map(str::to_string),
            takes,
            meaning,
        })
    };
    for m in &model.shape(input).members {
        let name = m.name.as_str();
        // The aws CLI replaces these two with --count.
        if operation == "RunInstances" && (name == "MinCount" || name == "MaxCount") {
            continue;
        }
        let flag = kebab(name);
        let shape = model.shape(&m.shape);
        match shape.kind {
            Kind::Boolean => {
                let negative = match flag.strip_prefix("no-") {
                    Some(rest) => rest.to_string(),
                    // The aws CLI's own name for the negation of this one.
                    None if operation == "RunInstances" && name == "DisableApiTermination" => {
                        "enable-api-termination".into()
                    }
                    None => format!("no-{flag}"),
                };
                let (pos, neg) = if name == "DryRun" {
                    (Meaning::DryRun(true), Meaning::DryRun(false))
                } else if TRUE_IS_WHAT_EC2LAB_DOES.contains(&(operation, name)) {
                    (Meaning::NoOp, Meaning::Unsupported)
                } else if modify {
                    // Setting an attribute to false is a change like any other.
                    (Meaning::Unsupported, Meaning::Unsupported)
                } else {
                    // false is EC2's default for these: what ec2lab does.
                    (Meaning::Unsupported, Meaning::NoOp)
                };
                add(flag, Some(name), Takes::Nothing, pos);
                add(negative, Some(name), Takes::Nothing, neg);
            }
            // The aws CLI turns a `{Value: boolean}` attribute into a switch pair.
            Kind::Structure if m.shape == "AttributeBooleanValue" => {
                add(
                    format!("no-{flag}"),
                    Some(name),
                    Takes::Nothing,
                    Meaning::Unsupported,
                );
                add(flag, Some(name), Takes::OptionalValue, Meaning::Unsupported);
            }
            Kind::List => add(flag, Some(name), Takes::Values, Meaning::Unsupported),
            // An idempotency token: ec2lab's API takes and ignores it too.
            _ if name == "ClientToken" => add(flag, Some(name), Takes::Value, Meaning::NoOp),
            _ => add(flag, Some(name), Takes::Value, Meaning::Unsupported),
        }
    }
    // The aws CLI's own additions.
    match operation {
        "RunInstances" => {
            for f in [
                "secondary-private-ip-addresses",
                "secondary-private-ip-address-count",
            ] {
                add(f.into(), None, Takes::Value, Meaning::Unsupported);
            }
        }
        op if op.contains("SecurityGroupIngress") || op.contains("SecurityGroupEgress") => {
            add(
                "group-owner".into(),
                None,
                Takes::Value,
                Meaning::Unsupported,
            );
        }
        _ => {}
    }
    if PAGINATED.contains(&operation) {
        add(
            "starting-token".into(),
            None,
            Takes::Value,
            Meaning::Unsupported,
        );
        add("max-items".into(), None, Takes::Value, Meaning::Unsupported);
        // Pages of any size add up to the whole answer, which ec2lab gives at once.
        add("page-size".into(), None, Takes::Value, Meaning::NoOp);
    }
    add(
        "cli-input-json".into(),
        None,
        Takes::Value,
        Meaning::Unsupported,
    );
    add(
        "generate-cli-skeleton".into(),
        None,
        Takes::OptionalValue,
        Meaning::Unsupported,
    );
    out
}

fn arg_for(f: &AwsFlag) -> Arg {
    let id = format!("{ID_PREFIX}{}", f.flag);
    let arg = Arg::new(id).long(f.flag.clone());
    let arg = match f.takes {
        Takes::Nothing => arg.action(ArgAction::SetTrue),
        Takes::OptionalValue => arg
            .action(ArgAction::Append)
            .num_args(0..=1)
            .default_missing_value("true"),
        Takes::Value => arg
            .action(ArgAction::Append)
            .num_args(1)
            .allow_hyphen_values(true),
        Takes::Values => arg.action(ArgAction::Append).num_args(1..),
    };
    match f.meaning {
        Meaning::DryRun(true) => {
            arg.help("Check the request and answer DryRunOperation (exit 254) instead of doing it")
        }
        Meaning::DryRun(false) => arg.help("Do it (the default)").hide_short_help(true),
        Meaning::NoOp => arg
            .help("Taken: asks for what ec2lab does anyway")
            .help_heading(HEADING)
            .hide_short_help(true),
        Meaning::Unsupported => arg
            .help("Not supported by ec2lab: answered with Unsupported")
            .help_heading(HEADING)
            .hide_short_help(true),
    }
}

/// The verbs that only ec2lab's own processes run, once per guest: never EC2 operations,
/// so their command lines are parsed without reading the model.
const INTERNAL_VERBS: &[&str] = &[
    "vmm",
    "vmm-ctl",
    "__supervise",
    "__monitor",
    "__metadata-worker",
];

/// The verb of a command line: its first word that is not an option or an option's value
/// (`cmd`'s own options, before the verb).
pub fn verb_of(cmd: &Command, args: &[std::ffi::OsString]) -> Option<String> {
    let with_value: Vec<String> = cmd
        .get_arguments()
        .filter(|a| a.get_action().takes_values())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        if with_value.iter().any(|f| f == word) {
            words.next();
        } else if !word.starts_with('-') {
            return cmd.find_subcommand(word).map(|s| s.get_name().to_string());
        }
    }
    None
}

/// `cmd` with, on `verb` when it is an EC2 operation, the aws CLI's flags its own arguments
/// lack. (Only the verb at hand: the model is read and the arguments built for it alone.)
pub fn augment(cmd: Command, verb: &str) -> Command {
    if INTERNAL_VERBS.contains(&verb) {
        return cmd;
    }
    let extra = flags(&operation_of(verb));
    if extra.is_empty() {
        return cmd;
    }
    cmd.mut_subcommand(verb, |sub| {
        let own: Vec<String> = sub
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_string))
            .collect();
        extra
            .iter()
            .filter(|f| !own.contains(&f.flag))
            .fold(sub, |sub, f| sub.arg(arg_for(f)))
    })
}

/// `cmd` with nothing required of `verb`: read only to name the flags it does not support
/// when one of its required arguments is missing too.
pub fn relaxed(cmd: Command, verb: &str) -> Command {
    cmd.mut_subcommand(verb, |sub| sub.mut_args(|a| a.required(false)))
}

/// What the parsed command line says through the added flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsArgs {
    /// `--dry-run` (the last of `--dry-run` and `--no-dry-run` wins).
    pub dry_run: bool,
    /// The flags given that ec2lab does not support, in command-line order.
    pub unsupported: Vec<AwsFlag>,
}

impl AwsArgs {
    /// Reads the added flags of the verb in `matches`.
    pub fn from_matches(matches: &ArgMatches) -> AwsArgs {
        let Some((verb, sub)) = matches.subcommand() else {
            return AwsArgs::default();
        };
        let given = |f: &AwsFlag| {
            let id = format!("{ID_PREFIX}{}", f.flag);
            let on_line = matches!(
                sub.try_get_raw(&id).map(|_| sub.value_source(&id)),
                Ok(Some(ValueSource::CommandLine))
            );
            on_line.then(|| sub.index_of(&id).unwrap_or(0))
        };
        let mut out = AwsArgs::default();
        let mut dry_at = None;
        let mut unsupported = Vec::new();
        for f in flags(&operation_of(verb)) {
            let Some(at) = given(&f) else { continue };
            match f.meaning {
                Meaning::DryRun(on) => {
                    if dry_at.is_none_or(|d| at > d) {
                        dry_at = Some(at);
                        out.dry_run = on;
                    }
                }
                Meaning::NoOp => {}
                Meaning::Unsupported => unsupported.push((at, f)),
            }
        }
        unsupported.sort_by_key(|(at, _)| *at);
        out.unsupported = unsupported.into_iter().map(|(_, f)| f).collect();
        out
    }

    /// EC2's `Unsupported`, naming every flag given that ec2lab does not support.
    pub fn refusal(&self) -> Option<Ec2Error> {
        if self.unsupported.is_empty() {
            return None;
        }
        let names: Vec<String> = self
            .unsupported
            .iter()
            .map(|f| match &f.member {
                Some(m) => format!("--{} ({m})", f.flag),
                None => format!("--{}", f.flag),
            })
            .collect();
        let (noun, verb) = if names.len() == 1 {
            ("parameter", "is")
        } else {
            ("parameters", "are")
        };
        Some(Ec2Error::new(
            "Unsupported",
            format!(
                "The {noun} {} {verb} not supported by ec2lab",
                names.join(", ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_is_botocore_xform_name() {
        for (member, flag) in [
            ("DryRun", "dry-run"),
            ("Ipv6AddressCount", "ipv6-address-count"),
            ("KmsKeyId", "kms-key-id"),
            ("Ipv4IpamPoolId", "ipv4-ipam-pool-id"),
            ("CidrIp", "cidr-ip"),
            ("EnaSrdSpecification", "ena-srd-specification"),
            (
                "Ipv6CidrBlockNetworkBorderGroup",
                "ipv6-cidr-block-network-border-group",
            ),
            (
                "AmazonProvidedIpv6CidrBlock",
                "amazon-provided-ipv6-cidr-block",
            ),
            ("IamInstanceProfile", "iam-instance-profile"),
            ("NoReboot", "no-reboot"),
            ("VpcIds", "vpc-ids"),
            ("TPMSupport", "tpm-support"),
            ("ResourceARNs", "resource-arns"),
        ] {
            assert_eq!(kebab(member), flag, "{member}");
        }
        assert_eq!(operation_of("run-instances"), "RunInstances");
    }

    fn find<'a>(flags: &'a [AwsFlag], flag: &str) -> &'a AwsFlag {
        flags
            .iter()
            .find(|f| f.flag == flag)
            .unwrap_or_else(|| panic!("no --{flag}"))
    }

    #[test]
    fn run_instances_has_the_aws_cli_flags() {
        let f = flags("RunInstances");
        let ipv6 = find(&f, "ipv6-address-count");
        assert_eq!(ipv6.member.as_deref(), Some("Ipv6AddressCount"));
        assert_eq!(ipv6.meaning, Meaning::Unsupported);
        assert_eq!(find(&f, "placement").takes, Takes::Value);
        assert_eq!(find(&f, "ipv6-addresses").takes, Takes::Values);
        assert_eq!(find(&f, "ebs-optimized").meaning, Meaning::Unsupported);
        assert_eq!(find(&f, "no-ebs-optimized").meaning, Meaning::NoOp);
        assert_eq!(find(&f, "enable-api-termination").meaning, Meaning::NoOp);
        assert_eq!(find(&f, "dry-run").meaning, Meaning::DryRun(true));
        assert_eq!(find(&f, "no-dry-run").meaning, Meaning::DryRun(false));
        assert_eq!(find(&f, "client-token").meaning, Meaning::NoOp);
        assert!(f
            .iter()
            .all(|x| x.flag != "min-count" && x.flag != "max-count"));
        let f = flags("CreateImage");
        assert_eq!(find(&f, "reboot").meaning, Meaning::NoOp);
        let f = flags("ModifyInstanceAttribute");
        assert_eq!(find(&f, "source-dest-check").takes, Takes::OptionalValue);
        assert_eq!(
            find(&f, "no-source-dest-check").meaning,
            Meaning::Unsupported
        );
        let f = flags("AssociateAddress");
        assert_eq!(find(&f, "allow-reassociation").meaning, Meaning::NoOp);
        assert_eq!(
            find(&f, "no-allow-reassociation").meaning,
            Meaning::Unsupported
        );
        assert_eq!(
            find(&flags("DescribeImages"), "page-size").meaning,
            Meaning::NoOp
        );
        assert!(flags("Ssh").is_empty());
    }

    #[test]
    fn the_parser_takes_them_and_names_the_unsupported_ones() {
        use clap::CommandFactory;
        let cmd = augment(crate::cli::Cli::command(), "run-instances");
        let m = cmd
            .clone()
            .try_get_matches_from([
                "ec2lab",
                "run-instances",
                "--image-id",
                "ami-0123456789abcdef0",
                "--kernel-id",
                "aki-0123456789abcdef0",
                "--no-ebs-optimized",
                "--ipv6-address-count",
                "1",
                "--dry-run",
            ])
            .unwrap();
        let a = AwsArgs::from_matches(&m);
        assert!(a.dry_run);
        let flags: Vec<&str> = a.unsupported.iter().map(|f| f.flag.as_str()).collect();
        assert_eq!(flags, ["kernel-id", "ipv6-address-count"]);
        let e = a.refusal().unwrap();
        assert_eq!(e.code, "Unsupported");
        assert_eq!(
            e.message,
            "The parameters --kernel-id (KernelId), --ipv6-address-count (Ipv6AddressCount) \
             are not supported by ec2lab"
        );

        // The last of --dry-run and --no-dry-run wins; the verb's own flags stay its own.
        let cmd = augment(crate::cli::Cli::command(), "describe-instances");
        let m = cmd
            .clone()
            .try_get_matches_from([
                "ec2lab",
                "describe-instances",
                "--dry-run",
                "--no-dry-run",
                "--page-size",
                "5",
            ])
            .unwrap();
        assert_eq!(AwsArgs::from_matches(&m), AwsArgs::default());

        // A required argument missing and an unsupported flag: the relaxed parser names it.
        let argv = [
            "ec2lab",
            "create-volume",
            "--availability-zone-id",
            "use1-az1",
        ];
        let base = crate::cli::Cli::command();
        let args: Vec<std::ffi::OsString> = argv.iter().map(Into::into).collect();
        assert_eq!(verb_of(&base, &args).as_deref(), Some("create-volume"));
        let words = |w: &[&str]| {
            w.iter()
                .map(Into::into)
                .collect::<Vec<std::ffi::OsString>>()
        };
        let line = words(&[
            "ec2lab",
            "--region",
            "vmm",
            "--query=x",
            "--output",
            "text",
            "ssh",
        ]);
        assert_eq!(verb_of(&base, &line).as_deref(), Some("ssh"));
        assert_eq!(verb_of(&base, &words(&["ec2lab", "--help"])), None);
        let cmd = augment(base, "create-volume");
        assert!(cmd.clone().try_get_matches_from(argv).is_err());
        let m = relaxed(cmd, "create-volume")
            .try_get_matches_from(argv)
            .unwrap();
        let a = AwsArgs::from_matches(&m);
        assert_eq!(a.unsupported[0].flag, "availability-zone-id");
    }
}
