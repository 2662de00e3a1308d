//! Putting a kernel, an initrd and the boot information into guest memory.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use linux_loader::configurator::linux::LinuxBootConfigurator;
use linux_loader::configurator::pvh::PvhBootConfigurator;
use linux_loader::configurator::{BootConfigurator, BootParams};
use linux_loader::loader::bootparam::{boot_e820_entry, boot_params};
use linux_loader::loader::elf::start_info::{
    hvm_memmap_table_entry, hvm_modlist_entry, hvm_start_info,
};
use linux_loader::loader::elf::PvhBootCapability;
use linux_loader::loader::{BzImage, Elf, KernelLoader};
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend};

use super::error::ArchError;
use super::layout::*;
use super::regs::BootProtocol;
use crate::vmm::memory::GuestMemory;

const E820_RAM: u32 = 1;
const E820_RESERVED: u32 = 2;
const XEN_HVM_START_MAGIC: u32 = 0x336e_c578;
const KERNEL_BOOT_FLAG_MAGIC: u16 = 0xaa55;
const KERNEL_HDR_MAGIC: u32 = 0x5372_6448; // "HdrS"
const KERNEL_LOADER_OTHER: u8 = 0xff;
const KERNEL_MIN_ALIGNMENT: u32 = 0x0100_0000;
/// The 64-bit entry point sits this far into a bzImage's protected-mode code.
const BZIMAGE_64BIT_ENTRY_OFFSET: u64 = 0x200;

/// Where and how to enter the loaded kernel.
#[derive(Clone, Copy, Debug)]
pub struct KernelEntry {
    /// The guest-physical address of the first instruction.
    pub entry: u64,
    /// The entry convention: which registers and tables the kernel expects there.
    pub protocol: BootProtocol,
    /// The bzImage's own setup header, which the zero page must carry.
    setup_header: Option<linux_loader::loader::bootparam::setup_header>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KernelFormat {
    Elf,
    BzImage,
}

fn detect_format(file: &mut File) -> Result<KernelFormat, ArchError> {
    let mut head = [0u8; 0x206];
    let n = file.read(&mut head).map_err(ArchError::KernelRead)?;
    file.seek(SeekFrom::Start(0))
        .map_err(ArchError::KernelRead)?;
    if n >= 4 && &head[..4] == b"\x7fELF" {
        Ok(KernelFormat::Elf)
    } else if n >= 0x206 && &head[0x202..0x206] == b"HdrS" {
        Ok(KernelFormat::BzImage)
    } else {
        Err(ArchError::KernelFormat)
    }
}

/// Loads an ELF vmlinux (entered through PVH when it carries the PVH note) or a bzImage.
pub fn load_kernel(mem: &GuestMemory, path: &Path) -> Result<KernelEntry, ArchError> {
    let mut file = File::open(path).map_err(ArchError::KernelRead)?;
    let himem = Some(GuestAddress(HIMEM_START));
    match detect_format(&mut file)? {
        KernelFormat::Elf => {
            let r = Elf::load(mem, None, &mut file, himem).map_err(ArchError::KernelLoad)?;
            Ok(match r.pvh_boot_cap {
                PvhBootCapability::PvhEntryPresent(addr) => KernelEntry {
                    entry: addr.0,
                    protocol: BootProtocol::Pvh,
                    setup_header: None,
                },
                _ => KernelEntry {
                    entry: r.kernel_load.0,
                    protocol: BootProtocol::Linux,
                    setup_header: None,
                },
            })
        }
        KernelFormat::BzImage => {
            let r = BzImage::load(mem, None, &mut file, himem).map_err(ArchError::KernelLoad)?;
            Ok(KernelEntry {
                entry: r.kernel_load.0 + BZIMAGE_64BIT_ENTRY_OFFSET,
                protocol: BootProtocol::Linux,
                setup_header: r.setup_header,
            })
        }
    }
}

/// Copies the initrd high into low RAM; returns its guest address and size.
pub fn load_initrd(mem: &GuestMemory, path: &Path) -> Result<(u64, u64), ArchError> {
    let mut file = File::open(path).map_err(ArchError::InitrdRead)?;
    let size = file.metadata().map_err(ArchError::InitrdRead)?.len();
    let ram = mem.last_addr().0 + 1;
    let addr = initrd_addr(ram, size).ok_or(ArchError::InitrdTooBig { size })?;
    mem.read_exact_volatile_from(GuestAddress(addr), &mut file, size as usize)
        .map_err(|_| ArchError::InitrdTooBig { size })?;
    Ok((addr, size))
}

/// (start, size, type) of every range the guest sees in its memory map.
pub fn e820_map(mem_size: u64) -> Vec<(u64, u64, u32)> {
    let mut map = vec![
        (0, EBDA_START, E820_RAM),
        (EBDA_START, HIMEM_START - EBDA_START, E820_RESERVED),
    ];
    let low_end = mem_size.min(MMIO_HOLE_START);
    map.push((HIMEM_START, low_end - HIMEM_START, E820_RAM));
    if mem_size > MMIO_HOLE_START {
        map.push((FOUR_GIB, mem_size - MMIO_HOLE_START, E820_RAM));
    }
    map
}

/// Writes the command line and the boot information the entry protocol expects.
pub fn write_boot_info(
    mem: &GuestMemory,
    kernel: &KernelEntry,
    cmdline: &str,
    initrd: Option<(u64, u64)>,
    mem_size: u64,
) -> Result<(), ArchError> {
    if cmdline.len() >= CMDLINE_MAX {
        return Err(ArchError::CmdlineTooLong {
            len: cmdline.len(),
            max: CMDLINE_MAX - 1,
        });
    }
    let mut bytes = Vec::with_capacity(cmdline.len() + 1);
    bytes.extend_from_slice(cmdline.as_bytes());
    bytes.push(0);
    mem.write_slice(&bytes, GuestAddress(CMDLINE_ADDR))
        .map_err(|_| ArchError::GuestMemoryTooSmall("the command line"))?;

    let map = e820_map(mem_size);
    match kernel.protocol {
        BootProtocol::Pvh => {
            let memmap: Vec<hvm_memmap_table_entry> = map
                .iter()
                .map(|&(addr, size, type_)| hvm_memmap_table_entry {
                    addr,
                    size,
                    type_,
                    reserved: 0,
                })
                .collect();
            let mut info = hvm_start_info {
                magic: XEN_HVM_START_MAGIC,
                version: 1,
                cmdline_paddr: CMDLINE_ADDR,
                memmap_paddr: PVH_MEMMAP_ADDR,
                memmap_entries: memmap.len() as u32,
                ..Default::default()
            };
            let mut params = BootParams::new(&info, GuestAddress(PVH_INFO_ADDR));
            if let Some((paddr, size)) = initrd {
                info.nr_modules = 1;
                info.modlist_paddr = PVH_MODLIST_ADDR;
                params = BootParams::new(&info, GuestAddress(PVH_INFO_ADDR));
                let module = hvm_modlist_entry {
                    paddr,
                    size,
                    ..Default::default()
                };
                params.set_modules(&[module], GuestAddress(PVH_MODLIST_ADDR));
            }
            params.set_sections(&memmap, GuestAddress(PVH_MEMMAP_ADDR));
            PvhBootConfigurator::write_bootparams::<GuestMemory>(&params, mem)
                .map_err(ArchError::BootParams)
        }
        BootProtocol::Linux => {
            let mut zp = boot_params::default();
            if let Some(h) = kernel.setup_header {
                zp.hdr = h;
            }
            zp.hdr.type_of_loader = KERNEL_LOADER_OTHER;
            zp.hdr.boot_flag = KERNEL_BOOT_FLAG_MAGIC;
            zp.hdr.header = KERNEL_HDR_MAGIC;
            zp.hdr.cmd_line_ptr = CMDLINE_ADDR as u32;
            zp.hdr.cmdline_size = cmdline.len() as u32;
            zp.hdr.kernel_alignment = KERNEL_MIN_ALIGNMENT;
            if let Some((addr, size)) = initrd {
                zp.hdr.ramdisk_image = addr as u32;
                zp.hdr.ramdisk_size = size as u32;
            }
            for (i, &(addr, size, type_)) in map.iter().enumerate() {
                zp.e820_table[i] = boot_e820_entry {
                    addr,
                    size,
                    r#type: type_,
                };
            }
            zp.e820_entries = map.len() as u8;
            let params = BootParams::new(&zp, GuestAddress(ZERO_PAGE_ADDR));
            LinuxBootConfigurator::write_bootparams::<GuestMemory>(&params, mem)
                .map_err(ArchError::BootParams)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e820_skips_the_hole_and_reserves_the_ebda() {
        let m = e820_map(256 << 20);
        assert_eq!(m[0], (0, EBDA_START, E820_RAM));
        assert_eq!(m[1].2, E820_RESERVED);
        assert_eq!(m[2], (HIMEM_START, (256 << 20) - HIMEM_START, E820_RAM));
        let big = e820_map(5 << 30);
        assert_eq!(
            big.last().unwrap(),
            &(FOUR_GIB, (5 << 30) - MMIO_HOLE_START, E820_RAM)
        );
    }

    #[test]
    fn rejects_what_is_not_a_kernel() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, b"#!/bin/sh\necho not a kernel\n").unwrap();
        let mem = crate::vmm::memory::create(&[(GuestAddress(0), 4 << 20)]).unwrap();
        assert!(matches!(
            load_kernel(&mem, &p),
            Err(ArchError::KernelFormat)
        ));
    }
}
