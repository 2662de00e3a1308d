//! The in-kernel interrupt controller (vGIC).
//!
//! [`GicVersion`] and [`GicConfig`] are pure and describe where the GIC lives,
//! for the FDT. [`create_gic`] (aarch64 only) asks KVM for a GICv3 and falls
//! back to GICv2 on hosts whose GIC cannot virtualise v3 (e.g. GIC-400 boards).

use thiserror::Error;

use super::layout::{
    gicv3_redist_size, GICV2_CPU_BASE, GICV2_CPU_SIZE, GICV2_DIST_SIZE, GICV2_MAX_CPUS,
    GICV3_DIST_SIZE, GICV3_REDIST_BASE, GIC_DIST_BASE, MAX_CPUS,
};

/// FDT interrupt specifier, cell 0: shared peripheral interrupt.
pub const FDT_IRQ_TYPE_SPI: u32 = 0;
/// FDT interrupt specifier, cell 0: private peripheral interrupt.
pub const FDT_IRQ_TYPE_PPI: u32 = 1;
/// FDT interrupt specifier, cell 2: rising edge.
pub const IRQ_TYPE_EDGE_RISING: u32 = 1;
/// FDT interrupt specifier, cell 2: active-high level.
pub const IRQ_TYPE_LEVEL_HIGH: u32 = 4;

/// Architected timer PPIs (PPI number = INTID - 16), in the order the
/// "arm,armv8-timer" binding lists them.
pub const TIMER_PPI_SECURE_PHYS: u32 = 13;
/// Non-secure physical timer.
pub const TIMER_PPI_NONSECURE_PHYS: u32 = 14;
/// Virtual timer: the one a KVM guest actually uses.
pub const TIMER_PPI_VIRT: u32 = 11;
/// Hypervisor (EL2) timer.
pub const TIMER_PPI_HYP: u32 = 10;

/// Which GIC architecture the guest sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GicVersion {
    /// GICv2 (`arm,cortex-a15-gic`), at most 8 vCPUs.
    V2,
    /// GICv3 (`arm,gic-v3`).
    V3,
}

/// Where the GIC's register frames are, as the FDT must describe them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GicConfig {
    /// GIC architecture.
    pub version: GicVersion,
    /// Distributor base.
    pub dist_addr: u64,
    /// Distributor size.
    pub dist_size: u64,
    /// GICv3: redistributor region base. GICv2: CPU interface base.
    pub redist_or_cpu_addr: u64,
    /// GICv3: redistributor region size (per-vCPU size × vCPUs). GICv2: CPU interface size.
    pub redist_or_cpu_size: u64,
}

/// Errors setting up the vGIC.
#[derive(Debug, Error)]
pub enum GicError {
    /// Too many vCPUs for the requested GIC.
    #[error("{num_cpus} vCPUs is more than a {version:?} guest can have here (max {max}); use fewer vCPUs")]
    TooManyCpus {
        /// Requested vCPUs.
        num_cpus: usize,
        /// GIC version.
        version: GicVersion,
        /// Limit.
        max: usize,
    },
    /// Zero vCPUs.
    #[error("a VM needs at least one vCPU")]
    NoCpus,
    /// Neither GICv3 nor GICv2 could be created.
    #[error("KVM could create neither a GICv3 ({v3}) nor a GICv2 ({v2}) in-kernel interrupt controller; the host kernel needs CONFIG_KVM with vGIC support and a GIC it can virtualise")]
    Create {
        /// Error creating the GICv3.
        v3: vmm_sys_util::errno::Error,
        /// Error creating the GICv2.
        v2: vmm_sys_util::errno::Error,
    },
    /// No GICv3 and too many vCPUs for GICv2.
    #[error("KVM cannot create a GICv3 on this host ({v3}) and the GICv2 fallback supports at most 8 vCPUs, but {num_cpus} were requested; use 8 or fewer vCPUs")]
    V3UnavailableTooManyCpus {
        /// Requested vCPUs.
        num_cpus: usize,
        /// Error creating the GICv3.
        v3: vmm_sys_util::errno::Error,
    },
    /// Setting a vGIC device attribute failed.
    #[error("configuring the vGIC ({what}) failed (if this is CTRL_INIT, make sure all vCPUs were created and initialised before the GIC)")]
    SetAttr {
        /// Which attribute.
        what: &'static str,
        /// The errno.
        source: vmm_sys_util::errno::Error,
    },
}

impl GicConfig {
    /// The layout for `version` with `num_cpus` vCPUs.
    pub fn new(version: GicVersion, num_cpus: usize) -> Result<Self, GicError> {
        if num_cpus == 0 {
            return Err(GicError::NoCpus);
        }
        let max = match version {
            GicVersion::V2 => GICV2_MAX_CPUS,
            GicVersion::V3 => MAX_CPUS,
        };
        if num_cpus > max {
            return Err(GicError::TooManyCpus {
                num_cpus,
                version,
                max,
            });
        }
        Ok(match version {
            GicVersion::V3 => GicConfig {
                version,
                dist_addr: GIC_DIST_BASE,
                dist_size: GICV3_DIST_SIZE,
                redist_or_cpu_addr: GICV3_REDIST_BASE,
                redist_or_cpu_size: gicv3_redist_size(num_cpus),
            },
            GicVersion::V2 => GicConfig {
                version,
                dist_addr: GIC_DIST_BASE,
                dist_size: GICV2_DIST_SIZE,
                redist_or_cpu_addr: GICV2_CPU_BASE,
                redist_or_cpu_size: GICV2_CPU_SIZE,
            },
        })
    }

    /// FDT `compatible` of the interrupt controller node.
    pub fn compatible(&self) -> &'static str {
        match self.version {
            GicVersion::V3 => "arm,gic-v3",
            GicVersion::V2 => "arm,cortex-a15-gic",
        }
    }
}

/// Flags cell for a PPI (timer). GICv2 bindings additionally carry a CPU mask
/// in bits 15:8 naming the CPUs the PPI is wired to; GICv3 has none.
pub fn ppi_flags(version: GicVersion, num_cpus: usize, trigger: u32) -> u32 {
    match version {
        GicVersion::V3 => trigger,
        GicVersion::V2 => {
            let n = num_cpus.min(GICV2_MAX_CPUS) as u32;
            let mask = ((1u32 << n) - 1) << 8;
            mask | trigger
        }
    }
}

#[cfg(target_arch = "aarch64")]
pub use kvm_gic::{create_gic, Gic};

#[cfg(target_arch = "aarch64")]
mod kvm_gic {
    use kvm_bindings::{
        kvm_create_device, kvm_device_attr, kvm_device_type_KVM_DEV_TYPE_ARM_VGIC_V2,
        kvm_device_type_KVM_DEV_TYPE_ARM_VGIC_V3, KVM_DEV_ARM_VGIC_CTRL_INIT,
        KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_GRP_NR_IRQS,
        KVM_VGIC_V2_ADDR_TYPE_CPU, KVM_VGIC_V2_ADDR_TYPE_DIST, KVM_VGIC_V3_ADDR_TYPE_DIST,
        KVM_VGIC_V3_ADDR_TYPE_REDIST,
    };
    use kvm_ioctls::{DeviceFd, VmFd};

    use super::{GicConfig, GicError, GicVersion};
    use crate::vmm::arch::aarch64::layout::GIC_NR_IRQS;

    /// A created and initialised vGIC. Keep it alive as long as the VM.
    #[derive(Debug)]
    pub struct Gic {
        fd: DeviceFd,
        config: GicConfig,
    }

    impl Gic {
        /// The layout to describe in the FDT.
        pub fn config(&self) -> &GicConfig {
            &self.config
        }

        /// Which GIC version KVM gave us.
        pub fn version(&self) -> GicVersion {
            self.config.version
        }

        /// The KVM device fd (e.g. for saving vGIC state later).
        pub fn device_fd(&self) -> &DeviceFd {
            &self.fd
        }
    }

    fn create_device(vm: &VmFd, type_: u32) -> Result<DeviceFd, vmm_sys_util::errno::Error> {
        let mut dev = kvm_create_device {
            type_,
            fd: 0,
            flags: 0,
        };
        vm.create_device(&mut dev)
    }

    fn set_attr(
        fd: &DeviceFd,
        group: u32,
        attr: u64,
        value: u64,
        what: &'static str,
    ) -> Result<(), GicError> {
        // The vGIC attributes read their argument through a user pointer; keep
        // both widths available since NR_IRQS reads a u32 and ADDR a u64.
        let v64: u64 = value;
        let v32: u32 = value as u32;
        let addr = if group == KVM_DEV_ARM_VGIC_GRP_NR_IRQS {
            &v32 as *const u32 as u64
        } else {
            &v64 as *const u64 as u64
        };
        let a = kvm_device_attr {
            flags: 0,
            group,
            attr,
            addr,
        };
        // `v32`/`v64` live until the end of this function, past the ioctl.
        fd.set_device_attr(&a)
            .map_err(|source| GicError::SetAttr { what, source })
    }

    fn init_device(fd: &DeviceFd, cfg: &GicConfig) -> Result<(), GicError> {
        let (dist_type, second_type, second_what) = match cfg.version {
            GicVersion::V3 => (
                KVM_VGIC_V3_ADDR_TYPE_DIST,
                KVM_VGIC_V3_ADDR_TYPE_REDIST,
                "redistributor address",
            ),
            GicVersion::V2 => (
                KVM_VGIC_V2_ADDR_TYPE_DIST,
                KVM_VGIC_V2_ADDR_TYPE_CPU,
                "CPU interface address",
            ),
        };
        set_attr(
            fd,
            KVM_DEV_ARM_VGIC_GRP_ADDR,
            u64::from(dist_type),
            cfg.dist_addr,
            "distributor address",
        )?;
        set_attr(
            fd,
            KVM_DEV_ARM_VGIC_GRP_ADDR,
            u64::from(second_type),
            cfg.redist_or_cpu_addr,
            second_what,
        )?;
        set_attr(
            fd,
            KVM_DEV_ARM_VGIC_GRP_NR_IRQS,
            0,
            u64::from(GIC_NR_IRQS),
            "number of IRQs",
        )?;
        // CTRL_INIT takes no argument (addr is ignored).
        let init = kvm_device_attr {
            flags: 0,
            group: KVM_DEV_ARM_VGIC_GRP_CTRL,
            attr: u64::from(KVM_DEV_ARM_VGIC_CTRL_INIT),
            addr: 0,
        };
        fd.set_device_attr(&init)
            .map_err(|source| GicError::SetAttr {
                what: "CTRL_INIT",
                source,
            })
    }

    /// Creates, configures and initialises the vGIC for `num_cpus` vCPUs.
    ///
    /// Call after **all** vCPUs have been created and initialised
    /// ([`super::super::vcpu::init_vcpu`]) and before any of them runs: KVM
    /// sizes per-vCPU GIC state at `CTRL_INIT` and refuses vCPUs created later.
    /// Tries GICv3 first and falls back to GICv2 (≤ 8 vCPUs).
    pub fn create_gic(vm: &VmFd, num_cpus: usize) -> Result<Gic, GicError> {
        let v3_cfg = GicConfig::new(GicVersion::V3, num_cpus)?;
        let v3_err = match create_device(vm, kvm_device_type_KVM_DEV_TYPE_ARM_VGIC_V3) {
            Ok(fd) => {
                init_device(&fd, &v3_cfg)?;
                return Ok(Gic { fd, config: v3_cfg });
            }
            Err(e) => e,
        };
        let v2_cfg = GicConfig::new(GicVersion::V2, num_cpus).map_err(|_| {
            GicError::V3UnavailableTooManyCpus {
                num_cpus,
                v3: v3_err,
            }
        })?;
        match create_device(vm, kvm_device_type_KVM_DEV_TYPE_ARM_VGIC_V2) {
            Ok(fd) => {
                init_device(&fd, &v2_cfg)?;
                Ok(Gic { fd, config: v2_cfg })
            }
            Err(v2) => Err(GicError::Create { v3: v3_err, v2 }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_config_scales_with_cpus() {
        let c = GicConfig::new(GicVersion::V3, 4).unwrap();
        assert_eq!(c.dist_addr, 0x0800_0000);
        assert_eq!(c.dist_size, 0x1_0000);
        assert_eq!(c.redist_or_cpu_addr, 0x0801_0000);
        assert_eq!(c.redist_or_cpu_size, 4 * 0x2_0000);
        assert_eq!(c.compatible(), "arm,gic-v3");
    }

    #[test]
    fn v2_config_and_limits() {
        let c = GicConfig::new(GicVersion::V2, 2).unwrap();
        assert_eq!(c.redist_or_cpu_addr, GICV2_CPU_BASE);
        assert_eq!(c.redist_or_cpu_size, 0x2000);
        assert_eq!(c.compatible(), "arm,cortex-a15-gic");
        assert!(matches!(
            GicConfig::new(GicVersion::V2, 9),
            Err(GicError::TooManyCpus { max: 8, .. })
        ));
        assert!(matches!(
            GicConfig::new(GicVersion::V3, MAX_CPUS + 1),
            Err(GicError::TooManyCpus { .. })
        ));
        assert!(matches!(
            GicConfig::new(GicVersion::V3, 0),
            Err(GicError::NoCpus)
        ));
    }

    #[test]
    fn ppi_flags_carry_cpu_mask_only_on_v2() {
        assert_eq!(ppi_flags(GicVersion::V3, 4, IRQ_TYPE_LEVEL_HIGH), 4);
        assert_eq!(ppi_flags(GicVersion::V2, 2, IRQ_TYPE_LEVEL_HIGH), 0x304);
        assert_eq!(ppi_flags(GicVersion::V2, 8, IRQ_TYPE_LEVEL_HIGH), 0xff04);
    }

    #[cfg(target_arch = "aarch64")]
    #[test]
    fn local_constants_match_kvm_bindings() {
        assert_eq!(
            kvm_bindings::KVM_VGIC_V2_DIST_SIZE as u64,
            crate::vmm::arch::aarch64::layout::GICV2_DIST_SIZE
        );
        assert_eq!(
            kvm_bindings::KVM_VGIC_V2_CPU_SIZE as u64,
            crate::vmm::arch::aarch64::layout::GICV2_CPU_SIZE
        );
    }
}
