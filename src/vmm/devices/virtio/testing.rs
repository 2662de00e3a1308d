//! Test support: a small virtio driver that plays the guest side (register accesses
//! through `BusDevice`, split rings laid out in guest memory), and a per-thread
//! allocation counter used to prove request handling does not allocate.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use virtio_bindings::virtio_config::{
    VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK,
    VIRTIO_CONFIG_S_FEATURES_OK,
};
use virtio_bindings::virtio_mmio::*;
use virtio_bindings::virtio_ring::{VRING_DESC_F_NEXT, VRING_DESC_F_WRITE};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::vmm::devices::bus::BusDevice;
use crate::vmm::memory::GuestMemory;

/// Two adjacent 1 MiB regions, so a buffer at `REGION_SPLIT - n` straddles two mappings.
pub const REGION_SPLIT: u64 = 0x10_0000;
pub const DESC_TABLE: u64 = 0x1000;
pub const AVAIL_RING: u64 = 0x3000;
pub const USED_RING: u64 = 0x4000;
const BUFFERS_START: u64 = 0x8000;

pub fn guest_memory() -> GuestMemory {
    GuestMemoryMmap::from_ranges(&[
        (GuestAddress(0), REGION_SPLIT as usize),
        (GuestAddress(REGION_SPLIT), REGION_SPLIT as usize),
    ])
    .unwrap()
}

/// One descriptor as the driver sees it: address, length, device-writable?
#[derive(Clone, Copy)]
pub struct Buf(pub GuestAddress, pub u32, pub bool);

/// The guest driver for queue 0 of a virtio-mmio device.
pub struct Driver<T: BusDevice> {
    pub dev: T,
    pub mem: GuestMemory,
    pub queue_size: u16,
    next_desc: u16,
    avail_idx: u16,
    last_used: u16,
    bump: u64,
}

impl<T: BusDevice> Driver<T> {
    pub fn new(dev: T, mem: GuestMemory) -> Self {
        Self {
            dev,
            mem,
            queue_size: 0,
            next_desc: 0,
            avail_idx: 0,
            last_used: 0,
            bump: BUFFERS_START,
        }
    }

    pub fn read32(&mut self, reg: u32) -> u32 {
        let mut b = [0u8; 4];
        self.dev.read(u64::from(reg), &mut b);
        u32::from_le_bytes(b)
    }

    pub fn write32(&mut self, reg: u32, v: u32) {
        self.dev.write(u64::from(reg), &v.to_le_bytes());
    }

    pub fn status(&mut self) -> u32 {
        self.read32(VIRTIO_MMIO_STATUS)
    }

    pub fn add_status(&mut self, bit: u32) {
        let s = self.status();
        self.write32(VIRTIO_MMIO_STATUS, s | bit);
    }

    pub fn device_features(&mut self) -> u64 {
        self.write32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
        let hi = self.read32(VIRTIO_MMIO_DEVICE_FEATURES);
        self.write32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
        let lo = self.read32(VIRTIO_MMIO_DEVICE_FEATURES);
        (u64::from(hi) << 32) | u64::from(lo)
    }

    /// Reset, ACKNOWLEDGE, DRIVER, write `features`, FEATURES_OK, as Linux's
    /// virtio core does. Returns whether the device kept FEATURES_OK.
    pub fn negotiate(&mut self, features: u64) -> bool {
        assert_eq!(self.read32(VIRTIO_MMIO_MAGIC_VALUE), 0x7472_6976);
        assert_eq!(self.read32(VIRTIO_MMIO_VERSION), 2);
        self.write32(VIRTIO_MMIO_STATUS, 0);
        self.add_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
        self.add_status(VIRTIO_CONFIG_S_DRIVER);
        self.write32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        self.write32(VIRTIO_MMIO_DRIVER_FEATURES, (features >> 32) as u32);
        self.write32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
        self.write32(VIRTIO_MMIO_DRIVER_FEATURES, features as u32);
        self.add_status(VIRTIO_CONFIG_S_FEATURES_OK);
        self.status() & VIRTIO_CONFIG_S_FEATURES_OK != 0
    }

    /// Lays out an empty split ring of `size` entries and programs queue 0 with it.
    pub fn setup_queue(&mut self, size: u16) {
        self.setup_queue_at(size, DESC_TABLE, AVAIL_RING, USED_RING);
    }

    pub fn setup_queue_at(&mut self, size: u16, desc: u64, avail: u64, used: u64) {
        self.write32(VIRTIO_MMIO_QUEUE_SEL, 0);
        assert_eq!(self.read32(VIRTIO_MMIO_QUEUE_READY), 0);
        assert!(self.read32(VIRTIO_MMIO_QUEUE_NUM_MAX) >= u32::from(size));
        for (addr, len) in [
            (desc, 16 * size as usize),
            (avail, 6 + 2 * size as usize),
            (used, 6 + 8 * size as usize),
        ] {
            // Rings outside guest memory are a deliberate test case; nothing to clear.
            let _ = self.mem.write_slice(&vec![0u8; len], GuestAddress(addr));
        }
        self.queue_size = size;
        self.next_desc = 0;
        self.avail_idx = 0;
        self.last_used = 0;
        self.write32(VIRTIO_MMIO_QUEUE_NUM, u32::from(size));
        for (lo, hi, addr) in [
            (
                VIRTIO_MMIO_QUEUE_DESC_LOW,
                VIRTIO_MMIO_QUEUE_DESC_HIGH,
                desc,
            ),
            (
                VIRTIO_MMIO_QUEUE_AVAIL_LOW,
                VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
                avail,
            ),
            (
                VIRTIO_MMIO_QUEUE_USED_LOW,
                VIRTIO_MMIO_QUEUE_USED_HIGH,
                used,
            ),
        ] {
            self.write32(lo, addr as u32);
            self.write32(hi, (addr >> 32) as u32);
        }
        self.write32(VIRTIO_MMIO_QUEUE_READY, 1);
    }

    /// Full bring-up: negotiate, one queue, DRIVER_OK.
    pub fn bring_up(&mut self, features: u64, queue_size: u16) {
        assert!(self.negotiate(features), "device refused features");
        self.setup_queue(queue_size);
        self.add_status(VIRTIO_CONFIG_S_DRIVER_OK);
    }

    /// Guest buffer space (16-byte aligned), never reused within a test.
    pub fn alloc(&mut self, len: u64) -> GuestAddress {
        let at = self.bump;
        self.bump = (self.bump + len + 15) & !15;
        assert!(
            self.bump < REGION_SPLIT - 0x1000,
            "test buffer space exhausted"
        );
        GuestAddress(at)
    }

    /// Puts a descriptor chain on the avail ring (without notifying); returns its head.
    pub fn add_chain(&mut self, bufs: &[Buf]) -> u16 {
        let size = self.queue_size;
        let head = self.next_desc;
        for (i, b) in bufs.iter().enumerate() {
            let idx = self.next_desc;
            let next = (idx + 1) % size;
            let mut flags = 0u16;
            if b.2 {
                flags |= VRING_DESC_F_WRITE as u16;
            }
            if i + 1 < bufs.len() {
                flags |= VRING_DESC_F_NEXT as u16;
            }
            let at = GuestAddress(DESC_TABLE + 16 * u64::from(idx));
            self.mem.write_obj(b.0 .0.to_le(), at).unwrap();
            self.mem
                .write_obj(b.1.to_le(), at.unchecked_add(8))
                .unwrap();
            self.mem
                .write_obj(flags.to_le(), at.unchecked_add(12))
                .unwrap();
            self.mem
                .write_obj(next.to_le(), at.unchecked_add(14))
                .unwrap();
            self.next_desc = next;
        }
        let slot = AVAIL_RING + 4 + 2 * u64::from(self.avail_idx % size);
        self.mem
            .write_obj(head.to_le(), GuestAddress(slot))
            .unwrap();
        self.avail_idx = self.avail_idx.wrapping_add(1);
        // The ring entry must be visible before the index that publishes it.
        std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
        self.mem
            .write_obj(self.avail_idx.to_le(), GuestAddress(AVAIL_RING + 2))
            .unwrap();
        head
    }

    pub fn notify(&mut self) {
        self.write32(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    }

    /// Next used element (id, len), if the device produced one.
    pub fn pop_used(&mut self) -> Option<(u32, u32)> {
        let idx: u16 = self.mem.read_obj(GuestAddress(USED_RING + 2)).unwrap();
        if idx == self.last_used {
            return None;
        }
        let elem = USED_RING + 4 + 8 * u64::from(self.last_used % self.queue_size);
        let id: u32 = self.mem.read_obj(GuestAddress(elem)).unwrap();
        let len: u32 = self.mem.read_obj(GuestAddress(elem + 4)).unwrap();
        self.last_used = self.last_used.wrapping_add(1);
        Some((id, len))
    }

    pub fn avail_idx(&self) -> u16 {
        self.avail_idx
    }
}

trait UncheckedAdd {
    fn unchecked_add(self, n: u64) -> Self;
}
impl UncheckedAdd for GuestAddress {
    fn unchecked_add(self, n: u64) -> Self {
        GuestAddress(self.0 + n)
    }
}

thread_local! {
    // const-initialised and Drop-free, so touching it from the allocator never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Number of heap allocations made so far by the calling thread.
pub fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn count() {
    // try_with: during thread teardown the slot may be gone; just don't count then.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

/// The system allocator, counting allocations per thread so parallel tests don't
/// disturb each other's counts.
struct CountingAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees carry over; counting touches only a thread-local Cell.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded verbatim; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded verbatim; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` came from this allocator, i.e. from `System`; forwarded verbatim.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`; forwarded verbatim.
        unsafe { System.dealloc(ptr, layout) }
    }
}

// Test builds only: the release binary keeps the plain system allocator.
#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;
