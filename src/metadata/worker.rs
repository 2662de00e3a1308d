//! The metadata service's worker process (`ec2lab __metadata-worker`): everything that
//! touches a guest's bytes, without root. Its supervisor binds the listening socket and
//! starts it with that socket at fd [`LISTEN_FD`] and one end of each of `channels`
//! message socket pairs at [`FIRST_CHANNEL_FD`] onwards. Before it reads a byte from a
//! guest it closes every other descriptor, chroots to an empty directory and becomes an
//! unprivileged user with no capabilities and `no_new_privs` ([`crate::privdrop`]), under
//! a seccomp filter ([`super::filter`]); then it runs [`super::pool`]'s accept loop and limits and [`super::http`]'s parser, sends
//! each request to the supervisor as a typed [`Query`] and writes back its [`Reply`].
//!
//! It ends when its supervisor does: SIGKILL on the parent's death, the parent checked
//! once a second, and the end of any channel.

use std::io::BufReader;
use std::net::{IpAddr, TcpListener};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::socket::{getsockopt, sockopt, SockType};

use super::http::{self, Response};
use std::os::fd::AsRawFd;

use super::ipc::{self, Query, Reply, FORWARDED_HEADER, TOKEN_HEADER, TTL_HEADER};
use super::pool::{self, Conn, RateLog, LIMITS};

/// Where the listening socket is.
pub const LISTEN_FD: RawFd = 3;
/// Where the first channel to the supervisor is; the others follow.
pub const FIRST_CHANNEL_FD: RawFd = 4;
/// Lines a minute the worker may write to the supervisor's log.
const LOG_LINES_PER_MINUTE: u32 = 30;

/// How the worker was started.
pub struct Setup<'a> {
    /// The instance whose supervisor started it (for its log lines).
    pub instance_id: &'a str,
    /// The user and group it becomes.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
    /// An empty directory that becomes its `/`.
    pub root: &'a Path,
    /// How many channels it was given.
    pub channels: usize,
}

/// A channel to the supervisor and the last query number sent on it.
struct Channel {
    fd: OwnedFd,
    seq: u32,
}

struct Worker {
    /// One per pool thread (the pool never runs more handlers at once), taken for a
    /// request and given back.
    channels: Mutex<Vec<Channel>>,
    log: Arc<RateLog>,
}

/// The worker's `main`: returns the exit code.
pub fn run(setup: &Setup) -> i32 {
    // The supervisor's log names the instance; this says which side wrote the line.
    let prefix = format!("worker of {}: ", setup.instance_id);
    let parent = nix::unistd::getppid();
    let (listener, channels) = match enter(setup) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{prefix}{e}");
            return 1;
        }
    };
    let w = Arc::new(Worker {
        channels: Mutex::new(channels),
        log: Arc::new(RateLog::new(prefix, LOG_LINES_PER_MINUTE)),
    });
    let keep = || nix::unistd::getppid() == parent;
    let h = Arc::clone(&w);
    let limits = pool::Limits {
        workers: setup.channels.min(LIMITS.workers),
        ..LIMITS
    };
    // Returns only when the supervisor is gone (or no thread could be made); either
    // way the supervisor, if alive, starts another worker.
    pool::run(&listener, limits, &w.log, keep, move |c| h.handle(c));
    1
}

/// Takes the descriptors the supervisor passed and gives up everything else.
fn enter(setup: &Setup) -> Result<(TcpListener, Vec<Channel>), String> {
    let last = FIRST_CHANNEL_FD + setup.channels as RawFd - 1;
    // SAFETY: close_range takes integers only; it closes every descriptor above the
    // ones the supervisor passed (whatever else this process may have inherited).
    if unsafe { libc::syscall(libc::SYS_close_range, last + 1, u32::MAX, 0) } != 0 {
        return Err(format!(
            "close_range failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: the supervisor put the listening socket at LISTEN_FD and nothing else in
    // this process owns it; its type is checked before use.
    let listener = unsafe { OwnedFd::from_raw_fd(LISTEN_FD) };
    if getsockopt(&listener, sockopt::SockType) != Ok(SockType::Stream) {
        return Err(format!("fd {LISTEN_FD} is not the listening socket; this command is started by a supervisor only"));
    }
    let mut channels = Vec::with_capacity(setup.channels);
    for fd in FIRST_CHANNEL_FD..=last {
        // SAFETY: as above, the supervisor passed one channel at each of these numbers.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        if getsockopt(&fd, sockopt::SockType) != Ok(SockType::SeqPacket) {
            return Err(format!("fd {fd:?} is not a channel to the supervisor"));
        }
        channels.push(Channel { fd, seq: 0 });
    }
    // While still root: a network namespace of its own (it only accepts on the listener
    // it was given, which stays in the host's), so it can reach no network at all.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("cannot enter a network namespace of its own: {e}"))?;
    // While still root: a root with nothing in it, so the worker can open nothing.
    nix::unistd::chroot(setup.root)
        .and_then(|()| nix::unistd::chdir("/"))
        .map_err(|e| format!("chroot to {} failed: {e}", setup.root.display()))?;
    crate::privdrop::drop_privileges(setup.uid, setup.gid)
        .map_err(|e| format!("cannot drop privileges: {e}"))?;
    // Set after the uid change (which clears it). A parent that died before it was set
    // is seen by `keep`.
    // SAFETY: integer-only prctl call.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0 {
        return Err(format!(
            "PR_SET_PDEATHSIG failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    let listener = TcpListener::from(listener);
    pool::listener_tick(&listener).map_err(|e| format!("listener: {e}"))?;
    // Last, before any thread exists and any guest byte is read.
    if super::filter::install().map_err(|e| e.to_string())? {
        eprintln!("worker of {}: seccomp filter on", setup.instance_id);
    }
    if crate::testhook::seccomp_violation_in("metadata-worker") {
        crate::testhook::forbidden_syscall();
    }
    Ok((listener, channels))
}

impl Worker {
    fn handle(&self, mut conn: Conn) {
        let IpAddr::V4(peer) = conn.peer else { return };
        let Some(req) = http::read_request(&mut BufReader::new(&conn)) else {
            return;
        };
        conn.request_read();
        let started = Instant::now();
        let query = Query {
            seq: 0,
            peer,
            method: req.method.clone(),
            path: req.path.clone(),
            token: req.header(TOKEN_HEADER).map(str::to_string),
            ttl: req.header(TTL_HEADER).map(str::to_string),
            forwarded: req.header(FORWARDED_HEADER).is_some(),
        };
        let Some(reply) = self.ask(query, &conn) else {
            self.log.line(format_args!(
                "{peer} {} {}: no answer from the supervisor within the deadline",
                req.method.escape_debug(),
                req.path.escape_debug()
            ));
            return;
        };
        if let Some(ttl) = reply.hop_limit {
            // EC2's HttpPutResponseHopLimit: the answer's packets die after that many
            // hops (a container behind the instance's own bridge or NAT is one more).
            let _ = conn.stream.set_ttl(ttl);
        }
        let mut resp = Response::ok(reply.body);
        resp.status = reply.status;
        if let Some(t) = reply.token_ttl {
            resp.extra_headers.push((TTL_HEADER, t));
        }
        let sent = resp.write_to(&mut &conn, req.method == "HEAD");
        // Refusals, failures and slow answers go to the supervisor's log: the guest only
        // sees a status line.
        let took = started.elapsed();
        if resp.status >= 400 || sent.is_err() || took > Duration::from_secs(1) {
            self.log.line(format_args!(
                "{peer} {} {} -> {} in {} ms{}",
                req.method.escape_debug(),
                req.path.escape_debug(),
                resp.status,
                took.as_millis(),
                sent.err()
                    .map(|e| format!(" (not sent: {e})"))
                    .unwrap_or_default()
            ));
        }
    }

    /// The supervisor's reply to `q`, or `None` when it did not come by the deadline.
    fn ask(&self, mut q: Query, conn: &Conn) -> Option<Reply> {
        let mut ch = self
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()?;
        ch.seq = ch.seq.wrapping_add(1);
        q.seq = ch.seq;
        let reply = exchange(&ch, &q, conn);
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ch);
        reply
    }
}

/// Sends `q` on `ch` and waits for its reply until `conn`'s deadline. A channel that
/// fails (its supervisor ended, or sent what is not a reply) ends the worker: the
/// supervisor, if alive, starts a fresh one.
fn exchange(ch: &Channel, q: &Query, conn: &Conn) -> Option<Reply> {
    let gone = |why: String| -> ! {
        eprintln!("channel to the supervisor: {why}; exiting");
        std::process::exit(1)
    };
    // A field too long to send cannot be a request the service answers.
    let msg = q.encode()?;
    // The connection goes along: the supervisor reads who is calling from it.
    if let Err(e) = ipc::send_with_fd(&ch.fd, &msg, conn.stream.as_raw_fd()) {
        gone(e.to_string());
    }
    loop {
        let left = conn.left()?;
        match ipc::recv(&ch.fd, ipc::MAX_REPLY, Some(left)) {
            Ok(Some(bytes)) => match Reply::decode(&bytes) {
                Some(r) if r.seq == q.seq => return Some(r),
                Some(_) => continue, // the late reply to a request given up on
                None => gone("a malformed reply".into()),
            },
            Ok(None) => gone("closed".into()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue; // the deadline is looked at again above
            }
            Err(e) => gone(e.to_string()),
        }
    }
}
