//! The launch template verbs (`ec2lab create-launch-template`, ...), beside the other EC2
//! verbs, with the aws CLI's flags made from botocore's EC2 model
//! ([`super::modelverbs`]): `--launch-template-data` takes shorthand, JSON or `file://`.

use clap::{ArgMatches, Command, FromArgMatches, Subcommand};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::awsflags::kebab;
use super::ctx::{to_json, Ctx, Failure};
use super::modelverbs::{self, ModelVerb};
use crate::ec2::members;
use crate::ec2::model::Model;
use crate::error::Ec2Error;
use crate::launch_templates as lt;

/// The launch template operations, in the model's names.
pub const OPERATIONS: &[&str] = &[
    "CreateLaunchTemplate",
    "CreateLaunchTemplateVersion",
    "DescribeLaunchTemplates",
    "DescribeLaunchTemplateVersions",
    "ModifyLaunchTemplate",
    "DeleteLaunchTemplate",
];

const EXAMPLES: &str = "\
Examples:
  ec2lab create-launch-template --launch-template-name web \\
    --launch-template-data '{\"ImageId\":\"ami-0123456789abcdef0\",\"InstanceType\":\"t2.micro\"}'
  ec2lab create-launch-template-version --launch-template-name web --source-version 1 \\
    --launch-template-data InstanceType=t3.small
  ec2lab modify-launch-template --launch-template-name web --default-version 2
  ec2lab run-instances --launch-template LaunchTemplateName=web,Version=2";

/// One launch template verb and its raw flags.
#[derive(Clone, Debug)]
pub struct LaunchTemplateVerb(pub ModelVerb);

impl LaunchTemplateVerb {
    /// The operation, for error messages.
    pub fn operation(&self) -> &'static str {
        self.0.operation_in(OPERATIONS)
    }
}

impl FromArgMatches for LaunchTemplateVerb {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        modelverbs::from_matches(Model::get(), matches)
            .filter(|v| OPERATIONS.contains(&v.operation.as_str()))
            .map(LaunchTemplateVerb)
            .ok_or_else(|| {
                clap::Error::raw(
                    clap::error::ErrorKind::InvalidSubcommand,
                    "not a launch template verb\n",
                )
            })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for LaunchTemplateVerb {
    fn augment_subcommands(cmd: Command) -> Command {
        OPERATIONS.iter().fold(cmd, |cmd, op| {
            cmd.subcommand(modelverbs::verb_command(Model::get(), op).after_help(EXAMPLES))
        })
    }

    fn augment_subcommands_for_update(cmd: Command) -> Command {
        Self::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        OPERATIONS.iter().any(|op| kebab(op) == name)
    }
}

fn decode<T: DeserializeOwned + Serialize>(input: Value) -> Result<T, Failure> {
    Ok(members::decode(input, "", &["DryRun", "ClientToken"])?)
}

/// Runs one launch template verb.
pub fn run(ctx: &Ctx, verb: LaunchTemplateVerb) -> Result<Value, Failure> {
    let input = modelverbs::input(Model::get(), &verb.0)?;
    let dry_run = input.get("DryRun").and_then(Value::as_bool) == Some(true);
    let answer = |dry: bool| -> Result<(), Failure> {
        if dry {
            return Err(Failure::Service(Ec2Error::new(
                "DryRunOperation",
                "Request would have succeeded, but DryRun flag is set.",
            )));
        }
        Ok(())
    };
    let mut store = ctx.store()?;
    match verb.0.operation.as_str() {
        "CreateLaunchTemplate" => {
            let r = decode(input)?;
            answer(dry_run)?;
            to_json(&lt::create_launch_template(&mut store, &r)?)
        }
        "CreateLaunchTemplateVersion" => {
            let r = decode(input)?;
            answer(dry_run)?;
            to_json(&lt::create_launch_template_version(&mut store, &r)?)
        }
        "DescribeLaunchTemplates" => {
            let r = decode(input)?;
            answer(dry_run)?;
            to_json(&lt::describe_launch_templates(&store, &r)?)
        }
        "DescribeLaunchTemplateVersions" => {
            let r = decode(input)?;
            answer(dry_run)?;
            to_json(&lt::describe_launch_template_versions(&store, &r)?)
        }
        "ModifyLaunchTemplate" => {
            let r = decode(input)?;
            answer(dry_run)?;
            to_json(&lt::modify_launch_template(&mut store, &r)?)
        }
        "DeleteLaunchTemplate" => {
            let r = decode(input)?;
            answer(dry_run)?;
            to_json(&lt::delete_launch_template(&mut store, &r)?)
        }
        other => Err(Failure::Service(Ec2Error::new(
            "InvalidAction",
            format!("The action {other} is not valid for this web service."),
        ))),
    }
}
