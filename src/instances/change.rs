//! The user's state changes: StartInstances, StopInstances, RebootInstances and
//! TerminateInstances, each one store transaction that the supervisors carry out.

use super::capacity::check_capacity;
use super::record::{Instance, RebootPending};
use super::state::{self, Action, State};
use super::{console, hibernation, network, supervisor, types};
use crate::ec2::shapes::instances::{
    InstanceStateChange, RebootInstancesRequest, StartInstancesRequest, StartInstancesResult,
    StopInstancesRequest, StopInstancesResult, TerminateInstancesRequest, TerminateInstancesResult,
};
use crate::error::Ec2Error;
use crate::store::{iso8601_now, Store};

fn transition(id: &str, prev: State, cur: State) -> InstanceStateChange {
    InstanceStateChange {
        current_state: cur.to_shape(),
        instance_id: id.into(),
        previous_state: prev.to_shape(),
    }
}

/// Applies a user action to every instance in one transaction: all or none.
fn change(
    store: &mut Store,
    instance_ids: &[String],
    action: Action,
    force: bool,
    hibernate: bool,
) -> Result<Vec<InstanceStateChange>, Ec2Error> {
    Ec2Error::check_instance_ids(instance_ids)?;
    let now = iso8601_now();
    let out = store.write(|tx| -> Result<Vec<InstanceStateChange>, Ec2Error> {
        let mut out = Vec::new();
        for id in instance_ids {
            let inst = Instance::get(tx, id)?;
            let next = state::apply(id, inst.state, action)?;
            let mut cur = inst.state;
            if let Some(mut next) = next {
                // A stopped instance has no VMM to shut down: it is terminated at once.
                if action == Action::Terminate && inst.state == State::Stopped {
                    next = State::Terminated;
                }
                Instance::set_state(tx, id, next, &format!("User initiated ({now})"), None)?;
                Instance::set_force_stop(tx, id, force)?;
                if action == Action::Stop {
                    // Read by the supervisor with the `stopping` state it polls for.
                    let mut h = inst.hibernation.clone();
                    h.requested = hibernate;
                    h.save(tx, id)?;
                }
                if action == Action::Start {
                    // A fresh automatic public address at every start, as on AWS.
                    crate::net::eni::assign_auto_public(tx, id)?;
                }
                cur = next;
            }
            if action == Action::Reboot {
                Instance::set_reboot_pending(tx, id, RebootPending::Restart)?;
            }
            out.push(transition(id, inst.state, cur));
        }
        Ok(out)
    })?;
    for id in instance_ids {
        let inst = Instance::get(store.conn(), id)?;
        if inst.state == State::Terminated {
            super::termination::finalize_termination(store, &inst)?;
        }
        supervisor::ensure(store, id)?;
    }
    Ok(out)
}

/// `StartInstances`: stopped instances get capacity checked and boot again.
pub fn start_instances(
    store: &mut Store,
    req: &StartInstancesRequest,
) -> Result<StartInstancesResult, Ec2Error> {
    let instance_ids = &req.instance_ids;
    Ec2Error::check_instance_ids(instance_ids)?;
    for id in instance_ids {
        let inst = Instance::get(store.conn(), id)?;
        if inst.state == State::Stopped {
            let ty = types::find(&inst.instance_type).ok_or_else(|| {
                Ec2Error::internal(format!("unknown type {}", inst.instance_type))
            })?;
            check_capacity(store, ty, 1)?;
            network::check_overlaps(store, id)?;
        }
    }
    // Before `pending` is recorded: see console::begin_starts.
    console::begin_starts(store, instance_ids)?;
    Ok(StartInstancesResult {
        starting_instances: change(store, instance_ids, Action::Start, false, false)?,
    })
}

/// `StopInstances`: the guest is asked to shut down, or stopped at once with `Force`.
pub fn stop_instances(
    store: &mut Store,
    req: &StopInstancesRequest,
) -> Result<StopInstancesResult, Ec2Error> {
    let hibernate = req.hibernate.unwrap_or(false);
    if hibernate {
        Ec2Error::check_instance_ids(&req.instance_ids)?;
        for id in &req.instance_ids {
            hibernation::check_stop(store, &Instance::get(store.conn(), id)?)?;
        }
    }
    let out = change(store, &req.instance_ids, Action::Stop, req.force, hibernate)?;
    Ok(StopInstancesResult {
        stopping_instances: out,
    })
}

/// `RebootInstances`: the supervisor restarts each guest; it stays running.
pub fn reboot_instances(store: &mut Store, req: &RebootInstancesRequest) -> Result<(), Ec2Error> {
    change(store, &req.instance_ids, Action::Reboot, false, false)?;
    Ok(())
}

/// `TerminateInstances`: the guests shut down and their DeleteOnTermination volumes go.
pub fn terminate_instances(
    store: &mut Store,
    req: &TerminateInstancesRequest,
) -> Result<TerminateInstancesResult, Ec2Error> {
    Ok(TerminateInstancesResult {
        terminating_instances: change(store, &req.instance_ids, Action::Terminate, false, false)?,
    })
}
