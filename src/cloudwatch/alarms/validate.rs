//! PutMetricAlarm's checks, with CloudWatch's codes: the alarm a request describes, or why
//! not.

use super::arns::{self, Target};
use super::record;
use crate::cloudwatch::metrics::validate::{self, validation};
use crate::cloudwatch::shapes::alarms::*;
use crate::cloudwatch::shapes::Timestamp;
use crate::error::Ec2Error;

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

pub(super) fn missing(name: &str) -> Ec2Error {
    Ec2Error::new(
        "MissingParameter",
        format!("The parameter {name} is required."),
    )
}

pub(super) fn enum_error(value: &str, member: &str, allowed: &[&str]) -> Ec2Error {
    validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    ))
}

pub(super) fn alarm_name(name: &str, param: &str) -> Result<(), Ec2Error> {
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
pub(super) fn checked_alarm(
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
