//! The monitor daemon's hooks for Auto Scaling (`cloudwatch::extension`): the daemon runs
//! them without importing this service.

use super::{groups, policies, reconcile};
use crate::error::Ec2Error;

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
