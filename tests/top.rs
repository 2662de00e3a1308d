//! `ec2lab top` against tiny guests on real KVM (milliseconds to boot): one spins its boot
//! vCPU, one halts, one receives a known number of frames from the host during top's
//! interval. Top's table, read as a script would (`--once`, stdout a pipe), shows the
//! spinner busy on vCPU 0 only, the halted one idle, the transfer as its rate, the status
//! checks; plain text off a terminal, redraws and the terminal given back on Ctrl-C on one.

mod common;
use common::*;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The net receiver's interface: instances put their interfaces after the root disk, the
/// instance store (none on t2) and the six EBS slots.
const NET_SLOT: u32 = 1 + ec2lab::storage::volumes::EBS_DEVICES.len() as u32;
const NET: u32 = MMIO + NET_SLOT * 0x1000;
const RX_DESC: u32 = 0x60000;
const RX_AVAIL: u32 = 0x61000;
const RX_USED: u32 = 0x62000;
const TX_DESC: u32 = 0x63000;
const TX_AVAIL: u32 = 0x64000;
const TX_USED: u32 = 0x65000;
const RX_BUFS: u32 = 0x20_0000;
/// Receive buffers posted (more than the frames sent: ARP requests arrive too).
const RX_POSTED: u32 = 128;
/// Frames the host sends during top's interval, and each one's Ethernet length.
const FRAMES: usize = 40;
const FRAME_LEN: usize = 1000;
/// Top's interval in the transfer test, seconds.
const INTERVAL: f64 = 4.0;

/// Boots, then spins in kernel mode on the boot vCPU (`jmp $`).
fn spinner() -> Asm {
    tiny_boot().bytes(&[0xeb, 0xfe])
}

/// Boots, brings up its virtio-net (VERSION_1 only, RX queue 0 and TX queue 1), posts
/// [`RX_POSTED`] receive buffers of 2 KiB, prints `net ready`, halts.
fn receiver() -> Asm {
    let mut a = tiny_boot();
    for (off, v) in [
        (0x70, 1),
        (0x70, 3),
        (0x24, 1),
        (0x20, 1),
        (0x24, 0),
        (0x20, 0),
    ] {
        a = store(a, NET + off, v);
    }
    a = store(a, NET + 0x70, 0xb);
    for (q, num, desc, avail, used) in [
        (0, RX_POSTED, RX_DESC, RX_AVAIL, RX_USED),
        (1, 8, TX_DESC, TX_AVAIL, TX_USED),
    ] {
        for (off, v) in [
            (0x30, q),
            (0x38, num),
            (0x80, desc),
            (0x84, 0),
            (0x90, avail),
            (0x94, 0),
            (0xa0, used),
            (0xa4, 0),
            (0x44, 1),
        ] {
            a = store(a, NET + off, v);
        }
    }
    a = store(a, NET + 0x70, 0xf);
    for i in 0..RX_POSTED {
        let d = RX_DESC + 16 * i;
        a = store(a, d, RX_BUFS + i * 0x800);
        a = store(a, d + 4, 0);
        a = store(a, d + 8, 0x800);
        a = store(a, d + 12, u32::from(WRITE));
    }
    for i in 0..RX_POSTED / 2 {
        a = store(a, RX_AVAIL + 4 + 4 * i, (2 * i) | ((2 * i + 1) << 16));
    }
    a = store(a, RX_AVAIL, RX_POSTED << 16);
    a = store(a, NET + 0x50, 0);
    a.print("net ready\n").halt_forever()
}

fn wait_console(lab: &Lab, id: &str, marker: &str) {
    let end = Instant::now() + Duration::from_secs(60);
    while !lab.console(id).contains(marker) {
        assert!(Instant::now() < end, "{id} never printed {marker:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn launch(lab: &Lab, ami: &str, instance_type: &str, name: &str) -> String {
    let tags = format!("ResourceType=instance,Tags=[{{Key=Name,Value={name}}}]");
    lab.run(
        ami,
        &[
            "--instance-type",
            instance_type,
            "--tag-specifications",
            &tags,
        ],
    )[0]
    .clone()
}

fn vmm_metrics(lab: &Lab, id: &str) -> serde_json::Value {
    let sock = lab.run_dir(id).join("vmm.sock");
    let mut c = ec2lab();
    c.args(["vmm-ctl", "--api-sock", sock.to_str().unwrap(), "metrics"]);
    let out = run_with_timeout(c, 20);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["metrics"].clone()
}

/// The vCPUs the instance's VMM runs.
fn vmm_vcpus(lab: &Lab, id: &str) -> u64 {
    vmm_metrics(lab, id)["vcpus"].as_u64().unwrap()
}

/// CPU time (user + system) of this process's waited-for children so far.
fn children_cpu() -> Duration {
    // SAFETY: rusage is plain data, valid all-zero; getrusage only writes it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_CHILDREN with a valid out-pointer.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) }, 0);
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(u.ru_utime) + t(u.ru_stime)
}

/// One table row, by column name.
struct Row(Vec<(String, String)>);

impl Row {
    fn get(&self, col: &str) -> &str {
        &self.0.iter().find(|(c, _)| c == col).unwrap().1
    }
    fn num(&self, col: &str) -> f64 {
        self.get(col)
            .parse()
            .unwrap_or_else(|_| panic!("{col}: {}", self.get(col)))
    }
    /// A byte rate as top writes it (`512`, `9.8K`, `1.2M`; K = 1024).
    fn bytes(&self, col: &str) -> f64 {
        let v = self.get(col);
        let (n, scale) = match v.chars().last() {
            Some('K') => (&v[..v.len() - 1], 1024.0),
            Some('M') => (&v[..v.len() - 1], 1024.0 * 1024.0),
            _ => (v, 1.0),
        };
        n.parse::<f64>().unwrap_or_else(|_| panic!("{col}: {v}")) * scale
    }
}

/// Top's table: cells are separated by two spaces or more and hold no such run.
fn parse(table: &str) -> Vec<Row> {
    let split = |l: &str| -> Vec<String> {
        l.split("  ")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let mut lines = table.lines();
    let title = lines.next().unwrap();
    assert!(title.starts_with("ec2lab top  lab-1  "), "{table}");
    let header = split(lines.next().unwrap());
    assert_eq!(header[0], "INSTANCE", "{table}");
    lines
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let cells = split(l);
            assert_eq!(cells.len(), header.len(), "{l:?} in\n{table}");
            Row(header.iter().cloned().zip(cells).collect())
        })
        .collect()
}

fn top(lab: &Lab, args: &[&str]) -> Command {
    let mut full = vec!["top"];
    full.extend_from_slice(args);
    let mut c = lab.cmd(&full);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn interrupt(child: &Child) {
    // SAFETY: plain kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
}

#[test]
fn top_shows_cpu_network_and_checks_of_tiny_guests() {
    let lab = Lab::new();
    let spin_ami = lab.tiny_ami_of("tiny-spin", &spinner());
    let idle_ami = lab.tiny_ami("tiny-idle", TinyOs::StayUp);
    let net_ami = lab.tiny_ami_of("tiny-net", &receiver());
    // t3.micro has two vCPUs: the tiny OS runs on the first, the second waits for a
    // STARTUP IPI that never comes.
    let spin = launch(&lab, &spin_ami, "t3.micro", "spinner");
    let idle = launch(&lab, &idle_ami, "t2.micro", "idler");
    let net = launch(&lab, &net_ami, "t2.nano", "receiver");
    for id in [&spin, &idle, &net] {
        lab.wait("instance-running", id);
    }
    wait_console(&lab, &net, "net ready");

    // The receiver's tap and MAC, from its VMM.
    let m = vmm_metrics(&lab, &net);
    let tap = m["nets"][0]["tap"].as_str().unwrap().to_string();
    let mac: Vec<u8> = m["nets"][0]["mac"]
        .as_str()
        .unwrap()
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();

    // One table after one interval; the frames go out well inside it (top's first reading
    // is taken within milliseconds of its start, the second INTERVAL seconds later).
    // The VMM's per-vCPU times add up to its total (one reading, one vector).
    let m = vmm_metrics(&lab, &spin);
    let each: Vec<u64> = m["vcpu_thread_cpu_ns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(each.len() as u64, m["vcpus"].as_u64().unwrap(), "{m}");
    assert_eq!(
        each.iter().sum::<u64>(),
        m["vcpu_cpu_ns"].as_u64().unwrap(),
        "{m}"
    );

    let interval = INTERVAL.to_string();
    let cpu_before = children_cpu();
    let started = Instant::now();
    let child = top(&lab, &["--once", "--interval", &interval])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mut frame = vec![0u8; FRAME_LEN];
    frame[..6].copy_from_slice(&mac);
    frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
    frame[12..14].copy_from_slice(&[0x88, 0xb5]);
    for _ in 0..FRAMES {
        send_raw(&tap, &frame);
    }
    let sent_at = started.elapsed();
    let out = child.wait_with_output().unwrap();
    let took = started.elapsed();
    eprintln!(
        "top --once: {:?} of CPU for 3 instances",
        children_cpu() - cpu_before
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(out.status.success(), "{}{text}", stderr(&out));
    eprintln!(
        "top --once --interval {INTERVAL} took {took:.2?} (frames sent by {sent_at:.2?}):\n{text}"
    );
    assert!(
        sent_at < Duration::from_secs_f64(INTERVAL - 1.0),
        "the frames went out late"
    );
    assert!(
        !text.contains('\x1b'),
        "escape codes off a terminal: {text:?}"
    );
    let rows = parse(&text);
    let row = |id: &str| rows.iter().find(|r| r.get("INSTANCE") == id).unwrap();
    assert_eq!(rows.len(), 3, "{text}");
    // Busiest first.
    assert_eq!(rows[0].get("INSTANCE"), spin, "{text}");
    for (id, name) in [(&spin, "spinner"), (&idle, "idler"), (&net, "receiver")] {
        let r = row(id);
        assert_eq!(r.get("NAME"), name);
        assert_eq!(r.get("STATE"), "running");
        // The VMM answers; a tiny guest has no ARP, so the instance check fails.
        assert_eq!(r.get("CHECKS"), "1/2 instance", "{text}");
    }
    assert_eq!(row(&spin).get("TYPE"), "t3.micro");

    // The spinner: vCPU 0 busy (the host is shared: a good part of a core, not all of
    // it), any other vCPU idle; the total is their mean (t3.micro: two vCPUs, on every
    // host).
    let s = row(&spin);
    let vcpus: Vec<f64> = s
        .get("VCPU%")
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(vcpus.len() as u64, vmm_vcpus(&lab, &spin), "{text}");
    assert!(vcpus[0] >= 25.0, "{text}");
    assert!(vcpus[1..].iter().all(|v| *v <= 2.0), "{text}");
    let mean = vcpus.iter().sum::<f64>() / vcpus.len() as f64;
    assert!((s.num("CPU%") - mean).abs() <= 1.0, "{text}");
    // The halted guest: next to nothing.
    let i = row(&idle);
    assert!(i.num("CPU%") <= 2.0, "{text}");
    assert_eq!(i.get("NET-IN"), "0");
    assert_eq!(i.get("DISK-W"), "0");

    // The transfer: FRAMES * FRAME_LEN bytes over the interval, within 5% (an ARP request
    // or two of 60 bytes from the status checks may come on top).
    let n = row(&net);
    let expected = (FRAMES * FRAME_LEN) as f64 / INTERVAL;
    let got = n.bytes("NET-IN");
    assert!(
        (got - expected).abs() <= expected * 0.05,
        "NET-IN {got} B/s, expected {expected}: {text}"
    );
    // The host's own small frames (IPv6 neighbour discovery and multicast reports on
    // the bridge, ARP) count as packets too: at least the frames sent.
    let pkts = n.num("PKT-IN") * INTERVAL;
    assert!(
        (FRAMES as f64 - 0.5..=FRAMES as f64 * 1.5).contains(&pkts),
        "{pkts} packets in the interval: {text}"
    );
    assert_eq!(n.get("NET-OUT"), "0", "the receiver sends nothing");

    // --instance-ids narrows it; an unknown id is EC2's error.
    let out = run_with_timeout(
        top(
            &lab,
            &["--once", "--interval", "0.5", "--instance-ids", &idle],
        ),
        30,
    );
    let one = parse(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].get("INSTANCE"), idle);
    let out = run_with_timeout(
        top(&lab, &["--once", "--instance-ids", "i-0000000000000000f"]),
        30,
    );
    assert_eq!(out.status.code(), Some(254));
    assert!(
        stderr(&out).contains("InvalidInstanceID.NotFound"),
        "{}",
        stderr(&out)
    );

    // Not a terminal and no --once: a plain table per interval until Ctrl-C.
    let child = top(&lab, &["--interval", "1"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\x1b'), "{text:?}");
    let tables = text.split("\n\n").filter(|t| !t.trim().is_empty()).count();
    assert!((2..=4).contains(&tables), "{tables} tables: {text}");
    for t in text.split("\n\n").filter(|t| !t.trim().is_empty()) {
        assert_eq!(parse(t).len(), 3, "{t}");
    }

    // On a terminal: the alternate screen, redraws in place, and on Ctrl-C the cursor
    // and the screen given back.
    let pty = nix::pty::openpty(None, None).unwrap();
    let mut c = lab.cmd(&["top", "--interval", "0.5"]);
    c.stdin(Stdio::null())
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    // Only top may hold the terminal open: its end is the reader's end of file.
    drop(c);
    drop(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once the last writer (top) has closed the terminal.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        all
    });
    std::thread::sleep(Duration::from_millis(2500));
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let screen = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    assert!(screen.starts_with("\x1b[?1049h\x1b[?25l"), "{screen:?}");
    assert!(screen.matches("\x1b[H\x1b[2J").count() >= 3, "{screen:?}");
    assert!(screen.contains("(Ctrl-C to quit)"), "{screen:?}");
    assert!(screen.ends_with("\x1b[?25h\x1b[?1049l"), "{screen:?}");
}
