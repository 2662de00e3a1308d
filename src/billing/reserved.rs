//! Reserved Instances as billing constructs: offerings made from the price table (1- and
//! 3-year Standard terms, No/Partial/All Upfront, regional scope, Linux/UNIX), purchases
//! recorded in the store, and the records billing applies hour by hour ([`super::cost`]).

use rusqlite::{params, Connection};

use super::cost::Reservation;
use super::prices::{Prices, RegionPrices};
use crate::clock::{iso_ms, now_ms};
use crate::ec2::filters::{self, Filterable};
use crate::ec2::shapes::market::*;
use crate::ec2::tags::Tag;
use crate::error::Ec2Error;
use crate::store::Store;

const YEAR_S: i64 = 31_536_000;
const TERMS: &[(i64, &str)] = &[(YEAR_S, "1yr"), (3 * YEAR_S, "3yr")];
const PAYMENTS: &[&str] = &["No Upfront", "Partial Upfront", "All Upfront"];

/// Every Reserved Instance bought in the region, oldest first, as billing applies them.
pub fn reservations(c: &Connection) -> Result<Vec<Reservation>, Ec2Error> {
    let mut stmt = c.prepare(
        "SELECT reserved_id, instance_type, count, start_ms, duration_s, fixed_price, usage_price
         FROM reserved_instances ORDER BY start_ms, reserved_id",
    )?;
    let rows = stmt.query_map([], |r| {
        let count: i64 = r.get(2)?;
        let start_ms: i64 = r.get(3)?;
        let duration_s: i64 = r.get(4)?;
        let fixed: f64 = r.get(5)?;
        Ok(Reservation {
            id: r.get(0)?,
            instance_type: r.get(1)?,
            count,
            start_ms,
            end_ms: start_ms + duration_s * 1000,
            fixed_price: fixed * count as f64,
            usage_price: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// An offering's id: stable for its region, type, term and payment, shaped like EC2's.
fn offering_id(region: &str, ty: &str, duration: i64, payment: &str) -> String {
    let key = format!("{region}/{ty}/{duration}/{payment}");
    let a = crate::hash::stable_hash(key.as_bytes());
    let b = crate::hash::stable_hash(format!("{key}#").as_bytes());
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Every offering the price table makes for the region.
fn offerings(p: &RegionPrices, region: &str) -> Vec<ReservedInstancesOffering> {
    let mut out = Vec::new();
    for (ty, &on_demand) in &p.instances {
        for &(duration, term) in TERMS {
            let shares = if term == "1yr" {
                &p.reserved.one_year
            } else {
                &p.reserved.three_year
            };
            for &payment in PAYMENTS {
                let Some(share) = shares.get(payment) else {
                    continue;
                };
                let effective = on_demand * share;
                let hours = (duration / 3600) as f64;
                let (fixed, hourly) = match payment {
                    "All Upfront" => (round2(effective * hours), 0.0),
                    "Partial Upfront" => {
                        let up = p.reserved.partial_upfront_share;
                        (
                            round2(effective * hours * up),
                            round6(effective * (1.0 - up)),
                        )
                    }
                    _ => (0.0, round6(effective)),
                };
                out.push(ReservedInstancesOffering {
                    currency_code: "USD".into(),
                    instance_tenancy: "default".into(),
                    marketplace: false,
                    offering_class: "standard".into(),
                    offering_type: payment.into(),
                    pricing_details: Vec::new(),
                    recurring_charges: vec![RecurringCharge {
                        amount: hourly,
                        frequency: "Hourly".into(),
                    }],
                    scope: "Region".into(),
                    reserved_instances_offering_id: offering_id(region, ty, duration, payment),
                    instance_type: ty.clone(),
                    duration,
                    usage_price: 0.0,
                    fixed_price: fixed,
                    product_description: "Linux/UNIX".into(),
                });
            }
        }
    }
    out
}

struct OfferingItem(ReservedInstancesOffering);

impl Filterable for OfferingItem {
    const FILTERS: &'static [&'static str] = &[
        "instance-type",
        "duration",
        "offering-type",
        "product-description",
        "reserved-instances-offering-id",
        "scope",
        "marketplace",
        "fixed-price",
        "usage-price",
    ];

    fn filter_values(&self, name: &str) -> Vec<String> {
        let o = &self.0;
        vec![match name {
            "instance-type" => o.instance_type.clone(),
            "duration" => o.duration.to_string(),
            "offering-type" => o.offering_type.clone(),
            "product-description" => o.product_description.clone(),
            "reserved-instances-offering-id" => o.reserved_instances_offering_id.clone(),
            "scope" => o.scope.clone(),
            "marketplace" => o.marketplace.to_string(),
            "fixed-price" => o.fixed_price.to_string(),
            "usage-price" => o.usage_price.to_string(),
            _ => return Vec::new(),
        }]
    }

    fn tags(&self) -> &[Tag] {
        &[]
    }
}

fn region_prices(store: &Store) -> Result<RegionPrices, Ec2Error> {
    let prices = Prices::load(store.root().parent().unwrap_or(store.root()))?;
    Ok(prices.region(store.region()).clone())
}

/// `DescribeReservedInstancesOfferings`.
pub fn describe_reserved_instances_offerings(
    store: &Store,
    req: &DescribeReservedInstancesOfferingsRequest,
) -> Result<DescribeReservedInstancesOfferingsResult, Ec2Error> {
    if let Some(t) = &req.offering_type {
        if !PAYMENTS.contains(&t.as_str()) {
            return Err(Ec2Error::invalid_parameter(format!(
                "Value ({t}) for parameter offeringType is invalid. Use No Upfront, Partial Upfront or All Upfront"
            )));
        }
    }
    let p = region_prices(store)?;
    let all = offerings(&p, store.region());
    let kept: Vec<OfferingItem> = all
        .into_iter()
        .filter(|o| {
            req.instance_type
                .as_ref()
                .is_none_or(|t| &o.instance_type == t)
                && req
                    .offering_type
                    .as_ref()
                    .is_none_or(|t| &o.offering_type == t)
                && req
                    .offering_class
                    .as_ref()
                    .is_none_or(|c| &o.offering_class == c)
                && req
                    .product_description
                    .as_ref()
                    .is_none_or(|d| d.starts_with("Linux/UNIX"))
                && req.instance_tenancy.as_ref().is_none_or(|t| t == "default")
                && req.min_duration.is_none_or(|d| o.duration >= d)
                && req.max_duration.is_none_or(|d| o.duration <= d)
                && (req.reserved_instances_offering_ids.is_empty()
                    || req
                        .reserved_instances_offering_ids
                        .contains(&o.reserved_instances_offering_id))
        })
        .map(OfferingItem)
        .collect();
    let mut out: Vec<ReservedInstancesOffering> = filters::retain(kept, &req.filters)?
        .into_iter()
        .map(|o| o.0)
        .collect();
    if let Some(n) = req.max_results {
        out.truncate(n.max(0) as usize);
    }
    Ok(DescribeReservedInstancesOfferingsResult {
        reserved_instances_offerings: out,
    })
}

/// `PurchaseReservedInstancesOffering`: the term starts now; billing charges the upfront
/// fee at once and the recurring fee every hour of the term, and covers matching usage.
pub fn purchase_reserved_instances_offering(
    store: &mut Store,
    req: &PurchaseReservedInstancesOfferingRequest,
) -> Result<PurchaseReservedInstancesOfferingResult, Ec2Error> {
    if !(1..=20).contains(&req.instance_count) {
        return Err(Ec2Error::invalid_parameter(format!(
            "Value ({}) for parameter InstanceCount is invalid: from 1 to 20",
            req.instance_count
        )));
    }
    let p = region_prices(store)?;
    let Some(o) = offerings(&p, store.region())
        .into_iter()
        .find(|o| o.reserved_instances_offering_id == req.reserved_instances_offering_id)
    else {
        return Err(Ec2Error::new(
            "InvalidReservedInstancesOfferingId",
            format!(
                "The Reserved Instances offering {} does not exist; see describe-reserved-instances-offerings",
                req.reserved_instances_offering_id
            ),
        ));
    };
    let id = crate::ids::uuid();
    let hourly = o.recurring_charges.first().map_or(0.0, |c| c.amount);
    store.write(|tx| -> Result<(), Ec2Error> {
        tx.execute(
            "INSERT INTO reserved_instances (reserved_id, offering_id, instance_type, count,
               start_ms, duration_s, fixed_price, usage_price, offering_type, offering_class,
               product)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                id,
                o.reserved_instances_offering_id,
                o.instance_type,
                req.instance_count,
                now_ms(),
                o.duration,
                o.fixed_price,
                hourly,
                o.offering_type,
                o.offering_class,
                o.product_description
            ],
        )?;
        Ok(())
    })?;
    Ok(PurchaseReservedInstancesOfferingResult {
        reserved_instances_id: id,
    })
}

struct Bought(ReservedInstances);

impl Filterable for Bought {
    const FILTERS: &'static [&'static str] = &[
        "instance-type",
        "state",
        "reserved-instances-id",
        "duration",
        "offering-type",
        "product-description",
        "scope",
    ];

    fn filter_values(&self, name: &str) -> Vec<String> {
        let r = &self.0;
        vec![match name {
            "instance-type" => r.instance_type.clone(),
            "state" => r.state.clone(),
            "reserved-instances-id" => r.reserved_instances_id.clone(),
            "duration" => r.duration.to_string(),
            "offering-type" => r.offering_type.clone(),
            "product-description" => r.product_description.clone(),
            "scope" => r.scope.clone(),
            _ => return Vec::new(),
        }]
    }

    fn tags(&self) -> &[Tag] {
        &self.0.tags
    }
}

/// `DescribeReservedInstances`.
pub fn describe_reserved_instances(
    store: &Store,
    req: &DescribeReservedInstancesRequest,
) -> Result<DescribeReservedInstancesResult, Ec2Error> {
    let mut stmt = store.conn().prepare(
        "SELECT reserved_id, instance_type, count, start_ms, duration_s, fixed_price,
           usage_price, offering_type, offering_class, product
         FROM reserved_instances ORDER BY start_ms, reserved_id",
    )?;
    let now = now_ms();
    let rows = stmt.query_map([], |r| {
        let start: i64 = r.get(3)?;
        let duration: i64 = r.get(4)?;
        let end = start + duration * 1000;
        Ok(ReservedInstances {
            currency_code: "USD".into(),
            instance_tenancy: "default".into(),
            offering_class: r.get(8)?,
            offering_type: r.get(7)?,
            recurring_charges: vec![RecurringCharge {
                amount: r.get(6)?,
                frequency: "Hourly".into(),
            }],
            scope: "Region".into(),
            tags: Vec::new(),
            reserved_instances_id: r.get(0)?,
            instance_type: r.get(1)?,
            start: iso_ms(start),
            end: iso_ms(end),
            duration,
            usage_price: 0.0,
            fixed_price: r.get(5)?,
            instance_count: r.get(2)?,
            product_description: r.get(9)?,
            state: if now < end { "active" } else { "retired" }.into(),
        })
    })?;
    let all: Vec<ReservedInstances> = rows.collect::<Result<_, _>>()?;
    for id in &req.reserved_instances_ids {
        if !all.iter().any(|r| &r.reserved_instances_id == id) {
            return Err(Ec2Error::new(
                "InvalidReservedInstancesId",
                format!("The Reserved Instances ID '{id}' does not exist"),
            ));
        }
    }
    let kept: Vec<Bought> = all
        .into_iter()
        .filter(|r| {
            (req.reserved_instances_ids.is_empty()
                || req
                    .reserved_instances_ids
                    .contains(&r.reserved_instances_id))
                && req
                    .offering_type
                    .as_ref()
                    .is_none_or(|t| &r.offering_type == t)
                && req
                    .offering_class
                    .as_ref()
                    .is_none_or(|c| &r.offering_class == c)
        })
        .map(Bought)
        .collect();
    Ok(DescribeReservedInstancesResult {
        reserved_instances: filters::retain(kept, &req.filters)?
            .into_iter()
            .map(|b| b.0)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offerings_come_from_the_price_table() {
        let p = Prices::load(std::path::Path::new("/nonexistent")).unwrap();
        let all = offerings(p.region("lab-1"), "lab-1");
        let o = all
            .iter()
            .find(|o| {
                o.instance_type == "m5.large"
                    && o.duration == YEAR_S
                    && o.offering_type == "All Upfront"
            })
            .unwrap();
        // 0.096 * 0.675 * 8760 hours = 567.648 -> $567.65 up front, nothing hourly.
        assert_eq!(o.fixed_price, 567.65);
        assert_eq!(o.recurring_charges[0].amount, 0.0);
        let ids: std::collections::BTreeSet<_> = all
            .iter()
            .map(|o| o.reserved_instances_offering_id.clone())
            .collect();
        assert_eq!(ids.len(), all.len(), "ids are unique");
        assert_eq!(
            offering_id("lab-1", "m5.large", YEAR_S, "All Upfront"),
            o.reserved_instances_offering_id
        );
    }
}
