//! The device-side contract every virtio device model implements, the interrupt a
//! transport shares with its device, the errors both report, and the queue helpers
//! the device models share.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use thiserror::Error;
use virtio_bindings::virtio_mmio::{VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_VRING};
use virtio_queue::Queue;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use crate::vmm::memory::GuestMemory;

/// What a virtio device model provides to a transport.
///
/// The transport owns negotiation and queue configuration; the device only sees the
/// result: the acked features and ready queues handed over in `activate`.
pub trait VirtioDevice: Send {
    /// Virtio device ID (virtio 1.1 section 5), e.g. 2 for block.
    fn device_type(&self) -> u32;

    /// Feature bits the device offers. The transport adds `VIRTIO_F_VERSION_1` itself.
    fn avail_features(&self) -> u64;

    /// One entry per virtqueue: its maximum size (a power of two).
    fn queue_max_sizes(&self) -> &[u16];

    /// Reads device-specific configuration space; bytes past its end read as zero.
    fn read_config(&self, offset: u64, data: &mut [u8]);

    /// Writes device-specific configuration space; devices with read-only config ignore it.
    fn write_config(&mut self, offset: u64, data: &[u8]);

    /// Starts the device after the driver set DRIVER_OK. `queues` has one entry per
    /// `queue_max_sizes` entry, already validated against `mem` if marked ready.
    fn activate(
        &mut self,
        mem: GuestMemory,
        interrupt: Arc<Interrupt>,
        queues: Vec<Queue>,
        acked_features: u64,
    ) -> Result<(), ActivateError>;

    /// Handles every request the driver made available on queue `index`. Called when
    /// the driver writes QueueNotify; an ioeventfd handler would call the same method.
    fn process_queue(&mut self, index: u16) -> Result<(), QueueError>;

    /// Drops all activation state (queues, memory, interrupt) so the device can be
    /// negotiated again. Backing storage and other construction-time settings stay.
    fn reset(&mut self);

    /// The live queues' positions while active (empty before DRIVER_OK), in queue
    /// order: what a snapshot keeps so the device goes on where the driver left it.
    fn queue_states(&self) -> Vec<virtio_queue::QueueState> {
        Vec::new()
    }
}

/// A device's interrupt line: an irqfd `EventFd` plus the virtio InterruptStatus bits.
///
/// Shared (`Arc`) by the transport, which reads and acks the status on MMIO accesses,
/// and the device, which sets bits and kicks the eventfd, possibly from another
/// thread once an ioeventfd/worker design is added; hence the atomic.
pub struct Interrupt {
    status: AtomicU32,
    evt: EventFd,
}

impl Interrupt {
    /// Creates the interrupt with a fresh non-blocking eventfd; register
    /// `eventfd()` with KVM as an irqfd for the device's GSI.
    pub fn new() -> io::Result<Self> {
        Ok(Self::with_eventfd(EventFd::new(EFD_NONBLOCK)?))
    }

    /// Uses an eventfd the VMM already created and registered.
    pub fn with_eventfd(evt: EventFd) -> Self {
        Self {
            status: AtomicU32::new(0),
            evt,
        }
    }

    /// The eventfd that raises the interrupt, for registering as an irqfd.
    pub fn eventfd(&self) -> &EventFd {
        &self.evt
    }

    /// Current InterruptStatus register value.
    pub fn status(&self) -> u32 {
        self.status.load(Ordering::SeqCst)
    }

    /// InterruptACK: clears the given bits.
    pub fn ack(&self, bits: u32) {
        self.status.fetch_and(!bits, Ordering::SeqCst);
    }

    /// Tells the driver that the device added buffers to a used ring.
    pub fn signal_used_queue(&self) -> io::Result<()> {
        self.raise(VIRTIO_MMIO_INT_VRING)
    }

    /// Tells the driver that device configuration space changed.
    pub fn signal_config_change(&self) -> io::Result<()> {
        self.raise(VIRTIO_MMIO_INT_CONFIG)
    }

    /// Sets InterruptStatus without raising the line (restoring a snapshot).
    pub fn set_status(&self, bits: u32) {
        self.status.store(bits, Ordering::SeqCst);
    }

    /// Clears all status bits (device reset).
    pub fn clear(&self) {
        self.status.store(0, Ordering::SeqCst);
    }

    fn raise(&self, bit: u32) -> io::Result<()> {
        // Set the status bit before kicking the eventfd so the guest's handler, which
        // reads InterruptStatus, always sees why it was interrupted.
        self.status.fetch_or(bit, Ordering::SeqCst);
        self.evt.write(1)
    }
}

/// Why a device refused to start at DRIVER_OK.
#[derive(Debug, Error)]
pub enum ActivateError {
    /// The driver did not enable a queue the device needs.
    #[error("The driver did not mark virtqueue {0} ready; the device needs it. Reset the device and set the queue up before DRIVER_OK.")]
    QueueNotReady(u16),
    /// The transport handed over the wrong number of queues.
    #[error("The device got {got} virtqueues but needs {want}; this is a transport bug, please report it.")]
    QueueCount {
        /// How many it handed over.
        got: usize,
        /// How many the device has.
        want: usize,
    },
}

/// Why processing a virtqueue failed in a way the driver must be told about
/// (the transport then sets DEVICE_NEEDS_RESET). Per-request errors such as a bad
/// sector are not `QueueError`s: they go back to the guest in the request's status.
#[derive(Debug, Error)]
pub enum QueueError {
    /// The driver notified a queue index beyond the device's queues.
    #[error("The driver notified virtqueue {0}, which this device does not have; the notification was ignored.")]
    NoSuchQueue(u16),
    /// Reading or updating a ring failed.
    #[error(
        "Virtqueue access failed (the guest driver broke the ring, so the device needs a reset)"
    )]
    Ring(#[from] virtio_queue::Error),
    /// The used-buffer interrupt could not be raised.
    #[error("Could not signal the guest interrupt (check that the irqfd eventfd is still open)")]
    Interrupt(#[source] io::Error),
}

/// Copies `data.len()` bytes of a device's config space from `offset`; bytes past its
/// end read as zero, as the spec wants for a driver that reads too far.
pub fn read_config_bytes(config: &[u8], offset: u64, data: &mut [u8]) {
    for (i, byte) in data.iter_mut().enumerate() {
        *byte = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(i))
            .and_then(|o| config.get(o).copied())
            .unwrap_or(0);
    }
}

/// Drains `queue`: `handle` gets each chain the driver made available and returns the
/// used length to report. With EVENT_IDX the driver is told not to kick while we drain,
/// and chains it slips in meanwhile are drained too; one interrupt covers the batch, and
/// only if the driver wants it.
pub fn drain_queue(
    queue: &mut Queue,
    mem: &GuestMemory,
    interrupt: &Interrupt,
    mut handle: impl FnMut(virtio_queue::DescriptorChain<&GuestMemory>) -> u32,
) -> Result<(), QueueError> {
    use virtio_queue::{QueueOwnedT, QueueT};
    let mut completed = false;
    loop {
        queue.disable_notification(mem)?;
        while let Some(chain) = queue.iter(mem)?.next() {
            let head = chain.head_index();
            let len = handle(chain);
            queue.add_used(mem, head, len)?;
            completed = true;
        }
        if !queue.enable_notification(mem)? {
            break;
        }
    }
    if completed && queue.needs_notification(mem)? {
        interrupt
            .signal_used_queue()
            .map_err(QueueError::Interrupt)?;
    }
    Ok(())
}
