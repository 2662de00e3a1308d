//! Verbs made from a service's botocore model, the way the aws CLI makes its own: one
//! subcommand per served operation (`put-metric-alarm`), one flag per input member
//! (`--alarm-name`, `--dimensions`), values read as the aws CLI reads them (shorthand, JSON,
//! `file://`, `fileb://`) and typed by the model. The result is the request as a JSON object
//! of the model's member names, which the service's operation table decodes into its typed
//! shape, exactly as the API's codec hands it over.

use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::{Map, Number, Value};

use super::awsflags::kebab;
use super::ctx::Failure;
use super::shorthand::{self, ParamValue};
use crate::ec2::model::{Kind, Model};

/// One parsed verb: the operation and the raw flag values, typed later by [`input`] so that
/// a bad value is the aws CLI's parameter error, not a usage error.
#[derive(Clone, Debug)]
pub struct ModelVerb {
    /// The operation (`PutMetricAlarm`).
    pub operation: String,
    /// Member name and its raw values, for each flag given.
    pub raw: Vec<(String, Raw)>,
}

impl ModelVerb {
    /// Its operation as named in `operations` (a `'static` name for error messages), or ""
    /// when the list does not have it.
    pub fn operation_in(&self, operations: &[&'static str]) -> &'static str {
        operations
            .iter()
            .copied()
            .find(|op| *op == self.operation)
            .unwrap_or("")
    }
}

/// What the command line gave for one member.
#[derive(Clone, Debug)]
pub enum Raw {
    /// `--flag VALUE...`.
    Values(Vec<String>),
    /// `--flag` / `--no-flag`.
    Bool(bool),
}

/// The prefix of the ids of the `--no-*` arguments.
const NO: &str = "no:";

/// `cmd` with one subcommand per operation, its flags from the operation's input shape.
pub fn augment(mut cmd: Command, model: &'static Model, operations: &[&'static str]) -> Command {
    cmd = cmd.subcommand_required(true).arg_required_else_help(true);
    for op in operations {
        cmd = cmd.subcommand(verb_command(model, op));
    }
    cmd
}

/// One operation's subcommand, its flags from the operation's input shape.
pub fn verb_command(model: &'static Model, op: &'static str) -> Command {
    let mut sub = Command::new(kebab(op)).about(format!("{op} (the aws CLI's flags)"));
    let Some(input) = model.operations.get(op).and_then(|o| o.input.as_deref()) else {
        return sub;
    };
    let shape = model.shape(input);
    for m in &shape.members {
        let flag = kebab(&m.name);
        let required = shape.required.contains(&m.name);
        let kind = model.shape(&m.shape).kind;
        let help = help_for(model, &m.shape, required);
        if kind == Kind::Boolean {
            sub = sub
                .arg(
                    Arg::new(m.name.clone())
                        .long(flag.clone())
                        .action(ArgAction::SetTrue)
                        .help(help),
                )
                .arg(
                    Arg::new(format!("{NO}{}", m.name))
                        .long(format!("no-{flag}"))
                        .action(ArgAction::SetTrue)
                        .conflicts_with(m.name.clone())
                        .hide(true),
                );
            continue;
        }
        let arg = Arg::new(m.name.clone())
            .long(flag)
            .value_name(value_name(kind))
            .required(required)
            .help(help);
        let arg = if kind == Kind::List {
            arg.num_args(1..).action(ArgAction::Append)
        } else {
            arg.num_args(1).action(ArgAction::Set)
        };
        // `--scaling-adjustment -1`, `--value -5`: a number, not a flag (as the aws CLI).
        let arg = match kind {
            Kind::Integer | Kind::Long | Kind::Double | Kind::Float => {
                arg.allow_negative_numbers(true)
            }
            _ => arg,
        };
        sub = sub.arg(arg);
    }
    sub
}

fn value_name(kind: Kind) -> &'static str {
    match kind {
        Kind::List => "VALUE",
        Kind::Structure | Kind::Map => "SHORTHAND|JSON",
        Kind::Integer | Kind::Long => "INTEGER",
        Kind::Double | Kind::Float => "NUMBER",
        Kind::Timestamp => "TIME",
        Kind::Blob => "fileb://PATH",
        _ => "STRING",
    }
}

fn help_for(model: &Model, shape: &str, required: bool) -> String {
    let s = model.shape(shape);
    let what = match s.kind {
        Kind::List => {
            let m = s.member.as_ref().map(|m| m.shape.as_str()).unwrap_or("");
            match model.shape(m).kind {
                Kind::Structure => format!(
                    "a list of {m}: shorthand ({}) or JSON, several separated by spaces",
                    example_keys(model, m)
                ),
                _ => "one or more values separated by spaces".to_string(),
            }
        }
        Kind::Structure => format!(
            "{shape}: shorthand ({}) or JSON",
            example_keys(model, shape)
        ),
        Kind::Map => "shorthand (Key1=Value1,Key2=Value2) or JSON".to_string(),
        Kind::Timestamp => "ISO 8601 (2026-12-03T10:00:00Z) or seconds since the epoch".into(),
        Kind::Boolean => "on with the flag, off with --no-<flag>".into(),
        _ => shape.to_string(),
    };
    if required {
        format!("[required] {what}")
    } else {
        what
    }
}

fn example_keys(model: &Model, shape: &str) -> String {
    model
        .shape(shape)
        .members
        .iter()
        .take(3)
        .map(|m| format!("{}=...", m.name))
        .collect::<Vec<_>>()
        .join(",")
}

/// The verb the matches of a command made by [`augment`] name.
pub fn from_matches(model: &Model, matches: &ArgMatches) -> Option<ModelVerb> {
    let (name, sub) = matches.subcommand()?;
    let operation = model
        .operations
        .keys()
        .find(|op| kebab(op) == name)?
        .clone();
    let mut raw = Vec::new();
    if let Some(input) = model.operations[&operation].input.as_deref() {
        for m in &model.shape(input).members {
            if model.shape(&m.shape).kind == Kind::Boolean {
                if sub.get_flag(&m.name) {
                    raw.push((m.name.clone(), Raw::Bool(true)));
                } else if sub.get_flag(&format!("{NO}{}", m.name)) {
                    raw.push((m.name.clone(), Raw::Bool(false)));
                }
            } else if let Some(values) = sub.get_many::<String>(&m.name) {
                raw.push((m.name.clone(), Raw::Values(values.cloned().collect())));
            }
        }
    }
    Some(ModelVerb { operation, raw })
}

/// The request: each flag's values typed by the model, keyed by member name.
pub fn input(model: &Model, verb: &ModelVerb) -> Result<Value, Failure> {
    let input = model.operations[&verb.operation].input.as_deref();
    let members = input.map(|i| &model.shape(i).members);
    let mut out = Map::new();
    for (name, raw) in &verb.raw {
        let Some(m) = members.and_then(|ms| ms.iter().find(|m| &m.name == name)) else {
            continue;
        };
        let flag = format!("--{}", kebab(name));
        let value = match raw {
            Raw::Bool(b) => Value::Bool(*b),
            Raw::Values(values) => typed(model, &m.shape, values, &flag)?,
        };
        out.insert(name.clone(), value);
    }
    Ok(Value::Object(out))
}

fn param_error(flag: &str, why: impl std::fmt::Display) -> Failure {
    Failure::Param(format!("Error parsing parameter '{flag}': {why}"))
}

fn typed(model: &Model, shape: &str, values: &[String], flag: &str) -> Result<Value, Failure> {
    let s = model.shape(shape);
    match s.kind {
        Kind::List => {
            let member = &s.member.as_ref().expect("a list has a member").shape;
            let items = match model.shape(member).kind {
                Kind::Structure | Kind::Map | Kind::List => {
                    let mut texts = Vec::new();
                    for v in values {
                        texts.push(text(v, flag)?);
                    }
                    shorthand::parse_list(&texts).map_err(|e| e.with_param(flag))?
                }
                _ => match values {
                    [one] if one.trim_start().starts_with('[') => {
                        shorthand::parse_param(flag, &text(one, flag)?)
                            .map(|v| shorthand::as_list(&v))?
                    }
                    _ => values.iter().map(|v| Value::String(v.clone())).collect(),
                },
            };
            let items = items
                .into_iter()
                .map(|v| coerce(model, member, v).map_err(|e| param_error(flag, e)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::Array(items))
        }
        Kind::Structure | Kind::Map => {
            let v = shorthand::parse_param(flag, &text(&values[0], flag)?)?;
            coerce(model, shape, v).map_err(|e| param_error(flag, e))
        }
        Kind::Blob => match shorthand::load_param(&values[0]).map_err(|e| e.with_param(flag))? {
            ParamValue::Bytes(b) => Ok(Value::String(
                <base64ct::Base64 as base64ct::Encoding>::encode_string(&b),
            )),
            ParamValue::Text(t) => Ok(Value::String(t)),
        },
        _ => coerce(model, shape, Value::String(text(&values[0], flag)?))
            .map_err(|e| param_error(flag, e)),
    }
}

/// A flag's text, `file://` read.
fn text(value: &str, flag: &str) -> Result<String, Failure> {
    match shorthand::load_param(value).map_err(|e| e.with_param(flag))? {
        ParamValue::Text(t) => Ok(t),
        ParamValue::Bytes(_) => Ok(value.to_string()),
    }
}

/// `v` (shorthand leaves every scalar a string) with the model's types: numbers, booleans,
/// lists where a single value was given, members by their model names.
pub fn coerce(model: &Model, shape: &str, v: Value) -> Result<Value, String> {
    let s = model.shape(shape);
    Ok(match s.kind {
        Kind::Structure => {
            let Value::Object(obj) = v else {
                return Err(format!("expected a structure ({shape}), got {v}"));
            };
            let mut out = Map::new();
            for (k, val) in obj {
                let Some(m) = s.members.iter().find(|m| m.name == k) else {
                    let known: Vec<&str> = s.members.iter().map(|m| m.name.as_str()).collect();
                    return Err(format!(
                        "Unknown parameter in {shape}: \"{k}\", must be one of: {}",
                        known.join(", ")
                    ));
                };
                out.insert(k, coerce(model, &m.shape, val)?);
            }
            Value::Object(out)
        }
        Kind::Map => {
            let Value::Object(obj) = v else {
                return Err(format!("expected a map, got {v}"));
            };
            let value_shape = &s.value.as_ref().expect("a map has a value").shape;
            let mut out = Map::new();
            for (k, val) in obj {
                out.insert(k, coerce(model, value_shape, val)?);
            }
            Value::Object(out)
        }
        Kind::List => {
            let member = &s.member.as_ref().expect("a list has a member").shape;
            Value::Array(
                shorthand::as_list(&v)
                    .into_iter()
                    .map(|item| coerce(model, member, item))
                    .collect::<Result<_, _>>()?,
            )
        }
        Kind::Integer | Kind::Long => match shorthand::as_i64(&v) {
            Some(n) => Value::from(n),
            None => return Err(format!("invalid literal for int(): {}", plain(&v))),
        },
        Kind::Double | Kind::Float => match &v {
            Value::Number(_) => v,
            Value::String(t) => match t.trim().parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) => Value::Number(n),
                None => return Err(format!("could not convert string to float: '{t}'")),
            },
            _ => return Err(format!("expected a number, got {v}")),
        },
        // As the aws CLI takes them (ISO 8601 or epoch seconds), handed on as ISO 8601.
        Kind::Timestamp => match &v {
            Value::String(t) => match crate::cloudwatch::shapes::Timestamp::parse(t) {
                Some(ts) => Value::String(ts.iso()),
                None => {
                    return Err(format!(
                        "Invalid timestamp '{t}': use ISO 8601 (2026-12-03T10:00:00Z) or seconds since the epoch"
                    ))
                }
            },
            Value::Number(n) => match n
                .as_f64()
                .and_then(|f| crate::cloudwatch::shapes::Timestamp::parse(&f.to_string()))
            {
                Some(ts) => Value::String(ts.iso()),
                None => return Err(format!("Invalid timestamp {n}")),
            },
            other => return Err(format!("expected a timestamp, got {other}")),
        },
        Kind::Boolean => match shorthand::as_bool(&v) {
            Some(b) => Value::Bool(b),
            None => return Err(format!("expected true or false, got {}", plain(&v))),
        },
        _ => match v {
            Value::String(_) => v,
            Value::Number(n) => Value::String(n.to_string()),
            other => return Err(format!("expected a string, got {other}")),
        },
    })
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> &'static Model {
        crate::ec2::model::cloudwatch()
    }

    fn parse(args: &[&str]) -> Result<Value, Failure> {
        let cmd = augment(
            Command::new("cloudwatch"),
            model(),
            &["PutMetricAlarm", "ListMetrics"],
        );
        let m = cmd
            .try_get_matches_from(std::iter::once("cloudwatch").chain(args.iter().copied()))
            .map_err(|e| Failure::Param(e.to_string()))?;
        let verb = from_matches(model(), &m).expect("a verb");
        input(model(), &verb)
    }

    #[test]
    fn flags_are_typed_by_the_model() {
        let v = parse(&[
            "put-metric-alarm",
            "--alarm-name",
            "cpu",
            "--metric-name",
            "CPUUtilization",
            "--namespace",
            "AWS/EC2",
            "--statistic",
            "Average",
            "--period",
            "10",
            "--threshold",
            "80",
            "--comparison-operator",
            "GreaterThanThreshold",
            "--evaluation-periods",
            "3",
            "--dimensions",
            "Name=InstanceId,Value=i-1",
            "Name=InstanceType,Value=t2.micro",
            "--alarm-actions",
            "arn:aws:automate:lab-1:ec2:stop",
            "--no-actions-enabled",
        ])
        .unwrap();
        assert_eq!(v["Period"], 10);
        assert_eq!(v["Threshold"], 80.0);
        assert_eq!(v["ActionsEnabled"], false);
        assert_eq!(v["Dimensions"][1]["Value"], "t2.micro");
        assert_eq!(v["AlarmActions"][0], "arn:aws:automate:lab-1:ec2:stop");
    }

    #[test]
    fn bad_values_are_parameter_errors_naming_the_flag() {
        let e = parse(&[
            "put-metric-alarm",
            "--alarm-name",
            "a",
            "--evaluation-periods",
            "three",
            "--comparison-operator",
            "GreaterThanThreshold",
        ]);
        let Err(Failure::Param(msg)) = e else {
            panic!("{e:?}")
        };
        assert!(msg.contains("--evaluation-periods"), "{msg}");
        let e = parse(&["list-metrics", "--dimensions", "Nme=InstanceId"]);
        let Err(Failure::Param(msg)) = e else {
            panic!("{e:?}")
        };
        assert!(msg.contains("Unknown parameter"), "{msg}");
    }

    #[test]
    fn timestamps_as_the_aws_cli_takes_them() {
        let cmd = |start: &str| {
            let cmd = augment(
                Command::new("cloudwatch"),
                model(),
                &["GetMetricStatistics"],
            );
            let m = cmd
                .try_get_matches_from([
                    "cloudwatch",
                    "get-metric-statistics",
                    "--namespace",
                    "N",
                    "--metric-name",
                    "M",
                    "--period",
                    "60",
                    "--start-time",
                    start,
                    "--end-time",
                    "2026-12-03T11:00:00+01:00",
                ])
                .unwrap();
            input(model(), &from_matches(model(), &m).unwrap())
        };
        let v = cmd("1796299200").unwrap();
        assert_eq!(v["StartTime"], "2026-12-03T12:00:00.000Z");
        assert_eq!(v["EndTime"], "2026-12-03T10:00:00.000Z");
        let Err(Failure::Param(msg)) = cmd("yesterday") else {
            panic!("a bad timestamp is a parameter error")
        };
        assert!(
            msg.contains("--start-time") && msg.contains("yesterday"),
            "{msg}"
        );
    }

    #[test]
    fn json_lists_are_taken_as_the_aws_cli_takes_them() {
        let v = parse(&[
            "list-metrics",
            "--dimensions",
            r#"[{"Name":"InstanceId","Value":"i-1"}]"#,
        ])
        .unwrap();
        assert_eq!(v["Dimensions"][0]["Name"], "InstanceId");
    }
}
