//! The metric queries: GetMetricStatistics, GetMetricData, ListMetrics, with CloudWatch's
//! validation and error codes (PutMetricData is in [`put`](super::put)).

use base64ct::{Base64UrlUnpadded, Encoding};

use super::store::{MetricStore, LISTED_MS};
use super::validate::{self, bad_value};
use crate::cloudwatch::paging;
use crate::cloudwatch::shapes::metrics::*;
use crate::cloudwatch::shapes::{Metric, MetricStat, Timestamp};
use crate::cloudwatch::{now_ms, Dimension, StatSet};
use crate::error::Ec2Error;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The most data points one `GetMetricStatistics` answers.
pub const MAX_DATAPOINTS: i64 = 1440;

pub(super) fn missing(name: &str) -> Ec2Error {
    Ec2Error::new(
        "MissingParameter",
        format!("The parameter {name} is required."),
    )
}

pub(super) fn combination(message: impl Into<String>) -> Ec2Error {
    Ec2Error::new("InvalidParameterCombination", message)
}

/// The value of statistic `stat` of a set.
pub fn stat_value(stat: &str, s: &StatSet) -> f64 {
    match stat {
        "SampleCount" => s.sample_count,
        "Sum" => s.sum,
        "Minimum" => s.minimum,
        "Maximum" => s.maximum,
        _ => s.average(),
    }
}

/// The `p`th percentile (0-100) of `values`, by nearest rank.
pub fn percentile_of(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

/// CloudWatch's rounding of a query's start: to the second for periods under a minute,
/// else to the minute, 5 minutes or hour by the start's age (the tier that holds it).
pub fn round_start(start: i64, period: u32, now: i64) -> i64 {
    let step = if period < 60 {
        1000
    } else if start >= now - 15 * DAY_MS {
        MINUTE_MS
    } else if start >= now - 63 * DAY_MS {
        5 * MINUTE_MS
    } else {
        HOUR_MS
    };
    start.div_euclid(step) * step
}

fn times(start: Option<Timestamp>, end: Option<Timestamp>) -> Result<(i64, i64), Ec2Error> {
    let start = start.ok_or_else(|| missing("StartTime"))?.ms();
    let end = end.ok_or_else(|| missing("EndTime"))?.ms();
    if start >= end {
        return Err(Ec2Error::invalid_parameter(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    Ok((start, end))
}

/// `GetMetricStatistics`.
pub fn get_metric_statistics(
    metrics: &MetricStore,
    req: &GetMetricStatisticsInput,
) -> Result<GetMetricStatisticsOutput, Ec2Error> {
    get_metric_statistics_at(metrics, req, now_ms())
}

/// `GetMetricStatistics` as of `now` (which decides how the start is rounded).
pub fn get_metric_statistics_at(
    metrics: &MetricStore,
    req: &GetMetricStatisticsInput,
    now: i64,
) -> Result<GetMetricStatisticsOutput, Ec2Error> {
    validate::namespace("Namespace", &req.namespace)?;
    validate::metric_name("MetricName", &req.metric_name)?;
    validate::dimensions("Dimensions", &req.dimensions)?;
    let (start, end) = times(req.start_time, req.end_time)?;
    let period = validate::query_period("Period", req.period.ok_or_else(|| missing("Period"))?)?;
    match (
        req.statistics.is_empty(),
        req.extended_statistics.is_empty(),
    ) {
        (true, true) => {
            return Err(combination(
                "Must specify either Statistics or ExtendedStatistics",
            ))
        }
        (false, false) => {
            return Err(combination(
                "Cannot specify both Statistics and ExtendedStatistics: ask for one or the other",
            ))
        }
        _ => {}
    }
    if req.statistics.len() > 5 {
        return Err(Ec2Error::invalid_parameter(
            "The collection Statistics must not have a size greater than 5.",
        ));
    }
    for (i, s) in req.statistics.iter().enumerate() {
        if !validate::STATISTICS.contains(&s.as_str()) {
            return Err(bad_value(
                &format!("Statistics.member.{}", i + 1),
                s,
                "It must be one of SampleCount, Average, Sum, Minimum, Maximum.",
            ));
        }
    }
    if req.extended_statistics.len() > 10 {
        return Err(Ec2Error::invalid_parameter(
            "The collection ExtendedStatistics must not have a size greater than 10.",
        ));
    }
    for (i, s) in req.extended_statistics.iter().enumerate() {
        if validate::percentile(s).is_none() {
            return Err(bad_value(
                &format!("ExtendedStatistics.member.{}", i + 1),
                s,
                "ec2lab supports the percentiles p0 to p100 (up to two decimals, e.g. p99.9).",
            ));
        }
    }
    if let Some(u) = &req.unit {
        validate::unit("Unit", u)?;
    }
    let start = round_start(start, period, now);
    let period_ms = period as i64 * 1000;
    let wanted = (end - start + period_ms - 1) / period_ms;
    if wanted > MAX_DATAPOINTS {
        return Err(combination(format!(
            "You have requested up to {wanted} datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range."
        )));
    }
    let rows = metrics.statistics_by_unit(
        &req.namespace,
        &req.metric_name,
        &req.dimensions,
        start,
        end,
        period,
        req.unit.as_deref(),
    )?;
    let has = |s: &str| req.statistics.iter().any(|x| x == s);
    let mut datapoints: Vec<Datapoint> = rows
        .iter()
        .map(|(ts, set, unit)| Datapoint {
            timestamp: Timestamp(*ts),
            sample_count: has("SampleCount").then_some(set.sample_count),
            average: has("Average").then_some(set.average()),
            sum: has("Sum").then_some(set.sum),
            minimum: has("Minimum").then_some(set.minimum),
            maximum: has("Maximum").then_some(set.maximum),
            unit: unit.clone(),
            ..Default::default()
        })
        .collect();
    if !req.extended_statistics.is_empty() {
        let values = metrics.values(
            &req.namespace,
            &req.metric_name,
            &req.dimensions,
            start,
            end,
            period,
            req.unit.as_deref(),
        )?;
        for dp in &mut datapoints {
            if let Some((_, vs)) = values.iter().find(|(t, _)| *t == dp.timestamp.ms()) {
                for s in &req.extended_statistics {
                    let p = validate::percentile(s).unwrap_or(0.0);
                    if let Some(v) = percentile_of(&mut vs.clone(), p) {
                        dp.extended_statistics.insert(s.clone(), v);
                    }
                }
            }
        }
    }
    Ok(GetMetricStatisticsOutput {
        label: req.metric_name.clone(),
        datapoints,
    })
}

/// A valid `MetricStat`: its period and whether its stat is a percentile.
fn check_metric_stat(at: &str, ms: &MetricStat) -> Result<u32, Ec2Error> {
    let ns = ms
        .metric
        .namespace
        .as_deref()
        .ok_or_else(|| missing(&format!("{at}.Metric.Namespace")))?;
    validate::namespace(&format!("{at}.Metric.Namespace"), ns)?;
    let name = ms
        .metric
        .metric_name
        .as_deref()
        .ok_or_else(|| missing(&format!("{at}.Metric.MetricName")))?;
    validate::metric_name(&format!("{at}.Metric.MetricName"), name)?;
    validate::dimensions(&format!("{at}.Metric.Dimensions"), &ms.metric.dimensions)?;
    if ms.stat.is_empty() {
        return Err(missing(&format!("{at}.Stat")));
    }
    if !validate::STATISTICS.contains(&ms.stat.as_str()) && validate::percentile(&ms.stat).is_none()
    {
        return Err(bad_value(
            &format!("{at}.Stat"),
            &ms.stat,
            "It must be SampleCount, Average, Sum, Minimum, Maximum or a percentile pNN.",
        ));
    }
    if let Some(u) = &ms.unit {
        validate::unit(&format!("{at}.Unit"), u)?;
    }
    validate::query_period(&format!("{at}.Period"), ms.period)
}

/// The series (time, value) of one `MetricStat` over [start, end), oldest first.
pub fn series(
    metrics: &MetricStore,
    ms: &MetricStat,
    start: i64,
    end: i64,
) -> Result<Vec<(i64, f64)>, Ec2Error> {
    let period = ms.period.max(1) as u32;
    let ns = ms.metric.namespace.as_deref().unwrap_or_default();
    let name = ms.metric.metric_name.as_deref().unwrap_or_default();
    let dims = &ms.metric.dimensions;
    if let Some(p) = validate::percentile(&ms.stat) {
        let values = metrics.values(ns, name, dims, start, end, period, ms.unit.as_deref())?;
        return Ok(values
            .into_iter()
            .filter_map(|(t, mut vs)| percentile_of(&mut vs, p).map(|v| (t, v)))
            .collect());
    }
    let rows =
        metrics.statistics_by_unit(ns, name, dims, start, end, period, ms.unit.as_deref())?;
    let mut merged: Vec<(i64, StatSet)> = Vec::new();
    for (t, s, _) in rows {
        match merged.last_mut() {
            Some((lt, ls)) if *lt == t => *ls = ls.merge(s),
            _ => merged.push((t, s)),
        }
    }
    Ok(merged
        .into_iter()
        .map(|(t, s)| (t, stat_value(&ms.stat, &s)))
        .collect())
}

fn valid_query_id(id: &str) -> bool {
    let mut c = id.chars();
    matches!(c.next(), Some(f) if f.is_ascii_lowercase())
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && id.len() <= 255
}

/// `GetMetricData` (MetricStat queries; metric math expressions are refused).
pub fn get_metric_data(
    metrics: &MetricStore,
    req: &GetMetricDataInput,
) -> Result<GetMetricDataOutput, Ec2Error> {
    get_metric_data_at(metrics, req, now_ms())
}

/// `GetMetricData` as of `now`.
pub fn get_metric_data_at(
    metrics: &MetricStore,
    req: &GetMetricDataInput,
    now: i64,
) -> Result<GetMetricDataOutput, Ec2Error> {
    if req.metric_data_queries.is_empty() {
        return Err(missing("MetricDataQueries"));
    }
    if req.metric_data_queries.len() > 500 {
        return Err(Ec2Error::invalid_parameter(
            "The collection MetricDataQueries must not have a size greater than 500.",
        ));
    }
    let (start, end) = times(req.start_time, req.end_time)?;
    let descending = match req.scan_by.as_deref() {
        None | Some("TimestampDescending") => true,
        Some("TimestampAscending") => false,
        Some(other) => {
            return Err(validate::validation(format!(
                "1 validation error detected: Value '{other}' at 'scanBy' failed to satisfy constraint: Member must satisfy enum value set: [TimestampDescending, TimestampAscending]"
            )))
        }
    };
    let max_points = req.max_datapoints.unwrap_or(100_800);
    if max_points < 1 {
        return Err(Ec2Error::invalid_parameter(
            "The parameter MaxDatapoints must be greater than 0.",
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, q) in req.metric_data_queries.iter().enumerate() {
        let at = format!("MetricDataQueries.member.{}", i + 1);
        if !valid_query_id(&q.id) {
            return Err(bad_value(
                &format!("{at}.Id"),
                &q.id,
                "An id starts with a lowercase letter and has only letters, digits and underscores.",
            ));
        }
        if seen.contains(&q.id.as_str()) {
            return Err(Ec2Error::invalid_parameter(format!(
                "The value {} for parameter MetricDataQueries.member.{}.Id is not unique.",
                q.id,
                i + 1
            )));
        }
        seen.push(&q.id);
        match (&q.metric_stat, &q.expression) {
            (Some(_), Some(_)) => {
                return Err(combination(format!(
                    "The parameters {at}.MetricStat and {at}.Expression are mutually exclusive and you have specified both."
                )))
            }
            (None, Some(e)) => {
                return Err(Ec2Error::invalid_parameter(format!(
                    "The value {e} for parameter {at}.Expression is not supported: ec2lab answers MetricStat queries only, not metric math."
                )))
            }
            (None, None) => return Err(missing(&format!("{at}.MetricStat"))),
            (Some(ms), None) => {
                check_metric_stat(&format!("{at}.MetricStat"), ms)?;
            }
        }
    }
    // The token: the query index and how many of its points were already returned.
    let (mut qi, mut skip) = match &req.next_token {
        None => (0usize, 0usize),
        Some(t) => decode_token(t)?,
    };
    let mut budget = max_points as usize;
    let mut results = Vec::new();
    let mut next_token = None;
    let returned: Vec<_> = req
        .metric_data_queries
        .iter()
        .filter(|q| q.return_data.unwrap_or(true))
        .collect();
    while qi < returned.len() {
        let q = returned[qi];
        let ms = q.metric_stat.as_ref().expect("checked above");
        let period = ms.period as u32;
        let mut points = series(metrics, ms, round_start(start, period, now), end)?;
        if descending {
            points.reverse();
        }
        let rest: Vec<_> = points.into_iter().skip(skip).collect();
        let take = rest.len().min(budget);
        let complete = take == rest.len();
        results.push(MetricDataResult {
            id: q.id.clone(),
            label: q
                .label
                .clone()
                .or_else(|| ms.metric.metric_name.clone())
                .unwrap_or_default(),
            timestamps: rest[..take].iter().map(|p| Timestamp(p.0)).collect(),
            values: rest[..take].iter().map(|p| p.1).collect(),
            status_code: if complete { "Complete" } else { "PartialData" }.into(),
            messages: Vec::new(),
        });
        budget -= take;
        if !complete {
            next_token = Some(encode_token(qi, skip + take));
            break;
        }
        qi += 1;
        skip = 0;
        if budget == 0 && qi < returned.len() {
            next_token = Some(encode_token(qi, 0));
            break;
        }
    }
    Ok(GetMetricDataOutput {
        metric_data_results: results,
        next_token,
        messages: Vec::new(),
    })
}

fn encode_token(query: usize, skip: usize) -> String {
    Base64UrlUnpadded::encode_string(format!("GetMetricData\n{query}\n{skip}").as_bytes())
}

fn decode_token(t: &str) -> Result<(usize, usize), Ec2Error> {
    let bad = || {
        Ec2Error::new(
            "InvalidNextToken",
            "The NextToken is not valid for GetMetricData: pass the NextToken of the previous answer unchanged, with the same queries",
        )
    };
    let text = Base64UrlUnpadded::decode_vec(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let mut parts = text.split('\n');
    if parts.next() != Some("GetMetricData") {
        return Err(bad());
    }
    let q = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let s = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    Ok((q, s))
}

/// `ListMetrics`.
pub fn list_metrics(
    metrics: &MetricStore,
    req: &ListMetricsInput,
) -> Result<ListMetricsOutput, Ec2Error> {
    list_metrics_at(metrics, req, now_ms())
}

/// The metrics `ListMetrics` answers per page.
pub const LIST_PAGE: i64 = 500;

/// `ListMetrics` as of `now`.
pub fn list_metrics_at(
    metrics: &MetricStore,
    req: &ListMetricsInput,
    now: i64,
) -> Result<ListMetricsOutput, Ec2Error> {
    if let Some(ns) = &req.namespace {
        validate::namespace("Namespace", ns)?;
    }
    if let Some(n) = &req.metric_name {
        validate::metric_name("MetricName", n)?;
    }
    if req.dimensions.len() > 10 {
        return Err(Ec2Error::invalid_parameter(
            "The collection Dimensions must not have a size greater than 10.",
        ));
    }
    let since = match req.recently_active.as_deref() {
        None => now - LISTED_MS,
        Some("PT3H") => now - 3 * HOUR_MS,
        Some(other) => {
            return Err(validate::validation(format!(
                "1 validation error detected: Value '{other}' at 'recentlyActive' failed to satisfy constraint: Member must satisfy enum value set: [PT3H]"
            )))
        }
    };
    let all: Vec<_> = metrics
        .list(since)?
        .into_iter()
        .filter(|m| req.namespace.as_ref().is_none_or(|n| *n == m.namespace))
        .filter(|m| req.metric_name.as_ref().is_none_or(|n| *n == m.name))
        .filter(|m| {
            req.dimensions.iter().all(|f| {
                m.dimensions
                    .iter()
                    .any(|d| d.name == f.name && f.value.as_ref().is_none_or(|v| *v == d.value))
            })
        })
        .collect();
    let (page, next_token) = paging::page(
        "ListMetrics",
        all,
        |m| {
            crate::ec2::pages::key(&[
                &m.namespace,
                &m.name,
                &super::store::dims_key(&m.dimensions),
            ])
        },
        Some(LIST_PAGE),
        &req.next_token,
    )?;
    Ok(ListMetricsOutput {
        metrics: page
            .into_iter()
            .map(|m| Metric {
                namespace: Some(m.namespace),
                metric_name: Some(m.name),
                dimensions: m.dimensions,
            })
            .collect(),
        next_token,
    })
}

/// The dimensions as CloudWatch keys a metric: sorted by name.
pub fn sorted(dims: &[Dimension]) -> Vec<Dimension> {
    let mut d = dims.to_vec();
    d.sort();
    d
}
