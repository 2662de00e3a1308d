//! KVM `ONE_REG` ids and boot register values for arm64, computed without KVM.
//!
//! kvm-bindings only exposes the arm64 uapi when compiled for aarch64, so the
//! few constants needed are restated here (from `arch/arm64/include/uapi/asm/kvm.h`
//! and `include/uapi/linux/kvm.h`) and cross-checked against kvm-bindings in
//! aarch64 test builds. That keeps these helpers testable on the x86_64 host.

/// `KVM_REG_ARM64`: architecture field of a register id.
pub const KVM_REG_ARM64: u64 = 0x6000_0000_0000_0000;
/// `KVM_REG_SIZE_U64`: size field for a 64-bit register.
pub const KVM_REG_SIZE_U64: u64 = 0x0030_0000_0000_0000;
/// `KVM_REG_ARM_CORE`: coprocessor field selecting `struct kvm_regs`.
pub const KVM_REG_ARM_CORE: u64 = 0x0010 << 16;
/// `KVM_REG_ARM64_SYSREG`: coprocessor field selecting a system register.
pub const KVM_REG_ARM64_SYSREG: u64 = 0x0013 << 16;

/// Byte offsets in `struct kvm_regs` (whose first member is `struct user_pt_regs`).
pub mod offsets {
    /// `regs.regs[0]`; `regs.regs[n]` is at `8 * n`.
    pub const X0: usize = 0;
    /// `regs.sp` (SP_EL0).
    pub const SP: usize = 31 * 8;
    /// `regs.pc`.
    pub const PC: usize = 32 * 8;
    /// `regs.pstate`.
    pub const PSTATE: usize = 33 * 8;
    /// `sp_el1`.
    pub const SP_EL1: usize = 34 * 8;
    /// `elr_el1`.
    pub const ELR_EL1: usize = 35 * 8;
}

/// PSTATE.M = EL1 using SP_EL1 ("EL1h").
pub const PSR_MODE_EL1H: u64 = 0x5;
/// PSTATE.F: FIQ masked.
pub const PSR_F_BIT: u64 = 1 << 6;
/// PSTATE.I: IRQ masked.
pub const PSR_I_BIT: u64 = 1 << 7;
/// PSTATE.A: SError masked.
pub const PSR_A_BIT: u64 = 1 << 8;
/// PSTATE.D: debug exceptions masked.
pub const PSR_D_BIT: u64 = 1 << 9;

/// PSTATE at kernel entry: booting.rst requires EL1 (or EL2) with all of
/// DAIF masked; we enter at EL1h since KVM guests have no EL2 by default.
pub const BOOT_PSTATE: u64 = PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT | PSR_MODE_EL1H;

/// The `ONE_REG` id of the 64-bit core register at byte `offset` in
/// `struct kvm_regs`. KVM indexes core registers in 32-bit words, hence `/ 4`.
pub const fn core_reg_id(offset: usize) -> u64 {
    KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset as u64 / 4)
}

/// `ONE_REG` id of general purpose register `Xn` (n < 31).
pub const fn xreg_id(n: usize) -> u64 {
    core_reg_id(offsets::X0 + 8 * n)
}

/// `ONE_REG` id of the system register with encoding (op0, op1, CRn, CRm, op2),
/// as named in the Arm ARM (e.g. MPIDR_EL1 is 3, 0, 0, 0, 5).
pub const fn sys_reg_id(op0: u64, op1: u64, crn: u64, crm: u64, op2: u64) -> u64 {
    KVM_REG_ARM64
        | KVM_REG_SIZE_U64
        | KVM_REG_ARM64_SYSREG
        | ((op0 & 0x3) << 14)
        | ((op1 & 0x7) << 11)
        | ((crn & 0xf) << 7)
        | ((crm & 0xf) << 3)
        | (op2 & 0x7)
}

/// MPIDR_EL1, the CPU's affinity (what the FDT `reg` of a cpu node must match).
pub const MPIDR_EL1: u64 = sys_reg_id(3, 0, 0, 0, 5);

/// Affinity bits of MPIDR_EL1: Aff3 (39:32) and Aff2..Aff0 (23:0).
pub const MPIDR_AFF_MASK: u64 = 0xff_00ff_ffff;

/// The FDT `reg` value of a cpu node (with `#address-cells = 2`): the MPIDR
/// with everything but the affinity fields cleared (the cpus binding).
pub const fn mpidr_to_fdt_reg(mpidr: u64) -> u64 {
    mpidr & MPIDR_AFF_MASK
}

/// The affinity KVM assigns to vCPU `index` by default (Aff0 holds 16 CPUs,
/// then Aff1, then Aff2), as the kernel's `reset_mpidr` does. Prefer reading the
/// real value with `read_mpidr`; this is for tests and documentation.
pub const fn default_mpidr(index: u64) -> u64 {
    (1 << 31) | (index & 0xf) | (((index >> 4) & 0xff) << 8) | (((index >> 12) & 0xff) << 16)
}

/// One register write: id and value. Produced by [`boot_regs`] so the
/// computation can be tested without a vCPU.
pub type RegWrite = (u64, u64);

/// Registers to set on vCPU `index` before the first run. The boot vCPU gets
/// the kernel entry point and, in X0, the FDT address (x1..x3 stay zero from
/// reset as booting.rst requires). Secondaries start powered off and are
/// brought up by the guest through PSCI CPU_ON, which sets their PC and X0,
/// so they only get the PSTATE.
pub fn boot_regs(index: usize, entry: u64, fdt_addr: u64) -> Vec<RegWrite> {
    let mut v = vec![(core_reg_id(offsets::PSTATE), BOOT_PSTATE)];
    if index == 0 {
        v.push((core_reg_id(offsets::PC), entry));
        v.push((xreg_id(0), fdt_addr));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_ids_match_known_values() {
        // Values as seen in e.g. `strace` of a VMM: 0x6030_0000_0010_xxxx.
        assert_eq!(core_reg_id(offsets::X0), 0x6030_0000_0010_0000);
        assert_eq!(xreg_id(1), 0x6030_0000_0010_0002);
        assert_eq!(core_reg_id(offsets::SP), 0x6030_0000_0010_003e);
        assert_eq!(core_reg_id(offsets::PC), 0x6030_0000_0010_0040);
        assert_eq!(core_reg_id(offsets::PSTATE), 0x6030_0000_0010_0042);
    }

    #[test]
    fn mpidr_sysreg_id() {
        // op0=3 -> 0xc000, op2=5 -> 5.
        assert_eq!(MPIDR_EL1, 0x6030_0000_0013_c005);
    }

    #[test]
    fn boot_pstate_is_el1h_daif_masked() {
        assert_eq!(BOOT_PSTATE, 0x3c5);
    }

    #[test]
    fn mpidr_helpers() {
        assert_eq!(default_mpidr(0), 0x8000_0000);
        assert_eq!(default_mpidr(17), 0x8000_0101);
        assert_eq!(mpidr_to_fdt_reg(default_mpidr(17)), 0x101);
        // Aff3 is kept, the U/MT bits are not.
        assert_eq!(mpidr_to_fdt_reg(0x12_c100_0203), 0x12_0000_0203);
    }

    #[test]
    fn boot_regs_only_boot_cpu_gets_entry() {
        let r0 = boot_regs(0, 0x8000_0000, 0x8fe0_0000);
        assert!(r0.contains(&(core_reg_id(offsets::PC), 0x8000_0000)));
        assert!(r0.contains(&(xreg_id(0), 0x8fe0_0000)));
        assert!(r0.contains(&(core_reg_id(offsets::PSTATE), BOOT_PSTATE)));
        let r1 = boot_regs(1, 0x8000_0000, 0x8fe0_0000);
        assert_eq!(r1, vec![(core_reg_id(offsets::PSTATE), BOOT_PSTATE)]);
    }

    /// On aarch64 the real uapi is available: make sure the restated constants
    /// and offsets are the kernel's.
    #[cfg(target_arch = "aarch64")]
    #[test]
    fn restated_constants_match_kvm_bindings() {
        use kvm_bindings as kb;
        use std::mem::offset_of;
        assert_eq!(KVM_REG_ARM64, kb::KVM_REG_ARM64);
        assert_eq!(KVM_REG_SIZE_U64, kb::KVM_REG_SIZE_U64);
        assert_eq!(KVM_REG_ARM_CORE, u64::from(kb::KVM_REG_ARM_CORE));
        assert_eq!(KVM_REG_ARM64_SYSREG, u64::from(kb::KVM_REG_ARM64_SYSREG));
        let pt = offset_of!(kb::kvm_regs, regs);
        assert_eq!(offsets::X0, pt + offset_of!(kb::user_pt_regs, regs));
        assert_eq!(offsets::SP, pt + offset_of!(kb::user_pt_regs, sp));
        assert_eq!(offsets::PC, pt + offset_of!(kb::user_pt_regs, pc));
        assert_eq!(offsets::PSTATE, pt + offset_of!(kb::user_pt_regs, pstate));
        assert_eq!(offsets::SP_EL1, offset_of!(kb::kvm_regs, sp_el1));
        assert_eq!(offsets::ELR_EL1, offset_of!(kb::kvm_regs, elr_el1));
        assert_eq!(PSR_MODE_EL1H, u64::from(kb::PSR_MODE_EL1h));
        assert_eq!(PSR_F_BIT, u64::from(kb::PSR_F_BIT));
        assert_eq!(PSR_I_BIT, u64::from(kb::PSR_I_BIT));
        assert_eq!(PSR_A_BIT, u64::from(kb::PSR_A_BIT));
        assert_eq!(PSR_D_BIT, u64::from(kb::PSR_D_BIT));
    }
}
