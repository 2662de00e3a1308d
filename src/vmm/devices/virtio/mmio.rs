//! virtio-mmio transport, version 2 (virtio 1.1 section 4.2.2), for one `VirtioDevice`.
//!
//! The guest driver negotiates features and configures queues through 32-bit registers;
//! on DRIVER_OK the transport validates the queues and hands copies to the device.
//! QueueNotify writes are forwarded synchronously to `VirtioDevice::process_queue`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use virtio_bindings::virtio_config::{
    VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK,
    VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET,
    VIRTIO_F_VERSION_1,
};
use virtio_bindings::virtio_mmio::*;
use virtio_bindings::virtio_ring::VIRTIO_RING_F_EVENT_IDX;
use virtio_queue::{Queue, QueueState, QueueT};
use vm_memory::GuestAddress;

use super::device::{ActivateError, Interrupt, QueueError, VirtioDevice};
use crate::vmm::devices::bus::BusDevice;
use crate::vmm::memory::GuestMemory;

/// "virt" in little endian.
pub const MMIO_MAGIC_VALUE: u32 = 0x7472_6976;
/// The virtio-mmio version we implement (2: virtio 1.0 and later, no legacy layout).
pub const MMIO_VERSION: u32 = 2;
/// We are not a registered vendor; drivers do not look at this.
pub const MMIO_VENDOR_ID: u32 = 0;
/// Size of the MMIO window to map for each device (registers plus config space).
pub const MMIO_WINDOW_SIZE: u64 = 0x1000;

const CONFIG_SPACE_START: u64 = VIRTIO_MMIO_CONFIG as u64;

/// Why the transport could not be built.
#[derive(Debug, Error)]
pub enum TransportError {
    /// A queue's maximum size is not a power of two in 1..=32768.
    #[error("The device declares a virtqueue {index} of maximum size {size}; sizes must be a power of two between 1 and 32768. Fix the device's queue_max_sizes.")]
    QueueMaxSize {
        /// The queue.
        index: usize,
        /// Its declared maximum size.
        size: u16,
    },
}

/// Why the transport set DEVICE_NEEDS_RESET. The VMM can log it via `take_fault`.
#[derive(Debug, Error)]
pub enum DeviceFault {
    /// A queue the driver enabled is outside guest memory or misaligned.
    #[error("The driver set DRIVER_OK but virtqueue {0} lies outside guest memory or is misaligned; the guest must reset the device.")]
    InvalidQueue(u16),
    /// The driver set a queue size the device cannot take.
    #[error("The driver wrote queue size {size} for virtqueue {index}; it must be a power of two no larger than QueueNumMax. The guest must reset the device.")]
    InvalidQueueSize {
        /// The queue.
        index: u16,
        /// The size the driver wrote.
        size: u32,
    },
    /// The device refused to start at DRIVER_OK.
    #[error("The device could not start")]
    Activate(#[from] ActivateError),
    /// Processing a queue failed in a way the driver must be told about.
    #[error("The device stopped processing requests")]
    Queue(#[from] QueueError),
}

/// One virtqueue's position and rings, as a snapshot keeps it (virtio-queue's
/// `QueueState`, which has no serde of its own).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSnapshot {
    /// Largest size the device offers.
    pub max_size: u16,
    /// Next available-ring entry the device will take.
    pub next_avail: u16,
    /// Next used-ring entry the device will fill.
    pub next_used: u16,
    /// Whether VIRTIO_RING_F_EVENT_IDX is in use.
    pub event_idx: bool,
    /// Size the driver chose.
    pub size: u16,
    /// QueueReady.
    pub ready: bool,
    /// Guest-physical addresses of the descriptor table, available and used rings.
    pub rings: [u64; 3],
}

impl From<QueueState> for QueueSnapshot {
    fn from(q: QueueState) -> Self {
        QueueSnapshot {
            max_size: q.max_size,
            next_avail: q.next_avail,
            next_used: q.next_used,
            event_idx: q.event_idx_enabled,
            size: q.size,
            ready: q.ready,
            rings: [q.desc_table, q.avail_ring, q.used_ring],
        }
    }
}

impl From<&QueueSnapshot> for QueueState {
    fn from(q: &QueueSnapshot) -> Self {
        QueueState {
            max_size: q.max_size,
            next_avail: q.next_avail,
            next_used: q.next_used,
            event_idx_enabled: q.event_idx,
            size: q.size,
            ready: q.ready,
            desc_table: q.rings[0],
            avail_ring: q.rings[1],
            used_ring: q.rings[2],
        }
    }
}

/// Everything the guest driver set in a transport, and where its queues stand: what a
/// snapshot keeps of one virtio-mmio device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportState {
    /// The virtio device id (2 block, 1 net), to refuse restoring into another kind.
    pub device_type: u32,
    /// The Status register.
    pub status: u32,
    /// DeviceFeaturesSel.
    pub device_features_sel: u32,
    /// DriverFeaturesSel.
    pub driver_features_sel: u32,
    /// The features the driver acked.
    pub driver_features: u64,
    /// Whether the driver acked a bit past 63.
    pub unknown_features_acked: bool,
    /// QueueSel.
    pub queue_sel: u32,
    /// ConfigGeneration.
    pub config_generation: u32,
    /// Whether the device was started (DRIVER_OK accepted).
    pub active: bool,
    /// InterruptStatus.
    pub interrupt_status: u32,
    /// The queues: the device's live positions when active, else the registers.
    pub queues: Vec<QueueSnapshot>,
}

/// Why a transport state could not be put back.
#[derive(Debug, Error)]
pub enum RestoreError {
    /// The state is of another kind of device.
    #[error(
        "the snapshot holds a virtio device of type {saved} where this launch has type {here}"
    )]
    DeviceType {
        /// In the snapshot.
        saved: u32,
        /// In this launch.
        here: u32,
    },
    /// The state has another number of queues than the device.
    #[error("the snapshot's device has {saved} queues, this one {here}")]
    QueueCount {
        /// In the snapshot.
        saved: usize,
        /// In this launch.
        here: usize,
    },
    /// A queue's saved configuration is not one virtio allows.
    #[error("the snapshot's virtqueue {0} is not a valid queue")]
    Queue(usize),
    /// The device did not start again with its saved queues.
    #[error("the device could not start again with its saved queues")]
    Activate(#[from] ActivateError),
}

/// A virtio-mmio v2 register window in front of `device`. Insert it on the MMIO bus
/// with length `MMIO_WINDOW_SIZE`.
pub struct MmioTransport<D: VirtioDevice> {
    device: D,
    mem: GuestMemory,
    interrupt: Arc<Interrupt>,
    queues: Vec<Queue>,
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    unknown_features_acked: bool,
    queue_sel: u32,
    config_generation: u32,
    active: bool,
    fault: Option<DeviceFault>,
}

impl<D: VirtioDevice> MmioTransport<D> {
    /// Wraps `device`; fails if the device declares queue sizes virtio does not allow.
    pub fn new(
        mem: GuestMemory,
        device: D,
        interrupt: Arc<Interrupt>,
    ) -> Result<Self, TransportError> {
        let queues = device
            .queue_max_sizes()
            .iter()
            .enumerate()
            .map(|(index, &size)| {
                Queue::new(size).map_err(|_| TransportError::QueueMaxSize { index, size })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            device,
            mem,
            interrupt,
            queues,
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            unknown_features_acked: false,
            queue_sel: 0,
            config_generation: 0,
            active: false,
            fault: None,
        })
    }

    /// Mutable access for settings that do not change guest-visible config space.
    /// For config changes (e.g. a new disk size) use `update_config`.
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }

    /// The transport's and its queues' state, for a snapshot. Call with the vCPUs
    /// paused, so no request is half-handled.
    pub fn save_state(&self) -> TransportState {
        let live = self.device.queue_states();
        let queues = if self.active && live.len() == self.queues.len() {
            live.into_iter().map(QueueSnapshot::from).collect()
        } else {
            self.queues.iter().map(|q| q.state().into()).collect()
        };
        TransportState {
            device_type: self.device.device_type(),
            status: self.status,
            device_features_sel: self.device_features_sel,
            driver_features_sel: self.driver_features_sel,
            driver_features: self.driver_features,
            unknown_features_acked: self.unknown_features_acked,
            queue_sel: self.queue_sel,
            config_generation: self.config_generation,
            active: self.active,
            interrupt_status: self.interrupt.status(),
            queues,
        }
    }

    /// Puts a saved state back into a freshly built transport, and starts the device
    /// with its saved queues if it was running. No interrupt is sent: the interrupt
    /// controller's own saved state says what the guest had pending.
    pub fn restore_state(&mut self, s: &TransportState) -> Result<(), RestoreError> {
        let here = self.device.device_type();
        if s.device_type != here {
            return Err(RestoreError::DeviceType {
                saved: s.device_type,
                here,
            });
        }
        if s.queues.len() != self.queues.len() {
            return Err(RestoreError::QueueCount {
                saved: s.queues.len(),
                here: self.queues.len(),
            });
        }
        let queues = s
            .queues
            .iter()
            .enumerate()
            .map(|(i, q)| Queue::try_from(QueueState::from(q)).map_err(|_| RestoreError::Queue(i)))
            .collect::<Result<Vec<_>, _>>()?;
        self.queues = queues;
        self.status = s.status;
        self.device_features_sel = s.device_features_sel;
        self.driver_features_sel = s.driver_features_sel;
        self.driver_features = s.driver_features;
        self.unknown_features_acked = s.unknown_features_acked;
        self.queue_sel = s.queue_sel;
        self.config_generation = s.config_generation;
        self.interrupt.clear();
        self.interrupt.set_status(s.interrupt_status);
        if s.active {
            let queues = self
                .queues
                .iter()
                .map(|q| Queue::try_from(q.state()).expect("validated just above"));
            self.device.activate(
                self.mem.clone(),
                self.interrupt.clone(),
                queues.collect(),
                self.driver_features,
            )?;
            self.active = true;
        }
        Ok(())
    }

    /// Returns (and clears) the reason the transport last set DEVICE_NEEDS_RESET.
    pub fn take_fault(&mut self) -> Option<DeviceFault> {
        self.fault.take()
    }

    /// Runs `f` on the device, then tells the driver that config space changed: bumps
    /// ConfigGeneration and, once the driver is live, raises the config-change interrupt.
    pub fn update_config<R>(&mut self, f: impl FnOnce(&mut D) -> R) -> R {
        let r = f(&mut self.device);
        self.config_generation = self.config_generation.wrapping_add(1);
        if self.status & VIRTIO_CONFIG_S_DRIVER_OK != 0 {
            // A failed kick only delays the guest noticing; the status bit is set.
            let _ = self.interrupt.signal_config_change();
        }
        r
    }

    fn device_features(&self) -> u64 {
        self.device.avail_features() | (1 << VIRTIO_F_VERSION_1)
    }

    fn selected_queue(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    /// Queue registers may only change between FEATURES_OK and DRIVER_OK.
    fn queue_config_allowed(&self) -> bool {
        self.status & (VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK)
            == VIRTIO_CONFIG_S_FEATURES_OK
    }

    fn reset(&mut self) {
        self.device.reset();
        self.queues.iter_mut().for_each(Queue::reset);
        self.status = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.driver_features = 0;
        self.unknown_features_acked = false;
        self.queue_sel = 0;
        self.active = false;
        self.fault = None;
        self.interrupt.clear();
    }

    fn set_needs_reset(&mut self, fault: DeviceFault) {
        self.status |= VIRTIO_CONFIG_S_NEEDS_RESET;
        self.fault = Some(fault);
        if self.status & VIRTIO_CONFIG_S_DRIVER_OK != 0 {
            // Spec 2.1.2: a live driver must be told via a config-change interrupt.
            let _ = self.interrupt.signal_config_change();
        }
    }

    /// The driver sets one status bit at a time, in order, keeping the earlier ones;
    /// anything else is ignored (the driver reads Status back and sees it refused).
    fn write_status(&mut self, value: u32) {
        if value == 0 {
            self.reset();
            return;
        }
        // NEEDS_RESET is owned by the device; a driver echoing it back changes nothing.
        let value = value & !VIRTIO_CONFIG_S_NEEDS_RESET;
        let current = self.status & !VIRTIO_CONFIG_S_NEEDS_RESET;
        if value & VIRTIO_CONFIG_S_FAILED != 0 {
            // The driver gave up; remember it, the guest will reset us eventually.
            self.status |= VIRTIO_CONFIG_S_FAILED;
            return;
        }
        if value & current != current {
            return;
        }
        const ACK: u32 = VIRTIO_CONFIG_S_ACKNOWLEDGE;
        const DRV: u32 = VIRTIO_CONFIG_S_DRIVER;
        const FOK: u32 = VIRTIO_CONFIG_S_FEATURES_OK;
        const DOK: u32 = VIRTIO_CONFIG_S_DRIVER_OK;
        match (current, value & !current) {
            (0, ACK) | (ACK, DRV) => self.status |= value,
            // Refusing means leaving FEATURES_OK clear (spec 3.1.1 step 6).
            (x, FOK) if x == ACK | DRV && self.features_acceptable() => self.status |= FOK,
            (x, DOK) if x == ACK | DRV | FOK => {
                self.status |= DOK;
                if self.status & VIRTIO_CONFIG_S_NEEDS_RESET == 0 {
                    self.activate();
                } else {
                    // Queue setup already failed; now that the driver is live, tell it.
                    let _ = self.interrupt.signal_config_change();
                }
            }
            _ => {}
        }
    }

    /// A driver must not accept features the device did not offer; refuse FEATURES_OK if it did.
    /// A modern transport also requires VERSION_1, otherwise the driver expects legacy
    /// layouts we do not implement.
    fn features_acceptable(&self) -> bool {
        !self.unknown_features_acked
            && self.driver_features & !self.device_features() == 0
            && self.driver_features & (1 << VIRTIO_F_VERSION_1) != 0
    }

    fn activate(&mut self) {
        let event_idx = self.driver_features & (1 << VIRTIO_RING_F_EVENT_IDX) != 0;
        let mut queues = Vec::with_capacity(self.queues.len());
        for (index, q) in self.queues.iter().enumerate() {
            if q.ready() && !q.is_valid(&self.mem) {
                self.set_needs_reset(DeviceFault::InvalidQueue(index as u16));
                return;
            }
            // Copy through QueueState: the transport keeps its own view for register reads.
            let Ok(mut copy) = Queue::try_from(q.state()) else {
                self.set_needs_reset(DeviceFault::InvalidQueue(index as u16));
                return;
            };
            copy.set_event_idx(event_idx);
            queues.push(copy);
        }
        match self.device.activate(
            self.mem.clone(),
            self.interrupt.clone(),
            queues,
            self.driver_features,
        ) {
            Ok(()) => self.active = true,
            Err(e) => self.set_needs_reset(e.into()),
        }
    }

    fn notify(&mut self, index: u32) {
        if !self.active || self.status & VIRTIO_CONFIG_S_NEEDS_RESET != 0 {
            return;
        }
        let Ok(index) = u16::try_from(index) else {
            return;
        };
        match self.device.process_queue(index) {
            Ok(()) | Err(QueueError::NoSuchQueue(_)) => {}
            Err(e) => self.set_needs_reset(e.into()),
        }
    }

    fn read_register(&self, offset: u32) -> u32 {
        match offset {
            VIRTIO_MMIO_MAGIC_VALUE => MMIO_MAGIC_VALUE,
            VIRTIO_MMIO_VERSION => MMIO_VERSION,
            VIRTIO_MMIO_DEVICE_ID => self.device.device_type(),
            VIRTIO_MMIO_VENDOR_ID => MMIO_VENDOR_ID,
            VIRTIO_MMIO_DEVICE_FEATURES => match self.device_features_sel {
                0 => self.device_features() as u32,
                1 => (self.device_features() >> 32) as u32,
                _ => 0,
            },
            VIRTIO_MMIO_QUEUE_NUM_MAX => self
                .queues
                .get(self.queue_sel as usize)
                .map_or(0, |q| u32::from(q.max_size())),
            VIRTIO_MMIO_QUEUE_READY => self
                .queues
                .get(self.queue_sel as usize)
                .map_or(0, |q| u32::from(q.ready())),
            VIRTIO_MMIO_INTERRUPT_STATUS => self.interrupt.status(),
            VIRTIO_MMIO_STATUS => self.status,
            VIRTIO_MMIO_CONFIG_GENERATION => self.config_generation,
            _ => 0,
        }
    }

    fn write_register(&mut self, offset: u32, value: u32) {
        match offset {
            VIRTIO_MMIO_DEVICE_FEATURES_SEL => self.device_features_sel = value,
            VIRTIO_MMIO_DRIVER_FEATURES_SEL => self.driver_features_sel = value,
            VIRTIO_MMIO_DRIVER_FEATURES => {
                // Only while negotiating: after FEATURES_OK the set is frozen.
                let negotiating = self.status
                    & (VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK)
                    == VIRTIO_CONFIG_S_DRIVER;
                if negotiating {
                    let v = u64::from(value);
                    match self.driver_features_sel {
                        0 => self.driver_features = (self.driver_features & !0xffff_ffff) | v,
                        1 => {
                            self.driver_features = (self.driver_features & 0xffff_ffff) | (v << 32)
                        }
                        // Bits past 63 are never offered, so acking one fails FEATURES_OK.
                        _ => self.unknown_features_acked |= value != 0,
                    }
                }
            }
            VIRTIO_MMIO_QUEUE_SEL => self.queue_sel = value,
            VIRTIO_MMIO_QUEUE_NUM
            | VIRTIO_MMIO_QUEUE_READY
            | VIRTIO_MMIO_QUEUE_DESC_LOW
            | VIRTIO_MMIO_QUEUE_DESC_HIGH
            | VIRTIO_MMIO_QUEUE_AVAIL_LOW
            | VIRTIO_MMIO_QUEUE_AVAIL_HIGH
            | VIRTIO_MMIO_QUEUE_USED_LOW
            | VIRTIO_MMIO_QUEUE_USED_HIGH => self.write_queue_register(offset, value),
            VIRTIO_MMIO_QUEUE_NOTIFY => self.notify(value),
            VIRTIO_MMIO_INTERRUPT_ACK => self.interrupt.ack(value),
            VIRTIO_MMIO_STATUS => self.write_status(value),
            _ => {}
        }
    }

    fn write_queue_register(&mut self, offset: u32, value: u32) {
        if !self.queue_config_allowed() {
            return;
        }
        let index = self.queue_sel;
        let Some(q) = self.selected_queue() else {
            return;
        };
        match offset {
            VIRTIO_MMIO_QUEUE_NUM => {
                let ok = u16::try_from(value).is_ok_and(|v| q.try_set_size(v).is_ok());
                if !ok {
                    self.set_needs_reset(DeviceFault::InvalidQueueSize {
                        index: index as u16,
                        size: value,
                    });
                }
            }
            VIRTIO_MMIO_QUEUE_READY => q.set_ready(value == 1),
            _ => {
                // Misaligned ring addresses are refused by `Queue`; flag them instead of
                // silently keeping the old address the driver no longer expects.
                if set_ring_address(q, offset, value).is_err() {
                    self.set_needs_reset(DeviceFault::InvalidQueue(index as u16));
                }
            }
        }
    }
}

/// Writes one 32-bit half of a queue ring address register.
fn set_ring_address(q: &mut Queue, offset: u32, value: u32) -> Result<(), virtio_queue::Error> {
    let merge = |old: u64, high: bool| {
        let v = u64::from(value);
        GuestAddress(if high {
            (old & 0xffff_ffff) | (v << 32)
        } else {
            (old & !0xffff_ffff) | v
        })
    };
    match offset {
        VIRTIO_MMIO_QUEUE_DESC_LOW => q.try_set_desc_table_address(merge(q.desc_table(), false)),
        VIRTIO_MMIO_QUEUE_DESC_HIGH => q.try_set_desc_table_address(merge(q.desc_table(), true)),
        VIRTIO_MMIO_QUEUE_AVAIL_LOW => q.try_set_avail_ring_address(merge(q.avail_ring(), false)),
        VIRTIO_MMIO_QUEUE_AVAIL_HIGH => q.try_set_avail_ring_address(merge(q.avail_ring(), true)),
        VIRTIO_MMIO_QUEUE_USED_LOW => q.try_set_used_ring_address(merge(q.used_ring(), false)),
        VIRTIO_MMIO_QUEUE_USED_HIGH => q.try_set_used_ring_address(merge(q.used_ring(), true)),
        _ => Ok(()),
    }
}

impl<D: VirtioDevice> BusDevice for MmioTransport<D> {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        if offset >= CONFIG_SPACE_START {
            // Config space allows any access width.
            self.device.read_config(offset - CONFIG_SPACE_START, data);
            return;
        }
        // Registers are 32-bit only (spec 4.2.2.2); other accesses read as zero.
        let value = match (u32::try_from(offset), data.len()) {
            (Ok(off), 4) if off.is_multiple_of(4) => self.read_register(off),
            _ => 0,
        };
        if data.len() == 4 {
            data.copy_from_slice(&value.to_le_bytes());
        } else {
            data.fill(0);
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        if offset >= CONFIG_SPACE_START {
            self.device.write_config(offset - CONFIG_SPACE_START, data);
            return;
        }
        let (Ok(off), Ok(bytes)) = (u32::try_from(offset), <[u8; 4]>::try_from(data)) else {
            return;
        };
        if off.is_multiple_of(4) {
            self.write_register(off, u32::from_le_bytes(bytes));
        }
    }
}
