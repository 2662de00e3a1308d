//! Compute Savings Plans as billing constructs (the `savingsplans` service, API
//! 2019-06-28): offerings made from the price table (1 and 3 years, No/Partial/All
//! Upfront), `CreateSavingsPlan`, `DescribeSavingsPlans`, and the records billing applies
//! hour by hour after Reserved Instances ([`super::cost`]).

use std::collections::BTreeMap;

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use super::cost::SavingsPlan as Plan;
use super::prices::{Prices, RegionPrices};
use crate::clock::{iso_ms, now_ms};
use crate::error::Ec2Error;
use crate::ids::OWNER_ID;
use crate::store::Store;

const YEAR_S: i64 = 31_536_000;
const TERMS: &[(i64, &str)] = &[(YEAR_S, "1yr"), (3 * YEAR_S, "3yr")];
const PAYMENTS: &[&str] = &["No Upfront", "Partial Upfront", "All Upfront"];

/// `SavingsPlanOffering` (its members in the model's camelCase).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SavingsPlanOffering {
    /// Its id.
    pub offering_id: String,
    /// `EC2`.
    pub product_types: Vec<String>,
    /// `Compute`.
    pub plan_type: String,
    /// What it is.
    pub description: String,
    /// The payment option.
    pub payment_option: String,
    /// The term in seconds.
    pub duration_seconds: i64,
    /// `USD`.
    pub currency: String,
    /// `ComputeSavingsPlans`.
    pub service_code: String,
    /// `ComputeSP:1yrNoUpfront`, ...
    pub usage_type: String,
    /// An empty string, as AWS answers for Compute plans.
    pub operation: String,
    /// Properties (none for Compute plans).
    pub properties: Vec<serde_json::Value>,
}

/// `DescribeSavingsPlansOfferings` input (the members ec2lab reads).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeSavingsPlansOfferingsRequest {
    /// Only these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub offering_ids: Vec<String>,
    /// Only these payment options.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub payment_options: Vec<String>,
    /// `EC2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_type: Option<String>,
    /// `Compute`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan_types: Vec<String>,
    /// Terms in seconds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub durations: Vec<i64>,
    /// `USD`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub currencies: Vec<String>,
    /// At most this many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
}

/// `DescribeSavingsPlansOfferings` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeSavingsPlansOfferingsResponse {
    /// The offerings.
    pub search_results: Vec<SavingsPlanOffering>,
}

/// `CreateSavingsPlan` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateSavingsPlanRequest {
    /// The offering.
    pub savings_plan_offering_id: String,
    /// USD per hour, as text.
    pub commitment: String,
    /// For Partial Upfront: what is paid up front (default: half the term's commitment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upfront_payment_amount: Option<String>,
    /// An idempotency token (taken, not kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Tags.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// `CreateSavingsPlan` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateSavingsPlanResponse {
    /// The plan's id.
    pub savings_plan_id: String,
}

/// `SavingsPlan`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SavingsPlanShape {
    /// The offering.
    pub offering_id: String,
    /// Its id.
    pub savings_plan_id: String,
    /// Its ARN.
    pub savings_plan_arn: String,
    /// What it is.
    pub description: String,
    /// When its term began.
    pub start: String,
    /// When it ends.
    pub end: String,
    /// `active` or `retired`.
    pub state: String,
    /// The region it was bought in.
    pub region: String,
    /// `Compute`.
    pub savings_plan_type: String,
    /// The payment option.
    pub payment_option: String,
    /// `EC2`.
    pub product_types: Vec<String>,
    /// `USD`.
    pub currency: String,
    /// USD per hour.
    pub commitment: String,
    /// Paid up front.
    pub upfront_payment_amount: String,
    /// Paid every hour.
    pub recurring_payment_amount: String,
    /// The term in seconds.
    pub term_duration_in_seconds: i64,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// `DescribeSavingsPlans` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeSavingsPlansRequest {
    /// Only these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub savings_plan_ids: Vec<String>,
    /// Only in these states.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    /// At most this many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
}

/// `DescribeSavingsPlans` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeSavingsPlansResponse {
    /// The plans.
    pub savings_plans: Vec<SavingsPlanShape>,
}

fn validation(message: impl Into<String>) -> Ec2Error {
    Ec2Error::new("ValidationException", message)
}

fn region_prices(store: &Store) -> Result<RegionPrices, Ec2Error> {
    let prices = Prices::load(store.root().parent().unwrap_or(store.root()))?;
    Ok(prices.region(store.region()).clone())
}

fn usage_type(term: &str, payment: &str) -> String {
    format!("ComputeSP:{term}{}", payment.replace(' ', ""))
}

fn offering_id(term: &str, payment: &str) -> String {
    let key = format!("compute/{term}/{payment}");
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

/// Every offering: (offering, rate share).
fn offerings(p: &RegionPrices) -> Vec<(SavingsPlanOffering, f64)> {
    let mut out = Vec::new();
    for &(duration, term) in TERMS {
        let shares = if term == "1yr" {
            &p.savings_plans.one_year
        } else {
            &p.savings_plans.three_year
        };
        for &payment in PAYMENTS {
            let Some(&share) = shares.get(payment) else {
                continue;
            };
            out.push((
                SavingsPlanOffering {
                    offering_id: offering_id(term, payment),
                    product_types: vec!["EC2".into()],
                    plan_type: "Compute".into(),
                    description: format!("{} year {payment} Compute Savings Plan", &term[..1]),
                    payment_option: payment.into(),
                    duration_seconds: duration,
                    currency: "USD".into(),
                    service_code: "ComputeSavingsPlans".into(),
                    usage_type: usage_type(term, payment),
                    operation: String::new(),
                    properties: Vec::new(),
                },
                share,
            ));
        }
    }
    out
}

/// `DescribeSavingsPlansOfferings`.
pub fn describe_savings_plans_offerings(
    store: &Store,
    req: &DescribeSavingsPlansOfferingsRequest,
) -> Result<DescribeSavingsPlansOfferingsResponse, Ec2Error> {
    for p in &req.payment_options {
        if !PAYMENTS.contains(&p.as_str()) {
            return Err(validation(format!(
                "Invalid payment option {p:?}: use No Upfront, Partial Upfront or All Upfront"
            )));
        }
    }
    let mut out: Vec<SavingsPlanOffering> = offerings(&region_prices(store)?)
        .into_iter()
        .map(|(o, _)| o)
        .filter(|o| {
            (req.offering_ids.is_empty() || req.offering_ids.contains(&o.offering_id))
                && (req.payment_options.is_empty()
                    || req.payment_options.contains(&o.payment_option))
                && req.product_type.as_ref().is_none_or(|t| t == "EC2")
                && (req.plan_types.is_empty() || req.plan_types.contains(&o.plan_type))
                && (req.durations.is_empty() || req.durations.contains(&o.duration_seconds))
                && (req.currencies.is_empty() || req.currencies.contains(&o.currency))
        })
        .collect();
    if let Some(n) = req.max_results {
        out.truncate(n.max(0) as usize);
    }
    Ok(DescribeSavingsPlansOfferingsResponse {
        search_results: out,
    })
}

fn money(x: f64) -> String {
    format!("{x:.6}")
}

/// `CreateSavingsPlan`: the term starts now.
pub fn create_savings_plan(
    store: &mut Store,
    req: &CreateSavingsPlanRequest,
) -> Result<CreateSavingsPlanResponse, Ec2Error> {
    let Some((offering, share)) = offerings(&region_prices(store)?)
        .into_iter()
        .find(|(o, _)| o.offering_id == req.savings_plan_offering_id)
    else {
        return Err(Ec2Error::new(
            "ResourceNotFoundException",
            format!(
                "Savings Plan offering {} does not exist; see describe-savings-plans-offerings",
                req.savings_plan_offering_id
            ),
        ));
    };
    let commitment = match req.commitment.trim().parse::<f64>() {
        Ok(c) if c > 0.0 && c.is_finite() => c,
        _ => {
            return Err(validation(format!(
                "Invalid commitment {:?}: USD per hour, such as 0.05",
                req.commitment
            )))
        }
    };
    let hours = (offering.duration_seconds / 3600) as f64;
    let half = region_prices(store)?.savings_plans.partial_upfront_share;
    let (upfront, recurring) = match offering.payment_option.as_str() {
        "All Upfront" => (commitment * hours, 0.0),
        "Partial Upfront" => {
            let up = match &req.upfront_payment_amount {
                Some(a) => a
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| validation(format!("Invalid upfrontPaymentAmount {a:?}")))?,
                None => commitment * hours * half,
            };
            if !(0.0..=commitment * hours).contains(&up) {
                return Err(validation(
                    "upfrontPaymentAmount must be between 0 and the term's commitment",
                ));
            }
            (up, commitment - up / hours)
        }
        _ => (0.0, commitment),
    };
    let id = crate::ids::uuid();
    let now = now_ms();
    let shape = SavingsPlanShape {
        offering_id: offering.offering_id.clone(),
        savings_plan_id: id.clone(),
        savings_plan_arn: format!("arn:aws:savingsplans::{OWNER_ID}:savingsplan/{id}"),
        description: offering.description.clone(),
        start: iso_ms(now),
        end: iso_ms(now + offering.duration_seconds * 1000),
        state: "active".into(),
        region: store.region().into(),
        savings_plan_type: "Compute".into(),
        payment_option: offering.payment_option.clone(),
        product_types: offering.product_types.clone(),
        currency: "USD".into(),
        commitment: money(commitment),
        upfront_payment_amount: money(upfront),
        recurring_payment_amount: money(recurring),
        term_duration_in_seconds: offering.duration_seconds,
        tags: req.tags.clone(),
    };
    let json = serde_json::to_string(&shape).map_err(|e| Ec2Error::internal(e.to_string()))?;
    store.write(|tx| -> Result<(), Ec2Error> {
        tx.execute(
            "INSERT INTO savings_plans (plan_id, plan, start_ms, duration_s, commitment, upfront,
               recurring, rate_share) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id,
                json,
                now,
                offering.duration_seconds,
                commitment,
                upfront,
                recurring,
                share
            ],
        )?;
        Ok(())
    })?;
    Ok(CreateSavingsPlanResponse {
        savings_plan_id: id,
    })
}

fn shapes(c: &Connection) -> Result<Vec<(SavingsPlanShape, Plan)>, Ec2Error> {
    let mut stmt = c.prepare(
        "SELECT plan, plan_id, start_ms, duration_s, commitment, upfront, recurring, rate_share
         FROM savings_plans ORDER BY start_ms, plan_id",
    )?;
    let rows = stmt.query_map([], |r| {
        let start_ms: i64 = r.get(2)?;
        let duration_s: i64 = r.get(3)?;
        Ok((
            r.get::<_, String>(0)?,
            Plan {
                id: r.get(1)?,
                start_ms,
                end_ms: start_ms + duration_s * 1000,
                commitment: r.get(4)?,
                upfront: r.get(5)?,
                recurring: r.get(6)?,
                rate_share: r.get(7)?,
                usage_type: String::new(),
            },
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (json, mut plan) = row?;
        let shape: SavingsPlanShape = serde_json::from_str(&json)
            .map_err(|e| Ec2Error::internal(format!("a Savings Plan record: {e}")))?;
        let term = if shape.term_duration_in_seconds > YEAR_S {
            "3yr"
        } else {
            "1yr"
        };
        plan.usage_type = usage_type(term, &shape.payment_option);
        out.push((shape, plan));
    }
    Ok(out)
}

/// Every Savings Plan bought in the region, as billing applies them.
pub fn plans(c: &Connection) -> Result<Vec<Plan>, Ec2Error> {
    Ok(shapes(c)?.into_iter().map(|(_, p)| p).collect())
}

/// `DescribeSavingsPlans`.
pub fn describe_savings_plans(
    store: &Store,
    req: &DescribeSavingsPlansRequest,
) -> Result<DescribeSavingsPlansResponse, Ec2Error> {
    let now = now_ms();
    let mut out: Vec<SavingsPlanShape> = shapes(store.conn())?
        .into_iter()
        .map(|(mut s, p)| {
            if now >= p.end_ms {
                s.state = "retired".into();
            }
            s
        })
        .filter(|s| {
            (req.savings_plan_ids.is_empty() || req.savings_plan_ids.contains(&s.savings_plan_id))
                && (req.states.is_empty() || req.states.contains(&s.state))
        })
        .collect();
    if let Some(n) = req.max_results {
        out.truncate(n.max(0) as usize);
    }
    Ok(DescribeSavingsPlansResponse { savings_plans: out })
}
