//! The guest console sink: forwards UART output to a file or stdout and watches the
//! kernel's own lines for milestones (init started, powered off, panicked).
//!
//! Watching the console is how the VMM learns a guest without ACPI has powered off: the
//! kernel prints "reboot: Power down" (or "System halted") and then halts for good.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::exit::{ExitSignal, GuestExit};

/// Milestones a caller can ask about through the control socket.
pub struct GuestStatus {
    /// When the VMM started; the milestones are milliseconds since then.
    pub started: Instant,
    init_started_ms: AtomicU64,
    init_started: AtomicBool,
    ready_ms: AtomicU64,
}

/// A guest image's init prints this when it is ready for work.
pub const READY_MARKER: &[u8] = b"EC2LAB-GUEST-READY";

impl GuestStatus {
    /// No milestones yet; times count from `started`.
    pub fn new(started: Instant) -> Self {
        Self {
            started,
            init_started_ms: AtomicU64::new(0),
            init_started: AtomicBool::new(false),
            ready_ms: AtomicU64::new(0),
        }
    }

    /// Milliseconds from VMM start to the kernel running init, once it has.
    pub fn init_started_ms(&self) -> Option<u64> {
        self.init_started
            .load(Ordering::Acquire)
            .then(|| self.init_started_ms.load(Ordering::Relaxed))
    }

    /// Milliseconds from VMM start to the image's ready marker, once printed.
    pub fn ready_ms(&self) -> Option<u64> {
        match self.ready_ms.load(Ordering::Acquire) {
            0 => None,
            ms => Some(ms),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        (self.started.elapsed().as_millis() as u64).max(1)
    }
}

const LINE_MAX: usize = 256;

/// A client attached to the serial console through `--console-sock`; it sees the output
/// from the moment it connects.
pub type ConsoleClient = Arc<std::sync::Mutex<Option<std::os::unix::net::UnixStream>>>;

/// The serial port's output: copied to the console file and any attached client, and read line by line for milestones.
pub struct ConsoleSink {
    out: Box<dyn Write + Send>,
    client: ConsoleClient,
    line: [u8; LINE_MAX],
    len: usize,
    status: Arc<GuestStatus>,
    exit: Arc<ExitSignal>,
}

impl ConsoleSink {
    /// A sink writing to `out` that records milestones in `status` and ends the guest through `exit`.
    pub fn new(
        out: Box<dyn Write + Send>,
        status: Arc<GuestStatus>,
        exit: Arc<ExitSignal>,
    ) -> Self {
        Self {
            out,
            client: ConsoleClient::default(),
            line: [0; LINE_MAX],
            len: 0,
            status,
            exit,
        }
    }

    /// Where an attached console client is kept; the controller fills it.
    pub fn client(&self) -> ConsoleClient {
        self.client.clone()
    }

    fn end_of_line(&mut self) {
        let line = &self.line[..self.len];
        if contains(line, b"Run ") && contains(line, b" as init process") {
            self.status
                .init_started_ms
                .store(self.status.elapsed_ms(), Ordering::Relaxed);
            self.status.init_started.store(true, Ordering::Release);
        } else if contains(line, READY_MARKER) && self.status.ready_ms().is_none() {
            self.status
                .ready_ms
                .store(self.status.elapsed_ms(), Ordering::Release);
        } else if contains(line, b"reboot: Power down") || contains(line, b"reboot: System halted")
        {
            self.exit.raise(GuestExit::PowerOff);
        } else if contains(line, b"Kernel panic - not syncing") {
            self.exit.raise(GuestExit::Panic);
        }
        self.len = 0;
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

impl Write for ConsoleSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &b in buf {
            match b {
                b'\n' => self.end_of_line(),
                b'\r' => {}
                _ if self.len < LINE_MAX => {
                    self.line[self.len] = b;
                    self.len += 1;
                }
                _ => {}
            }
        }
        // The guest must never stall on a full disk or a closed pipe: drop output instead.
        let _ = self.out.write_all(buf);
        let mut client = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = client.as_mut() {
            // A client that cannot keep up (non-blocking socket full) or has gone is dropped.
            if c.write_all(buf).is_err() {
                *client = None;
            }
        }
        if buf.contains(&b'\n') {
            let _ = self.out.flush();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_milestones() {
        let status = Arc::new(GuestStatus::new(Instant::now()));
        let exit = Arc::new(ExitSignal::new().unwrap());
        let mut sink = ConsoleSink::new(Box::new(io::sink()), status.clone(), exit.clone());
        sink.write_all(b"[ 1.0] Run /sbin/init as init process\r\n")
            .unwrap();
        assert!(status.init_started_ms().is_some());
        assert!(status.ready_ms().is_none());
        sink.write_all(b"EC2LAB-GUEST-READY\n").unwrap();
        assert!(status.ready_ms().is_some());
        assert_eq!(exit.get(), None);
        sink.write_all(b"[ 9.9] reboot: Power down\n").unwrap();
        assert_eq!(exit.get(), Some(GuestExit::PowerOff));
    }

    #[test]
    fn panic_is_a_crash() {
        let status = Arc::new(GuestStatus::new(Instant::now()));
        let exit = Arc::new(ExitSignal::new().unwrap());
        let mut sink = ConsoleSink::new(Box::new(io::sink()), status, exit.clone());
        sink.write_all(b"Kernel panic - not syncing: VFS: Unable to mount root fs\n")
            .unwrap();
        assert_eq!(exit.get(), Some(GuestExit::Panic));
    }
}
