//! `ec2lab cloudwatch <verb>`: CloudWatch's verbs with the aws CLI's names and flags, made
//! from botocore's model ([`super::modelverbs`]), over the same operation table as the API
//! ([`crate::cloudwatch::operations`]).

use std::path::PathBuf;

use base64ct::{Base64, Encoding};
use clap::{value_parser, Arg, ArgMatches, Args, Command, FromArgMatches};
use serde_json::Value;

use super::ctx::{Ctx, Failure};
use super::modelverbs::{self, ModelVerb};
use crate::cloudwatch::operations::{self, OPERATIONS};
use crate::ec2::model::{self, Model};
use crate::error::Ec2Error;

fn cw_model() -> &'static Model {
    model::cloudwatch()
}

const ABOUT: &str =
    "CloudWatch: metrics, alarms that act, dashboards and graphs (the aws CLI's verbs and flags)";

const AFTER_HELP: &str = "\
Watch an instance, alarm on it, graph it (timestamps: ISO 8601 or seconds since the epoch):
  ec2lab cloudwatch get-metric-statistics --namespace AWS/EC2 --metric-name CPUUtilization \\
    --dimensions Name=InstanceId,Value=i-0123456789abcdef0 --statistics Average Maximum \\
    --start-time 2026-12-03T10:00:00Z --end-time 2026-12-03T11:00:00Z --period 300
  ec2lab sns create-topic --name admin-alerts
  ec2lab cloudwatch put-metric-alarm --alarm-name cpu-high --namespace AWS/EC2 \\
    --metric-name CPUUtilization --dimensions Name=InstanceId,Value=i-0123456789abcdef0 \\
    --statistic Average --period 60 --evaluation-periods 3 --threshold 80 \\
    --comparison-operator GreaterThanThreshold \\
    --alarm-actions arn:aws:sns:lab-1:111122223333:admin-alerts arn:aws:automate:lab-1:ec2:stop
  ec2lab cloudwatch describe-alarms --alarm-names cpu-high
  ec2lab cloudwatch describe-alarm-history --alarm-name cpu-high
  ec2lab cloudwatch put-dashboard --dashboard-name lab --dashboard-body file://dashboard.json
  ec2lab cloudwatch get-metric-widget-image --output-file cpu.png --metric-widget \\
    '{\"metrics\":[[\"AWS/EC2\",\"CPUUtilization\",\"InstanceId\",\"i-0123456789abcdef0\"]],\"start\":\"-PT3H\"}'
Alarms are evaluated every 10 s by the region's monitor daemon, whether or not any ec2lab
command runs. Instances with detailed monitoring (monitor-instances) have 10-second data,
so alarms with --period 10 work on them; basic monitoring gives one point per 5 minutes.";

const OUTPUT_FILE: &str = "output_file";

/// `ec2lab cloudwatch <verb>`: one of CloudWatch's operations and its flags.
#[derive(Clone, Debug)]
pub struct Cloudwatch {
    /// The operation and its raw flag values.
    pub verb: ModelVerb,
    /// `get-metric-widget-image --output-file PATH`: where the PNG goes.
    pub output_file: Option<PathBuf>,
}

impl Cloudwatch {
    /// The CloudWatch operation, for error messages.
    pub fn operation(&self) -> &'static str {
        OPERATIONS
            .iter()
            .copied()
            .find(|op| *op == self.verb.operation)
            .unwrap_or("")
    }
}

impl Args for Cloudwatch {
    fn augment_args(cmd: Command) -> Command {
        modelverbs::augment(cmd, cw_model(), OPERATIONS)
            .about(ABOUT)
            .after_help(AFTER_HELP)
            .mut_subcommand("get-metric-widget-image", |sub| {
                sub.arg(
                    Arg::new(OUTPUT_FILE)
                        .long("output-file")
                        .value_name("PATH")
                        .value_parser(value_parser!(PathBuf))
                        .help(
                            "ec2lab only: write the PNG to PATH and print nothing. Without it \
                             the answer is printed as the aws CLI prints it, MetricWidgetImage \
                             base64 (there: --query MetricWidgetImage --output text | base64 -d)",
                        ),
                )
            })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for Cloudwatch {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let verb = modelverbs::from_matches(cw_model(), matches).ok_or_else(|| {
            clap::Error::raw(
                clap::error::ErrorKind::MissingSubcommand,
                "ec2lab cloudwatch needs a verb (see --help)\n",
            )
        })?;
        let output_file = match matches.subcommand() {
            Some(("get-metric-widget-image", sub)) => sub.get_one::<PathBuf>(OUTPUT_FILE).cloned(),
            _ => None,
        };
        Ok(Cloudwatch { verb, output_file })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// Runs one CloudWatch verb.
pub fn run(ctx: &Ctx, a: Cloudwatch) -> Result<Value, Failure> {
    let input = modelverbs::input(cw_model(), &a.verb)?;
    let mut store = ctx.store()?;
    let out = operations::call(&mut store, &a.verb.operation, input)?;
    let Some(path) = a.output_file else {
        return Ok(out);
    };
    let png = out["MetricWidgetImage"]
        .as_str()
        .and_then(|b| Base64::decode_vec(b).ok())
        .ok_or_else(|| Ec2Error::internal("GetMetricWidgetImage answered no image"))?;
    std::fs::write(&path, png).map_err(|e| {
        Failure::Param(format!(
            "Could not write the image to {}: {e}",
            path.display()
        ))
    })?;
    Ok(Value::Null)
}
