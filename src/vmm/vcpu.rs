//! One thread per vCPU: run the guest, route its port and MMIO exits to the buses, and
//! turn every way it can stop into a [`GuestExit`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kvm_ioctls::{VcpuExit, VcpuFd};

/// How one KVM_RUN ended, for the run loop.
enum Ran {
    /// The exit was handled; run again.
    Handled,
    /// KVM_RUN returned without running (a kick, or immediate_exit).
    Interrupted,
}
use vmm_sys_util::signal::Killable;

use super::arch::aarch64::psci::{system_event_action, SystemEventAction};
use super::devices::bus::Bus;
use super::exit::{ExitSignal, GuestExit};
use super::memory::GuestMemory;
use super::seccomp::{Filters, Role};

/// Work for one parked vCPU thread, which alone holds its `VcpuFd` (saving its state for
/// a snapshot).
pub type VcpuJob = Box<dyn FnOnce(&mut VcpuFd) + Send>;

/// Stops every vCPU between two KVM_RUNs (for a point-in-time copy of a disk, or a
/// snapshot) and lets them go again. While parked, a vCPU thread runs the jobs posted
/// for it.
#[derive(Default)]
pub struct PauseGate {
    requested: AtomicBool,
    parked: Mutex<usize>,
    changed: Condvar,
    jobs: Mutex<Vec<(u8, VcpuJob)>>,
}

/// Kicks a vCPU thread out of KVM_RUN; the handler does nothing, the interruption is
/// the point.
fn kick_signal() -> libc::c_int {
    vmm_sys_util::signal::SIGRTMIN()
}

extern "C" fn on_kick(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

fn install_kick_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Failing here only means pause cannot interrupt a halted vCPU; pause then times out
        // with a clear error instead of hanging.
        let _ = vmm_sys_util::signal::register_signal_handler(kick_signal(), on_kick);
    });
}

impl PauseGate {
    fn park(&self, id: u8, fd: &mut VcpuFd) {
        let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        *parked += 1;
        self.changed.notify_all();
        while self.requested.load(Ordering::Acquire) {
            // Jobs are posted under `parked`'s lock too, so none is missed between this
            // check and the wait.
            let mine: Vec<VcpuJob> = {
                let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
                let (mine, rest) = std::mem::take(&mut *jobs)
                    .into_iter()
                    .partition(|(for_id, _)| *for_id == id);
                *jobs = rest;
                mine.into_iter().map(|(_, job)| job).collect()
            };
            if !mine.is_empty() {
                drop(parked);
                for job in mine {
                    job(fd);
                }
                parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
                continue;
            }
            parked = self.changed.wait(parked).unwrap_or_else(|e| e.into_inner());
        }
        *parked -= 1;
        self.changed.notify_all();
    }

    /// Runs `job` on vCPU `id`'s thread, which must be parked (after [`Self::pause`]).
    /// The job reports back through whatever it captured (a channel).
    pub fn run_on(&self, id: u8, job: VcpuJob) {
        let _parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, job));
        self.changed.notify_all();
    }

    /// Returns once all `threads` are parked, or false after `timeout`.
    pub fn pause(&self, threads: &[JoinHandle<()>], timeout: Duration) -> bool {
        self.requested.store(true, Ordering::Release);
        let end = Instant::now() + timeout;
        let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        while *parked < threads.len() {
            for t in threads {
                // A handle that is never joined keeps its thread id valid even after the
                // thread ended, so a kick can only miss, never hit another thread.
                let _ = t.kill(kick_signal());
            }
            if Instant::now() >= end {
                return false;
            }
            // Re-kick every few ms: a kick that lands just before KVM_RUN is lost.
            parked = self
                .changed
                .wait_timeout(parked, Duration::from_millis(5))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Lets the parked vCPUs run again.
    pub fn resume(&self) {
        self.requested.store(false, Ordering::Release);
        let _guard = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        self.changed.notify_all();
    }

    /// Whether a pause is in force.
    pub fn is_paused(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }
}

/// How a `KVM_EXIT_SYSTEM_EVENT` ends the guest. On aarch64 this is how PSCI SYSTEM_OFF
/// and SYSTEM_RESET arrive; x86 guests rarely raise one. The event types are the same
/// uapi constants on every architecture, so the PSCI mapping serves both.
fn system_event_exit(kind: u32) -> GuestExit {
    match system_event_action(kind) {
        SystemEventAction::Shutdown => GuestExit::PowerOff,
        SystemEventAction::Reset => GuestExit::Reset,
        SystemEventAction::Crash => GuestExit::Crashed(format!(
            "the guest reported a crash to KVM (system event {kind})"
        )),
        SystemEventAction::Unknown(other) => GuestExit::Crashed(format!("system event {other}")),
    }
}

/// One vCPU and what its thread needs: the buses its exits go to, memory, and the exit signal.
pub struct Vcpu {
    /// The gate it parks at between runs.
    pub pause: Arc<PauseGate>,
    /// KVM's handle on the vCPU.
    pub fd: VcpuFd,
    /// Its index, 0 for the boot vCPU.
    pub id: u8,
    /// Where port I/O exits go (x86).
    pub pio: Arc<Bus>,
    /// Where MMIO exits go.
    pub mmio: Arc<Bus>,
    /// Guest memory, to show the instruction bytes a crash stopped at.
    pub mem: GuestMemory,
    /// Where the guest's end is reported.
    pub exit: Arc<ExitSignal>,
}

/// Why a vCPU thread did not start. Its own type (not the machine's `VmmError`, which
/// converts it) so that this module needs nothing from `machine`, which builds the vCPUs.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The thread could not be created.
    #[error("Cannot start a vCPU thread")]
    Thread(#[source] std::io::Error),
    /// Its seccomp filter could not be installed.
    #[error(transparent)]
    Seccomp(#[from] super::seccomp::SeccompError),
}

impl Vcpu {
    /// Starts the vCPU thread; its handle is what [`PauseGate::pause`] kicks. Keep it
    /// unjoined while the VMM runs. With `filters`, the thread installs its seccomp
    /// filter before its first KVM_RUN, and this returns only once it has (or failed to).
    pub fn spawn(self, filters: Option<&Filters>) -> Result<JoinHandle<()>, SpawnError> {
        install_kick_handler();
        let filters = filters.cloned();
        let violate = crate::testhook::seccomp_violation_in("vcpu");
        let (done, installed) = std::sync::mpsc::sync_channel(1);
        let handle = std::thread::Builder::new()
            .name(format!("vcpu{}", self.id))
            .spawn(move || {
                let ok = filters.as_ref().map_or(Ok(()), |f| f.install(Role::Vcpu));
                let failed = ok.is_err();
                let _ = done.send(ok);
                if failed {
                    return;
                }
                if violate {
                    crate::testhook::forbidden_syscall();
                }
                self.run()
            })
            .map_err(SpawnError::Thread)?;
        // The sender is dropped without a message only if the thread died first.
        installed
            .recv()
            .unwrap_or(Ok(()))
            .map_err(SpawnError::Seccomp)?;
        Ok(handle)
    }

    fn run(mut self) {
        loop {
            if self.pause.is_paused() {
                if !self.settle() {
                    return;
                }
                self.pause.park(self.id, &mut self.fd);
            }
            if self.step().is_none_or(|_| self.exit.ended()) {
                return;
            }
        }
    }

    /// One KVM_RUN and what follows from it; `None` once the guest has ended (the
    /// outcome is raised).
    fn step(&mut self) -> Option<Ran> {
        match self.run_once() {
            Ok(Ok(ran)) => Some(ran),
            Ok(Err(exit)) => {
                self.exit.raise(exit);
                None
            }
            Err(e) => {
                let why = format!("vCPU {} could not run: {e}", self.id);
                self.exit.raise(GuestExit::Crashed(why));
                None
            }
        }
    }

    /// Before parking: lets KVM finish an instruction whose port or MMIO read the VMM
    /// just answered (its data sits in the run area until the next KVM_RUN), without
    /// running further, so the registers a snapshot reads are whole. False once the
    /// guest has ended.
    fn settle(&mut self) -> bool {
        self.fd.set_kvm_immediate_exit(1);
        // Completing one exit can make another (a string instruction); a few rounds end it.
        let mut ok = true;
        for _ in 0..64 {
            match self.step() {
                Some(Ran::Interrupted) => break,
                Some(Ran::Handled) if !self.exit.ended() => {}
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        self.fd.set_kvm_immediate_exit(0);
        ok
    }

    /// One KVM_RUN; `Err` with the outcome when the guest is done.
    fn run_once(&mut self) -> Result<Result<Ran, GuestExit>, kvm_ioctls::Error> {
        let exit = match self.fd.run() {
            Ok(exit) => exit,
            // A signal interrupted KVM_RUN; nothing happened to the guest.
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                return Ok(Ok(Ran::Interrupted))
            }
            Err(e) => return Err(e),
        };
        // Exits that need more of the vCPU's state are decided after `exit`, which
        // borrows the vCPU, is gone.
        enum Next {
            Continue,
            Done(GuestExit),
            TripleFault,
            Internal,
            Unhandled(String),
        }
        let next = match exit {
            VcpuExit::IoIn(port, data) => {
                self.pio.read(u64::from(port), data);
                Next::Continue
            }
            VcpuExit::IoOut(port, data) => {
                self.pio.write(u64::from(port), data);
                Next::Continue
            }
            VcpuExit::MmioRead(addr, data) => {
                self.mmio.read(addr, data);
                Next::Continue
            }
            VcpuExit::MmioWrite(addr, data) => {
                self.mmio.write(addr, data);
                Next::Continue
            }
            VcpuExit::Intr => Next::Continue,
            // With the in-kernel irqchip KVM handles HLT itself; seeing it here means the
            // guest stopped with nothing left to wake it.
            VcpuExit::Hlt => Next::Done(GuestExit::PowerOff),
            VcpuExit::Shutdown => Next::TripleFault,
            VcpuExit::SystemEvent(kind, _) => Next::Done(system_event_exit(kind)),
            VcpuExit::InternalError => Next::Internal,
            VcpuExit::FailEntry(reason, cpu) => Next::Done(GuestExit::Crashed(format!(
                "KVM could not enter vCPU {} (hardware reason {reason:#x}, host cpu {cpu})",
                self.id
            ))),
            other => Next::Unhandled(format!("{other:?}")),
        };
        Ok(match next {
            Next::Continue => Ok(Ran::Handled),
            Next::Done(exit) => Err(exit),
            Next::TripleFault => Err(GuestExit::Crashed(format!(
                "vCPU {} triple-faulted{}",
                self.id,
                self.where_now()
            ))),
            Next::Internal => Err(self.internal_error()),
            Next::Unhandled(what) => Err(GuestExit::Crashed(format!(
                "vCPU {} made an exit the VMM does not handle ({what}){}",
                self.id,
                self.where_now()
            ))),
        })
    }

    fn internal_error(&mut self) -> GuestExit {
        let (suberror, ndata, data) = {
            let run = self.fd.get_kvm_run();
            // SAFETY: the exit reason is KVM_EXIT_INTERNAL_ERROR, so `internal` is the
            // union member KVM filled in.
            let internal = unsafe { run.__bindgen_anon_1.internal };
            (internal.suberror, internal.ndata, internal.data)
        };
        let kind = match suberror {
            1 => "KVM could not emulate an instruction".to_string(),
            2 => "a simultaneous exception hit while delivering another".to_string(),
            3 => "an event was delivered while the vCPU was in a bad state".to_string(),
            n => format!("KVM internal error, suberror {n}"),
        };
        let extra: Vec<String> = data
            .iter()
            .take(ndata.min(16) as usize)
            .map(|d| format!("{d:#x}"))
            .collect();
        let at = self.where_now();
        let mut msg = format!("vCPU {}: {kind}{at}", self.id);
        if !extra.is_empty() {
            msg.push_str(&format!(" (KVM data: {})", extra.join(" ")));
        }
        if suberror == 1 && cfg!(target_arch = "x86_64") {
            msg.push_str(
                ". On a software-nested KVM (kvm_pvm) some instructions cannot be emulated; \
                 boot a kernel built by guest-images/build.sh, which avoids them",
            );
        }
        GuestExit::Crashed(msg)
    }

    /// " at RIP 0x… (guest-physical 0x…), code: 0f 0b …" or "" when it cannot be read.
    #[cfg(target_arch = "x86_64")]
    fn where_now(&self) -> String {
        use vm_memory::{Bytes, GuestAddress};
        let Ok(regs) = self.fd.get_regs() else {
            return String::new();
        };
        let mut s = format!(" at RIP {:#x}", regs.rip);
        let gpa = match self.fd.translate_gva(regs.rip) {
            Ok(t) if t.valid != 0 => Some(t.physical_address),
            _ => None,
        };
        if let Some(gpa) = gpa {
            s.push_str(&format!(" (guest-physical {gpa:#x})"));
            let mut code = [0u8; 16];
            if self.mem.read_slice(&mut code, GuestAddress(gpa)).is_ok() {
                let hex: Vec<String> = code.iter().map(|b| format!("{b:02x}")).collect();
                s.push_str(&format!(", instruction bytes: {}", hex.join(" ")));
            }
        }
        s
    }

    /// " at PC 0x…" or "" when it cannot be read.
    #[cfg(target_arch = "aarch64")]
    fn where_now(&self) -> String {
        use super::arch::aarch64::regs::{core_reg_id, offsets::PC};
        let mut pc = [0u8; 8];
        match self.fd.get_one_reg(core_reg_id(PC), &mut pc) {
            Ok(_) => format!(" at PC {:#x}", u64::from_ne_bytes(pc)),
            Err(_) => String::new(),
        }
    }

    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    fn where_now(&self) -> String {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_events_map_like_psci_says() {
        assert_eq!(
            system_event_exit(kvm_bindings::KVM_SYSTEM_EVENT_SHUTDOWN),
            GuestExit::PowerOff
        );
        assert_eq!(
            system_event_exit(kvm_bindings::KVM_SYSTEM_EVENT_RESET),
            GuestExit::Reset
        );
        assert!(matches!(
            system_event_exit(kvm_bindings::KVM_SYSTEM_EVENT_CRASH),
            GuestExit::Crashed(_)
        ));
        assert_eq!(
            system_event_exit(99),
            GuestExit::Crashed("system event 99".into())
        );
    }
}
