//! Auto Scaling's operations by name: the one table both front ends use (`ec2lab serve`'s
//! handlers and `ec2lab autoscaling`'s verbs). A request comes in as the JSON object of
//! the model's member names, is decoded into its typed shape, the service function runs,
//! and its result goes back as JSON of the same names (an empty object for the actions
//! that answer nothing).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::shapes::*;
use super::{activities, groups, policies, validation};
use crate::ec2::members;
use crate::error::Ec2Error;
use crate::store::Store;

/// The operations served, in the model's names.
pub const OPERATIONS: &[&str] = &[
    "CreateAutoScalingGroup",
    "DescribeAutoScalingGroups",
    "DescribeAutoScalingInstances",
    "UpdateAutoScalingGroup",
    "SetDesiredCapacity",
    "DeleteAutoScalingGroup",
    "DescribeScalingActivities",
    "PutScalingPolicy",
    "DescribePolicies",
    "DeletePolicy",
    "ExecutePolicy",
];

/// The typed request: a wrong type, or a member of the model ec2lab's Auto Scaling does
/// not do (mixed instances, load balancers, warm pools, ...), is `ValidationError`, naming it.
fn decode<T: DeserializeOwned + Serialize>(input: Value) -> Result<T, Ec2Error> {
    members::decode(input, "", &[]).map_err(|e| match e.code.as_ref() {
        "Unsupported" => validation(format!(
            "{}: ec2lab's Auto Scaling does not do it; leave it out.",
            e.message
        )),
        "InternalError" => e,
        _ => validation(format!("Invalid parameter: {}", e.message)),
    })
}

fn encode<T: Serialize>(out: &T) -> Result<Value, Ec2Error> {
    serde_json::to_value(out).map_err(|e| Ec2Error::internal(format!("result to JSON: {e}")))
}

fn done(_: ()) -> Value {
    Value::Object(Default::default())
}

/// Runs `operation` (a name of [`OPERATIONS`]) on the region `store` is for.
pub fn call(store: &mut Store, operation: &str, input: Value) -> Result<Value, Ec2Error> {
    match operation {
        "CreateAutoScalingGroup" => {
            groups::create_auto_scaling_group(store, &decode(input)?).map(done)
        }
        "DescribeAutoScalingGroups" => encode(&groups::describe_auto_scaling_groups(
            store,
            &decode(input)?,
        )?),
        "DescribeAutoScalingInstances" => encode(&groups::describe_auto_scaling_instances(
            store,
            &decode(input)?,
        )?),
        "UpdateAutoScalingGroup" => {
            groups::update_auto_scaling_group(store, &decode(input)?).map(done)
        }
        "SetDesiredCapacity" => groups::set_desired_capacity(store, &decode(input)?).map(done),
        "DeleteAutoScalingGroup" => {
            super::deletion::delete_auto_scaling_group(store, &decode(input)?).map(done)
        }
        "DescribeScalingActivities" => encode(&activities::describe_scaling_activities(
            store,
            &decode(input)?,
        )?),
        "PutScalingPolicy" => {
            let req: PutScalingPolicyType = decode(input)?;
            encode(&policies::put_scaling_policy(store, &req)?)
        }
        "DescribePolicies" => encode(&policies::describe_policies(store, &decode(input)?)?),
        "DeletePolicy" => policies::delete_policy(store, &decode(input)?).map(done),
        "ExecutePolicy" => policies::execute_policy(store, &decode(input)?).map(done),
        other => Err(Ec2Error::new(
            "InvalidAction",
            format!("The action {other} is not valid for this web service."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_the_models() {
        let model = crate::ec2::model::autoscaling();
        for op in OPERATIONS {
            assert!(model.operations.contains_key(*op), "{op}");
        }
        assert_eq!(OPERATIONS.len(), model.operations.len());
    }
}
