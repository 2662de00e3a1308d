//! virtio-net end-to-end tests: a test driver talks to `MmioTransport<Net<_>>` only
//! through MMIO registers and split rings in guest memory. The "wire" is a Unix
//! datagram socketpair (one datagram per frame, header included), and one test uses a
//! real tap device and the host kernel's ARP and ICMP answers.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use virtio_bindings::virtio_config::*;
use virtio_bindings::virtio_mmio::*;
use virtio_bindings::virtio_net::*;
use virtio_bindings::virtio_ring::{
    VIRTIO_RING_F_EVENT_IDX, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE,
};
use vm_memory::{Bytes, GuestAddress};

use super::net::{DatagramBackend, Net, NetBackend, NetStats};
use super::tap::{self, IoVecs, Tap, TapError, VNET_HDR_LEN};
use super::testing::{allocations, guest_memory, Buf, Driver, REGION_SPLIT};
use super::{Interrupt, MmioTransport};
use crate::vmm::devices::bus::BusDevice;

const QSIZE: u16 = 16;
const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const FEATURES: u64 =
    (1 << VIRTIO_F_VERSION_1) | (1 << VIRTIO_NET_F_MAC) | (1 << VIRTIO_NET_F_STATUS);
const HDR: usize = VNET_HDR_LEN;
/// What the device must put in front of every received frame: no offloads,
/// num_buffers = 1.
const RX_HDR: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];

/// One split virtqueue as the driver sees it.
struct Ring {
    sel: u32,
    desc: u64,
    avail: u64,
    used: u64,
    next_desc: u16,
    avail_idx: u16,
    last_used: u16,
}

impl Ring {
    fn new(sel: u32, base: u64) -> Self {
        Self {
            sel,
            desc: base,
            avail: base + 0x400,
            used: base + 0x800,
            next_desc: 0,
            avail_idx: 0,
            last_used: 0,
        }
    }

    fn program<T: BusDevice>(&mut self, d: &mut Driver<T>) {
        for (addr, len) in [(self.desc, 0x400), (self.avail, 0x400), (self.used, 0x400)] {
            d.mem
                .write_slice(&[0u8; 0x400][..len], GuestAddress(addr))
                .unwrap();
        }
        d.write32(VIRTIO_MMIO_QUEUE_SEL, self.sel);
        assert_eq!(d.read32(VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
        d.write32(VIRTIO_MMIO_QUEUE_NUM, u32::from(QSIZE));
        for (lo, hi, addr) in [
            (
                VIRTIO_MMIO_QUEUE_DESC_LOW,
                VIRTIO_MMIO_QUEUE_DESC_HIGH,
                self.desc,
            ),
            (
                VIRTIO_MMIO_QUEUE_AVAIL_LOW,
                VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
                self.avail,
            ),
            (
                VIRTIO_MMIO_QUEUE_USED_LOW,
                VIRTIO_MMIO_QUEUE_USED_HIGH,
                self.used,
            ),
        ] {
            d.write32(lo, addr as u32);
            d.write32(hi, (addr >> 32) as u32);
        }
        d.write32(VIRTIO_MMIO_QUEUE_READY, 1);
    }

    fn add_chain<T: BusDevice>(&mut self, d: &mut Driver<T>, bufs: &[Buf]) -> u16 {
        let head = self.next_desc;
        for (i, b) in bufs.iter().enumerate() {
            let idx = self.next_desc;
            let next = (idx + 1) % QSIZE;
            let mut flags = 0u16;
            if b.2 {
                flags |= VRING_DESC_F_WRITE as u16;
            }
            if i + 1 < bufs.len() {
                flags |= VRING_DESC_F_NEXT as u16;
            }
            let at = self.desc + 16 * u64::from(idx);
            d.mem.write_obj(b.0 .0, GuestAddress(at)).unwrap();
            d.mem.write_obj(b.1, GuestAddress(at + 8)).unwrap();
            d.mem.write_obj(flags, GuestAddress(at + 12)).unwrap();
            d.mem.write_obj(next, GuestAddress(at + 14)).unwrap();
            self.next_desc = next;
        }
        let slot = self.avail + 4 + 2 * u64::from(self.avail_idx % QSIZE);
        d.mem.write_obj(head, GuestAddress(slot)).unwrap();
        self.avail_idx = self.avail_idx.wrapping_add(1);
        std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
        d.mem
            .write_obj(self.avail_idx, GuestAddress(self.avail + 2))
            .unwrap();
        head
    }

    fn pop_used<T: BusDevice>(&mut self, d: &Driver<T>) -> Option<(u32, u32)> {
        let idx: u16 = d.mem.read_obj(GuestAddress(self.used + 2)).unwrap();
        if idx == self.last_used {
            return None;
        }
        let elem = self.used + 4 + 8 * u64::from(self.last_used % QSIZE);
        let id: u32 = d.mem.read_obj(GuestAddress(elem)).unwrap();
        let len: u32 = d.mem.read_obj(GuestAddress(elem + 4)).unwrap();
        self.last_used = self.last_used.wrapping_add(1);
        Some((id, len))
    }
}

struct Vm<B: NetBackend> {
    d: Driver<MmioTransport<Net<B>>>,
    irq: Arc<Interrupt>,
    rx: Ring,
    tx: Ring,
}

fn socket_vm(features: u64) -> (Vm<DatagramBackend>, UnixDatagram) {
    let (backend, peer) = DatagramBackend::pair().unwrap();
    peer.set_nonblocking(true).unwrap();
    (Vm::up(Net::with_backend(backend, MAC), features), peer)
}

impl<B: NetBackend> Vm<B> {
    fn new(net: Net<B>) -> Self {
        let irq = Arc::new(Interrupt::new().unwrap());
        let mem = guest_memory();
        let transport = MmioTransport::new(mem.clone(), net, irq.clone()).unwrap();
        Self {
            d: Driver::new(transport, mem),
            irq,
            rx: Ring::new(0, 0x1000),
            tx: Ring::new(1, 0x2000),
        }
    }

    fn up(net: Net<B>, features: u64) -> Self {
        let mut vm = Self::new(net);
        assert!(vm.d.negotiate(features), "device refused features");
        vm.rx.program(&mut vm.d);
        vm.tx.program(&mut vm.d);
        vm.d.add_status(VIRTIO_CONFIG_S_DRIVER_OK);
        assert_eq!(vm.d.status(), 0xf);
        vm
    }

    fn net(&mut self) -> &mut Net<B> {
        self.d.dev.device_mut()
    }

    fn kicks(&self) -> u64 {
        self.irq.eventfd().read().unwrap_or(0)
    }

    /// Queues header (with junk the device must not forward) + frame in one buffer.
    fn queue_tx(&mut self, frame: &[u8]) -> u16 {
        let at = self.d.alloc((HDR + frame.len()) as u64);
        self.d.mem.write_slice(&[0x5a; HDR], at).unwrap();
        self.d
            .mem
            .write_slice(frame, GuestAddress(at.0 + HDR as u64))
            .unwrap();
        let len = (HDR + frame.len()) as u32;
        self.tx.add_chain(&mut self.d, &[Buf(at, len, false)])
    }

    /// Posts one RX buffer of `len` bytes filled with 0xee; returns (head, address).
    fn post_rx(&mut self, len: u32) -> (u16, GuestAddress) {
        let at = self.d.alloc(u64::from(len) + 16);
        self.d
            .mem
            .write_slice(&vec![0xee; len as usize + 16], at)
            .unwrap();
        (self.rx.add_chain(&mut self.d, &[Buf(at, len, true)]), at)
    }

    fn notify(&mut self, queue: u32) {
        self.d.write32(VIRTIO_MMIO_QUEUE_NOTIFY, queue);
    }

    fn guest(&self, at: GuestAddress, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.d.mem.read_slice(&mut v, at).unwrap();
        v
    }

    fn stats(&mut self) -> NetStats {
        self.net().stats()
    }
}

/// An Ethernet frame of `len` bytes whose payload depends on `seed`.
fn frame(len: usize, seed: u8) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&MAC);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, seed]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]); // local experimental ethertype
    for (i, b) in f.iter_mut().enumerate().skip(14) {
        *b = (i as u8).wrapping_mul(7).wrapping_add(seed);
    }
    f
}

/// What the host side sends: a header full of offload junk, then the frame.
fn wire(frame: &[u8]) -> Vec<u8> {
    let mut v = vec![0x77u8; HDR];
    v.extend_from_slice(frame);
    v
}

fn peer_recv(peer: &UnixDatagram) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 65536];
    match peer.recv(&mut buf) {
        Ok(n) => {
            buf.truncate(n);
            Some(buf)
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
        Err(e) => panic!("peer recv: {e}"),
    }
}

#[test]
fn identity_features_and_config() {
    let (backend, _peer) = DatagramBackend::pair().unwrap();
    let mut vm = Vm::new(Net::with_backend(backend, MAC));
    let d = &mut vm.d;
    assert_eq!(d.read32(VIRTIO_MMIO_DEVICE_ID), 1, "virtio-net is device 1");
    let offered = d.device_features();
    for bit in [
        VIRTIO_F_VERSION_1,
        VIRTIO_NET_F_MAC,
        VIRTIO_NET_F_STATUS,
        VIRTIO_RING_F_EVENT_IDX,
    ] {
        assert_ne!(offered & (1 << bit), 0, "feature {bit} offered");
    }
    for bit in [
        VIRTIO_NET_F_MRG_RXBUF,
        VIRTIO_NET_F_CSUM,
        VIRTIO_NET_F_GUEST_CSUM,
    ] {
        assert_eq!(offered & (1 << bit), 0, "feature {bit} not offered");
    }
    assert!(d.negotiate(FEATURES));
    for (q, max) in [(0, 256), (1, 256), (2, 0)] {
        d.write32(VIRTIO_MMIO_QUEUE_SEL, q);
        assert_eq!(d.read32(VIRTIO_MMIO_QUEUE_NUM_MAX), max, "queue {q}");
    }
    let mut cfg = [0u8; 8];
    d.dev.read(0x100, &mut cfg);
    assert_eq!(cfg[..6], MAC);
    assert_eq!(u16::from_le_bytes([cfg[6], cfg[7]]), 1, "LINK_UP");
    // Writes are ignored; reads past the end are zero.
    d.dev.write(0x100, &[0; 6]);
    d.dev.read(0x100, &mut cfg);
    assert_eq!(cfg[..6], MAC);
    let mut past = [0xffu8; 4];
    d.dev.read(0x108, &mut past);
    assert_eq!(past, [0; 4]);

    // DRIVER_OK with only the RX queue ready is refused.
    vm.rx.program(&mut vm.d);
    vm.d.add_status(VIRTIO_CONFIG_S_DRIVER_OK);
    assert_ne!(vm.d.status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
    let fault = crate::causes::chain(&vm.d.dev.take_fault().unwrap());
    assert!(fault.contains("virtqueue 1"), "{fault}");
}

#[test]
fn guest_transmits_two_frames() {
    let (mut vm, peer) = socket_vm(FEATURES);
    let a = frame(60, 1);
    let b = frame(1514, 2);
    let ha = vm.queue_tx(&a);
    // Second frame: header in its own descriptor, payload straddling the boundary
    // between the two guest memory regions.
    let hdr = vm.d.alloc(HDR as u64);
    vm.d.mem.write_slice(&[0u8; HDR], hdr).unwrap();
    let body = GuestAddress(REGION_SPLIT - 700);
    vm.d.mem.write_slice(&b, body).unwrap();
    let hb = vm.tx.add_chain(
        &mut vm.d,
        &[
            Buf(hdr, HDR as u32, false),
            Buf(body, b.len() as u32, false),
        ],
    );
    assert_eq!(vm.kicks(), 0);
    vm.notify(1);

    assert_eq!(vm.tx.pop_used(&vm.d), Some((u32::from(ha), 0)));
    assert_eq!(vm.tx.pop_used(&vm.d), Some((u32::from(hb), 0)));
    assert_eq!(vm.tx.pop_used(&vm.d), None);
    assert_eq!(vm.kicks(), 1, "one interrupt for the batch");

    let got_a = peer_recv(&peer).expect("first frame");
    let got_b = peer_recv(&peer).expect("second frame");
    assert_eq!(peer_recv(&peer), None);
    // The guest's header junk is not forwarded: the host gets a clean header.
    assert_eq!(got_a[..HDR], [0; HDR]);
    assert_eq!(got_a[HDR..], a[..]);
    assert_eq!(got_b[HDR..], b[..]);
    let s = vm.stats();
    assert_eq!((s.tx_frames, s.tx_bytes, s.tx_dropped), (2, 1574, 0));
}

#[test]
fn malformed_tx_chains_are_completed_and_dropped() {
    let (mut vm, peer) = socket_vm(FEATURES);
    // Header only, no frame.
    let hdr = vm.d.alloc(HDR as u64);
    let h1 = vm.tx.add_chain(&mut vm.d, &[Buf(hdr, HDR as u32, false)]);
    // Shorter than a header.
    let h2 = vm.tx.add_chain(&mut vm.d, &[Buf(hdr, 4, false)]);
    // Outside guest memory.
    let far = GuestAddress(8 * REGION_SPLIT);
    let h3 = vm.tx.add_chain(
        &mut vm.d,
        &[Buf(hdr, HDR as u32, false), Buf(far, 100, false)],
    );
    let good = frame(64, 9);
    let h4 = vm.queue_tx(&good);
    vm.notify(1);
    for h in [h1, h2, h3, h4] {
        assert_eq!(vm.tx.pop_used(&vm.d), Some((u32::from(h), 0)));
    }
    assert_eq!(peer_recv(&peer).unwrap()[HDR..], good[..]);
    assert_eq!(peer_recv(&peer), None);
    assert_eq!(vm.stats().tx_dropped, 3);
    assert_eq!(vm.d.status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

#[test]
fn host_frame_lands_in_guest_buffer() {
    let (mut vm, peer) = socket_vm(FEATURES);
    let (head, at) = vm.post_rx(2048);
    // A spare buffer, so the device sees the backend run dry before the buffers do.
    vm.post_rx(2048);
    vm.notify(0);
    assert_eq!(vm.rx.pop_used(&vm.d), None, "nothing to receive yet");

    let f = frame(100, 3);
    peer.send(&wire(&f)).unwrap();
    vm.net().rx_ready().unwrap();
    assert_eq!(
        vm.rx.pop_used(&vm.d),
        Some((u32::from(head), (HDR + f.len()) as u32))
    );
    assert_eq!(vm.kicks(), 1);
    assert_eq!(vm.guest(at, HDR), RX_HDR);
    assert_eq!(vm.guest(GuestAddress(at.0 + HDR as u64), f.len()), f);
    assert_eq!(vm.guest(GuestAddress(at.0 + 112), 1), [0xee], "no overrun");
    assert!(!vm.net().rx_pending());
    let s = vm.stats();
    assert_eq!((s.rx_frames, s.rx_bytes, s.rx_dropped), (1, 100, 0));

    // Readable again with nothing there (spurious wakeup): no completion, no interrupt.
    vm.net().rx_ready().unwrap();
    assert_eq!(vm.rx.pop_used(&vm.d), None);
    assert_eq!(vm.kicks(), 0);
}

#[test]
fn batch_of_frames_one_interrupt() {
    let (mut vm, peer) = socket_vm(FEATURES);
    let bufs: Vec<_> = (0..4).map(|_| vm.post_rx(1600)).collect();
    let frames: Vec<_> = (0..3).map(|i| frame(60 + 200 * i, i as u8)).collect();
    for f in &frames {
        peer.send(&wire(f)).unwrap();
    }
    vm.net().rx_ready().unwrap();
    assert_eq!(vm.kicks(), 1);
    for (f, (head, at)) in frames.iter().zip(&bufs) {
        let used = vm.rx.pop_used(&vm.d).expect("frame delivered");
        assert_eq!(used, (u32::from(*head), (HDR + f.len()) as u32));
        assert_eq!(vm.guest(*at, HDR), RX_HDR);
        assert_eq!(vm.guest(GuestAddress(at.0 + HDR as u64), f.len()), *f);
    }
    assert_eq!(vm.rx.pop_used(&vm.d), None, "fourth buffer still free");

    let last = frame(70, 42);
    peer.send(&wire(&last)).unwrap();
    vm.net().rx_ready().unwrap();
    let (head, at) = bufs[3];
    assert_eq!(vm.rx.pop_used(&vm.d), Some((u32::from(head), 82)));
    assert_eq!(vm.guest(GuestAddress(at.0 + HDR as u64), 70), last);
}

#[test]
fn frame_bigger_than_buffer_is_dropped_without_overrun() {
    let (mut vm, peer) = socket_vm(FEATURES);
    // A 200-byte buffer in two descriptors, the second straddling the region split,
    // with canaries right after each.
    let a = vm.d.alloc(120);
    let b = GuestAddress(REGION_SPLIT - 40);
    vm.d.mem.write_slice(&[0xee; 120], a).unwrap();
    vm.d.mem.write_slice(&[0xee; 120], b).unwrap();
    let head = vm
        .rx
        .add_chain(&mut vm.d, &[Buf(a, 100, true), Buf(b, 100, true)]);

    let big = frame(500, 1);
    let small = frame(150, 2);
    peer.send(&wire(&big)).unwrap();
    peer.send(&wire(&small)).unwrap();
    vm.net().rx_ready().unwrap();

    // The big frame is dropped and the same buffer carries the next one.
    assert_eq!(vm.rx.pop_used(&vm.d), Some((u32::from(head), 162)));
    assert_eq!(vm.rx.pop_used(&vm.d), None);
    let mut got = vm.guest(a, 100);
    got.extend(vm.guest(b, 100));
    assert_eq!(got[..HDR], RX_HDR);
    assert_eq!(got[HDR..162], small[..]);
    assert_eq!(vm.guest(GuestAddress(a.0 + 100), 20), [0xee; 20]);
    assert_eq!(vm.guest(GuestAddress(b.0 + 100), 20), [0xee; 20]);
    let s = vm.stats();
    assert_eq!((s.rx_frames, s.rx_dropped), (1, 1));

    // Runts (shorter than header + Ethernet header) are dropped too.
    let (head, _) = vm.post_rx(256);
    peer.send(&[0u8; 20]).unwrap();
    peer.send(&wire(&frame(64, 3))).unwrap();
    vm.net().rx_ready().unwrap();
    assert_eq!(vm.rx.pop_used(&vm.d), Some((u32::from(head), 76)));
    assert_eq!(vm.stats().rx_dropped, 2);

    // A buffer too small for even a header goes back empty; no frame is consumed.
    let tiny = vm.d.alloc(8);
    let head = vm.rx.add_chain(&mut vm.d, &[Buf(tiny, 8, true)]);
    let (next, at) = vm.post_rx(256);
    let f = frame(80, 4);
    peer.send(&wire(&f)).unwrap();
    vm.net().rx_ready().unwrap();
    assert_eq!(vm.rx.pop_used(&vm.d), Some((u32::from(head), 0)));
    assert_eq!(vm.rx.pop_used(&vm.d), Some((u32::from(next), 92)));
    assert_eq!(vm.guest(GuestAddress(at.0 + HDR as u64), 80), f);
}

fn no_buffers_then_posted(features: u64) {
    let (mut vm, peer) = socket_vm(features);
    let f1 = frame(64, 1);
    let f2 = frame(128, 2);
    peer.send(&wire(&f1)).unwrap();
    peer.send(&wire(&f2)).unwrap();
    vm.net().rx_ready().unwrap();
    assert!(vm.net().rx_pending());
    assert_eq!(vm.kicks(), 0);
    if features & (1 << VIRTIO_RING_F_EVENT_IDX) != 0 {
        // avail_event tells the driver to kick on its very next buffer.
        let avail_event: u16 =
            vm.d.mem
                .read_obj(GuestAddress(vm.rx.used + 4 + 8 * u64::from(QSIZE)))
                .unwrap();
        assert_eq!(avail_event, vm.rx.avail_idx);
    }

    let (h1, a1) = vm.post_rx(512);
    let (h2, a2) = vm.post_rx(512);
    vm.notify(0);
    assert_eq!(vm.rx.pop_used(&vm.d), Some((u32::from(h1), 76)));
    assert_eq!(vm.rx.pop_used(&vm.d), Some((u32::from(h2), 140)));
    assert_eq!(vm.guest(GuestAddress(a1.0 + HDR as u64), 64), f1);
    assert_eq!(vm.guest(GuestAddress(a2.0 + HDR as u64), 128), f2);
    assert_eq!(vm.kicks(), 1);
    // Buffers and frames ran out together: the device cannot know the backend is
    // empty, so it stays pending until a read says so.
    assert!(vm.net().rx_pending());
    vm.post_rx(512);
    vm.notify(0);
    assert!(!vm.net().rx_pending());
    assert_eq!(vm.rx.pop_used(&vm.d), None);
}

#[test]
fn frames_wait_for_buffers_then_arrive_on_rx_notify() {
    no_buffers_then_posted(FEATURES);
}

#[test]
fn frames_wait_for_buffers_with_event_idx() {
    no_buffers_then_posted(FEATURES | (1 << VIRTIO_RING_F_EVENT_IDX));
}

#[test]
fn frames_before_driver_ok_wait_and_reset_keeps_backend() {
    let (backend, peer) = DatagramBackend::pair().unwrap();
    let mut vm = Vm::new(Net::with_backend(backend, MAC));
    let f = frame(90, 5);
    peer.send(&wire(&f)).unwrap();
    vm.net().rx_ready().unwrap(); // not active: nothing happens, no panic
    assert!(vm.d.negotiate(FEATURES));
    vm.rx.program(&mut vm.d);
    vm.tx.program(&mut vm.d);
    vm.d.add_status(VIRTIO_CONFIG_S_DRIVER_OK);
    let (head, at) = vm.post_rx(256);
    vm.notify(0);
    assert_eq!(vm.rx.pop_used(&vm.d), Some((u32::from(head), 102)));
    assert_eq!(vm.guest(GuestAddress(at.0 + HDR as u64), 90), f);

    // After a reset the device can be brought up again on the same backend.
    vm.d.write32(VIRTIO_MMIO_STATUS, 0);
    let mut vm2 = Vm {
        d: vm.d,
        irq: vm.irq,
        rx: Ring::new(0, 0x1000),
        tx: Ring::new(1, 0x2000),
    };
    assert!(vm2.d.negotiate(FEATURES));
    vm2.rx.program(&mut vm2.d);
    vm2.tx.program(&mut vm2.d);
    vm2.d.add_status(VIRTIO_CONFIG_S_DRIVER_OK);
    let g = frame(64, 6);
    vm2.queue_tx(&g);
    vm2.notify(1);
    assert_eq!(peer_recv(&peer).unwrap()[HDR..], g[..]);
}

#[test]
fn packets_do_not_allocate() {
    let (mut vm, peer) = socket_vm(FEATURES | (1 << VIRTIO_RING_F_EVENT_IDX));
    let frames: Vec<Vec<u8>> = (0..3).map(|i| wire(&frame(300 + i, i as u8))).collect();
    let round = |vm: &mut Vm<DatagramBackend>, measure: bool| -> u64 {
        for i in 0..3 {
            vm.queue_tx(&frame(200 + i, i as u8));
            vm.post_rx(1600);
        }
        for f in &frames {
            peer.send(f).unwrap();
        }
        let before = allocations();
        vm.notify(1);
        vm.net().rx_ready().unwrap();
        let during = allocations() - before;
        let mut used = 0;
        while vm.tx.pop_used(&vm.d).is_some() {
            used += 1;
        }
        while vm.rx.pop_used(&vm.d).is_some() {
            used += 1;
        }
        assert_eq!(used, 6);
        while peer_recv(&peer).is_some() {}
        if measure {
            during
        } else {
            0
        }
    };
    // Warm up so any one-time lazy initialisation is not counted.
    round(&mut vm, false);
    let probe = allocations();
    drop(std::hint::black_box(Box::new(0u64)));
    assert!(allocations() > probe, "counting allocator is not installed");
    let during = round(&mut vm, true);
    assert_eq!(during, 0, "packet processing allocated {during} times");
    let s = vm.stats();
    assert_eq!((s.tx_frames, s.rx_frames), (6, 6));
}

#[test]
fn bad_tap_names_are_refused() {
    for name in ["", "a/b", "with space", "sixteen-chars-xx"] {
        let err = Tap::open(name).unwrap_err();
        assert!(matches!(err, TapError::InvalidName(_)), "{name}: {err}");
    }
}

#[test]
fn reading_into_a_read_only_list_is_refused() {
    let (a, b) = UnixDatagram::pair().unwrap();
    a.send(b"frame").unwrap();
    let header = [0u8; 4];
    let mut iovs = IoVecs::new();
    iovs.push_host(&header).unwrap();
    for r in [
        tap::readv(b.as_raw_fd(), &iovs),
        tap::recv_datagram(b.as_raw_fd(), &iovs),
    ] {
        assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    }
    assert_eq!(header, [0; 4]);
}

#[test]
fn tap_name_template_is_resolved() {
    match Tap::open("ec2tq%d") {
        Ok(tap) => {
            assert!(tap.name().starts_with("ec2tq"), "{}", tap.name());
            assert!(!tap.name().contains('%'), "{}", tap.name());
        }
        Err(TapError::OpenTun(e)) => eprintln!("skipping: no usable /dev/net/tun ({e})"),
        Err(e) => panic!("{e}"),
    }
}

// ---- Real tap: the host kernel answers ARP and ping from the "guest". ----

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deletes the tap even if the test fails half way.
struct TapCleanup(String);
impl Drop for TapCleanup {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

fn wait_readable(fd: impl AsFd, timeout: Duration) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
    poll(&mut fds, timeout).is_ok_and(|n| n > 0)
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn arp(op: u16, src_mac: [u8; 6], src_ip: [u8; 4], dst_mac: [u8; 6], dst_ip: [u8; 4]) -> Vec<u8> {
    let eth_dst = if op == 1 { [0xff; 6] } else { dst_mac };
    let mut f = Vec::new();
    f.extend_from_slice(&eth_dst);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&src_ip);
    f.extend_from_slice(&if op == 1 { [0; 6] } else { dst_mac });
    f.extend_from_slice(&dst_ip);
    f.resize(60, 0);
    f
}

fn icmp_echo(src_mac: [u8; 6], dst_mac: [u8; 6], src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    icmp.extend_from_slice(b"ec2lab virtio-net ping payload");
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let total = (20 + icmp.len()) as u16;
    let mut iph = vec![0x45, 0];
    iph.extend_from_slice(&total.to_be_bytes());
    iph.extend_from_slice(&[0, 1, 0x40, 0, 64, 1, 0, 0]);
    iph.extend_from_slice(&src);
    iph.extend_from_slice(&dst);
    let c = checksum(&iph);
    iph[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend(iph);
    f.extend(icmp);
    f
}

#[test]
fn real_tap_host_answers_arp_and_ping() {
    let name = format!("ec2t{}", std::process::id());
    let net = match Net::new(&name, MAC) {
        Ok(net) => net,
        Err(TapError::OpenTun(e)) => {
            eprintln!("skipping: no usable /dev/net/tun here ({e})");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let _cleanup = TapCleanup(name.clone());
    let x = (std::process::id() % 250 + 1) as u8;
    let host_ip = [10, 254, x, 1];
    let guest_ip = [10, 254, x, 2];
    // Keep IPv6 autoconfiguration quiet so the guest mostly sees the answers.
    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"), "1");
    ip(&["addr", "add", &format!("10.254.{x}.1/30"), "dev", &name]);
    // Jumbo MTU so the host can send a frame bigger than the guest's 1600-byte buffers.
    ip(&["link", "set", "dev", &name, "mtu", "9000"]);
    ip(&["link", "set", "dev", &name, "up"]);

    let mut vm = Vm::up(net, FEATURES | (1 << VIRTIO_RING_F_EVENT_IDX));
    let fd = vm.net().backend_fd();
    assert_eq!(fd, vm.net().backend().as_raw_fd());
    // A duplicate of the tap's fd to poll, so `vm` stays free to borrow.
    let fd = vm.net().backend().as_fd().try_clone_to_owned().unwrap();
    let mut posted: Vec<(u16, GuestAddress)> = (0..8).map(|_| vm.post_rx(1600)).collect();
    vm.notify(0);

    // Guest: "who has host_ip? tell guest_ip".
    vm.queue_tx(&arp(1, MAC, guest_ip, [0; 6], host_ip));
    vm.notify(1);
    assert!(vm.tx.pop_used(&vm.d).is_some());

    let mut host_mac = None;
    let mut pinged = false;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !wait_readable(&fd, Duration::from_millis(100)) {
            continue;
        }
        vm.net().rx_ready().unwrap();
        while let Some((id, len)) = vm.rx.pop_used(&vm.d) {
            let idx = posted.iter().position(|p| u32::from(p.0) == id).unwrap();
            let (_, at) = posted.swap_remove(idx);
            assert!(len as usize >= HDR + 14, "short frame {len}");
            let got = vm.guest(at, len as usize);
            assert_eq!(got[..HDR], RX_HDR);
            let f = &got[HDR..];
            posted.push(vm.post_rx(1600));
            vm.notify(0);
            match (&f[12..14], f.get(20..22)) {
                // ARP reply to us: learn the host's MAC, then ping it.
                ([0x08, 0x06], Some([0, 2])) if f[28..32] == host_ip && f[32..38] == MAC => {
                    let mac: [u8; 6] = f[22..28].try_into().unwrap();
                    host_mac = Some(mac);
                    vm.queue_tx(&icmp_echo(MAC, mac, guest_ip, host_ip));
                    vm.notify(1);
                }
                // The host asking for our MAC (to send the echo reply): answer.
                ([0x08, 0x06], Some([0, 1])) if f[38..42] == guest_ip => {
                    let mac: [u8; 6] = f[22..28].try_into().unwrap();
                    vm.queue_tx(&arp(2, MAC, guest_ip, mac, host_ip));
                    vm.notify(1);
                }
                // ICMP echo reply from the host.
                ([0x08, 0x00], _) if f[23] == 1 && f[34] == 0 && f[26..30] == host_ip => {
                    assert_eq!(&f[..6], &MAC);
                    assert_eq!(&f[38..40], &[0x12, 0x34], "echo id");
                    pinged = true;
                }
                _ => {}
            }
            while vm.tx.pop_used(&vm.d).is_some() {}
        }
        if pinged {
            break;
        }
    }
    assert!(host_mac.is_some(), "no ARP reply from the host kernel");
    assert!(pinged, "no ICMP echo reply from the host kernel");
    let s = vm.stats();
    assert!(s.tx_frames >= 2 && s.rx_frames >= 2, "{s:?}");

    // A 3042-byte frame from the host does not fit a 1600-byte buffer: the tap cuts it
    // and reports the full length; the device must drop it and reuse the buffer.
    while vm.rx.pop_used(&vm.d).is_some() {}
    let dropped = vm.stats().rx_dropped;
    let guest = format!("10.254.{x}.2");
    ip(&[
        "neigh",
        "replace",
        &guest,
        "lladdr",
        "52:54:00:12:34:56",
        "dev",
        &name,
    ]);
    let udp = std::net::UdpSocket::bind((std::net::Ipv4Addr::from(host_ip), 0)).unwrap();
    udp.send_to(&[0xab; 3000], (guest.as_str(), 9)).unwrap();
    udp.send_to(b"small one", (guest.as_str(), 9)).unwrap();
    let mut small = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while small.is_none() && Instant::now() < deadline {
        if !wait_readable(&fd, Duration::from_millis(100)) {
            continue;
        }
        vm.net().rx_ready().unwrap();
        while let Some((id, len)) = vm.rx.pop_used(&vm.d) {
            assert!(len <= 1600, "used length {len} exceeds the buffer");
            let idx = posted.iter().position(|p| u32::from(p.0) == id).unwrap();
            let (_, at) = posted.swap_remove(idx);
            assert_eq!(
                vm.guest(GuestAddress(at.0 + 1600), 16),
                [0xee; 16],
                "overrun"
            );
            let f = vm.guest(GuestAddress(at.0 + HDR as u64), len as usize - HDR);
            if f.len() >= 42 && f[12..14] == [0x08, 0x00] && f[23] == 17 {
                small = Some(f[42..].to_vec());
            }
        }
    }
    assert_eq!(small.as_deref(), Some(&b"small one"[..]));
    assert_eq!(vm.stats().rx_dropped, dropped + 1, "{:?}", vm.stats());
}
