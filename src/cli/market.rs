//! The purchase-option verbs at the top level, as `aws ec2` has them:
//! `request-spot-instances`, `describe-spot-instance-requests`,
//! `cancel-spot-instance-requests`, `describe-spot-price-history`,
//! `describe-reserved-instances-offerings`, `purchase-reserved-instances-offering`,
//! `describe-reserved-instances`. Their flags are made from EC2's model
//! ([`super::modelverbs`]); each calls the service the API's handler calls.

use clap::{ArgMatches, Command, FromArgMatches, Subcommand};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::awsflags::kebab;
use super::ctx::{to_json, Ctx, Failure};
use super::modelverbs::{self, ModelVerb};
use crate::billing::reserved;
use crate::ec2::model::Model;
use crate::ec2::shapes::market::*;
use crate::instances::spot_requests as spot;

/// The operations, in the model's names.
pub const OPERATIONS: &[&str] = &[
    "RequestSpotInstances",
    "DescribeSpotInstanceRequests",
    "CancelSpotInstanceRequests",
    "DescribeSpotPriceHistory",
    "DescribeReservedInstancesOfferings",
    "PurchaseReservedInstancesOffering",
    "DescribeReservedInstances",
];

/// One purchase-option verb and its raw flags.
#[derive(Clone, Debug)]
pub struct Market {
    /// The operation and its flag values.
    pub verb: ModelVerb,
}

impl Market {
    /// The operation, for error messages.
    pub fn operation(&self) -> &'static str {
        self.verb.operation_in(OPERATIONS)
    }
}

fn model() -> &'static Model {
    Model::get()
}

impl FromArgMatches for Market {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let verb = modelverbs::from_matches(model(), matches)
            .filter(|v| OPERATIONS.contains(&v.operation.as_str()))
            .ok_or_else(|| {
                clap::Error::raw(
                    clap::error::ErrorKind::InvalidSubcommand,
                    "not a purchase-option verb\n",
                )
            })?;
        Ok(Market { verb })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for Market {
    fn augment_subcommands(cmd: Command) -> Command {
        OPERATIONS.iter().fold(cmd, |cmd, op| {
            cmd.subcommand(modelverbs::verb_command(model(), op))
        })
    }

    fn augment_subcommands_for_update(cmd: Command) -> Command {
        Self::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        OPERATIONS.iter().any(|op| kebab(op) == name)
    }
}

fn decode<T: DeserializeOwned + Serialize>(input: Value) -> Result<T, Failure> {
    Ok(crate::ec2::members::decode(
        input,
        "",
        &["DryRun", "ClientToken"],
    )?)
}

/// Runs one purchase-option verb.
pub fn run(ctx: &Ctx, a: Market) -> Result<Value, Failure> {
    let input = modelverbs::input(model(), &a.verb)?;
    // The model's own --dry-run flag (these verbs' flags come from the model).
    let dry_run = ctx.dry_run || input.get("DryRun") == Some(&Value::Bool(true));
    let ctx = &Ctx {
        state_dir: ctx.state_dir.clone(),
        region: ctx.region.clone(),
        dry_run,
    };
    let mut store = ctx.store()?;
    match a.verb.operation.as_str() {
        "RequestSpotInstances" => {
            let r: RequestSpotInstancesRequest = decode(input)?;
            ctx.answer_dry_run(&r)?;
            to_json(&crate::instances::spot_launch::request_spot_instances(
                &mut store, &r,
            )?)
        }
        "DescribeSpotInstanceRequests" => {
            let r: DescribeSpotInstanceRequestsRequest = decode(input)?;
            ctx.answer_dry_run(&r)?;
            to_json(&spot::describe_spot_instance_requests(&store, &r)?)
        }
        "CancelSpotInstanceRequests" => {
            let r: CancelSpotInstanceRequestsRequest = decode(input)?;
            ctx.answer_dry_run(&r)?;
            to_json(&spot::cancel_spot_instance_requests(&mut store, &r)?)
        }
        "DescribeSpotPriceHistory" => {
            let r: DescribeSpotPriceHistoryRequest = decode(input)?;
            ctx.answer_dry_run(&r)?;
            to_json(&spot::describe_spot_price_history(&mut store, &r)?)
        }
        "DescribeReservedInstancesOfferings" => {
            let r: DescribeReservedInstancesOfferingsRequest = decode(input)?;
            ctx.answer_dry_run(&r)?;
            to_json(&reserved::describe_reserved_instances_offerings(
                &store, &r,
            )?)
        }
        "PurchaseReservedInstancesOffering" => {
            let r: PurchaseReservedInstancesOfferingRequest = decode(input)?;
            ctx.answer_dry_run(&r)?;
            to_json(&reserved::purchase_reserved_instances_offering(
                &mut store, &r,
            )?)
        }
        "DescribeReservedInstances" => {
            let r: DescribeReservedInstancesRequest = decode(input)?;
            ctx.answer_dry_run(&r)?;
            to_json(&reserved::describe_reserved_instances(&store, &r)?)
        }
        other => Err(Failure::Param(format!("unknown verb {other}"))),
    }
}
