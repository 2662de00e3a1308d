//! `ec2lab wait`: polls the store until instances reach a state, as the AWS CLI's waiters
//! poll EC2. What runs between polls (housekeeping, which starts supervisors) is given by
//! the caller, so this module needs nothing from its parent.

use std::time::{Duration, Instant};

use super::record::Instance;
use super::state::State;
use crate::error::Ec2Error;
use crate::store::Store;

/// What `wait` waits for.
#[derive(Clone, Copy, Debug)]
pub enum Waiter {
    /// `instance-running`.
    Running,
    /// `instance-stopped`.
    Stopped,
    /// `instance-terminated`.
    Terminated,
}

impl Waiter {
    fn name(self) -> &'static str {
        match self {
            Waiter::Running => "InstanceRunning",
            Waiter::Stopped => "InstanceStopped",
            Waiter::Terminated => "InstanceTerminated",
        }
    }
    fn target(self) -> State {
        match self {
            Waiter::Running => State::Running,
            Waiter::Stopped => State::Stopped,
            Waiter::Terminated => State::Terminated,
        }
    }
    /// States from which the target can no longer be reached without another call.
    fn failure(self, s: State) -> bool {
        match self {
            Waiter::Running => {
                matches!(s, State::ShuttingDown | State::Terminated | State::Stopping)
            }
            Waiter::Stopped => matches!(s, State::Pending | State::Terminated),
            Waiter::Terminated => matches!(s, State::Pending | State::Stopping),
        }
    }
}

/// Polls until every instance is in the waiter's state, running `each_poll` first each
/// time; the error reads like the AWS CLI's waiter errors.
pub fn until(
    store: &mut Store,
    waiter: Waiter,
    instance_ids: &[String],
    timeout: Duration,
    mut each_poll: impl FnMut(&mut Store) -> Result<(), Ec2Error>,
) -> Result<(), Ec2Error> {
    let end = Instant::now() + timeout;
    loop {
        each_poll(store)?;
        let mut done = true;
        for id in instance_ids {
            let inst = Instance::get(store.conn(), id)?;
            if inst.state == waiter.target() {
                continue;
            }
            done = false;
            if waiter.failure(inst.state) {
                return Err(Ec2Error::new(
                    "WaiterFailed",
                    format!(
                        "Waiter {} failed: Waiter encountered a terminal failure state: {id} is {}{}",
                        waiter.name(),
                        inst.state.name(),
                        inst.state_reason
                            .as_ref()
                            .map(|(_, m)| format!(" ({m})"))
                            .unwrap_or_default()
                    ),
                ));
            }
        }
        if done {
            return Ok(());
        }
        if Instant::now() >= end {
            return Err(Ec2Error::new(
                "WaiterFailed",
                format!(
                    "Waiter {} failed: Max attempts exceeded ({timeout:?})",
                    waiter.name()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
