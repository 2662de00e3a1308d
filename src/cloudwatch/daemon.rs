//! The per-region monitor daemon, `ec2lab __monitor <region>`: every 10 s it collects
//! every running instance's VMM counters into samples (`collect`), hands them to the
//! metric store, evaluates alarms and runs pending SNS deliveries. One per region (an
//! flock on `<region>/monitor.lock`), started detached by `instances::monitor_daemon::ensure`, which every
//! instance supervisor calls at its start and every ~30 s after: so monitoring goes on
//! whether or not any ec2lab command or `ec2lab serve` runs, and comes back by itself
//! after a crash. It exits when nothing is left to do.

use std::path::Path;
use std::time::{Duration, Instant};

use super::collect::{self, ArpTarget, Collector, Target};
use super::Sample;
use crate::error::Ec2Error;
use crate::instances::monitor_daemon::lock_path;
use crate::instances::monitoring;
use crate::instances::process::Lock;
use crate::instances::record::Instance;
use crate::instances::rundir::RunDir;
use crate::net::eni::Eni;
use crate::net::vpc::{Subnet, Vpc};
use crate::store::Store;

/// How often the monitor collects, evaluates alarms and delivers notifications.
pub const TICK: Duration = Duration::from_secs(10);

/// Where the monitor's samples go: the metric store in ec2lab (`MetricStore::put`, one
/// transaction per call), a file or a test's vector elsewhere. Any
/// `FnMut(&[Sample]) -> Result<(), Ec2Error>` is one.
pub trait SampleSink {
    /// Stores `samples` (all of one tick), or says why not.
    fn put(&mut self, samples: &[Sample]) -> Result<(), Ec2Error>;
}

impl<F: FnMut(&[Sample]) -> Result<(), Ec2Error>> SampleSink for F {
    fn put(&mut self, samples: &[Sample]) -> Result<(), Ec2Error> {
        self(samples)
    }
}

/// A sink that appends each sample as one JSON line to a file: for inspection and tests
/// (`EC2LAB_MONITOR_SAMPLES=<file>`).
pub struct JsonLines(std::fs::File);

impl JsonLines {
    /// Appends to `path`, creating it.
    pub fn open(path: &Path) -> Result<Self, Ec2Error> {
        Ok(JsonLines(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ))
    }
}

impl SampleSink for JsonLines {
    fn put(&mut self, samples: &[Sample]) -> Result<(), Ec2Error> {
        use std::io::Write;
        let mut buf = Vec::new();
        for s in samples {
            serde_json::to_writer(&mut buf, s).map_err(|e| Ec2Error::internal(e.to_string()))?;
            buf.push(b'\n');
        }
        // One write per tick: a reader never sees half a tick's line.
        self.0.write_all(&buf)?;
        Ok(())
    }
}

/// The instances to collect from now: those whose VMM has been started and whose
/// state keeps one. Also says how many instances are in a state with a VMM (some may be
/// about to start theirs).
pub fn targets(store: &Store) -> Result<(Vec<Target>, usize), Ec2Error> {
    let c = store.conn();
    let mut out = Vec::new();
    let mut live = 0;
    for inst in Instance::all(c)? {
        if !inst.state.has_vmm() {
            continue;
        }
        live += 1;
        if inst.vmm_pid.is_none() {
            continue;
        }
        let arp = match Eni::attached_to(c, &inst.instance_id)?.into_iter().next() {
            Some(eni) => {
                let subnet = Subnet::get(c, &eni.subnet_id)?;
                let vpc = Vpc::get(c, &eni.vpc_id)?;
                Some(ArpTarget {
                    bridge: vpc.bridge,
                    sender_ip: subnet.gateway(),
                    target_ip: eni.private_ip,
                })
            }
            None => None,
        };
        out.push(Target {
            detailed: inst.monitoring.detailed(),
            api_sock: RunDir::of(store, &inst.instance_id).sock(),
            instance_id: inst.instance_id,
            instance_type: inst.instance_type,
            image_id: inst.image_id,
            arp,
        });
    }
    Ok((out, live))
}

/// What one tick did, for the cost log.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TickReport {
    /// Instances collected from.
    pub instances: usize,
    /// Instances in a state with a VMM (collected from, or about to be).
    pub live: usize,
    /// Samples handed to the sink.
    pub samples: usize,
    /// CPU time the whole process used in the tick (getrusage: user + system, all threads).
    pub cpu: Duration,
    /// Wall time of the tick's work.
    pub wall: Duration,
}

/// CPU time of this process so far (user + system, all threads).
pub fn process_cpu() -> Duration {
    // SAFETY: rusage is plain data, valid all-zero; getrusage only writes it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid out-pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return Duration::ZERO;
    }
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(u.ru_utime) + t(u.ru_stime)
}

/// One tick: settle monitoring states, observe every target, hand the samples to the
/// sink. Returns what it did; `live == 0` means nothing is left to do.
pub fn tick(
    store: &mut Store,
    collector: &mut Collector,
    sink: &mut dyn SampleSink,
) -> Result<TickReport, Ec2Error> {
    let (cpu0, wall0) = (process_cpu(), Instant::now());
    // The collector confirms Monitor/UnmonitorInstances: from now on it publishes at the
    // new resolution.
    store.write(|tx| monitoring::settle(tx))?;
    let (targets, live) = targets(store)?;
    let observed = collect::observe(&targets);
    let now_ms = crate::vmm::metrics::unix_ms_now();
    let mut samples = Vec::new();
    for (t, o) in targets.iter().zip(&observed) {
        samples.extend(collector.samples(t, o, now_ms));
    }
    let ids: Vec<&str> = targets.iter().map(|t| t.instance_id.as_str()).collect();
    collector.retain(&ids);
    // With no instance left, publish the periods still open rather than lose them.
    let horizon = if live == 0 { i64::MAX } else { now_ms };
    samples.extend(collector.due(horizon));
    if !samples.is_empty() {
        sink.put(&samples)?;
    }
    // LEAD: part A's alarm evaluation goes here, after this tick's samples are stored:
    //   let transitions = crate::cloudwatch::alarms::evaluate(store, &metric_store, now_ms)?;
    //   (run each transition's EC2 actions, and sns::publish its message to its topics)
    // LEAD: part B's deliveries go here:
    //   crate::sns::deliver_pending(store, now_ms)?;
    // LEAD: and the metric store's retention and roll-ups, e.g. once a minute:
    //   metric_store.expire(now_ms)?;
    Ok(TickReport {
        instances: targets.len(),
        live,
        samples: samples.len(),
        cpu: process_cpu().saturating_sub(cpu0),
        wall: wall0.elapsed(),
    })
}

/// `ec2lab __monitor <region>`: the daemon's life. Returns at once if another monitor
/// holds the region's lock; otherwise ticks every [`TICK`] until there is nothing left
/// to do (no instance with a VMM; LEAD: and no alarm, no pending delivery).
pub fn run(state_dir: &Path, region: &str, sink: &mut dyn SampleSink) -> Result<(), Ec2Error> {
    let mut store = Store::open(state_dir, region)?;
    let Some(_lock) = Lock::try_acquire(&lock_path(store.root()))? else {
        return Ok(());
    };
    let log_ticks = std::env::var("EC2LAB_MONITOR_LOG_TICKS").as_deref() == Ok("1");
    let mut collector = Collector::new();
    let mut next = Instant::now();
    loop {
        let report = tick(&mut store, &mut collector, sink)?;
        if log_ticks {
            eprintln!(
                "ec2lab monitor {region}: tick instances={} samples={} cpu_us={} wall_us={}",
                report.instances,
                report.samples,
                report.cpu.as_micros(),
                report.wall.as_micros()
            );
        }
        // LEAD: also stay while an alarm exists or an SNS delivery is pending.
        if report.live == 0 {
            return Ok(());
        }
        next += TICK;
        let now = Instant::now();
        if next <= now {
            // A slow tick: skip ahead rather than run ticks back to back.
            next = now + TICK;
        }
        std::thread::sleep(next - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_without_instances_leaves_nothing_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), "lab-1").unwrap();
        let mut got = 0;
        let mut sink = |s: &[Sample]| -> Result<(), Ec2Error> {
            got += s.len();
            Ok(())
        };
        let report = tick(&mut store, &mut Collector::new(), &mut sink).unwrap();
        assert_eq!((report.instances, report.live, report.samples), (0, 0, 0));
        // `run` returns at once, and releases the region's lock.
        run(dir.path(), "lab-1", &mut sink).unwrap();
        assert_eq!(got, 0, "nothing was stored");
        assert!(Lock::try_acquire(&lock_path(store.root()))
            .unwrap()
            .is_some());
    }
}
