//! Collection: every 10 s, each running instance's VMM counters become `AWS/EC2` and
//! `AWS/EBS` samples, and its status checks are made.
//!
//! - [`points`]: two readings of one VMM to metric values over the interval.
//! - [`basic`]: basic monitoring's periods (10-second values gathered into one point).
//! - [`arp`]: the reachability check (`StatusCheckFailed_Instance`).
//!
//! [`observe`] does the I/O of one tick (every VMM asked in parallel within a deadline,
//! every guest ARPed at once); [`Collector`] keeps each instance's previous reading and
//! turns observations into samples. Detailed monitoring publishes every 10-second value
//! as a high-resolution point; basic monitoring one point per 5 minutes (1 minute for
//! status checks and EBS volumes, as EC2 and EBS publish those).

pub mod arp;
pub mod basic;
pub mod points;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::cloudwatch::{Dimension, Sample, StatSet};
use crate::vmm::api::{self, Request};
use crate::vmm::metrics::Metrics;
pub use arp::ArpTarget;
use basic::Periods;
use points::{Point, EC2};

/// How long a VMM has to answer `metrics` before its system status check fails.
pub const SYSTEM_CHECK_DEADLINE: Duration = Duration::from_secs(2);
/// How long a guest has to answer the ARP request before its instance check fails.
pub const REACHABILITY_DEADLINE: Duration = Duration::from_secs(1);
/// Basic monitoring's period for EC2's metrics.
pub const BASIC_PERIOD_S: u32 = 300;
/// The period of status checks and EBS metrics without detailed monitoring.
pub const MINUTE_PERIOD_S: u32 = 60;

/// One instance to collect from, as the store describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// `i-…`.
    pub instance_id: String,
    /// Its type (the `InstanceType` dimension).
    pub instance_type: String,
    /// Its AMI (the `ImageId` dimension).
    pub image_id: String,
    /// Detailed monitoring (`Monitoring.State` `enabled`).
    pub detailed: bool,
    /// Its VMM's control socket.
    pub api_sock: PathBuf,
    /// Its primary interface, for the reachability check; `None` without one.
    pub arp: Option<ArpTarget>,
}

/// What one tick saw of one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The VMM's counters; `None` if it did not answer within [`SYSTEM_CHECK_DEADLINE`].
    pub metrics: Option<Metrics>,
    /// Whether the guest answered ARP; `None` when there was nothing to ask.
    pub reachable: Option<bool>,
}

/// Asks the VMM for its counters within `deadline`.
pub fn read_vmm(sock: &std::path::Path, deadline: Duration) -> Option<Metrics> {
    api::call_within(sock, &Request::Metrics, deadline)
        .ok()
        .and_then(|r| r.metrics)
}

/// One tick's I/O for all targets: every VMM asked at once (a stuck one costs the tick
/// its deadline, not one each), then every guest ARPed at once.
pub fn observe(targets: &[Target]) -> Vec<Observation> {
    let metrics: Vec<Option<Metrics>> = std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .map(|t| s.spawn(|| read_vmm(&t.api_sock, SYSTEM_CHECK_DEADLINE)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    });
    let asked: Vec<(usize, ArpTarget)> = targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.arp.clone().map(|a| (i, a)))
        .collect();
    let list: Vec<ArpTarget> = asked.iter().map(|(_, a)| a.clone()).collect();
    // Without a raw socket (not root) no guest can be asked: each counts as unreachable.
    let answers =
        arp::probe(&list, REACHABILITY_DEADLINE).unwrap_or_else(|_| vec![false; list.len()]);
    let mut reachable = vec![None; targets.len()];
    for ((i, _), a) in asked.iter().zip(answers) {
        reachable[*i] = Some(a);
    }
    metrics
        .into_iter()
        .zip(reachable)
        .map(|(metrics, reachable)| Observation { metrics, reachable })
        .collect()
}

/// Turns observations into samples, keeping what differences and periods need.
#[derive(Debug, Default)]
pub struct Collector {
    previous: HashMap<String, Metrics>,
    periods: Periods,
}

fn dims(t: &Target) -> [Vec<Dimension>; 3] {
    [
        vec![Dimension::new("InstanceId", &t.instance_id)],
        vec![Dimension::new("InstanceType", &t.instance_type)],
        vec![Dimension::new("ImageId", &t.image_id)],
    ]
}

impl Collector {
    /// A collector with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// The samples to store now for `target`, seen as `obs` at `now_ms` (basic
    /// monitoring's values go into their periods; [`Collector::due`] publishes those).
    pub fn samples(&mut self, target: &Target, obs: &Observation, now_ms: i64) -> Vec<Sample> {
        let mut values: Vec<Point> = Vec::new();
        let at = obs.metrics.as_ref().map_or(now_ms, |m| m.read_unix_ms);
        if let Some(cur) = &obs.metrics {
            values = points::points(self.previous.get(&target.instance_id), cur);
            self.previous
                .insert(target.instance_id.clone(), cur.clone());
        }
        let system = f64::from(u8::from(obs.metrics.is_none()));
        let status = |metric, value| Point {
            namespace: EC2,
            metric,
            volume_id: None,
            unit: "Count",
            value,
        };
        values.push(status("StatusCheckFailed_System", system));
        let mut failed = system;
        if let Some(reachable) = obs.reachable {
            let instance = if system > 0.0 || !reachable { 1.0 } else { 0.0 };
            values.push(status("StatusCheckFailed_Instance", instance));
            failed = failed.max(instance);
        }
        values.push(status("StatusCheckFailed", failed));

        let mut out = Vec::new();
        for p in values {
            let dim_sets: Vec<Vec<Dimension>> = match &p.volume_id {
                Some(vol) => vec![vec![Dimension::new("VolumeId", vol)]],
                None => dims(target).to_vec(),
            };
            for d in dim_sets {
                let sample =
                    Sample::new(p.namespace, p.metric, d, at, p.unit, StatSet::one(p.value));
                if target.detailed {
                    out.push(Sample {
                        storage_resolution: 1,
                        ..sample
                    });
                } else {
                    let minute = p.volume_id.is_some() || p.metric.starts_with("StatusCheck");
                    let period = if minute {
                        MINUTE_PERIOD_S
                    } else {
                        BASIC_PERIOD_S
                    };
                    self.periods.add(sample, period);
                }
            }
        }
        out
    }

    /// Basic monitoring's data points whose period ended by `now_ms`.
    pub fn due(&mut self, now_ms: i64) -> Vec<Sample> {
        self.periods.due(now_ms)
    }

    /// Forgets instances no longer collected (their next VMM starts a new baseline).
    pub fn retain(&mut self, live: &[&str]) {
        self.previous.retain(|id, _| live.contains(&id.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(detailed: bool) -> Target {
        Target {
            instance_id: "i-1".into(),
            instance_type: "t2.micro".into(),
            image_id: "ami-1".into(),
            detailed,
            api_sock: "/nonexistent".into(),
            arp: None,
        }
    }

    fn reading(uptime_s: u64, cpu_ns: u64) -> Metrics {
        Metrics {
            started_unix_ms: 0,
            read_unix_ms: uptime_s as i64 * 1000,
            uptime_ns: uptime_s * 1_000_000_000,
            vcpu_cpu_ns: cpu_ns,
            vcpus: 1,
            ..Default::default()
        }
    }

    #[test]
    fn detailed_monitoring_publishes_every_value_three_ways_at_high_resolution() {
        let mut c = Collector::new();
        let t = target(true);
        let obs = |m| Observation {
            metrics: Some(m),
            reachable: Some(true),
        };
        c.samples(&t, &obs(reading(100, 0)), 0);
        let out = c.samples(&t, &obs(reading(110, 5_000_000_000)), 0);
        let cpu: Vec<&Sample> = out
            .iter()
            .filter(|s| s.metric_name == "CPUUtilization")
            .collect();
        assert_eq!(cpu.len(), 3);
        assert!(cpu
            .iter()
            .all(|s| s.storage_resolution == 1 && s.stats.sum == 50.0));
        assert_eq!(cpu[0].timestamp_ms, 110_000);
        let names: Vec<&str> = cpu.iter().map(|s| s.dimensions[0].name.as_str()).collect();
        assert_eq!(names, ["InstanceId", "InstanceType", "ImageId"]);
        let failed = out
            .iter()
            .find(|s| s.metric_name == "StatusCheckFailed")
            .unwrap();
        assert_eq!(failed.stats.sum, 0.0);
    }

    #[test]
    fn a_silent_vmm_fails_the_system_check_and_publishes_no_counters() {
        let mut c = Collector::new();
        let out = c.samples(
            &target(true),
            &Observation {
                metrics: None,
                reachable: Some(false),
            },
            1_000,
        );
        let v = |m: &str| {
            out.iter()
                .find(|s| s.metric_name == m && s.dimensions[0].name == "InstanceId")
                .map(|s| s.stats.sum)
        };
        assert_eq!(v("StatusCheckFailed_System"), Some(1.0));
        assert_eq!(v("StatusCheckFailed_Instance"), Some(1.0));
        assert_eq!(v("StatusCheckFailed"), Some(1.0));
        assert_eq!(v("CPUUtilization"), None);
    }

    #[test]
    fn basic_monitoring_publishes_once_per_period() {
        let mut c = Collector::new();
        let t = target(false);
        let mut cpu = 0;
        for i in 0..30u64 {
            cpu += 1_000_000_000 * (i % 3);
            let obs = Observation {
                metrics: Some(reading(600 + i * 10, cpu)),
                reachable: None,
            };
            assert!(c.samples(&t, &obs, 0).is_empty());
        }
        let out = c.due(900_000);
        let cpu: Vec<&Sample> = out
            .iter()
            .filter(|s| s.metric_name == "CPUUtilization" && s.dimensions[0].name == "InstanceId")
            .collect();
        assert_eq!(cpu.len(), 1);
        assert_eq!(cpu[0].timestamp_ms, 600_000);
        assert_eq!(cpu[0].storage_resolution, 60);
        // The first reading is only a baseline (an old VMM): 29 values.
        assert_eq!(cpu[0].stats.sample_count, 29.0);
        assert_eq!((cpu[0].stats.minimum, cpu[0].stats.maximum), (0.0, 20.0));
        // Status checks are per minute: five of them.
        let checks = out
            .iter()
            .filter(|s| {
                s.metric_name == "StatusCheckFailed" && s.dimensions[0].name == "InstanceId"
            })
            .count();
        assert_eq!(checks, 5);
    }
}
