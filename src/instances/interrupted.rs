//! Finishes or undoes the work of processes that died in the middle of it (their
//! `operations` records outlive them). Every command runs it first, from housekeeping,
//! before supervisors are ensured:
//!
//! - create-snapshot: the scratch copy goes; chunks of a snapshot never recorded go.
//! - create-image: the scratch copy goes; an instance still held down for the copy is
//!   started again (`RebootPending::Restart`). Its paused guest, if it was paused, ran
//!   again already: the copy's pause was a lease that ended with the process.
//! - a volume's copy: the file of a volume never recorded goes.
//! - a supervisor's VMM start: a VMM running on the instance's launch file but not
//!   recorded is adopted, so the next supervisor watches it instead of starting a second.
//! - stop --hibernate: once the VMM is gone, a machine it saved half-way goes (a whole
//!   one was renamed into place and is kept).

use std::path::Path;

use super::process;
use super::record::{Instance, RebootPending};
use crate::error::Ec2Error;
use crate::operations::{self, Work};
use crate::storage::snapshots::{self, Snapshot};
use crate::storage::volumes::Volume;
use crate::store::Store;

/// Finishes or undoes every interrupted operation of the region.
pub fn finish(store: &mut Store) -> Result<(), Ec2Error> {
    for rec in operations::interrupted(store.conn())? {
        match &rec.work {
            Work::CreateSnapshot { snapshot_id, copy } => {
                remove_scratch(copy);
                if Snapshot::get(store.conn(), snapshot_id).is_err() {
                    // Never recorded: its manifest (if chunking finished) and the chunks
                    // only it held go; a missing manifest is nothing to undo.
                    let _ = snapshots::chunk_store(store)?.delete(snapshot_id);
                }
            }
            Work::CreateImage { instance_id, copy } => {
                remove_scratch(copy);
                if let Some(inst) = Instance::load(store.conn(), instance_id)? {
                    if inst.reboot_pending == RebootPending::HoldDown {
                        store.write(|tx| {
                            Instance::set_reboot_pending(tx, instance_id, RebootPending::Restart)
                        })?;
                    }
                }
            }
            Work::VolumeCopy { volume_id, path } => {
                if Volume::load(store.conn(), volume_id)?.is_none() {
                    remove_scratch(path);
                    let _ = std::fs::remove_file(path);
                }
            }
            Work::VmmStart {
                instance_id,
                launch,
            } => adopt(store, instance_id, launch)?,
            Work::Hibernate { instance_id, dir } => {
                // A VMM still saving goes on (its exit settles the stop); once it is
                // gone, a save it left half written goes.
                if vmm_alive(store, instance_id)? {
                    continue;
                }
                remove_partial_saves(dir);
            }
        }
        operations::remove(store, rec.id)?;
    }
    Ok(())
}

fn vmm_alive(store: &Store, id: &str) -> Result<bool, Ec2Error> {
    Ok(Instance::load(store.conn(), id)?
        .and_then(|i| i.vmm_pid.zip(i.vmm_start_ticks))
        .is_some_and(|(pid, ticks)| process::alive(pid, ticks)))
}

/// The partial directories a VMM writes a snapshot into before renaming it to `dir`
/// (`.<name>.partial-<pid>`, `vmm::snapshot`).
fn remove_partial_saves(dir: &Path) {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return;
    };
    let prefix = format!(".{}.partial-", name.to_string_lossy());
    for e in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A file and the temporary it was written through (`fsutil::sparse_copy`).
fn remove_scratch(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("partial"));
}

/// Records the VMM that runs on `launch` as the instance's, unless it has a live one.
fn adopt(store: &mut Store, id: &str, launch: &Path) -> Result<(), Ec2Error> {
    let Some(inst) = Instance::load(store.conn(), id)? else {
        return Ok(());
    };
    if let (Some(pid), Some(ticks)) = (inst.vmm_pid, inst.vmm_start_ticks) {
        if process::alive(pid, ticks) {
            return Ok(());
        }
    }
    if let Some(pid) = vmm_on(launch) {
        if let Some(ticks) = operations::start_ticks(pid) {
            store.write(|tx| Instance::set_vmm(tx, id, Some((pid, ticks))))?;
        }
    }
    Ok(())
}

/// The process running `ec2lab vmm --launch <launch>`, if one does.
pub fn vmm_on(launch: &Path) -> Option<i64> {
    let want = launch.as_os_str().as_encoded_bytes();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i64 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_vmm = args
            .windows(3)
            .any(|w| w[0] == b"vmm" && w[1] == b"--launch" && w[2] == want);
        is_vmm.then_some(pid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_saves_partial_directories_go() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("vol-1.hibernation");
        let partial = d.path().join(".vol-1.hibernation.partial-123");
        let other = d.path().join(".vol-2.hibernation.partial-9");
        for p in [&dir, &partial, &other] {
            std::fs::create_dir_all(p.join("x")).unwrap();
        }
        remove_partial_saves(&dir);
        assert!(dir.is_dir(), "a whole save is kept");
        assert!(!partial.exists());
        assert!(other.is_dir(), "another volume's save is not ours");
    }
}
