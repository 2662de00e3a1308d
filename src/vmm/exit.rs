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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use vmm_sys_util::eventfd::EventFd;

pub const EXIT_POWER_OFF: i32 = 0;
pub const EXIT_VMM_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_CRASHED: i32 = 3;
pub const EXIT_STOPPED: i32 = 4;
pub const EXIT_RESET: i32 = 5;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestExit {
    PowerOff,
    Reset,
    /// The guest kernel panicked (it then resets itself because of `panic=1`).
    Panic,
    /// The guest died in a way the VMM saw directly; the text says where and why.
    Crashed(String),
    /// Stopped from outside; the text says by what.
    Stopped(String),
}

impl GuestExit {
    pub fn code(&self) -> i32 {
        match self {
            GuestExit::PowerOff => EXIT_POWER_OFF,
            GuestExit::Reset => EXIT_RESET,
            GuestExit::Panic | GuestExit::Crashed(_) => EXIT_CRASHED,
            GuestExit::Stopped(_) => EXIT_STOPPED,
        }
    }

    /// A stable one-word name, for records other programs read.
    pub fn kind(&self) -> &'static str {
        match self {
            GuestExit::PowerOff => "power-off",
            GuestExit::Reset => "reset",
            GuestExit::Panic => "panic",
            GuestExit::Crashed(_) => "crash",
            GuestExit::Stopped(_) => "stopped",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            GuestExit::PowerOff => "the guest powered off".into(),
            GuestExit::Reset => "the guest reset itself (reboot)".into(),
            GuestExit::Panic => "the guest kernel panicked (see the console output)".into(),
            GuestExit::Crashed(why) => format!("the guest crashed: {why}"),
            GuestExit::Stopped(why) => format!("the guest was stopped: {why}"),
        }
    }
}

/// The first outcome reported wins; the event fd wakes the VMM's main loop.
pub struct ExitSignal {
    outcome: Mutex<Option<GuestExit>>,
    /// Set with the outcome; vCPU threads check it after every exit without locking.
    ended: AtomicBool,
    pub evt: EventFd,
}

impl ExitSignal {
    pub fn new() -> std::io::Result<Self> {
        Ok(Self {
            outcome: Mutex::new(None),
            ended: AtomicBool::new(false),
            evt: EventFd::new(libc::EFD_NONBLOCK)?,
        })
    }

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
}
