//! The VMM's `metrics` answer, checked against tiny guests on real KVM that move a known
//! number of disk requests and network frames, and that spin in guest user mode or guest
//! kernel mode (for the vCPU threads' CPU time).

mod common;
use common::*;

use std::path::Path;
use std::time::{Duration, Instant};

fn metrics(sock: &Path) -> serde_json::Value {
    let mut c = ec2lab();
    c.args(["vmm-ctl", "--api-sock", sock.to_str().unwrap(), "metrics"]);
    let out = run_with_timeout(c, 20);
    assert!(out.status.success(), "metrics: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    v["metrics"].clone()
}

fn wait_console(g: &Guest, marker: &str) {
    let end = Instant::now() + Duration::from_secs(20);
    while !g.console().contains(marker) {
        assert!(
            Instant::now() < end,
            "guest never printed {marker:?}: {:?}",
            g.console()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn stop(sock: &Path, child: std::process::Child) {
    let mut c = ec2lab();
    c.args(["vmm-ctl", "--api-sock", sock.to_str().unwrap(), "stop"]);
    run_with_timeout(c, 20);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "stderr: {}", stderr(&out));
}

/// The tiny OS reads and writes one sector of its root disk; the DataDisk variant also
/// reads, writes and flushes one sector of its second disk. Exactly that shows.
#[test]
fn disk_requests_show_exactly_in_the_counters() {
    let g = Guest::new(&tiny_os(TinyOs::DataDisk), true);
    let root = g.path("root.img");
    tiny_root_disk(&root);
    let data = g.path("data.img");
    std::fs::write(&data, vec![7u8; 8192]).unwrap();
    let root_arg = root.to_str().unwrap().to_string();
    let data_arg = data.to_str().unwrap().to_string();
    let (child, sock) = g.spawn_with_api(&["--disk", &root_arg, "--disk", &data_arg]);
    wait_console(&g, "flushed");
    let m = metrics(&sock);
    let disks = m["disks"].as_array().unwrap();
    assert_eq!(disks.len(), 2, "{m}");
    for d in disks {
        assert_eq!(d["read_ops"], 1, "{d}");
        assert_eq!(d["read_bytes"], 512, "{d}");
        assert_eq!(d["write_ops"], 1, "{d}");
        assert_eq!(d["write_bytes"], 512, "{d}");
        // Busy time is what the requests took inside the VMM: far less than the uptime.
        let busy = d["busy_ns"].as_u64().unwrap();
        assert!(busy > 0 && busy < m["uptime_ns"].as_u64().unwrap(), "{m}");
    }
    assert_eq!(disks[1]["slot"], 1);
    assert_eq!(m["nets"].as_array().unwrap().len(), 0);
    assert_eq!(m["vcpus"], 1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let started = m["started_unix_ms"].as_i64().unwrap();
    assert!(started <= m["read_unix_ms"].as_i64().unwrap() && now - started < 60_000);
    // Counters are cumulative: a second reading shows the same requests, later.
    let again = metrics(&sock);
    assert_eq!(again["disks"][0]["read_ops"], 1);
    assert!(again["uptime_ns"].as_u64() > m["uptime_ns"].as_u64());
    stop(&sock, child);
}

// ---- Network: a tiny virtio-net driver on a real tap ----

const RX_DESC: u32 = DESC;
const RX_AVAIL: u32 = AVAIL;
const RX_USED: u32 = USED;
const TX_DESC: u32 = 0x40000;
const TX_AVAIL: u32 = 0x41000;
const TX_USED: u32 = 0x42000;
const RX_BUFS: u32 = 0x50000;
const TX_BUFS: u32 = 0x60000;
/// Frames the guest sends, and each one's Ethernet length.
const TX_FRAMES: u32 = 3;
const TX_LEN: u32 = 100;
/// Frames the host sends the guest, and each one's length.
const RX_FRAMES: usize = 5;
const RX_LEN: usize = 200;
const HDR: u32 = 12;

fn ring_desc(a: Asm, table: u32, i: u32, addr: u32, len: u32, flags: u16) -> Asm {
    let d = table + 16 * i;
    let a = store(a, d, addr);
    let a = store(a, d + 4, 0);
    let a = store(a, d + 8, len);
    store(a, d + 12, u32::from(flags))
}

/// Brings up virtio-net in slot 0 (RX queue 0, TX queue 1), posts 8 receive buffers,
/// sends [`TX_FRAMES`] broadcast frames of [`TX_LEN`] bytes, prints `sent`, halts.
fn net_guest() -> Asm {
    let mut a = Asm::new();
    for (off, v) in [
        (0x70, 1),
        (0x70, 3),
        (0x24, 1),
        (0x20, 1), // VIRTIO_F_VERSION_1
        (0x24, 0),
        (0x20, 0),
        (0x70, 0xb),
    ] {
        a = reg(a, off, v);
    }
    for (q, desc, avail, used) in [
        (0, RX_DESC, RX_AVAIL, RX_USED),
        (1, TX_DESC, TX_AVAIL, TX_USED),
    ] {
        for (off, v) in [
            (0x30, q),
            (0x38, 8),
            (0x80, desc),
            (0x84, 0),
            (0x90, avail),
            (0x94, 0),
            (0xa0, used),
            (0xa4, 0),
            (0x44, 1),
        ] {
            a = reg(a, off, v);
        }
    }
    a = reg(a, 0x70, 0xf);
    // Eight receive buffers of 1600 bytes, one descriptor each.
    for i in 0..8 {
        a = ring_desc(a, RX_DESC, i, RX_BUFS + i * 0x800, 1600, WRITE);
    }
    for i in 0..4 {
        a = store(a, RX_AVAIL + 4 + 4 * i, (2 * i) | ((2 * i + 1) << 16));
    }
    a = store(a, RX_AVAIL, 8 << 16);
    a = reg(a, 0x50, 0);
    // Transmit: zero virtio-net header, then dst ff:ff:ff:ff:ff:ff, src 02:00:00:00:00:01,
    // EtherType 0x88b5 (local experimental), zero payload.
    for i in 0..TX_FRAMES {
        let buf = TX_BUFS + i * 0x200;
        a = store(a, buf + HDR, 0xffff_ffff);
        a = store(a, buf + HDR + 4, 0x0002_ffff);
        a = store(a, buf + HDR + 8, 0x0100_0000);
        a = store(a, buf + HDR + 12, 0x0000_b588);
        a = ring_desc(a, TX_DESC, i, buf, HDR + TX_LEN, 0);
    }
    a = store(a, TX_AVAIL + 4, 1 << 16);
    a = store(a, TX_AVAIL + 8, 2);
    a = store(a, TX_AVAIL, TX_FRAMES << 16);
    a = reg(a, 0x50, 1);
    a.print("sent\n").halt_forever()
}

fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct TapGone(String);
impl Drop for TapGone {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .output();
    }
}

#[test]
fn network_frames_show_exactly_in_the_counters() {
    let tap = format!("ec2m{}", std::process::id() % 100_000);
    let created = std::process::Command::new("ip")
        .args(["tuntap", "add", "dev", &tap, "mode", "tap"])
        .output()
        .unwrap();
    if !created.status.success() {
        eprintln!(
            "skipping: cannot create a tap here ({})",
            String::from_utf8_lossy(&created.stderr)
        );
        return;
    }
    let _gone = TapGone(tap.clone());
    // No addresses and no IPv6: the host kernel itself sends nothing on the tap, so the
    // guest receives exactly the frames sent below.
    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{tap}/disable_ipv6"), "1");
    ip(&["link", "set", "dev", &tap, "up"]);
    let g = Guest::new(&net_guest(), true);
    let net = format!("tap={tap},mac=02:00:00:00:00:02");
    let (child, sock) = g.spawn_with_api(&["--net", &net]);
    wait_console(&g, "sent");
    let mut frame = vec![0u8; RX_LEN];
    frame[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
    frame[12..14].copy_from_slice(&[0x88, 0xb5]);
    for _ in 0..RX_FRAMES {
        send_raw(&tap, &frame);
    }
    let end = Instant::now() + Duration::from_secs(10);
    let m = loop {
        let m = metrics(&sock);
        if m["nets"][0]["rx_packets"].as_u64() >= Some(RX_FRAMES as u64) || Instant::now() > end {
            break m;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let n = &m["nets"][0];
    assert_eq!(n["tap"], tap.as_str());
    assert_eq!(n["mac"], "02:00:00:00:00:02");
    assert_eq!(n["tx_packets"], TX_FRAMES, "{n}");
    assert_eq!(n["tx_bytes"], TX_FRAMES * TX_LEN, "{n}");
    assert_eq!(n["rx_packets"], RX_FRAMES, "{n}");
    assert_eq!(n["rx_bytes"], RX_FRAMES * RX_LEN, "{n}");
    assert_eq!(n["rx_dropped"], 0, "{n}");
    assert_eq!(n["tx_dropped"], 0, "{n}");
    stop(&sock, child);
}

// ---- CPU time ----

/// 64-bit guest that leaves kernel mode for user mode and spins there: marks its pages
/// user-accessible in the VMM's boot page tables (PML4 0x9000, PDPT 0xa000, PD 0xb000),
/// adds ring-3 code and data segments to the boot GDT (0x500) and `iretq`s to a `jmp $`.
fn user_spinner() -> Asm {
    // mov dword [abs32], imm32 (64-bit mode: ModRM 04 + SIB 25 is absolute, not RIP-relative)
    let st = |a: Asm, addr: u32, v: u32| {
        a.bytes(&[0xc7, 0x04, 0x25])
            .bytes(&addr.to_le_bytes())
            .bytes(&v.to_le_bytes())
    };
    let mut a = Asm::new();
    for table in [0x9000u32, 0xa000, 0xb000] {
        // or dword [table], 4 (U/S)
        a = a
            .bytes(&[0x83, 0x0c, 0x25])
            .bytes(&table.to_le_bytes())
            .bytes(&[4]);
    }
    a = a.bytes(&[0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8]); // mov rax,cr3; mov cr3,rax
    a = st(a, 0x520, 0x0000_ffff);
    a = st(a, 0x524, 0x00af_fa00); // 64-bit code, DPL 3
    a = st(a, 0x528, 0x0000_ffff);
    a = st(a, 0x52c, 0x00cf_f200); // data, DPL 3
    a = st(a, 0x600, 0x0500_002f); // GDTR: limit 47, base 0x500
    a = st(a, 0x604, 0);
    a = a.bytes(&[0x0f, 0x01, 0x14, 0x25, 0x00, 0x06, 0x00, 0x00]); // lgdt [0x600]
    a = a.bytes(&[0x6a, 0x2b]); // push ss (selector 5, RPL 3)
    a = a.bytes(&[0x68]).bytes(&0x8_0000u32.to_le_bytes()); // push rsp
    a = a.bytes(&[0x6a, 0x02]); // push rflags (IF clear)
    a = a.bytes(&[0x6a, 0x23]); // push cs (selector 4, RPL 3)
    let rip = LOAD_ADDR as u32 + a.len() as u32 + 5 + 2;
    a = a.bytes(&[0x68]).bytes(&rip.to_le_bytes()); // push rip
    a = a.bytes(&[0x48, 0xcf]); // iretq
    a.bytes(&[0xeb, 0xfe]) // user: jmp $
}

/// The vCPU thread's utime+stime from /proc, in ns (the tick-sampled view, for comparison).
fn proc_vcpu_ns(pid: u32) -> u64 {
    let tick = 1_000_000_000 / 100; // USER_HZ
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        if std::fs::read_to_string(task.join("comm"))
            .unwrap_or_default()
            .trim()
            != "vcpu0"
        {
            continue;
        }
        let stat = std::fs::read_to_string(task.join("stat")).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split(' ').collect();
        // Fields 14 and 15 (utime, stime), counted from 3 after the comm.
        let (ut, st): (u64, u64) = (f[11].parse().unwrap(), f[12].parse().unwrap());
        return (ut + st) * tick;
    }
    panic!("no vcpu0 thread in {pid}");
}

/// Utilisation of the vCPU over about 2 s, from the VMM's metrics and from /proc.
fn utilisation(code: &Asm, pvh: bool) -> (f64, f64) {
    let g = Guest::new(code, pvh);
    let (child, sock) = g.spawn_with_api(&[]);
    std::thread::sleep(Duration::from_millis(300));
    let (m1, p1) = (metrics(&sock), proc_vcpu_ns(child.id()));
    std::thread::sleep(Duration::from_secs(2));
    let (m2, p2) = (metrics(&sock), proc_vcpu_ns(child.id()));
    let wall = (m2["uptime_ns"].as_u64().unwrap() - m1["uptime_ns"].as_u64().unwrap()) as f64;
    let cpu = (m2["vcpu_cpu_ns"].as_u64().unwrap() - m1["vcpu_cpu_ns"].as_u64().unwrap()) as f64;
    stop(&sock, child);
    (cpu / wall, (p2 - p1) as f64 / wall)
}

/// A guest spinning in user mode and one spinning in kernel mode (emulated on a nested
/// KVM) both use their vCPU fully, and the VMM's reading says so; a halted guest uses
/// next to nothing.
#[test]
fn vcpu_cpu_time_counts_guest_user_and_kernel_mode() {
    let user = utilisation(&user_spinner(), false);
    let kernel = utilisation(&Asm::new().bytes(&[0xeb, 0xfe]), false);
    let halted = utilisation(&Asm::new().halt_forever(), false);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    eprintln!(
        "host {}: vCPU utilisation (VMM thread CPU clock, /proc utime+stime): \
         user-mode spin {user:.3?}, kernel-mode spin {kernel:.3?}, halted {halted:.3?}",
        release.trim()
    );
    // The machine is shared: a spinning vCPU may not get a whole core, but most of one.
    for (what, (vmm, _)) in [("user", user), ("kernel", kernel)] {
        assert!(vmm > 0.5 && vmm < 1.05, "{what}-mode spin read {vmm:.3}");
    }
    assert!(halted.0 < 0.05, "halted guest read {:.3}", halted.0);
}
