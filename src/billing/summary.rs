//! `ec2lab billing`: the cost of each resource over a period, by usage type and purchase
//! option, from the same line items as Cost Explorer's answer.

use std::collections::BTreeMap;

use serde::Serialize;

use super::explorer;
use super::prices::Prices;
use crate::clock::{iso_ms, now_ms, parse_ms};
use crate::error::Ec2Error;
use crate::store::Store;

/// One resource's cost for one usage type and purchase option.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Line {
    /// The instance, volume, snapshot, allocation or address.
    pub resource_id: String,
    /// Cost Explorer's usage type (`BoxUsage:t2.micro`, `EBS:VolumeUsage.gp3`, ...).
    pub usage_type: String,
    /// `On Demand Instances`, `Spot Instances`, `Standard Reserved Instances`.
    pub purchase_type: String,
    /// Hours, GiB-months, or 0 for fees.
    pub quantity: f64,
    /// Unblended cost in USD, to the cent.
    pub cost: String,
    /// Unblended cost in USD, unrounded.
    pub exact_cost: f64,
}

/// The bill of a period.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Bill {
    /// The period's start (ISO 8601).
    pub start: String,
    /// Its end.
    pub end: String,
    /// The currency.
    pub currency: String,
    /// The price table's date.
    pub prices_date: String,
    /// Where the prices come from.
    pub prices_source: String,
    /// One line per resource, usage type and purchase option.
    pub lines: Vec<Line>,
    /// The total, to the cent.
    pub total: String,
}

/// The bill of `[start, end)` (ISO 8601; default: this calendar month to now).
pub fn bill(store: &Store, start: Option<&str>, end: Option<&str>) -> Result<Bill, Ec2Error> {
    let now = now_ms();
    let parse = |t: Option<&str>, default: i64, which: &str| -> Result<i64, Ec2Error> {
        match t {
            None => Ok(default),
            Some(t) => parse_ms(t)
                .or_else(|| parse_ms(&format!("{t}T00:00:00Z")))
                .ok_or_else(|| {
                    Ec2Error::invalid_parameter(format!(
                        "--{which} {t:?} is not a time: use ISO 8601 (2026-12-01 or 2026-12-01T10:00:00Z)"
                    ))
                }),
        }
    };
    let month_start = {
        let (y, m, _) = crate::clock::civil_from_days(now.div_euclid(86_400_000));
        crate::clock::days_from_civil(y, m, 1) * 86_400_000
    };
    let s = parse(start, month_start, "start")?;
    let e = parse(end, now, "end")?;
    if s >= e {
        return Err(Ec2Error::invalid_parameter("--start must be before --end"));
    }
    let items = explorer::line_items(store, s, e, &[(s, e)])?;
    let mut lines: BTreeMap<(String, String, String), (f64, f64)> = BTreeMap::new();
    for i in &items {
        let k = (
            i.dims.resource_id.clone(),
            i.dims.usage_type.clone(),
            i.dims.purchase_type.to_string(),
        );
        let slot = lines.entry(k).or_default();
        slot.0 += i.quantity;
        slot.1 += i.unblended;
    }
    let total: f64 = lines.values().map(|v| v.1).sum();
    let prices = Prices::load(store.root().parent().unwrap_or(store.root()))?;
    Ok(Bill {
        start: iso_ms(s),
        end: iso_ms(e),
        currency: prices.currency.clone(),
        prices_date: prices.date.clone(),
        prices_source: prices.source.clone(),
        lines: lines
            .into_iter()
            .map(|((resource_id, usage_type, purchase_type), (q, c))| Line {
                resource_id,
                usage_type,
                purchase_type,
                quantity: (q * 1e6).round() / 1e6,
                cost: format!("{c:.2}"),
                exact_cost: c,
            })
            .collect(),
        total: format!("{total:.2}"),
    })
}
