//! Auto Scaling (API 2011-01-01): groups that keep a desired number of healthy instances
//! from a launch template, their scaling activities, and scaling policies that CloudWatch
//! alarms run. A service above `cloudwatch/` and `instances/`: the region's monitor daemon
//! runs its reconciler every tick and hands it the alarm actions that name a policy, through
//! [`crate::cloudwatch::extension`] (registered by the `__monitor` entry), so that
//! `cloudwatch/` never imports it.
//!
//! - `groups`: the group and member records; Create/Describe/Update, SetDesiredCapacity,
//!   DescribeAutoScalingInstances.
//! - `deletion`: DeleteAutoScalingGroup (the group and its policies' alarms).
//! - `hooks`: what the monitor daemon runs for Auto Scaling.
//! - `activities`: scaling activities, recorded as Auto Scaling words them.
//! - `reconcile`: one pass over a group: health, replacement, growing and shrinking toward
//!   the desired capacity.
//! - `policies`: Put/Describe/Delete/ExecutePolicy; target tracking's alarms; what an
//!   alarm's action does.
//! - `metrics`: the group's `AutoScalingGroupName` dimension of its instances' EC2 metrics.
//! - `operations`: the operation table both front ends use.

pub mod activities;
pub mod deletion;
pub mod groups;
pub mod hooks;
pub mod metrics;
pub mod operations;
pub mod policies;
pub mod reconcile;
pub mod shapes;

use crate::error::Ec2Error;
use crate::ids::OWNER_ID;

/// Auto Scaling's `ValidationError`: a bad or unknown parameter, a group that does not exist.
pub fn validation(message: impl Into<String>) -> Ec2Error {
    Ec2Error::new("ValidationError", message)
}

/// `arn:aws:autoscaling:REGION:ACCOUNT:autoScalingGroup:UUID:autoScalingGroupName/NAME`.
pub fn group_arn(region: &str, uuid: &str, name: &str) -> String {
    format!("arn:aws:autoscaling:{region}:{OWNER_ID}:autoScalingGroup:{uuid}:autoScalingGroupName/{name}")
}

/// `arn:aws:autoscaling:REGION:ACCOUNT:scalingPolicy:UUID:autoScalingGroupName/GROUP:policyName/NAME`.
pub fn policy_arn(region: &str, uuid: &str, group: &str, name: &str) -> String {
    format!(
        "arn:aws:autoscaling:{region}:{OWNER_ID}:scalingPolicy:{uuid}:autoScalingGroupName/{group}:policyName/{name}"
    )
}

pub use hooks::MONITOR_HOOKS;
