//! The live view behind `ec2lab top`: each instance's rates over the last interval, read
//! straight from its VMM (two readings, their differences over the VMM's own clock), and
//! its status checks. It needs neither the monitor daemon nor the metric store, so it
//! shows what happens now even where no metric is being kept.
//!
//! The differences are collection's ([`points::points`]): `top` and the stored metrics
//! count exactly the same things; this module only divides them by the interval.

use std::collections::{BTreeSet, HashMap};

use super::collect::{self, points, Observation};
use super::daemon;
use crate::error::Ec2Error;
use crate::instances::record::Instance;
use crate::store::Store;
use crate::vmm::metrics::Metrics;

/// What happened per second over one interval, from two readings of one VMM.
#[derive(Clone, Debug, PartialEq)]
pub struct Rates {
    /// The interval, seconds of the VMM's monotonic clock.
    pub interval_s: f64,
    /// `CPUUtilization`: the vCPU threads' CPU time over wall time, all vCPUs together.
    pub cpu_percent: f64,
    /// The same for each vCPU on its own, in vCPU order.
    pub vcpu_percent: Vec<f64>,
    /// Bytes per second to the guest, all interfaces (`NetworkIn`).
    pub net_in_bytes: f64,
    /// Bytes per second from the guest (`NetworkOut`).
    pub net_out_bytes: f64,
    /// Packets per second to the guest (`NetworkPacketsIn`).
    pub net_in_packets: f64,
    /// Packets per second from the guest (`NetworkPacketsOut`).
    pub net_out_packets: f64,
    /// Read requests per second, instance store and EBS volumes together.
    pub disk_read_ops: f64,
    /// Write requests per second, instance store and EBS volumes together.
    pub disk_write_ops: f64,
    /// Bytes read per second, instance store and EBS volumes together.
    pub disk_read_bytes: f64,
    /// Bytes written per second, instance store and EBS volumes together.
    pub disk_write_bytes: f64,
}

/// The rates between two readings of one instance's VMM, or `None` when they are not of
/// the same VMM (it restarted in between) or no time passed.
pub fn rates(prev: &Metrics, cur: &Metrics) -> Option<Rates> {
    if !points::same_vmm(prev, cur) {
        return None;
    }
    let wall_ns = cur.uptime_ns - prev.uptime_ns;
    let secs = wall_ns as f64 / 1e9;
    let values = points::points(Some(prev), cur);
    // Sum of the named metrics over the interval, per second (EBS volumes add up).
    let per_s = |names: &[&str]| -> f64 {
        values
            .iter()
            .filter(|p| names.contains(&p.metric))
            .map(|p| p.value)
            .sum::<f64>()
            / secs
    };
    let vcpu_percent = cur
        .vcpu_thread_cpu_ns
        .iter()
        .enumerate()
        .map(|(i, now)| {
            let before = prev.vcpu_thread_cpu_ns.get(i).copied().unwrap_or(0);
            points::cpu_percent(now.saturating_sub(before), wall_ns, 1)
        })
        .collect();
    Some(Rates {
        interval_s: secs,
        cpu_percent: points::cpu_percent(
            cur.vcpu_cpu_ns.saturating_sub(prev.vcpu_cpu_ns),
            wall_ns,
            cur.vcpus,
        ),
        vcpu_percent,
        net_in_bytes: per_s(&["NetworkIn"]),
        net_out_bytes: per_s(&["NetworkOut"]),
        net_in_packets: per_s(&["NetworkPacketsIn"]),
        net_out_packets: per_s(&["NetworkPacketsOut"]),
        disk_read_ops: per_s(&["DiskReadOps", "VolumeReadOps"]),
        disk_write_ops: per_s(&["DiskWriteOps", "VolumeWriteOps"]),
        disk_read_bytes: per_s(&["DiskReadBytes", "VolumeReadBytes"]),
        disk_write_bytes: per_s(&["DiskWriteBytes", "VolumeWriteBytes"]),
    })
}

/// One status check's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Passed.
    Passed,
    /// Failed.
    Failed,
    /// Not made: no VMM to ask (the instance is not running), or no interface to ARP.
    NotChecked,
}

/// One instance as the live view shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// `i-…`.
    pub instance_id: String,
    /// Its `Name` tag.
    pub name: Option<String>,
    /// Its instance type.
    pub instance_type: String,
    /// Its state (`running`, `stopping`, ...).
    pub state: &'static str,
    /// Its rates over the last interval; `None` on the first reading, or when the VMM did
    /// not answer or restarted.
    pub rates: Option<Rates>,
    /// The system status check: its VMM answered in time (`StatusCheckFailed_System`).
    pub system: Check,
    /// The instance status check: the guest answered ARP on its primary interface
    /// (`StatusCheckFailed_Instance`).
    pub instance: Check,
}

/// Keeps each instance's last reading, so each refresh gives rates since the one before.
#[derive(Debug, Default)]
pub struct Live {
    only: BTreeSet<String>,
    previous: HashMap<String, Metrics>,
}

impl Live {
    /// A live view of every instance with a VMM in the region, or only of `instance_ids`
    /// (shown whatever their state; each must exist: else `InvalidInstanceID.NotFound`).
    pub fn new(store: &Store, instance_ids: &[String]) -> Result<Self, Ec2Error> {
        for id in instance_ids {
            Instance::get(store.conn(), id)?;
        }
        Ok(Live {
            only: instance_ids.iter().cloned().collect(),
            previous: HashMap::new(),
        })
    }

    /// Reads every VMM in view now (and makes the status checks): the rows, with rates
    /// since the previous refresh. Takes up to the checks' deadlines
    /// ([`collect::SYSTEM_CHECK_DEADLINE`], [`collect::REACHABILITY_DEADLINE`]).
    pub fn refresh(&mut self, store: &Store) -> Result<Vec<Row>, Ec2Error> {
        let instances: Vec<Instance> = Instance::all(store.conn())?
            .into_iter()
            .filter(|i| self.only.is_empty() || self.only.contains(&i.instance_id))
            .collect();
        let targets: Vec<_> = daemon::targets(store)?
            .0
            .into_iter()
            .filter(|t| instances.iter().any(|i| i.instance_id == t.instance_id))
            .collect();
        let observed = collect::observe(&targets);
        let mut seen: HashMap<&str, &Observation> = HashMap::new();
        for (t, o) in targets.iter().zip(&observed) {
            seen.insert(t.instance_id.as_str(), o);
        }
        let mut rows = Vec::new();
        for inst in &instances {
            let obs = seen.get(inst.instance_id.as_str());
            // Only instances asked for by id are shown without a VMM.
            if obs.is_none() && self.only.is_empty() {
                continue;
            }
            let (rates, system, instance) = match obs {
                None => (None, Check::NotChecked, Check::NotChecked),
                Some(o) => {
                    let rates = match &o.metrics {
                        Some(cur) => {
                            let r = self
                                .previous
                                .get(&inst.instance_id)
                                .and_then(|p| rates(p, cur));
                            self.previous.insert(inst.instance_id.clone(), cur.clone());
                            r
                        }
                        None => None,
                    };
                    let system = if o.metrics.is_some() {
                        Check::Passed
                    } else {
                        Check::Failed
                    };
                    let instance = match o.reachable {
                        Some(true) if system == Check::Passed => Check::Passed,
                        Some(_) => Check::Failed,
                        None => Check::NotChecked,
                    };
                    (rates, system, instance)
                }
            };
            rows.push(Row {
                instance_id: inst.instance_id.clone(),
                name: inst.tag("Name").map(str::to_string),
                instance_type: inst.instance_type.clone(),
                state: inst.state.name(),
                rates,
                system,
                instance,
            });
        }
        self.previous
            .retain(|id, _| rows.iter().any(|r| &r.instance_id == id));
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmm::metrics::{DiskMetrics, NetMetrics};

    fn reading(uptime_ms: u64, cpu: [u64; 2], rx: u64, disk: u64) -> Metrics {
        Metrics {
            started_unix_ms: 7,
            read_unix_ms: 7 + uptime_ms as i64,
            uptime_ns: uptime_ms * 1_000_000,
            vcpu_cpu_ns: cpu[0] + cpu[1],
            vcpu_thread_cpu_ns: cpu.to_vec(),
            vcpus: 2,
            nets: vec![NetMetrics {
                tap: "t".into(),
                rx_bytes: rx,
                rx_packets: rx / 1000,
                ..Default::default()
            }],
            disks: vec![
                DiskMetrics {
                    slot: 0,
                    serial: Some("vol0123456789abcdef0".into()),
                    write_ops: disk / 4096,
                    write_bytes: disk,
                    ..Default::default()
                },
                DiskMetrics {
                    slot: 1,
                    serial: Some("ephemeral0".into()),
                    write_ops: disk / 4096,
                    write_bytes: disk,
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn rates_are_differences_over_the_vmms_own_interval() {
        let a = reading(10_000, [1_000_000_000, 0], 5_000, 0);
        // 2 s later: vCPU 0 busy the whole time, vCPU 1 a quarter; 40 kB in; 1 MiB
        // written to the root volume and 1 MiB to the instance store.
        let b = reading(12_000, [3_000_000_000, 500_000_000], 45_000, 1 << 20);
        let r = rates(&a, &b).unwrap();
        assert_eq!(r.interval_s, 2.0);
        assert_eq!(r.vcpu_percent, vec![100.0, 25.0]);
        assert_eq!(r.cpu_percent, 62.5);
        assert_eq!(r.net_in_bytes, 20_000.0);
        assert_eq!(r.net_in_packets, 20.0);
        assert_eq!(r.net_out_bytes, 0.0);
        assert_eq!(r.disk_write_bytes, f64::from(1u32 << 20));
        assert_eq!(r.disk_write_ops, 256.0);
        assert_eq!(r.disk_read_ops, 0.0);
    }

    #[test]
    fn no_rates_across_a_restart() {
        let a = reading(10_000, [0, 0], 0, 0);
        let mut b = reading(1_000, [0, 0], 0, 0);
        b.started_unix_ms = 99;
        assert_eq!(rates(&a, &b), None);
        assert_eq!(rates(&a, &a), None, "no time passed");
    }
}
