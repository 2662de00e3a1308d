//! VM snapshots on real KVM with tiny guests: `vmm-ctl snapshot` saves a running guest,
//! `ec2lab vmm --restore` starts a new VMM process from it, and the guest goes on where
//! it was (memory, registers, serial, virtio queues). Damaged or mismatched snapshots
//! are refused before anything runs; restored guests share the memory file's pages.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Where the counting guest keeps its counter (guest-physical = memory-file offset).
const COUNTER: u64 = 0x50000;

/// 64-bit guest: prints START once, then counts in memory forever, printing a dot
/// every 0x4000 counts.
fn counting_guest() -> Asm {
    let mut a = Asm::new().print("START\n");
    a = a.mov_ebx(COUNTER as u32).mov_dx(0x3f8);
    let top = a.len();
    // inc dword [rbx]; mov eax,[rbx]; test eax,0x3fff
    a = a
        .bytes(&[0xff, 0x03])
        .load_eax_from_ebx()
        .bytes(&[0xa9, 0xff, 0x3f, 0, 0]);
    let jnz = (top as isize - (a.len() as isize + 2)) as i8;
    a = a.bytes(&[0x75, jnz as u8]).mov_al(b'.').out_dx_al();
    let jmp = (top as isize - (a.len() as isize + 2)) as i8;
    a.bytes(&[0xeb, jmp as u8])
}

fn ctl(sock: &Path, args: &[&str]) -> serde_json::Value {
    let mut c = ec2lab();
    c.args(["vmm-ctl", "--api-sock", sock.to_str().unwrap()])
        .args(args);
    let out = run_with_timeout(c, 120);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("vmm-ctl {args:?}: {}", stderr(&out)));
    assert_eq!(v["ok"], true, "vmm-ctl {args:?}: {v}");
    v
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn dots(s: &str) -> usize {
    s.bytes().filter(|b| *b == b'.').count()
}

fn counter_in(snapshot: &Path) -> u32 {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(snapshot.join("memory")).unwrap();
    f.seek(SeekFrom::Start(COUNTER)).unwrap();
    let mut b = [0u8; 4];
    f.read_exact(&mut b).unwrap();
    u32::from_le_bytes(b)
}

/// `ec2lab vmm --restore dir` with its console in `console` and a control socket.
fn restore(dir: &Path, console: &Path, sock: &Path, extra: &[&str]) -> Child {
    let mut child = ec2lab()
        .args(["vmm", "--restore", dir.to_str().unwrap()])
        .args(["--serial-out", console.to_str().unwrap()])
        .args(["--api-sock", sock.to_str().unwrap()])
        .args(extra)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while !sock.exists() {
        if let Ok(Some(_)) = child.try_wait() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "the restore ended before its socket was up: {}",
                stderr(&out)
            );
        }
        assert!(Instant::now() < end, "{} never appeared", sock.display());
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

/// Runs the counting guest until it printed a few dots, snapshots it with `then: exit`;
/// returns the guest dir (kept alive by the caller) and the snapshot path.
fn counting_snapshot(mem_mib: u32) -> (Guest, PathBuf) {
    let g = Guest::new(&counting_guest(), false);
    let mem = mem_mib.to_string();
    let (child, sock) = g.spawn_with_api(&["--mem-mib", &mem]);
    wait_for("the guest's dots", 60, || dots(&g.console()) >= 3);
    let snap = g.path("snap");
    let v = ctl(
        &sock,
        &["snapshot", "--dir", snap.to_str().unwrap(), "--exit"],
    );
    assert_eq!(v["snapshot"]["memory_bytes"], u64::from(mem_mib) << 20);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(6), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("saved to the snapshot"),
        "{}",
        stderr(&out)
    );
    (g, snap)
}

#[test]
fn a_restored_guest_counts_on_from_where_it_was() {
    let (g, snap) = counting_snapshot(128);
    let at_snapshot = counter_in(&snap);
    assert!(at_snapshot >= 3 * 0x4000, "counter {at_snapshot:#x}");
    // Only a few pages were written: the memory file is sparse.
    let blocks =
        std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(snap.join("memory")).unwrap());
    assert!(blocks * 512 < 4 << 20, "{} bytes allocated", blocks * 512);

    let console2 = g.path("console2");
    let sock2 = g.path("api2.sock");
    let child = restore(&snap, &console2, &sock2, &[]);
    let read2 = || std::fs::read_to_string(&console2).unwrap_or_default();
    wait_for("dots after restore", 60, || dots(&read2()) >= 3);
    let status = ctl(&sock2, &["status"]);
    assert_eq!(status["status"]["mem_mib"], 128);
    let snap2 = g.path("snap2");
    ctl(
        &sock2,
        &["snapshot", "--dir", snap2.to_str().unwrap(), "--exit"],
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(6), "stderr: {}", stderr(&out));
    let later = counter_in(&snap2);
    // It went on from the first snapshot's count: at least the dots printed since. A dot
    // is printed at each multiple of 0x4000, so three dots after restore prove the count
    // passed the third multiple above the snapshot's (a guest counting from zero again
    // would be at most a little past 0xc000 here).
    assert!(
        later >= (at_snapshot & !0x3fff) + 3 * 0x4000,
        "counter {later:#x} after restore, {at_snapshot:#x} at the snapshot"
    );
}

#[test]
fn snapshot_then_resume_keeps_the_guest_running() {
    let g = Guest::new(&counting_guest(), false);
    let (mut child, sock) = g.spawn_with_api(&["--mem-mib", "128"]);
    wait_for("dots", 60, || dots(&g.console()) >= 2);
    let snap = g.path("snap");
    ctl(&sock, &["snapshot", "--dir", snap.to_str().unwrap()]);
    let before = dots(&g.console());
    wait_for("dots after the snapshot", 60, || {
        dots(&g.console()) >= before + 2
    });
    assert_eq!(ctl(&sock, &["status"])["status"]["state"], "running");
    // A second snapshot into the same directory is refused; the first stays whole.
    let mut c = ec2lab();
    c.args([
        "vmm-ctl",
        "--api-sock",
        sock.to_str().unwrap(),
        "snapshot",
        "--dir",
    ])
    .arg(&snap);
    let out = run_with_timeout(c, 60);
    assert!(String::from_utf8_lossy(&out.stdout).contains("exists already"));
    ctl(&sock, &["stop"]);
    assert_eq!(child.wait().unwrap().code(), Some(4));
    assert!(snap.join("state.json").exists() && snap.join("memory").exists());
    let partials: Vec<_> = std::fs::read_dir(g.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(partials.is_empty(), "a partial snapshot was left behind");
}

/// Restoring `snap` with `extra` flags must fail with `expect` in its error, before the
/// guest runs (no console output at all).
fn refused(g: &Guest, snap: &Path, extra: &[&str], expect: &str) {
    let console = g.path("refused-console");
    let _ = std::fs::remove_file(&console);
    let mut c = ec2lab();
    c.args(["vmm", "--restore", snap.to_str().unwrap()])
        .args(["--serial-out", console.to_str().unwrap()])
        .args(extra);
    let out = run_with_timeout(c, 60);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains(expect),
        "wanted {expect:?} in: {}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&console).unwrap_or_default(),
        b"",
        "the guest ran"
    );
}

/// A copy of `from` whose manifest `edit` changed, with a checksum that matches it.
fn edited_copy(from: &Path, to: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    copy_snapshot(from, to);
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(to.join("state.json")).unwrap()).unwrap();
    edit(&mut v["manifest"]);
    let body = serde_json::to_vec(&v).unwrap();
    std::fs::write(to.join("state.json"), &body).unwrap();
    let sum = {
        use sha2::Digest;
        sha2::Sha256::digest(&body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    std::fs::write(to.join("state.sha256"), sum).unwrap();
}

fn copy_snapshot(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for f in ["state.json", "state.sha256", "memory"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
}

#[test]
fn damaged_or_mismatched_snapshots_are_refused_before_anything_runs() {
    let (g, snap) = counting_snapshot(128);

    let damaged = g.path("damaged");
    copy_snapshot(&snap, &damaged);
    let state = damaged.join("state.json");
    let mut bytes = std::fs::read(&state).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&state, bytes).unwrap();
    refused(&g, &damaged, &[], "does not match its checksum");

    let truncated = g.path("truncated");
    copy_snapshot(&snap, &truncated);
    let mem = std::fs::OpenOptions::new()
        .write(true)
        .open(truncated.join("memory"))
        .unwrap();
    mem.set_len(64 << 20).unwrap();
    refused(&g, &truncated, &[], "truncated or from another snapshot");

    // Another format version, KVM kind or CPU, each with a checksum that matches:
    // refused by what differs, not as damage.
    let newer = g.path("newer");
    edited_copy(&snap, &newer, |m| m["format_version"] = 99.into());
    refused(&g, &newer, &[], "format version 99");
    // Version 1: older builds, whose pvm guests ran one vCPU offered KVM's hypercalls.
    let older = g.path("older");
    edited_copy(&snap, &older, |m| m["format_version"] = 1.into());
    refused(&g, &older, &[], "has format version 1 (written by");
    let here = std::fs::read_to_string(snap.join("state.json")).unwrap();
    let other_kvm = if here.contains("\"kvm_intel\"") {
        "kvm_amd"
    } else {
        "kvm_intel"
    };
    let kvm = g.path("other-kvm");
    edited_copy(&snap, &kvm, |m| m["kvm"] = other_kvm.into());
    refused(&g, &kvm, &[], &format!("made on {other_kvm}"));
    let cpu = g.path("other-cpu");
    edited_copy(&snap, &cpu, |m| {
        let model = m["cpu"]["model"].as_u64().unwrap();
        m["cpu"]["model"] = (model + 1).into();
    });
    refused(&g, &cpu, &[], "made on another CPU");

    // The snapshot's guest had no disk; a launch with one is not that guest.
    let disk = g.path("extra.img");
    std::fs::write(&disk, vec![0u8; 4096]).unwrap();
    refused(
        &g,
        &snap,
        &["--disk", disk.to_str().unwrap()],
        "the snapshot's guest had 0 disk(s)",
    );

    refused(
        &g,
        &g.path("no-such-snapshot"),
        &[],
        "is not an ec2lab VM snapshot",
    );
    // After all that, the snapshot itself still restores.
    let console = g.path("ok-console");
    let sock = g.path("ok.sock");
    let child = restore(&snap, &console, &sock, &[]);
    wait_for("dots", 60, || {
        dots(&std::fs::read_to_string(&console).unwrap_or_default()) >= 1
    });
    ctl(&sock, &["stop"]);
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(4));
}

/// Private_Dirty and Rss (KiB) of the mapping of `file` in process `pid`.
fn mapping_kib(pid: u32, file: &Path) -> (u64, u64) {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let name = file.canonicalize().unwrap().display().to_string();
    let (mut dirty, mut rss, mut inside) = (0, 0, false);
    for line in smaps.lines() {
        if line.contains('-') && line.split_whitespace().count() >= 5 && !line.ends_with("kB") {
            inside = line.ends_with(&name);
            continue;
        }
        let kib = |l: &str| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap();
        if inside && line.starts_with("Private_Dirty:") {
            dirty += kib(line);
        }
        if inside && line.starts_with("Rss:") {
            rss += kib(line);
        }
    }
    (dirty, rss)
}

#[test]
fn two_guests_restored_from_one_snapshot_share_its_pages() {
    let (g, snap) = counting_snapshot(256);
    let memory = snap.join("memory");
    let mut running = Vec::new();
    for i in 0..2 {
        let console = g.path(&format!("console-{i}"));
        let sock = g.path(&format!("api-{i}.sock"));
        let child = restore(&snap, &console, &sock, &[]);
        running.push((child, console, sock));
    }
    for (_, console, _) in &running {
        wait_for("both guests' dots", 60, || {
            dots(&std::fs::read_to_string(console).unwrap_or_default()) >= 3
        });
    }
    for (child, _, _) in &running {
        let (dirty, rss) = mapping_kib(child.id(), &memory);
        eprintln!(
            "pid {}: memory mapping Rss {rss} KiB, Private_Dirty {dirty} KiB",
            child.id()
        );
        assert!(rss > 0, "the memory file is not mapped");
        // The guest writes one counter page (and the stack it never uses): a few pages
        // of private copies, not its 256 MiB.
        assert!(dirty <= 256, "Private_Dirty {dirty} KiB");
    }
    for (child, _, sock) in running {
        ctl(&sock, &["stop"]);
        assert_eq!(child.wait_with_output().unwrap().status.code(), Some(4));
    }
}

/// VMM start to the first guest instruction (`status.setup_ms`: the machine was built
/// and every state restored) for a 128 MiB and a 1 GiB snapshot.
#[test]
fn restore_time_does_not_grow_with_memory_size() {
    let mut figures = Vec::new();
    for mib in [128u32, 1024] {
        let (g, snap) = counting_snapshot(mib);
        let mut best = u64::MAX;
        for run in 0..3 {
            let console = g.path(&format!("console-{run}"));
            let sock = g.path(&format!("api-{run}.sock"));
            let child = restore(&snap, &console, &sock, &[]);
            let setup = ctl(&sock, &["status"])["status"]["setup_ms"]
                .as_u64()
                .unwrap();
            best = best.min(setup);
            ctl(&sock, &["stop"]);
            child.wait_with_output().unwrap();
        }
        figures.push((mib, best));
    }
    eprintln!("restore set-up (best of 3): {figures:?}");
    let (small, large) = (figures[0].1, figures[1].1);
    // 8x the memory; reading it would cost hundreds of ms. Allow noise, not growth.
    assert!(
        large <= small + 20,
        "128 MiB: {small} ms, 1 GiB: {large} ms"
    );
}

/// 32-bit guest with a virtio-blk driver: reads sector 0, then waits for a byte on the
/// serial console, then writes sector 1 and prints the status and the used index.
fn disk_guest() -> Asm {
    let mut a = virtio_init(Asm::new());
    a = blk_request(a, 0, 0, HDR_IN, 0, 0, DATA_IN);
    a = print_mem(a, DATA_IN, 16);
    for (i, w) in b"WRITTEN BY GUEST".chunks(4).enumerate() {
        a = store(
            a,
            DATA_OUT + 4 * i as u32,
            u32::from_le_bytes(w.try_into().unwrap()),
        );
    }
    a = a.print("\nWAIT\n").mov_dx(0x3fd);
    // poll: in al,dx; test al,1; jz poll (line status: data ready)
    let poll = a.len();
    a = a.in_al_dx().bytes(&[0xa8, 0x01]);
    let back = (poll as isize - (a.len() as isize + 2)) as i8;
    a = a.bytes(&[0x74, back as u8]).mov_dx(0x3f8).in_al_dx();
    a = blk_request(a, 3, 1, HDR_OUT, 1, 1, DATA_OUT);
    a = print_mem(a, STATUS, 1);
    a = print_mem(a, USED + 2, 1);
    a.print("DONE\n").halt_forever()
}

#[test]
fn a_guest_restored_mid_way_through_disk_io_goes_on_with_its_queue() {
    let g = Guest::new(&disk_guest(), true);
    let disk = g.path("disk.img");
    let mut content = vec![0u8; 4096];
    content[..16].copy_from_slice(b"VIRTIO-BLK-WORKS");
    std::fs::write(&disk, &content).unwrap();
    let disk_arg = disk.to_str().unwrap();
    let (child, sock) = g.spawn_with_api(&["--disk", disk_arg, "--mem-mib", "128"]);
    wait_for("the guest's first request", 60, || {
        g.console().contains("WAIT")
    });
    assert!(
        g.console().starts_with("VIRTIO-BLK-WORKS"),
        "{:?}",
        g.console()
    );
    let snap = g.path("snap");
    ctl(
        &sock,
        &["snapshot", "--dir", snap.to_str().unwrap(), "--exit"],
    );
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(6));

    let console2 = g.path("console2");
    let sock2 = g.path("api2.sock");
    let csock = g.path("console.sock");
    let child = restore(
        &snap,
        &console2,
        &sock2,
        &[
            "--disk",
            disk_arg,
            "--console-sock",
            csock.to_str().unwrap(),
        ],
    );
    let mut conn = std::os::unix::net::UnixStream::connect(&csock).unwrap();
    std::io::Write::write_all(&mut conn, b"g").unwrap();
    let read2 = || std::fs::read(&console2).unwrap_or_default();
    wait_for("the guest's second request", 60, || {
        read2().ends_with(b"DONE\n")
    });
    // Status OK, used index 2: the device went on from the first request's place.
    assert_eq!(read2(), b"\x00\x02DONE\n");
    let m = ctl(&sock2, &["metrics"]);
    let d = &m["metrics"]["disks"][0];
    assert_eq!(
        (d["read_ops"].as_u64(), d["write_ops"].as_u64()),
        (Some(0), Some(1)),
        "{m}"
    );
    assert_eq!(
        &std::fs::read(&disk).unwrap()[512..528],
        b"WRITTEN BY GUEST"
    );
    ctl(&sock2, &["stop"]);
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(4));
}
