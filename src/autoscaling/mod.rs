//! Auto Scaling (API 2011-01-01): groups that keep a desired number of healthy instances
//! from a launch template, their scaling activities, and scaling policies that CloudWatch
//! alarms run. A service above `cloudwatch/` and `instances/`: the region's monitor daemon
//! runs its reconciler every tick and hands it the alarm actions that name a policy, through
//! [`crate::cloudwatch::extension`] (registered by the `__monitor` entry), so that
//! `cloudwatch/` never imports it.
//!
//! - `groups`: the group and member records; Create/Describe/Update/Delete,
//!   SetDesiredCapacity, DescribeAutoScalingInstances.
//! - `activities`: scaling activities, recorded as Auto Scaling words them.
//! - `reconcile`: one pass over a group: health, replacement, growing and shrinking toward
//!   the desired capacity.
//! - `policies`: Put/Describe/Delete/ExecutePolicy; target tracking's alarms; what an
//!   alarm's action does.
//! - `metrics`: the group's `AutoScalingGroupName` dimension of its instances' EC2 metrics.
//! - `operations`: the operation table both front ends use.

pub mod activities;
pub mod groups;
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

/// What the monitor daemon does for Auto Scaling: reconcile every group each tick, run
/// the policies alarms name, and stay while a group exists.
pub struct MonitorHooks;

impl crate::cloudwatch::extension::Extension for MonitorHooks {
    fn tick(&self, store: &mut crate::store::Store, now_ms: i64) -> Vec<String> {
        reconcile::all_groups(store, now_ms)
    }

    fn scaling_action(
        &self,
        store: &mut crate::store::Store,
        policy_arn: &str,
        t: &crate::cloudwatch::alarms::AlarmTransition,
    ) -> Result<(), Ec2Error> {
        policies::on_alarm(store, policy_arn, t)
    }

    fn has_work(&self, store: &crate::store::Store) -> bool {
        groups::any(store.conn()).unwrap_or(true)
    }
}

/// The monitor daemon's hooks, registered by `__monitor` before it starts.
pub static MONITOR_HOOKS: MonitorHooks = MonitorHooks;
