//! Why a snapshot could not be made or restored.

use thiserror::Error;

/// Why a snapshot could not be made or restored. Every refusal names what differs.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// The directory is not a snapshot.
    #[error("{0} is not an ec2lab VM snapshot (no state file of this format); give the directory a `snapshot` request wrote")]
    NotASnapshot(String),
    /// Another format version.
    #[error("the snapshot has format version {saved} (written by ec2lab {by}); this ec2lab reads format version {here} only: restore it with the ec2lab that made it, or boot afresh")]
    OtherVersion {
        /// The snapshot's version.
        saved: String,
        /// Ours.
        here: u32,
        /// The ec2lab version that wrote it.
        by: String,
    },
    /// Another architecture.
    #[error("the snapshot was made on {saved}; this host is {here}")]
    OtherArch {
        /// The snapshot's.
        saved: String,
        /// Ours.
        here: String,
    },
    /// Another kind of KVM.
    #[error("the snapshot was made on {saved}; this host runs {here}, whose saved vCPU state differs: restore it on a {saved} host, or boot afresh")]
    OtherKvm {
        /// The snapshot's.
        saved: &'static str,
        /// Ours.
        here: &'static str,
    },
    /// Another CPU model or CPUID.
    #[error("the snapshot was made on another CPU: {saved}; this host has {here}. The guest may use features this CPU lacks: restore it on the same CPU model, or boot afresh")]
    OtherCpu {
        /// The snapshot's.
        saved: String,
        /// Ours.
        here: String,
    },
    /// The state file or its checksum is damaged.
    #[error("the snapshot is damaged: {0}")]
    Damaged(String),
    /// The memory file is not the size the state says.
    #[error("the snapshot's memory file {path} has {size} bytes, the guest had {want}: it is truncated or from another snapshot")]
    MemorySize {
        /// The memory file.
        path: String,
        /// Its size.
        size: u64,
        /// The guest's memory size.
        want: u64,
    },
    /// The launch's devices are not the snapshot's.
    #[error("the launch gives the guest {here}, the snapshot's guest had {saved}: give the restore the same disks (same read-only flags) and network interfaces, in the same order")]
    OtherDevices {
        /// The snapshot's.
        saved: String,
        /// The launch's.
        here: String,
    },
    /// A device's saved state does not fit the device built for it.
    #[error("the saved state of {what} does not fit")]
    Device {
        /// Which device.
        what: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The snapshot has another number of vCPUs than it says.
    #[error("the snapshot is damaged: it has state for {got} vCPUs of {want}")]
    VcpuCount {
        /// States present.
        got: usize,
        /// vCPUs the guest had.
        want: u8,
    },
    /// A KVM call failed.
    #[error("KVM refused to get or set {what}")]
    Kvm {
        /// Which state.
        what: &'static str,
        /// KVM's errno.
        #[source]
        source: kvm_ioctls::Error,
    },
    /// KVM did not take one of the saved MSRs.
    #[error("KVM refused the saved MSR {0:#x}")]
    MsrRefused(u32),
    /// More MSRs or registers than the buffers hold.
    #[error("the vCPU has more MSRs or registers than a snapshot can hold")]
    TooManyMsrs,
    /// A file of the snapshot could not be read or written.
    #[error("cannot {what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The target directory exists already.
    #[error(
        "{0} exists already; snapshots are never written over: pick a new directory or remove it"
    )]
    Exists(String),
    /// The state could not be serialized.
    #[error("cannot encode the state")]
    Encode(#[source] serde_json::Error),
    /// The memory file could not be mapped.
    #[error("cannot map the memory file: {0}")]
    Map(String),
    /// The vCPUs did not stop, or a vCPU thread did not answer.
    #[error("the vCPUs did not stop for the snapshot: {0}")]
    Pause(String),
    /// This architecture's snapshots are not complete yet.
    #[error("snapshots of {0} guests are not supported yet")]
    Unsupported(&'static str),
}
