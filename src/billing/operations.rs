//! Cost Explorer's and Savings Plans' operations by name: the one table under `api/ce.rs`
//! and `cli/ce.rs`.
//! A request comes in as the JSON object of the model's member names; it is decoded into
//! its typed shape, the service runs, and its result goes back as JSON of the same names.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::explorer;
use super::savings::{
    self, CreateSavingsPlanRequest, DescribeSavingsPlansOfferingsRequest,
    DescribeSavingsPlansRequest,
};
use super::shapes::GetCostAndUsageRequest;
use crate::ec2::members;
use crate::error::Ec2Error;
use crate::store::Store;

/// The operations served, in the model's names.
pub const OPERATIONS: &[&str] = &["GetCostAndUsage"];

/// The Savings Plans operations served.
pub const SAVINGS_OPERATIONS: &[&str] = &[
    "CreateSavingsPlan",
    "DescribeSavingsPlans",
    "DescribeSavingsPlansOfferings",
];

fn decode<T: DeserializeOwned + Serialize>(input: Value) -> Result<T, Ec2Error> {
    members::decode(input, "", &[]).map_err(|e| match e.code.as_ref() {
        "Unsupported" => Ec2Error::new(
            "ValidationException",
            format!("{}: ec2lab does not do it; leave it out.", e.message),
        ),
        "InternalError" => e,
        _ => Ec2Error::new("ValidationException", e.message),
    })
}

fn encode<T: Serialize>(out: &T) -> Result<Value, Ec2Error> {
    serde_json::to_value(out).map_err(|e| Ec2Error::internal(format!("result to JSON: {e}")))
}

/// Runs `operation` (a name of [`OPERATIONS`]) on the region `store` is for.
pub fn call(store: &mut Store, operation: &str, input: Value) -> Result<Value, Ec2Error> {
    match operation {
        "GetCostAndUsage" => {
            let req: GetCostAndUsageRequest = decode(input)?;
            encode(&explorer::get_cost_and_usage(store, &req)?)
        }
        "CreateSavingsPlan" => {
            let req: CreateSavingsPlanRequest = decode(input)?;
            encode(&savings::create_savings_plan(store, &req)?)
        }
        "DescribeSavingsPlans" => {
            let req: DescribeSavingsPlansRequest = decode(input)?;
            encode(&savings::describe_savings_plans(store, &req)?)
        }
        "DescribeSavingsPlansOfferings" => {
            let req: DescribeSavingsPlansOfferingsRequest = decode(input)?;
            encode(&savings::describe_savings_plans_offerings(store, &req)?)
        }
        other => Err(Ec2Error::new(
            "UnknownOperationException",
            format!("ec2lab does not serve {other}"),
        )),
    }
}

/// botocore's Cost Explorer model (API 2017-10-25), cut down to the served operations
/// (`ce-model.json`, written by `tools/ec2-model/extract.py`), parsed once.
pub fn model() -> &'static crate::ec2::model::Model {
    static MODEL: std::sync::OnceLock<crate::ec2::model::Model> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| crate::ec2::model::Model::parse(include_str!("ce-model.json")))
}

/// botocore's Savings Plans model (API 2019-06-28, REST-JSON), cut down to the served
/// operations (`savingsplans-model.json`), parsed once.
pub fn savings_model() -> &'static crate::ec2::model::Model {
    static MODEL: std::sync::OnceLock<crate::ec2::model::Model> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| crate::ec2::model::Model::parse(include_str!("savingsplans-model.json")))
}
