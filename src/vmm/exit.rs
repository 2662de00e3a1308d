//! How a guest ended, and the process exit code each outcome maps to.
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | the guest powered itself off (or finished a graceful shutdown) |
//! | 1    | the VMM failed (bad configuration, KVM refused something) |
//! | 2    | the command line was wrong (clap's usage error) |
//! | 3    | the guest crashed: kernel panic, triple fault, or an instruction KVM could not run |
//! | 4    | the guest was stopped from outside: hard stop, or a graceful shutdown ran past its deadline |
//! | 5    | the guest reset itself (reboot) |
//! | 6    | the guest was snapshotted and the VMM exited (`snapshot` with `then: exit`) |
//!
//! A launcher that is not the VMM's parent (the instance supervisor, which may be a newer
//! ec2lab adopting a VMM an older one started) learns the same from the exit record,
//! [`ExitRecord`], that the VMM writes to its exit file.

use std::error::Error;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use vmm_sys_util::eventfd::EventFd;

/// Exit code: the guest powered itself off.
pub const EXIT_POWER_OFF: i32 = 0;
/// Exit code: the VMM failed (bad configuration, KVM refused something).
pub const EXIT_VMM_ERROR: i32 = 1;
/// Exit code: the command line was wrong.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: the guest crashed.
pub const EXIT_CRASHED: i32 = 3;
/// Exit code: the guest was stopped from outside.
pub const EXIT_STOPPED: i32 = 4;
/// Exit code: the guest reset itself.
pub const EXIT_RESET: i32 = 5;
/// Exit code: the guest was saved to a snapshot, then the VMM exited on request.
pub const EXIT_SNAPSHOTTED: i32 = 6;

/// How a guest that ran ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestExit {
    /// The guest powered itself off (or finished a graceful shutdown).
    PowerOff,
    /// The guest reset itself (a reboot).
    Reset,
    /// The guest kernel panicked (it then resets itself because of `panic=1`).
    Panic,
    /// The guest died in a way the VMM saw directly; the text says where and why.
    Crashed(String),
    /// Stopped from outside; the text says by what.
    Stopped(String),
    /// Saved whole to the snapshot directory named, then ended on request: not a
    /// crash, the guest goes on when the snapshot is restored.
    Snapshotted(String),
}

impl GuestExit {
    /// The VMM process's exit code for this outcome.
    pub fn code(&self) -> i32 {
        match self {
            GuestExit::PowerOff => EXIT_POWER_OFF,
            GuestExit::Reset => EXIT_RESET,
            GuestExit::Panic | GuestExit::Crashed(_) => EXIT_CRASHED,
            GuestExit::Stopped(_) => EXIT_STOPPED,
            GuestExit::Snapshotted(_) => EXIT_SNAPSHOTTED,
        }
    }

    /// The outcome as the exit record names it.
    pub fn outcome(&self) -> Outcome {
        match self {
            GuestExit::PowerOff => Outcome::PowerOff,
            GuestExit::Reset => Outcome::Reset,
            GuestExit::Panic => Outcome::Panic,
            GuestExit::Crashed(_) => Outcome::Crash,
            GuestExit::Stopped(_) => Outcome::Stopped,
            GuestExit::Snapshotted(_) => Outcome::Snapshotted,
        }
    }

    /// One sentence for people: what happened to the guest.
    pub fn describe(&self) -> String {
        match self {
            GuestExit::PowerOff => "the guest powered off".into(),
            GuestExit::Reset => "the guest reset itself (reboot)".into(),
            GuestExit::Panic => "the guest kernel panicked (see the console output)".into(),
            GuestExit::Crashed(why) => format!("the guest crashed: {why}"),
            GuestExit::Stopped(why) => format!("the guest was stopped: {why}"),
            GuestExit::Snapshotted(dir) => {
                format!("the guest was saved to the snapshot {dir} and the VMM exited")
            }
        }
    }
}

/// How a VMM run ended, as its exit record names it. The names on disk are stable: a
/// supervisor of a newer build reads the record of a VMM an older build started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// `power-off`: the guest powered itself off.
    PowerOff,
    /// `reset`: the guest reset itself (a reboot).
    Reset,
    /// `panic`: the guest kernel panicked.
    Panic,
    /// `crash`: the guest died in a way the VMM saw directly.
    Crash,
    /// `stopped`: stopped from outside (hard stop, or a shutdown past its deadline).
    Stopped,
    /// `vmm-error`: the VMM itself failed; the guest may never have run.
    VmmError,
    /// `snapshotted`: the guest was saved to a snapshot, then the VMM exited on request.
    Snapshotted,
    /// A name this build does not know (a record from a newer build): read as a failure
    /// whose detail says more.
    #[serde(other)]
    Unknown,
}

/// What the VMM leaves in its exit file when it ends, for a supervisor that is not its
/// parent: `{"pid":..,"code":..,"outcome":..,"detail":..}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ExitRecord {
    /// The VMM's pid, so a reader can tell this record from an older run's.
    pub pid: u32,
    /// The VMM's exit code (see the table above).
    pub code: i32,
    /// How the run ended.
    pub outcome: Outcome,
    /// One sentence for people: what happened, or what went wrong.
    pub detail: String,
}

impl ExitRecord {
    /// The record of this process's guest, which ran and ended with `exit`.
    pub fn guest(exit: &GuestExit) -> Self {
        ExitRecord {
            pid: crate::vmm::jail::host_pid(),
            code: exit.code(),
            outcome: exit.outcome(),
            detail: exit.describe(),
        }
    }

    /// The record of this process's VMM failing with `err`.
    pub fn vmm_error(err: &dyn Error) -> Self {
        ExitRecord {
            pid: crate::vmm::jail::host_pid(),
            code: EXIT_VMM_ERROR,
            outcome: Outcome::VmmError,
            detail: crate::causes::chain(err),
        }
    }

    /// Writes the record to `path` through a temporary file and a rename, so a reader
    /// never sees half a record.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let body = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(path, &body)
    }

    /// The record at `path` if it is the one of process `pid` (not an older run's);
    /// `None` when there is none, it cannot be read, or it is another process's.
    pub fn read(path: &Path, pid: i64) -> Option<Self> {
        let rec: ExitRecord =
            serde_json::from_slice(&crate::fsutil::read_nofollow(path).ok()?).ok()?;
        (i64::from(rec.pid) == pid).then_some(rec)
    }
}

/// The first outcome reported wins; the event fd wakes the VMM's main loop.
pub struct ExitSignal {
    outcome: Mutex<Option<GuestExit>>,
    /// Set with the outcome; vCPU threads check it after every exit without locking.
    ended: AtomicBool,
    /// Written once when the outcome is set.
    pub evt: EventFd,
}

impl ExitSignal {
    /// No outcome yet.
    pub fn new() -> std::io::Result<Self> {
        Ok(Self {
            outcome: Mutex::new(None),
            ended: AtomicBool::new(false),
            evt: EventFd::new(libc::EFD_NONBLOCK)?,
        })
    }

    /// Reports an outcome; ignored if one was reported already.
    pub fn raise(&self, exit: GuestExit) {
        let mut slot = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        // The first outcome wins (a panicking kernel resets itself a second later: the
        // panic is what happened).
        if slot.is_some() {
            return;
        }
        *slot = Some(exit);
        self.ended.store(true, Ordering::Release);
        let _ = self.evt.write(1);
    }

    /// True once the guest has an outcome: no vCPU may run it any further.
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// The outcome, once there is one.
    pub fn get(&self) -> Option<GuestExit> {
        self.outcome
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_outcome_wins() {
        let s = ExitSignal::new().unwrap();
        assert_eq!(s.get(), None);
        s.raise(GuestExit::Panic);
        s.raise(GuestExit::Reset);
        s.raise(GuestExit::PowerOff);
        assert_eq!(s.get(), Some(GuestExit::Panic));
        assert_eq!(s.get().unwrap().code(), EXIT_CRASHED);
        assert_eq!(s.evt.read().unwrap(), 1);
    }

    #[test]
    fn records_keep_the_names_older_builds_wrote() {
        // The exact bytes an earlier build's VMM left in exit.json.
        for (name, outcome) in [
            ("power-off", Outcome::PowerOff),
            ("reset", Outcome::Reset),
            ("panic", Outcome::Panic),
            ("crash", Outcome::Crash),
            ("stopped", Outcome::Stopped),
            ("vmm-error", Outcome::VmmError),
        ] {
            let old = format!(r#"{{"pid":7,"code":0,"outcome":"{name}","detail":"d"}}"#);
            let rec: ExitRecord = serde_json::from_str(&old).unwrap();
            assert_eq!(rec.outcome, outcome);
            assert_eq!(serde_json::to_string(&rec).unwrap(), old);
        }
        let snap = ExitRecord::guest(&GuestExit::Snapshotted("/s".into()));
        assert_eq!(snap.code, EXIT_SNAPSHOTTED);
        assert!(serde_json::to_string(&snap)
            .unwrap()
            .contains(r#""outcome":"snapshotted""#));
        let newer = r#"{"pid":7,"code":7,"outcome":"hibernated","detail":"d"}"#;
        let rec: ExitRecord = serde_json::from_str(newer).unwrap();
        assert_eq!(rec.outcome, Outcome::Unknown);
        assert_eq!(ExitRecord::guest(&GuestExit::Reset).outcome, Outcome::Reset);
    }

    #[test]
    fn a_record_is_read_back_only_for_its_own_pid() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("exit.json");
        assert_eq!(ExitRecord::read(&path, 1), None);
        let rec = ExitRecord::guest(&GuestExit::PowerOff);
        rec.write(&path).unwrap();
        let me = i64::from(std::process::id());
        assert_eq!(ExitRecord::read(&path, me), Some(rec));
        assert_eq!(ExitRecord::read(&path, me + 1), None);
    }
}
