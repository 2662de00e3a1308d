//! `PutMetricData`, with CloudWatch's validation and error codes: nothing is written
//! unless the whole request is valid.

use super::actions::{combination, missing};
use super::store::MetricStore;
use super::validate;
use crate::cloudwatch::shapes::metrics::*;
use crate::cloudwatch::{now_ms, Sample, StatSet};
use crate::error::Ec2Error;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
/// CloudWatch's limit on values: ±2^360.
const VALUE_LIMIT: f64 = 2.348_542_582_773_833_3e108;

/// `PutMetricData`.
pub fn put_metric_data(
    metrics: &mut MetricStore,
    req: &PutMetricDataInput,
) -> Result<(), Ec2Error> {
    put_metric_data_at(metrics, req, now_ms())
}

/// `PutMetricData` as of `now_ms` (the timestamp checks and absent timestamps use it).
pub fn put_metric_data_at(
    metrics: &mut MetricStore,
    req: &PutMetricDataInput,
    now: i64,
) -> Result<(), Ec2Error> {
    let samples = samples_of(req, now)?;
    metrics.put(&samples)
}

fn check_value(param: &str, v: f64) -> Result<(), Ec2Error> {
    if !v.is_finite() || v.abs() > VALUE_LIMIT {
        return Err(Ec2Error::invalid_parameter(format!(
            "The value {v} for parameter {param} is invalid: values must be finite and between -2^360 and 2^360."
        )));
    }
    Ok(())
}

/// The samples of a valid `PutMetricData` request.
fn samples_of(req: &PutMetricDataInput, now: i64) -> Result<Vec<Sample>, Ec2Error> {
    validate::namespace("Namespace", &req.namespace)?;
    if req.namespace.starts_with("AWS/") {
        return Err(Ec2Error::invalid_parameter(format!(
            "The value {} for parameter Namespace is invalid: the AWS/ namespaces are for AWS's own metrics; use a namespace of your own.",
            req.namespace
        )));
    }
    if req.metric_data.is_empty() {
        return Err(missing("MetricData"));
    }
    if req.metric_data.len() > 1000 {
        return Err(Ec2Error::invalid_parameter(
            "The collection MetricData must not have a size greater than 1000.",
        ));
    }
    let mut out = Vec::with_capacity(req.metric_data.len());
    for (i, d) in req.metric_data.iter().enumerate() {
        let at = format!("MetricData.member.{}", i + 1);
        validate::metric_name(&format!("{at}.MetricName"), &d.metric_name)?;
        validate::dimensions(&format!("{at}.Dimensions"), &d.dimensions)?;
        let given = [
            d.value.is_some(),
            d.statistic_values.is_some(),
            !d.values.is_empty(),
        ];
        let names = ["Value", "StatisticValues", "Values"];
        let set: Vec<&str> = names
            .iter()
            .zip(given)
            .filter(|(_, g)| *g)
            .map(|(n, _)| *n)
            .collect();
        if set.len() > 1 {
            return Err(combination(format!(
                "The parameters {at}.{} and {at}.{} are mutually exclusive and you have specified both.",
                set[0], set[1]
            )));
        }
        let stats = if let Some(v) = d.value {
            check_value(&format!("{at}.Value"), v)?;
            StatSet::one(v)
        } else if let Some(s) = d.statistic_values {
            for (n, v) in [
                ("SampleCount", s.sample_count),
                ("Sum", s.sum),
                ("Minimum", s.minimum),
                ("Maximum", s.maximum),
            ] {
                check_value(&format!("{at}.StatisticValues.{n}"), v)?;
            }
            if s.sample_count <= 0.0 {
                return Err(Ec2Error::invalid_parameter(format!(
                    "The parameter {at}.StatisticValues.SampleCount must be greater than 0."
                )));
            }
            if s.minimum > s.maximum {
                return Err(Ec2Error::invalid_parameter(format!(
                    "The parameter {at}.StatisticValues.Maximum must be greater than {at}.StatisticValues.Minimum."
                )));
            }
            StatSet {
                sample_count: s.sample_count,
                sum: s.sum,
                minimum: s.minimum,
                maximum: s.maximum,
            }
        } else if !d.values.is_empty() {
            if d.values.len() > 150 {
                return Err(Ec2Error::invalid_parameter(format!(
                    "The collection {at}.Values must not have a size greater than 150."
                )));
            }
            if !d.counts.is_empty() && d.counts.len() != d.values.len() {
                return Err(Ec2Error::invalid_parameter(format!(
                    "The parameters {at}.Values and {at}.Counts must be of the same size."
                )));
            }
            let mut set: Option<StatSet> = None;
            for (j, v) in d.values.iter().enumerate() {
                check_value(&format!("{at}.Values.member.{}", j + 1), *v)?;
                let c = d.counts.get(j).copied().unwrap_or(1.0);
                check_value(&format!("{at}.Counts.member.{}", j + 1), c)?;
                if c < 0.0 {
                    return Err(Ec2Error::invalid_parameter(format!(
                        "The parameter {at}.Counts.member.{} must not be negative.",
                        j + 1
                    )));
                }
                if c == 0.0 {
                    continue;
                }
                let one = StatSet {
                    sample_count: c,
                    sum: v * c,
                    minimum: *v,
                    maximum: *v,
                };
                set = Some(set.map_or(one, |s| s.merge(one)));
            }
            match set {
                Some(s) => s,
                None => continue, // every count 0: nothing happened
            }
        } else {
            return Err(combination(format!(
                "At least one of the parameters {at}.Value, {at}.StatisticValues or {at}.Values must be specified."
            )));
        };
        let unit = d.unit.as_deref().unwrap_or("None");
        validate::unit(&format!("{at}.Unit"), unit)?;
        let resolution = match d.storage_resolution {
            None | Some(60) => 60,
            Some(1) => 1,
            Some(r) => {
                return Err(Ec2Error::invalid_parameter(format!(
                    "The value {r} for parameter {at}.StorageResolution is invalid: it must be 1 (high resolution) or 60 (standard)."
                )))
            }
        };
        let ts = d.timestamp.map(|t| t.ms()).unwrap_or(now);
        if ts < now - 14 * DAY_MS {
            return Err(Ec2Error::invalid_parameter(format!(
                "The parameter {at}.Timestamp must specify a time no more than two weeks in the past."
            )));
        }
        if ts > now + 2 * HOUR_MS {
            return Err(Ec2Error::invalid_parameter(format!(
                "The parameter {at}.Timestamp must specify a time no more than two hours in the future."
            )));
        }
        let mut s = Sample::new(
            &req.namespace,
            &d.metric_name,
            d.dimensions.clone(),
            ts,
            unit,
            stats,
        );
        s.storage_resolution = resolution;
        out.push(s);
    }
    Ok(out)
}
