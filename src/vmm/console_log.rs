//! The console log on the host, bounded whatever the guest prints: `console.log` grows to
//! [`LOG_MAX`], then becomes `console.log.1` (replacing the previous one) and a new
//! `console.log` begins. A guest printing forever therefore holds at most twice the cap
//! (plus one write) of the host's disk. [`read_tail`] reads the last bytes across both
//! files, which is all anyone reads: EC2's get-console-output gives the last 64 KiB.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The size at which `console.log` is rotated: 1 MiB per instance (and 1 MiB more in the
/// rotated file), sixteen times what get-console-output shows.
pub const LOG_MAX: u64 = 1 << 20;

/// The rotated file beside `path`: `console.log.1`.
pub fn rotated(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".1");
    path.with_file_name(name)
}

/// An append-only log file that rotates itself at a size cap.
pub struct RotatingLog {
    path: PathBuf,
    file: File,
    len: u64,
    max: u64,
}

impl RotatingLog {
    /// Opens `path` for appending (creating it), rotating at `max` bytes.
    pub fn open(path: &Path, max: u64) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(Self {
            path: path.into(),
            file,
            len,
            max,
        })
    }

    /// Moves the full log aside and starts an empty one. Others (the supervisor's boot
    /// lines) append to the path, not to this descriptor, so they follow the rename.
    fn rotate(&mut self) -> io::Result<()> {
        std::fs::rename(&self.path, rotated(&self.path))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.len = 0;
        Ok(())
    }
}

impl Write for RotatingLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.len >= self.max {
            self.rotate()?;
        }
        // Never past the cap within one file: a huge write is cut at it, the rest goes
        // to the next file on the caller's next call (write_all loops).
        let room = (self.max - self.len).max(1) as usize;
        let n = self.file.write(&buf[..buf.len().min(room)])?;
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Moves the log at `path` aside (to [`rotated`]) when it holds `max` bytes or more: for
/// logs that a process appends to from its start (`supervisor.log`, `vmm.log`), rotated
/// before each start.
pub fn rotate_if_over(path: &Path, max: u64) {
    if std::fs::metadata(path).is_ok_and(|m| m.len() >= max) {
        let _ = std::fs::rename(path, rotated(path));
    }
}

/// The last `max` bytes of the log at `path`, counting the rotated file before it; empty
/// when neither exists.
pub fn read_tail(path: &Path, max: u64) -> Vec<u8> {
    let current = tail_of(path, max);
    let missing = max.saturating_sub(current.len() as u64);
    if missing == 0 {
        return current;
    }
    let mut out = tail_of(&rotated(path), missing);
    out.extend_from_slice(&current);
    out
}

fn tail_of(path: &Path, max: u64) -> Vec<u8> {
    // Read by root from a directory a jailed VMM owns: no links followed.
    let Ok(mut f) = crate::fsutil::open_nofollow(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(len.saturating_sub(max))).is_err()
        || f.take(max).read_to_end(&mut buf).is_err()
    {
        return Vec::new();
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_never_holds_more_than_two_caps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let mut log = RotatingLog::open(&path, 1000).unwrap();
        for i in 0..10_000u32 {
            log.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        log.write_all(&[b'x'; 5000]).unwrap(); // one write larger than the cap
        log.write_all(b"last\n").unwrap();
        let size = |p: &Path| std::fs::metadata(p).unwrap().len();
        assert!(size(&path) <= 1000, "{}", size(&path));
        assert_eq!(size(&rotated(&path)), 1000);
        let tail = read_tail(&path, 1500);
        assert_eq!(tail.len(), 1500);
        assert!(tail.ends_with(b"xxxlast\n"));
        // Everything the two files hold, and no more.
        let all = read_tail(&path, 1 << 20);
        assert_eq!(all.len() as u64, size(&path) + 1000);
        assert!(all.ends_with(b"last\n"));
    }

    #[test]
    fn an_existing_log_counts_toward_the_cap_and_the_tail_spans_the_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        assert!(read_tail(&path, 10).is_empty());
        std::fs::write(&path, "0123456789").unwrap();
        let mut log = RotatingLog::open(&path, 12).unwrap();
        log.write_all(b"abcd").unwrap();
        assert_eq!(std::fs::read(rotated(&path)).unwrap(), b"0123456789ab");
        assert_eq!(std::fs::read(&path).unwrap(), b"cd");
        assert_eq!(read_tail(&path, 5), b"9abcd");
        assert_eq!(read_tail(&path, 2), b"cd");
        rotate_if_over(&path, 3);
        assert!(path.exists(), "under the cap: kept");
        rotate_if_over(&path, 2);
        assert!(!path.exists());
        assert_eq!(std::fs::read(rotated(&path)).unwrap(), b"cd");
    }
}
