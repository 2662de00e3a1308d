//! The host's side of a VMM's jail ([`crate::vmm::jail`] is the VMM's): whom each
//! instance's VMM runs as, the directories it gets, and taking back what it wrote.
//!
//! A jailed VMM writes to one host directory only, its run directory's `vmm/` (console
//! log, exit record, snapshots), which it owns. Everything root reads from there is read
//! without following links ([`crate::fsutil::open_nofollow`]), and a snapshot it made is
//! checked to hold only plain files before it is moved where restores read it.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use super::rundir::RunDir;
use crate::vmm::api::{self, Request, Response};
use crate::vmm::jail::JailConfig;

/// The first uid (and gid) of VMMs; each instance gets one of the next [`ID_SPAN`].
pub const ID_BASE: u32 = 0x3b9a_ca00; // 1,000,000,000: far above any login account
/// How many VMM ids there are.
pub const ID_SPAN: u32 = 1 << 20;

/// Whether VMMs are jailed: always, unless `EC2LAB_JAIL=0` (for debugging a VMM).
pub fn enabled() -> bool {
    std::env::var("EC2LAB_JAIL").map_or(true, |v| v != "0")
}

/// The uid (= gid) instance `id` of the state root `root` runs its VMMs as: stable
/// across its VMMs (its `vmm/` directory stays its own), distinct between instances.
/// Two instances that did share one would still see neither the other's files (each
/// jail holds only its own directory) nor its process (each has its own PID namespace).
pub fn uid_of(root: &Path, id: &str) -> u32 {
    let mut name = root.as_os_str().as_encoded_bytes().to_vec();
    name.extend_from_slice(id.as_bytes());
    // Below ID_SPAN (2^20), so the cast loses nothing.
    ID_BASE + (crate::hash::stable_hash(&name) % u64::from(ID_SPAN)) as u32
}

/// Makes the run directory's `vmm/` (owned by `uid`) and the empty jail root, and says
/// how the VMM is to be jailed; `None` with jails off (the directory is made all the same:
/// the paths are the same either way).
pub fn prepare(run: &RunDir, uid: Option<u32>) -> io::Result<Option<JailConfig>> {
    let dir = run.vmm_dir();
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    // An instance started by an older ec2lab kept its console log beside `vmm/`.
    let old_log = run.path("console.log");
    if old_log.exists() && !run.console().exists() {
        std::fs::rename(&old_log, run.console())?;
    }
    // A link in its place would make root chown what it points to.
    if !std::fs::symlink_metadata(&dir)?.is_dir() {
        return Err(io::Error::other(format!(
            "{} is not a directory; remove it and start the instance again",
            dir.display()
        )));
    }
    let Some(uid) = uid else {
        std::os::unix::fs::lchown(&dir, Some(0), Some(0))?;
        return Ok(None);
    };
    std::os::unix::fs::lchown(&dir, Some(uid), Some(uid))?;
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o750))?;
    let root = run.jail_root();
    match std::fs::create_dir(&root) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    Ok(Some(JailConfig {
        root,
        uid,
        gid: uid,
        writable: vec![dir],
    }))
}

/// Asks the VMM at `run` to save the whole machine into its own `vmm/snapshot` (the one
/// place a jailed VMM can write), then moves the result to `dest` ([`collect`]).
pub fn snapshot(
    run: &RunDir,
    then: api::AfterSnapshot,
    dest: &Path,
    timeout: Duration,
) -> Result<Response, String> {
    let out = run.snapshot_out();
    let _ = std::fs::remove_dir_all(&out);
    let r = api::call_within(
        &run.sock(),
        &Request::Snapshot {
            dir: out.clone(),
            then,
        },
        timeout,
    )
    .map_err(|e| e.to_string())?;
    if r.ok {
        if let Err(e) = collect(&out, dest) {
            let _ = std::fs::remove_dir_all(&out);
            return Err(format!(
                "the VMM saved the machine, but moving it to {} failed: {e}",
                dest.display()
            ));
        }
    }
    Ok(r)
}

/// Moves the snapshot directory `from` (written by a VMM that may be compromised) to
/// `to`: only plain files are taken, each made root's and read-only to others.
pub fn collect(from: &Path, to: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    if !meta.is_dir() {
        return Err(io::Error::other("the snapshot is not a directory"));
    }
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let m = std::fs::symlink_metadata(entry.path())?;
        if !m.is_file() || m.nlink() != 1 {
            return Err(io::Error::other(format!(
                "the snapshot holds {}, which is not a plain file; it was refused",
                entry.path().display()
            )));
        }
        std::os::unix::fs::lchown(entry.path(), Some(0), Some(0))?;
        std::fs::set_permissions(
            entry.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )?;
    }
    std::os::unix::fs::lchown(from, Some(0), Some(0))?;
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        // Another file system (the warm cache elsewhere): copy, keeping holes.
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let tmp = to.with_extension("moving");
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir(&tmp)?;
            for entry in std::fs::read_dir(from)? {
                let entry = entry?;
                crate::fsutil::sparse_copy(&entry.path(), &tmp.join(entry.file_name()))?;
            }
            std::fs::rename(&tmp, to)?;
            std::fs::remove_dir_all(from)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_in_range() {
        let a = uid_of(
            Path::new("/var/lib/ec2lab/us-east-1"),
            "i-0123456789abcdef0",
        );
        assert_eq!(
            a,
            uid_of(
                Path::new("/var/lib/ec2lab/us-east-1"),
                "i-0123456789abcdef0"
            )
        );
        assert!((ID_BASE..ID_BASE + ID_SPAN).contains(&a));
        assert_ne!(
            a,
            uid_of(
                Path::new("/var/lib/ec2lab/us-east-1"),
                "i-0123456789abcdef1"
            )
        );
    }

    #[test]
    fn a_snapshot_with_a_link_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let from = d.path().join("out");
        std::fs::create_dir(&from).unwrap();
        std::fs::write(from.join("state"), b"s").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", from.join("memory")).unwrap();
        let err = collect(&from, &d.path().join("to")).unwrap_err();
        assert!(err.to_string().contains("not a plain file"), "{err}");
        assert!(!d.path().join("to").exists());
        std::fs::remove_file(from.join("memory")).unwrap();
        std::fs::write(from.join("memory"), b"m").unwrap();
        collect(&from, &d.path().join("to")).unwrap();
        assert_eq!(std::fs::read(d.path().join("to/memory")).unwrap(), b"m");
        assert!(!from.exists());
    }
}
