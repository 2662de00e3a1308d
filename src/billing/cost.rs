//! EC2's billing rules over usage records: line items per time bucket.
//!
//! - Instances (Linux): per second, with a minimum of one minute each time an instance
//!   enters `running`; stopped instances cost nothing (they have no open record).
//!   On-demand at the table's hourly price; spot at the spot price in effect, second by
//!   second.
//! - Reserved Instances: in each clock hour, an RI of count N covers up to N instance-hours
//!   of on-demand usage of its type in the region; covered usage costs nothing unblended
//!   (the RI's fees pay for it): the upfront fee is charged when bought, the recurring fee
//!   every hour of the term, used or not. Amortized, the upfront fee is spread over the
//!   term's hours, and covered usage and unused RI hours carry the effective rate.
//! - EBS volumes: provisioned GiB-month, prorated by the second over the days of the
//!   calendar month (EBS's own worked example); snapshots likewise by stored GiB.
//! - Public IPv4 addresses, in use or idle (Elastic IPs not associated), per hour.

use std::collections::BTreeMap;

use super::prices::RegionPrices;
use super::usage::{Kind, Purchase, Record};
use crate::clock::{civil_from_days, days_from_civil};

const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;
/// Bytes in a GiB (snapshot storage is billed per GB of 2^30 bytes).
const GIB: f64 = 1_073_741_824.0;

/// A Reserved Instance as billing sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reservation {
    /// Its id.
    pub id: String,
    /// The instance type it covers.
    pub instance_type: String,
    /// How many instances.
    pub count: i64,
    /// Its term, `[start_ms, end_ms)`.
    pub start_ms: i64,
    /// The term's end.
    pub end_ms: i64,
    /// The upfront fee for all `count`.
    pub fixed_price: f64,
    /// The recurring fee per instance-hour.
    pub usage_price: f64,
}

impl Reservation {
    /// The effective cost of one instance-hour: the upfront fee spread over the term, plus
    /// the recurring fee.
    pub fn effective_hourly(&self) -> f64 {
        let hours = ((self.end_ms - self.start_ms) as f64 / HOUR_MS as f64).max(1.0);
        self.fixed_price / self.count.max(1) as f64 / hours + self.usage_price
    }
}

/// A Compute Savings Plan as billing sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct SavingsPlan {
    /// Its id.
    pub id: String,
    /// Its term, `[start_ms, end_ms)`.
    pub start_ms: i64,
    /// The term's end.
    pub end_ms: i64,
    /// USD per hour of usage at the plan's rates, committed for every hour of the term.
    pub commitment: f64,
    /// Paid when bought.
    pub upfront: f64,
    /// Paid every hour of the term.
    pub recurring: f64,
    /// The plan's rate as a share of on-demand.
    pub rate_share: f64,
    /// Its fees' usage type (`ComputeSP:1yrNoUpfront`).
    pub usage_type: String,
}

/// The spot price of each instance type over time, `(since_ms, price)` ascending.
pub type SpotHistory = BTreeMap<String, Vec<(i64, f64)>>;

/// Everything billing knows, for one region.
pub struct Inputs<'a> {
    /// The region (its name goes in `REGION`).
    pub region: &'a str,
    /// Its prices.
    pub prices: &'a RegionPrices,
    /// The usage records.
    pub records: &'a [Record],
    /// The Reserved Instances.
    pub reservations: &'a [Reservation],
    /// The Savings Plans.
    pub savings_plans: &'a [SavingsPlan],
    /// The spot price history.
    pub spot: &'a SpotHistory,
    /// Now: where open records end.
    pub now_ms: i64,
}

/// What a line item is, in Cost Explorer's dimensions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dims {
    /// `SERVICE`.
    pub service: &'static str,
    /// `INSTANCE_TYPE` (`NoInstanceType` for what is not an instance).
    pub instance_type: String,
    /// `USAGE_TYPE` (`BoxUsage:t2.micro`, `EBS:VolumeUsage.gp3`, ...).
    pub usage_type: String,
    /// `PURCHASE_TYPE`.
    pub purchase_type: &'static str,
    /// `RECORD_TYPE`: `Usage`, `DiscountedUsage`, `Fee`, `RIFee`.
    pub record_type: &'static str,
    /// `RESOURCE_ID`.
    pub resource_id: String,
}

/// One priced piece of usage in one bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct LineItem {
    /// The bucket's index.
    pub bucket: usize,
    /// What it is.
    pub dims: Dims,
    /// Unblended cost (what the bill says for this piece).
    pub unblended: f64,
    /// Amortized cost.
    pub amortized: f64,
    /// Usage in its unit: hours, GiB-months, or 0 for fees.
    pub quantity: f64,
}

/// The calendar month's length in ms around `ms`.
pub fn month_ms(ms: i64) -> i64 {
    let (y, m, _) = civil_from_days(ms.div_euclid(86_400_000));
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) * 86_400_000
}

/// The start of the calendar month after the one `ms` is in.
pub fn next_month_ms(ms: i64) -> i64 {
    let (y, m, _) = civil_from_days(ms.div_euclid(86_400_000));
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    days_from_civil(ny, nm, 1) * 86_400_000
}

/// `[a, b)` cut at every clock hour and bucket boundary: `(bucket, from, to)`.
fn slices(buckets: &[(i64, i64)], a: i64, b: i64, hourly: bool) -> Vec<(usize, i64, i64)> {
    let mut out = Vec::new();
    for (i, &(bs, be)) in buckets.iter().enumerate() {
        let (mut s, e) = (a.max(bs), b.min(be));
        while s < e {
            let cut = if hourly {
                ((s.div_euclid(HOUR_MS) + 1) * HOUR_MS).min(e)
            } else {
                next_month_ms(s).min(e)
            };
            out.push((i, s, cut));
            s = cut;
        }
    }
    out
}

/// The cost of `[s, e)` of spot usage of `ty`: the price in effect, second by second
/// (before the first price on record, the first one).
fn spot_cost(history: Option<&Vec<(i64, f64)>>, fallback: f64, s: i64, e: i64) -> f64 {
    let Some(h) = history.filter(|h| !h.is_empty()) else {
        return fallback * (e - s) as f64 / HOUR_MS as f64;
    };
    let mut cost = 0.0;
    for (i, &(since, price)) in h.iter().enumerate() {
        let from = if i == 0 { i64::MIN } else { since };
        let to = h.get(i + 1).map_or(i64::MAX, |n| n.0);
        let (a, b) = (s.max(from), e.min(to));
        if a < b {
            cost += price * (b - a) as f64 / HOUR_MS as f64;
        }
    }
    cost
}

fn prefixed(p: &RegionPrices, usage: &str) -> String {
    format!("{}{usage}", p.usage_type_prefix)
}

/// The line items of `buckets` (`[start, end)` in ms, ascending, not overlapping).
pub fn line_items(inp: &Inputs<'_>, buckets: &[(i64, i64)]) -> Vec<LineItem> {
    let p = inp.prices;
    let mut out = Vec::new();
    // Instance-hours each RI still has, by (reservation, hour start).
    let mut ri_left: BTreeMap<(usize, i64), i64> = BTreeMap::new();
    // Commitment (USD) each Savings Plan still has, by (plan, hour start).
    let mut sp_left: BTreeMap<(usize, i64), f64> = BTreeMap::new();
    for r in inp.records {
        let mut end = r.end_ms.unwrap_or(inp.now_ms.max(r.start_ms));
        if r.kind == Kind::Instance {
            // Linux: at least one minute each time it enters running.
            end = end.max(r.start_ms + MINUTE_MS);
        }
        let hourly = r.kind == Kind::Instance;
        for (bucket, s, e) in slices(buckets, r.start_ms, end, hourly) {
            let ms = (e - s) as f64;
            let hours = ms / HOUR_MS as f64;
            let mut dims = Dims {
                service: "EC2 - Other",
                instance_type: "NoInstanceType".into(),
                usage_type: String::new(),
                purchase_type: "On Demand Instances",
                record_type: "Usage",
                resource_id: r.resource_id.clone(),
            };
            match r.kind {
                Kind::Instance => {
                    dims.service = "Amazon Elastic Compute Cloud - Compute";
                    dims.instance_type = r.usage_type.clone();
                    let rate = p.instances.get(&r.usage_type).copied().unwrap_or(0.0);
                    if r.purchase == Purchase::Spot {
                        dims.usage_type = prefixed(p, &format!("SpotUsage:{}", r.usage_type));
                        dims.purchase_type = "Spot Instances";
                        let fallback = rate * p.spot.floor;
                        let cost = spot_cost(inp.spot.get(&r.usage_type), fallback, s, e);
                        out.push(item(bucket, dims, cost, cost, hours));
                        continue;
                    }
                    dims.usage_type = prefixed(p, &format!("BoxUsage:{}", r.usage_type));
                    // Reserved Instances of the type cover what they can of this hour.
                    let hour = s.div_euclid(HOUR_MS) * HOUR_MS;
                    let mut left_ms = e - s;
                    for (ri_index, ri) in inp.reservations.iter().enumerate() {
                        if left_ms == 0 || ri.instance_type != r.usage_type {
                            continue;
                        }
                        if !(ri.start_ms <= s && s < ri.end_ms) {
                            continue;
                        }
                        let cap = ri_left
                            .entry((ri_index, hour))
                            .or_insert(ri.count * HOUR_MS);
                        let take = left_ms.min(*cap);
                        if take == 0 {
                            continue;
                        }
                        *cap -= take;
                        left_ms -= take;
                        let h = take as f64 / HOUR_MS as f64;
                        let mut d = dims.clone();
                        d.purchase_type = "Standard Reserved Instances";
                        d.record_type = "DiscountedUsage";
                        out.push(item(bucket, d, 0.0, ri.effective_hourly() * h, h));
                    }
                    // Then Savings Plans, at their rates, up to each hour's commitment.
                    for (sp_index, sp) in inp.savings_plans.iter().enumerate() {
                        if left_ms == 0 || !(sp.start_ms <= s && s < sp.end_ms) {
                            continue;
                        }
                        let sp_rate = rate * sp.rate_share;
                        if sp_rate <= 0.0 {
                            continue;
                        }
                        let budget = sp_left.entry((sp_index, hour)).or_insert(sp.commitment);
                        let afford = (*budget / sp_rate * HOUR_MS as f64).floor() as i64;
                        let take = left_ms.min(afford.max(0));
                        if take == 0 {
                            continue;
                        }
                        let h = take as f64 / HOUR_MS as f64;
                        *budget -= sp_rate * h;
                        left_ms -= take;
                        let mut d = dims.clone();
                        d.record_type = "SavingsPlanCoveredUsage";
                        out.push(item(bucket, d.clone(), rate * h, sp_rate * h, h));
                        d.record_type = "SavingsPlanNegation";
                        d.resource_id = sp.id.clone();
                        out.push(item(bucket, d, -rate * h, 0.0, 0.0));
                    }
                    if left_ms > 0 {
                        let h = left_ms as f64 / HOUR_MS as f64;
                        out.push(item(bucket, dims, rate * h, rate * h, h));
                    }
                }
                Kind::Volume => {
                    let suffix = match r.usage_type.as_str() {
                        "standard" => String::new(),
                        t => format!(".{t}"),
                    };
                    dims.usage_type = prefixed(p, &format!("EBS:VolumeUsage{suffix}"));
                    let gib_months = r.quantity * ms / month_ms(s) as f64;
                    let cost = p.ebs(&r.usage_type) * gib_months;
                    out.push(item(bucket, dims, cost, cost, gib_months));
                }
                Kind::Snapshot => {
                    dims.usage_type = prefixed(p, "EBS:SnapshotUsage");
                    let gib_months = r.quantity / GIB * ms / month_ms(s) as f64;
                    let cost = p.snapshot_gib_month * gib_months;
                    out.push(item(bucket, dims, cost, cost, gib_months));
                }
                Kind::AddressIdle | Kind::AddressInUse => {
                    dims.service = "Amazon Virtual Private Cloud";
                    dims.usage_type = prefixed(
                        p,
                        if r.kind == Kind::AddressIdle {
                            "PublicIPv4:IdleAddress"
                        } else {
                            "PublicIPv4:InUseAddress"
                        },
                    );
                    let cost = p.public_ipv4_hour * hours;
                    out.push(item(bucket, dims, cost, cost, hours));
                }
            }
        }
    }
    reservation_fees(inp, buckets, &ri_left, &mut out);
    savings_plan_fees(inp, buckets, &sp_left, &mut out);
    out
}

/// Each Savings Plan's upfront fee (when bought) and recurring fee (every hour of its
/// term); amortized, the commitment no usage took.
fn savings_plan_fees(
    inp: &Inputs<'_>,
    buckets: &[(i64, i64)],
    left: &BTreeMap<(usize, i64), f64>,
    out: &mut Vec<LineItem>,
) {
    for (sp_index, sp) in inp.savings_plans.iter().enumerate() {
        let dims = Dims {
            service: "Savings Plans for AWS Compute usage",
            instance_type: "NoInstanceType".into(),
            usage_type: sp.usage_type.clone(),
            purchase_type: "Savings Plans",
            record_type: "SavingsPlanRecurringFee",
            resource_id: sp.id.clone(),
        };
        upfront_fee(
            buckets,
            sp.start_ms,
            &dims,
            "SavingsPlanUpfrontFee",
            sp.upfront,
            out,
        );
        let end = sp.end_ms.min(inp.now_ms.max(sp.start_ms));
        for (bucket, s, e) in slices(buckets, sp.start_ms, end, true) {
            let hour = s.div_euclid(HOUR_MS) * HOUR_MS;
            let share = (e - s) as f64 / HOUR_MS as f64;
            let unused = left
                .get(&(sp_index, hour))
                .copied()
                .unwrap_or(sp.commitment)
                .min(sp.commitment * share);
            out.push(item(
                bucket,
                dims.clone(),
                sp.recurring * share,
                unused,
                0.0,
            ));
        }
    }
}

/// A commitment's upfront fee, as one line item in the bucket it was bought in (none when
/// it has no upfront part or was bought outside the period).
fn upfront_fee(
    buckets: &[(i64, i64)],
    bought_ms: i64,
    dims: &Dims,
    record_type: &'static str,
    amount: f64,
    out: &mut Vec<LineItem>,
) {
    if amount <= 0.0 {
        return;
    }
    if let Some(b) = buckets
        .iter()
        .position(|&(s, e)| s <= bought_ms && bought_ms < e)
    {
        let mut d = dims.clone();
        d.record_type = record_type;
        out.push(item(b, d, amount, 0.0, 0.0));
    }
}

/// Each RI's upfront fee (when bought) and recurring fee (every hour of its term); the
/// amortized cost of the hours no usage took.
fn reservation_fees(
    inp: &Inputs<'_>,
    buckets: &[(i64, i64)],
    used: &BTreeMap<(usize, i64), i64>,
    out: &mut Vec<LineItem>,
) {
    let p = inp.prices;
    for (ri_index, ri) in inp.reservations.iter().enumerate() {
        let dims = Dims {
            service: "Amazon Elastic Compute Cloud - Compute",
            instance_type: ri.instance_type.clone(),
            usage_type: prefixed(p, &format!("HeavyUsage:{}", ri.instance_type)),
            purchase_type: "Standard Reserved Instances",
            record_type: "RIFee",
            resource_id: ri.id.clone(),
        };
        upfront_fee(buckets, ri.start_ms, &dims, "Fee", ri.fixed_price, out);
        let end = ri.end_ms.min(inp.now_ms.max(ri.start_ms));
        for (bucket, s, e) in slices(buckets, ri.start_ms, end, true) {
            let hour = s.div_euclid(HOUR_MS) * HOUR_MS;
            let full = ri.count * (e - s);
            let left = used
                .get(&(ri_index, hour))
                .copied()
                .unwrap_or(ri.count * HOUR_MS)
                .min(full);
            let recurring = ri.usage_price * full as f64 / HOUR_MS as f64;
            let unused = ri.effective_hourly() * left as f64 / HOUR_MS as f64;
            out.push(item(bucket, dims.clone(), recurring, unused, 0.0));
        }
    }
}

fn item(bucket: usize, dims: Dims, unblended: f64, amortized: f64, quantity: f64) -> LineItem {
    LineItem {
        bucket,
        dims,
        unblended,
        amortized,
        quantity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::prices::Prices;

    const DAY: i64 = 86_400_000;
    /// 2026-12-01T00:00:00Z.
    const DEC1: i64 = 1_796_083_200_000;

    fn rec(kind: Kind, ty: &str, qty: f64, start: i64, end: Option<i64>) -> Record {
        Record {
            resource_id: "r".into(),
            kind,
            usage_type: ty.into(),
            purchase: Purchase::OnDemand,
            quantity: qty,
            start_ms: start,
            end_ms: end,
        }
    }

    fn total(records: &[Record], ris: &[Reservation], now: i64) -> (f64, f64) {
        total_with(records, ris, &[], now)
    }

    fn total_with(
        records: &[Record],
        ris: &[Reservation],
        sps: &[SavingsPlan],
        now: i64,
    ) -> (f64, f64) {
        let prices = Prices::load(std::path::Path::new("/nonexistent")).unwrap();
        let inp = Inputs {
            region: "lab-1",
            prices: prices.region("lab-1"),
            records,
            reservations: ris,
            savings_plans: sps,
            spot: &SpotHistory::new(),
            now_ms: now,
        };
        let items = line_items(&inp, &[(DEC1, DEC1 + 31 * DAY)]);
        (
            items.iter().map(|i| i.unblended).sum(),
            items.iter().map(|i| i.amortized).sum(),
        )
    }

    fn cents(x: f64) -> i64 {
        (x * 100.0).round() as i64
    }

    #[test]
    fn december_1_2026_is_what_the_constant_says() {
        assert_eq!(days_from_civil(2026, 12, 1) * DAY, DEC1);
        assert_eq!(month_ms(DEC1 + 5 * DAY), 31 * DAY);
    }

    #[test]
    fn instances_bill_per_second_with_a_minute_minimum() {
        // 10 s of m5.large is billed as 60 s: 0.096 / 60 = $0.0016.
        let (c, _) = total(
            &[rec(
                Kind::Instance,
                "m5.large",
                1.0,
                DEC1,
                Some(DEC1 + 10_000),
            )],
            &[],
            DEC1 + DAY,
        );
        assert!((c - 0.0016).abs() < 1e-12, "{c}");
        // 100 hours and 30 minutes of m5.large: 100.5 * 0.096 = $9.648 -> $9.65.
        let end = DEC1 + 100 * HOUR_MS + 30 * MINUTE_MS;
        let (c, _) = total(
            &[rec(Kind::Instance, "m5.large", 1.0, DEC1, Some(end))],
            &[],
            DEC1 + 10 * DAY,
        );
        assert_eq!(cents(c), 965);
        // Two starts of 30 s each: two minimums.
        let (c, _) = total(
            &[
                rec(Kind::Instance, "t2.micro", 1.0, DEC1, Some(DEC1 + 30_000)),
                rec(
                    Kind::Instance,
                    "t2.micro",
                    1.0,
                    DEC1 + HOUR_MS,
                    Some(DEC1 + HOUR_MS + 30_000),
                ),
            ],
            &[],
            DEC1 + DAY,
        );
        assert!((c - 2.0 * 0.0116 / 60.0).abs() < 1e-12, "{c}");
    }

    #[test]
    fn ebs_bills_provisioned_gib_months_over_the_days_of_the_month() {
        // EBS's example, at gp2's $0.10: 2000 GiB for 12 hours of a 31-day month.
        let (c, _) = total(
            &[rec(
                Kind::Volume,
                "gp2",
                2000.0,
                DEC1,
                Some(DEC1 + 12 * HOUR_MS),
            )],
            &[],
            DEC1 + DAY,
        );
        let want = 0.10 * 2000.0 * 43_200.0 / (86_400.0 * 31.0);
        assert!((c - want).abs() < 1e-9, "{c} {want}");
        assert_eq!(cents(c), 323);
    }

    #[test]
    fn a_reserved_instance_covers_an_hour_of_usage_per_hour() {
        // Two t3.micro for 2 hours, one RI of t3.micro (no upfront, $0.0075/h) for the month.
        let ri = Reservation {
            id: "ri".into(),
            instance_type: "t3.micro".into(),
            count: 1,
            start_ms: DEC1,
            end_ms: DEC1 + 365 * DAY,
            fixed_price: 0.0,
            usage_price: 0.0075,
        };
        let recs = [
            rec(
                Kind::Instance,
                "t3.micro",
                1.0,
                DEC1,
                Some(DEC1 + 2 * HOUR_MS),
            ),
            rec(
                Kind::Instance,
                "t3.micro",
                1.0,
                DEC1,
                Some(DEC1 + 2 * HOUR_MS),
            ),
        ];
        let now = DEC1 + 10 * HOUR_MS;
        let (c, a) = total(&recs, std::slice::from_ref(&ri), now);
        // Usage: 2 of the 4 instance-hours on demand; fee: 10 hours of the term.
        let want = 2.0 * 0.0104 + 10.0 * 0.0075;
        assert!((c - want).abs() < 1e-9, "{c} {want}");
        assert!((a - want).abs() < 1e-9, "{a} {want}");
    }

    #[test]
    fn a_savings_plan_buys_usage_at_its_rate_up_to_its_commitment() {
        // $0.05 an hour at 80 % of on-demand; two m5.large ($0.096) for one hour.
        let sp = SavingsPlan {
            id: "sp".into(),
            start_ms: DEC1,
            end_ms: DEC1 + 365 * DAY,
            commitment: 0.05,
            upfront: 0.0,
            recurring: 0.05,
            rate_share: 0.8,
            usage_type: "ComputeSP:1yrNoUpfront".into(),
        };
        let recs = [
            rec(Kind::Instance, "m5.large", 1.0, DEC1, Some(DEC1 + HOUR_MS)),
            rec(Kind::Instance, "m5.large", 1.0, DEC1, Some(DEC1 + HOUR_MS)),
        ];
        let (c, a) = total_with(&recs, &[], std::slice::from_ref(&sp), DEC1 + HOUR_MS);
        // The plan pays for 0.05 / 0.0768 hours; the rest is on demand, plus the fee.
        let covered = 0.05 / (0.096 * 0.8);
        let want = 0.05 + (2.0 - covered) * 0.096;
        assert!((c - want).abs() < 1e-6, "{c} {want}");
        assert!((a - want).abs() < 1e-6, "{a} {want}");
        assert_eq!(cents(c), 18);
    }
}
