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
    let live = Instance::with_vmm(store.conn())?;
    supervisor::ensure_all(store, &live)?;
    // The host's bridges and firewall follow the store: after a host reboot or a flush of
    // the nftables rules, the next command puts them back; idle bridges go down.
    let running = !live.is_empty();
    crate::net::follow_store(store, running)
}
