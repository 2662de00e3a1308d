//! The VMM's own counters, for monitoring: what each virtio device moved and how much CPU
//! the vCPU threads used. Devices bump relaxed atomics on their hot paths (one uncontended
//! `lock xadd` per frame or request; nothing is allocated or locked), and the control socket's
//! `metrics` request reads them without taking any device lock.
//!
//! Everything is cumulative since the VMM started; whoever polls keeps the previous
//! reading and takes differences.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

/// Counters of one virtio-net device. "rx" is host to guest (the guest's NetworkIn),
/// "tx" guest to host. Bytes are Ethernet frame bytes, without the virtio-net header.
#[derive(Debug, Default)]
pub struct NetCounters {
    /// Frames delivered to the guest.
    pub rx_frames: AtomicU64,
    /// Bytes delivered to the guest.
    pub rx_bytes: AtomicU64,
    /// Frames read from the backend but not delivered (too big, runt).
    pub rx_dropped: AtomicU64,
    /// Frames the guest sent.
    pub tx_frames: AtomicU64,
    /// Bytes the guest sent.
    pub tx_bytes: AtomicU64,
    /// Guest frames not sent (malformed chain, backend refused or full).
    pub tx_dropped: AtomicU64,
}

/// Counters of one virtio-blk slot, whatever media it held over time.
#[derive(Debug, Default)]
pub struct BlockCounters {
    /// Read requests completed successfully.
    pub read_ops: AtomicU64,
    /// Bytes those reads returned.
    pub read_bytes: AtomicU64,
    /// Write requests completed successfully.
    pub write_ops: AtomicU64,
    /// Bytes those writes stored.
    pub write_bytes: AtomicU64,
    /// Nanoseconds the device spent with a request in hand. Requests run synchronously
    /// from the driver's notify to their completion, so this is exactly the time a
    /// request was in flight inside the VMM; the rest of the wall time the disk was idle.
    pub busy_ns: AtomicU64,
}

/// Adds `n` to a counter. Relaxed: each counter is read on its own, later, by a poller
/// that only needs it to be monotonic.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Relaxed);
}

/// The answer to `{"action":"metrics"}`: every counter, cumulative since the VMM started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    /// When the VMM started, milliseconds since the epoch (UTC).
    pub started_unix_ms: i64,
    /// When this reading was taken, milliseconds since the epoch (UTC).
    pub read_unix_ms: i64,
    /// When this reading was taken, nanoseconds since the VMM started, on the monotonic
    /// clock: the denominator for rates (wall clock steps do not disturb it).
    pub uptime_ns: u64,
    /// CPU time of all vCPU threads together, nanoseconds (each thread's CPU clock:
    /// user and system time, which on a nested KVM includes the guest kernel's emulation).
    pub vcpu_cpu_ns: u64,
    /// The same per vCPU thread, in vCPU order (their sum is `vcpu_cpu_ns`); empty from
    /// a VMM older than this field.
    #[serde(default)]
    pub vcpu_thread_cpu_ns: Vec<u64>,
    /// vCPUs the guest runs on (the denominator of a utilisation).
    pub vcpus: u32,
    /// One entry per network interface, in `--net` order.
    pub nets: Vec<NetMetrics>,
    /// One entry per disk slot, in `--disk` order.
    pub disks: Vec<DiskMetrics>,
}

/// One network interface's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetMetrics {
    /// Its tap device.
    pub tap: String,
    /// The guest's MAC address, `02:00:...`.
    pub mac: String,
    /// Bytes to the guest (EC2's NetworkIn).
    pub rx_bytes: u64,
    /// Frames to the guest (NetworkPacketsIn).
    pub rx_packets: u64,
    /// Frames for the guest that were dropped.
    pub rx_dropped: u64,
    /// Bytes from the guest (NetworkOut).
    pub tx_bytes: u64,
    /// Frames from the guest (NetworkPacketsOut).
    pub tx_packets: u64,
    /// Frames from the guest that were dropped.
    pub tx_dropped: u64,
}

impl NetMetrics {
    /// A snapshot of `c`, labelled.
    pub fn read(tap: &str, mac: [u8; 6], c: &NetCounters) -> Self {
        let m = mac.map(|b| format!("{b:02x}")).join(":");
        NetMetrics {
            tap: tap.to_string(),
            mac: m,
            rx_bytes: c.rx_bytes.load(Relaxed),
            rx_packets: c.rx_frames.load(Relaxed),
            rx_dropped: c.rx_dropped.load(Relaxed),
            tx_bytes: c.tx_bytes.load(Relaxed),
            tx_packets: c.tx_frames.load(Relaxed),
            tx_dropped: c.tx_dropped.load(Relaxed),
        }
    }
}

/// One disk slot's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskMetrics {
    /// The slot, from 0.
    pub slot: u32,
    /// The serial of the media in the slot now (a volume id without its dash,
    /// `ephemeral0`), or none for an empty slot or a disk without one.
    pub serial: Option<String>,
    /// Read requests completed.
    pub read_ops: u64,
    /// Bytes read.
    pub read_bytes: u64,
    /// Write requests completed.
    pub write_ops: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Nanoseconds with a request in flight; idle time is wall time minus this.
    pub busy_ns: u64,
}

impl DiskMetrics {
    /// A snapshot of `c`, labelled.
    pub fn read(slot: usize, serial: Option<&str>, c: &BlockCounters) -> Self {
        DiskMetrics {
            slot: slot as u32,
            serial: serial.map(str::to_string),
            read_ops: c.read_ops.load(Relaxed),
            read_bytes: c.read_bytes.load(Relaxed),
            write_ops: c.write_ops.load(Relaxed),
            write_bytes: c.write_bytes.load(Relaxed),
            busy_ns: c.busy_ns.load(Relaxed),
        }
    }
}

/// The CPU time a thread used so far, from its CPU-time clock (the scheduler's exact
/// runtime, not tick samples). 0 if the clock cannot be read.
pub fn thread_cpu_ns(thread: &JoinHandle<()>) -> u64 {
    use std::os::unix::thread::JoinHandleExt;
    let mut clock: libc::clockid_t = 0;
    // SAFETY: the handle is never joined while the VMM runs, so its pthread_t stays valid
    // (an exited, unjoined thread keeps its id); `clock` is a valid out-pointer.
    if unsafe { libc::pthread_getcpuclockid(thread.as_pthread_t(), &mut clock) } != 0 {
        return 0;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock` came from pthread_getcpuclockid; `ts` is a valid out-pointer.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return 0;
    }
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_reads_its_cpu_time() {
        let t = std::thread::spawn(|| {
            let end = std::time::Instant::now() + std::time::Duration::from_millis(200);
            let mut x = 0u64;
            while std::time::Instant::now() < end {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        });
        std::thread::sleep(std::time::Duration::from_millis(350));
        let ns = thread_cpu_ns(&t);
        // 200 ms of spinning, then sleeping: the clock saw most of the spin and none of the
        // sleep (generous bounds: the host is shared).
        assert!(ns > 20_000_000 && ns < 330_000_000, "{ns}");
        t.join().unwrap();
    }

    #[test]
    fn macs_are_printed_as_usual() {
        let c = NetCounters::default();
        add(&c.rx_bytes, 60);
        let m = NetMetrics::read("tap0", [2, 0, 0, 0xab, 1, 0xff], &c);
        assert_eq!(m.mac, "02:00:00:ab:01:ff");
        assert_eq!(m.rx_bytes, 60);
    }
}
