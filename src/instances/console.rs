//! An instance's console across boots: where each boot begins in its console log, which
//! lines belong to the current boot, and the serial console socket.
//!
//! The log keeps every boot's output (each VMM appends to it), so get-console-output still
//! shows what happened before a reboot or a stop. A question such as "is the guest ready?"
//! must only look at the current boot, or a stopped-and-started instance looks ready
//! before its new VMM even exists. So each boot begins with a line ec2lab writes itself,
//! `EC2LAB-BOOT <n> <instance> <time>`, and [`current_boot`] is what follows the last one.
//! It is the one notion of the current boot: [`ready`], the lab's progress lines and the
//! guest's health (`guest_status`, describe-instances' `Ec2LabInfo.GuestStatus`) all read it.
//!
//! The line is written before anyone can be told the boot has begun: by start-instances
//! before it records `pending`, and by the supervisor before it starts each VMM (the first
//! boot, reboots, the restart around create-image). A guest could print such a line
//! itself; that only confuses readers about that same guest, which could as well print its
//! ready marker at any time.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use thiserror::Error;

use super::record::Instance;
use super::rundir::RunDir;
use super::state::State;
use crate::error::Ec2Error;
use crate::store::{iso8601_now, Store};
use crate::vmm::console::READY_MARKER;

/// How every boot line begins.
pub const BOOT_LINE_PREFIX: &str = "EC2LAB-BOOT ";

/// How long [`connect`] waits for a console whose VMM is being started. The supervisor
/// starts it within a poll (0.1 s) of start-instances or a reboot; a loaded host can take
/// seconds more to spawn the process.
pub const CONNECT_WAIT: Duration = Duration::from_secs(30);

/// What can go wrong with an instance's console.
#[derive(Debug, Error)]
pub enum ConsoleError {
    /// The boot line cannot be appended to the console log.
    #[error(
        "Cannot mark the start of boot {boot} of {id} in its console log {path}; check that \
         the state directory is writable and its disk not full, then try again"
    )]
    BootLine {
        /// The boot's number.
        boot: i64,
        /// The instance.
        id: String,
        /// The console log.
        path: PathBuf,
        /// Why the log cannot be written.
        #[source]
        source: std::io::Error,
    },
    /// The serial console socket did not accept a connection in time.
    #[error(
        "The serial console of {id} did not answer at {path} within {waited_secs} s. Its VMM \
         has not started (or has died): see ec2lab describe-instances --instance-ids {id}, \
         and supervisor.log and vmm.log next to the socket; then try again"
    )]
    NotReachable {
        /// The instance.
        id: String,
        /// The console socket.
        path: PathBuf,
        /// How long it was waited for.
        waited_secs: u64,
        /// The last connection error.
        #[source]
        source: std::io::Error,
    },
}

impl From<ConsoleError> for Ec2Error {
    fn from(e: ConsoleError) -> Self {
        Ec2Error::internal(crate::causes::chain(&e))
    }
}

/// The line that begins boot `boot` of instance `id`.
pub fn boot_line(boot: i64, id: &str) -> String {
    format!("{BOOT_LINE_PREFIX}{boot} {id} {}", iso8601_now())
}

/// What to append to a log that ends with `tail` so that `line` begins a boot on a line of
/// its own; None when the log already ends with a boot line (start-instances marked this
/// boot and the supervisor is now starting its VMM, or a supervisor is starting again).
fn to_append(tail: &[u8], line: &str) -> Option<String> {
    let text = String::from_utf8_lossy(tail);
    let last = text
        .trim_end_matches('\n')
        .rsplit('\n')
        .next()
        .unwrap_or("");
    if text.ends_with('\n') && last.starts_with(BOOT_LINE_PREFIX) {
        return None;
    }
    // The previous boot may have ended mid-line (a hard stop, a crash).
    let sep = if tail.is_empty() || tail.ends_with(b"\n") {
        ""
    } else {
        "\n"
    };
    Some(format!("{sep}{line}\n"))
}

/// Appends the line that begins boot `boot` to the console log at `path`, unless the log
/// already ends with a boot line. Call it only while no VMM writes to the log.
pub fn begin_boot(path: &Path, boot: i64, id: &str) -> Result<(), ConsoleError> {
    let err = |source| ConsoleError::BootLine {
        boot,
        id: id.into(),
        path: path.into(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    // The VMM owns the log's directory: never follow a link it may have left there.
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(err)?;
    let len = f.metadata().map_err(err)?.len();
    let mut tail = Vec::new();
    f.seek(SeekFrom::Start(len.saturating_sub(512)))
        .and_then(|_| f.read_to_end(&mut tail))
        .map_err(err)?;
    if let Some(text) = to_append(&tail, &boot_line(boot, id)) {
        f.write_all(text.as_bytes()).map_err(err)?;
    }
    Ok(())
}

/// Appends ec2lab's own `lines` (warnings, failures) to the console log at `path`, where a
/// user reading `get-console-output` finds them; best effort. Call it only while no VMM
/// writes to the log.
pub fn note(path: &Path, lines: &[String]) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut f) = crate::fsutil::append_nofollow(path) {
        for l in lines {
            let _ = writeln!(f, "{l}");
        }
    }
}

/// start-instances: begins the next boot of each stopped instance among `ids`, before
/// `pending` is recorded, so that whoever sees the instance start does not find the
/// previous boot's lines (its ready marker) counted for this one. A start that then fails
/// leaves the line behind; the next start reuses it.
pub fn begin_starts(store: &Store, ids: &[String]) -> Result<(), Ec2Error> {
    for id in ids {
        let inst = Instance::get(store.conn(), id)?;
        // A hibernated instance resumes its boot: its ready marker stays current.
        if inst.state == State::Stopped && super::hibernation::saved(store, &inst).is_none() {
            let log = RunDir::of(store, id).console();
            begin_boot(&log, inst.boots + 1, id)?;
        }
    }
    Ok(())
}

/// The current boot's part of a console log (or of its tail, as get-console-output gives
/// it), from its boot line on. Text with no boot line is all one boot: a log from before
/// boot lines existed, or a tail that a long boot has filled.
pub fn current_boot(console: &str) -> &str {
    let start = console
        .rfind(&format!("\n{BOOT_LINE_PREFIX}"))
        .map_or(0, |i| i + 1);
    &console[start..]
}

/// The image's ready marker (`EC2LAB-GUEST-READY`) as text.
const READY_MARKER_STR: &str = match std::str::from_utf8(READY_MARKER) {
    Ok(s) => s,
    Err(_) => panic!("the ready marker is ASCII"),
};

/// Is this console line the image's ready marker?
pub fn is_ready_line(line: &str) -> bool {
    line.contains(READY_MARKER_STR)
}

/// Has the current boot printed the image's ready marker (`EC2LAB-GUEST-READY`)?
pub fn ready(console: &str) -> bool {
    current_boot(console).lines().any(is_ready_line)
}

/// Connects to the serial console of a pending or running instance. Its VMM binds the
/// socket before the guest runs its first instruction, but the VMM itself is started a
/// moment after start-instances returns, and again at each reboot: until then the socket
/// is missing (or, after a killed VMM, refuses), so this waits up to `wait` for it.
pub fn connect(store: &Store, id: &str, wait: Duration) -> Result<UnixStream, Ec2Error> {
    let path = RunDir::of(store, id).console_sock();
    let end = Instant::now() + wait;
    loop {
        let inst = Instance::get(store.conn(), id)?;
        if !matches!(inst.state, State::Pending | State::Running) {
            return Err(Ec2Error::incorrect_state(
                id,
                inst.state.name(),
                "connected to",
            ));
        }
        match UnixStream::connect(&path) {
            Ok(sock) => return Ok(sock),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) && Instant::now() < end =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(source) => {
                return Err(ConsoleError::NotReachable {
                    id: id.into(),
                    path,
                    waited_secs: wait.as_secs(),
                    source,
                }
                .into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOT_1: &str = "EC2LAB-BOOT 1 i-0123456789abcdef0 2026-11-28T10:00:00.000Z\n\
        [    1.0] Run /sbin/init as init process\r\n\
        EC2LAB-GUEST-READY\r\n\
        [   99.0] reboot: System halted\r\n";

    #[test]
    fn the_previous_boots_ready_line_does_not_count() {
        let boot_2 = "EC2LAB-BOOT 2 i-0123456789abcdef0 2026-11-28T11:00:00.000Z\n";
        let mut log = format!("{BOOT_1}{boot_2}");
        assert!(ready(BOOT_1));
        assert!(!ready(&log), "boot 1's READY counted for boot 2");
        assert_eq!(current_boot(&log), boot_2);
        log.push_str("[    1.0] Run /sbin/init as init process\r\n");
        assert!(!ready(&log));
        log.push_str("EC2LAB-GUEST-READY\r\n");
        assert!(ready(&log));
    }

    #[test]
    fn text_without_a_boot_line_is_one_boot() {
        // A 64 KiB tail that starts inside the current boot, or a log older than boot lines.
        assert!(ready("..id, sysfs: 5\nEC2LAB-GUEST-READY\n"));
        assert_eq!(current_boot("abc\n"), "abc\n");
        assert_eq!(current_boot(""), "");
        // A boot line at the very start of the text.
        assert_eq!(current_boot(BOOT_1), BOOT_1);
    }

    #[test]
    fn a_boot_is_marked_once_on_a_line_of_its_own() {
        let line = "EC2LAB-BOOT 2 i-1 t";
        assert_eq!(to_append(b"", line).unwrap(), format!("{line}\n"));
        assert_eq!(to_append(b"ok\r\n", line).unwrap(), format!("{line}\n"));
        // Killed mid-line: the boot line must not be glued to it.
        assert_eq!(
            to_append(b"half a li", line).unwrap(),
            format!("\n{line}\n")
        );
        // Marked already by start-instances: the supervisor adds no second line.
        assert_eq!(to_append(b"x\nEC2LAB-BOOT 2 i-1 t\n", line), None);
        assert_eq!(to_append(b"EC2LAB-BOOT 2 i-1 t\n", line), None);
    }

    #[test]
    fn begin_boot_cuts_the_log_between_boots() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let id = "i-0123456789abcdef0";
        begin_boot(&path, 1, id).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"Run /init as init process\nEC2LAB-GUEST-READY\nhalf")
            .unwrap();
        let read = || std::fs::read_to_string(&path).unwrap();
        assert!(ready(&read()));
        begin_boot(&path, 2, id).unwrap(); // start-instances
        begin_boot(&path, 2, id).unwrap(); // then the supervisor: no second line
        let log = read();
        assert!(!ready(&log), "{log}");
        assert_eq!(log.matches(BOOT_LINE_PREFIX).count(), 2, "{log}");
        assert!(
            log.contains("\nhalf\nEC2LAB-BOOT 2 i-0123456789abcdef0 "),
            "{log}"
        );
        assert!(current_boot(&log).starts_with("EC2LAB-BOOT 2 "), "{log}");
    }
}
