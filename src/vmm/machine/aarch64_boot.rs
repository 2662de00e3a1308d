//! The steps of the aarch64 build that have no x86 counterpart.
use std::fs::File;
use std::path::Path;

use kvm_ioctls::{VcpuFd, VmFd};
use vm_memory::GuestAddress;

use super::{arch, create_vcpu, Bus, Common, MmioSlot, VmConfig, VmmError};
use crate::vmm::memory::GuestMemory;

pub fn arch_err(e: impl Into<arch::Error>) -> VmmError {
    VmmError::Arch(e.into())
}

/// Creates and initialises `count` vCPUs (all but the first start powered off).
pub fn init_vcpus(vm: &VmFd, count: u8) -> Result<Vec<VcpuFd>, VmmError> {
    (0..count)
        .map(|id| {
            let fd = create_vcpu(vm, id)?;
            arch::init_vcpu(vm, &fd, usize::from(id)).map_err(arch_err)?;
            Ok(fd)
        })
        .collect()
}

/// Puts the disks and network interfaces in the virtio-mmio slots; returns them as
/// the FDT lists them, which is how the guest finds them (not on its command line).
pub fn attach_devices(
    common: &Common,
    vm: &VmFd,
    mmio: &mut Bus,
    cfg: &VmConfig,
) -> Result<Vec<(u64, u64, u32)>, VmmError> {
    let slots = (0..arch::VIRTIO_MMIO_SLOTS)
        .map(|i| {
            Ok(MmioSlot {
                base: arch::layout::virtio_mmio_base(i)?,
                gsi: arch::layout::virtio_spi(i)?,
            })
        })
        .collect::<Result<Vec<_>, arch::LayoutError>>()
        .map_err(arch_err)?;
    let used = common.attach_devices(vm, mmio, cfg, &slots, arch::VIRTIO_MMIO_SIZE)?;
    Ok(used
        .iter()
        .map(|s| (s.base, arch::VIRTIO_MMIO_SIZE, s.gsi))
        .collect())
}

/// Loads the kernel `Image` and the initrd, if any; returns where they went.
pub fn load_payloads(
    mem: &GuestMemory,
    cfg: &VmConfig,
    mem_size: usize,
) -> Result<(arch::LoadedKernel, Option<(GuestAddress, usize)>), VmmError> {
    let (mut file, _) = open("kernel", &cfg.kernel)?;
    let kernel = arch::load_kernel(mem, mem_size, &mut file).map_err(arch_err)?;
    let Some(path) = &cfg.initrd else {
        return Ok((kernel, None));
    };
    let (mut file, size) = open("initrd", path)?;
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let initrd = arch::load_initrd(mem, mem_size, kernel.end, &mut file, size);
    Ok((kernel, Some(initrd.map_err(arch_err)?)))
}

/// Opens a boot file; returns it with its size.
fn open(what: &'static str, path: &Path) -> Result<(File, u64), VmmError> {
    let err = |source| VmmError::BootFile {
        what,
        path: path.display().to_string(),
        source,
    };
    let file = File::open(path).map_err(err)?;
    let size = file.metadata().map_err(err)?.len();
    Ok((file, size))
}
