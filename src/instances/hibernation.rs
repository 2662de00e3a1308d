//! EC2 hibernation: `run-instances --hibernation-options Configured=true`, then
//! `stop-instances --hibernate` saves the guest's whole machine (memory, vCPUs, devices:
//! a VMM snapshot, `vmm::snapshot`) beside its root volume, in the root volume's space as
//! EC2 keeps RAM on the root EBS volume, and `start-instances` resumes it from there:
//! processes, open files and page cache as they were. The state is used once: a resumed
//! instance's next stop saves afresh. If saving fails the stop goes on as a plain
//! shutdown, and if resuming fails the instance boots from its root volume, as on EC2.

use std::path::PathBuf;

use super::disks;
use super::record::Instance;
use super::types::InstanceType;
use crate::error::Ec2Error;
use crate::store::Store;

fn unsupported(msg: String) -> Ec2Error {
    Ec2Error::new("UnsupportedHibernationConfiguration", msg)
}

/// `RunInstances` with hibernation: refused for types with an instance store, whose
/// contents a stop loses (EC2 refuses them too).
pub fn check_launch(ty: &InstanceType) -> Result<(), Ec2Error> {
    if ty.instance_store_gb > 0 {
        return Err(unsupported(format!(
            "The instance type {} has an instance store, which a stop erases: it cannot \
             hibernate. Use a type without one (t2, t3, m5, c5, ...)",
            ty.name
        )));
    }
    Ok(())
}

/// `stop-instances --hibernate` of `inst`: it must have been launched able to, and its
/// root volume must be able to hold its memory. The error message ends with the
/// instance's id, as EC2's does.
pub fn check_stop(store: &Store, inst: &Instance) -> Result<(), Ec2Error> {
    let id = &inst.instance_id;
    if !inst.hibernation.configured {
        return Err(unsupported(format!(
            "The instance was not launched with HibernationOptions Configured=true, so it \
             cannot hibernate; stop it without --hibernate: {id}"
        )));
    }
    let root = disks::root_volume(store, inst)?;
    if root.size_gib * 1024 < inst.mem_mib {
        return Err(unsupported(format!(
            "The root volume ({} GiB) cannot hold the instance's memory ({} MiB); give it \
             a larger root volume at launch: {id}",
            root.size_gib, inst.mem_mib
        )));
    }
    Ok(())
}

/// Where `inst`'s saved machine lives: beside its root volume's file.
pub fn state_dir(store: &Store, inst: &Instance) -> Result<PathBuf, Ec2Error> {
    let root = disks::root_volume(store, inst)?;
    Ok(store
        .volume_path(&root.volume_id)
        .with_extension("hibernation"))
}

/// The saved machine of a hibernated instance, if it has one.
pub fn saved(store: &Store, inst: &Instance) -> Option<PathBuf> {
    let dir = state_dir(store, inst).ok()?;
    dir.is_dir().then_some(dir)
}

/// Drops `inst`'s saved machine (after a resume, or when it can no longer be used). A
/// VMM that mapped its memory keeps the pages it needs until it exits.
pub fn discard(store: &Store, inst: &Instance) {
    if let Ok(dir) = state_dir(store, inst) {
        let _ = std::fs::remove_dir_all(dir);
    }
}
