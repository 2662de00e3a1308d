//! Auto Scaling's actions on `ec2lab serve` (`autoscaling`, API 2011-01-01, awsQuery): the
//! codec hands a handler the request as a JSON object of the model's member names
//! (`src/autoscaling/autoscaling-model.json`), and each handler is one line over
//! [`crate::autoscaling::operations::call`], the operation table `ec2lab autoscaling` uses
//! too.

use serde_json::Value;

use super::actions::{ApiCtx, Handler};
use crate::autoscaling::operations;
use crate::error::Ec2Error;

macro_rules! autoscaling_actions {
    ($($name:ident => $op:literal),* $(,)?) => {
        $(
            fn $name(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
                operations::call(&mut ctx.tidy_store()?, $op, req)
            }
        )*
        /// Auto Scaling's actions and their handlers.
        pub const ACTIONS: &[(&str, Handler)] = &[$(($op, $name)),*];
    };
}

autoscaling_actions! {
    create_auto_scaling_group => "CreateAutoScalingGroup",
    describe_auto_scaling_groups => "DescribeAutoScalingGroups",
    describe_auto_scaling_instances => "DescribeAutoScalingInstances",
    update_auto_scaling_group => "UpdateAutoScalingGroup",
    set_desired_capacity => "SetDesiredCapacity",
    delete_auto_scaling_group => "DeleteAutoScalingGroup",
    describe_scaling_activities => "DescribeScalingActivities",
    put_scaling_policy => "PutScalingPolicy",
    describe_policies => "DescribePolicies",
    delete_policy => "DeletePolicy",
    execute_policy => "ExecutePolicy",
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_serves_every_operation() {
        let names: Vec<&str> = super::ACTIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, crate::autoscaling::operations::OPERATIONS);
    }
}
