//! The VMM's jail, as Firecracker's jailer builds one, entered by the VMM itself once
//! set-up has opened everything the guest needs (kernel, disks, taps, /dev/kvm, its
//! sockets) and before any guest code runs:
//!
//! - its own mount, IPC, UTS and network namespaces (the PID namespace comes from whoever
//!   starts it: only a new child can be born into one, see `instances::process`);
//! - its root is an empty, read-only tmpfs holding nothing but the host directories it
//!   keeps writing to (its console log, exit record and snapshots), each bind-mounted at
//!   its own path, `nosuid,nodev,noexec`; the host's tree is unmounted from its view;
//! - it runs as its own unprivileged uid and gid, no supplementary groups, with every
//!   capability gone (effective, permitted, inheritable, ambient and the bounding set)
//!   and `no_new_privs` set, so nothing it execs could regain any.
//!
//! Later disks reach it as open descriptors over its control socket (`api.rs`), never by
//! path. A compromised VMM can therefore touch its own guest's memory, open disks and
//! taps, and write its own log directory; nothing else on the host.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{chdir, pivot_root};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Where and as whom the VMM is jailed (the launch file's `jail` section).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailConfig {
    /// An empty host directory that becomes the VMM's `/` (in its own mount namespace
    /// only: the host keeps seeing an empty directory, and nothing is left mounted on the
    /// host when the VMM ends).
    pub root: PathBuf,
    /// The unprivileged user the VMM becomes.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
    /// Host directories the VMM writes to while it runs, visible at the same paths inside.
    #[serde(default)]
    pub writable: Vec<PathBuf>,
}

/// A step of entering the jail failed; the VMM does not run the guest unjailed.
#[derive(Debug, Error)]
#[error(
    "Cannot jail the VMM: {step} failed: {source}. The VMM must start as root (the supervisor \
     starts it so); EC2LAB_JAIL=0 runs VMMs unjailed, for debugging only"
)]
pub struct JailError {
    step: String,
    #[source]
    source: nix::Error,
}

fn step(what: impl Into<String>) -> impl FnOnce(nix::Error) -> JailError {
    let step = what.into();
    move |source| JailError { step, source }
}

/// [`step`] for a std I/O call.
fn io_step(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> JailError {
    let step = step(what);
    move |e| step(nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

impl From<crate::privdrop::DropError> for JailError {
    fn from(e: crate::privdrop::DropError) -> Self {
        JailError {
            step: e.step,
            source: e.source,
        }
    }
}

static HOST_PID: OnceLock<u32> = OnceLock::new();

/// This process's pid as the host sees it. Inside its own PID namespace `getpid()` says 1;
/// records others read (status, exit record) must carry the pid they know. Learned from
/// the host's `/proc/self` before the jail hides it.
pub fn host_pid() -> u32 {
    *HOST_PID.get_or_init(|| {
        std::fs::read_link("/proc/self")
            .ok()
            .and_then(|p| p.to_str()?.parse().ok())
            .unwrap_or_else(std::process::id)
    })
}

/// Enters the jail `cfg` describes. Must be called while the process has one thread
/// (a new mount namespace cannot be unshared by a threaded process).
pub fn enter(cfg: &JailConfig) -> Result<(), JailError> {
    host_pid();
    unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWNET,
    )
    .map_err(step("unshare(mount, IPC, UTS, network namespaces)"))?;
    // Nothing done below may reach the host's mount table.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(step("making every mount private"))?;
    let _ = nix::unistd::sethostname("ec2lab-vmm");
    build_root(cfg)?;
    let old = cfg.root.join(".host");
    std::fs::create_dir(&old).map_err(io_step(format!("mkdir {}", old.display())))?;
    pivot_root(&cfg.root, &old).map_err(step("pivot_root"))?;
    chdir("/").map_err(step("chdir /"))?;
    umount2("/.host", MntFlags::MNT_DETACH).map_err(step("unmounting the host's tree"))?;
    let _ = std::fs::remove_dir("/.host");
    // The root itself becomes read-only once its mount points exist.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT
            | MsFlags::MS_BIND
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(step("remounting / read-only"))?;
    Ok(crate::privdrop::drop_privileges(cfg.uid, cfg.gid)?)
}

/// A tmpfs on `cfg.root` with each writable directory bind-mounted at its own path.
fn build_root(cfg: &JailConfig) -> Result<(), JailError> {
    let quiet = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(
        Some("ec2lab-jail"),
        &cfg.root,
        Some("tmpfs"),
        quiet,
        Some("size=64k,mode=0755"),
    )
    .map_err(step(format!("mounting a tmpfs on {}", cfg.root.display())))?;
    for dir in &cfg.writable {
        let inside = inside(&cfg.root, dir);
        std::fs::create_dir_all(&inside).map_err(io_step(format!("mkdir {}", inside.display())))?;
        mount(
            Some(dir.as_path()),
            &inside,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(step(format!("bind-mounting {}", dir.display())))?;
        mount(
            None::<&str>,
            &inside,
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | quiet,
            None::<&str>,
        )
        .map_err(step(format!(
            "remounting {} nosuid,nodev,noexec",
            dir.display()
        )))?;
    }
    Ok(())
}

/// `dir`'s place under `root`.
fn inside(root: &Path, dir: &Path) -> PathBuf {
    root.join(dir.strip_prefix("/").unwrap_or(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writable_dirs_keep_their_paths_inside() {
        assert_eq!(
            inside(Path::new("/run/i-1/jail"), Path::new("/var/ec2/i-1/vmm")),
            PathBuf::from("/run/i-1/jail/var/ec2/i-1/vmm")
        );
    }

    #[test]
    fn the_host_pid_is_ours_outside_a_pid_namespace() {
        assert_eq!(host_pid(), std::process::id());
    }
}
