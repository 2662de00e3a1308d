//! One supervisor process per live instance (`ec2lab __supervise`): it starts the
//! instance's VMM, turns what the guest does into state changes in the store, and carries
//! out the stops, reboots and terminations that CLI calls record.
//!
//! CLI calls never talk to a VMM for lifecycle changes: they record the wanted state in one
//! transaction and return, as EC2 does; the supervisor sees it on its next poll. If the
//! supervisor dies, the VMM lives on (it has its own session) and the next ec2lab command
//! starts a new supervisor, which adopts the running VMM by its pid and start time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::cgroup;
use super::console;
use super::disks;
use super::jail;
use super::network;
use super::options::Maintenance;
use super::process::{self, Lock};
use super::record::{Instance, RebootPending};
use super::rundir::RunDir;
use super::state::{on_guest, GuestEvent, State};
use super::termination::{fail_launch, finalize_termination, launch_failure};
use super::vmm_start;
use super::warm_boot::WarmBoot;
use crate::error::Ec2Error;
use crate::storage::instance_store;
use crate::store::{iso8601_now, Store};
use crate::vmm::api::{self, Request};
use crate::vmm::exit::{ExitRecord, Outcome};

const POLL_FAST: Duration = Duration::from_millis(100);
const POLL_SLOW: Duration = Duration::from_millis(250);
const RESEND_SHUTDOWN: Duration = Duration::from_secs(5);
/// A recovered VMM that dies again this soon counts as a failed recovery.
const QUICK_FAILURE: Duration = Duration::from_secs(300);
/// How often a supervisor makes sure the region's monitor daemon runs.
const ENSURE_MONITOR: Duration = Duration::from_secs(30);

/// How long a graceful stop may take before the VMM is stopped hard. Generous: a guest
/// on a nested KVM takes tens of seconds to shut down.
pub fn stop_timeout_secs() -> u64 {
    std::env::var("EC2LAB_STOP_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180)
}

/// Starts a supervisor for `id` unless one is running. Cheap enough to call from every
/// command: that is how a crash of ec2lab at any point gets repaired.
pub fn ensure(store: &Store, id: &str) -> Result<(), Ec2Error> {
    let run = RunDir::of(store, id);
    if !run.0.exists() {
        return Ok(());
    }
    // Free lock = no supervisor. Dropping it before spawning leaves a window in which two
    // commands may both spawn one; the loser finds the lock taken and exits.
    if Lock::try_acquire(&run.lock())?.is_none() {
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--state-dir")
        .arg(store.root().parent().unwrap_or(Path::new("/")))
        .arg("--region")
        .arg(store.region())
        .arg("__supervise")
        .arg(id);
    // Appended to for the supervisor's life; each start begins a new one past the cap.
    crate::vmm::console_log::rotate_if_over(&run.supervisor_log(), super::rundir::LOG_MAX);
    process::spawn_detached(cmd, &run.supervisor_log())?;
    Ok(())
}

/// Supervisors for every instance of `instances` that should have one.
pub fn ensure_all(store: &Store, instances: &[Instance]) -> Result<(), Ec2Error> {
    for inst in instances {
        if inst.state.has_vmm() {
            ensure(store, &inst.instance_id)?;
        }
    }
    Ok(())
}

/// What the supervisor asks of a running VMM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ask {
    /// A graceful shutdown (Ctrl-Alt-Del, then a hard stop at the deadline).
    Shutdown,
    /// A hard stop.
    Stop,
    /// Save the whole machine beside the root volume, then end the VMM (hibernation).
    Hibernate,
}

struct Supervisor {
    store: Store,
    id: String,
    run: RunDir,
    exe: PathBuf,
    /// What we last asked the running VMM to do, and when: a shutdown is asked again every
    /// few seconds (a guest still booting misses Ctrl-Alt-Del), anything else once.
    asked: Option<(Ask, Instant)>,
    booted_at: Option<Instant>,
    /// The running VMM resumes a hibernated machine (it prints no init line).
    resuming: bool,
    /// The running VMM could not hibernate: its stop is a plain one.
    hibernate_failed: bool,
    /// The instance's first VMM restores or makes its AMI's warm-launch template.
    warm: Option<WarmBoot>,
}

/// `ec2lab __supervise <id>`: runs until the instance no longer needs a VMM. `services`
/// starts what lives as long as the supervisor (the metadata service), once this process
/// holds the instance: a supervisor that loses the race for the lock starts nothing.
pub fn run(
    state_dir: &Path,
    region: &str,
    id: &str,
    services: impl FnOnce(),
) -> Result<(), Ec2Error> {
    let store = Store::open(state_dir, region)?;
    let run = RunDir::of(&store, id);
    let Some(_lock) = Lock::try_acquire(&run.lock())? else {
        return Ok(()); // another supervisor has it
    };
    services();
    // For people (and tests) who need to find this process.
    let _ = std::fs::write(run.supervisor_pid(), std::process::id().to_string());
    let mut s = Supervisor {
        store,
        id: id.into(),
        run,
        exe: std::env::current_exe()?,
        asked: None,
        booted_at: None,
        resuming: false,
        hibernate_failed: false,
        warm: None,
    };
    let mut monitor_ensured: Option<Instant> = None;
    loop {
        let inst = Instance::get(s.store.conn(), &s.id)?;
        if !inst.state.has_vmm() {
            return Ok(());
        }
        // Collection (CloudWatch) must go on while no ec2lab command runs: supervisors
        // live exactly as long as instances with VMMs, so they keep the monitor up.
        if monitor_ensured.is_none_or(|t| t.elapsed() >= ENSURE_MONITOR) {
            if let Err(e) = super::monitor_daemon::ensure(&s.store) {
                eprintln!("ec2lab supervisor {id}: cannot start the monitor daemon: {e}");
            }
            monitor_ensured = Some(Instant::now());
        }
        // Spot: carry out an interruption whose notice has run out, follow the price.
        if let Err(e) = super::spot::tick(&mut s.store, &inst) {
            eprintln!("ec2lab supervisor {id}: spot: {e}");
        }
        let vmm = inst.vmm_pid.zip(inst.vmm_start_ticks);
        let poll = match vmm {
            Some((pid, ticks)) if process::alive(pid, ticks) => s.watch(&inst)?,
            Some((pid, _)) => {
                let killed_by = process::reap(pid);
                let exit = ExitRecord::read(&s.run.exit_file(), pid);
                s.vmm_ended(&inst, exit, killed_by)?;
                POLL_FAST
            }
            None => s.no_vmm(&inst)?,
        };
        std::thread::sleep(poll);
    }
}

impl Supervisor {
    /// The VMM runs: notice init, and pass on what the user asked for.
    fn watch(&mut self, inst: &Instance) -> Result<Duration, Ec2Error> {
        if inst.state == State::Running && inst.reboot_pending == RebootPending::Recover {
            // A recover does not ask the VMM anything (it may be hung): SIGKILL ends even
            // a stopped process, and the loop then starts a fresh VMM.
            if let Some((pid, ticks)) = inst.vmm_pid.zip(inst.vmm_start_ticks) {
                process::kill_hard(pid, ticks);
            }
            return Ok(POLL_FAST);
        }
        let wanted = match inst.state {
            State::Stopping | State::ShuttingDown if inst.force_stop => Some(Ask::Stop),
            // A hibernation that failed once goes on as a plain stop, as on EC2.
            State::Stopping if inst.hibernation.requested && !self.hibernate_failed => {
                Some(Ask::Hibernate)
            }
            State::Stopping | State::ShuttingDown => Some(Ask::Shutdown),
            State::Running if inst.reboot_pending != RebootPending::No => Some(Ask::Shutdown),
            _ => None,
        };
        if let Some(action) = wanted {
            let due = match self.asked {
                Some((a, at)) if a == action => {
                    action == Ask::Shutdown && at.elapsed() > RESEND_SHUTDOWN
                }
                _ => true,
            };
            if due {
                if action == Ask::Hibernate {
                    self.hibernate(inst);
                    return Ok(POLL_FAST);
                }
                let req = match action {
                    Ask::Stop => Request::Stop,
                    _ => Request::Shutdown {
                        timeout_secs: Some(stop_timeout_secs()),
                    },
                };
                // The socket appears a few ms after the VMM starts: retry next poll.
                if api::call(&self.run.sock(), &req).is_ok_and(|r| r.ok) {
                    self.asked = Some((action, Instant::now()));
                }
            }
            return Ok(POLL_FAST);
        }
        if let Some(w) = self.warm.as_mut() {
            let done = if w.awaiting_ack() {
                w.poll_ack(&self.run)
            } else {
                !w.restoring() && w.poll_capture(&self.store, inst, &self.run)
            };
            if done {
                self.warm = None;
            }
        }
        if inst.state == State::Pending {
            let status = api::call(&self.run.sock(), &Request::Status)
                .ok()
                .and_then(|r| r.status);
            // A resumed machine is past init: it runs once its VMM answers. A warm launch's
            // runs once it has its identity.
            let resumed = self.resuming && status.is_some();
            let restored = match self.warm.as_mut().filter(|w| w.restoring()) {
                Some(w) if status.is_some() => match w.send_identity(&self.run) {
                    Ok(()) => {
                        w.mark_sent();
                        true
                    }
                    Err(_) => return Ok(POLL_FAST),
                },
                _ => false,
            };
            let started = self.booted_at.map(|t| t.elapsed().as_millis() as u64);
            let init = status.and_then(|s| s.init_started_ms);
            if let Some(ms) = init.or(if resumed || restored { started } else { None }) {
                if resumed {
                    // Used once: the memory file stays mapped (and its pages readable)
                    // for the VMM that resumed from it.
                    super::hibernation::discard(&self.store, inst);
                    self.resuming = false;
                }
                let id = self.id.clone();
                self.store.write(|tx| -> Result<(), Ec2Error> {
                    let now = Instance::get(tx, &id)?;
                    if let Some(next) = on_guest(now.state, GuestEvent::InitStarted) {
                        Instance::set_state(tx, &id, next, "", None)?;
                        Instance::set_boot_ms(tx, &id, ms as i64)?;
                    }
                    Ok(())
                })?;
            }
            return Ok(POLL_FAST);
        }
        Ok(POLL_SLOW)
    }

    /// No VMM recorded: start one, or finish a stop of an instance that never booted.
    fn no_vmm(&mut self, inst: &Instance) -> Result<Duration, Ec2Error> {
        match inst.state {
            State::Pending | State::Running => {
                if inst.reboot_pending == RebootPending::HoldDown {
                    return Ok(POLL_SLOW); // held down while an image is made
                }
                // An impaired instance waits for its automatic recovery, unless a reboot
                // or a `recover` alarm action asks for a new VMM now.
                if inst.reboot_pending == RebootPending::No
                    && inst.maintenance.impaired_since_ms.is_some()
                    && inst
                        .maintenance
                        .recovery_due_ms()
                        .is_none_or(|due| crate::clock::now_ms() < due)
                {
                    return Ok(POLL_SLOW);
                }
                // An on-demand launch that spot instances make room for waits for them.
                if inst.state == State::Pending && !super::spot::room_for(&self.store)? {
                    return Ok(POLL_SLOW);
                }
                // A VMM a killed supervisor started but never recorded is adopted, not
                // doubled (its disks' locks would refuse a second one anyway).
                super::interrupted::finish(&mut self.store)?;
                if Instance::get(self.store.conn(), &self.id)?
                    .vmm_pid
                    .is_none()
                {
                    if let Err(e) = self.start_vmm(inst) {
                        // A first boot that cannot start ends the launch, as on EC2 (pending
                        // -> terminated, Server.InternalError): an instance left pending
                        // would be retried by every command, and held by no group.
                        if inst.state == State::Pending && inst.boots == 0 {
                            eprintln!(
                                "ec2lab supervisor {}: the VMM did not start; terminating: {}",
                                self.id,
                                crate::causes::chain(&e)
                            );
                            let id = self.id.clone();
                            fail_launch(&mut self.store, &[id.as_str()], &e)?;
                            return Ok(POLL_FAST);
                        }
                        return Err(e);
                    }
                }
                Ok(POLL_FAST)
            }
            _ => {
                self.vmm_ended(inst, None, None)?;
                Ok(POLL_FAST)
            }
        }
    }

    /// Starts the instance's VMM: `ec2lab vmm --launch` on a launch file written for it.
    fn start_vmm(&mut self, inst: &Instance) -> Result<(), Ec2Error> {
        crate::testhook::fail_point("vmm-start")?;
        let (jailed, resume) = vmm_start::prepare(&self.store, &self.run, inst)?;
        let disks = disks::vmm_disks(&self.store, inst)?;
        let nics = network::vmm_nics(&self.store, inst)?;
        let launch = self.run.launch_file();
        let warm_nics = nics.clone();
        let mut config = vmm_start::launch_config(&self.run, inst, disks, nics);
        config.restore = resume.clone();
        config.jail = jailed;
        self.warm = if resume.is_none() && inst.boots == 0 {
            WarmBoot::start(&self.run, inst, &warm_nics, &mut config)
        } else {
            None
        };
        config
            .save(&launch)
            .map_err(|e| Ec2Error::internal(crate::causes::chain(&e)))?;
        // Written down first: a supervisor killed between the spawn and the record below
        // leaves a VMM the next command adopts (`interrupted.rs`) rather than a second.
        let op = crate::operations::begin(
            &mut self.store,
            crate::operations::Work::VmmStart {
                instance_id: self.id.clone(),
                launch: launch.clone(),
            },
        )?;
        let (pid, ticks) = vmm_start::spawn(&self.store, &self.run, &self.exe, inst, &config)?;
        crate::testhook::kill_point("vmm-spawned");
        self.asked = None;
        self.booted_at = Some(Instant::now());
        self.resuming = resume.is_some();
        self.hibernate_failed = false;
        let id = self.id.clone();
        let recovering = inst.maintenance.impaired_since_ms.is_some();
        self.store.write(|tx| -> Result<(), Ec2Error> {
            Instance::set_vmm(tx, &id, Some((pid, ticks)))?;
            if recovering {
                let mut m = Instance::get(tx, &id)?.maintenance;
                m.impaired_since_ms = None;
                m.last_recovery_ms = Some(crate::clock::now_ms());
                m.save(tx, &id)?;
            }
            if matches!(
                inst.reboot_pending,
                RebootPending::Restart | RebootPending::Recover
            ) {
                Instance::set_reboot_pending(tx, &id, RebootPending::No)?;
            }
            Ok(())
        })?;
        op.done(&mut self.store)
    }

    /// The VMM is gone: reboot, or settle the instance in its next state. `exit` is its
    /// record, or `None` when it left none (killed, or never started).
    fn vmm_ended(
        &mut self,
        inst: &Instance,
        exit: Option<ExitRecord>,
        killed_by: Option<nix::sys::signal::Signal>,
    ) -> Result<(), Ec2Error> {
        let id = self.id.clone();
        cgroup::remove(&id);
        let sock = self.run.sock();
        let outcome = exit.as_ref().map(|e| e.outcome);
        let detail = exit
            .as_ref()
            .map(|e| e.detail.clone())
            .unwrap_or_else(|| process::vmm_death(killed_by));
        let rebooting = matches!(inst.state, State::Pending | State::Running)
            && (inst.reboot_pending != RebootPending::No || outcome == Some(Outcome::Reset));
        let now = iso8601_now();
        // Release what the next state no longer has *before* recording that state, so that
        // whoever sees "stopped" or "terminated" also sees the instance store (and, on
        // terminate, the volumes and interface) gone. Both steps are idempotent: a crash in
        // between is finished by the next supervisor.
        let pre = Instance::get(self.store.conn(), &id)?;
        if let Some(w) = self.warm.take().filter(|w| w.restoring()) {
            if pre.state == State::Pending {
                w.restore_failed(&self.run, &detail);
                self.store.write(|tx| Instance::set_vmm(tx, &id, None))?;
                let _ = std::fs::remove_file(sock);
                return Ok(());
            }
        }
        if self.resuming && pre.state == State::Pending {
            // The saved machine could not be resumed (the VMM refused it, or died): boot
            // from the root volume instead, as EC2 does when a resume fails.
            self.resuming = false;
            super::hibernation::discard(&self.store, &pre);
            console::note(
                &self.run.console(),
                &[format!(
                    "ec2lab: resuming from hibernation failed ({detail}); booting from the root volume"
                )],
            );
            self.store.write(|tx| Instance::set_vmm(tx, &id, None))?;
            let _ = std::fs::remove_file(sock);
            return Ok(());
        }
        let host_failed = matches!(
            outcome,
            None | Some(Outcome::VmmError) | Some(Outcome::Unknown)
        );
        if host_failed && !rebooting && pre.state == State::Running {
            return self.impaired(&detail);
        }
        if !(rebooting && pre.state == inst.state) {
            match on_guest(pre.state, GuestEvent::VmmEnded) {
                Some(State::Terminated) => finalize_termination(&mut self.store, &pre)?,
                Some(State::Stopped) => {
                    instance_store::destroy(self.store.region(), &id);
                    network::on_stopped(&mut self.store, &pre)?;
                }
                _ => {}
            }
        }
        self.store.write(|tx| -> Result<(), Ec2Error> {
            let cur = Instance::get(tx, &id)?;
            Instance::set_vmm(tx, &id, None)?;
            if rebooting && cur.state == inst.state {
                return Ok(()); // the loop starts the next boot
            }
            let Some(next) = on_guest(cur.state, GuestEvent::VmmEnded) else {
                return Ok(());
            };
            let (reason, code, msg) = match cur.state {
                State::Stopping if outcome == Some(Outcome::Snapshotted) => (
                    format!("User initiated ({now})"),
                    "Client.UserInitiatedHibernate",
                    "Client.UserInitiatedHibernate: User initiated hibernate".to_string(),
                ),
                State::Stopping | State::ShuttingDown => (
                    format!("User initiated ({now})"),
                    "Client.UserInitiatedShutdown",
                    "Client.UserInitiatedShutdown: User initiated shutdown".to_string(),
                ),
                _ if outcome == Some(Outcome::PowerOff) => (
                    format!("Instance initiated shutdown ({now})"),
                    "Client.InstanceInitiatedShutdown",
                    "Client.InstanceInitiatedShutdown: Instance initiated shutdown".to_string(),
                ),
                _ => (
                    format!("Server error ({now})"),
                    "Server.InternalError",
                    format!("Server.InternalError: {detail}"),
                ),
            };
            // A spot interruption keeps EC2's reason (Server.Spot…) through the stop, and
            // a failed launch its own (`fail_launch`).
            let spot = super::spot::interruption_reason(&cur).or_else(|| launch_failure(&cur));
            let (reason, code, msg) = match &spot {
                Some((r, c, m)) => (r.clone(), c.as_str(), m.clone()),
                None => (reason, code, msg),
            };
            Instance::set_state(tx, &id, next, &reason, Some((code, &msg)))?;
            Maintenance {
                auto_recovery_disabled: cur.maintenance.auto_recovery_disabled,
                ..Maintenance::default()
            }
            .save(tx, &id)?;
            let mut h = cur.hibernation.clone();
            h.requested = false;
            h.save(tx, &id)?;
            Instance::set_force_stop(tx, &id, false)?;
            Instance::set_reboot_pending(tx, &id, RebootPending::No)?;
            Ok(())
        })?;
        let _ = std::fs::remove_file(sock);
        // Left behind only by a killed VMM; a client finds none rather than a dead one.
        let _ = std::fs::remove_file(self.run.console_sock());
        // Recorded as stopped or terminated: if it was its VPC's last running instance,
        // the bridge goes down now (the sync in on_stopped still saw it stopping).
        if !Instance::get(self.store.conn(), &id)?.state.has_vmm() {
            crate::net::sync(&self.store)?;
        }
        Ok(())
    }
}

impl Supervisor {
    /// Asks the VMM to save the whole machine beside the root volume and exit; the
    /// exit (outcome `snapshotted`) settles the instance in `stopped`. When the VMM
    /// cannot (its answer says why), the stop goes on as a graceful shutdown.
    fn hibernate(&mut self, inst: &Instance) {
        let dir = match super::hibernation::state_dir(&self.store, inst) {
            Ok(d) => d,
            Err(e) => return self.hibernation_failed(&e.to_string()),
        };
        // A machine saved before and never resumed is stale now.
        let _ = std::fs::remove_dir_all(&dir);
        // Written down first: if this supervisor dies, the next command clears what a
        // save cut short leaves, once the VMM is gone.
        let op = crate::operations::begin(
            &mut self.store,
            crate::operations::Work::Hibernate {
                instance_id: self.id.clone(),
                dir: dir.clone(),
            },
        );
        // Saving the memory takes a while on a big guest; the VMM answers when done.
        let answer = jail::snapshot(
            &self.run,
            api::AfterSnapshot::Exit,
            &dir,
            Duration::from_secs(300),
        );
        if let Ok(op) = op {
            let _ = op.done(&mut self.store);
        }
        match answer {
            Ok(r) if r.ok => self.asked = Some((Ask::Hibernate, Instant::now())),
            Ok(r) => {
                let why = r.error.unwrap_or_else(|| "the VMM refused".into());
                self.hibernation_failed(&why)
            }
            // No socket yet (the VMM is starting), or the VMM is busy: try again.
            Err(_) => {}
        }
    }

    /// Hibernation could not save the machine: the stop becomes a graceful shutdown.
    fn hibernation_failed(&mut self, why: &str) {
        let line = format!("ec2lab: hibernation failed ({why}); stopping without it");
        console::note(&self.run.console(), std::slice::from_ref(&line));
        eprintln!("ec2lab supervisor {}: {line}", self.id);
        // The next poll asks for a shutdown.
        self.asked = None;
        self.hibernate_failed = true;
    }

    /// The VMM of a running instance died on the host's side (killed, or the VMM itself
    /// failed): as on EC2 the instance stays `running` with its system status check
    /// failed, and its automatic recovery (unless disabled) starts a new VMM later
    /// ([`Maintenance::recovery_due_ms`]). A recovery whose VMM dies again within
    /// [`QUICK_FAILURE`] counts as failed and doubles the next wait.
    fn impaired(&mut self, detail: &str) -> Result<(), Ec2Error> {
        let id = self.id.clone();
        let now = crate::clock::now_ms();
        let m = self.store.write(|tx| -> Result<Maintenance, Ec2Error> {
            let cur = Instance::get(tx, &id)?;
            Instance::set_vmm(tx, &id, None)?;
            let mut m = cur.maintenance;
            let quick = m
                .last_recovery_ms
                .is_some_and(|at| now - at < QUICK_FAILURE.as_millis() as i64);
            m.failed_recoveries = if quick { m.failed_recoveries + 1 } else { 0 };
            m.impaired_since_ms = Some(now);
            m.save(tx, &id)?;
            Ok(m)
        })?;
        let next = match m.recovery_due_ms() {
            Some(due) => format!(
                "automatic recovery starts a new VMM in {} s",
                (due - now).max(0) / 1000
            ),
            None => {
                "automatic recovery is disabled: stop, reboot or terminate the instance".to_string()
            }
        };
        let line = format!(
            "ec2lab: the instance's VMM ended ({detail}); system status check impaired; {next}"
        );
        console::note(&self.run.console(), std::slice::from_ref(&line));
        eprintln!("ec2lab supervisor {id}: {line}");
        let _ = std::fs::remove_file(self.run.sock());
        let _ = std::fs::remove_file(self.run.console_sock());
        Ok(())
    }
}
