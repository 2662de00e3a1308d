//! The `recover` alarm action: a fresh VMM for the same instance (same id, disks,
//! interfaces and addresses), as EC2 moves an impaired instance to healthy hardware. The
//! instance stays `running`; its supervisor kills the old VMM (hung or not, without
//! asking it) and starts a new one (`RebootPending::Recover`).

use super::record::{Instance, RebootPending};
use super::state::State;
use super::supervisor;
use crate::error::Ec2Error;
use crate::store::Store;

/// Asks for a new VMM for the running instance `id`; its supervisor (started here if it
/// is gone) carries it out within a poll. Only a running instance can be recovered.
pub fn recover_instance(store: &mut Store, id: &str) -> Result<(), Ec2Error> {
    Ec2Error::check_instance_ids(&[id.to_string()])?;
    store.write(|tx| -> Result<(), Ec2Error> {
        let inst = Instance::get(tx, id)?;
        if inst.state != State::Running {
            return Err(Ec2Error::incorrect_state(
                id,
                inst.state.name(),
                "recovered",
            ));
        }
        Instance::set_reboot_pending(tx, id, RebootPending::Recover)
    })?;
    supervisor::ensure(store, id)
}
