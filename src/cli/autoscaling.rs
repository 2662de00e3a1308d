//! `ec2lab autoscaling <verb>`: Auto Scaling's verbs with the aws CLI's names and flags,
//! made from botocore's model ([`super::modelverbs`]), over the same operation table as
//! the API ([`crate::autoscaling::operations`]).

use clap::{ArgMatches, Args, Command, FromArgMatches};
use serde_json::Value;

use super::ctx::{Ctx, Failure};
use super::modelverbs::{self, ModelVerb};
use crate::autoscaling::operations::{self, OPERATIONS};
use crate::ec2::model::{self, Model};

fn as_model() -> &'static Model {
    model::autoscaling()
}

const ABOUT: &str =
    "Auto Scaling: groups that keep their instances healthy and grow with the load (the aws CLI's verbs and flags)";

const AFTER_HELP: &str = "\
A group over a launch template, kept at its desired capacity by the monitor daemon:
  ec2lab create-launch-template --launch-template-name web \\
    --launch-template-data '{\"ImageId\":\"ami-0123456789abcdef0\",\"InstanceType\":\"t2.micro\",\"Monitoring\":{\"Enabled\":true}}'
  ec2lab autoscaling create-auto-scaling-group --auto-scaling-group-name web \\
    --launch-template LaunchTemplateName=web,Version='$Latest' \\
    --min-size 1 --max-size 3 --desired-capacity 2 --vpc-zone-identifier subnet-0123456789abcdef0
  ec2lab autoscaling describe-auto-scaling-groups --auto-scaling-group-names web
  ec2lab autoscaling put-scaling-policy --auto-scaling-group-name web --policy-name cpu50 \\
    --policy-type TargetTrackingScaling --target-tracking-configuration \\
    '{\"PredefinedMetricSpecification\":{\"PredefinedMetricType\":\"ASGAverageCPUUtilization\"},\"TargetValue\":50}'
  ec2lab autoscaling describe-scaling-activities --auto-scaling-group-name web
  ec2lab autoscaling delete-auto-scaling-group --auto-scaling-group-name web --force-delete
Instances that stop, are terminated or fail a status check are replaced within a tick
(10 s) of the region's monitor daemon, which also runs the policies CloudWatch alarms name.";

/// `ec2lab autoscaling <verb>`.
#[derive(Clone, Debug)]
pub struct Autoscaling {
    /// The operation and its raw flag values.
    pub verb: ModelVerb,
}

impl Autoscaling {
    /// The operation, for error messages.
    pub fn operation(&self) -> &'static str {
        self.verb.operation_in(OPERATIONS)
    }
}

impl Args for Autoscaling {
    fn augment_args(cmd: Command) -> Command {
        modelverbs::augment(cmd, as_model(), OPERATIONS)
            .about(ABOUT)
            .after_help(AFTER_HELP)
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for Autoscaling {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let verb = modelverbs::from_matches(as_model(), matches).ok_or_else(|| {
            clap::Error::raw(
                clap::error::ErrorKind::MissingSubcommand,
                "ec2lab autoscaling needs a verb (see --help)\n",
            )
        })?;
        Ok(Autoscaling { verb })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// Runs one Auto Scaling verb.
pub fn run(ctx: &Ctx, a: Autoscaling) -> Result<Value, Failure> {
    let input = modelverbs::input(as_model(), &a.verb)?;
    let mut store = ctx.tidy_store()?;
    let out = operations::call(&mut store, &a.verb.operation, input)?;
    // The actions without a result print nothing, as the aws CLI does.
    Ok(match out {
        Value::Object(o) if o.is_empty() => Value::Null,
        v => v,
    })
}
