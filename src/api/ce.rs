//! Cost Explorer's actions on `ec2lab serve` (`ce`, API 2017-10-25, AWS JSON 1.1 with
//! `X-Amz-Target: AWSInsightsIndexService.<Action>`): each handler is one line over
//! [`crate::billing::operations::call`], the table `ec2lab ce` uses too.

use serde_json::Value;

use super::actions::{ApiCtx, Handler};
use crate::billing::operations;
use crate::error::Ec2Error;

fn get_cost_and_usage(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    operations::call(&mut ctx.store()?, "GetCostAndUsage", req)
}

/// Cost Explorer's actions and their handlers.
pub const ACTIONS: &[(&str, Handler)] = &[("GetCostAndUsage", get_cost_and_usage)];

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_serves_every_operation() {
        let names: Vec<&str> = super::ACTIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, crate::billing::operations::OPERATIONS);
    }
}
