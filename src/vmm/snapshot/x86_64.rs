//! x86_64 state: each vCPU's registers, special registers, FPU/SSE/AVX (XSAVE), XCRs,
//! debug registers, local APIC, MSRs, pending events and MP state; and the VM's
//! interrupt controllers (two PICs, the IOAPIC), PIT and KVM clock.
//!
//! What each call does on this project's hosts, probed on 6.18.44-fc-v1147 (kvm_pvm):
//! every GET/SET here works; KVM_GET_NESTED_STATE is refused (EINVAL, KVM_CAP_NESTED_STATE
//! is 0) and TSC scaling is absent (KVM_CAP_TSC_CONTROL 0), so neither is used.

use kvm_bindings::{
    kvm_clock_data, kvm_cpuid_entry2, kvm_debugregs, kvm_irqchip, kvm_lapic_state, kvm_mp_state,
    kvm_msr_entry, kvm_pit_state2, kvm_regs, kvm_sregs, kvm_vcpu_events, kvm_xcrs, kvm_xsave,
    CpuId, Msrs, KVM_IRQCHIP_IOAPIC, KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE,
    KVM_MAX_CPUID_ENTRIES,
};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use serde::{Deserialize, Serialize};

use super::error::SnapshotError;

fn kvm(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> SnapshotError {
    move |source| SnapshotError::Kvm { what, source }
}

/// One vCPU, everything KVM keeps of it.
#[derive(Serialize, Deserialize)]
pub struct VcpuState {
    /// The vCPU's index.
    pub id: u8,
    /// The CPUID it was given.
    pub cpuid: Vec<kvm_cpuid_entry2>,
    /// General registers.
    pub regs: kvm_regs,
    /// Segments, control registers, EFER, APIC base.
    pub sregs: kvm_sregs,
    /// x87, SSE and AVX state (the legacy 4 KiB XSAVE area).
    pub xsave: kvm_xsave,
    /// XCR0.
    pub xcrs: kvm_xcrs,
    /// DR0-3, DR6, DR7.
    pub debugregs: kvm_debugregs,
    /// The local APIC's registers.
    pub lapic: kvm_lapic_state,
    /// Every MSR in KVM's save list that could be read.
    pub msrs: Vec<kvm_msr_entry>,
    /// Pending exceptions, interrupts, NMIs, SMM.
    pub events: kvm_vcpu_events,
    /// Runnable, halted, waiting for SIPI.
    pub mp_state: kvm_mp_state,
    /// The TSC frequency the guest saw, kHz (informative: this host cannot scale it).
    pub tsc_khz: Option<u32>,
}

/// The MSRs to save: KVM's own list of the ones a VMM must carry across.
pub fn msr_index_list(kvm: &Kvm) -> Result<Vec<u32>, SnapshotError> {
    Ok(kvm
        .get_msr_index_list()
        .map_err(self::kvm("the list of MSRs to save"))?
        .as_slice()
        .to_vec())
}

fn read_msrs(fd: &VcpuFd, list: &[u32]) -> Result<Vec<kvm_msr_entry>, SnapshotError> {
    let mut wanted: Vec<u32> = list.to_vec();
    // KVM stops at the first MSR it cannot read and says how many it read: drop that
    // one and ask again (an MSR the list names but this CPU lacks).
    loop {
        let entries: Vec<kvm_msr_entry> = wanted
            .iter()
            .map(|&index| kvm_msr_entry {
                index,
                ..Default::default()
            })
            .collect();
        let mut msrs = Msrs::from_entries(&entries).map_err(|_| SnapshotError::TooManyMsrs)?;
        let n = fd.get_msrs(&mut msrs).map_err(kvm("the vCPU's MSRs"))?;
        if n == wanted.len() {
            return Ok(msrs.as_slice().to_vec());
        }
        wanted.remove(n);
    }
}

impl VcpuState {
    /// Reads vCPU `id`'s state. Its thread must be parked with no exit half-handled.
    pub fn save(fd: &VcpuFd, id: u8, msr_list: &[u32]) -> Result<Self, SnapshotError> {
        let cpuid = fd
            .get_cpuid2(KVM_MAX_CPUID_ENTRIES)
            .map_err(kvm("the vCPU's CPUID"))?
            .as_slice()
            .to_vec();
        Ok(VcpuState {
            id,
            cpuid,
            mp_state: fd.get_mp_state().map_err(kvm("the vCPU's MP state"))?,
            regs: fd.get_regs().map_err(kvm("the vCPU's registers"))?,
            sregs: fd
                .get_sregs()
                .map_err(kvm("the vCPU's special registers"))?,
            xsave: fd.get_xsave().map_err(kvm("the vCPU's XSAVE area"))?,
            xcrs: fd.get_xcrs().map_err(kvm("the vCPU's XCRs"))?,
            debugregs: fd
                .get_debug_regs()
                .map_err(kvm("the vCPU's debug registers"))?,
            lapic: fd.get_lapic().map_err(kvm("the vCPU's local APIC"))?,
            msrs: read_msrs(fd, msr_list)?,
            events: fd
                .get_vcpu_events()
                .map_err(kvm("the vCPU's pending events"))?,
            tsc_khz: fd.get_tsc_khz().ok(),
        })
    }

    /// Puts the state into a freshly created vCPU, in the order KVM needs: CPUID first
    /// (it decides which MSRs and XSAVE parts exist), the APIC before MSRs (the TSC
    /// deadline timer), events last (they refer to everything else).
    pub fn restore(&self, fd: &VcpuFd) -> Result<(), SnapshotError> {
        let cpuid = CpuId::from_entries(&self.cpuid).map_err(|_| {
            SnapshotError::Damaged("the vCPU's CPUID has more entries than KVM takes".into())
        })?;
        fd.set_cpuid2(&cpuid).map_err(kvm("the saved CPUID"))?;
        fd.set_mp_state(self.mp_state)
            .map_err(kvm("the saved MP state"))?;
        fd.set_regs(&self.regs)
            .map_err(kvm("the saved registers"))?;
        fd.set_sregs(&self.sregs)
            .map_err(kvm("the saved special registers"))?;
        // SAFETY: the area was read by KVM_GET_XSAVE from a vCPU with this same CPUID
        // (the manifest's CPU check), so it has the layout KVM expects.
        unsafe { fd.set_xsave(&self.xsave) }.map_err(kvm("the saved XSAVE area"))?;
        fd.set_xcrs(&self.xcrs).map_err(kvm("the saved XCRs"))?;
        fd.set_debug_regs(&self.debugregs)
            .map_err(kvm("the saved debug registers"))?;
        fd.set_lapic(&self.lapic)
            .map_err(kvm("the saved local APIC"))?;
        let msrs = Msrs::from_entries(&self.msrs).map_err(|_| SnapshotError::TooManyMsrs)?;
        let n = fd.set_msrs(&msrs).map_err(kvm("the saved MSRs"))?;
        if n != self.msrs.len() {
            return Err(SnapshotError::MsrRefused(self.msrs[n].index));
        }
        fd.set_vcpu_events(&self.events)
            .map_err(kvm("the saved pending events"))?;
        Ok(())
    }

    /// The bytes the manifest's CPUID hash is made of.
    pub fn cpuid_bytes(entries: &[kvm_cpuid_entry2]) -> Vec<u8> {
        cpuid_bytes(entries)
    }
}

/// The fields of each CPUID entry that a guest sees, in a stable order, without the
/// ones KVM fills in from whichever host CPU answered (APIC ids): they differ between
/// two processes on one host.
pub fn cpuid_bytes(entries: &[kvm_cpuid_entry2]) -> Vec<u8> {
    let mut sorted: Vec<_> = entries
        .iter()
        .map(|e| {
            let (mut eax, mut ebx, mut edx) = (e.eax, e.ebx, e.edx);
            match e.function {
                0x1 => ebx &= 0x00ff_ffff,
                0xb | 0x1f => edx = 0,
                0x8000_001e => eax = 0,
                _ => {}
            }
            [e.function, e.index, e.flags, eax, ebx, e.ecx, edx]
        })
        .collect();
    sorted.sort();
    sorted
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// The VM-wide devices KVM emulates, and its clock.
#[derive(Serialize, Deserialize)]
pub struct VmState {
    /// The master PIC.
    pub pic_master: kvm_irqchip,
    /// The slave PIC.
    pub pic_slave: kvm_irqchip,
    /// The IOAPIC.
    pub ioapic: kvm_irqchip,
    /// The PIT.
    pub pit: kvm_pit_state2,
    /// kvmclock: the guest's monotonic clock goes on from this value.
    pub clock: kvm_clock_data,
}

fn chip(vm: &VmFd, id: u32) -> Result<kvm_irqchip, SnapshotError> {
    let mut c = kvm_irqchip {
        chip_id: id,
        ..Default::default()
    };
    vm.get_irqchip(&mut c)
        .map_err(kvm("the interrupt controller state"))?;
    Ok(c)
}

impl VmState {
    /// Reads the VM's state; every vCPU must be parked.
    pub fn save(vm: &VmFd) -> Result<Self, SnapshotError> {
        Ok(VmState {
            pic_master: chip(vm, KVM_IRQCHIP_PIC_MASTER)?,
            pic_slave: chip(vm, KVM_IRQCHIP_PIC_SLAVE)?,
            ioapic: chip(vm, KVM_IRQCHIP_IOAPIC)?,
            pit: vm.get_pit2().map_err(kvm("the PIT state"))?,
            clock: vm.get_clock().map_err(kvm("the KVM clock"))?,
        })
    }

    /// Puts the state into a VM that has its irqchip and PIT (before its vCPUs run).
    pub fn restore(&self, vm: &VmFd) -> Result<(), SnapshotError> {
        vm.set_pit2(&self.pit).map_err(kvm("the saved PIT state"))?;
        // Only the clock value: the saved flags describe the old host's TSC.
        let clock = kvm_clock_data {
            clock: self.clock.clock,
            ..Default::default()
        };
        vm.set_clock(&clock).map_err(kvm("the saved KVM clock"))?;
        for c in [&self.pic_master, &self.pic_slave, &self.ioapic] {
            vm.set_irqchip(c)
                .map_err(kvm("the saved interrupt controller state"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuid_bytes_do_not_depend_on_entry_order() {
        let a = kvm_cpuid_entry2 {
            function: 1,
            eax: 0x50654,
            ..Default::default()
        };
        let b = kvm_cpuid_entry2 {
            function: 0,
            ebx: 0x756e_6547,
            ..Default::default()
        };
        assert_eq!(cpuid_bytes(&[a, b]), cpuid_bytes(&[b, a]));
        assert_ne!(cpuid_bytes(&[a]), cpuid_bytes(&[b]));
    }

    #[test]
    fn kvm_structures_survive_the_state_file() {
        let mut regs = kvm_regs {
            rip: 0x10_0000,
            rax: 42,
            ..Default::default()
        };
        regs.rflags = 2;
        let json = serde_json::to_vec(&regs).unwrap();
        let back: kvm_regs = serde_json::from_slice(&json).unwrap();
        assert_eq!((back.rip, back.rax, back.rflags), (0x10_0000, 42, 2));
    }
}
