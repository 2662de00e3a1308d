//! virtio-blk (virtio 1.1 section 5.2): one request queue over a `DiskFile`.
//!
//! Requests are handled synchronously when the driver notifies the queue. Nothing is
//! allocated per request: descriptor chains are walked twice by cloning the (borrowing)
//! iterator, headers land in a stack array, and data moves with pread/pwrite directly
//! on guest memory.

use std::path::Path;
use std::sync::Arc;

use virtio_bindings::virtio_blk::{
    VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_SEG_MAX,
    VIRTIO_BLK_ID_BYTES, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP,
    VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
};
use virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::virtio_ids::VIRTIO_ID_BLOCK;
use virtio_bindings::virtio_ring::VIRTIO_RING_F_EVENT_IDX;
use virtio_queue::desc::split::Descriptor;
use virtio_queue::{DescriptorChain, Queue, QueueT};
use vm_memory::{Address, Bytes, GuestAddress, GuestMemoryBackend, VolatileSlice};

use super::device::{self, ActivateError, Interrupt, QueueError, VirtioDevice};
use super::disk::BlockError;
use super::disk::{DiskFile, SECTOR_SIZE};
use crate::vmm::memory::GuestMemory;
use crate::vmm::metrics::{add, BlockCounters};

/// Ring size offered to the driver.
pub const QUEUE_SIZE: u16 = 256;
/// Data segments per request we advertise: the whole ring minus header and status.
pub const SEG_MAX: u32 = QUEUE_SIZE as u32 - 2;
const SERIAL_LEN: usize = VIRTIO_BLK_ID_BYTES as usize;
/// type (u32), reserved (u32), sector (u64).
const HEADER_LEN: u64 = 16;
/// capacity u64, size_max u32, seg_max u32, geometry u32, blk_size u32 (struct virtio_blk_config).
const CONFIG_LEN: usize = 24;

type Chain<'a> = DescriptorChain<&'a GuestMemory>;

/// Live state between DRIVER_OK and reset.
struct Active {
    mem: GuestMemory,
    interrupt: Arc<Interrupt>,
    queue: Queue,
}

/// A virtio-blk device. Wrap it in `MmioTransport` to expose it to the guest.
pub struct Block {
    disk: Option<DiskFile>,
    read_only: bool,
    serial: [u8; SERIAL_LEN],
    active: Option<Active>,
    /// Shared with the VMM's `metrics` answer, which reads them without the device lock.
    counters: Arc<BlockCounters>,
}

impl Block {
    /// `--disk PATH[,ro]`: opens the image and builds the device.
    pub fn new(path: impl AsRef<Path>, read_only: bool) -> Result<Self, BlockError> {
        Ok(Self::with_disk(DiskFile::open(path, read_only)?))
    }

    /// Builds the device around an already opened disk; it is read-only to the
    /// guest exactly when the disk was opened read-only.
    pub fn with_disk(disk: DiskFile) -> Self {
        Self {
            read_only: disk.read_only(),
            disk: Some(disk),
            serial: [0; SERIAL_LEN],
            active: None,
            counters: Arc::default(),
        }
    }

    /// A slot with no media: capacity 0 until `set_backing` puts a disk in (hot attach).
    pub fn empty() -> Self {
        Self {
            read_only: false,
            disk: None,
            serial: [0; SERIAL_LEN],
            active: None,
            counters: Arc::default(),
        }
    }

    /// The ID the guest reads with VIRTIO_BLK_T_GET_ID (Linux: /sys/block/vdX/serial).
    /// At most 20 bytes; shorter serials are zero-padded.
    pub fn set_serial(&mut self, serial: &str) -> Result<(), BlockError> {
        let bytes = serial.as_bytes();
        if bytes.len() > SERIAL_LEN {
            return Err(BlockError::SerialTooLong {
                serial: serial.to_owned(),
            });
        }
        self.serial = [0; SERIAL_LEN];
        self.serial[..bytes.len()].copy_from_slice(bytes);
        Ok(())
    }

    /// The serial set with [`Block::set_serial`], without its padding; `None` if unset.
    pub fn serial(&self) -> Option<String> {
        let end = self
            .serial
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(SERIAL_LEN);
        (end > 0).then(|| String::from_utf8_lossy(&self.serial[..end]).into_owned())
    }

    /// The slot's live counters, to read without locking the device.
    pub fn counters(&self) -> Arc<BlockCounters> {
        self.counters.clone()
    }

    /// Whether a disk image is in the slot.
    pub fn has_media(&self) -> bool {
        self.disk.is_some()
    }

    /// The disk in the slot, if any.
    pub fn backing(&self) -> Option<&DiskFile> {
        self.disk.as_ref()
    }

    /// Swaps the backing disk (hot attach/detach of a volume) and returns the old one.
    ///
    /// `None` detaches: capacity reads as 0 and every I/O request fails with IOERR,
    /// which is how a guest sees a yanked volume. Requests run synchronously under the
    /// transport's lock, so none is in flight during the swap. Call it through
    /// `MmioTransport::update_config` so the guest gets a config-change interrupt and
    /// re-reads the capacity. The RO feature was fixed at negotiation: a read-only disk
    /// swapped into a writable device fails writes with IOERR.
    pub fn set_backing(&mut self, disk: Option<DiskFile>) -> Option<DiskFile> {
        std::mem::replace(&mut self.disk, disk)
    }

    fn config(&self) -> [u8; CONFIG_LEN] {
        let mut c = [0u8; CONFIG_LEN];
        let sectors = self.disk.as_ref().map_or(0, DiskFile::sectors);
        c[0..8].copy_from_slice(&sectors.to_le_bytes());
        c[12..16].copy_from_slice(&SEG_MAX.to_le_bytes());
        c[20..24].copy_from_slice(&(SECTOR_SIZE as u32).to_le_bytes());
        c
    }
}

impl VirtioDevice for Block {
    fn device_type(&self) -> u32 {
        VIRTIO_ID_BLOCK
    }

    fn avail_features(&self) -> u64 {
        let mut f = (1u64 << VIRTIO_F_VERSION_1)
            | (1 << VIRTIO_RING_F_EVENT_IDX)
            | (1 << VIRTIO_BLK_F_SEG_MAX)
            | (1 << VIRTIO_BLK_F_BLK_SIZE)
            | (1 << VIRTIO_BLK_F_FLUSH);
        if self.read_only {
            f |= 1 << VIRTIO_BLK_F_RO;
        }
        f
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        device::read_config_bytes(&self.config(), offset, data);
    }

    /// All fields we expose are read-only (no CONFIG_WCE), so writes are dropped.
    fn write_config(&mut self, _offset: u64, _data: &[u8]) {}

    fn activate(
        &mut self,
        mem: GuestMemory,
        interrupt: Arc<Interrupt>,
        queues: Vec<Queue>,
        _acked_features: u64,
    ) -> Result<(), ActivateError> {
        let [queue]: [Queue; 1] =
            queues
                .try_into()
                .map_err(|q: Vec<Queue>| ActivateError::QueueCount {
                    got: q.len(),
                    want: 1,
                })?;
        if !queue.ready() {
            return Err(ActivateError::QueueNotReady(0));
        }
        self.active = Some(Active {
            mem,
            interrupt,
            queue,
        });
        Ok(())
    }

    fn queue_states(&self) -> Vec<virtio_queue::QueueState> {
        self.active.iter().map(|a| a.queue.state()).collect()
    }

    fn process_queue(&mut self, index: u16) -> Result<(), QueueError> {
        if index != 0 {
            return Err(QueueError::NoSuchQueue(index));
        }
        let Some(active) = self.active.as_mut() else {
            return Ok(());
        };
        let req = Requests {
            disk: self.disk.as_ref(),
            writable: !self.read_only,
            serial: &self.serial,
            counters: &self.counters,
        };
        // Requests run to completion here, so this is the time they were in flight
        // (VolumeIdleTime is the rest). Two vDSO clock reads per notify, not per request.
        let started = std::time::Instant::now();
        let result =
            device::drain_queue(&mut active.queue, &active.mem, &active.interrupt, |chain| {
                req.handle(chain, &active.mem)
            });
        add(
            &self.counters.busy_ns,
            started.elapsed().as_nanos().try_into().unwrap_or(u64::MAX),
        );
        result
    }

    fn reset(&mut self) {
        self.active = None;
    }
}

/// What a request may touch: borrowed from `Block` so the queue can be borrowed mutably.
struct Requests<'a> {
    disk: Option<&'a DiskFile>,
    writable: bool,
    serial: &'a [u8; SERIAL_LEN],
    counters: &'a BlockCounters,
}

/// Shape of a chain: driver-readable bytes first, then device-writable ones, the last
/// writable byte being the status.
struct Layout {
    readable: u64,
    writable: u64,
    status: Option<GuestAddress>,
    well_ordered: bool,
}

fn layout(chain: &Chain<'_>) -> Layout {
    let mut l = Layout {
        readable: 0,
        writable: 0,
        status: None,
        well_ordered: true,
    };
    let mut last: Option<Descriptor> = None;
    for d in chain.clone() {
        if d.is_write_only() {
            l.writable += u64::from(d.len());
        } else {
            // Drivers must put all device-readable descriptors first (split virtqueue rules).
            l.well_ordered &= l.writable == 0;
            l.readable += u64::from(d.len());
        }
        last = Some(d);
    }
    l.status = last
        .filter(|d| d.is_write_only() && d.len() > 0)
        .and_then(|d| d.addr().checked_add(u64::from(d.len()) - 1));
    l
}

impl Requests<'_> {
    /// Executes one request and returns the used length (bytes written to the chain).
    fn handle(&self, chain: Chain<'_>, mem: &GuestMemory) -> u32 {
        let l = layout(&chain);
        // Without a writable last byte there is nowhere to put a status: complete the
        // chain with length 0 so the driver gets its buffers back.
        let Some(status_addr) = l.status else {
            return 0;
        };
        let (status, written) = if l.well_ordered && l.readable >= HEADER_LEN {
            self.execute(&chain, mem, &l)
        } else {
            (VIRTIO_BLK_S_IOERR, 0)
        };
        if mem.write_obj(status as u8, status_addr).is_err() {
            return 0;
        }
        u32::try_from(written + 1).unwrap_or(u32::MAX)
    }

    /// Returns (status, data bytes written into guest memory).
    fn execute(&self, chain: &Chain<'_>, mem: &GuestMemory, l: &Layout) -> (u32, u64) {
        let mut header = [0u8; HEADER_LEN as usize];
        if walk(chain.clone(), false, mem, 0, HEADER_LEN, |at, s| {
            s.copy_to(&mut header[at as usize..]);
            Ok(())
        }) != (HEADER_LEN, true)
        {
            return (VIRTIO_BLK_S_IOERR, 0);
        }
        let kind = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let mut sector_bytes = [0u8; 8];
        sector_bytes.copy_from_slice(&header[8..16]);
        let sector = u64::from_le_bytes(sector_bytes);
        // The status byte is the last writable byte, not data.
        let writable_data = l.writable - 1;

        match kind {
            VIRTIO_BLK_T_IN => {
                let Some((disk, start)) = self.locate(sector, writable_data) else {
                    return (VIRTIO_BLK_S_IOERR, 0);
                };
                let (done, ok) = walk(chain.clone(), true, mem, 0, writable_data, |at, s| {
                    disk.read_into(start + at, s)
                });
                if ok {
                    add(&self.counters.read_ops, 1);
                    add(&self.counters.read_bytes, done);
                }
                (ok_or_ioerr(ok), done)
            }
            VIRTIO_BLK_T_OUT => {
                let len = l.readable - HEADER_LEN;
                let (disk, start) = match self.locate(sector, len) {
                    Some((disk, start)) if self.writable && !disk.read_only() => (disk, start),
                    _ => return (VIRTIO_BLK_S_IOERR, 0),
                };
                let (_, ok) = walk(chain.clone(), false, mem, HEADER_LEN, len, |at, s| {
                    disk.write_from(start + at, s)
                });
                if ok {
                    add(&self.counters.write_ops, 1);
                    add(&self.counters.write_bytes, len);
                }
                (ok_or_ioerr(ok), 0)
            }
            VIRTIO_BLK_T_FLUSH => {
                let ok = self.disk.is_some_and(|d| d.flush().is_ok());
                (ok_or_ioerr(ok), 0)
            }
            VIRTIO_BLK_T_GET_ID => {
                let len = writable_data.min(SERIAL_LEN as u64);
                let (done, ok) = walk(chain.clone(), true, mem, 0, len, |at, s| {
                    s.copy_from(&self.serial[at as usize..]);
                    Ok(())
                });
                (ok_or_ioerr(ok), done)
            }
            _ => (VIRTIO_BLK_S_UNSUPP, 0),
        }
    }

    /// Checks that `len` bytes starting at `sector` are whole sectors inside the disk;
    /// returns the disk and the starting byte offset.
    fn locate(&self, sector: u64, len: u64) -> Option<(&DiskFile, u64)> {
        let disk = self.disk?;
        let start = sector.checked_mul(SECTOR_SIZE)?;
        let end = start.checked_add(len)?;
        (len.is_multiple_of(SECTOR_SIZE) && end <= disk.sectors() * SECTOR_SIZE)
            .then_some((disk, start))
    }
}

fn ok_or_ioerr(ok: bool) -> u32 {
    if ok {
        VIRTIO_BLK_S_OK
    } else {
        VIRTIO_BLK_S_IOERR
    }
}

/// Visits the first `limit` bytes after `skip` of the chain's readable (or writable)
/// descriptors, as host-contiguous guest-memory slices. `f` gets each slice and its
/// offset within the visited area. Returns (bytes visited, whether all went well).
fn walk<F>(
    chain: Chain<'_>,
    writable: bool,
    mem: &GuestMemory,
    mut skip: u64,
    limit: u64,
    mut f: F,
) -> (u64, bool)
where
    F: FnMut(u64, &VolatileSlice<'_, ()>) -> std::io::Result<()>,
{
    let mut done = 0u64;
    let descs = if writable {
        chain.writable()
    } else {
        chain.readable()
    };
    for d in descs {
        if done == limit {
            break;
        }
        let len = u64::from(d.len());
        if skip >= len {
            skip -= len;
            continue;
        }
        let Some(addr) = d.addr().checked_add(skip) else {
            return (done, false);
        };
        let take = (len - skip).min(limit - done);
        skip = 0;
        // A buffer may straddle two guest memory regions; get_slices splits it.
        for slice in GuestMemoryBackend::get_slices(mem, addr, take as usize) {
            let Ok(slice) = slice else {
                return (done, false);
            };
            if f(done, &slice).is_err() {
                return (done, false);
            }
            done += slice.len() as u64;
        }
    }
    (done, done == limit)
}
