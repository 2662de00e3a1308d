//! Monitoring of ONE real Linux guest (the quick-start AMI) with detailed monitoring: a
//! known 20 MiB `dd` to an EBS volume and a known 5 MiB download from a network behind
//! the host show in the monitor's samples within 5%, and a guest burning CPU on a core of
//! its own reads above 80%, never more than its vCPU thread had. Minutes on a nested KVM;
//! skips without guest-images/out unless
//! EC2LAB_REQUIRE_IMAGES=1.

mod common;
use common::*;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

const BOOT_TIMEOUT: Duration = Duration::from_secs(420);
const DD_BYTES: f64 = 20.0 * 1024.0 * 1024.0;
const DOWNLOAD: usize = 5 * 1024 * 1024;

fn samples(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn by<'a>(all: &'a [Value], metric: &str, name: &str, value: &str) -> Vec<&'a Value> {
    all.iter()
        .filter(|s| {
            s["metric_name"] == metric
                && s["dimensions"][0]["Name"] == name
                && s["dimensions"][0]["Value"] == value
        })
        .collect()
}

fn sum_in(all: &[Value], metric: &str, name: &str, value: &str, from: i64, to: i64) -> f64 {
    by(all, metric, name, value)
        .iter()
        .filter(|s| (from + 1..=to).contains(&s["timestamp_ms"].as_i64().unwrap()))
        .map(|s| s["stats"]["Sum"].as_f64().unwrap())
        .sum()
}

/// Waits for the monitor's next tick after now that has a CPUUtilization sample of `id`;
/// returns its timestamp.
fn next_tick(file: &Path, id: &str) -> i64 {
    let seen = |all: &[Value]| {
        by(all, "CPUUtilization", "InstanceId", id)
            .last()
            .map(|s| s["timestamp_ms"].as_i64().unwrap())
    };
    let before = seen(&samples(file));
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(now) = seen(&samples(file)).filter(|n| Some(*n) != before) {
            return now;
        }
        assert!(Instant::now() < end, "the monitor stopped ticking");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// utime+stime of the VMM's vCPU thread from /proc, in ns.
/// The task id of the VMM's first vCPU thread.
fn vcpu_tid(pid: i64) -> u32 {
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        if std::fs::read_to_string(task.join("comm"))
            .unwrap_or_default()
            .trim()
            == "vcpu0"
        {
            return task.file_name().unwrap().to_str().unwrap().parse().unwrap();
        }
    }
    panic!("no vcpu0 thread in {pid}");
}

/// The vCPU thread's CPU time (utime + stime) in ns.
fn vcpu_ns(pid: i64) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{}/stat", vcpu_tid(pid))).unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    ticks * 10_000_000 // USER_HZ = 100
}

/// Sets the nice value of the VMM's vCPU thread `tid` and of the VMM's scheduling
/// autogroup: with autogroups (`kernel.sched_autogroup_enabled`, on here) a thread's nice
/// weighs only against its own session's threads, and the group's against the others.
fn renice(pid: i64, tid: u32, nice: i32) {
    // SAFETY: setpriority(2) on a thread of a VMM this test started; no memory is passed.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, nice) };
    assert_eq!(rc, 0, "setpriority: {}", std::io::Error::last_os_error());
    let group = format!("/proc/{pid}/autogroup");
    if std::path::Path::new(&group).exists() {
        std::fs::write(&group, nice.to_string()).unwrap();
    }
}

fn tap_tx_bytes(tap: &str) -> f64 {
    std::fs::read_to_string(format!("/sys/class/net/{tap}/statistics/tx_bytes"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_known_dd_and_download_show_in_the_samples() {
    let Some(real) = RealLab::new() else {
        return;
    };
    let lab = &real.lab;
    let file = lab.state_dir().join("samples.jsonl");
    let ec2 = |args: &[&str]| -> Value {
        let mut c = real.cmd(args);
        c.env("EC2LAB_MONITOR_SAMPLES", &file);
        ok_json(c, args)
    };
    let ami = real.quick_start_ami();
    let vol = ec2(&[
        "create-volume",
        "--size",
        "1",
        "--availability-zone",
        "lab-1a",
    ])["VolumeId"]
        .as_str()
        .unwrap()
        .to_string();
    let started = Instant::now();
    let run = ec2(&[
        "run-instances",
        "--image-id",
        &ami,
        "--instance-type",
        "t2.micro",
        "--monitoring",
        "Enabled=true",
    ]);
    let id = run["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    real.wait_ready(&id, BOOT_TIMEOUT, "first boot");
    eprintln!("guest ready after {:?}", started.elapsed());
    let tap = {
        let store = ec2lab::store::Store::open(lab.state_dir(), "lab-1").unwrap();
        let eni = ec2lab::net::eni::Eni::attached_to(store.conn(), &id)
            .unwrap()
            .remove(0);
        eni.tap
    };
    ec2(&[
        "attach-volume",
        "--volume-id",
        &vol,
        "--instance-id",
        &id,
        "--device",
        "/dev/sdf",
    ]);
    let mut console = Console::open(lab, &id);
    // /dev/sdf is the first EBS slot after the root disk: the guest's vdb (a t2.micro has
    // no instance store). Its serial is the volume id without the dash.
    let dev = "vdb";
    console.run("cat /sys/block/vdb/serial", &vol.replace('-', ""));

    // The tick after attach is the volume's baseline; from the next one on its
    // differences count. Then start the window at a tick.
    let end = Instant::now() + Duration::from_secs(60);
    while by(&samples(&file), "VolumeIdleTime", "VolumeId", &vol).is_empty() {
        assert!(Instant::now() < end, "no AWS/EBS sample for {vol}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let t0 = next_tick(&file, &id);
    let tx0 = tap_tx_bytes(&tap);

    // A network behind the host serves 5 MiB over HTTP (the firewall keeps guests off
    // the host's own ports, so the server is where a guest may go: outside, routed).
    let outside = Outside::new();
    let netns = std::fs::File::open(format!("/run/netns/{}", outside.ns)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let serving = std::thread::spawn(move || {
        // SAFETY: setns on a descriptor we own; it moves only this thread.
        let rc =
            unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&netns), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        let server = std::net::TcpListener::bind((OUTSIDE_ADDR, 0)).unwrap();
        tx.send(server.local_addr().unwrap().port()).unwrap();
        let (mut conn, _) = server.accept().unwrap();
        let mut req = [0u8; 1024];
        let _ = conn.read(&mut req);
        write!(
            conn,
            "HTTP/1.0 200 OK\r\nContent-Length: {DOWNLOAD}\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        conn.write_all(&vec![0x5a; DOWNLOAD]).unwrap();
    });
    let port = rx.recv().unwrap();
    let (code, seen) = console.status(&format!(
        "dd if=/dev/zero of=/dev/{dev} bs=1M count=20 conv=fsync 2>/dev/null && \
         wget -q -O /dev/null http://{OUTSIDE_ADDR}:{port}/"
    ));
    assert_eq!(code, 0, "{seen}");
    serving.join().unwrap();
    let t1 = next_tick(&file, &id);
    let tx1 = tap_tx_bytes(&tap);

    let all = samples(&file);
    let written = sum_in(&all, "VolumeWriteBytes", "VolumeId", &vol, t0, t1);
    let net_in = sum_in(&all, "NetworkIn", "InstanceId", &id, t0, t1);
    let packets_in = sum_in(&all, "NetworkPacketsIn", "InstanceId", &id, t0, t1);
    let on_tap = tx1 - tx0;
    eprintln!(
        "window {} ms: VolumeWriteBytes {written} (dd {DD_BYTES}), NetworkIn {net_in} \
         (host tap sent {on_tap}, payload {DOWNLOAD}), NetworkPacketsIn {packets_in}",
        t1 - t0
    );
    assert!(
        (written - DD_BYTES).abs() <= 0.05 * DD_BYTES,
        "VolumeWriteBytes {written} vs {DD_BYTES}"
    );
    // NetworkIn counts Ethernet frames: the 5 MiB payload plus its TCP/IP headers, which
    // is what the host's tap sent the guest over the same window.
    assert!(
        (net_in - on_tap).abs() <= 0.05 * on_tap,
        "NetworkIn {net_in} vs the tap's {on_tap}"
    );
    assert!(net_in >= DOWNLOAD as f64, "NetworkIn {net_in}");
    assert!(packets_in >= DOWNLOAD as f64 / 1514.0, "{packets_in}");
    for name in ["InstanceType", "ImageId"] {
        let value = if name == "ImageId" {
            ami.as_str()
        } else {
            "t2.micro"
        };
        assert!(sum_in(&all, "NetworkIn", name, value, t0, t1) >= net_in);
    }

    // A guest spinning in user mode: CPUUtilization shows what the host's scheduler gave
    // its vCPU thread, which the test reads on its own from /proc (tick-sampled
    // utime+stime) over the spin. The test gives that thread a whole core, as an idle host
    // would, by raising its priority (nice -20, thread and autogroup) for the spin: this
    // 2-core host is shared with builds and another guest, which would otherwise take part
    // of it. The metric
    // must then read above 80%, and never more than what the thread really had.
    let vmm = {
        let store = ec2lab::store::Store::open(lab.state_dir(), "lab-1").unwrap();
        ec2lab::instances::record::Instance::get(store.conn(), &id)
            .unwrap()
            .vmm_pid
            .unwrap()
    };
    let tid = vcpu_tid(vmm);
    renice(vmm, tid, -20);
    let spin_from = next_tick(&file, &id);
    let (p0, w0) = (vcpu_ns(vmm), Instant::now());
    let (code, seen) = console.status("timeout 25 sh -c 'while :; do :; done'; true");
    assert_eq!(code, 0, "{seen}");
    let share = (vcpu_ns(vmm) - p0) as f64 / w0.elapsed().as_nanos() as f64 * 100.0;
    let spin_to = next_tick(&file, &id);
    renice(vmm, tid, 0);
    let all = samples(&file);
    let during: Vec<f64> = by(&all, "CPUUtilization", "InstanceId", &id)
        .iter()
        .filter(|s| (spin_from + 1..=spin_to).contains(&s["timestamp_ms"].as_i64().unwrap()))
        .map(|s| s["stats"]["Sum"].as_f64().unwrap())
        .collect();
    let peak = during.iter().copied().fold(0.0, f64::max);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "spinning: CPUUtilization samples {during:.1?}, the vCPU thread's share from /proc {share:.1}% (load average {})",
        load.trim()
    );
    // The busiest 10-second window is at least the spin's average share (which includes
    // the shell starting), and no window reads more than a whole vCPU.
    assert!(
        peak >= share - 10.0,
        "peak {peak} vs the vCPU's share {share}"
    );
    assert!(during.iter().all(|v| *v <= 100.0), "{during:?}");
    assert!(
        peak > 80.0,
        "a spinning guest with a core of its own read at most {peak}% (its thread had {share:.1}%)"
    );
    // The guest answers ARP: the instance check passes.
    let last = by(&all, "StatusCheckFailed", "InstanceId", &id)
        .last()
        .map(|s| s["stats"]["Sum"].as_f64().unwrap());
    assert_eq!(last, Some(0.0));
    drop(console);
    ec2(&["terminate-instances", "--instance-ids", &id]);
}

const OUTSIDE_ADDR: &str = "198.18.0.2";

/// A network namespace behind a veth pair, routed by the host (198.18.0.2 there, 198.18.0.1
/// on the host's end).
struct Outside {
    ns: String,
    veth: String,
}

impl Outside {
    fn new() -> Outside {
        let tag = std::process::id() % 100_000;
        let (ns, veth) = (format!("ec2out{tag}"), format!("ec2vo{tag}"));
        let sh = |args: &[&str]| {
            let out = std::process::Command::new(args[0])
                .args(&args[1..])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &ns])
            .output();
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &veth])
            .output();
        sh(&["ip", "netns", "add", &ns]);
        sh(&[
            "ip", "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ]);
        sh(&["ip", "addr", "add", "198.18.0.1/24", "dev", &veth]);
        sh(&["ip", "link", "set", &veth, "up"]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            "198.18.0.2/24",
            "dev",
            "eth0",
        ]);
        sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "route",
            "add",
            "default",
            "via",
            "198.18.0.1",
        ]);
        Outside { ns, veth }
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.ns])
            .status();
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.veth])
            .status();
    }
}
