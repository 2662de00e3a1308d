//! The devices' side of a snapshot: each device's guest-visible state, and the set of
//! devices the guest was given, which a restore's launch description must match (the
//! guest's drivers are bound to exactly those).

use serde::{Deserialize, Serialize};

use super::SnapshotError;
use crate::vmm::config::VmConfig;
use crate::vmm::devices::i8042::I8042State;
use crate::vmm::devices::serial::UartState;
use crate::vmm::devices::virtio::mmio::TransportState;

/// Every emulated device's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStates {
    /// The console UART.
    pub serial: UartState,
    /// The keyboard controller (x86 only).
    pub i8042: Option<I8042State>,
    /// The virtio-blk transports, in slot order.
    pub disks: Vec<TransportState>,
    /// The virtio-net transports, in `--net` order.
    pub nets: Vec<TransportState>,
}

/// The devices a guest was built with, as far as the guest can tell them apart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSet {
    /// One entry per virtio-blk slot: whether it is read-only.
    pub disks_read_only: Vec<bool>,
    /// How many virtio-net interfaces.
    pub nets: usize,
}

impl DeviceSet {
    /// The set a launch description gives.
    pub fn of(cfg: &VmConfig) -> Self {
        DeviceSet {
            disks_read_only: cfg.disks.iter().map(|d| d.read_only).collect(),
            nets: cfg.nets.len(),
        }
    }

    /// Refuses a launch whose devices are not the snapshot's.
    pub fn check_launch(&self, cfg: &VmConfig) -> Result<(), SnapshotError> {
        let here = DeviceSet::of(cfg);
        if here == *self {
            return Ok(());
        }
        Err(SnapshotError::OtherDevices {
            saved: self.describe(),
            here: here.describe(),
        })
    }

    fn describe(&self) -> String {
        let ro = self.disks_read_only.iter().filter(|r| **r).count();
        format!(
            "{} disk(s) ({} read-only) and {} network interface(s)",
            self.disks_read_only.len(),
            ro,
            self.nets
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmm::config::DiskConfig;

    #[test]
    fn a_launch_with_other_devices_is_refused() {
        let mut cfg = VmConfig::new("k".into());
        cfg.disks.push(DiskConfig::file("a.img".into(), None));
        let set = DeviceSet::of(&cfg);
        set.check_launch(&cfg).unwrap();
        let mut more = cfg.clone();
        more.disks.push(DiskConfig::empty_slot());
        let e = set.check_launch(&more).unwrap_err();
        assert!(e.to_string().contains("1 disk(s)"), "{e}");
        assert!(e.to_string().contains("2 disk(s)"), "{e}");
        let mut ro = cfg.clone();
        ro.disks[0].read_only = true;
        assert!(set.check_launch(&ro).is_err());
    }
}
