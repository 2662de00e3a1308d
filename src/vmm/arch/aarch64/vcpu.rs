//! vCPU initialisation and boot registers (aarch64 hosts only).

use kvm_bindings::{kvm_vcpu_init, KVM_ARM_VCPU_POWER_OFF, KVM_ARM_VCPU_PSCI_0_2};
use kvm_ioctls::{VcpuFd, VmFd};
use thiserror::Error;
use vm_memory::GuestAddress;

use super::regs::{boot_regs, MPIDR_EL1};

/// Errors initialising a vCPU or setting its registers.
#[derive(Debug, Error)]
pub enum VcpuError {
    /// KVM_ARM_PREFERRED_TARGET failed.
    #[error(
        "KVM could not tell the preferred vCPU target (is this host's KVM arm64 support enabled?)"
    )]
    PreferredTarget(#[source] vmm_sys_util::errno::Error),
    /// KVM_ARM_VCPU_INIT failed.
    #[error("initialising vCPU {index} failed (KVM must support PSCI 0.2, Linux >= 3.16, and each vCPU must be initialised once, before the GIC is finalised)")]
    Init {
        /// vCPU index.
        index: usize,
        /// The errno.
        source: vmm_sys_util::errno::Error,
    },
    /// KVM_SET_ONE_REG failed.
    #[error(
        "setting register {reg:#x} of vCPU {index} failed (was init_vcpu called on it first?)"
    )]
    SetReg {
        /// vCPU index.
        index: usize,
        /// ONE_REG id.
        reg: u64,
        /// The errno.
        source: vmm_sys_util::errno::Error,
    },
    /// KVM_GET_ONE_REG failed.
    #[error("reading register {reg:#x} failed (was init_vcpu called on this vCPU first?)")]
    GetReg {
        /// ONE_REG id.
        reg: u64,
        /// The errno.
        source: vmm_sys_util::errno::Error,
    },
}

/// Initialises vCPU `index` (KVM_ARM_VCPU_INIT) with the host's preferred
/// target and in-kernel PSCI 0.2. All vCPUs but 0 start powered off; the guest
/// starts them with PSCI CPU_ON. Call once per vCPU, before [`super::gic::create_gic`].
pub fn init_vcpu(vm: &VmFd, vcpu: &VcpuFd, index: usize) -> Result<(), VcpuError> {
    let mut kvi = kvm_vcpu_init::default();
    vm.get_preferred_target(&mut kvi)
        .map_err(VcpuError::PreferredTarget)?;
    // Feature bits are numbered across the features[] words, 32 per word.
    kvi.features[0] |= 1 << KVM_ARM_VCPU_PSCI_0_2;
    if index > 0 {
        kvi.features[0] |= 1 << KVM_ARM_VCPU_POWER_OFF;
    }
    vcpu.vcpu_init(&kvi)
        .map_err(|source| VcpuError::Init { index, source })
}

/// Sets the boot registers of vCPU `index`: PSTATE = EL1h with DAIF masked on
/// every vCPU; on vCPU 0 also PC = `entry` and X0 = `fdt_addr`.
pub fn setup_regs(
    vcpu: &VcpuFd,
    index: usize,
    entry: GuestAddress,
    fdt_addr: GuestAddress,
) -> Result<(), VcpuError> {
    // ONE_REG values are passed in host byte order.
    for (reg, value) in boot_regs(index, entry.0, fdt_addr.0) {
        vcpu.set_one_reg(reg, &value.to_ne_bytes())
            .map_err(|source| VcpuError::SetReg { index, reg, source })?;
    }
    Ok(())
}

/// Reads MPIDR_EL1, the affinity value the FDT cpu node must carry. Valid
/// after [`init_vcpu`].
pub fn read_mpidr(vcpu: &VcpuFd) -> Result<u64, VcpuError> {
    let mut buf = [0u8; 8];
    vcpu.get_one_reg(MPIDR_EL1, &mut buf)
        .map_err(|source| VcpuError::GetReg {
            reg: MPIDR_EL1,
            source,
        })?;
    Ok(u64::from_ne_bytes(buf))
}
