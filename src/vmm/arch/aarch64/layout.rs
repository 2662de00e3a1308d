//! Guest physical memory map and interrupt numbering of an ec2lab aarch64 micro-VM.
//!
//! ```text
//! 0x0000_0000 ..             unmapped (a NULL dereference in the guest faults)
//! 0x0800_0000 .. 0x0900_0000 GIC: distributor, then GICv3 redistributors or GICv2 CPU interface
//! 0x0900_0000 .. 0x0900_1000 16550 UART (MMIO, byte-wide registers)
//! 0x0900_1000 .. 0x0900_2000 reserved for an RTC (not emitted in the FDT yet)
//! 0x0a00_0000 .. 0x0a02_0000 virtio-mmio slots, 4 KiB each
//! 0x8000_0000 .. +mem_size   DRAM: kernel at the bottom, initrd and FDT at the top
//! ```
//!
//! Everything here is a pure function of its arguments so it is unit-tested on
//! any host.

use thiserror::Error;
use vm_memory::GuestAddress;

/// 4 KiB, the smallest page size an arm64 guest may use.
pub const PAGE_SIZE: u64 = 0x1000;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

// --- MMIO ------------------------------------------------------------------

/// GIC distributor (both GICv2 and GICv3).
pub const GIC_DIST_BASE: u64 = 0x0800_0000;
/// The GICv3 distributor is 64 KiB; KVM wants it 64 KiB aligned.
pub const GICV3_DIST_SIZE: u64 = 0x1_0000;
/// Each GICv3 redistributor is two 64 KiB frames (RD_base and SGI_base).
pub const GICV3_REDIST_SIZE_PER_CPU: u64 = 0x2_0000;
/// Redistributors follow the distributor directly.
pub const GICV3_REDIST_BASE: u64 = GIC_DIST_BASE + GICV3_DIST_SIZE;
/// The GICv2 distributor (KVM_VGIC_V2_DIST_SIZE).
pub const GICV2_DIST_SIZE: u64 = 0x1000;
/// The GICv2 CPU interface (KVM_VGIC_V2_CPU_SIZE), placed one 64 KiB slot above
/// the distributor so either GIC version fits the same window.
pub const GICV2_CPU_BASE: u64 = GIC_DIST_BASE + 0x1_0000;
/// The GICv2 CPU interface is 8 KiB.
pub const GICV2_CPU_SIZE: u64 = 0x2000;
/// End of the window reserved for the GIC.
pub const GIC_END: u64 = 0x0900_0000;

/// Most vCPUs this layout supports: limited by the redistributor space in the
/// GIC window (GICv3). GICv2 is further limited to [`GICV2_MAX_CPUS`].
pub const MAX_CPUS: usize = ((GIC_END - GICV3_REDIST_BASE) / GICV3_REDIST_SIZE_PER_CPU) as usize;
/// GICv2 can address at most 8 CPU interfaces.
pub const GICV2_MAX_CPUS: usize = 8;

/// The 16550 UART.
pub const SERIAL_BASE: u64 = 0x0900_0000;
/// One page for the UART even though it decodes only 8 byte-wide registers.
pub const SERIAL_SIZE: u64 = 0x1000;
/// Input clock advertised for the UART: the classic 1.8432 MHz crystal, so
/// divisor 1 means 115200 baud as on a PC.
pub const SERIAL_CLOCK_HZ: u32 = 1_843_200;

/// Reserved for an RTC (e.g. PL031); no device or FDT node is created yet.
pub const RTC_BASE: u64 = 0x0900_1000;
/// Size of the RTC slot.
pub const RTC_SIZE: u64 = 0x1000;

/// First virtio-mmio slot.
pub const VIRTIO_MMIO_BASE: u64 = 0x0a00_0000;
/// Each virtio-mmio transport gets 4 KiB (registers end at 0x100 + config space).
pub const VIRTIO_MMIO_SIZE: u64 = 0x1000;
/// Number of virtio-mmio slots.
pub const VIRTIO_MMIO_SLOTS: usize = 32;

// --- Interrupts ----------------------------------------------------------------
//
// Device interrupts are GIC SPIs. The numbers below are *SPI numbers*: the GIC
// INTID is `32 + spi`. The same number is what the VMM passes to
// `VmFd::register_irqfd` / `KVM_IRQ_LINE` as GSI, because KVM's default arm64
// routing maps GSI n to SPI n (INTID 32 + n), and it is what the FDT
// `interrupts = <0 spi flags>` cell carries. One number, three uses.

/// Number of private interrupts (SGIs 0-15 + PPIs 16-31) below the first SPI.
pub const GIC_NR_PRIVATE_IRQS: u32 = 32;
/// SPI of the UART.
pub const SERIAL_SPI: u32 = 1;
/// SPI reserved for the RTC.
pub const RTC_SPI: u32 = 2;
/// SPI of virtio-mmio slot 0; slot `n` uses `VIRTIO_SPI_BASE + n`.
pub const VIRTIO_SPI_BASE: u32 = 16;
/// Total interrupts the vGIC is sized for (private + SPIs). KVM requires a
/// multiple of 32 in 64..=1024.
pub const GIC_NR_IRQS: u32 = 128;

// --- DRAM ------------------------------------------------------------------------

/// Start of guest RAM. Everything below is MMIO.
pub const DRAM_START: u64 = 0x8000_0000;
/// Smallest guest RAM we accept: kernel + FDT + a little room to boot.
pub const MIN_MEM_SIZE: usize = 32 << 20;
/// KVM's default IPA space on arm64 is 40 bits; RAM must end below it.
pub const MAX_PHYS_ADDR: u64 = 1 << 40;
/// Largest guest RAM that fits under [`MAX_PHYS_ADDR`].
pub const MAX_MEM_SIZE: usize = (MAX_PHYS_ADDR - DRAM_START) as usize;

/// Largest FDT Linux accepts (Documentation/arch/arm64/booting.rst).
pub const FDT_MAX_SIZE: usize = 2 << 20;
/// Linux maps the FDT with 2 MiB blocks: it must not straddle a 2 MiB boundary.
pub const FDT_ALIGN: u64 = 2 * MIB;
/// The Image must be loaded `text_offset` above a 2 MiB aligned base.
pub const KERNEL_ALIGN: u64 = 2 * MIB;
/// Alignment of the initrd (covers 64 KiB page kernels).
pub const INITRD_ALIGN: u64 = 0x1_0000;
/// The initrd must lie in the same 1 GiB aligned, at most 32 GiB window as the
/// kernel (booting.rst). The kernel sits at `DRAM_START`, which is 1 GiB aligned.
pub const INITRD_WINDOW: u64 = 32 * GIB;

// Layout invariants, checked at compile time.
const _: () = {
    assert!(GICV2_CPU_BASE + GICV2_CPU_SIZE <= GIC_END);
    assert!(GIC_DIST_BASE + GICV2_DIST_SIZE <= GICV2_CPU_BASE);
    assert!(SERIAL_SPI < VIRTIO_SPI_BASE && RTC_SPI < VIRTIO_SPI_BASE);
    assert!(GIC_NR_PRIVATE_IRQS + VIRTIO_SPI_BASE + VIRTIO_MMIO_SLOTS as u32 <= GIC_NR_IRQS);
    assert!(GIC_NR_IRQS.is_multiple_of(32) && GIC_NR_IRQS >= 64 && GIC_NR_IRQS <= 1024);
    assert!(VIRTIO_MMIO_BASE + VIRTIO_MMIO_SIZE * VIRTIO_MMIO_SLOTS as u64 <= DRAM_START);
    assert!(DRAM_START.is_multiple_of(GIB));
};

/// Problems with the requested memory size or placement of boot payloads.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LayoutError {
    /// Guest memory too small.
    #[error("guest memory of {0} bytes is too small: aarch64 guests need at least {MIN_MEM_SIZE} bytes (32 MiB); raise the memory size")]
    MemTooSmall(usize),
    /// Guest memory too large for the IPA space.
    #[error("guest memory of {0} bytes does not fit below the 40-bit guest physical limit (max {MAX_MEM_SIZE} bytes); lower the memory size")]
    MemTooLarge(usize),
    /// Guest memory not page aligned.
    #[error("guest memory size {0:#x} is not a multiple of 4 KiB; round it to whole pages")]
    MemUnaligned(usize),
    /// The kernel image does not fit below the boot payloads at the top of RAM.
    #[error("kernel needs {needed:#x} bytes from {start:#x} but only {available:#x} bytes are free below the initrd/FDT; give the VM more memory")]
    KernelTooLarge {
        /// Load address.
        start: u64,
        /// Bytes the kernel needs (image_size or file size).
        needed: u64,
        /// Bytes free.
        available: u64,
    },
    /// The initrd does not fit between the kernel and the FDT.
    #[error("initrd of {size:#x} bytes does not fit between the kernel end {kernel_end:#x} and {limit:#x}; give the VM more memory or use a smaller initrd")]
    InitrdTooLarge {
        /// Initrd size.
        size: u64,
        /// First byte after the kernel.
        kernel_end: u64,
        /// Upper limit for the initrd end.
        limit: u64,
    },
    /// A virtio-mmio slot number outside the window.
    #[error("virtio-mmio slot {0} does not exist: only {VIRTIO_MMIO_SLOTS} slots are laid out")]
    NoSuchVirtioSlot(usize),
}

/// Rejects memory sizes the layout cannot accommodate.
pub fn check_mem_size(mem_size: usize) -> Result<(), LayoutError> {
    if mem_size < MIN_MEM_SIZE {
        return Err(LayoutError::MemTooSmall(mem_size));
    }
    if mem_size > MAX_MEM_SIZE {
        return Err(LayoutError::MemTooLarge(mem_size));
    }
    if !(mem_size as u64).is_multiple_of(PAGE_SIZE) {
        return Err(LayoutError::MemUnaligned(mem_size));
    }
    Ok(())
}

/// Guest RAM regions for `mem_size` bytes: one contiguous block at
/// [`DRAM_START`]. Call [`check_mem_size`] first; this does not validate.
pub fn memory_regions(mem_size: usize) -> Vec<(GuestAddress, usize)> {
    vec![(GuestAddress(DRAM_START), mem_size)]
}

/// First byte past guest RAM.
pub fn dram_end(mem_size: usize) -> u64 {
    DRAM_START + mem_size as u64
}

fn align_down(v: u64, align: u64) -> u64 {
    v & !(align - 1)
}

fn align_up(v: u64, align: u64) -> Option<u64> {
    v.checked_add(align - 1).map(|x| x & !(align - 1))
}

/// Where the FDT goes: the last 2 MiB aligned 2 MiB block of RAM, so the
/// kernel's 2 MiB block mapping of it covers only the blob.
pub fn fdt_addr(mem_size: usize) -> GuestAddress {
    GuestAddress(align_down(
        dram_end(mem_size) - FDT_MAX_SIZE as u64,
        FDT_ALIGN,
    ))
}

/// Where an arm64 `Image` with the given `text_offset` is loaded.
pub fn kernel_load_addr(text_offset: u64) -> GuestAddress {
    // DRAM_START is 2 MiB aligned, which is what booting.rst requires of the base.
    GuestAddress(DRAM_START + text_offset)
}

/// Checks that a kernel occupying `needed` bytes at `load` fits below the FDT,
/// and returns its end (first free byte).
pub fn check_kernel_fits(
    mem_size: usize,
    load: GuestAddress,
    needed: u64,
) -> Result<GuestAddress, LayoutError> {
    let limit = fdt_addr(mem_size).0;
    let available = limit.saturating_sub(load.0);
    if needed > available {
        return Err(LayoutError::KernelTooLarge {
            start: load.0,
            needed,
            available,
        });
    }
    Ok(GuestAddress(load.0 + needed))
}

/// Where to put an initrd of `size` bytes: as high as possible below the FDT
/// (leaving low RAM contiguous for the kernel's allocator) but inside the
/// 32 GiB window booting.rst requires, and above `kernel_end`.
pub fn initrd_load_addr(
    mem_size: usize,
    size: u64,
    kernel_end: GuestAddress,
) -> Result<GuestAddress, LayoutError> {
    let limit = fdt_addr(mem_size).0.min(DRAM_START + INITRD_WINDOW);
    let low = align_up(kernel_end.0, INITRD_ALIGN).unwrap_or(u64::MAX);
    let err = LayoutError::InitrdTooLarge {
        size,
        kernel_end: kernel_end.0,
        limit,
    };
    let start = match limit.checked_sub(size) {
        Some(s) => align_down(s, INITRD_ALIGN),
        None => return Err(err),
    };
    if start < low {
        return Err(err);
    }
    Ok(GuestAddress(start))
}

/// MMIO base of virtio-mmio slot `slot`.
pub fn virtio_mmio_base(slot: usize) -> Result<u64, LayoutError> {
    if slot >= VIRTIO_MMIO_SLOTS {
        return Err(LayoutError::NoSuchVirtioSlot(slot));
    }
    Ok(VIRTIO_MMIO_BASE + slot as u64 * VIRTIO_MMIO_SIZE)
}

/// SPI (== KVM GSI) of virtio-mmio slot `slot`.
pub fn virtio_spi(slot: usize) -> Result<u32, LayoutError> {
    if slot >= VIRTIO_MMIO_SLOTS {
        return Err(LayoutError::NoSuchVirtioSlot(slot));
    }
    Ok(VIRTIO_SPI_BASE + slot as u32)
}

/// Size of the GICv3 redistributor region for `num_cpus` vCPUs.
pub fn gicv3_redist_size(num_cpus: usize) -> u64 {
    num_cpus as u64 * GICV3_REDIST_SIZE_PER_CPU
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmio_windows_do_not_overlap() {
        // Listed in address order; each must end before the next begins.
        let windows = [
            (GIC_DIST_BASE, GIC_END - GIC_DIST_BASE),
            (SERIAL_BASE, SERIAL_SIZE),
            (RTC_BASE, RTC_SIZE),
            (
                VIRTIO_MMIO_BASE,
                VIRTIO_MMIO_SIZE * VIRTIO_MMIO_SLOTS as u64,
            ),
            (DRAM_START, 1),
        ];
        for w in windows.windows(2) {
            assert!(
                w[0].0 + w[0].1 <= w[1].0,
                "{:#x?} overlaps {:#x?}",
                w[0],
                w[1]
            );
        }
        // GICv3 redistributors for MAX_CPUS and the GICv2 CPU interface stay in the window.
        assert!(GICV3_REDIST_BASE + gicv3_redist_size(MAX_CPUS) <= GIC_END);
        assert_eq!(GICV3_REDIST_BASE % 0x1_0000, 0);
        assert_eq!(MAX_CPUS, 127);
    }

    #[test]
    fn irq_numbers_fit_the_vgic() {
        let last = virtio_spi(VIRTIO_MMIO_SLOTS - 1).unwrap();
        assert!(GIC_NR_PRIVATE_IRQS + last < GIC_NR_IRQS);
        assert_ne!(SERIAL_SPI, RTC_SPI);
        assert_eq!(GIC_NR_IRQS % 32, 0);
        assert!((64..=1024).contains(&GIC_NR_IRQS));
    }

    #[test]
    fn virtio_slots() {
        assert_eq!(virtio_mmio_base(0).unwrap(), 0x0a00_0000);
        assert_eq!(virtio_mmio_base(3).unwrap(), 0x0a00_3000);
        assert_eq!(virtio_spi(3).unwrap(), VIRTIO_SPI_BASE + 3);
        assert_eq!(
            virtio_mmio_base(VIRTIO_MMIO_SLOTS),
            Err(LayoutError::NoSuchVirtioSlot(VIRTIO_MMIO_SLOTS))
        );
        assert!(virtio_spi(VIRTIO_MMIO_SLOTS).is_err());
    }

    #[test]
    fn mem_size_checks() {
        assert!(check_mem_size(128 << 20).is_ok());
        assert_eq!(
            check_mem_size(1 << 20),
            Err(LayoutError::MemTooSmall(1 << 20))
        );
        assert!(matches!(
            check_mem_size((128 << 20) + 1),
            Err(LayoutError::MemUnaligned(_))
        ));
        assert!(check_mem_size(MAX_MEM_SIZE).is_ok());
        assert!(matches!(
            check_mem_size(MAX_MEM_SIZE + 4096),
            Err(LayoutError::MemTooLarge(_))
        ));
    }

    #[test]
    fn regions_start_at_dram() {
        assert_eq!(
            memory_regions(256 << 20),
            vec![(GuestAddress(0x8000_0000), 256 << 20)]
        );
        assert_eq!(dram_end(256 << 20), 0x9000_0000);
    }

    #[test]
    fn fdt_is_in_last_aligned_2mib() {
        assert_eq!(fdt_addr(256 << 20), GuestAddress(0x9000_0000 - 0x20_0000));
        // Non 2 MiB multiple: round down so the blob never straddles a 2 MiB block.
        let a = fdt_addr((256 << 20) + 0x3000);
        assert_eq!(a.0 % FDT_ALIGN, 0);
        assert!(a.0 + FDT_MAX_SIZE as u64 <= dram_end((256 << 20) + 0x3000));
    }

    #[test]
    fn kernel_placement() {
        assert_eq!(kernel_load_addr(0), GuestAddress(DRAM_START));
        assert_eq!(
            kernel_load_addr(0x80000),
            GuestAddress(DRAM_START + 0x80000)
        );
        let mem = 64 << 20;
        let end = check_kernel_fits(mem, kernel_load_addr(0), 20 << 20).unwrap();
        assert_eq!(end, GuestAddress(DRAM_START + (20 << 20)));
        assert!(matches!(
            check_kernel_fits(mem, kernel_load_addr(0), 63 << 20),
            Err(LayoutError::KernelTooLarge { .. })
        ));
    }

    #[test]
    fn initrd_placement() {
        let mem = 256 << 20;
        let kend = GuestAddress(DRAM_START + (30 << 20));
        let a = initrd_load_addr(mem, 10 << 20, kend).unwrap();
        assert_eq!(a.0 % INITRD_ALIGN, 0);
        assert!(a.0 + (10 << 20) <= fdt_addr(mem).0);
        assert!(a.0 >= kend.0);
        // Odd size: still aligned and below the FDT.
        let a = initrd_load_addr(mem, 12345, kend).unwrap();
        assert_eq!(a.0 % INITRD_ALIGN, 0);
        assert!(a.0 + 12345 <= fdt_addr(mem).0);
        // Too large to fit above the kernel.
        assert!(matches!(
            initrd_load_addr(mem, 250 << 20, kend),
            Err(LayoutError::InitrdTooLarge { .. })
        ));
        assert!(initrd_load_addr(mem, u64::MAX, kend).is_err());
    }

    #[test]
    fn initrd_stays_in_32gib_window_on_big_guests() {
        let mem = 64usize << 30;
        let a = initrd_load_addr(mem, 100 << 20, GuestAddress(DRAM_START + (40 << 20))).unwrap();
        assert!(a.0 + (100 << 20) <= DRAM_START + INITRD_WINDOW);
    }
}
