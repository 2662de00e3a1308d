//! An instance's run directory, `<region>/instances/i-…/`: the files its supervisor and
//! VMM share, named in one place. Every instance module that needs one of them asks here,
//! so none of them needs the supervisor for a file name.

use std::path::PathBuf;

use crate::store::Store;

/// The size at which `supervisor.log` and `vmm.log` are rotated, before each start of
/// the process that appends to them.
pub const LOG_MAX: u64 = 1 << 20;

/// The files of one instance's run directory.
pub struct RunDir(pub PathBuf);

impl RunDir {
    /// The run directory of instance `id` in `store`'s region.
    pub fn of(store: &Store, id: &str) -> Self {
        RunDir(store.instance_dir(id))
    }

    /// Any file in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The guest kernel (a link to the AMI's).
    pub fn kernel(&self) -> PathBuf {
        self.path("kernel")
    }

    /// The guest initrd, if the AMI has one (a link to it).
    pub fn initrd(&self) -> Option<PathBuf> {
        Some(self.path("initrd")).filter(|p| p.exists())
    }

    /// The VMM's control socket.
    pub fn sock(&self) -> PathBuf {
        self.path("vmm.sock")
    }

    /// The one directory the VMM writes to (its console log, exit record and snapshots);
    /// a jailed VMM owns it, so root reads what is in it without following links.
    pub fn vmm_dir(&self) -> PathBuf {
        self.path("vmm")
    }

    /// The VMM's root while it runs: an empty directory on the host (its mounts live in
    /// the VMM's own mount namespace).
    pub fn jail_root(&self) -> PathBuf {
        self.path("jail")
    }

    /// The metadata worker's root (`metadata::worker`): an empty directory, always.
    pub fn metadata_root(&self) -> PathBuf {
        self.path("metadata-root")
    }

    /// Where the VMM saves the whole machine when asked to, before the supervisor moves
    /// it where it belongs.
    pub fn snapshot_out(&self) -> PathBuf {
        self.vmm_dir().join("snapshot")
    }

    /// The console log every boot appends to.
    pub fn console(&self) -> PathBuf {
        self.vmm_dir().join("console.log")
    }

    /// The serial console; its VMM binds it and removes it when it exits.
    pub fn console_sock(&self) -> PathBuf {
        self.path("console.sock")
    }

    /// The launch description the supervisor writes for each VMM it starts.
    pub fn launch_file(&self) -> PathBuf {
        self.path("launch.json")
    }

    /// How the last VMM ended (`vmm::exit::ExitRecord`).
    pub fn exit_file(&self) -> PathBuf {
        self.vmm_dir().join("exit.json")
    }

    /// Held by the instance's one supervisor.
    pub fn lock(&self) -> PathBuf {
        self.path("supervisor.lock")
    }

    /// The supervisor's pid, for people and tests who need to find it.
    pub fn supervisor_pid(&self) -> PathBuf {
        self.path("supervisor.pid")
    }

    /// The supervisor's output.
    pub fn supervisor_log(&self) -> PathBuf {
        self.path("supervisor.log")
    }

    /// The VMMs' output (each appends).
    pub fn vmm_log(&self) -> PathBuf {
        self.path("vmm.log")
    }

    /// What goes when the instance is terminated: all but the logs, which
    /// get-console-output and people read until the record goes.
    pub fn transient_files(&self) -> [PathBuf; 6] {
        [
            self.kernel(),
            self.path("initrd"),
            self.sock(),
            self.console_sock(),
            self.launch_file(),
            self.exit_file(),
        ]
    }
}
