//! The control socket protocol: one JSON request line in, one JSON response line out,
//! per connection. Small enough to drive with `socat` or `nc -U`:
//!
//! ```text
//! {"action":"status"}
//! {"action":"shutdown","timeout_secs":30}   Ctrl-Alt-Del, then a hard stop at the deadline
//! {"action":"stop"}                         hard stop now
//! {"action":"pause"} / {"action":"resume"}  freeze the vCPUs until resumed
//! {"action":"pause-lease"}                  freeze them while this connection stays open
//!                                           (point-in-time copies; see `lease.rs`); a
//!                                           `resume` line on it ends the lease
//! {"action":"attach-disk","slot":2,"path":"/v.img","read_only":false,"serial":"vol…"}
//! {"action":"detach-disk","slot":2}             hot attach/detach of a disk's media
//! {"action":"metrics"}                      device and vCPU counters (see `metrics.rs`)
//! {"action":"snapshot","dir":"/s","then":"resume"|"exit"}   save the whole VM (see `snapshot/`)
//! ```

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How long `shutdown` waits for the guest before a hard stop, unless the request says.
pub const DEFAULT_SHUTDOWN_SECS: u64 = 30;
/// Requests are a short line; anything longer is not ours.
pub const MAX_REQUEST: u64 = 4096;

/// One control request: the JSON line a client sends, tagged by `action`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Request {
    /// Report the VMM's state and the guest's milestones.
    Status,
    /// Ask the guest to power off (Ctrl-Alt-Del), then stop it hard at the deadline.
    Shutdown {
        /// Seconds before the hard stop; [`DEFAULT_SHUTDOWN_SECS`] if absent.
        #[serde(default)]
        timeout_secs: Option<u64>,
    },
    /// Stop the guest now, as pulling the plug would.
    Stop,
    /// Freeze every vCPU (for a point-in-time copy of a disk).
    Pause,
    /// Pauses the vCPUs for as long as this connection stays open (or until a `resume`
    /// line on it): a holder that dies cannot leave the guest frozen.
    PauseLease,
    /// Let the vCPUs run again after `pause`.
    Resume,
    /// Puts a disk image into an empty virtio-blk slot of the running guest.
    AttachDisk {
        /// The virtio-blk slot, 0-based.
        slot: usize,
        /// The raw disk image to attach.
        path: std::path::PathBuf,
        /// Whether the guest may only read it.
        #[serde(default)]
        read_only: bool,
        /// The serial the guest sees (at most 20 bytes), e.g. the volume id.
        #[serde(default)]
        serial: Option<String>,
        /// Swap out media already in the slot (e.g. the same volume, grown).
        #[serde(default)]
        replace: bool,
    },
    /// Takes the media out of a slot (the guest sees the disk shrink to nothing).
    DetachDisk {
        /// The virtio-blk slot, 0-based.
        slot: usize,
    },
    /// Report every device counter and the vCPUs' CPU time, cumulative since start.
    Metrics,
    /// Bytes for the guest to read on its serial console, as if typed there (a warm
    /// launch's identity line); queued behind earlier input, never echoed by the VMM.
    ConsoleInput {
        /// The text to send.
        text: String,
    },
    /// Pause, save the whole VM (vCPUs, interrupt controllers, clock, devices, memory)
    /// to a new directory, then resume or end the VMM.
    Snapshot {
        /// The snapshot directory to create; it must not exist.
        dir: std::path::PathBuf,
        /// What the VMM does once the snapshot is written.
        #[serde(default)]
        then: AfterSnapshot,
    },
}

/// What the VMM does after writing a snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AfterSnapshot {
    /// The guest runs on (or stays paused, if it was paused before).
    #[default]
    Resume,
    /// The VMM exits with outcome `snapshotted` (code 6); the snapshot is the guest now.
    Exit,
}

/// What a `snapshot` request made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotDone {
    /// The snapshot directory.
    pub dir: String,
    /// Bytes of guest memory saved (the memory file's length; zero pages are holes).
    pub memory_bytes: u64,
    /// Time the vCPUs took to stop.
    pub pause_ms: u64,
    /// Time to save the state and memory.
    pub save_ms: u64,
}

/// What `status` answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// "running", "paused", or "shutting-down" once a graceful shutdown was asked for.
    pub state: String,
    /// The VMM's process id.
    pub pid: u32,
    /// Which kind of KVM the VMM runs on: `hardware` or `pvm`.
    pub kvm: String,
    /// vCPUs the guest got.
    pub vcpus: u8,
    /// vCPUs the launch asked for: always `vcpus` now that every host runs them all
    /// (kept so clients of older builds still read a status).
    pub requested_vcpus: u8,
    /// Guest memory in MiB.
    pub mem_mib: u64,
    /// Time since the VMM started.
    pub uptime_ms: u64,
    /// Time from VMM start to the guest kernel running init.
    pub init_started_ms: Option<u64>,
    /// Time from VMM start to the image printing its ready marker.
    pub ready_ms: Option<u64>,
    /// Time the VMM took to set up the machine before the first vCPU ran.
    pub setup_ms: u64,
    /// What the VMM changed or could not honour at launch, for the user.
    pub warnings: Vec<String>,
}

/// The one JSON line the VMM answers with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// Whether the request was carried out.
    pub ok: bool,
    /// Why not, when `ok` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The state, for `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The counters, for `metrics`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<super::metrics::Metrics>,
    /// What was saved, for `snapshot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotDone>,
}

impl Response {
    /// A refusal saying why.
    pub fn error(msg: impl Into<String>) -> Self {
        Response {
            ok: false,
            error: Some(msg.into()),
            status: None,
            metrics: None,
            snapshot: None,
        }
    }
}

/// Why a control request got no answer.
#[derive(Debug, Error)]
pub enum ApiError {
    /// Nobody listens on the socket.
    #[error("Cannot connect to the VMM control socket {path} (is the VMM running?)")]
    Connect {
        /// The control socket.
        path: String,
        /// Why connecting failed.
        #[source]
        source: std::io::Error,
    },
    /// Sending the request or reading the answer failed.
    #[error("The VMM control socket failed mid-request")]
    Io(#[from] std::io::Error),
    /// The answer was not a JSON response.
    #[error("The VMM answered something that is not a response")]
    BadResponse(#[from] serde_json::Error),
}

/// Sends one request and waits for its answer.
pub fn call(sock: &Path, req: &Request) -> Result<Response, ApiError> {
    call_within(sock, req, Duration::from_secs(10))
}

/// [`call`], giving up when the answer takes longer than `timeout` (a monitor's
/// liveness check must not hang on a stuck VMM).
///
/// A disk to attach goes along open (see [`call_with_file`]): a jailed VMM cannot open
/// host paths. One the caller cannot open either goes by path, for the VMM to say why.
pub fn call_within(sock: &Path, req: &Request, timeout: Duration) -> Result<Response, ApiError> {
    if let Request::AttachDisk {
        path, read_only, ..
    } = req
    {
        if let Ok(file) = std::fs::File::options()
            .read(true)
            .write(!read_only)
            .open(path)
        {
            return call_with_file(sock, req, &file, timeout);
        }
    }
    let mut stream = connect(sock, timeout)?;
    stream.write_all(&request_line(req)?)?;
    read_answer(stream)
}

/// A connection to the VMM at `sock` whose reads and writes give up after `timeout`.
fn connect(sock: &Path, timeout: Duration) -> Result<UnixStream, ApiError> {
    let stream = UnixStream::connect(sock).map_err(|source| ApiError::Connect {
        path: sock.display().to_string(),
        source,
    })?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(stream)
}

/// `req` as its wire line.
fn request_line(req: &Request) -> Result<Vec<u8>, ApiError> {
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    Ok(line)
}

/// The one answer line of a connection used for one request.
fn read_answer(stream: UnixStream) -> Result<Response, ApiError> {
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    Ok(serde_json::from_str(&answer)?)
}

/// A `pause-lease` held by this process: the guest stays paused while it lives, and
/// runs again when it is ended or dropped, or when this process dies.
pub struct Lease {
    stream: UnixStream,
}

impl Lease {
    /// Pauses the guest of the VMM at `sock` for as long as the lease is held.
    pub fn take(sock: &Path, timeout: Duration) -> Result<(Lease, Response), ApiError> {
        let mut stream = connect(sock, timeout)?;
        let resp = exchange(&mut stream, &Request::PauseLease)?;
        Ok((Lease { stream }, resp))
    }

    /// Ends the lease and waits for the VMM's answer: the guest runs (unless another
    /// holder keeps it paused) once this returns.
    pub fn end(mut self) -> Result<Response, ApiError> {
        exchange(&mut self.stream, &Request::Resume)
    }
}

/// Sends `req` on `stream` and reads one answer line (byte by byte, so nothing after
/// it is consumed: a lease's connection is used again).
fn exchange(stream: &mut UnixStream, req: &Request) -> Result<Response, ApiError> {
    use std::io::Read;
    stream.write_all(&request_line(req)?)?;
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while stream.read(&mut byte)? == 1 && byte[0] != b'\n' {
        answer.push(byte[0]);
    }
    Ok(serde_json::from_slice(&answer)?)
}

/// [`call_within`], passing `file` along with the request (SCM_RIGHTS): a jailed VMM
/// cannot open host paths, so a disk to attach comes as an open descriptor.
pub fn call_with_file(
    sock: &Path,
    req: &Request,
    file: &std::fs::File,
    timeout: Duration,
) -> Result<Response, ApiError> {
    use std::os::fd::AsRawFd;
    let stream = connect(sock, timeout)?;
    let line = request_line(req)?;
    let sent = crate::fdpass::send(
        stream.as_raw_fd(),
        &line,
        file.as_raw_fd(),
        nix::sys::socket::MsgFlags::empty(),
    )?;
    (&stream).write_all(&line[sent..])?;
    read_answer(stream)
}

/// Reads one request from a freshly accepted connection.
pub fn read_request(stream: &UnixStream) -> Result<Request, String> {
    read_request_with_file(stream).map(|(req, _)| req)
}

/// [`read_request`], with the descriptor the client passed along, if any (the first
/// one; any more are closed).
pub fn read_request_with_file(
    stream: &UnixStream,
) -> Result<(Request, Option<std::fs::File>), String> {
    use std::os::fd::AsRawFd;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut line = Vec::new();
    let mut file = None;
    let mut buf = [0u8; 512];
    while !line.contains(&b'\n') && (line.len() as u64) < MAX_REQUEST {
        let (n, passed) = crate::fdpass::recv(
            stream.as_raw_fd(),
            &mut buf,
            nix::sys::socket::MsgFlags::empty(),
        )
        .map_err(|e| format!("could not read the request: {e}"))?;
        if let Some(fd) = passed {
            file.get_or_insert(std::fs::File::from(fd));
        }
        if n == 0 {
            break;
        }
        line.extend_from_slice(&buf[..n]);
    }
    let end = line.iter().position(|b| *b == b'\n').unwrap_or(line.len());
    let line = String::from_utf8_lossy(&line[..end.min(MAX_REQUEST as usize)]);
    let req = serde_json::from_str(&line).map_err(|e| {
        format!(
            "not a request ({e}); send one JSON line such as {{\"action\":\"status\"}}, \
             {{\"action\":\"shutdown\",\"timeout_secs\":30}} or {{\"action\":\"stop\"}}"
        )
    })?;
    Ok((req, file))
}

/// Writes `resp` as one line; a client that has gone away is ignored.
pub fn write_response(mut stream: &UnixStream, resp: &Response) {
    if let Ok(mut line) = serde_json::to_vec(resp) {
        line.push(b'\n');
        // The caller may have gone away; the VMM carries on regardless.
        let _ = stream.write_all(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_a_stable_wire_form() {
        assert_eq!(
            serde_json::to_string(&Request::Status).unwrap(),
            r#"{"action":"status"}"#
        );
        let r: Request = serde_json::from_str(r#"{"action":"shutdown"}"#).unwrap();
        assert_eq!(r, Request::Shutdown { timeout_secs: None });
        assert!(serde_json::from_str::<Request>(r#"{"action":"explode"}"#).is_err());
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"action":"metrics"}"#).unwrap(),
            Request::Metrics
        );
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"action":"snapshot","dir":"/s","then":"exit"}"#)
                .unwrap(),
            Request::Snapshot {
                dir: "/s".into(),
                then: AfterSnapshot::Exit
            }
        );
    }
}
