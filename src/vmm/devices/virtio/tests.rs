//! End-to-end tests: a test driver (see `testing.rs`) talks to `MmioTransport<Block>`
//! only through MMIO register accesses and rings in guest memory, like a Linux guest.

use std::io::Write;
use std::sync::Arc;

use vm_memory::{Bytes, GuestAddress};

use super::disk::DiskFile;
use super::testing::{allocations, guest_memory, Buf, Driver, REGION_SPLIT, USED_RING};
use super::*;
use crate::vmm::devices::bus::BusDevice;
use virtio_bindings::virtio_blk::*;
use virtio_bindings::virtio_config::*;
use virtio_bindings::virtio_mmio::*;
use virtio_bindings::virtio_ring::VIRTIO_RING_F_EVENT_IDX;

const SECTORS: u64 = 64;
const QSIZE: u16 = 16;
const FEATURES: u64 = (1 << VIRTIO_F_VERSION_1)
    | (1 << VIRTIO_BLK_F_FLUSH)
    | (1 << VIRTIO_BLK_F_SEG_MAX)
    | (1 << VIRTIO_BLK_F_BLK_SIZE);
const OK: u8 = VIRTIO_BLK_S_OK as u8;
const IOERR: u8 = VIRTIO_BLK_S_IOERR as u8;
const UNSUPP: u8 = VIRTIO_BLK_S_UNSUPP as u8;

fn byte_at(offset: u64) -> u8 {
    (offset % 251) as u8
}

/// A raw image whose byte at offset `o` is `byte_at(o)`.
fn image(sectors: u64) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    let data: Vec<u8> = (0..sectors * 512).map(byte_at).collect();
    f.write_all(&data).unwrap();
    f
}

struct Vm {
    driver: Driver<MmioTransport<Block>>,
    irq: Arc<Interrupt>,
    image: tempfile::NamedTempFile,
}

fn vm(read_only: bool) -> Vm {
    let image = image(SECTORS);
    let block = Block::new(image.path(), read_only).unwrap();
    let irq = Arc::new(Interrupt::new().unwrap());
    let mem = guest_memory();
    let transport = MmioTransport::new(mem.clone(), block, irq.clone()).unwrap();
    Vm {
        driver: Driver::new(transport, mem),
        irq,
        image,
    }
}

impl Vm {
    fn up(read_only: bool) -> Self {
        let mut vm = vm(read_only);
        vm.driver.bring_up(FEATURES, QSIZE);
        vm
    }

    /// Queues header + `data` + status; returns (head, status address).
    fn request(&mut self, kind: u32, sector: u64, data: &[Buf]) -> (u16, GuestAddress) {
        let d = &mut self.driver;
        let hdr = d.alloc(16);
        d.mem.write_obj(kind, hdr).unwrap();
        d.mem.write_obj(0u32, GuestAddress(hdr.0 + 4)).unwrap();
        d.mem.write_obj(sector, GuestAddress(hdr.0 + 8)).unwrap();
        let status = d.alloc(1);
        d.mem.write_obj(0xffu8, status).unwrap();
        let mut chain = vec![Buf(hdr, 16, false)];
        chain.extend_from_slice(data);
        chain.push(Buf(status, 1, true));
        (d.add_chain(&chain), status)
    }

    fn status_byte(&self, at: GuestAddress) -> u8 {
        self.driver.mem.read_obj(at).unwrap()
    }

    /// Eventfd kicks since the last call (0 if none).
    fn kicks(&self) -> u64 {
        self.irq.eventfd().read().unwrap_or(0)
    }

    fn file(&self) -> Vec<u8> {
        std::fs::read(self.image.path()).unwrap()
    }

    fn guest(&self, at: GuestAddress, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.driver.mem.read_slice(&mut v, at).unwrap();
        v
    }

    /// Submits one request, notifies, and returns (status, used len).
    fn run(&mut self, kind: u32, sector: u64, data: &[Buf]) -> (u8, u32) {
        let (head, status) = self.request(kind, sector, data);
        self.driver.notify();
        let (id, len) = self.driver.pop_used().expect("request was not completed");
        assert_eq!(id, u32::from(head));
        (self.status_byte(status), len)
    }
}

#[test]
fn negotiation_identity_config_and_driver_ok() {
    let mut vm = vm(false);
    let d = &mut vm.driver;
    assert_eq!(d.read32(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK_FOR_TEST);
    let offered = d.device_features();
    assert_eq!(offered & FEATURES, FEATURES);
    assert_eq!(offered & (1 << VIRTIO_BLK_F_RO), 0);
    assert!(d.negotiate(FEATURES));
    d.write32(VIRTIO_MMIO_QUEUE_SEL, 0);
    assert_eq!(d.read32(VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
    d.write32(VIRTIO_MMIO_QUEUE_SEL, 1);
    assert_eq!(
        d.read32(VIRTIO_MMIO_QUEUE_NUM_MAX),
        0,
        "only one queue exists"
    );
    d.setup_queue(QSIZE);
    d.add_status(VIRTIO_CONFIG_S_DRIVER_OK);
    assert_eq!(d.status(), 0xf);

    // Config space: capacity, seg_max, blk_size; any access width.
    let mut cap = [0u8; 8];
    d.dev.read(0x100, &mut cap);
    assert_eq!(u64::from_le_bytes(cap), SECTORS);
    assert_eq!(d.read32(0x100 + 12), block::SEG_MAX);
    assert_eq!(d.read32(0x100 + 20), 512);
    let mut one = [0xaa];
    d.dev.read(0x100, &mut one);
    assert_eq!(one, [SECTORS as u8]);
    d.dev.read(0x100 + 200, &mut one);
    assert_eq!(one, [0], "past the end of config reads zero");
}

// Spelled out so the test checks the number, not the constant the code also uses.
const VIRTIO_ID_BLOCK_FOR_TEST: u32 = 2;

#[test]
fn registers_ignore_non_32_bit_and_unknown_accesses() {
    let mut vm = vm(false);
    let d = &mut vm.driver;
    let mut half = [0xffu8; 2];
    d.dev.read(0, &mut half);
    assert_eq!(half, [0, 0]);
    d.dev.write(u64::from(VIRTIO_MMIO_STATUS), &[1]);
    assert_eq!(d.status(), 0);
    assert_eq!(d.read32(0x0a0), 0, "unknown register reads 0");
    assert_eq!(d.read32(2), 0, "misaligned register reads 0");
}

#[test]
fn features_not_offered_or_missing_version_1_are_refused() {
    let mut vm = vm(false);
    let d = &mut vm.driver;
    assert!(!d.negotiate(FEATURES | (1 << VIRTIO_BLK_F_RO)));
    assert!(!d.negotiate(FEATURES | (1 << 40)));
    assert!(!d.negotiate(FEATURES & !(1 << VIRTIO_F_VERSION_1)));
    // A refused FEATURES_OK keeps the driver from going live.
    d.add_status(VIRTIO_CONFIG_S_DRIVER_OK);
    assert_eq!(d.status() & VIRTIO_CONFIG_S_DRIVER_OK, 0);
    // After a reset the same device negotiates fine.
    assert!(d.negotiate(FEATURES));
    // Feature writes after FEATURES_OK are frozen out.
    d.write32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    d.write32(VIRTIO_MMIO_DRIVER_FEATURES, 0xffff_ffff);
    d.setup_queue(QSIZE);
    d.add_status(VIRTIO_CONFIG_S_DRIVER_OK);
    assert_eq!(d.status(), 0xf);
}

#[test]
fn status_steps_must_come_in_order() {
    let mut vm = vm(false);
    let d = &mut vm.driver;
    d.write32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_DRIVER);
    assert_eq!(d.status(), 0, "DRIVER before ACKNOWLEDGE is ignored");
    d.add_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
    d.add_status(VIRTIO_CONFIG_S_FEATURES_OK);
    assert_eq!(d.status(), 1, "FEATURES_OK before DRIVER is ignored");
    // Queue registers are locked before FEATURES_OK.
    d.write32(VIRTIO_MMIO_QUEUE_READY, 1);
    assert_eq!(d.read32(VIRTIO_MMIO_QUEUE_READY), 0);
}

#[test]
fn reset_stops_the_device_and_allows_renegotiation() {
    let mut vm = Vm::up(false);
    let buf = vm.driver.alloc(512);
    assert_eq!(vm.run(VIRTIO_BLK_T_IN, 0, &[Buf(buf, 512, true)]).0, OK);
    assert_eq!(vm.driver.read32(VIRTIO_MMIO_INTERRUPT_STATUS), 1);

    vm.driver.write32(VIRTIO_MMIO_STATUS, 0);
    assert_eq!(vm.driver.status(), 0);
    assert_eq!(vm.driver.read32(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    assert_eq!(vm.driver.read32(VIRTIO_MMIO_QUEUE_READY), 0);
    // A notify on a reset device does nothing.
    vm.request(VIRTIO_BLK_T_IN, 0, &[Buf(buf, 512, true)]);
    vm.driver.notify();
    assert_eq!(vm.driver.pop_used(), None);

    // Fresh rings from index 0, as a driver does after reset.
    vm.kicks();
    vm.driver.bring_up(FEATURES, QSIZE);
    assert_eq!(
        vm.run(VIRTIO_BLK_T_IN, 1, &[Buf(buf, 512, true)]),
        (OK, 513)
    );
    assert_eq!(
        vm.guest(buf, 512),
        (512..1024).map(byte_at).collect::<Vec<_>>()
    );
}

#[test]
fn write_then_read_sectors_over_several_descriptors_and_regions() {
    let mut vm = Vm::up(false);
    // Three sectors in descriptors of 700 + 836 bytes; the second straddles the two
    // guest memory regions, so the device must split it.
    let a = vm.driver.alloc(700);
    let b = GuestAddress(REGION_SPLIT - 400);
    let data: Vec<u8> = (0..1536u32).map(|i| (i * 13 % 256) as u8).collect();
    vm.driver.mem.write_slice(&data[..700], a).unwrap();
    vm.driver.mem.write_slice(&data[700..], b).unwrap();
    let (status, len) = vm.run(
        VIRTIO_BLK_T_OUT,
        5,
        &[Buf(a, 700, false), Buf(b, 836, false)],
    );
    assert_eq!((status, len), (OK, 1));
    let file = vm.file();
    assert_eq!(&file[5 * 512..8 * 512], &data[..]);
    assert_eq!(
        file[5 * 512 - 1],
        byte_at(5 * 512 - 1),
        "neighbours untouched"
    );
    assert_eq!(file[8 * 512], byte_at(8 * 512));

    // Read four sectors (4..8) back into 3 writable descriptors.
    let r1 = vm.driver.alloc(512);
    let r2 = GuestAddress(REGION_SPLIT - 100);
    let r3 = vm.driver.alloc(512);
    let (status, len) = vm.run(
        VIRTIO_BLK_T_IN,
        4,
        &[Buf(r1, 512, true), Buf(r2, 1024, true), Buf(r3, 512, true)],
    );
    assert_eq!((status, len), (OK, 2048 + 1));
    let mut got = vm.guest(r1, 512);
    got.extend(vm.guest(r2, 1024));
    got.extend(vm.guest(r3, 512));
    assert_eq!(got, &file[4 * 512..8 * 512]);
}

#[test]
fn flush_and_get_id() {
    let mut vm = vm(false);
    vm.driver
        .dev
        .device_mut()
        .set_serial("vol0123456789abcdef0")
        .unwrap();
    vm.driver.bring_up(FEATURES, QSIZE);
    assert_eq!(vm.run(VIRTIO_BLK_T_FLUSH, 0, &[]), (OK, 1));

    let id = vm.driver.alloc(20);
    assert_eq!(
        vm.run(VIRTIO_BLK_T_GET_ID, 0, &[Buf(id, 20, true)]),
        (OK, 21)
    );
    assert_eq!(vm.guest(id, 20), b"vol0123456789abcdef0");

    // A short serial is zero padded; a short buffer gets a prefix.
    vm.driver.dev.device_mut().set_serial("disk1").unwrap();
    let id = vm.driver.alloc(32);
    vm.driver.mem.write_slice(&[0xee; 32], id).unwrap();
    assert_eq!(
        vm.run(VIRTIO_BLK_T_GET_ID, 0, &[Buf(id, 32, true)]),
        (OK, 21)
    );
    let mut want = b"disk1".to_vec();
    want.resize(20, 0);
    want.resize(32, 0xee);
    assert_eq!(vm.guest(id, 32), want);
    let id = vm.driver.alloc(3);
    assert_eq!(vm.run(VIRTIO_BLK_T_GET_ID, 0, &[Buf(id, 3, true)]), (OK, 4));
    assert_eq!(vm.guest(id, 3), b"dis");

    let err = vm
        .driver
        .dev
        .device_mut()
        .set_serial("vol-0123456789abcdef0")
        .unwrap_err();
    assert!(err.to_string().contains("at most 20 bytes"), "{err}");
}

#[test]
fn read_only_disk_refuses_writes() {
    let mut vm = vm(true);
    assert_ne!(vm.driver.device_features() & (1 << VIRTIO_BLK_F_RO), 0);
    vm.driver.bring_up(FEATURES | (1 << VIRTIO_BLK_F_RO), QSIZE);
    let buf = vm.driver.alloc(512);
    vm.driver.mem.write_slice(&[0u8; 512], buf).unwrap();
    assert_eq!(
        vm.run(VIRTIO_BLK_T_OUT, 0, &[Buf(buf, 512, false)]),
        (IOERR, 1)
    );
    assert_eq!(
        vm.file()[..512],
        (0..512).map(byte_at).collect::<Vec<_>>()[..]
    );
    assert_eq!(
        vm.run(VIRTIO_BLK_T_IN, 0, &[Buf(buf, 512, true)]),
        (OK, 513)
    );
}

#[test]
fn out_of_range_and_unsupported_requests() {
    let mut vm = Vm::up(false);
    let buf = vm.driver.alloc(1024);
    let last = SECTORS - 1;
    assert_eq!(vm.run(VIRTIO_BLK_T_IN, last, &[Buf(buf, 512, true)]).0, OK);
    assert_eq!(
        vm.run(VIRTIO_BLK_T_IN, last, &[Buf(buf, 1024, true)]).0,
        IOERR
    );
    assert_eq!(
        vm.run(VIRTIO_BLK_T_OUT, SECTORS, &[Buf(buf, 512, false)]).0,
        IOERR
    );
    assert_eq!(
        vm.run(VIRTIO_BLK_T_IN, u64::MAX, &[Buf(buf, 512, true)]).0,
        IOERR
    );
    // Data that is not whole sectors.
    assert_eq!(vm.run(VIRTIO_BLK_T_IN, 0, &[Buf(buf, 100, true)]).0, IOERR);
    assert_eq!(
        vm.run(VIRTIO_BLK_T_DISCARD, 0, &[Buf(buf, 16, false)]),
        (UNSUPP, 1)
    );
    assert_eq!(vm.file().len() as u64, SECTORS * 512, "image never grows");
}

#[test]
fn malformed_chains_do_not_wedge_the_queue() {
    let mut vm = Vm::up(false);
    let d = &mut vm.driver;
    // Header only 8 bytes: IOERR.
    let hdr = d.alloc(16);
    let status = d.alloc(1);
    let head = d.add_chain(&[Buf(hdr, 8, false), Buf(status, 1, true)]);
    d.notify();
    assert_eq!(d.pop_used(), Some((u32::from(head), 1)));
    assert_eq!(vm.status_byte(status), IOERR);

    // No writable status byte at all: returned with length 0, nothing written.
    let d = &mut vm.driver;
    d.mem.write_obj(VIRTIO_BLK_T_IN, hdr).unwrap();
    let head = d.add_chain(&[Buf(hdr, 16, false)]);
    d.notify();
    assert_eq!(d.pop_used(), Some((u32::from(head), 0)));

    // Readable descriptor after a writable one: IOERR.
    let buf = d.alloc(512);
    let head = d.add_chain(&[
        Buf(hdr, 16, false),
        Buf(buf, 512, true),
        Buf(buf, 512, false),
        Buf(status, 1, true),
    ]);
    d.notify();
    assert_eq!(d.pop_used(), Some((u32::from(head), 1)));
    assert_eq!(vm.status_byte(status), IOERR);

    // Data buffer outside guest memory: IOERR, no panic.
    let d = &mut vm.driver;
    let far = GuestAddress(4 * REGION_SPLIT);
    let head = d.add_chain(&[
        Buf(hdr, 16, false),
        Buf(far, 512, true),
        Buf(status, 1, true),
    ]);
    d.notify();
    assert_eq!(d.pop_used().map(|u| u.0), Some(u32::from(head)));
    assert_eq!(vm.status_byte(status), IOERR);

    // The queue still works afterwards.
    assert_eq!(vm.run(VIRTIO_BLK_T_IN, 0, &[Buf(buf, 512, true)]).0, OK);
    assert_eq!(vm.driver.status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

#[test]
fn one_interrupt_per_batch_and_ack_clears_status() {
    let mut vm = Vm::up(false);
    assert_eq!(vm.kicks(), 0);
    let buf = vm.driver.alloc(512);
    for sector in 0..3 {
        vm.request(VIRTIO_BLK_T_IN, sector, &[Buf(buf, 512, true)]);
    }
    vm.driver.notify();
    assert_eq!(vm.kicks(), 1);
    for _ in 0..3 {
        assert!(vm.driver.pop_used().is_some());
    }
    assert_eq!(
        vm.driver.read32(VIRTIO_MMIO_INTERRUPT_STATUS),
        VIRTIO_MMIO_INT_VRING
    );
    vm.driver
        .write32(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
    assert_eq!(vm.driver.read32(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    // A notify with nothing new raises nothing.
    vm.driver.notify();
    assert_eq!(vm.kicks(), 0);
}

#[test]
fn hot_detach_and_attach_signal_config_change() {
    let mut vm = Vm::up(false);
    let gen = vm.driver.read32(VIRTIO_MMIO_CONFIG_GENERATION);
    let old = vm.driver.dev.update_config(|b| b.set_backing(None));
    assert!(old.is_some());
    assert_eq!(vm.kicks(), 1);
    assert_eq!(
        vm.driver.read32(VIRTIO_MMIO_INTERRUPT_STATUS),
        VIRTIO_MMIO_INT_CONFIG
    );
    assert_ne!(vm.driver.read32(VIRTIO_MMIO_CONFIG_GENERATION), gen);
    assert_eq!(vm.driver.read32(0x100), 0, "capacity of a detached disk");
    let buf = vm.driver.alloc(512);
    assert_eq!(vm.run(VIRTIO_BLK_T_IN, 0, &[Buf(buf, 512, true)]).0, IOERR);
    assert_eq!(vm.run(VIRTIO_BLK_T_FLUSH, 0, &[]).0, IOERR);

    let bigger = image(2 * SECTORS);
    let disk = DiskFile::open(bigger.path(), false).unwrap();
    vm.driver.dev.update_config(|b| b.set_backing(Some(disk)));
    assert_eq!(vm.driver.read32(0x100), 2 * SECTORS as u32);
    let sector = 2 * SECTORS - 1;
    assert_eq!(
        vm.run(VIRTIO_BLK_T_IN, sector, &[Buf(buf, 512, true)]).0,
        OK
    );
    assert_eq!(
        vm.guest(buf, 512),
        (sector * 512..sector * 512 + 512)
            .map(byte_at)
            .collect::<Vec<_>>()
    );
}

#[test]
fn event_idx_suppresses_interrupts_and_publishes_avail_event() {
    let mut vm = vm(false);
    let features = FEATURES | (1 << VIRTIO_RING_F_EVENT_IDX);
    vm.driver.bring_up(features, QSIZE);
    let avail_event = GuestAddress(USED_RING + 4 + 8 * u64::from(QSIZE));
    let used_event = GuestAddress(super::testing::AVAIL_RING + 4 + 2 * u64::from(QSIZE));
    let buf = vm.driver.alloc(512);

    // used_event = 0: the driver wants an interrupt after the first completion.
    assert_eq!(vm.run(VIRTIO_BLK_T_IN, 0, &[Buf(buf, 512, true)]).0, OK);
    assert_eq!(vm.kicks(), 1);
    let published: u16 = vm.driver.mem.read_obj(avail_event).unwrap();
    assert_eq!(
        published,
        vm.driver.avail_idx(),
        "device asks to be kicked on the next request"
    );

    // used_event far ahead: completions must not interrupt.
    vm.driver.mem.write_obj(100u16, used_event).unwrap();
    assert_eq!(vm.run(VIRTIO_BLK_T_IN, 0, &[Buf(buf, 512, true)]).0, OK);
    assert_eq!(vm.kicks(), 0);
}

#[test]
fn unusable_queue_at_driver_ok_sets_needs_reset() {
    let mut vm = vm(false);
    assert!(vm.driver.negotiate(FEATURES));
    let outside = 8 * REGION_SPLIT;
    vm.driver
        .setup_queue_at(QSIZE, outside, super::testing::AVAIL_RING, USED_RING);
    vm.driver.add_status(VIRTIO_CONFIG_S_DRIVER_OK);
    let status = vm.driver.status();
    assert_ne!(status & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
    assert_eq!(vm.kicks(), 1, "live driver is told via config interrupt");
    let fault = vm.driver.dev.take_fault().unwrap();
    assert!(fault.to_string().contains("virtqueue 0"), "{fault}");

    // Invalid queue size is refused too.
    assert!(vm.driver.negotiate(FEATURES));
    vm.driver.write32(VIRTIO_MMIO_QUEUE_SEL, 0);
    vm.driver.write32(VIRTIO_MMIO_QUEUE_NUM, 3);
    assert_ne!(vm.driver.status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);

    // So is a descriptor table that breaks the 16-byte alignment rule.
    assert!(vm.driver.negotiate(FEATURES));
    vm.driver
        .setup_queue_at(QSIZE, 0x1008, super::testing::AVAIL_RING, USED_RING);
    assert_ne!(vm.driver.status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);

    // And a reset recovers.
    vm.driver.bring_up(FEATURES, QSIZE);
    assert_eq!(vm.driver.status(), 0xf);
}

#[test]
fn queue_not_ready_at_driver_ok_sets_needs_reset() {
    let mut vm = vm(false);
    assert!(vm.driver.negotiate(FEATURES));
    vm.driver.add_status(VIRTIO_CONFIG_S_DRIVER_OK);
    assert_ne!(vm.driver.status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
    let fault = crate::causes::chain(&vm.driver.dev.take_fault().unwrap());
    assert!(fault.contains("not mark virtqueue 0 ready"), "{fault}");
}

#[test]
fn requests_do_not_allocate() {
    let mut vm = Vm::up(false);
    vm.driver.dev.device_mut().set_serial("serial").unwrap();
    let data = vm.driver.alloc(4096);
    let straddle = GuestAddress(REGION_SPLIT - 256);
    let id = vm.driver.alloc(20);
    let batch = |vm: &mut Vm| {
        vm.request(VIRTIO_BLK_T_OUT, 0, &[Buf(data, 4096, false)]);
        vm.request(
            VIRTIO_BLK_T_IN,
            8,
            &[Buf(data, 2048, true), Buf(straddle, 2048, true)],
        );
        vm.request(VIRTIO_BLK_T_FLUSH, 0, &[]);
        vm.request(VIRTIO_BLK_T_GET_ID, 0, &[Buf(id, 20, true)]);
        vm.request(VIRTIO_BLK_T_IN, u64::MAX, &[Buf(data, 512, true)]);
        vm.request(99, 0, &[]);
    };
    // Warm up once so one-time lazy initialisation (if any) is not counted.
    batch(&mut vm);
    vm.driver.notify();
    while vm.driver.pop_used().is_some() {}

    // The counter must see allocations at all, or a 0 below would prove nothing.
    let probe = allocations();
    drop(std::hint::black_box(Box::new(0u64)));
    assert!(allocations() > probe, "counting allocator is not installed");

    batch(&mut vm);
    let before = allocations();
    vm.driver.notify();
    let during = allocations() - before;
    let mut completed = 0;
    while vm.driver.pop_used().is_some() {
        completed += 1;
    }
    assert_eq!(completed, 6);
    assert_eq!(during, 0, "request processing allocated {during} times");
}

#[test]
fn opening_bad_images_explains_the_problem() {
    let err = Block::new("/nonexistent/disk.img", false).err().unwrap();
    assert!(matches!(err, BlockError::NotFound(_)), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let err = Block::new(dir.path(), true).err().unwrap();
    assert!(matches!(err, BlockError::NotADisk(_)), "{err}");

    let mut odd = tempfile::NamedTempFile::new().unwrap();
    odd.write_all(&[0u8; 1000]).unwrap();
    let err = Block::new(odd.path(), false).err().unwrap();
    assert!(
        matches!(err, BlockError::UnalignedSize { size: 1000, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("truncate -s %512"), "{err}");
}
