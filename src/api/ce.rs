//! Cost Explorer's actions on `ec2lab serve` (`ce`, API 2017-10-25, AWS JSON 1.1 with
//! `X-Amz-Target: AWSInsightsIndexService.<Action>`): each handler is one line over
//! [`crate::billing::operations::call`], the table `ec2lab ce` uses too; and Savings Plans'
//! (`savingsplans`, API 2019-06-28, REST-JSON: `POST /<Action>`), the same way.

use serde_json::Value;

use super::actions::{ApiCtx, Handler};
use crate::billing::operations;
use crate::error::Ec2Error;

fn get_cost_and_usage(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    operations::call(&mut ctx.store()?, "GetCostAndUsage", req)
}

/// Cost Explorer's actions and their handlers.
pub const ACTIONS: &[(&str, Handler)] = &[("GetCostAndUsage", get_cost_and_usage)];

fn create_savings_plan(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    operations::call(&mut ctx.store()?, "CreateSavingsPlan", req)
}

fn describe_savings_plans(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    operations::call(&mut ctx.store()?, "DescribeSavingsPlans", req)
}

fn describe_savings_plans_offerings(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    operations::call(&mut ctx.store()?, "DescribeSavingsPlansOfferings", req)
}

/// Savings Plans' actions and their handlers.
pub const SAVINGS_ACTIONS: &[(&str, Handler)] = &[
    ("CreateSavingsPlan", create_savings_plan),
    ("DescribeSavingsPlans", describe_savings_plans),
    (
        "DescribeSavingsPlansOfferings",
        describe_savings_plans_offerings,
    ),
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_serves_every_operation() {
        let names: Vec<&str> = super::ACTIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, crate::billing::operations::OPERATIONS);
        let names: Vec<&str> = super::SAVINGS_ACTIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, crate::billing::operations::SAVINGS_OPERATIONS);
    }
}
