//! Why an x86_64 guest could not be set up; its own module so that every part of the
//! loader can name it without reaching up to the parent.

use thiserror::Error;

/// Why an x86_64 guest could not be loaded or set up.
#[derive(Debug, Error)]
pub enum ArchError {
    /// The kernel file could not be read.
    #[error("Cannot read the kernel image (check the --kernel path)")]
    KernelRead(#[source] std::io::Error),
    /// The kernel is in a format this loader does not take.
    #[error("The kernel is neither an ELF vmlinux nor a bzImage. Pass an uncompressed vmlinux (e.g. guest-images/out/vmlinux) or a bzImage")]
    KernelFormat,
    /// The kernel could not be placed in guest memory.
    #[error("Cannot load the kernel into guest memory (is --mem-mib large enough for it?)")]
    KernelLoad(#[source] linux_loader::loader::Error),
    /// The initrd file could not be read.
    #[error("Cannot read the initrd (check the --initrd path)")]
    InitrdRead(#[source] std::io::Error),
    /// The initrd does not fit in low guest memory.
    #[error("The initrd ({size} bytes) does not fit in guest memory below 3 GiB; give the guest more memory or use a smaller initrd")]
    InitrdTooBig {
        /// Its size in bytes.
        size: u64,
    },
    /// The command line is longer than the kernel accepts.
    #[error("The kernel command line is {len} bytes; x86 kernels accept at most {max}. Shorten --cmdline")]
    CmdlineTooLong {
        /// Its length in bytes.
        len: usize,
        /// The kernel's limit.
        max: usize,
    },
    /// Guest memory cannot hold a boot structure (named here).
    #[error("Guest memory is too small to hold {0}; give the guest at least 16 MiB")]
    GuestMemoryTooSmall(&'static str),
    /// The boot parameters could not be written.
    #[error("Cannot write the boot parameters")]
    BootParams(#[source] linux_loader::configurator::Error),
    /// A VM-wide KVM set-up call failed.
    #[error("KVM refused the VM set-up ({what})")]
    VmSetup {
        /// What was being set up.
        what: &'static str,
        /// KVM's errno.
        #[source]
        source: kvm_ioctls::Error,
    },
    /// Setting a vCPU's registers failed.
    #[error("KVM refused a vCPU register set-up")]
    SetRegisters(#[source] kvm_ioctls::Error),
    /// The CPUID that KVM supports could not be read.
    #[error("Cannot read the CPUID that KVM supports")]
    Cpuid(#[source] kvm_ioctls::Error),
    /// The MSR list could not be built.
    #[error("Cannot build the MSR list")]
    MsrList,
    /// KVM refused to set an MSR.
    #[error("KVM rejected MSR {0:#x} at boot")]
    MsrRejected(u32),
}
