//! Initial vCPU register state for the two entry protocols.

use kvm_bindings::{kvm_fpu, kvm_regs, kvm_sregs};
use kvm_ioctls::VcpuFd;
use vm_memory::{Bytes, GuestAddress};

use super::error::ArchError;
use super::gdt::{self, CODE_SELECTOR, DATA_SELECTOR, TSS_SELECTOR};
use super::layout::{
    BOOT_STACK_TOP, GDT_ADDR, PDPT_ADDR, PD_ADDR, PML4_ADDR, PVH_INFO_ADDR, ZERO_PAGE_ADDR,
};
use crate::vmm::memory::GuestMemory;

const X86_CR0_PE: u64 = 1 << 0;
const X86_CR0_ET: u64 = 1 << 4;
const X86_CR0_PG: u64 = 1 << 31;
const X86_CR4_PAE: u64 = 1 << 5;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;

/// How the kernel is entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootProtocol {
    /// 64-bit Linux boot protocol: long mode, paging on, `rsi` = zero page.
    Linux,
    /// PVH: 32-bit protected mode, paging off, `ebx` = `hvm_start_info`.
    Pvh,
}

/// Boot vCPU general registers.
pub fn setup_regs(vcpu: &VcpuFd, entry: u64, protocol: BootProtocol) -> Result<(), ArchError> {
    let mut regs = kvm_regs {
        rflags: 0x2, // bit 1 is reserved and must be set
        rip: entry,
        ..Default::default()
    };
    match protocol {
        BootProtocol::Linux => {
            regs.rsp = BOOT_STACK_TOP;
            regs.rbp = BOOT_STACK_TOP;
            regs.rsi = ZERO_PAGE_ADDR;
        }
        BootProtocol::Pvh => regs.rbx = PVH_INFO_ADDR,
    }
    vcpu.set_regs(&regs).map_err(ArchError::SetRegisters)
}

/// Writes the boot GDT (and, for the Linux protocol, identity page tables) and loads the
/// matching segment and control registers.
pub fn setup_sregs(
    mem: &GuestMemory,
    vcpu: &VcpuFd,
    protocol: BootProtocol,
) -> Result<(), ArchError> {
    let mut sregs: kvm_sregs = vcpu.get_sregs().map_err(ArchError::SetRegisters)?;
    let table = match protocol {
        BootProtocol::Linux => gdt::long_mode_gdt(),
        BootProtocol::Pvh => gdt::protected_mode_gdt(),
    };
    for (i, entry) in table.iter().enumerate() {
        mem.write_obj(*entry, GuestAddress(GDT_ADDR + 8 * i as u64))
            .map_err(|_| ArchError::GuestMemoryTooSmall("the boot GDT"))?;
    }
    sregs.gdt.base = GDT_ADDR;
    sregs.gdt.limit = (std::mem::size_of_val(&table) - 1) as u16;
    // An empty IDT: any exception before the kernel installs its own is a triple fault,
    // which the VMM reports instead of looping.
    sregs.idt.base = 0;
    sregs.idt.limit = 0;

    let code = gdt::segment(CODE_SELECTOR, table[1]);
    let data = gdt::segment(DATA_SELECTOR, table[2]);
    sregs.cs = code;
    sregs.ds = data;
    sregs.es = data;
    sregs.fs = data;
    sregs.gs = data;
    sregs.ss = data;
    sregs.tr = gdt::segment(TSS_SELECTOR, table[3]);

    match protocol {
        BootProtocol::Linux => {
            write_identity_page_tables(mem)?;
            sregs.cr3 = PML4_ADDR;
            sregs.cr4 |= X86_CR4_PAE;
            sregs.cr0 |= X86_CR0_PE | X86_CR0_PG | X86_CR0_ET;
            sregs.efer |= EFER_LME | EFER_LMA;
        }
        BootProtocol::Pvh => {
            sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
            sregs.cr4 = 0;
            sregs.efer = 0;
        }
    }
    vcpu.set_sregs(&sregs).map_err(ArchError::SetRegisters)
}

/// Identity-maps the first GiB with 2 MiB pages: enough for the kernel's first
/// instructions, after which it builds its own tables.
fn write_identity_page_tables(mem: &GuestMemory) -> Result<(), ArchError> {
    let err = |_| ArchError::GuestMemoryTooSmall("the boot page tables");
    // present | writable
    mem.write_obj(PDPT_ADDR | 0x3, GuestAddress(PML4_ADDR))
        .map_err(err)?;
    mem.write_obj(PD_ADDR | 0x3, GuestAddress(PDPT_ADDR))
        .map_err(err)?;
    for i in 0..512u64 {
        // present | writable | page size (2 MiB)
        mem.write_obj((i << 21) | 0x83, GuestAddress(PD_ADDR + i * 8))
            .map_err(err)?;
    }
    Ok(())
}

/// x87 and SSE control words as after `FNINIT` / reset, so the kernel's first
/// floating-point state is sane.
pub fn setup_fpu(vcpu: &VcpuFd) -> Result<(), ArchError> {
    let fpu = kvm_fpu {
        fcw: 0x37f,
        mxcsr: 0x1f80,
        ..Default::default()
    };
    vcpu.set_fpu(&fpu).map_err(ArchError::SetRegisters)
}
