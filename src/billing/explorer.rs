//! Cost Explorer's `GetCostAndUsage` over the region's usage records: buckets by
//! granularity, filters and groups by dimension, metrics as Cost Explorer writes them.

use std::collections::BTreeMap;

use super::cost::{self, Dims, Inputs, LineItem};
use super::prices::Prices;
use super::shapes::*;
use super::{reserved, savings, spot_history, usage};
use crate::clock::{days_from_civil, iso_ms, now_ms, parse_ms};
use crate::error::Ec2Error;
use crate::store::Store;

const METRICS: &[&str] = &[
    "AmortizedCost",
    "BlendedCost",
    "NetAmortizedCost",
    "NetUnblendedCost",
    "NormalizedUsageAmount",
    "UnblendedCost",
    "UsageQuantity",
];

const DIMENSIONS: &[&str] = &[
    "SERVICE",
    "INSTANCE_TYPE",
    "USAGE_TYPE",
    "PURCHASE_TYPE",
    "RECORD_TYPE",
    "REGION",
    "AZ",
    "RESOURCE_ID",
    "OPERATING_SYSTEM",
    "PLATFORM",
];

fn validation(message: impl Into<String>) -> Ec2Error {
    Ec2Error::new("ValidationException", message)
}

/// A `DateInterval` bound: `YYYY-MM-DD` (midnight UTC) or ISO 8601 with a time.
fn parse_bound(text: &str, which: &str) -> Result<i64, Ec2Error> {
    let date = |t: &str| -> Option<i64> {
        let mut parts = t.split('-');
        let y: i64 = parts.next()?.parse().ok()?;
        let m: u32 = parts.next()?.parse().ok()?;
        let d: u32 = parts.next()?.parse().ok()?;
        if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        Some(days_from_civil(y, m, d) * 86_400_000)
    };
    let ms = if text.len() == 10 {
        date(text)
    } else {
        parse_ms(text)
    };
    ms.ok_or_else(|| {
        validation(format!(
            "{which} date {text:?} is not valid: use yyyy-MM-dd, or yyyy-MM-ddTHH:mm:ssZ for HOURLY"
        ))
    })
}

/// The buckets of `[start, end)` for a granularity.
fn buckets(start: i64, end: i64, granularity: &str) -> Result<Vec<(i64, i64)>, Ec2Error> {
    let mut out = Vec::new();
    let mut s = start;
    while s < end {
        let next = match granularity {
            "HOURLY" => (s.div_euclid(3_600_000) + 1) * 3_600_000,
            "DAILY" => (s.div_euclid(86_400_000) + 1) * 86_400_000,
            "MONTHLY" => cost::next_month_ms(s),
            other => {
                return Err(validation(format!(
                    "Granularity {other:?} is not valid: use DAILY, MONTHLY or HOURLY"
                )))
            }
        }
        .min(end);
        out.push((s, next));
        s = next;
        if out.len() > 10_000 {
            return Err(validation(
                "The time period has too many buckets for its granularity; shorten it",
            ));
        }
    }
    Ok(out)
}

/// The value of dimension `key` for a line item.
fn dimension(d: &Dims, key: &str, region: &str) -> String {
    match key {
        "SERVICE" => d.service.into(),
        "INSTANCE_TYPE" => d.instance_type.clone(),
        "USAGE_TYPE" => d.usage_type.clone(),
        "PURCHASE_TYPE" => d.purchase_type.into(),
        "RECORD_TYPE" => d.record_type.into(),
        "REGION" => region.into(),
        "AZ" => {
            if d.service == "Amazon Elastic Compute Cloud - Compute" || d.service == "EC2 - Other" {
                format!("{region}a")
            } else {
                "NoAZ".into()
            }
        }
        "RESOURCE_ID" => d.resource_id.clone(),
        "OPERATING_SYSTEM" | "PLATFORM" => {
            if d.instance_type == "NoInstanceType" {
                "NoOperatingSystem".into()
            } else {
                "Linux".into()
            }
        }
        _ => String::new(),
    }
}

fn check_expression(e: &Expression) -> Result<(), Ec2Error> {
    let parts = usize::from(!e.and.is_empty())
        + usize::from(!e.or.is_empty())
        + usize::from(e.not.is_some())
        + usize::from(e.dimensions.is_some());
    if parts != 1 {
        return Err(validation(
            "Expression has to contain exactly one of And, Or, Not or Dimensions (Tags and CostCategories are not kept by ec2lab)",
        ));
    }
    for sub in e.and.iter().chain(&e.or).chain(e.not.as_deref()) {
        check_expression(sub)?;
    }
    if let Some(d) = &e.dimensions {
        let key = d.key.as_deref().unwrap_or_default();
        if !DIMENSIONS.contains(&key) {
            return Err(validation(format!(
                "Dimension {key:?} is not valid for filters here; use one of {}",
                DIMENSIONS.join(", ")
            )));
        }
        if d.match_options.iter().any(|m| m != "EQUALS") {
            return Err(validation("Only the EQUALS match option is supported"));
        }
    }
    Ok(())
}

fn matches(e: &Expression, d: &Dims, region: &str) -> bool {
    if !e.and.is_empty() {
        return e.and.iter().all(|x| matches(x, d, region));
    }
    if !e.or.is_empty() {
        return e.or.iter().any(|x| matches(x, d, region));
    }
    if let Some(n) = &e.not {
        return !matches(n, d, region);
    }
    e.dimensions.as_ref().is_some_and(|dv| {
        let v = dimension(d, dv.key.as_deref().unwrap_or_default(), region);
        dv.values.contains(&v)
    })
}

/// An amount as Cost Explorer writes it: a plain decimal, up to ten places.
fn amount(x: f64) -> String {
    let s = format!("{:.10}", x + 0.0);
    let s = s.trim_end_matches('0');
    s.strip_suffix('.').unwrap_or(s).to_string()
}

fn metric_values(metrics: &[String], items: &[&LineItem]) -> BTreeMap<String, MetricValue> {
    let unblended: f64 = items.iter().map(|i| i.unblended).sum();
    let amortized: f64 = items.iter().map(|i| i.amortized).sum();
    let quantity: f64 = items.iter().map(|i| i.quantity).sum();
    let hours_only = !items.is_empty()
        && items
            .iter()
            .all(|i| i.dims.instance_type != "NoInstanceType" && i.dims.record_type != "Fee");
    metrics
        .iter()
        .map(|m| {
            let (v, unit) = match m.as_str() {
                "UnblendedCost" | "BlendedCost" | "NetUnblendedCost" => (unblended, "USD"),
                "AmortizedCost" | "NetAmortizedCost" => (amortized, "USD"),
                _ => (quantity, if hours_only { "Hrs" } else { "N/A" }),
            };
            (
                m.clone(),
                MetricValue {
                    amount: amount(v),
                    unit: unit.into(),
                },
            )
        })
        .collect()
}

fn interval_text(ms: i64, hourly: bool) -> String {
    let iso = iso_ms(ms);
    if hourly {
        format!("{}Z", &iso[..19])
    } else {
        iso[..10].to_string()
    }
}

/// `GetCostAndUsage`.
pub fn get_cost_and_usage(
    store: &Store,
    req: &GetCostAndUsageRequest,
) -> Result<GetCostAndUsageResponse, Ec2Error> {
    for m in &req.metrics {
        if !METRICS.contains(&m.as_str()) {
            return Err(validation(format!(
                "Metric {m:?} is not valid; use one of {}",
                METRICS.join(", ")
            )));
        }
    }
    if req.metrics.is_empty() {
        return Err(validation("Metrics must name at least one metric"));
    }
    if req.group_by.len() > 2 {
        return Err(validation("GroupBy can have at most 2 group definitions"));
    }
    for g in &req.group_by {
        match (g.r#type.as_deref(), g.key.as_deref()) {
            (Some("DIMENSION"), Some(k)) if DIMENSIONS.contains(&k) => {}
            (Some("DIMENSION"), k) => {
                return Err(validation(format!(
                    "Group Definition dimension {:?} is invalid. Valid values are {}",
                    k.unwrap_or_default(),
                    DIMENSIONS.join(", ")
                )))
            }
            (t, _) => {
                return Err(validation(format!(
                    "Group Definition type {:?} is not kept by ec2lab; use DIMENSION",
                    t.unwrap_or_default()
                )))
            }
        }
    }
    if let Some(f) = &req.filter {
        check_expression(f)?;
    }
    let start = parse_bound(&req.time_period.start, "Start")?;
    let end = parse_bound(&req.time_period.end, "End")?;
    if start >= end {
        return Err(validation(
            "Start date (and hour) should be before end date (and hour)",
        ));
    }
    let buckets = buckets(start, end, &req.granularity)?;
    let items = line_items(store, start, end, &buckets)?;
    let region = store.region();
    let now = now_ms();
    let hourly = req.granularity == "HOURLY";
    let mut results = Vec::new();
    for (bi, &(bs, be)) in buckets.iter().enumerate() {
        let here: Vec<&LineItem> = items
            .iter()
            .filter(|i| i.bucket == bi)
            .filter(|i| {
                req.filter
                    .as_ref()
                    .is_none_or(|f| matches(f, &i.dims, region))
            })
            .collect();
        let mut r = ResultByTime {
            time_period: DateInterval {
                start: interval_text(bs, hourly),
                end: interval_text(be, hourly),
            },
            estimated: be > now,
            ..Default::default()
        };
        if req.group_by.is_empty() {
            r.total = metric_values(&req.metrics, &here);
        } else {
            let mut groups: BTreeMap<Vec<String>, Vec<&LineItem>> = BTreeMap::new();
            for i in here {
                let keys = req
                    .group_by
                    .iter()
                    .map(|g| dimension(&i.dims, g.key.as_deref().unwrap_or_default(), region))
                    .collect();
                groups.entry(keys).or_default().push(i);
            }
            r.groups = groups
                .into_iter()
                .map(|(keys, items)| Group {
                    keys,
                    metrics: metric_values(&req.metrics, &items),
                })
                .collect();
        }
        results.push(r);
    }
    Ok(GetCostAndUsageResponse {
        group_definitions: req.group_by.clone(),
        results_by_time: results,
        dimension_value_attributes: Vec::new(),
    })
}

/// The priced line items of the region for `buckets` within `[start, end)`.
pub fn line_items(
    store: &Store,
    start: i64,
    end: i64,
    buckets: &[(i64, i64)],
) -> Result<Vec<LineItem>, Ec2Error> {
    let state_dir = store.root().parent().unwrap_or(store.root());
    let prices = Prices::load(state_dir)?;
    let records = usage::overlapping(store.conn(), start, end)?;
    let reservations = reserved::reservations(store.conn())?;
    let savings_plans = savings::plans(store.conn())?;
    let spot = spot_history(store.conn())?;
    let inputs = Inputs {
        region: store.region(),
        prices: prices.region(store.region()),
        records: &records,
        reservations: &reservations,
        savings_plans: &savings_plans,
        spot: &spot,
        now_ms: now_ms(),
    };
    Ok(cost::line_items(&inputs, buckets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_cost_explorer_writes_them() {
        assert_eq!(amount(0.0), "0");
        assert_eq!(amount(0.0016), "0.0016");
        assert_eq!(amount(9.648), "9.648");
        assert_eq!(amount(1.0 / 3.0), "0.3333333333");
    }

    #[test]
    fn buckets_follow_the_calendar() {
        let d = |y, m, d| days_from_civil(y, m, d) * 86_400_000;
        let b = buckets(d(2026, 11, 30), d(2027, 1, 2), "MONTHLY").unwrap();
        assert_eq!(
            b,
            vec![
                (d(2026, 11, 30), d(2026, 12, 1)),
                (d(2026, 12, 1), d(2027, 1, 1)),
                (d(2027, 1, 1), d(2027, 1, 2))
            ]
        );
        assert_eq!(
            buckets(d(2026, 12, 1), d(2026, 12, 3), "DAILY")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            buckets(0, 1, "WEEKLY").unwrap_err().code,
            "ValidationException"
        );
    }
}
