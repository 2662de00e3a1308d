//! What services above CloudWatch add to the region's monitor daemon, without CloudWatch
//! importing them: Auto Scaling's reconciler runs every tick, alarm actions that name a
//! scaling policy go to it, and the daemon stays while it has work. The `__monitor` entry
//! registers the implementation once ([`register`]); without one these are no-ops (and a
//! scaling policy action fails, saying so, in the alarm's history).

use std::sync::OnceLock;

use super::alarms::AlarmTransition;
use crate::error::Ec2Error;
use crate::store::Store;

/// The monitor's extension points.
pub trait Extension: Sync {
    /// Runs once per tick after alarms and their actions; returns problems to log.
    fn tick(&self, store: &mut Store, now_ms: i64) -> Vec<String>;
    /// Runs the scaling policy `policy_arn` for the alarm change `t`.
    fn scaling_action(
        &self,
        store: &mut Store,
        policy_arn: &str,
        t: &AlarmTransition,
    ) -> Result<(), Ec2Error>;
    /// Whether the daemon must stay for it.
    fn has_work(&self, store: &Store) -> bool;
}

static EXTENSION: OnceLock<&'static dyn Extension> = OnceLock::new();

/// Registers the extension (the first registration stays).
pub fn register(e: &'static dyn Extension) {
    let _ = EXTENSION.set(e);
}

/// The registered extension, if any.
pub fn get() -> Option<&'static dyn Extension> {
    EXTENSION.get().copied()
}
