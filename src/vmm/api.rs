//! The control socket protocol: one JSON request line in, one JSON response line out,
//! per connection. Small enough to drive with `socat` or `nc -U`:
//!
//! ```text
//! {"action":"status"}
//! {"action":"shutdown","timeout_secs":30}   Ctrl-Alt-Del, then a hard stop at the deadline
//! {"action":"stop"}                         hard stop now
//! {"action":"pause"} / {"action":"resume"}  freeze the vCPUs (for point-in-time disk copies)
//! {"action":"attach-disk","slot":2,"path":"/v.img","read_only":false,"serial":"vol…"}
//! {"action":"detach-disk","slot":2}             hot attach/detach of a disk's media
//! ```

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const DEFAULT_SHUTDOWN_SECS: u64 = 30;
/// Requests are a short line; anything longer is not ours.
pub const MAX_REQUEST: u64 = 4096;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Request {
    Status,
    Shutdown {
        #[serde(default)]
        timeout_secs: Option<u64>,
    },
    Stop,
    Pause,
    Resume,
    /// Puts a disk image into an empty virtio-blk slot of the running guest.
    AttachDisk {
        slot: usize,
        path: std::path::PathBuf,
        #[serde(default)]
        read_only: bool,
        #[serde(default)]
        serial: Option<String>,
        /// Swap out media already in the slot (e.g. the same volume, grown).
        #[serde(default)]
        replace: bool,
    },
    /// Takes the media out of a slot (the guest sees the disk shrink to nothing).
    DetachDisk {
        slot: usize,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// "running", "paused", or "shutting-down" once a graceful shutdown was asked for.
    pub state: String,
    pub pid: u32,
    pub kvm: String,
    pub vcpus: u8,
    pub requested_vcpus: u8,
    pub mem_mib: u64,
    pub uptime_ms: u64,
    /// Time from VMM start to the guest kernel running init.
    pub init_started_ms: Option<u64>,
    /// Time from VMM start to the image printing its ready marker.
    pub ready_ms: Option<u64>,
    /// Time the VMM took to set up the machine before the first vCPU ran.
    pub setup_ms: u64,
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

impl Response {
    pub fn error(msg: impl Into<String>) -> Self {
        Response {
            ok: false,
            error: Some(msg.into()),
            status: None,
        }
    }
}

#[derive(Debug, Error)]
pub enum ApiError {
    #[error("Cannot connect to the VMM control socket {path} (is the VMM running?)")]
    Connect {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("The VMM control socket failed mid-request")]
    Io(#[from] std::io::Error),
    #[error("The VMM answered something that is not a response")]
    BadResponse(#[from] serde_json::Error),
}

/// Sends one request and waits for its answer.
pub fn call(sock: &Path, req: &Request) -> Result<Response, ApiError> {
    let mut stream = UnixStream::connect(sock).map_err(|source| ApiError::Connect {
        path: sock.display().to_string(),
        source,
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    Ok(serde_json::from_str(&answer)?)
}

/// Reads one request from a freshly accepted connection.
pub fn read_request(stream: &UnixStream) -> Result<Request, String> {
    use std::io::Read;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut line = String::new();
    BufReader::new(stream.take(MAX_REQUEST))
        .read_line(&mut line)
        .map_err(|e| format!("could not read the request: {e}"))?;
    serde_json::from_str(&line).map_err(|e| {
        format!(
            "not a request ({e}); send one JSON line such as {{\"action\":\"status\"}}, \
             {{\"action\":\"shutdown\",\"timeout_secs\":30}} or {{\"action\":\"stop\"}}"
        )
    })
}

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
    }
}
