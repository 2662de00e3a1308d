//! The VMM's main thread: answers the control socket, forwards the terminal to the
//! guest console, and enforces graceful-shutdown deadlines. vCPU threads never block on
//! any of this.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_manager::{EventOps, EventSet, Events, MutEventSubscriber};
use vmm_sys_util::timerfd::TimerFd;

use super::api::{self, AfterSnapshot, Request, Response, Status, DEFAULT_SHUTDOWN_SECS};
use super::console::{ConsoleSink, GuestStatus};
use super::devices::i8042::{CTRL_ALT_DEL, I8042};
use super::devices::serial::Serial;
use super::devices::virtio::disk::DiskFile;
use super::exit::{ExitSignal, GuestExit};
use super::lease::Holders;
use super::machine::{DiskSlots, Machine, NetDevices};
use super::metrics::{self, BlockCounters, DiskMetrics, Metrics, NetCounters, NetMetrics};
use super::snapshot::take::Sources;
use super::vcpu::PauseGate;

/// Console input held for the guest (a paste, a script typed over the console socket);
/// beyond this it is dropped, as a real serial line would.
const PENDING_INPUT_MAX: usize = 16 * 1024;
/// How often held input is offered to the UART again.
const INPUT_PUMP: Duration = Duration::from_millis(5);
/// Console input left unread this long gets its interrupt raised again.
const INPUT_STALL: Duration = Duration::from_millis(200);

/// How long a pause may take before it is reported as failed: vCPUs stop between two
/// exits, which is microseconds on hardware and milliseconds on a nested KVM.
const PAUSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The answer to a graceful shutdown on a machine without an i8042 to type Ctrl-Alt-Del.
pub const NO_GRACEFUL_SHUTDOWN: &str = "graceful shutdown needs the i8042 (x86 only); use stop";

/// Ctrl-A then `x` on the terminal stops the guest, as in QEMU: in raw mode Ctrl-C goes
/// to the guest.
const ESCAPE: u8 = 0x01;

/// The VMM's main-thread event handler: control and console sockets, terminal input, the shutdown deadline, pause and hot-plugged disks.
pub struct Controller {
    /// The control socket (`--api-sock`), if any.
    pub listener: Option<UnixListener>,
    console_listener: Option<UnixListener>,
    console_conn: Option<std::os::unix::net::UnixStream>,
    /// Where the guest's outcome is reported; the event loop ends once it is set.
    pub exit: Arc<ExitSignal>,
    /// None where there is no i8042 (aarch64): graceful shutdown is then refused.
    pub i8042: Option<Arc<Mutex<I8042>>>,
    /// The UART, fed with console and terminal input.
    pub serial: Arc<Mutex<Serial<ConsoleSink>>>,
    /// Whether terminal input goes to the guest (an interactive console).
    pub forward_stdin: bool,
    /// The guest's milestones, for `status`.
    pub guest: Arc<GuestStatus>,
    pause: Arc<PauseGate>,
    /// Who holds the guest paused (`lease.rs`).
    holders: Holders,
    disks: DiskSlots,
    nets: NetDevices,
    /// Each network device's tap fd, in `nets` order, to tell events apart.
    net_fds: Vec<std::os::fd::RawFd>,
    /// Each network device's tap, MAC and counters, in `nets` order (for `metrics`).
    net_counters: Vec<(String, [u8; 6], Arc<NetCounters>)>,
    /// Each disk slot's counters and the serial of the media in it now (for `metrics`).
    disk_counters: Vec<(Option<String>, Arc<BlockCounters>)>,
    /// When the VMM started, ms since the epoch.
    started_unix_ms: i64,
    vcpu_threads: Vec<std::thread::JoinHandle<()>>,
    /// The parts of the status that do not change.
    pub status: Status,
    deadline: TimerFd,
    /// Console input the UART's FIFO had no room for yet, fed in as the guest reads.
    pending_input: std::collections::VecDeque<u8>,
    input_pump: TimerFd,
    /// Bytes in the UART's FIFO the guest has not read, and since when that count stands.
    input_stall: Option<(usize, Instant)>,
    shutting_down: bool,
    escape_pending: bool,
    /// What a `snapshot` request reads; `None` in unit tests without a VM.
    snapshot: Option<Sources>,
}

impl Controller {
    /// Takes over `machine`'s shared parts and the running vCPU threads.
    pub fn new(
        machine: &Machine,
        listener: Option<UnixListener>,
        console_listener: Option<UnixListener>,
        forward_stdin: bool,
        vcpu_threads: Vec<std::thread::JoinHandle<()>>,
        status: Status,
    ) -> std::io::Result<Self> {
        let net_counters = machine
            .nets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|n| {
                let mut n = n.lock().unwrap_or_else(|e| e.into_inner());
                let dev = n.device_mut();
                (dev.backend().name().to_string(), dev.mac(), dev.counters())
            })
            .collect();
        let disk_counters = machine
            .disks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|d| {
                let mut d = d.lock().unwrap_or_else(|e| e.into_inner());
                let b = d.device_mut();
                (b.has_media().then(|| b.serial()).flatten(), b.counters())
            })
            .collect();
        let started_unix_ms =
            crate::clock::now_ms() - machine.guest.started.elapsed().as_millis() as i64;
        Ok(Self {
            net_counters,
            disk_counters,
            started_unix_ms,
            listener,
            console_listener,
            console_conn: None,
            exit: machine.exit.clone(),
            i8042: machine.i8042.clone(),
            serial: machine.serial.clone(),
            forward_stdin,
            guest: machine.guest.clone(),
            pause: machine.pause.clone(),
            holders: Holders::default(),
            disks: machine.disks.clone(),
            nets: machine.nets.clone(),
            net_fds: machine
                .nets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|n| {
                    n.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .device_mut()
                        .backend_fd()
                })
                .collect(),
            vcpu_threads,
            status,
            deadline: TimerFd::new()?,
            pending_input: std::collections::VecDeque::with_capacity(PENDING_INPUT_MAX),
            input_pump: TimerFd::new()?,
            input_stall: None,
            shutting_down: false,
            escape_pending: false,
            snapshot: Some(Sources::of(machine)),
        })
    }

    /// The answer to a `status` request: the fixed parts plus the live state.
    pub fn status(&self) -> Status {
        Status {
            state: if self.pause.is_paused() {
                "paused"
            } else if self.shutting_down {
                "shutting-down"
            } else {
                "running"
            }
            .into(),
            uptime_ms: self.guest.started.elapsed().as_millis() as u64,
            init_started_ms: self.guest.init_started_ms(),
            ready_ms: self.guest.ready_ms(),
            ..self.status.clone()
        }
    }

    /// Ctrl-Alt-Del to the guest, and a hard stop if it is still up at the deadline. Asking
    /// again types the keys again (a guest still booting may have missed them) but keeps
    /// the first deadline, so repeated requests cannot postpone the hard stop. Without an
    /// i8042 (aarch64) nothing can ask the guest to power off: the request is refused,
    /// and no deadline is armed.
    pub fn shutdown(&mut self, timeout: Duration) -> Result<(), String> {
        let Some(i8042) = &self.i8042 else {
            return Err(NO_GRACEFUL_SHUTDOWN.into());
        };
        i8042
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .type_keys(&CTRL_ALT_DEL);
        if !self.shutting_down {
            self.shutting_down = true;
            self.deadline
                .reset(timeout.max(Duration::from_millis(1)), None)
                .map_err(|e| format!("could not arm the shutdown deadline: {e}"))?;
        }
        Ok(())
    }

    /// The answer to `metrics`: every counter, read without locking a device.
    pub fn metrics(&self) -> Metrics {
        let uptime_ns = self.guest.started.elapsed().as_nanos() as u64;
        let per_vcpu: Vec<u64> = self
            .vcpu_threads
            .iter()
            .map(metrics::thread_cpu_ns)
            .collect();
        Metrics {
            started_unix_ms: self.started_unix_ms,
            read_unix_ms: crate::clock::now_ms(),
            uptime_ns,
            vcpu_cpu_ns: per_vcpu.iter().sum(),
            vcpu_thread_cpu_ns: per_vcpu,
            vcpus: self.vcpu_threads.len() as u32,
            nets: self
                .net_counters
                .iter()
                .map(|(tap, mac, c)| NetMetrics::read(tap, *mac, c))
                .collect(),
            disks: self
                .disk_counters
                .iter()
                .enumerate()
                .map(|(slot, (serial, c))| DiskMetrics::read(slot, serial.as_deref(), c))
                .collect(),
        }
    }

    fn ok(&self) -> Response {
        Response {
            ok: true,
            status: Some(self.status()),
            ..Default::default()
        }
    }

    /// Answers `req`; `file` is a descriptor its client passed with it (a disk to attach).
    fn handle(&mut self, req: Request, file: Option<std::fs::File>) -> Response {
        match req {
            Request::Status => self.ok(),
            Request::Shutdown { timeout_secs } => {
                let secs = timeout_secs.unwrap_or(DEFAULT_SHUTDOWN_SECS);
                match self.shutdown(Duration::from_secs(secs)) {
                    Ok(()) => self.ok(),
                    Err(e) => Response::error(e),
                }
            }
            Request::Pause | Request::PauseLease => match self.pause_vcpus() {
                Ok(()) => {
                    // A lease is recorded by `accept`, which has its connection.
                    if req == Request::Pause {
                        self.holders.hold();
                    }
                    self.ok()
                }
                Err(e) => Response::error(e),
            },
            Request::Resume => {
                if self.holders.release() {
                    self.pause.resume();
                }
                self.ok()
            }
            Request::Metrics => Response {
                ok: true,
                metrics: Some(self.metrics()),
                ..Default::default()
            },
            Request::AttachDisk {
                slot,
                path,
                read_only,
                serial,
                replace,
            } => match self.attach_disk(slot, &path, file, read_only, serial.as_deref(), replace) {
                Ok(()) => {
                    self.note_media(slot);
                    self.ok()
                }
                Err(e) => Response::error(e),
            },
            Request::DetachDisk { slot } => match self.with_slot(slot, |b| {
                b.update_config(|dev| dev.set_backing(None));
                Ok(())
            }) {
                Ok(()) => {
                    self.note_media(slot);
                    self.ok()
                }
                Err(e) => Response::error(e),
            },
            Request::Snapshot { dir, then } => self.snapshot(&dir, then),
            Request::ConsoleInput { text } => {
                if text.len() > PENDING_INPUT_MAX - self.pending_input.len() {
                    return Response::error("the console's input queue is full; try again later");
                }
                self.queue_input(text.as_bytes());
                self.ok()
            }
            Request::Stop => {
                self.exit.raise(GuestExit::Stopped(
                    "hard stop requested on the control socket".into(),
                ));
                Response {
                    ok: true,
                    ..Default::default()
                }
            }
        }
    }

    /// Stops the vCPUs; on failure they run on and the answer says so.
    fn pause_vcpus(&mut self) -> Result<(), String> {
        if self.pause.pause(&self.vcpu_threads, PAUSE_TIMEOUT) {
            return Ok(());
        }
        if self.holders.free() {
            self.pause.resume();
        }
        Err(format!(
            "the vCPUs did not stop within {PAUSE_TIMEOUT:?}; the guest keeps running"
        ))
    }

    /// A lease's connection spoke or closed: either way its lease ends (a `resume` line
    /// is answered), and the guest runs again if nobody else holds it.
    fn lease_event(&mut self, fd: std::os::fd::RawFd, ops: &mut EventOps) {
        let asked = self
            .holders
            .lease_of(fd)
            .map(|c| matches!(api::read_request(c), Ok(Request::Resume)));
        let Some((conn, free)) = self.holders.end_lease(fd) else {
            return;
        };
        let _ = ops.remove(Events::new(&conn, EventSet::IN));
        if free {
            self.pause.resume();
        }
        if asked == Some(true) {
            api::write_response(&conn, &self.ok());
        }
    }

    /// Saves the whole VM to `dir`, then resumes (if it was running) or ends the VMM.
    fn snapshot(&mut self, dir: &std::path::Path, then: AfterSnapshot) -> Response {
        let Some(sources) = &self.snapshot else {
            return Response::error("this VMM has no machine to snapshot");
        };
        let was_paused = self.pause.is_paused();
        let taken = sources.take(&self.pause, &self.vcpu_threads, PAUSE_TIMEOUT, dir);
        let exit = matches!(then, AfterSnapshot::Exit) && taken.is_ok();
        if exit {
            // The vCPUs stay parked: the guest's next instruction belongs to the restore.
            self.exit
                .raise(GuestExit::Snapshotted(dir.display().to_string()));
        } else if !was_paused {
            self.pause.resume();
        }
        match taken {
            Ok(done) => Response {
                ok: true,
                snapshot: Some(done),
                ..Default::default()
            },
            Err(e) => Response::error(crate::causes::chain(&e)),
        }
    }

    /// Records which media a slot holds now, for `metrics` (after attach or detach).
    fn note_media(&mut self, slot: usize) {
        let mut serial = None;
        let _ = self.with_slot(slot, |dev| {
            let b = dev.device_mut();
            serial = b.has_media().then(|| b.serial()).flatten();
            Ok(())
        });
        if let Some(entry) = self.disk_counters.get_mut(slot) {
            entry.0 = serial;
        }
    }

    fn with_slot(
        &self,
        slot: usize,
        f: impl FnOnce(
            &mut crate::vmm::devices::virtio::MmioTransport<crate::vmm::devices::virtio::Block>,
        ) -> Result<(), String>,
    ) -> Result<(), String> {
        let disks = self.disks.lock().unwrap_or_else(|e| e.into_inner());
        let dev = disks.get(slot).ok_or_else(|| {
            format!(
                "there is no disk slot {slot}; this guest has {} (0-based)",
                disks.len()
            )
        })?;
        let mut dev = dev.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut dev)
    }

    /// Opens the image first, so a bad path changes nothing in the guest. A jailed VMM
    /// cannot open `path`: its client passes the open `file`, and `path` only names it.
    fn attach_disk(
        &self,
        slot: usize,
        path: &std::path::Path,
        file: Option<std::fs::File>,
        read_only: bool,
        serial: Option<&str>,
        replace: bool,
    ) -> Result<(), String> {
        self.with_slot(slot, |dev| {
            dev.update_config(|b| {
                if b.has_media() && !replace {
                    return Err(format!(
                        "disk slot {slot} already holds a disk; detach it first"
                    ));
                }
                // The same file again (a volume that grew) keeps its open file and lock:
                // a second open would find the disk locked by this very VMM.
                let same = |d: &&DiskFile| match &file {
                    Some(f) => d.is_same(f),
                    None => d.is_file(path),
                };
                let disk = match (b.backing().filter(|d| replace && same(d)), file) {
                    (Some(d), _) => d.reopened(path),
                    (None, Some(f)) => DiskFile::from_file(f, path, read_only),
                    (None, None) => DiskFile::open(path, read_only),
                }
                .map_err(|e| crate::causes::chain(&e))?;
                if let Some(s) = serial {
                    b.set_serial(s).map_err(|e| e.to_string())?;
                }
                b.set_backing(Some(disk));
                Ok(())
            })
        })
    }

    /// Frames wait on a tap: move them into the guest's receive buffers. The device keeps
    /// what does not fit until the guest posts more buffers.
    fn net_ready(&mut self, index: usize) {
        let nets = self.nets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dev) = nets.get(index) {
            let mut dev = dev.lock().unwrap_or_else(|e| e.into_inner());
            // A queue error means a broken guest driver; its next notify resets the device.
            let _ = dev.device_mut().rx_ready();
        }
    }

    /// Holds console input and feeds the UART what fits now.
    fn queue_input(&mut self, bytes: &[u8]) {
        let room = PENDING_INPUT_MAX - self.pending_input.len();
        self.pending_input.extend(&bytes[..bytes.len().min(room)]);
        self.pump_input();
    }

    /// Feeds the UART what fits, and watches input the guest has not read: when its FIFO
    /// holds the same bytes for [`INPUT_STALL`], the receive interrupt is raised again.
    fn pump_input(&mut self) {
        let mut serial = self.serial.lock().unwrap_or_else(|e| e.into_inner());
        if !self.pending_input.is_empty() {
            let taken = serial.enqueue_input(self.pending_input.make_contiguous());
            self.pending_input.drain(..taken);
        }
        let unread = serial.unread();
        if unread == 0 {
            self.input_stall = None;
        } else {
            match self.input_stall {
                Some((n, since)) if n == unread => {
                    if since.elapsed() >= INPUT_STALL {
                        serial.kick();
                        self.input_stall = Some((unread, Instant::now()));
                    }
                }
                _ => self.input_stall = Some((unread, Instant::now())),
            }
        }
        drop(serial);
        if !self.pending_input.is_empty() {
            // The guest has not read its FIFO yet: offer the rest again shortly.
            let _ = self.input_pump.reset(INPUT_PUMP, None);
        } else if unread > 0 {
            let _ = self.input_pump.reset(INPUT_STALL / 2, None);
        }
    }

    /// A new console client replaces the previous one, as on a serial line.
    fn console_accept(&mut self, ops: &mut EventOps) {
        let Some(listener) = &self.console_listener else {
            return;
        };
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        self.console_drop(ops);
        let Ok(out) = stream.try_clone() else { return };
        let client = self
            .serial
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .writer_mut()
            .client();
        *client.lock().unwrap_or_else(|e| e.into_inner()) = Some(out);
        let _ = ops.add(Events::new(&stream, EventSet::IN));
        self.console_conn = Some(stream);
    }

    fn console_drop(&mut self, ops: &mut EventOps) {
        if let Some(old) = self.console_conn.take() {
            let _ = ops.remove(Events::new(&old, EventSet::IN));
            let client = self
                .serial
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .writer_mut()
                .client();
            *client.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    fn console_input(&mut self, ops: &mut EventOps) {
        let mut buf = [0u8; 64];
        let n = match self.console_conn.as_mut().map(|c| c.read(&mut buf)) {
            Some(Ok(n)) if n > 0 => n,
            Some(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            _ => return self.console_drop(ops),
        };
        self.queue_input(&buf[..n]);
    }

    fn accept(&mut self, ops: &mut EventOps) {
        let Some(listener) = &self.listener else {
            return;
        };
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let req = api::read_request_with_file(&stream);
        let lease = matches!(req, Ok((Request::PauseLease, _)));
        let resp = match req {
            Ok((req, file)) => self.handle(req, file),
            Err(e) => Response::error(e),
        };
        api::write_response(&stream, &resp);
        if lease && resp.ok {
            // The lease lasts while the connection does: its hang-up (the holder's exit,
            // even by SIGKILL) or a `resume` line on it wakes this loop.
            if ops.add(Events::new(&stream, EventSet::IN)).is_ok() {
                self.holders.lease(stream);
            } else if self.holders.free() {
                self.pause.resume();
            }
        }
        // Answering (JSON, status, metrics) ran code the guest's I/O does not need: let it
        // go again, as set-up's did (supervisors and the monitor ask every few seconds).
        super::footprint::drop_startup_pages();
    }

    fn forward_stdin(&mut self, ops: &mut EventOps) {
        let mut buf = [0u8; 64];
        let n = match std::io::stdin().lock().read(&mut buf) {
            Ok(0) | Err(_) => {
                // Terminal gone: stop listening rather than spin on EOF.
                let _ = ops.remove(Events::new(&std::io::stdin(), EventSet::IN));
                return;
            }
            Ok(n) => n,
        };
        let mut out = [0u8; 64];
        let mut len = 0;
        for &b in &buf[..n] {
            if self.escape_pending {
                self.escape_pending = false;
                if b == b'x' {
                    self.exit
                        .raise(GuestExit::Stopped("Ctrl-A x typed on the console".into()));
                    return;
                }
                if b != ESCAPE {
                    out[len] = ESCAPE;
                    len += 1;
                }
            } else if b == ESCAPE {
                self.escape_pending = true;
                continue;
            }
            if len < out.len() {
                out[len] = b;
                len += 1;
            }
        }
        self.queue_input(&out[..len]);
    }
}

impl MutEventSubscriber for Controller {
    fn process(&mut self, events: Events, ops: &mut EventOps) {
        let fd = events.fd();
        if fd == self.exit.evt.as_raw_fd() {
            let _ = self.exit.evt.read();
        } else if fd == self.input_pump.as_raw_fd() {
            let _ = self.input_pump.wait();
            self.pump_input();
        } else if fd == self.deadline.as_raw_fd() {
            let _ = self.deadline.wait();
            self.exit.raise(GuestExit::Stopped(
                "the guest did not power off before the shutdown deadline".into(),
            ));
        } else if self.listener.as_ref().map(|l| l.as_raw_fd()) == Some(fd) {
            self.accept(ops);
        } else if self.holders.lease_of(fd).is_some() {
            self.lease_event(fd, ops);
        } else if fd == libc::STDIN_FILENO {
            self.forward_stdin(ops);
        } else if let Some(i) = self.net_fds.iter().position(|f| *f == fd) {
            self.net_ready(i);
        } else if self.console_listener.as_ref().map(|l| l.as_raw_fd()) == Some(fd) {
            self.console_accept(ops);
        } else if self.console_conn.as_ref().map(|c| c.as_raw_fd()) == Some(fd) {
            self.console_input(ops);
        }
    }

    fn init(&mut self, ops: &mut EventOps) {
        // Registration only fails on a bad fd, which would be a bug here.
        ops.add(Events::new(&self.exit.evt, EventSet::IN))
            .expect("register the exit event");
        ops.add(Events::new(&self.deadline, EventSet::IN))
            .expect("register the deadline timer");
        ops.add(Events::new(&self.input_pump, EventSet::IN))
            .expect("register the input timer");
        if let Some(l) = &self.listener {
            ops.add(Events::new(l, EventSet::IN))
                .expect("register the control socket");
        }
        if let Some(l) = &self.console_listener {
            ops.add(Events::new(l, EventSet::IN))
                .expect("register the console socket");
        }
        if self.forward_stdin {
            ops.add(Events::new(&std::io::stdin(), EventSet::IN))
                .expect("register stdin");
        }
        // Edge-triggered: while the guest has no receive buffers, frames stay in the tap
        // and a level-triggered poll would spin on them.
        for fd in &self.net_fds {
            ops.add(Events::new_raw(
                *fd,
                EventSet::IN | EventSet::EDGE_TRIGGERED,
            ))
            .expect("register a tap");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controller(i8042: Option<Arc<Mutex<I8042>>>) -> Controller {
        let exit = Arc::new(ExitSignal::new().unwrap());
        let guest = Arc::new(GuestStatus::new(std::time::Instant::now()));
        let sink = ConsoleSink::new(Box::new(std::io::sink()), guest.clone(), exit.clone());
        let irq = vmm_sys_util::eventfd::EventFd::new(libc::EFD_NONBLOCK).unwrap();
        Controller {
            listener: None,
            console_listener: None,
            console_conn: None,
            exit,
            i8042,
            serial: Arc::new(Mutex::new(Serial::new(irq, sink))),
            forward_stdin: false,
            guest,
            pause: Arc::new(PauseGate::default()),
            holders: Holders::default(),
            disks: Default::default(),
            nets: Default::default(),
            net_fds: Vec::new(),
            net_counters: Vec::new(),
            disk_counters: Vec::new(),
            started_unix_ms: 0,
            vcpu_threads: Vec::new(),
            status: Status::default(),
            deadline: TimerFd::new().unwrap(),
            pending_input: std::collections::VecDeque::new(),
            input_pump: TimerFd::new().unwrap(),
            input_stall: None,
            shutting_down: false,
            escape_pending: false,
            snapshot: None,
        }
    }

    #[test]
    fn graceful_shutdown_without_i8042_says_to_use_stop() {
        let mut c = controller(None);
        let resp = c.handle(Request::Shutdown { timeout_secs: None }, None);
        assert!(!resp.ok);
        assert_eq!(resp.error.as_deref(), Some(NO_GRACEFUL_SHUTDOWN));
        assert_eq!(c.status().state, "running");
        assert!(c.exit.get().is_none());
    }
}
