//! x86_64: the machine a guest kernel expects to find at its entry point.

pub mod boot;
pub mod cpuid;
mod error;
pub mod gdt;
pub mod layout;
pub mod mptable;
pub mod msr;
pub mod regs;

use kvm_bindings::{kvm_pit_config, CpuId, KVM_MAX_CPUID_ENTRIES, KVM_PIT_SPEAKER_DUMMY};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};

pub use boot::{load_initrd, load_kernel, write_boot_info, KernelEntry};
pub use error::ArchError;

use crate::vmm::memory::GuestMemory;

/// The in-kernel interrupt controllers and timer every guest kernel expects.
pub fn setup_vm(vm: &VmFd) -> Result<(), ArchError> {
    let e = |what| move |source| ArchError::VmSetup { what, source };
    // Intel VMX needs three pages for the real-mode TSS and one for the identity map,
    // just below the BIOS area; both inside the MMIO hole, never RAM.
    vm.set_identity_map_address(0xfffb_c000)
        .map_err(e("identity map address"))?;
    vm.set_tss_address(0xfffb_d000).map_err(e("TSS address"))?;
    vm.create_irq_chip().map_err(e("in-kernel IRQ chip"))?;
    let pit = kvm_pit_config {
        flags: KVM_PIT_SPEAKER_DUMMY,
        ..Default::default()
    };
    vm.create_pit2(pit).map_err(e("in-kernel PIT"))?;
    Ok(())
}

/// The CPUID KVM can offer, read once per VM and specialised per vCPU.
pub fn supported_cpuid(kvm: &Kvm) -> Result<CpuId, ArchError> {
    kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
        .map_err(ArchError::Cpuid)
}

/// Identity, MSRs, local APIC and FPU of vCPU `id` of `count`, offered the paravirt
/// features `hypercalls` allows.
pub fn configure_vcpu(
    base_cpuid: &CpuId,
    vcpu: &VcpuFd,
    id: u8,
    count: u8,
    hypercalls: cpuid::Hypercalls,
) -> Result<(), ArchError> {
    vcpu.set_cpuid2(&cpuid::for_vcpu(base_cpuid, id, count, hypercalls))
        .map_err(ArchError::SetRegisters)?;
    msr::setup(vcpu)?;
    setup_lapic(vcpu)?;
    regs::setup_fpu(vcpu)
}

/// Registers and page tables of the boot vCPU, ready to run the kernel's entry point.
/// Secondary vCPUs wait for INIT/SIPI from the guest instead.
pub fn setup_boot_vcpu(
    mem: &GuestMemory,
    vcpu: &VcpuFd,
    kernel: &KernelEntry,
) -> Result<(), ArchError> {
    regs::setup_sregs(mem, vcpu, kernel.protocol)?;
    regs::setup_regs(vcpu, kernel.entry, kernel.protocol)
}

/// Tables in guest memory that describe the machine (CPUs, IOAPIC, IRQ routing).
pub fn configure_system(mem: &GuestMemory, num_cpus: u8) -> Result<(), ArchError> {
    mptable::write(mem, num_cpus)
}

const APIC_LVT0: usize = 0x350;
const APIC_LVT1: usize = 0x360;
const APIC_MODE_NMI: u32 = 0x4;
const APIC_MODE_EXTINT: u32 = 0x7;

/// LINT0 as ExtINT and LINT1 as NMI ("virtual wire"), so the legacy PIC can deliver
/// interrupts before the kernel switches to the IOAPIC.
fn setup_lapic(vcpu: &VcpuFd) -> Result<(), ArchError> {
    let mut lapic = vcpu.get_lapic().map_err(ArchError::SetRegisters)?;
    for (reg, mode) in [(APIC_LVT0, APIC_MODE_EXTINT), (APIC_LVT1, APIC_MODE_NMI)] {
        let raw: [u8; 4] = std::array::from_fn(|i| lapic.regs[reg + i] as u8);
        let value = (u32::from_le_bytes(raw) & !0x700) | (mode << 8);
        for (i, b) in value.to_le_bytes().iter().enumerate() {
            lapic.regs[reg + i] = *b as _;
        }
    }
    vcpu.set_lapic(&lapic).map_err(ArchError::SetRegisters)
}
