//! How an instance ends: a launch that failed after it was recorded, and what goes when
//! an instance is terminated. Both the supervisor and the commands that end instances
//! without one (a stopped instance's terminate, a launch that failed) call here.

use super::network;
use super::process::Lock;
use super::record::Instance;
use super::rundir::RunDir;
use super::state::State;
use crate::error::Ec2Error;
use crate::storage::{instance_store, volumes};
use crate::store::{iso8601_now, Store};

/// The state reason a failed launch gave an instance, kept through its shutdown.
pub const LAUNCH_FAILED: &str = "Server.InternalError";

/// `(transition reason, code, message)` of an instance whose launch failed, while it
/// shuts down: what its end keeps.
pub fn launch_failure(inst: &Instance) -> Option<(String, String, String)> {
    let (code, msg) = inst.state_reason.clone()?;
    (code == LAUNCH_FAILED && inst.state == State::ShuttingDown)
        .then(|| (inst.transition_reason.clone(), code, msg))
}

/// Ends instances whose launch failed after they were recorded (a supervisor or VMM that
/// would not start): each is terminated with EC2's reason for a launch that failed on its
/// side (`Server.InternalError`), and its volumes, interface and files go, so nothing is
/// left behind. One whose supervisor runs is set `shutting-down` for it to finish (it
/// stops any VMM it started), keeping the reason; the others are finished here.
pub fn fail_launch(store: &mut Store, ids: &[&str], why: &Ec2Error) -> Result<(), Ec2Error> {
    let reason = format!("Server error ({})", iso8601_now());
    let msg = format!(
        "{LAUNCH_FAILED}: Internal error on launch: {}",
        crate::causes::chain(why)
    );
    for id in ids {
        let run = RunDir::of(store, id);
        // Held while the instance is finished here, so no supervisor starts meanwhile.
        let lock = if run.0.exists() {
            Lock::try_acquire(&run.lock())?
        } else {
            None
        };
        let supervised = run.0.exists() && lock.is_none();
        let next = if supervised {
            State::ShuttingDown
        } else {
            State::Terminated
        };
        store
            .write(|tx| Instance::set_state(tx, id, next, &reason, Some((LAUNCH_FAILED, &msg))))?;
        if !supervised {
            let inst = Instance::get(store.conn(), id)?;
            finalize_termination(store, &inst)?;
        }
        drop(lock);
    }
    Ok(())
}

/// What goes when an instance is terminated: volumes marked DeleteOnTermination (the
/// others are detached and stay), the instance store, its kernel links. The console log
/// stays for get-console-output until the record goes.
pub fn finalize_termination(store: &mut Store, inst: &Instance) -> Result<(), Ec2Error> {
    volumes::release_for_terminated(store, &inst.instance_id)?;
    network::release(store, inst)?;
    instance_store::destroy(store.region(), &inst.instance_id);
    let run = RunDir::of(store, &inst.instance_id);
    for f in run.transient_files() {
        let _ = std::fs::remove_file(f);
    }
    let _ = std::fs::remove_dir_all(run.snapshot_out());
    let _ = std::fs::remove_dir(run.jail_root());
    let _ = std::fs::remove_dir(run.metadata_root());
    Ok(())
}
