//! What every command does first (CLI verb or API request alike): the region's default VPC
//! exists, expired records go, every live instance gets its supervisor, and the host's
//! network is put back in step with the store.

use super::record::Instance;
use super::supervisor;
use crate::error::Ec2Error;
use crate::store::Store;

/// Makes the default VPC on first use, removes terminated instances older than an hour
/// and makes sure every live instance has its supervisor. Every command starts with this.
pub fn housekeeping(store: &mut Store) -> Result<(), Ec2Error> {
    // As on AWS, the default VPC is there before anything asks for it, whichever front
    // end comes first.
    crate::net::vpc::ensure_default(store)?;
    // Only the rows that need something are read: the expired ids, and the instances
    // with a VMM (stopped and terminated ones, most of a big lab, need nothing).
    for id in Instance::expired_ids(store.conn())? {
        store.write(|tx| Instance::delete(tx, &id))?;
        let _ = std::fs::remove_dir_all(store.instance_dir(&id));
    }
    // Work a killed process left half done is finished or undone before anything else
    // (a VMM started but not recorded is adopted before supervisors are ensured).
    super::interrupted::finish(store)?;
    let live = Instance::with_vmm(store.conn())?;
    supervisor::ensure_all(store, &live)?;
    // The host's bridges and firewall follow the store: after a host reboot or a flush of
    // the nftables rules, the next command puts them back; idle bridges go down.
    let running = !live.is_empty();
    crate::net::follow_store(store, running)
}

/// After a host reboot no ec2lab process runs: brings back every region of `state_dir`
/// (each directory with a store) as its next command would (supervisors, whose instances'
/// dead VMMs go to automatic recovery, the network) and starts its monitor daemon, which
/// evaluates the alarms and leaves again when there is nothing to watch. `ec2lab serve`
/// calls it at start, so that its systemd unit brings everything back at boot. Returns
/// what failed, per region.
pub fn resume_state_dir(state_dir: &std::path::Path) -> Vec<(String, Ec2Error)> {
    let mut failed = Vec::new();
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return failed;
    };
    for e in entries.flatten() {
        if !e.path().join("ec2lab.db").is_file() {
            continue;
        }
        let region = e.file_name().to_string_lossy().into_owned();
        let resumed = Store::open(state_dir, &region)
            .map_err(Ec2Error::from)
            .and_then(|mut store| {
                housekeeping(&mut store)?;
                super::monitor_daemon::ensure(&store)
            });
        if let Err(err) = resumed {
            failed.push((region, err));
        }
    }
    failed
}
