//! A guest driver for a virtio-mmio device whose every move comes from the fuzzer: raw
//! register reads and writes, raw guest memory writes, and (so the fuzzer reaches the
//! request paths quickly) whole steps a driver takes: a bring-up, a descriptor chain put
//! on a ring, a notify. Nothing is checked or kept consistent: descriptors may point
//! anywhere, loop, be indirect or straddle the two memory regions, as a hostile guest's
//! would.

use std::sync::Arc;

use ec2lab::vmm::devices::bus::BusDevice;
use ec2lab::vmm::devices::virtio::{Interrupt, MmioTransport, VirtioDevice};
use ec2lab::vmm::memory::GuestMemory;
use virtio_bindings::virtio_config::{
    VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK,
    VIRTIO_CONFIG_S_FEATURES_OK,
};
use virtio_bindings::virtio_mmio::*;
use vm_memory::{Bytes as _, GuestAddress};

use crate::Bytes;

/// Guest memory: two adjacent 64 KiB regions, so buffers can straddle two mappings.
pub const REGION: u64 = 0x1_0000;
/// All of guest memory.
pub const MEM_SIZE: u64 = 2 * REGION;
/// Operations per input at most: enough for a bring-up and many requests.
const MAX_OPS: usize = 256;

/// Fresh guest memory (zeroed).
pub fn memory() -> GuestMemory {
    ec2lab::vmm::memory::create(&[
        (GuestAddress(0), REGION as usize),
        (GuestAddress(REGION), REGION as usize),
    ])
    .expect("two small regions")
}

/// `device` behind a virtio-mmio transport over `mem`.
pub fn transport<D: VirtioDevice>(mem: &GuestMemory, device: D) -> MmioTransport<D> {
    let irq = Arc::new(Interrupt::new().expect("an eventfd"));
    MmioTransport::new(mem.clone(), device, irq).expect("the device's queue sizes are valid")
}

/// Where queue `q`'s rings live when the driver sets them up: descriptor table, then the
/// available ring 4 KiB later, then the used ring.
fn rings(q: u16) -> (u64, u64, u64) {
    let base = 0x1000 + u64::from(q) * 0x8000;
    (base, base + 0x1000, base + 0x2000)
}

#[derive(Clone, Copy, Default)]
struct QueueState {
    size: u16,
    next_desc: u16,
    avail_idx: u16,
}

/// The driver: the transport it talks to, guest memory, and what it thinks the queues are.
pub struct Driver<'m, D: VirtioDevice> {
    /// The device under test, behind its transport.
    pub transport: MmioTransport<D>,
    mem: &'m GuestMemory,
    queues: [QueueState; 2],
}

impl<'m, D: VirtioDevice> Driver<'m, D> {
    /// A driver for `transport`, whose guest memory is `mem`.
    pub fn new(transport: MmioTransport<D>, mem: &'m GuestMemory) -> Self {
        Self {
            transport,
            mem,
            queues: [QueueState::default(); 2],
        }
    }

    fn write32(&mut self, reg: u32, v: u32) {
        self.transport.write(u64::from(reg), &v.to_le_bytes());
    }

    fn read32(&mut self, reg: u32) -> u32 {
        let mut b = [0u8; 4];
        self.transport.read(u64::from(reg), &mut b);
        u32::from_le_bytes(b)
    }

    fn add_status(&mut self, bits: u32) {
        let s = self.read32(VIRTIO_MMIO_STATUS);
        self.write32(VIRTIO_MMIO_STATUS, s | bits);
    }

    /// Runs the program in `input`. `extra` is the device's own operation (e.g. a frame
    /// arriving for virtio-net), called with the rest of the input when chosen.
    pub fn run(
        &mut self,
        input: &mut Bytes<'_>,
        mut extra: impl FnMut(&mut MmioTransport<D>, &mut Bytes<'_>),
    ) {
        for _ in 0..MAX_OPS {
            if input.is_empty() {
                break;
            }
            match input.u8() % 9 {
                0 => {
                    let off = u64::from(input.u16() % 0x200);
                    let len = 1 + usize::from(input.u8() % 8);
                    let mut buf = [0u8; 8];
                    let got = input.take(len);
                    buf[..got.len()].copy_from_slice(got);
                    self.transport.write(off, &buf[..len]);
                }
                1 => {
                    let off = u64::from(input.u16() % 0x200);
                    let len = 1 + usize::from(input.u8() % 8);
                    let mut buf = [0u8; 8];
                    self.transport.read(off, &mut buf[..len]);
                }
                2 => {
                    let at = u64::from(input.u32()) % MEM_SIZE;
                    let n = usize::from(input.u8());
                    let bytes = input.take(n);
                    // Past the end of memory is the guest's mistake, not the device's.
                    let _ = self.mem.write_slice(bytes, GuestAddress(at));
                }
                3 => self.bring_up(input),
                4 => self.add_chain(input),
                5 => {
                    let q = u32::from(input.u8() % 3);
                    self.write32(VIRTIO_MMIO_QUEUE_NOTIFY, q);
                    let _ = self.transport.take_fault();
                }
                6 => {
                    let q = usize::from(input.u8() % 2);
                    let idx = input.u16();
                    self.queues[q].avail_idx = idx;
                    let (_, avail, _) = rings(q as u16);
                    let _ = self.mem.write_obj(idx.to_le(), GuestAddress(avail + 2));
                }
                7 => extra(&mut self.transport, input),
                _ => {
                    self.write32(VIRTIO_MMIO_STATUS, 0);
                    self.queues = [QueueState::default(); 2];
                }
            }
        }
    }

    /// Reset, ACKNOWLEDGE, DRIVER, the fuzzer's features, FEATURES_OK, then the queues
    /// (size from the input, rings at fixed places) and DRIVER_OK: Linux's order.
    fn bring_up(&mut self, input: &mut Bytes<'_>) {
        let features = input.u64();
        let nq = 1 + u16::from(input.u8() % 2);
        let shape = input.u8();
        // Mostly powers of two up to 256, sometimes whatever the input says.
        let size = if shape & 0x80 != 0 {
            input.u16()
        } else {
            1 << (shape % 9)
        };
        self.write32(VIRTIO_MMIO_STATUS, 0);
        self.add_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
        self.add_status(VIRTIO_CONFIG_S_DRIVER);
        self.write32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        self.write32(VIRTIO_MMIO_DRIVER_FEATURES, (features >> 32) as u32);
        self.write32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
        self.write32(VIRTIO_MMIO_DRIVER_FEATURES, features as u32);
        self.add_status(VIRTIO_CONFIG_S_FEATURES_OK);
        self.queues = [QueueState::default(); 2];
        for q in 0..nq {
            let (desc, avail, used) = rings(q);
            self.write32(VIRTIO_MMIO_QUEUE_SEL, u32::from(q));
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
            self.queues[usize::from(q)].size = size;
        }
        self.add_status(VIRTIO_CONFIG_S_DRIVER_OK);
    }

    /// Writes 1-8 descriptors (addresses, lengths, flags and links from the input) and
    /// publishes the chain's head on the available ring.
    fn add_chain(&mut self, input: &mut Bytes<'_>) {
        let q = usize::from(input.u8() % 2);
        let n = 1 + input.u8() % 8;
        let state = self.queues[q];
        if state.size == 0 {
            return;
        }
        let (desc_table, avail, _) = rings(q as u16);
        let head = state.next_desc % state.size;
        let mut idx = head;
        for i in 0..n {
            let addr = u64::from(input.u32()) % MEM_SIZE;
            let bits = input.u8();
            let len = if bits & 0x40 != 0 {
                input.u32()
            } else {
                u32::from(input.u16())
            };
            // VRING_DESC_F_NEXT (1) unless last, WRITE (2) and INDIRECT (4) from the input.
            let mut flags = u16::from(bits & 0b110);
            if i + 1 < n {
                flags |= 1;
            }
            let next = if bits & 0x80 != 0 {
                input.u16()
            } else {
                (idx + 1) % state.size
            };
            let at = desc_table + 16 * u64::from(idx);
            let _ = self.mem.write_obj(addr.to_le(), GuestAddress(at));
            let _ = self.mem.write_obj(len.to_le(), GuestAddress(at + 8));
            let _ = self.mem.write_obj(flags.to_le(), GuestAddress(at + 12));
            let _ = self.mem.write_obj(next.to_le(), GuestAddress(at + 14));
            idx = (idx + 1) % state.size;
        }
        let slot = avail + 4 + 2 * u64::from(state.avail_idx % state.size);
        let _ = self.mem.write_obj(head.to_le(), GuestAddress(slot));
        let avail_idx = state.avail_idx.wrapping_add(1);
        let _ = self
            .mem
            .write_obj(avail_idx.to_le(), GuestAddress(avail + 2));
        self.queues[q] = QueueState {
            size: state.size,
            next_desc: idx,
            avail_idx,
        };
    }
}
