//! The per-region monitor daemon, `ec2lab __monitor <region>`: every 10 s it collects
//! every running instance's VMM counters into samples (`collect`), stores them in the
//! region's metric store, evaluates every alarm on them and runs the actions of those
//! that change state (`actions_runner`), and runs the SNS deliveries that are due. Alarms
//! are evaluated here, not in `ec2lab serve` or a CLI verb, because only this process
//! runs whenever there is something to watch. One per region (an
//! flock on `<region>/monitor.lock`), started detached by `instances::monitor_daemon::ensure`, which every
//! instance supervisor calls at its start and every ~30 s after: so monitoring goes on
//! whether or not any ec2lab command or `ec2lab serve` runs, and comes back by itself
//! after a crash; PutMetricAlarm, PutMetricData and SNS Subscribe/Publish start it too.
//! It exits when nothing is left to do: no instance with a VMM, no alarm, no pending
//! delivery.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::actions_runner;
use super::alarms::{self, AlarmTransition};
use super::collect::{self, ArpTarget, Collector, Target};
use super::{MetricStore, Sample};
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
/// state keeps one, and running ones whose VMM died (impaired, awaiting recovery). Also says how many instances are in a state with a VMM (some may be
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
        // A running instance whose VMM died is collected too: its system check fails.
        if inst.vmm_pid.is_none() && inst.maintenance.impaired_since_ms.is_none() {
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
    let now_ms = crate::clock::now_ms();
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
    Ok(TickReport {
        instances: targets.len(),
        live,
        samples: samples.len(),
        cpu: process_cpu().saturating_sub(cpu0),
        wall: wall0.elapsed(),
    })
}

/// Every tick's samples go to the metric store, and to the extra sink the caller gives
/// (`EC2LAB_MONITOR_SAMPLES`'s JSON lines, or nothing).
struct Tee<'a> {
    metrics: &'a mut MetricStore,
    extra: &'a mut dyn SampleSink,
}

impl SampleSink for Tee<'_> {
    fn put(&mut self, samples: &[Sample]) -> Result<(), Ec2Error> {
        self.metrics.put(samples)?;
        self.extra.put(samples)
    }
}

impl SampleSink for MetricStore {
    fn put(&mut self, samples: &[Sample]) -> Result<(), Ec2Error> {
        MetricStore::put(self, samples)
    }
}

/// How often the metric store's retention and roll-ups run.
pub const EXPIRE_EVERY: Duration = Duration::from_secs(600);

/// A log that says the same thing at most once per [`RateLimitedLog::EVERY`]: a broken
/// alarm or an endpoint that is down would otherwise fill monitor.log every 10 s.
#[derive(Default)]
pub struct RateLimitedLog {
    seen: HashMap<String, (Instant, u64)>,
}

impl RateLimitedLog {
    /// How long a message stays quiet after it was written.
    pub const EVERY: Duration = Duration::from_secs(600);

    /// Writes `message` to stderr (monitor.log) unless it was written in the last
    /// [`Self::EVERY`]; says how many times it was held back meanwhile. Returns whether
    /// it wrote.
    pub fn log(&mut self, region: &str, message: &str) -> bool {
        let now = Instant::now();
        match self.seen.get_mut(message) {
            Some((at, held)) if now.duration_since(*at) < Self::EVERY => {
                *held += 1;
                false
            }
            entry => {
                let held = entry.map(|(_, h)| *h).unwrap_or(0);
                let again = if held > 0 {
                    format!(" ({held} more times since last said)")
                } else {
                    String::new()
                };
                eprintln!("ec2lab monitor {region}: {message}{again}");
                self.seen.insert(message.to_string(), (now, 0));
                true
            }
        }
    }
}

/// What a tick does after collecting: evaluates every alarm on the data just stored,
/// runs the actions of each state change (recorded in the alarm's history), and tries
/// the SNS deliveries that are due. Nothing here stops the daemon: failures are logged.
pub fn alarms_and_deliveries(
    store: &mut Store,
    metrics: &MetricStore,
    now_ms: i64,
    log: &mut RateLimitedLog,
) -> Vec<AlarmTransition> {
    let region = store.region().to_string();
    let transitions = match alarms::evaluate(store, metrics, now_ms) {
        Ok(t) => t,
        Err(e) => {
            log.log(&region, &format!("cannot evaluate the alarms: {e}"));
            Vec::new()
        }
    };
    for t in &transitions {
        eprintln!(
            "ec2lab monitor {region}: alarm {:?} {} -> {} ({} actions)",
            t.alarm_name,
            t.old_state,
            t.new_state,
            t.actions.len()
        );
    }
    // From the outbox, not from `transitions`: it also holds the changes whose actions a
    // monitor that died did not finish.
    let outbox = match alarms::record::outbox(store.conn()) {
        Ok(o) => o,
        Err(e) => {
            log.log(&region, &format!("cannot read the alarm outbox: {e}"));
            Vec::new()
        }
    };
    for (id, t) in &outbox {
        for (arn, why) in actions_runner::run_transition(store, t) {
            log.log(
                &region,
                &format!("alarm {:?}: action {arn} failed: {why}", t.alarm_name),
            );
        }
        if let Err(e) = store.write(|tx| alarms::record::outbox_done(tx, *id)) {
            log.log(&region, &format!("cannot update the alarm outbox: {e}"));
        }
    }
    if let Err(e) = crate::sns::deliver_pending(store, now_ms) {
        log.log(&region, &format!("cannot run the SNS deliveries: {e}"));
    }
    transitions
}

/// Whether the daemon has work beyond collecting: an alarm to evaluate, actions still to
/// run, a spot request to fulfil or watch, or an SNS delivery still to try. When the store cannot say, it has (staying costs little).
pub fn other_work(store: &Store) -> bool {
    let alarms = alarms::record::count(store.conn()).map_or(true, |n| n > 0);
    let actions = alarms::record::outbox(store.conn()).map_or(true, |o| !o.is_empty());
    let extension = super::extension::get().is_some_and(|x| x.has_work(store));
    let spot = crate::instances::spot_launch::pending(store);
    alarms
        || actions
        || extension
        || spot
        || crate::sns::deliver::any_pending(store).unwrap_or(true)
}

/// `ec2lab __monitor <region>`: the daemon's life. Returns at once if another monitor
/// holds the region's lock; otherwise ticks every [`TICK`] until there is nothing left
/// to do: no instance with a VMM, no alarm, no spot request to fulfil, no pending SNS delivery. Samples go to the
/// region's metric store and also to `extra`.
pub fn run(state_dir: &Path, region: &str, extra: &mut dyn SampleSink) -> Result<(), Ec2Error> {
    let mut store = Store::open(state_dir, region)?;
    let Some(_lock) = Lock::try_acquire(&lock_path(store.root()))? else {
        return Ok(());
    };
    let mut metrics = MetricStore::open(store.root())?;
    let log_ticks = std::env::var("EC2LAB_MONITOR_LOG_TICKS").as_deref() == Ok("1");
    let mut collector = Collector::new();
    let mut log = RateLimitedLog::default();
    let mut expired: Option<Instant> = None;
    let mut next = Instant::now();
    loop {
        let mut sink = Tee {
            metrics: &mut metrics,
            extra: &mut *extra,
        };
        let live = match tick(&mut store, &mut collector, &mut sink) {
            Ok(report) => {
                if log_ticks {
                    eprintln!(
                        "ec2lab monitor {region}: tick instances={} samples={} cpu_us={} wall_us={}",
                        report.instances,
                        report.samples,
                        report.cpu.as_micros(),
                        report.wall.as_micros()
                    );
                }
                report.live
            }
            Err(e) => {
                log.log(region, &format!("cannot collect: {e}"));
                1 // unknown: stay
            }
        };
        let now_ms = crate::clock::now_ms();
        alarms_and_deliveries(&mut store, &metrics, now_ms, &mut log);
        // Spot requests: open ones launch when there is room, persistent ones relaunch.
        for problem in crate::instances::spot_launch::fulfil(&mut store) {
            log.log(region, &problem);
        }
        if let Some(x) = super::extension::get() {
            for problem in x.tick(&mut store, now_ms) {
                log.log(region, &problem);
            }
        }
        if expired.is_none_or(|t| t.elapsed() >= EXPIRE_EVERY) {
            if let Err(e) = metrics.expire(now_ms) {
                log.log(region, &format!("cannot expire old metric data: {e}"));
            }
            expired = Some(Instant::now());
        }
        if live == 0 && !other_work(&store) {
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
    use crate::cloudwatch::alarms::AlarmAction;

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

    #[test]
    fn actions_a_dead_monitor_left_in_the_outbox_run_at_the_next_tick() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), "lab-1").unwrap();
        let metrics = MetricStore::open(store.root()).unwrap();
        let t = AlarmTransition {
            alarm_name: "a".into(),
            alarm_arn: "arn:aws:cloudwatch:lab-1:123456789012:alarm:a".into(),
            old_state: "OK".into(),
            new_state: "ALARM".into(),
            reason: "test".into(),
            reason_data: None,
            timestamp_ms: 1,
            actions: vec![AlarmAction::Sns {
                topic_arn: "arn:aws:sns:lab-1:123456789012:gone".into(),
            }],
            subject: "ALARM".into(),
            message: "{}".into(),
        };
        // The state change was saved with its actions, then the monitor died.
        store
            .write(|tx| alarms::record::push_outbox(tx, std::slice::from_ref(&t)))
            .unwrap();
        assert!(other_work(&store), "a monitor stays for the outbox");
        let mut log = RateLimitedLog::default();
        let ran = alarms_and_deliveries(&mut store, &metrics, 2, &mut log);
        assert!(ran.is_empty(), "no alarm changed state in this tick");
        let h = alarms::record::history(store.conn(), Some("a"), 0, i64::MAX).unwrap();
        assert_eq!(h.len(), 1, "the action ran once and was recorded");
        assert_eq!(h[0].item.history_item_type, "Action");
        assert!(alarms::record::outbox(store.conn()).unwrap().is_empty());
        alarms_and_deliveries(&mut store, &metrics, 3, &mut log);
        let h = alarms::record::history(store.conn(), Some("a"), 0, i64::MAX).unwrap();
        assert_eq!(h.len(), 1, "and not again");
        assert!(!other_work(&store));
    }

    #[test]
    fn the_log_says_a_repeated_failure_once_per_period() {
        let mut log = RateLimitedLog::default();
        assert!(log.log("lab-1", "endpoint down"));
        assert!(!log.log("lab-1", "endpoint down"));
        assert!(!log.log("lab-1", "endpoint down"));
        assert!(log.log("lab-1", "another failure"));
        assert_eq!(log.seen["endpoint down"].1, 2, "two held back");
    }

    #[test]
    fn a_failed_action_is_recorded_and_the_others_still_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), "lab-1").unwrap();
        let t = AlarmTransition {
            alarm_name: "a".into(),
            alarm_arn: alarms::record::alarm_arn("lab-1", "a"),
            old_state: "OK".into(),
            new_state: "ALARM".into(),
            reason: "test".into(),
            reason_data: None,
            timestamp_ms: 1,
            actions: vec![
                AlarmAction::Ec2 {
                    arn: "arn:aws:automate:lab-1:ec2:stop".into(),
                    operation: "stop".into(),
                    instance_id: "i-0000000000000000f".into(),
                },
                AlarmAction::Sns {
                    topic_arn: "arn:aws:sns:lab-1:123456789012:gone".into(),
                },
            ],
            subject: "ALARM".into(),
            message: "{}".into(),
        };
        let failures = actions_runner::run_transition(&mut store, &t);
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(
            failures[0].1.contains("InvalidInstanceID.NotFound"),
            "{failures:?}"
        );
        let h = alarms::record::history(store.conn(), Some("a"), 0, i64::MAX).unwrap();
        let summaries: Vec<&str> = h.iter().map(|r| r.item.history_summary.as_str()).collect();
        assert_eq!(h.len(), 2, "{summaries:?}");
        assert!(h.iter().all(|r| r.item.history_item_type == "Action"));
        assert!(
            summaries[0].starts_with(
                "Failed to execute action arn:aws:automate:lab-1:ec2:stop. Received error:"
            ),
            "{summaries:?}"
        );
        assert!(
            summaries[1].contains("Failed to execute action arn:aws:sns"),
            "{summaries:?}"
        );
    }
}
