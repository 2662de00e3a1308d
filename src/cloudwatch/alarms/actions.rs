//! The alarm actions: PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric,
//! DescribeAlarmHistory, DeleteAlarms, SetAlarmState, EnableAlarmActions,
//! DisableAlarmActions, each change one store transaction with its history item.

use super::arns::{self, Target};
use super::evaluate::transition;
use super::message;
use super::record;
use crate::cloudwatch::metrics::validate::{self, validation};
use crate::cloudwatch::now_ms;
use crate::cloudwatch::paging;
use crate::cloudwatch::shapes::alarms::*;
use crate::cloudwatch::shapes::Timestamp;
use crate::error::Ec2Error;
use crate::store::Store;

/// The metrics ec2lab publishes in the AWS namespaces; an alarm on any other metric there
/// could never leave `INSUFFICIENT_DATA`, so it is refused.
pub const AWS_METRICS: &[(&str, &[&str])] = &[
    (
        "AWS/EC2",
        &[
            "CPUUtilization",
            "NetworkIn",
            "NetworkOut",
            "NetworkPacketsIn",
            "NetworkPacketsOut",
            "DiskReadOps",
            "DiskWriteOps",
            "DiskReadBytes",
            "DiskWriteBytes",
            "StatusCheckFailed",
            "StatusCheckFailed_System",
            "StatusCheckFailed_Instance",
        ],
    ),
    (
        "AWS/EBS",
        &[
            "VolumeReadBytes",
            "VolumeWriteBytes",
            "VolumeReadOps",
            "VolumeWriteOps",
            "VolumeIdleTime",
        ],
    ),
];

/// CloudWatch's quota of metric alarms per region.
pub const MAX_ALARMS: i64 = 5000;

const OPERATORS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
];
const ANOMALY_OPERATORS: &[&str] = &[
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
];

fn missing(name: &str) -> Ec2Error {
    Ec2Error::new(
        "MissingParameter",
        format!("The parameter {name} is required."),
    )
}

fn enum_error(value: &str, member: &str, allowed: &[&str]) -> Ec2Error {
    validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    ))
}

fn alarm_name(name: &str, param: &str) -> Result<(), Ec2Error> {
    if name.is_empty() {
        return Err(missing(param));
    }
    if name.len() > 255 || name.chars().any(|c| c.is_control()) {
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at '{param}' failed to satisfy constraint: Member must have length less than or equal to 255 and no control characters"
        )));
    }
    Ok(())
}

/// Checks a `PutMetricAlarm` request: the alarm it describes, in `region`.
fn checked_alarm(
    req: &PutMetricAlarmInput,
    region: &str,
    now: i64,
) -> Result<MetricAlarm, Ec2Error> {
    alarm_name(&req.alarm_name, "alarmName")?;
    if req
        .alarm_description
        .as_ref()
        .is_some_and(|d| d.len() > 1024)
    {
        return Err(validation(
            "1 validation error detected: Value at 'alarmDescription' failed to satisfy constraint: Member must have length less than or equal to 1024",
        ));
    }
    let namespace = req.namespace.clone().ok_or_else(|| missing("Namespace"))?;
    validate::namespace("Namespace", &namespace)?;
    let metric_name = req
        .metric_name
        .clone()
        .ok_or_else(|| missing("MetricName"))?;
    validate::metric_name("MetricName", &metric_name)?;
    validate::dimensions("Dimensions", &req.dimensions)?;
    if namespace.starts_with("AWS/") {
        let known = AWS_METRICS
            .iter()
            .find(|(ns, _)| *ns == namespace)
            .map(|(_, m)| *m)
            .unwrap_or(&[]);
        if !known.contains(&metric_name.as_str()) {
            return Err(Ec2Error::invalid_parameter(format!(
                "The metric {namespace} {metric_name} does not exist in ec2lab, so the alarm could never leave INSUFFICIENT_DATA. {}",
                if known.is_empty() {
                    "ec2lab publishes metrics in AWS/EC2 and AWS/EBS only; put your own data in a namespace of your own.".to_string()
                } else {
                    format!("The {namespace} metrics are: {}.", known.join(", "))
                }
            )));
        }
    }
    match (&req.statistic, &req.extended_statistic) {
        (None, None) => {
            return Err(Ec2Error::new(
                "InvalidParameterCombination",
                "Must specify either Statistic or ExtendedStatistic",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(Ec2Error::new(
                "InvalidParameterCombination",
                "The parameters Statistic and ExtendedStatistic are mutually exclusive and you have specified both.",
            ))
        }
        (Some(s), None) if !validate::STATISTICS.contains(&s.as_str()) => {
            return Err(enum_error(s, "statistic", validate::STATISTICS))
        }
        (None, Some(p)) if validate::percentile(p).is_none() => {
            return Err(validate::bad_value(
                "ExtendedStatistic",
                p,
                "ec2lab supports the percentiles p0 to p100 (up to two decimals, e.g. p99.9).",
            ))
        }
        _ => {}
    }
    if let Some(e) = &req.evaluate_low_sample_count_percentile {
        if req.extended_statistic.is_none() {
            return Err(Ec2Error::new(
                "InvalidParameterCombination",
                "EvaluateLowSampleCountPercentile can be used only with ExtendedStatistic.",
            ));
        }
        if e != "evaluate" && e != "ignore" {
            return Err(Ec2Error::invalid_parameter(format!(
                "The value {e} for parameter EvaluateLowSampleCountPercentile is not valid: use evaluate or ignore."
            )));
        }
    }
    let period = req.period.ok_or_else(|| missing("Period"))?;
    validate::alarm_period(period)?;
    let n = req
        .evaluation_periods
        .ok_or_else(|| missing("EvaluationPeriods"))?;
    if n < 1 {
        return Err(validation(format!(
            "1 validation error detected: Value '{n}' at 'evaluationPeriods' failed to satisfy constraint: Member must have value greater than or equal to 1"
        )));
    }
    if n.saturating_mul(period) > 86_400 {
        return Err(validation(
            "Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400).",
        ));
    }
    if let Some(m) = req.datapoints_to_alarm {
        if m < 1 {
            return Err(validation(format!(
                "1 validation error detected: Value '{m}' at 'datapointsToAlarm' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )));
        }
        if m > n {
            return Err(validation(format!(
                "DatapointsToAlarm ({m}) must be less than or equal to EvaluationPeriods ({n})."
            )));
        }
    }
    let op = req
        .comparison_operator
        .clone()
        .ok_or_else(|| missing("ComparisonOperator"))?;
    if ANOMALY_OPERATORS.contains(&op.as_str()) {
        return Err(Ec2Error::invalid_parameter(format!(
            "The value {op} for parameter ComparisonOperator is not supported: anomaly detection bands are not supported by ec2lab; use a static threshold with {}.",
            OPERATORS.join(", ")
        )));
    }
    if !OPERATORS.contains(&op.as_str()) {
        let mut all = OPERATORS.to_vec();
        all.extend(ANOMALY_OPERATORS);
        return Err(enum_error(&op, "comparisonOperator", &all));
    }
    let threshold = req.threshold.ok_or_else(|| missing("Threshold"))?;
    if !threshold.is_finite() {
        return Err(Ec2Error::invalid_parameter(
            "The parameter Threshold must be a finite number.",
        ));
    }
    if let Some(t) = &req.treat_missing_data {
        if !["missing", "ignore", "breaching", "notBreaching"].contains(&t.as_str()) {
            return Err(Ec2Error::invalid_parameter(format!(
                "The value {t} for parameter TreatMissingData is not valid: use missing, ignore, breaching or notBreaching."
            )));
        }
    }
    if let Some(u) = &req.unit {
        if !validate::UNITS.contains(&u.as_str()) {
            return Err(enum_error(u, "unit", validate::UNITS));
        }
    }
    let instance = req.dimensions.iter().find(|d| d.name == "InstanceId");
    for (list, member) in [
        (&req.ok_actions, "oKActions"),
        (&req.alarm_actions, "alarmActions"),
        (&req.insufficient_data_actions, "insufficientDataActions"),
    ] {
        if list.len() > 5 {
            return Err(validation(format!(
                "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to 5"
            )));
        }
        for arn in list {
            if let Target::Ec2(op) = arns::parse(arn, region)? {
                if instance.is_none() {
                    return Err(validation(
                        "Invalid use of EC2 action. An EC2 action can only be used if the alarm is monitoring an EC2 instance.",
                    ));
                }
                if op == "recover"
                    && !(namespace == "AWS/EC2" && metric_name.starts_with("StatusCheckFailed"))
                {
                    return Err(validation(
                        "Invalid use of EC2 'Recover' action. An EC2 'Recover' action can only be used if the alarm is monitoring a StatusCheckFailed metric of an EC2 instance.",
                    ));
                }
            }
        }
    }
    for t in &req.tags {
        if t.key.is_empty() || t.key.len() > 128 || t.value.len() > 256 {
            return Err(Ec2Error::invalid_parameter(format!(
                "The tag {}={} is not valid: keys are 1 to 128 characters, values up to 256.",
                t.key, t.value
            )));
        }
    }
    let mut dims = req.dimensions.clone();
    dims.sort();
    Ok(MetricAlarm {
        alarm_name: req.alarm_name.clone(),
        alarm_arn: record::alarm_arn(region, &req.alarm_name),
        alarm_description: req.alarm_description.clone(),
        alarm_configuration_updated_timestamp: Timestamp(now),
        actions_enabled: req.actions_enabled.unwrap_or(true),
        ok_actions: req.ok_actions.clone(),
        alarm_actions: req.alarm_actions.clone(),
        insufficient_data_actions: req.insufficient_data_actions.clone(),
        state_value: "INSUFFICIENT_DATA".into(),
        state_reason: "Unchecked: Initial alarm creation".into(),
        state_reason_data: None,
        state_updated_timestamp: Timestamp(now),
        metric_name,
        namespace,
        statistic: req.statistic.clone(),
        extended_statistic: req.extended_statistic.clone(),
        dimensions: dims,
        period,
        unit: req.unit.clone(),
        evaluation_periods: n,
        datapoints_to_alarm: req.datapoints_to_alarm,
        threshold,
        comparison_operator: op,
        treat_missing_data: req.treat_missing_data.clone(),
        evaluate_low_sample_count_percentile: req.evaluate_low_sample_count_percentile.clone(),
        state_transitioned_timestamp: Timestamp(now),
    })
}

/// `PutMetricAlarm`: creates the alarm in `INSUFFICIENT_DATA`, or replaces an existing
/// alarm's whole configuration and keeps its state (as CloudWatch does). The caller
/// starts the evaluating daemon (`cloudwatch::daemon::ensure`).
pub fn put_metric_alarm(store: &mut Store, req: &PutMetricAlarmInput) -> Result<(), Ec2Error> {
    put_metric_alarm_at(store, req, now_ms())
}

/// `PutMetricAlarm` as of `now`.
pub fn put_metric_alarm_at(
    store: &mut Store,
    req: &PutMetricAlarmInput,
    now: i64,
) -> Result<(), Ec2Error> {
    let region = store.region().to_string();
    let mut alarm = checked_alarm(req, &region, now)?;
    store.write(|tx| {
        let before = record::load(tx, &alarm.alarm_name)?;
        match &before {
            Some(old) => {
                alarm.state_value = old.state_value.clone();
                alarm.state_reason = old.state_reason.clone();
                alarm.state_reason_data = old.state_reason_data.clone();
                alarm.state_updated_timestamp = old.state_updated_timestamp;
                alarm.state_transitioned_timestamp = old.state_transitioned_timestamp;
                record::save(tx, &alarm, None)?;
                record::add_history(
                    tx,
                    &alarm.alarm_name,
                    now,
                    "ConfigurationUpdate",
                    &format!("Alarm \"{}\" updated", alarm.alarm_name),
                    &message::config_history("Update", &alarm, Some(old)),
                )?;
            }
            None => {
                if record::count(tx)? >= MAX_ALARMS {
                    return Err(Ec2Error::new(
                        "LimitExceeded",
                        format!("The maximum number of alarms ({MAX_ALARMS}) has been reached: delete alarms you no longer need."),
                    ));
                }
                let tags: Vec<_> = req.tags.clone();
                record::save(tx, &alarm, Some(&tags))?;
                record::add_history(
                    tx,
                    &alarm.alarm_name,
                    now,
                    "ConfigurationUpdate",
                    &format!("Alarm \"{}\" created", alarm.alarm_name),
                    &message::config_history("Create", &alarm, None),
                )?;
            }
        }
        Ok(())
    })
}

fn alarm_types(types: &[String]) -> Result<bool, Ec2Error> {
    for t in types {
        if !["MetricAlarm", "CompositeAlarm", "LogAlarm"].contains(&t.as_str()) {
            return Err(enum_error(
                t,
                "alarmTypes",
                &["CompositeAlarm", "MetricAlarm", "LogAlarm"],
            ));
        }
    }
    Ok(types.is_empty() || types.iter().any(|t| t == "MetricAlarm"))
}

/// `DescribeAlarms` (metric alarms; ec2lab has no composite alarms).
pub fn describe_alarms(
    store: &Store,
    req: &DescribeAlarmsInput,
) -> Result<DescribeAlarmsOutput, Ec2Error> {
    if req.alarm_names.len() > 100 {
        return Err(validation(
            "1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to 100",
        ));
    }
    if !req.alarm_names.is_empty() && req.alarm_name_prefix.is_some() {
        return Err(Ec2Error::new(
            "InvalidParameterCombination",
            "AlarmNames and AlarmNamePrefix cannot be specified together: give one or the other",
        ));
    }
    if let Some(s) = &req.state_value {
        check_state(s)?;
    }
    let size = paging::max_records(req.max_records, 50)?;
    let metric = alarm_types(&req.alarm_types)?;
    let alarms: Vec<MetricAlarm> = if metric {
        record::all(store.conn())?
    } else {
        Vec::new()
    };
    let listed: Vec<MetricAlarm> = alarms
        .into_iter()
        .filter(|a| req.alarm_names.is_empty() || req.alarm_names.contains(&a.alarm_name))
        .filter(|a| {
            req.alarm_name_prefix
                .as_ref()
                .is_none_or(|p| a.alarm_name.starts_with(p.as_str()))
        })
        .filter(|a| req.state_value.as_ref().is_none_or(|s| *s == a.state_value))
        .filter(|a| {
            req.action_prefix.as_ref().is_none_or(|p| {
                a.alarm_actions
                    .iter()
                    .chain(&a.ok_actions)
                    .chain(&a.insufficient_data_actions)
                    .any(|x| x.starts_with(p.as_str()))
            })
        })
        .collect();
    let (page, next_token) = paging::page(
        "DescribeAlarms",
        listed,
        |a| a.alarm_name.clone(),
        Some(size),
        &req.next_token,
    )?;
    Ok(DescribeAlarmsOutput {
        composite_alarms: Vec::new(),
        metric_alarms: page,
        next_token,
    })
}

/// `DescribeAlarmsForMetric`: the alarms on exactly this metric (and statistic, period and
/// unit when given).
pub fn describe_alarms_for_metric(
    store: &Store,
    req: &DescribeAlarmsForMetricInput,
) -> Result<DescribeAlarmsForMetricOutput, Ec2Error> {
    validate::namespace("Namespace", &req.namespace)?;
    validate::metric_name("MetricName", &req.metric_name)?;
    validate::dimensions("Dimensions", &req.dimensions)?;
    if let Some(s) = &req.statistic {
        if !validate::STATISTICS.contains(&s.as_str()) {
            return Err(enum_error(s, "statistic", validate::STATISTICS));
        }
    }
    let mut dims = req.dimensions.clone();
    dims.sort();
    let alarms = record::all(store.conn())?
        .into_iter()
        .filter(|a| a.namespace == req.namespace && a.metric_name == req.metric_name)
        .filter(|a| a.dimensions == dims)
        .filter(|a| req.statistic.is_none() || a.statistic == req.statistic)
        .filter(|a| {
            req.extended_statistic.is_none() || a.extended_statistic == req.extended_statistic
        })
        .filter(|a| req.period.is_none_or(|p| p == a.period))
        .filter(|a| req.unit.is_none() || a.unit == req.unit)
        .collect();
    Ok(DescribeAlarmsForMetricOutput {
        metric_alarms: alarms,
    })
}

/// `DescribeAlarmHistory`: newest first unless `ScanBy` says otherwise.
pub fn describe_alarm_history(
    store: &Store,
    req: &DescribeAlarmHistoryInput,
) -> Result<DescribeAlarmHistoryOutput, Ec2Error> {
    let types = ["ConfigurationUpdate", "StateUpdate", "Action"];
    if let Some(t) = &req.history_item_type {
        if !types.contains(&t.as_str()) {
            return Err(enum_error(
                t,
                "historyItemType",
                &[
                    "ConfigurationUpdate",
                    "StateUpdate",
                    "Action",
                    "AlarmContributorStateUpdate",
                    "AlarmContributorAction",
                ],
            ));
        }
    }
    let descending = match req.scan_by.as_deref() {
        None | Some("TimestampDescending") => true,
        Some("TimestampAscending") => false,
        Some(other) => {
            return Err(enum_error(
                other,
                "scanBy",
                &["TimestampDescending", "TimestampAscending"],
            ))
        }
    };
    let size = paging::max_records(req.max_records, 100)?;
    let from = req.start_date.map(|t| t.ms()).unwrap_or(i64::MIN);
    let to = req.end_date.map(|t| t.ms()).unwrap_or(i64::MAX);
    if from > to {
        return Err(Ec2Error::invalid_parameter(
            "The parameter StartDate must be before the parameter EndDate.",
        ));
    }
    let metric = alarm_types(&req.alarm_types)?;
    let rows = if metric {
        record::history(store.conn(), req.alarm_name.as_deref(), from, to)?
    } else {
        Vec::new()
    };
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| {
            req.history_item_type
                .as_ref()
                .is_none_or(|t| *t == r.item.history_item_type)
        })
        .collect();
    // Keys sort in the order asked for: time and id, inverted when descending.
    let key = |r: &record::HistoryRow| {
        let (t, id) = (r.item.timestamp.ms(), r.id);
        if descending {
            format!("{:020}{:020}", i64::MAX - t, i64::MAX - id)
        } else {
            format!("{:020}{:020}", t.saturating_sub(i64::MIN / 2), id)
        }
    };
    let (page, next_token) = paging::page(
        "DescribeAlarmHistory",
        rows,
        key,
        Some(size),
        &req.next_token,
    )?;
    Ok(DescribeAlarmHistoryOutput {
        alarm_history_items: page.into_iter().map(|r| r.item).collect(),
        next_token,
    })
}

/// `DeleteAlarms`: every named alarm must exist, or none is deleted (`ResourceNotFound`).
pub fn delete_alarms(store: &mut Store, req: &DeleteAlarmsInput) -> Result<(), Ec2Error> {
    delete_alarms_at(store, req, now_ms())
}

/// `DeleteAlarms` as of `now`.
pub fn delete_alarms_at(
    store: &mut Store,
    req: &DeleteAlarmsInput,
    now: i64,
) -> Result<(), Ec2Error> {
    if req.alarm_names.is_empty() {
        return Err(missing("AlarmNames"));
    }
    if req.alarm_names.len() > 100 {
        return Err(validation(
            "1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to 100",
        ));
    }
    store.write(|tx| {
        let mut found = Vec::new();
        for name in &req.alarm_names {
            match record::load(tx, name)? {
                Some(a) => found.push(a),
                None => {
                    return Err(Ec2Error::new(
                        "ResourceNotFound",
                        format!("Alarm {name} does not exist: nothing was deleted"),
                    ))
                }
            }
        }
        for a in found {
            record::delete(tx, &a.alarm_name)?;
            record::add_history(
                tx,
                &a.alarm_name,
                now,
                "ConfigurationUpdate",
                &format!("Alarm \"{}\" deleted", a.alarm_name),
                &message::config_history("Delete", &a, None),
            )?;
        }
        Ok(())
    })
}

fn check_state(s: &str) -> Result<(), Ec2Error> {
    let states = ["OK", "ALARM", "INSUFFICIENT_DATA"];
    if states.contains(&s) {
        Ok(())
    } else {
        Err(enum_error(s, "stateValue", &states))
    }
}

/// `SetAlarmState`: sets the state for testing; its actions run as a real change's would
/// (the next [`evaluate`](super::evaluate()) returns the change), and the next evaluation
/// returns the alarm to the state its data says.
pub fn set_alarm_state(store: &mut Store, req: &SetAlarmStateInput) -> Result<(), Ec2Error> {
    set_alarm_state_at(store, req, now_ms())
}

/// `SetAlarmState` as of `now`.
pub fn set_alarm_state_at(
    store: &mut Store,
    req: &SetAlarmStateInput,
    now: i64,
) -> Result<(), Ec2Error> {
    alarm_name(&req.alarm_name, "alarmName")?;
    check_state(&req.state_value)?;
    if req.state_reason.len() > 1023 {
        return Err(validation(
            "1 validation error detected: Value at 'stateReason' failed to satisfy constraint: Member must have length less than or equal to 1023",
        ));
    }
    if let Some(d) = &req.state_reason_data {
        if serde_json::from_str::<serde_json::Value>(d).is_err() {
            return Err(Ec2Error::new(
                "InvalidFormat",
                "StateReasonData is not valid JSON: pass a JSON document",
            ));
        }
    }
    let region = store.region().to_string();
    store.write(|tx| {
        let mut alarm = record::load(tx, &req.alarm_name)?.ok_or_else(|| {
            Ec2Error::new(
                "ResourceNotFound",
                format!("Alarm {} does not exist", req.alarm_name),
            )
        })?;
        if alarm.state_value == req.state_value {
            return Ok(());
        }
        let t = transition(
            tx,
            &mut alarm,
            &region,
            &req.state_value,
            req.state_reason.clone(),
            req.state_reason_data.clone(),
            now,
        )?;
        record::push_pending(tx, &t)
    })
}

fn set_actions_enabled(store: &mut Store, names: &[String], enabled: bool) -> Result<(), Ec2Error> {
    if names.is_empty() {
        return Err(missing("AlarmNames"));
    }
    if names.len() > 100 {
        return Err(validation(
            "1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to 100",
        ));
    }
    let now = now_ms();
    store.write(|tx| {
        // Names that do not exist are passed over, as CloudWatch does.
        for name in names {
            let Some(mut a) = record::load(tx, name)? else {
                continue;
            };
            if a.actions_enabled == enabled {
                continue;
            }
            let before = a.clone();
            a.actions_enabled = enabled;
            a.alarm_configuration_updated_timestamp = Timestamp(now);
            record::save(tx, &a, None)?;
            record::add_history(
                tx,
                name,
                now,
                "ConfigurationUpdate",
                &format!("Alarm \"{name}\" updated"),
                &message::config_history("Update", &a, Some(&before)),
            )?;
        }
        Ok(())
    })
}

/// `EnableAlarmActions`.
pub fn enable_alarm_actions(
    store: &mut Store,
    req: &EnableAlarmActionsInput,
) -> Result<(), Ec2Error> {
    set_actions_enabled(store, &req.alarm_names, true)
}

/// `DisableAlarmActions`.
pub fn disable_alarm_actions(
    store: &mut Store,
    req: &DisableAlarmActionsInput,
) -> Result<(), Ec2Error> {
    set_actions_enabled(store, &req.alarm_names, false)
}

/// Records that an action of a transition ran (`Action` history item); the caller that
/// runs actions (the daemon) calls it for each action after running it.
pub fn record_action(
    store: &mut Store,
    transition: &super::AlarmTransition,
    action_arn: &str,
    succeeded: bool,
    detail: &str,
) -> Result<(), Ec2Error> {
    let now = now_ms();
    let summary = if succeeded {
        format!("Successfully executed action {action_arn}")
    } else {
        format!("Failed to execute action {action_arn}. Received error: \"{detail}\"")
    };
    let summary: String = summary.chars().take(255).collect();
    let data = message::action_history(action_arn, succeeded, transition.timestamp_ms, detail);
    store
        .write(|tx| record::add_history(tx, &transition.alarm_name, now, "Action", &summary, &data))
}
