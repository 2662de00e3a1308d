//! aarch64 (arm64) support: memory map, device tree, vGIC, vCPU boot state and
//! `Image` loading for one KVM guest.
//!
//! Pure parts (layout, FDT, register ids, Image header, PSCI constants) build
//! and are unit-tested on every host; the parts that issue KVM ioctls
//! ([`create_gic`], [`init_vcpu`], [`setup_regs`], [`read_mpidr`]) exist only
//! when compiling for aarch64.
//!
//! Boot sequence for the generic VMM on aarch64:
//!
//! 1. `Kvm::new()?.create_vm()?`
//! 2. [`check_mem_size`], then guest memory from [`memory_regions`]
//!    (`crate::vmm::memory::create`) and `set_user_memory_region` for it
//! 3. for each vCPU `i`: `vm.create_vcpu(i)`, then [`init_vcpu`]`(&vm, &vcpu, i)`
//! 4. [`create_gic`]`(&vm, num_cpus)` — after *all* vCPUs exist
//! 5. [`load_kernel`] (and [`load_initrd`] with `LoadedKernel::end`)
//! 6. [`read_mpidr`] of each vCPU, then [`configure_system`] with an
//!    [`FdtConfig`] whose `gic` is `*gic.config()` → FDT address
//! 7. for each vCPU `i`: [`setup_regs`]`(&vcpu, i, kernel.entry, fdt_addr)`
//! 8. run vCPU threads; handle `VcpuExit::SystemEvent` with
//!    [`psci::system_event_action`], MMIO exits for the UART at
//!    [`SERIAL_BASE`] and virtio-mmio slots at [`layout::virtio_mmio_base`].
//!    Device interrupts go through irqfds whose GSI is the device's SPI
//!    ([`SERIAL_SPI`], [`layout::virtio_spi`]).
//!
//! `vmm::machine::Machine::build` does exactly this on aarch64 hosts (devices are
//! attached after step 4, since irqfds need the vGIC); `vmm::vcpu` does step 8.

// This is a library-like surface inside the ec2lab binary: layout constants,
// PSCI ids and helpers are published for the VMM and for documentation, and
// on x86_64 builds (where this module is compiled for its unit tests) only the
// PSCI event mapping is called. Unused items are therefore expected, not bugs.
#![allow(dead_code)]

pub mod fdt;
pub mod gic;
pub mod kernel;
pub mod layout;
pub mod psci;
pub mod regs;
#[cfg(target_arch = "aarch64")]
pub mod vcpu;

use thiserror::Error;
use vm_memory::GuestAddress;

use crate::vmm::memory::GuestMemory;

// Re-exports are the surface the VMM picks from; see the allow(dead_code) note.
#[allow(unused_imports)]
pub use fdt::{create_fdt, write_fdt, FdtConfig, FdtError};
#[cfg(target_arch = "aarch64")]
#[allow(unused_imports)]
pub use gic::{create_gic, Gic};
#[allow(unused_imports)]
pub use gic::{GicConfig, GicError, GicVersion};
#[allow(unused_imports)]
pub use kernel::{load_initrd, load_kernel, KernelError, LoadedKernel};
#[allow(unused_imports)]
pub use layout::{
    check_mem_size, fdt_addr, memory_regions, LayoutError, DRAM_START, MAX_CPUS, SERIAL_BASE,
    SERIAL_SPI, VIRTIO_MMIO_SIZE, VIRTIO_MMIO_SLOTS,
};
#[cfg(target_arch = "aarch64")]
#[allow(unused_imports)]
pub use vcpu::{init_vcpu, read_mpidr, setup_regs, VcpuError};

/// Any aarch64 setup failure; each variant's message says what to do.
#[derive(Debug, Error)]
pub enum Error {
    /// Memory size or placement.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// Kernel or initrd loading.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// Device tree.
    #[error(transparent)]
    Fdt(#[from] FdtError),
    /// vGIC.
    #[error(transparent)]
    Gic(#[from] GicError),
    /// vCPU init or registers.
    #[cfg(target_arch = "aarch64")]
    #[error(transparent)]
    Vcpu(#[from] VcpuError),
}

/// Kernel switches every aarch64 guest gets unless the user replaces the command line:
///
/// - `console=ttyS0`: kernel console on the 16550 UART at [`SERIAL_BASE`] (the FDT's
///   `stdout-path` points there too);
/// - `earlycon=uart,mmio,<SERIAL_BASE>`: byte-wide MMIO early console, so messages
///   printed before the 8250 driver binds (and early crashes) are not lost;
/// - `panic=1`: on a panic reboot (PSCI SYSTEM_RESET, a VMM exit) after 1 s;
/// - `8250.nr_uarts=1`: only the one UART the FDT describes.
///
/// Reboots go through PSCI, which Linux uses by default: no `reboot=` switch.
pub fn base_kernel_switches() -> String {
    format!("console=ttyS0 earlycon=uart,mmio,{SERIAL_BASE:#010x} panic=1 8250.nr_uarts=1")
}

/// Builds the device tree for `cfg` and writes it to the top of guest RAM.
/// Returns its guest address, which goes in X0 of the boot vCPU
/// (`setup_regs(.., fdt_addr)`).
pub fn configure_system(mem: &GuestMemory, cfg: &FdtConfig) -> Result<GuestAddress, Error> {
    let blob = create_fdt(cfg)?;
    Ok(write_fdt(mem, &blob)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_switches_name_the_uart() {
        assert_eq!(
            base_kernel_switches(),
            "console=ttyS0 earlycon=uart,mmio,0x09000000 panic=1 8250.nr_uarts=1"
        );
    }

    #[test]
    fn configure_system_end_to_end_without_kvm() {
        // Everything but the ioctls: memory, kernel, initrd, FDT, boot registers.
        let mem_size = 128 << 20;
        check_mem_size(mem_size).unwrap();
        let mem = crate::vmm::memory::create(&memory_regions(mem_size)).unwrap();

        let mut img = vec![0u8; 4096];
        img[16..24].copy_from_slice(&(8u64 << 20).to_le_bytes());
        img[56..60].copy_from_slice(b"ARM\x64");
        let k = load_kernel(&mem, mem_size, &mut std::io::Cursor::new(img)).unwrap();
        assert_eq!(k.entry, GuestAddress(DRAM_START));

        let initrd = vec![7u8; 100_000];
        let (iaddr, isize) = load_initrd(
            &mem,
            mem_size,
            k.end,
            &mut std::io::Cursor::new(&initrd),
            initrd.len(),
        )
        .unwrap();

        let mpidrs = [regs::default_mpidr(0), regs::default_mpidr(1)];
        let virtio = [(
            layout::virtio_mmio_base(0).unwrap(),
            VIRTIO_MMIO_SIZE,
            layout::virtio_spi(0).unwrap(),
        )];
        let cfg = FdtConfig {
            cmdline: "console=ttyS0",
            num_cpus: 2,
            mem_size,
            initrd: Some((iaddr, isize)),
            serial: (SERIAL_BASE, SERIAL_SPI),
            virtio_devices: &virtio,
            gic: GicConfig::new(GicVersion::V3, 2).unwrap(),
            mpidrs: &mpidrs,
        };
        let fdt_at = configure_system(&mem, &cfg).unwrap();
        assert_eq!(fdt_at, fdt_addr(mem_size));
        // Payloads do not overlap: kernel < initrd < FDT.
        assert!(k.end.0 <= iaddr.0 && iaddr.0 + isize as u64 <= fdt_at.0);

        let r = regs::boot_regs(0, k.entry.0, fdt_at.0);
        assert!(r.contains(&(regs::core_reg_id(regs::offsets::PC), DRAM_START)));
        assert!(r.contains(&(regs::xreg_id(0), fdt_at.0)));
    }
}
