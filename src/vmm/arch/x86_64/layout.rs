//! Guest-physical memory map of an x86_64 guest.
//!
//! ```text
//! 0x0000_0500  GDT                      0x0000_9000  PML4 / PDPT / PD (identity map, 1 GiB)
//! 0x0000_6000  PVH start info + memmap  0x0002_0000  kernel command line
//! 0x0000_7000  zero page (Linux boot)   0x0009_fc00  EBDA: MP table
//! 0x0000_8ff0  boot stack top           0x0010_0000  kernel (high memory)
//! 0xc000_0000 .. 4 GiB: MMIO hole (virtio-mmio slots at 0xd000_0000, IOAPIC, LAPIC)
//! 4 GiB ..     RAM above the hole
//! ```

use vm_memory::GuestAddress;

/// The boot GDT.
pub const GDT_ADDR: u64 = 0x500;
/// The PVH `hvm_start_info` a PVH kernel finds in %rbx.
pub const PVH_INFO_ADDR: u64 = 0x6000;
/// The PVH memory map, right after the start info.
pub const PVH_MEMMAP_ADDR: u64 = PVH_INFO_ADDR + 0x40;
/// The PVH module list (the initrd).
pub const PVH_MODLIST_ADDR: u64 = 0x6800;
/// The Linux boot protocol's zero page (`boot_params`).
pub const ZERO_PAGE_ADDR: u64 = 0x7000;
/// The initial stack pointer.
pub const BOOT_STACK_TOP: u64 = 0x8ff0;
/// The identity map's top-level page table.
pub const PML4_ADDR: u64 = 0x9000;
/// The identity map's page-directory-pointer table.
pub const PDPT_ADDR: u64 = 0xa000;
/// The identity map's page directory (2 MiB pages, 1 GiB).
pub const PD_ADDR: u64 = 0xb000;
/// The kernel command line.
pub const CMDLINE_ADDR: u64 = 0x20000;
/// Linux x86 `COMMAND_LINE_SIZE`.
pub const CMDLINE_MAX: usize = 2048;
/// The Extended BIOS Data Area, where Linux looks for an MP table.
pub const EBDA_START: u64 = 0x9fc00;
/// The MP table that lists the vCPUs for the guest.
pub const MPTABLE_ADDR: u64 = EBDA_START;
/// Where the kernel is loaded: 1 MiB.
pub const HIMEM_START: u64 = 0x10_0000;

/// Start of the hole below 4 GiB that holds device MMIO instead of RAM.
pub const MMIO_HOLE_START: u64 = 0xc000_0000;
/// Where RAM resumes above the MMIO hole.
pub const FOUR_GIB: u64 = 1 << 32;
/// First virtio-mmio slot; each device takes one 4 KiB page.
pub const VIRTIO_MMIO_BASE: u64 = 0xd000_0000;
/// Size of one virtio-mmio slot.
pub const VIRTIO_MMIO_SIZE: u64 = 0x1000;
/// The in-kernel IOAPIC's registers.
pub const IOAPIC_ADDR: u32 = 0xfec0_0000;
/// The local APICs' registers.
pub const LAPIC_ADDR: u32 = 0xfee0_0000;

/// Legacy ISA interrupt lines; virtio devices get the lines after these.
pub const SERIAL_IRQ: u32 = 4;
/// The keyboard controller's interrupt line.
pub const I8042_IRQ: u32 = 1;
/// The line of the first virtio device; each next device takes the next line.
pub const FIRST_VIRTIO_IRQ: u32 = 5;
/// The in-kernel IOAPIC has 24 pins.
pub const LAST_IRQ: u32 = 23;

/// The console UART's first I/O port (COM1).
pub const SERIAL_PORT: u16 = 0x3f8;
/// The keyboard controller's data port; its command port is 4 above.
pub const I8042_PORT: u16 = 0x60;

/// Guest RAM regions for `mem_size` bytes, split around the MMIO hole.
pub fn memory_regions(mem_size: u64) -> Vec<(GuestAddress, usize)> {
    if mem_size <= MMIO_HOLE_START {
        vec![(GuestAddress(0), mem_size as usize)]
    } else {
        vec![
            (GuestAddress(0), MMIO_HOLE_START as usize),
            (
                GuestAddress(FOUR_GIB),
                (mem_size - MMIO_HOLE_START) as usize,
            ),
        ]
    }
}

/// Where the initrd goes: page-aligned, as high in low RAM as it fits (below the hole),
/// so it stays clear of the kernel image loaded at 1 MiB.
pub fn initrd_addr(mem_size: u64, initrd_size: u64) -> Option<u64> {
    let top = mem_size.min(MMIO_HOLE_START);
    let addr = top.checked_sub(initrd_size)? & !0xfff;
    (addr >= HIMEM_START).then_some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_split_around_the_hole() {
        assert_eq!(
            memory_regions(512 << 20),
            vec![(GuestAddress(0), 512 << 20)]
        );
        let r = memory_regions(4 << 30);
        assert_eq!(r[0], (GuestAddress(0), MMIO_HOLE_START as usize));
        assert_eq!(r[1], (GuestAddress(FOUR_GIB), (1 << 30) as usize));
    }

    #[test]
    fn initrd_goes_high_and_aligned() {
        assert_eq!(initrd_addr(256 << 20, 0x1001), Some((256 << 20) - 0x2000));
        assert_eq!(initrd_addr(2 << 20, 4 << 20), None);
    }
}
