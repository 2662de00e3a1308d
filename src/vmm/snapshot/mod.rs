//! VM snapshots: a paused guest's vCPUs, interrupt controllers, clock, devices and
//! memory saved to a directory, and a VM built from one. One concern per file:
//!
//! - [`format`]: the directory layout, versioned manifest, state file and checksum;
//! - [`host`]: the KVM kind and CPU model a snapshot is tied to;
//! - [`x86_64`] / [`aarch64`]: vCPU state (and on x86 the VM's irqchip, PIT, clock);
//! - [`devices`]: device state and the device set a restore must match;
//! - [`memory`]: guest memory written sparse, mapped back copy-on-write.
//!
//! The control socket's `snapshot` request ([`crate::vmm::controller`]) gathers the
//! parts with the vCPUs paused and calls [`save`]; `ec2lab vmm --restore DIR` calls
//! [`load`], which checks everything before any KVM object exists, then
//! [`crate::vmm::machine::Machine::restore`] builds the VM from it.

pub mod aarch64;
pub mod devices;
pub mod error;
pub mod format;
pub mod host;
pub mod memory;
pub mod take;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

use std::path::{Path, PathBuf};

pub use error::SnapshotError;
use serde::{Deserialize, Serialize};

use devices::{DeviceSet, DeviceStates};
use format::{HostIdentity, Manifest, MEMORY_FILE};
use memory::Region;

use crate::vmm::memory::GuestMemory;

/// The vCPU state of this architecture.
#[cfg(target_arch = "x86_64")]
pub type ArchVcpu = x86_64::VcpuState;
/// The vCPU state of this architecture.
#[cfg(not(target_arch = "x86_64"))]
pub type ArchVcpu = aarch64::VcpuState;
/// The VM-wide KVM state of this architecture (irqchip, PIT, clock on x86).
#[cfg(target_arch = "x86_64")]
pub type ArchVm = x86_64::VmState;
/// The VM-wide KVM state of this architecture (not saved on aarch64 yet).
#[cfg(not(target_arch = "x86_64"))]
pub type ArchVm = ();

/// Everything of a guest but its memory's bytes.
#[derive(Serialize, Deserialize)]
pub struct MachineState {
    /// Guest memory in MiB (the launch's value; the regions say where it lies).
    pub mem_mib: u64,
    /// vCPUs the guest had.
    pub vcpus: u8,
    /// The kernel command line it booted with (for people, and for status).
    pub cmdline: String,
    /// The memory regions, in memory-file order.
    pub memory: Vec<Region>,
    /// The devices the guest was given.
    pub device_set: DeviceSet,
    /// Their state.
    pub devices: DeviceStates,
    /// KVM's VM-wide state.
    pub vm: ArchVm,
    /// Each vCPU's state, by index.
    pub vcpu_states: Vec<ArchVcpu>,
}

/// Reads one parked vCPU's state (on its own thread: see `PauseGate::run_on`).
#[cfg(target_arch = "x86_64")]
pub fn save_vcpu(
    fd: &kvm_ioctls::VcpuFd,
    id: u8,
    msr_list: &[u32],
) -> Result<ArchVcpu, SnapshotError> {
    x86_64::VcpuState::save(fd, id, msr_list)
}

/// Reads one parked vCPU's state (on its own thread: see `PauseGate::run_on`).
#[cfg(target_arch = "aarch64")]
pub fn save_vcpu(fd: &kvm_ioctls::VcpuFd, id: u8, _: &[u32]) -> Result<ArchVcpu, SnapshotError> {
    aarch64::VcpuState::save(fd, id)
}

/// Reads one parked vCPU's state.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn save_vcpu(_: &kvm_ioctls::VcpuFd, _: u8, _: &[u32]) -> Result<ArchVcpu, SnapshotError> {
    Err(SnapshotError::Unsupported(std::env::consts::ARCH))
}

/// Reads the VM-wide state; every vCPU must be parked.
#[cfg(target_arch = "x86_64")]
pub fn save_vm(vm: &kvm_ioctls::VmFd) -> Result<ArchVm, SnapshotError> {
    x86_64::VmState::save(vm)
}

/// Reads the VM-wide state: refused until the vGIC's state is saved.
#[cfg(not(target_arch = "x86_64"))]
pub fn save_vm(_: &kvm_ioctls::VmFd) -> Result<ArchVm, SnapshotError> {
    Err(SnapshotError::Unsupported(std::env::consts::ARCH))
}

/// This host's identity, given the bytes of the CPUID it gives (or gave) vCPU 0.
pub fn host_identity(guest_cpuid: &[u8]) -> HostIdentity {
    HostIdentity {
        arch: std::env::consts::ARCH.into(),
        kvm: host::kvm_kind(),
        cpu: host::cpu_model(guest_cpuid),
    }
}

/// Writes `state` and `mem` to `dir`: first into a sibling temporary directory, which
/// is renamed to `dir` only once complete, so `dir` never holds half a snapshot.
/// `guest_cpuid` is the CPUID the VMM gave vCPU 0 (as it set it: KVM's read-back has
/// bits that change as the guest runs, such as OSXSAVE), which the manifest hashes.
pub fn save(
    dir: &Path,
    state: &MachineState,
    mem: &GuestMemory,
    guest_cpuid: &[u8],
) -> Result<Manifest, SnapshotError> {
    if cfg!(not(target_arch = "x86_64")) {
        return Err(SnapshotError::Unsupported(std::env::consts::ARCH));
    }
    if dir.exists() {
        return Err(SnapshotError::Exists(dir.display().to_string()));
    }
    if state.vcpu_states.len() != usize::from(state.vcpus) {
        return Err(SnapshotError::VcpuCount {
            got: state.vcpu_states.len(),
            want: state.vcpus,
        });
    }
    let tmp = partial_dir(dir);
    let _ = std::fs::remove_dir_all(&tmp);
    let io = |what, path: &Path| {
        let path = path.display().to_string();
        move |source| SnapshotError::Io { what, path, source }
    };
    std::fs::create_dir_all(&tmp).map_err(io("create", &tmp))?;
    let written = (|| {
        let bytes = memory::save(mem, &tmp.join(MEMORY_FILE))?;
        let manifest = Manifest::new(&host_identity(guest_cpuid), bytes);
        format::write_state(&tmp, &manifest, state)?;
        // The files' data is on disk (memory::save synced; sync the rest) before the
        // rename makes the snapshot visible.
        for f in [format::STATE_FILE, format::CHECKSUM_FILE] {
            let p = tmp.join(f);
            std::fs::File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(io("sync", &p))?;
        }
        std::fs::rename(&tmp, dir).map_err(io("rename into place", dir))?;
        Ok(manifest)
    })();
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    written
}

/// `DIR` is built as `.DIR.partial-PID` beside it.
fn partial_dir(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot".into());
    dir.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// A snapshot that passed every check but the launch's devices (which
/// `Machine::restore` checks against its description).
pub struct Loaded {
    /// Who made it, where.
    pub manifest: Manifest,
    /// The guest's state.
    pub state: MachineState,
    /// The memory file.
    pub memory_file: PathBuf,
}

/// Reads and checks the snapshot in `dir`: checksum, format version, architecture, KVM
/// kind, the state itself, then the CPU (`cpuid_here(vcpus)` gives the CPUID bytes this
/// host would give vCPU 0 of that many) and the memory file's size. Nothing is mapped
/// or created.
pub fn load(dir: &Path, cpuid_here: impl FnOnce(u8) -> Vec<u8>) -> Result<Loaded, SnapshotError> {
    let (manifest, body) = format::read_state(dir)?;
    let partial = host_identity(&[]);
    if manifest.arch != partial.arch || manifest.kvm != partial.kvm {
        manifest.check_host(&partial)?;
    }
    let state: MachineState = format::parse_state(&body)?;
    if state.vcpu_states.len() != usize::from(state.vcpus) {
        return Err(SnapshotError::VcpuCount {
            got: state.vcpu_states.len(),
            want: state.vcpus,
        });
    }
    manifest.check_host(&host_identity(&cpuid_here(state.vcpus)))?;
    let want: u64 = state.memory.iter().map(|r| r.len).sum();
    if want != manifest.memory_bytes {
        return Err(SnapshotError::Damaged(
            "the state's memory regions do not add up to the manifest's memory size".into(),
        ));
    }
    let memory_file = dir.join(MEMORY_FILE);
    let size = std::fs::metadata(&memory_file)
        .map_err(|source| SnapshotError::Io {
            what: "read the memory file",
            path: memory_file.display().to_string(),
            source,
        })?
        .len();
    if size != want {
        return Err(SnapshotError::MemorySize {
            path: memory_file.display().to_string(),
            size,
            want,
        });
    }
    Ok(Loaded {
        manifest,
        state,
        memory_file,
    })
}
