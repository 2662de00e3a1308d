//! virtio-blk over virtio-mmio, driven through real KVM MMIO exits by a tiny guest that
//! does what a driver does: negotiate, set up a queue, read sector 0 and write sector 1.

mod common;
use common::*;

fn driver_guest() -> Asm {
    const NEXT: u16 = 1;
    const WRITE: u16 = 2;
    let mut a = Asm::new();
    a = reg(a, 0x70, 1); // ACKNOWLEDGE
    a = reg(a, 0x70, 3); // DRIVER
    a = reg(a, 0x24, 1); // DriverFeaturesSel = 1
    a = reg(a, 0x20, 1); // VIRTIO_F_VERSION_1 (bit 32)
    a = reg(a, 0x24, 0);
    a = reg(a, 0x20, 0);
    a = reg(a, 0x70, 0xb); // FEATURES_OK
    a = reg(a, 0x30, 0); // QueueSel
    a = reg(a, 0x38, 8); // QueueNum
    a = reg(a, 0x80, DESC);
    a = reg(a, 0x84, 0);
    a = reg(a, 0x90, AVAIL);
    a = reg(a, 0x94, 0);
    a = reg(a, 0xa0, USED);
    a = reg(a, 0xa4, 0);
    a = reg(a, 0x44, 1); // QueueReady
    a = reg(a, 0x70, 0xf); // DRIVER_OK

    // Read sector 0: header (type IN = 0, sector 0), 512-byte buffer, status byte.
    a = store(a, HDR_IN, 0);
    a = store(a, HDR_IN + 4, 0);
    a = store(a, HDR_IN + 8, 0);
    a = store(a, HDR_IN + 12, 0);
    a = store(a, STATUS, 0xff);
    a = desc(a, 0, HDR_IN, 16, NEXT, 1);
    a = desc(a, 1, DATA_IN, 512, NEXT | WRITE, 2);
    a = desc(a, 2, STATUS, 1, WRITE, 0);
    a = store(a, AVAIL + 4, 0); // ring[0] = chain 0
    a = store(a, AVAIL, 1 << 16); // flags 0, idx 1
    a = reg(a, 0x50, 0); // QueueNotify
    a = print_mem(a, DATA_IN, 16);
    a = print_mem(a, STATUS, 1); // 0 = VIRTIO_BLK_S_OK
    a = print_mem(a, USED + 2, 1); // used idx: 1 request done

    // Write sector 1: header (type OUT = 1, sector 1) and a 512-byte buffer.
    a = store(a, HDR_OUT, 1);
    a = store(a, HDR_OUT + 4, 0);
    a = store(a, HDR_OUT + 8, 1);
    a = store(a, HDR_OUT + 12, 0);
    for (i, w) in b"WRITTEN BY GUEST".chunks(4).enumerate() {
        a = store(
            a,
            DATA_OUT + 4 * i as u32,
            u32::from_le_bytes(w.try_into().unwrap()),
        );
    }
    a = desc(a, 3, HDR_OUT, 16, NEXT, 4);
    a = desc(a, 4, DATA_OUT, 512, NEXT, 5);
    a = desc(a, 5, STATUS, 1, WRITE, 0);
    a = store(a, AVAIL + 4, 3 << 16); // ring[1] = chain 3
    a = store(a, AVAIL, 2 << 16); // idx 2
    a = reg(a, 0x50, 0);
    a = print_mem(a, STATUS, 1);
    a.reset().halt_forever()
}

#[test]
fn guest_reads_and_writes_a_disk_through_virtio_mmio() {
    let g = Guest::new(&driver_guest(), true);
    let disk = g.path("disk.img");
    let mut content = vec![0u8; 4096];
    content[..16].copy_from_slice(b"VIRTIO-BLK-WORKS");
    std::fs::write(&disk, &content).unwrap();
    let out = g.run(&["--disk", disk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5), "stderr: {}", stderr(&out));
    assert_eq!(g.console().as_bytes(), b"VIRTIO-BLK-WORKS\x00\x01\x00");
    let after = std::fs::read(&disk).unwrap();
    assert_eq!(&after[512..528], b"WRITTEN BY GUEST");
    assert_eq!(&after[..16], b"VIRTIO-BLK-WORKS");
}

#[test]
fn read_only_disk_refuses_the_guest_write() {
    let g = Guest::new(&driver_guest(), true);
    let disk = g.path("disk.img");
    std::fs::write(&disk, vec![0u8; 4096]).unwrap();
    let ro = format!("{},ro", disk.display());
    let out = g.run(&["--disk", &ro]);
    assert_eq!(out.status.code(), Some(5), "stderr: {}", stderr(&out));
    // Read OK (status 0), used idx 1, then the write fails with IOERR (1).
    assert!(
        g.console().as_bytes().ends_with(b"\x00\x01\x01"),
        "{:?}",
        g.console()
    );
    assert!(std::fs::read(&disk).unwrap().iter().all(|b| *b == 0));
}

/// The VMM starts with an empty slot; the tiny guest brings its driver up on it, waits
/// for a capacity, then reads sector 0. The test attaches a disk through the control
/// socket meanwhile: hot attach, seen by the guest as a config change.
#[test]
fn a_disk_attached_to_a_running_guest_becomes_readable() {
    const SLOT1: u32 = MMIO + 0x1000;
    let mut a = Asm::new();
    // Driver up on slot 1 (the slot has no media yet).
    a = virtio_init_at(a, SLOT1, DESC, AVAIL, USED);
    a = a.print("waiting\n");
    // mov ebx, capacity register; poll: mov eax,[ebx]; test eax,eax; jz poll
    a = a.mov_ebx(SLOT1 + 0x100);
    let poll = a.len();
    a = a.load_eax_from_ebx().bytes(&[0x85, 0xc0]);
    let back = (poll as isize - (a.len() as isize + 2)) as i8;
    a = a.bytes(&[0x74, back as u8]);
    // Read sector 0 through slot 1: same chain layout as blk_request, notify slot 1.
    a = store(a, HDR_IN, 0);
    a = store(a, HDR_IN + 4, 0);
    a = store(a, HDR_IN + 8, 0);
    a = store(a, HDR_IN + 12, 0);
    a = desc(a, 0, HDR_IN, 16, NEXT, 1);
    a = desc(a, 1, DATA_IN, 512, NEXT | WRITE, 2);
    a = desc(a, 2, STATUS, 1, WRITE, 0);
    a = store(a, AVAIL + 4, 0);
    a = store(a, AVAIL, 1 << 16);
    a = store(a, SLOT1 + 0x50, 0);
    a = print_mem(a, DATA_IN, 16);
    a = a.reset().halt_forever();

    let g = Guest::new(&a, true);
    let root = g.path("root.img");
    std::fs::write(&root, vec![0u8; 4096]).unwrap();
    let vol = g.path("vol.img");
    let mut content = vec![0u8; 8192];
    content[..16].copy_from_slice(b"HOT-ATTACHED-OK!");
    std::fs::write(&vol, &content).unwrap();
    let sock = g.path("api.sock");
    let child = g
        .vmm(&[
            "--disk",
            root.to_str().unwrap(),
            "--disk",
            "none",
            "--api-sock",
            sock.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_path(&sock, 20);
    let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !g.console().contains("waiting") {
        assert!(std::time::Instant::now() < end, "guest never got ready");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut bad = ec2lab();
    bad.args([
        "vmm-ctl",
        "--api-sock",
        sock.to_str().unwrap(),
        "attach-disk",
        "--slot",
        "7",
        "--path",
    ])
    .arg(&vol);
    let out = run_with_timeout(bad, 20);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no disk slot 7"));
    let mut c = ec2lab();
    c.args([
        "vmm-ctl",
        "--api-sock",
        sock.to_str().unwrap(),
        "attach-disk",
        "--slot",
        "1",
        "--path",
    ])
    .arg(&vol);
    let out = run_with_timeout(c, 20);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(5), "stderr: {}", stderr(&out));
    assert_eq!(g.console(), "waiting\nHOT-ATTACHED-OK!");
}
