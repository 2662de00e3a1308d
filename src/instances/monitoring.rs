//! Detailed monitoring's state (`Monitoring.State`): `MonitorInstances`,
//! `UnmonitorInstances`, `run-instances --monitoring Enabled=true`, and the collector's
//! confirmation of each change.
//!
//! As in EC2 a change is not immediate: `MonitorInstances` answers `pending` and
//! `UnmonitorInstances` `disabling`; the monitor daemon (`cloudwatch::daemon`) moves them
//! to `enabled` / `disabled` when it takes the change into account (its next tick), so
//! `enabled` means the collector really publishes 10-second points for the instance.

use rusqlite::Connection;

use super::record::Instance;
pub use super::state::MonitoringState;
use crate::ec2::shapes::instances::{
    InstanceMonitoring, MonitorInstancesRequest, MonitorInstancesResult, Monitoring,
    UnmonitorInstancesRequest, UnmonitorInstancesResult,
};
use crate::error::Ec2Error;
use crate::store::Store;

/// Checks the ids and that every instance exists (EC2 changes none if one is missing).
fn load_all(store: &Store, ids: &[String]) -> Result<Vec<Instance>, Ec2Error> {
    Ec2Error::check_instance_ids(ids)?;
    ids.iter()
        .map(|id| Instance::get(store.conn(), id))
        .collect()
}

fn change(
    store: &mut Store,
    ids: &[String],
    to: impl Fn(MonitoringState) -> MonitoringState,
) -> Result<MonitorInstancesResult, Ec2Error> {
    let insts = load_all(store, ids)?;
    let mut out = Vec::new();
    store.write(|tx| -> Result<(), Ec2Error> {
        for inst in &insts {
            let new = to(inst.monitoring);
            tx.execute(
                "UPDATE instances SET monitoring = ?2 WHERE instance_id = ?1",
                rusqlite::params![inst.instance_id, new.name()],
            )?;
            out.push(InstanceMonitoring {
                instance_id: inst.instance_id.clone(),
                monitoring: Monitoring {
                    state: new.name().into(),
                },
            });
        }
        Ok(())
    })?;
    // The collector confirms the change; make sure one runs for this region.
    super::monitor_daemon::ensure(store)?;
    Ok(MonitorInstancesResult {
        instance_monitorings: out,
    })
}

/// `MonitorInstances`: detailed monitoring, `pending` until the collector takes it on.
pub fn monitor_instances(
    store: &mut Store,
    req: &MonitorInstancesRequest,
) -> Result<MonitorInstancesResult, Ec2Error> {
    change(store, &req.instance_ids, |s| match s {
        MonitoringState::Enabled => MonitoringState::Enabled,
        _ => MonitoringState::Pending,
    })
}

/// `UnmonitorInstances`: basic monitoring, `disabling` until the collector takes it on.
pub fn unmonitor_instances(
    store: &mut Store,
    req: &UnmonitorInstancesRequest,
) -> Result<UnmonitorInstancesResult, Ec2Error> {
    change(store, &req.instance_ids, |s| match s {
        MonitoringState::Disabled => MonitoringState::Disabled,
        _ => MonitoringState::Disabling,
    })
}

/// The collector's confirmation: `pending` becomes `enabled`, `disabling` `disabled`.
/// Returns how many instances changed.
pub fn settle(c: &Connection) -> Result<usize, Ec2Error> {
    Ok(c.execute(
        "UPDATE instances SET monitoring = CASE monitoring
             WHEN 'pending' THEN 'enabled' ELSE 'disabled' END
         WHERE monitoring IN ('pending', 'disabling')",
        [],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_disabled() {
        for s in [
            MonitoringState::Disabled,
            MonitoringState::Pending,
            MonitoringState::Enabled,
            MonitoringState::Disabling,
        ] {
            assert_eq!(MonitoringState::parse(s.name()), s);
        }
        assert_eq!(MonitoringState::parse("bogus"), MonitoringState::Disabled);
        assert!(MonitoringState::Enabled.detailed());
        assert!(!MonitoringState::Pending.detailed());
    }
}
