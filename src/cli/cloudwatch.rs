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
  ec2lab cloudwatch put-metric-data --namespace Lab/App --metric-name Latency --value 12 \\
    --unit Milliseconds --dimensions Host=web1
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

/// The aws CLI's own flags on `put-metric-data` (its customization): one datum, the first
/// of `MetricData`, without writing the list.
const PUT_SHORTCUTS: &[(&str, &str)] = &[
    ("metric-name", "The name of the metric (the first datum of MetricData)"),
    ("value", "The value for the metric"),
    ("unit", "The unit of the metric (Count, Percent, Bytes, Milliseconds, ...)"),
    ("timestamp", "When: ISO 8601 or seconds since the epoch; now if absent"),
    ("dimensions", "Name=Value pairs separated by commas: --dimensions InstanceId=i-1,App=web (not the Name=..,Value=.. form of the other verbs)"),
    ("statistic-values", "A statistic set: Sum=..,Minimum=..,Maximum=..,SampleCount=.."),
    ("storage-resolution", "1 (high resolution, kept per second) or 60 (the default)"),
];

/// `ec2lab cloudwatch <verb>`: one of CloudWatch's operations and its flags.
#[derive(Clone, Debug)]
pub struct Cloudwatch {
    /// The operation and its raw flag values.
    pub verb: ModelVerb,
    /// `get-metric-widget-image --output-file PATH`: where the PNG goes.
    pub output_file: Option<PathBuf>,
    /// `put-metric-data`'s shortcut flags given (flag, value).
    pub put_shortcuts: Vec<(&'static str, String)>,
}

impl Cloudwatch {
    /// The CloudWatch operation, for error messages.
    pub fn operation(&self) -> &'static str {
        self.verb.operation_in(OPERATIONS)
    }
}

impl Args for Cloudwatch {
    fn augment_args(cmd: Command) -> Command {
        modelverbs::augment(cmd, cw_model(), OPERATIONS)
            .about(ABOUT)
            .after_help(AFTER_HELP)
            .mut_subcommand("put-metric-data", |sub| {
                PUT_SHORTCUTS.iter().fold(sub, |sub, (flag, help)| {
                    sub.arg(
                        Arg::new(*flag)
                            .long(*flag)
                            .value_name("VALUE")
                            .help(*help)
                            .conflicts_with("MetricData"),
                    )
                })
            })
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
        let (mut output_file, mut put_shortcuts) = (None, Vec::new());
        match matches.subcommand() {
            Some(("get-metric-widget-image", sub)) => {
                output_file = sub.get_one::<PathBuf>(OUTPUT_FILE).cloned();
            }
            Some(("put-metric-data", sub)) => {
                for (flag, _) in PUT_SHORTCUTS {
                    if let Some(v) = sub.get_one::<String>(flag) {
                        put_shortcuts.push((*flag, v.clone()));
                    }
                }
            }
            _ => {}
        }
        Ok(Cloudwatch {
            verb,
            output_file,
            put_shortcuts,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// Runs one CloudWatch verb.
pub fn run(ctx: &Ctx, a: Cloudwatch) -> Result<Value, Failure> {
    let mut input = modelverbs::input(cw_model(), &a.verb)?;
    if !a.put_shortcuts.is_empty() {
        input["MetricData"] = Value::Array(vec![shortcut_datum(&a.put_shortcuts)?]);
    }
    let mut store = ctx.store()?;
    let out = call_all_pages(&mut store, &a.verb.operation, input)?;
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

fn param_error(flag: &str, why: impl std::fmt::Display) -> Failure {
    Failure::Param(format!("Error parsing parameter '--{flag}': {why}"))
}

/// `Name=Value,Name2=Value2` as the aws CLI's put-metric-data reads it.
fn pairs(flag: &str, text: &str) -> Result<Vec<(String, String)>, Failure> {
    text.split(',')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
            _ => Err(param_error(
                flag,
                format!("expected Name=Value, got '{pair}'"),
            )),
        })
        .collect()
}

fn number(flag: &str, text: &str) -> Result<Value, Failure> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| param_error(flag, format!("could not convert string to float: '{text}'")))
}

/// The datum `put-metric-data`'s shortcut flags describe.
fn shortcut_datum(flags: &[(&'static str, String)]) -> Result<Value, Failure> {
    let mut d = serde_json::Map::new();
    for (flag, text) in flags {
        let (member, value) = match *flag {
            "metric-name" => ("MetricName", Value::String(text.clone())),
            "unit" => ("Unit", Value::String(text.clone())),
            "value" => ("Value", number(flag, text)?),
            "timestamp" => match crate::cloudwatch::shapes::Timestamp::parse(text) {
                Some(t) => ("Timestamp", Value::String(t.iso())),
                None => {
                    return Err(param_error(
                        flag,
                        format!(
                            "Invalid timestamp '{text}': use ISO 8601 or seconds since the epoch"
                        ),
                    ))
                }
            },
            "dimensions" => {
                let dims = pairs(flag, text)?
                    .into_iter()
                    .map(|(k, v)| serde_json::json!({"Name": k, "Value": v}))
                    .collect();
                ("Dimensions", Value::Array(dims))
            }
            "statistic-values" => {
                let mut set = serde_json::Map::new();
                for (k, v) in pairs(flag, text)? {
                    set.insert(k, number(flag, &v)?);
                }
                ("StatisticValues", Value::Object(set))
            }
            "storage-resolution" => match text.trim().parse::<i64>() {
                Ok(n) => ("StorageResolution", Value::from(n)),
                Err(_) => {
                    return Err(param_error(
                        flag,
                        format!("invalid literal for int(): '{text}'"),
                    ))
                }
            },
            _ => continue,
        };
        d.insert(member.to_string(), value);
    }
    Ok(Value::Object(d))
}

/// The operations the aws CLI pages through by itself (botocore's paginators), and the
/// lists their pages add up. `GetMetricData` is not among them here: its pages split
/// series, which the caller joins by `Id`.
const PAGINATED: &[(&str, &[&str])] = &[
    ("DescribeAlarms", &["MetricAlarms", "CompositeAlarms"]),
    ("DescribeAlarmHistory", &["AlarmHistoryItems"]),
    ("ListDashboards", &["DashboardEntries"]),
    ("ListMetrics", &["Metrics"]),
];

/// `operation`, and as the aws CLI does, every further page when the command line gave no
/// `--next-token`: one answer with all the items and no `NextToken`.
fn call_all_pages(
    store: &mut crate::store::Store,
    operation: &str,
    input: Value,
) -> Result<Value, Ec2Error> {
    let lists = match PAGINATED.iter().find(|(op, _)| *op == operation) {
        Some((_, lists)) if input.get("NextToken").is_none() => *lists,
        _ => return operations::call(store, operation, input),
    };
    let mut all = operations::call(store, operation, input.clone())?;
    while let Some(token) = all.as_object_mut().and_then(|o| o.remove("NextToken")) {
        let mut next_input = input.clone();
        next_input["NextToken"] = token;
        let mut page = operations::call(store, operation, next_input)?;
        for list in lists {
            if let (Some(Value::Array(acc)), Some(Value::Array(more))) =
                (all.get_mut(*list), page.get_mut(*list))
            {
                acc.append(more);
            }
        }
        if let Some(t) = page.get("NextToken").cloned() {
            all["NextToken"] = t;
        }
    }
    Ok(all)
}
