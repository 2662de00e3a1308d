//! virtio-net (virtio 1.1 section 5.1): one RX/TX queue pair over a host backend,
//! normally a tap device (`tap.rs`).
//!
//! Features: VERSION_1, MAC, STATUS (link always up) and EVENT_IDX. No checksum or
//! segmentation offloads and no MRG_RXBUF, so every frame is a complete Ethernet frame
//! behind a 12-byte `virtio_net_hdr_v1` whose offload fields are zero and whose
//! `num_buffers` is 1; the guest posts RX buffers big enough for a whole frame
//! (Linux: 1518 bytes + header per buffer).
//!
//! Data path (both directions move bytes straight between guest memory and the
//! backend with one readv/writev per frame; nothing is copied or heap-allocated):
//!
//! * TX (guest to host) runs on the vCPU thread when the driver notifies queue 1. The
//!   whole avail ring is drained in one batch: each chain's readable descriptors become
//!   an on-stack `IoVecs` behind a host-side zero header, which is written to the
//!   backend as one frame. Every chain is completed (used length 0) whether or not the
//!   backend took it, since a NIC may drop frames; a full backend (EAGAIN) drops too,
//!   as a congested wire would. One interrupt covers the batch.
//! * RX (host to guest) runs when the VMM sees the backend fd readable and calls
//!   `rx_ready`. Each available RX chain's writable descriptors become an `IoVecs` and
//!   the backend reads one frame straight into them, plus one spare host byte that
//!   reveals a frame too big for the buffer (it is dropped and the buffer reused).
//!   Then the header is rewritten and the chain completed. This repeats until the
//!   backend is empty (EAGAIN) or the guest has no buffers left, then one interrupt
//!   covers the batch. In the second case the device remembers that frames are
//!   pending and retries when the driver notifies queue 0 with fresh buffers.
//!
//! The fd should be registered edge-triggered (EPOLLIN | EPOLLET): while the guest has
//! no RX buffers the frames stay queued in the backend, and a level-triggered poll
//! would spin on them.
//!
//! Why nothing is allocated per packet: descriptor chains are borrowing iterators
//! over guest memory, the scatter-gather list is a fixed array on the stack, the
//! header is a constant, and errors are OS error codes (`io::Error` without a boxed
//! payload). `net_tests.rs` checks this with a counting allocator.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;

use virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::virtio_ids::VIRTIO_ID_NET;
use virtio_bindings::virtio_net::{VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_S_LINK_UP};
use virtio_bindings::virtio_ring::VIRTIO_RING_F_EVENT_IDX;
use virtio_queue::{DescriptorChain, Queue, QueueOwnedT, QueueT};
use vm_memory::{Address, Bytes, GuestMemoryBackend};

use super::device::{self, ActivateError, Interrupt, QueueError, VirtioDevice};
use super::tap::{self, IoVecs, Tap, TapError, VNET_HDR_LEN};
use crate::vmm::memory::GuestMemory;
use crate::vmm::metrics::{add, NetCounters};

/// Ring size offered for each queue.
pub const QUEUE_SIZE: u16 = 256;
/// Queue indexes fixed by the spec for a single queue pair.
pub const RX_QUEUE: u16 = 0;
/// The transmit queue's index.
pub const TX_QUEUE: u16 = 1;
/// mac[6], status u16 (struct virtio_net_config up to `status`).
const CONFIG_LEN: usize = 8;
/// Smallest frame worth delivering: header plus an Ethernet header.
const MIN_FRAME: usize = VNET_HDR_LEN + 14;

/// The header we put in front of every RX frame: no offload flags (we negotiated
/// none, so the spec wants them zero) and `num_buffers` = 1 (no MRG_RXBUF).
const RX_HEADER: [u8; VNET_HDR_LEN] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
/// The header we send in front of every TX frame. The guest's own header is skipped,
/// not forwarded: it may only carry offload requests we never negotiated, and the
/// host kernel should not have to trust a guest's GSO/checksum fields.
static TX_HEADER: [u8; VNET_HDR_LEN] = [0; VNET_HDR_LEN];

type Chain<'a> = DescriptorChain<&'a GuestMemory>;

/// Where frames go and come from. Every frame on either side is prefixed by a
/// `VNET_HDR_LEN`-byte `virtio_net_hdr_v1`, as on a tap opened with IFF_VNET_HDR.
pub trait NetBackend: Send {
    /// Reads one frame into `iovs` without blocking and returns its length, or at
    /// least the bytes stored if it was cut short. (The device ends `iovs` with a
    /// spare byte, so a cut frame shows as longer than the guest's buffer either way.)
    /// `WouldBlock` means no frame is waiting.
    fn recv(&mut self, iovs: &IoVecs<'_>) -> io::Result<usize>;

    /// Sends one frame gathered from `iovs` without blocking.
    fn send(&mut self, iovs: &IoVecs<'_>) -> io::Result<usize>;

    /// The fd that becomes readable when `recv` has a frame.
    fn fd(&self) -> RawFd;
}

impl NetBackend for Tap {
    fn recv(&mut self, iovs: &IoVecs<'_>) -> io::Result<usize> {
        self.read_frame(iovs)
    }

    fn send(&mut self, iovs: &IoVecs<'_>) -> io::Result<usize> {
        self.write_frame(iovs)
    }

    fn fd(&self) -> RawFd {
        self.as_raw_fd()
    }
}

/// A backend over a connected datagram socket (e.g. one end of a
/// `UnixDatagram::pair()`): one datagram per frame, header included. Useful for tests
/// and for wiring a guest to a user-space switch without a tap.
#[derive(Debug)]
pub struct DatagramBackend {
    sock: UnixDatagram,
}

impl DatagramBackend {
    /// Takes over `sock` and makes it non-blocking.
    pub fn new(sock: UnixDatagram) -> io::Result<Self> {
        sock.set_nonblocking(true)?;
        Ok(Self { sock })
    }

    /// A backend plus the peer socket the other side of the "wire" uses.
    pub fn pair() -> io::Result<(Self, UnixDatagram)> {
        let (ours, peer) = UnixDatagram::pair()?;
        Ok((Self::new(ours)?, peer))
    }
}

impl NetBackend for DatagramBackend {
    fn recv(&mut self, iovs: &IoVecs<'_>) -> io::Result<usize> {
        // MSG_TRUNC makes an oversized datagram report its real length, as a tap does.
        tap::recv_datagram(self.sock.as_raw_fd(), iovs)
    }

    fn send(&mut self, iovs: &IoVecs<'_>) -> io::Result<usize> {
        tap::writev(self.sock.as_raw_fd(), iovs)
    }

    fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

/// Frame counters, for logs and tests (a snapshot of the device's [`NetCounters`]).
/// Bytes exclude the virtio-net header.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NetStats {
    /// Frames delivered to the guest.
    pub rx_frames: u64,
    /// Bytes delivered to the guest.
    pub rx_bytes: u64,
    /// Frames read from the backend but not delivered: too big for the guest's
    /// buffer, or shorter than an Ethernet header.
    pub rx_dropped: u64,
    /// Frames the guest sent.
    pub tx_frames: u64,
    /// Bytes the guest sent.
    pub tx_bytes: u64,
    /// Guest frames not sent: malformed chain or the backend refused/was full.
    pub tx_dropped: u64,
}

/// Live state between DRIVER_OK and reset.
struct Active {
    mem: GuestMemory,
    interrupt: Arc<Interrupt>,
    rx: Queue,
    tx: Queue,
}

/// A virtio-net device. Wrap it in `MmioTransport`, poll `backend_fd()` and call
/// `rx_ready` (through `MmioTransport::device_mut`) when it is readable.
pub struct Net<B: NetBackend = Tap> {
    backend: B,
    mac: [u8; 6],
    active: Option<Active>,
    /// The backend may hold frames we have not delivered because the guest had no RX
    /// buffers (or was not running); the next RX-queue notify reads them.
    rx_pending: bool,
    /// Shared with the VMM's `metrics` answer, which reads them without the device lock.
    counters: Arc<NetCounters>,
}

impl Net<Tap> {
    /// `--net TAP,MAC`: attaches to (or creates) the tap and builds the device.
    pub fn new(tap_name: &str, mac: [u8; 6]) -> Result<Self, TapError> {
        Ok(Self::with_backend(Tap::open(tap_name)?, mac))
    }
}

impl<B: NetBackend> Net<B> {
    /// A device in front of any backend (a tap, or a socket in tests).
    pub fn with_backend(backend: B, mac: [u8; 6]) -> Self {
        Self {
            backend,
            mac,
            active: None,
            // Frames may already be queued; the first RX notify must look.
            rx_pending: true,
            counters: Arc::default(),
        }
    }

    /// The fd to poll for readability (register it with EPOLLIN | EPOLLET).
    pub fn backend_fd(&self) -> RawFd {
        self.backend.fd()
    }

    /// The backend frames go to and come from.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The MAC address the guest sees.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// The frame counters so far.
    pub fn stats(&self) -> NetStats {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.counters;
        NetStats {
            rx_frames: c.rx_frames.load(Relaxed),
            rx_bytes: c.rx_bytes.load(Relaxed),
            rx_dropped: c.rx_dropped.load(Relaxed),
            tx_frames: c.tx_frames.load(Relaxed),
            tx_bytes: c.tx_bytes.load(Relaxed),
            tx_dropped: c.tx_dropped.load(Relaxed),
        }
    }

    /// The live counters, to read without locking the device.
    pub fn counters(&self) -> Arc<NetCounters> {
        self.counters.clone()
    }

    /// Whether frames may be waiting in the backend for guest RX buffers.
    pub fn rx_pending(&self) -> bool {
        self.rx_pending
    }

    /// The backend fd became readable: move as many frames as the guest has buffers
    /// for. Call it from the event loop (the vCPU thread may be in `process_queue`,
    /// so both go through the transport's lock). Before DRIVER_OK it only notes that
    /// frames are waiting. An error means the guest broke its RX ring: log it; the
    /// guest learns of it on its next RX notify, which fails the same way and makes
    /// the transport set DEVICE_NEEDS_RESET.
    pub fn rx_ready(&mut self) -> Result<(), QueueError> {
        self.rx_pending = true;
        self.fill_rx()
    }

    /// Delivers frames until the backend is empty or the guest is out of buffers.
    fn fill_rx(&mut self) -> Result<(), QueueError> {
        let Some(active) = self.active.as_mut() else {
            return Ok(());
        };
        let mem = &active.mem;
        let mut completed = false;
        loop {
            let Some(chain) = active.rx.iter(mem)?.next() else {
                // Out of buffers. Re-arm the RX notification (with EVENT_IDX this
                // publishes avail_event); if the driver posted buffers meanwhile, go on.
                if active.rx.enable_notification(mem)? {
                    continue;
                }
                break;
            };
            let head = chain.head_index();
            match receive(&mut self.backend, chain, mem, &self.counters) {
                Rx::Delivered(len) => {
                    active.rx.add_used(mem, head, len)?;
                    completed = true;
                }
                Rx::Unusable => {
                    // Give the driver its buffer back with nothing in it rather than
                    // hold it forever; no frame was consumed.
                    active.rx.add_used(mem, head, 0)?;
                    completed = true;
                }
                Rx::Dropped => {
                    // A frame was consumed and discarded; the buffer is still free,
                    // so un-pop the chain and offer it to the next frame.
                    active.rx.go_to_previous_position();
                }
                Rx::Empty => {
                    active.rx.go_to_previous_position();
                    self.rx_pending = false;
                    break;
                }
            }
        }
        if completed && active.rx.needs_notification(mem)? {
            active
                .interrupt
                .signal_used_queue()
                .map_err(QueueError::Interrupt)?;
        }
        Ok(())
    }

    /// Sends every frame the driver made available on the TX queue.
    fn process_tx(&mut self) -> Result<(), QueueError> {
        let Some(active) = self.active.as_mut() else {
            return Ok(());
        };
        let (backend, stats) = (&mut self.backend, &*self.counters);
        device::drain_queue(&mut active.tx, &active.mem, &active.interrupt, |chain| {
            transmit(backend, chain, &active.mem, stats);
            // TX buffers are only read by the device: used length 0.
            0
        })
    }

    fn config(&self) -> [u8; CONFIG_LEN] {
        let mut c = [0u8; CONFIG_LEN];
        c[..6].copy_from_slice(&self.mac);
        c[6..8].copy_from_slice(&(VIRTIO_NET_S_LINK_UP as u16).to_le_bytes());
        c
    }
}

/// Outcome of offering one RX chain to the backend.
enum Rx {
    /// A frame is in the chain; the used length (header included).
    Delivered(u32),
    /// The chain cannot hold any frame (outside guest memory, too many segments,
    /// smaller than a header).
    Unusable,
    /// A frame was read but discarded; the chain is untouched for our purposes.
    Dropped,
    /// The backend has nothing (or failed); stop until the fd is readable again.
    Empty,
}

fn receive<B: NetBackend>(
    backend: &mut B,
    chain: Chain<'_>,
    mem: &GuestMemory,
    stats: &NetCounters,
) -> Rx {
    // One byte past the guest's buffer: a tap silently cuts an oversized frame to
    // the space offered, so a frame that reaches this byte did not fit.
    let mut overflow = [0u8; 1];
    let mut iovs = IoVecs::new();
    // Only device-writable descriptors are ours to fill; a driver should not put
    // readable ones in an RX chain, and skipping them is harmless.
    for d in chain.clone().writable() {
        // A buffer may straddle two guest memory regions; get_slices splits it.
        for slice in mem.get_slices(d.addr(), d.len() as usize) {
            let Ok(slice) = slice else {
                return Rx::Unusable;
            };
            if iovs.push(&slice).is_err() {
                return Rx::Unusable;
            }
        }
    }
    let room = iovs.capacity();
    if room < VNET_HDR_LEN || iovs.push_host_mut(&mut overflow).is_err() {
        return Rx::Unusable;
    }
    let len = match backend.recv(&iovs) {
        Ok(len) => len,
        // Anything but EAGAIN is unexpected on a tap (e.g. EIO after it was deleted);
        // stop this round either way rather than spin on a failing fd.
        Err(_) => return Rx::Empty,
    };
    if len > room || len < MIN_FRAME {
        // Cut short (or runt): a partial frame must never reach the guest.
        add(&stats.rx_dropped, 1);
        return Rx::Dropped;
    }
    // The backend's header may carry offload hints we did not negotiate; replace it.
    if write_writable(chain, mem, &RX_HEADER).is_err() {
        return Rx::Unusable;
    }
    add(&stats.rx_frames, 1);
    add(&stats.rx_bytes, (len - VNET_HDR_LEN) as u64);
    // len <= room, the sum of at most MAX_IOVS slices of guest buffers; a frame is
    // never near 4 GiB, but saturate rather than wrap.
    Rx::Delivered(u32::try_from(len).unwrap_or(u32::MAX))
}

/// Writes `bytes` at the start of the chain's writable area.
fn write_writable(chain: Chain<'_>, mem: &GuestMemory, bytes: &[u8]) -> Result<(), ()> {
    let mut done = 0;
    for d in chain.writable() {
        if done == bytes.len() {
            break;
        }
        let take = (d.len() as usize).min(bytes.len() - done);
        mem.write_slice(&bytes[done..done + take], d.addr())
            .map_err(|_| ())?;
        done += take;
    }
    if done == bytes.len() {
        Ok(())
    } else {
        Err(())
    }
}

fn transmit<B: NetBackend>(
    backend: &mut B,
    chain: Chain<'_>,
    mem: &GuestMemory,
    stats: &NetCounters,
) {
    let mut iovs = IoVecs::new();
    let built = iovs.push_host(&TX_HEADER).is_ok() && gather_frame(&mut iovs, chain, mem);
    // A frame must at least hold an Ethernet header.
    if !built || iovs.capacity() < MIN_FRAME {
        add(&stats.tx_dropped, 1);
        return;
    }
    match backend.send(&iovs) {
        Ok(_) => {
            add(&stats.tx_frames, 1);
            add(&stats.tx_bytes, (iovs.capacity() - VNET_HDR_LEN) as u64);
        }
        // EAGAIN (backend full) or a rejected frame: dropped, as on a real wire.
        Err(_) => add(&stats.tx_dropped, 1),
    }
}

/// Appends the chain's readable bytes after the guest's `VNET_HDR_LEN`-byte header.
/// Returns false if the chain is malformed (header missing, outside guest memory,
/// too many segments).
fn gather_frame<'m>(iovs: &mut IoVecs<'m>, chain: Chain<'m>, mem: &'m GuestMemory) -> bool {
    let mut skip = VNET_HDR_LEN as u64;
    for d in chain.readable() {
        let len = u64::from(d.len());
        if skip >= len {
            skip -= len;
            continue;
        }
        let Some(addr) = d.addr().checked_add(skip) else {
            return false;
        };
        let take = (len - skip) as usize;
        skip = 0;
        for slice in mem.get_slices(addr, take) {
            match slice {
                Ok(slice) if iovs.push(&slice).is_ok() => {}
                _ => return false,
            }
        }
    }
    skip == 0
}

impl<B: NetBackend> VirtioDevice for Net<B> {
    fn device_type(&self) -> u32 {
        VIRTIO_ID_NET
    }

    fn avail_features(&self) -> u64 {
        (1u64 << VIRTIO_F_VERSION_1)
            | (1 << VIRTIO_RING_F_EVENT_IDX)
            | (1 << VIRTIO_NET_F_MAC)
            | (1 << VIRTIO_NET_F_STATUS)
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE]
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        device::read_config_bytes(&self.config(), offset, data);
    }

    /// The MAC is only driver-writable in legacy mode; a VERSION_1 device ignores writes.
    fn write_config(&mut self, _offset: u64, _data: &[u8]) {}

    fn activate(
        &mut self,
        mem: GuestMemory,
        interrupt: Arc<Interrupt>,
        queues: Vec<Queue>,
        _acked_features: u64,
    ) -> Result<(), ActivateError> {
        let [rx, tx]: [Queue; 2] =
            queues
                .try_into()
                .map_err(|q: Vec<Queue>| ActivateError::QueueCount {
                    got: q.len(),
                    want: 2,
                })?;
        for (index, q) in [(RX_QUEUE, &rx), (TX_QUEUE, &tx)] {
            if !q.ready() {
                return Err(ActivateError::QueueNotReady(index));
            }
        }
        self.active = Some(Active {
            mem,
            interrupt,
            rx,
            tx,
        });
        self.rx_pending = true;
        Ok(())
    }

    fn queue_states(&self) -> Vec<virtio_queue::QueueState> {
        self.active
            .iter()
            .flat_map(|a| [a.rx.state(), a.tx.state()])
            .collect()
    }

    fn process_queue(&mut self, index: u16) -> Result<(), QueueError> {
        match index {
            // New RX buffers only matter if frames are waiting for them; otherwise
            // the next `rx_ready` will use them.
            RX_QUEUE if self.rx_pending => self.fill_rx(),
            RX_QUEUE => Ok(()),
            TX_QUEUE => self.process_tx(),
            _ => Err(QueueError::NoSuchQueue(index)),
        }
    }

    fn reset(&mut self) {
        self.active = None;
        self.rx_pending = true;
    }
}
