//! Why the VMM could not build or run the guest.

use thiserror::Error;

#[cfg(target_arch = "aarch64")]
use crate::vmm::arch::aarch64 as arch;
#[cfg(target_arch = "x86_64")]
use crate::vmm::arch::x86_64 as arch;
use crate::vmm::config::ConfigError;
use crate::vmm::devices::bus::BusError;
use crate::vmm::devices::virtio;

/// Why the VMM could not build or run the guest.
#[derive(Debug, Error)]
pub enum VmmError {
    /// The launch description is inconsistent.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `/dev/kvm` could not be opened.
    #[error("Cannot open /dev/kvm (is KVM enabled on this host, and are you root or in the 'kvm' group?)")]
    OpenKvm(#[source] kvm_ioctls::Error),
    /// A KVM call failed.
    #[error("KVM refused {what}")]
    Kvm {
        /// What the VMM asked KVM for.
        what: &'static str,
        /// KVM's errno.
        #[source]
        source: kvm_ioctls::Error,
    },
    /// Guest memory could not be mapped.
    #[error("Cannot allocate {mib} MiB of guest memory (ask for less with --mem-mib)")]
    Memory {
        /// How much was asked for.
        mib: u64,
        /// Why the mapping failed.
        #[source]
        source: vm_memory::mmap::FromRangesError,
    },
    /// Loading the kernel or setting up the architecture's boot state failed.
    #[cfg(target_arch = "x86_64")]
    #[error(transparent)]
    Arch(#[from] arch::ArchError),
    /// Loading the kernel or setting up the architecture's boot state failed.
    #[cfg(target_arch = "aarch64")]
    #[error(transparent)]
    Arch(#[from] arch::Error),
    /// A boot file (kernel, initrd) could not be read.
    #[cfg(target_arch = "aarch64")]
    #[error("Cannot read the {what} {path} (check the --{what} path)")]
    BootFile {
        /// Which boot file: `kernel` or `initrd`.
        what: &'static str,
        /// Its path.
        path: String,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The file the console goes to could not be opened.
    #[error("Cannot open the serial output file {path}")]
    SerialOut {
        /// The file.
        path: String,
        /// Why it could not be opened.
        #[source]
        source: std::io::Error,
    },
    /// An eventfd (interrupts, exit signal) could not be made.
    #[error("Cannot create an event fd")]
    EventFd(#[source] std::io::Error),
    /// Two devices claim the same address range.
    #[error("Device layout error")]
    Bus(#[from] BusError),
    /// A control or console socket could not be bound.
    #[error("Cannot set up the socket {path} (is another VMM using it? Pick another path)")]
    Socket {
        /// The socket path.
        path: String,
        /// Why it could not be bound.
        #[source]
        source: std::io::Error,
    },
    /// A disk could not be attached at launch.
    #[error("Disk {path}")]
    Disk {
        /// The disk image.
        path: String,
        /// Why it could not be attached.
        #[source]
        source: virtio::BlockError,
    },
    /// A network interface could not be set up.
    #[error("Network interface on tap {tap}")]
    Tap {
        /// The tap it was to use.
        tap: String,
        /// Why the tap could not be used.
        #[source]
        source: virtio::tap::TapError,
    },
    /// A virtio device declared queues the transport cannot offer.
    #[error("Cannot set up a virtio device")]
    Transport(#[from] virtio::mmio::TransportError),
    /// A vCPU thread could not be started.
    #[error(transparent)]
    VcpuThread(#[from] crate::vmm::vcpu::SpawnError),
    /// A thread's seccomp filter could not be built or installed.
    #[error(transparent)]
    Seccomp(#[from] crate::vmm::seccomp::SeccompError),
    /// The VMM could not enter its jail.
    #[error(transparent)]
    Jail(#[from] crate::vmm::jail::JailError),
    /// The main event loop failed.
    #[error("The event loop failed: {0}")]
    EventLoop(String),
    /// The snapshot to restore was refused, or restoring it failed.
    #[error("Cannot restore the snapshot {dir}")]
    Restore {
        /// The snapshot directory.
        dir: String,
        /// What was wrong.
        #[source]
        source: crate::vmm::snapshot::SnapshotError,
    },
    /// This build has no boot code for the host's architecture.
    #[error("This build of ec2lab cannot boot guests on this architecture yet")]
    UnsupportedArch,
}
