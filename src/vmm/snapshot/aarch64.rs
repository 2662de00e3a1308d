//! aarch64 vCPU state: every register KVM lists for the vCPU (KVM_GET_REG_LIST, read
//! with KVM_GET_ONE_REG, which covers core, FP/SIMD and system registers alike) and its
//! MP state. The data types compile and are tested on every host; the KVM calls only on
//! aarch64.
//!
//! Not saved yet: the vGIC's distributor and redistributor state and the arch timer's
//! VM-wide offset. Until they are, [`super::save`] refuses to snapshot an aarch64 guest
//! (`SnapshotError::Unsupported`) rather than write a snapshot that restores wrong.

use serde::{Deserialize, Serialize};

/// One register: its KVM id and its value's bytes (their length is encoded in the id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reg {
    /// KVM_REG_ARM64 id.
    pub id: u64,
    /// The value, little endian, 8 or 16 bytes (or what the id's size field says).
    pub value: Vec<u8>,
}

/// One vCPU, as far as its registers go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VcpuState {
    /// The vCPU's index.
    pub id: u8,
    /// KVM_MP_STATE_*: runnable or stopped (PSCI CPU_OFF).
    pub mp_state: u32,
    /// Every listed register.
    pub regs: Vec<Reg>,
}

/// Bytes of a register's value, from the size field of its id (KVM_REG_SIZE_MASK).
pub fn reg_size(id: u64) -> usize {
    const SIZE_SHIFT: u64 = 52;
    const SIZE_MASK: u64 = 0x00f0_0000_0000_0000;
    1usize << ((id & SIZE_MASK) >> SIZE_SHIFT)
}

impl VcpuState {
    /// Refuses a state whose values do not have the sizes their ids say (a damaged file).
    pub fn check(&self) -> Result<(), super::error::SnapshotError> {
        match self.regs.iter().find(|r| r.value.len() != reg_size(r.id)) {
            Some(r) => Err(super::error::SnapshotError::Damaged(format!(
                "register {:#x} of vCPU {} holds {} bytes, its id says {}",
                r.id,
                self.id,
                r.value.len(),
                reg_size(r.id)
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod kvm_io {
    use kvm_bindings::{kvm_mp_state, RegList};
    use kvm_ioctls::VcpuFd;

    use super::{reg_size, Reg, VcpuState};
    use crate::vmm::snapshot::SnapshotError;

    fn kvm(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> SnapshotError {
        move |source| SnapshotError::Kvm { what, source }
    }

    impl VcpuState {
        /// Reads vCPU `id`'s registers and MP state; its thread must be parked.
        pub fn save(fd: &VcpuFd, id: u8) -> Result<Self, SnapshotError> {
            let mut list = RegList::new(500).map_err(|_| SnapshotError::TooManyMsrs)?;
            fd.get_reg_list(&mut list)
                .map_err(kvm("the vCPU's register list"))?;
            let mut regs = Vec::with_capacity(list.as_slice().len());
            for &rid in list.as_slice() {
                let mut value = vec![0u8; reg_size(rid)];
                fd.get_one_reg(rid, &mut value)
                    .map_err(kvm("a vCPU register"))?;
                regs.push(Reg { id: rid, value });
            }
            let mp_state = fd
                .get_mp_state()
                .map_err(kvm("the vCPU's MP state"))?
                .mp_state;
            Ok(VcpuState { id, mp_state, regs })
        }

        /// Puts the registers into a vCPU initialised with KVM_ARM_VCPU_INIT.
        pub fn restore(&self, fd: &VcpuFd) -> Result<(), SnapshotError> {
            self.check()?;
            for r in &self.regs {
                fd.set_one_reg(r.id, &r.value)
                    .map_err(kvm("a saved vCPU register"))?;
            }
            fd.set_mp_state(kvm_mp_state {
                mp_state: self.mp_state,
            })
            .map_err(kvm("the saved MP state"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | offset of PC (x0..x30, sp: 32 * 2).
    const PC: u64 = 0x6030_0000_0010_0040;
    // A 128-bit FP/SIMD register (V0): KVM_REG_SIZE_U128.
    const V0: u64 = 0x6040_0000_0010_0054;

    #[test]
    fn register_sizes_come_from_their_ids() {
        assert_eq!(reg_size(PC), 8);
        assert_eq!(reg_size(V0), 16);
    }

    #[test]
    fn a_vcpu_state_round_trips_and_bad_sizes_are_refused() {
        let s = VcpuState {
            id: 0,
            mp_state: 0,
            regs: vec![
                Reg {
                    id: PC,
                    value: 0x4008_0000u64.to_le_bytes().to_vec(),
                },
                Reg {
                    id: V0,
                    value: vec![7; 16],
                },
            ],
        };
        s.check().unwrap();
        let back: VcpuState = serde_json::from_slice(&serde_json::to_vec(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let mut bad = s.clone();
        bad.regs[1].value.pop();
        assert!(bad.check().is_err());
    }
}
