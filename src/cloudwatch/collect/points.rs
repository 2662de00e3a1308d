//! From two VMM readings of one instance to the values of `AWS/EC2` and `AWS/EBS`
//! metrics over the time between them. Pure arithmetic: no clock, no I/O.

use crate::vmm::metrics::Metrics;

/// `AWS/EC2`.
pub const EC2: &str = "AWS/EC2";
/// `AWS/EBS`.
pub const EBS: &str = "AWS/EBS";

/// One metric's value over an interval, before dimensions and resolution are decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// `AWS/EC2` or `AWS/EBS`.
    pub namespace: &'static str,
    /// `CPUUtilization`, `VolumeReadBytes`, ...
    pub metric: &'static str,
    /// The volume, for `AWS/EBS` (its dimension); `None` for instance metrics.
    pub volume_id: Option<String>,
    /// CloudWatch's unit.
    pub unit: &'static str,
    /// The value over the interval.
    pub value: f64,
}

fn ec2(metric: &'static str, unit: &'static str, value: f64) -> Point {
    Point {
        namespace: EC2,
        metric,
        volume_id: None,
        unit,
        value,
    }
}

fn ebs(volume_id: &str, metric: &'static str, unit: &'static str, value: f64) -> Point {
    Point {
        namespace: EBS,
        metric,
        volume_id: Some(volume_id.to_string()),
        unit,
        value,
    }
}

/// The EBS volume id behind a disk serial: the guest sees the id without its dash
/// (`vol0123…`, virtio-blk's 20 bytes); `None` for other disks (`ephemeral0`).
pub fn volume_of_serial(serial: &str) -> Option<String> {
    let rest = serial.strip_prefix("vol")?;
    (!rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit())).then(|| format!("vol-{rest}"))
}

/// Whether a disk serial is an instance-store disk (`ephemeral0`, ...).
pub fn is_instance_store(serial: &str) -> bool {
    serial.starts_with("ephemeral")
}

/// How long a VMM may have run for its counters to count from zero when there is no
/// earlier reading of it (it started since the last tick, or the monitor just did and
/// the VMM is young): beyond this the first reading only becomes the baseline.
pub const FRESH_VMM_NS: u64 = 15_000_000_000;

/// Whether `cur` is a later reading of the same VMM as `prev` (not of one started since),
/// so that their counters can be subtracted.
pub fn same_vmm(prev: &Metrics, cur: &Metrics) -> bool {
    prev.started_unix_ms == cur.started_unix_ms && prev.uptime_ns < cur.uptime_ns
}

/// CPU utilisation in percent: `cpu_ns` of CPU time used by `vcpus` vCPU threads over
/// `wall_ns` of wall time (100 = every vCPU busy all the time). `CPUUtilization` with
/// the instance's vCPUs, one vCPU's share with `vcpus` 1.
pub fn cpu_percent(cpu_ns: u64, wall_ns: u64, vcpus: u32) -> f64 {
    if wall_ns == 0 {
        return 0.0;
    }
    let share = cpu_ns as f64 / (wall_ns as f64 * f64::from(vcpus.max(1)));
    (share * 100.0).clamp(0.0, 100.0)
}

/// The values over the interval between `prev` and `cur` (two readings of the same
/// instance). `prev` of another VMM (restarted) or none: counted from the VMM's start if
/// it is fresh, else nothing (the reading becomes the next baseline).
pub fn points(prev: Option<&Metrics>, cur: &Metrics) -> Vec<Point> {
    let zero = Metrics {
        started_unix_ms: cur.started_unix_ms,
        vcpus: cur.vcpus,
        ..Default::default()
    };
    let prev = match prev {
        Some(p) if same_vmm(p, cur) => p,
        _ if cur.uptime_ns <= FRESH_VMM_NS => &zero,
        _ => return Vec::new(),
    };
    let wall_ns = cur.uptime_ns - prev.uptime_ns;
    if wall_ns == 0 {
        return Vec::new();
    }
    let d = |a: u64, b: u64| a.saturating_sub(b) as f64;
    let mut out = Vec::new();
    let cpu = cpu_percent(
        cur.vcpu_cpu_ns.saturating_sub(prev.vcpu_cpu_ns),
        wall_ns,
        cur.vcpus,
    );
    out.push(ec2("CPUUtilization", "Percent", cpu));

    let (mut rx, mut rxp, mut tx, mut txp) = (0.0, 0.0, 0.0, 0.0);
    for (i, n) in cur.nets.iter().enumerate() {
        // Interfaces are fixed for a VMM's life; a missing earlier entry counts from zero.
        let p = prev.nets.get(i).filter(|p| p.tap == n.tap);
        rx += d(n.rx_bytes, p.map_or(0, |p| p.rx_bytes));
        rxp += d(n.rx_packets, p.map_or(0, |p| p.rx_packets));
        tx += d(n.tx_bytes, p.map_or(0, |p| p.tx_bytes));
        txp += d(n.tx_packets, p.map_or(0, |p| p.tx_packets));
    }
    out.push(ec2("NetworkIn", "Bytes", rx));
    out.push(ec2("NetworkOut", "Bytes", tx));
    out.push(ec2("NetworkPacketsIn", "Count", rxp));
    out.push(ec2("NetworkPacketsOut", "Count", txp));

    let mut store = None::<[f64; 4]>;
    for disk in &cur.disks {
        let Some(serial) = disk.serial.as_deref() else {
            continue;
        };
        // A slot's counters span every media it held: only a slot that held this same
        // media at the previous reading gives a difference (or a fresh VMM: from zero).
        let p = if std::ptr::eq(prev, &zero) {
            None
        } else {
            match prev.disks.iter().find(|p| p.slot == disk.slot) {
                Some(p) if p.serial.as_deref() == Some(serial) => Some(p),
                _ => continue,
            }
        };
        let v = [
            d(disk.read_ops, p.map_or(0, |p| p.read_ops)),
            d(disk.write_ops, p.map_or(0, |p| p.write_ops)),
            d(disk.read_bytes, p.map_or(0, |p| p.read_bytes)),
            d(disk.write_bytes, p.map_or(0, |p| p.write_bytes)),
        ];
        if let Some(vol) = volume_of_serial(serial) {
            let busy = d(disk.busy_ns, p.map_or(0, |p| p.busy_ns)).min(wall_ns as f64);
            out.push(ebs(&vol, "VolumeReadOps", "Count", v[0]));
            out.push(ebs(&vol, "VolumeWriteOps", "Count", v[1]));
            out.push(ebs(&vol, "VolumeReadBytes", "Bytes", v[2]));
            out.push(ebs(&vol, "VolumeWriteBytes", "Bytes", v[3]));
            out.push(ebs(
                &vol,
                "VolumeIdleTime",
                "Seconds",
                (wall_ns as f64 - busy) / 1e9,
            ));
        } else if is_instance_store(serial) {
            let s = store.get_or_insert([0.0; 4]);
            for (acc, x) in s.iter_mut().zip(v) {
                *acc += x;
            }
        }
    }
    if let Some([r, w, rb, wb]) = store {
        out.push(ec2("DiskReadOps", "Count", r));
        out.push(ec2("DiskWriteOps", "Count", w));
        out.push(ec2("DiskReadBytes", "Bytes", rb));
        out.push(ec2("DiskWriteBytes", "Bytes", wb));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmm::metrics::{DiskMetrics, NetMetrics};

    fn reading(uptime_s: u64, cpu_ns: u64, rx: u64, disk_bytes: u64) -> Metrics {
        Metrics {
            started_unix_ms: 1_000,
            read_unix_ms: 1_000 + uptime_s as i64 * 1000,
            uptime_ns: uptime_s * 1_000_000_000,
            vcpu_cpu_ns: cpu_ns,
            vcpu_thread_cpu_ns: vec![cpu_ns, 0],
            vcpus: 2,
            nets: vec![NetMetrics {
                tap: "t0".into(),
                rx_bytes: rx,
                rx_packets: rx / 100,
                tx_bytes: 7,
                tx_packets: 1,
                ..Default::default()
            }],
            disks: vec![
                DiskMetrics {
                    slot: 0,
                    serial: Some("vol0123456789abcdef0".into()),
                    read_ops: disk_bytes / 512,
                    read_bytes: disk_bytes,
                    busy_ns: disk_bytes * 1000,
                    ..Default::default()
                },
                DiskMetrics {
                    slot: 1,
                    serial: Some("ephemeral0".into()),
                    write_ops: 3,
                    write_bytes: 3 * 4096,
                    ..Default::default()
                },
            ],
        }
    }

    fn value(ps: &[Point], metric: &str) -> f64 {
        ps.iter().find(|p| p.metric == metric).unwrap().value
    }

    #[test]
    fn differences_over_the_interval() {
        let a = reading(100, 10_000_000_000, 1000, 512);
        let b = reading(110, 20_000_000_000, 6000, 512 * 11);
        let ps = points(Some(&a), &b);
        // 10 s of CPU over 10 s on 2 vCPUs.
        assert_eq!(value(&ps, "CPUUtilization"), 50.0);
        assert_eq!(value(&ps, "NetworkIn"), 5000.0);
        assert_eq!(value(&ps, "NetworkPacketsIn"), 50.0);
        assert_eq!(value(&ps, "NetworkOut"), 0.0);
        assert_eq!(value(&ps, "VolumeReadBytes"), 5120.0);
        assert_eq!(value(&ps, "VolumeReadOps"), 10.0);
        let idle = value(&ps, "VolumeIdleTime");
        assert!((idle - (10.0 - 5120.0 * 1000.0 / 1e9)).abs() < 1e-9);
        let vol = ps.iter().find(|p| p.metric == "VolumeReadBytes").unwrap();
        assert_eq!(vol.volume_id.as_deref(), Some("vol-0123456789abcdef0"));
        // The instance store is in AWS/EC2's Disk* metrics, not in AWS/EBS.
        assert_eq!(value(&ps, "DiskWriteOps"), 0.0);
        assert_eq!(ps.iter().filter(|p| p.namespace == EBS).count(), 5);
    }

    #[test]
    fn a_fresh_vmm_counts_from_zero_an_old_one_is_a_baseline() {
        let fresh = reading(5, 1_000_000_000, 300, 1024);
        let ps = points(None, &fresh);
        assert_eq!(value(&ps, "NetworkIn"), 300.0);
        assert_eq!(value(&ps, "DiskWriteBytes"), 12288.0);
        assert_eq!(value(&ps, "CPUUtilization"), 10.0);
        assert!(points(None, &reading(100, 0, 0, 0)).is_empty());
        // A restarted VMM (another start time) is fresh again.
        let mut other = reading(100, 0, 0, 0);
        other.started_unix_ms = 5;
        assert_eq!(value(&points(Some(&other), &fresh), "NetworkIn"), 300.0);
    }

    #[test]
    fn media_swapped_in_a_slot_gives_no_difference_for_it() {
        let a = reading(100, 0, 0, 512);
        let mut b = reading(110, 0, 0, 1024);
        b.disks[0].serial = Some("vol00000000000000001".into());
        let ps = points(Some(&a), &b);
        assert!(ps.iter().all(|p| p.namespace != EBS));
        assert_eq!(
            volume_of_serial("vol00000000000000001").unwrap(),
            "vol-00000000000000001"
        );
        assert_eq!(volume_of_serial("ephemeral0"), None);
    }
}
