//! The supervisor's side of the metadata service: it binds its VPC router's metadata
//! port on the VPC's bridge (root: SO_BINDTODEVICE) and starts the unprivileged worker
//! process ([`super::worker`]) that accepts and parses the guests' HTTP on it, then
//! answers the worker's typed queries ([`super::ipc`]) with [`Service::answer`], one
//! thread per worker thread. A worker that ends is started again after a growing pause;
//! when the bridge is made anew (its interface index changes) the server binds again
//! and starts a worker on the new socket.

use std::net::{SocketAddrV4, TcpListener};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn};

use super::answer::Service;
use super::http::Response;
use super::ipc::{self, Query, Reply, TTL_HEADER};
use super::pool::{self, RateLog, LIMITS};
use super::token::TokenKey;
use super::worker::LISTEN_FD;
use crate::error::Ec2Error;
use crate::store::Store;

/// Lines a minute the server may write to the supervisor's log.
const LOG_LINES_PER_MINUTE: u32 = 30;
/// The first pause before a worker that ended is started again; it doubles each time, up
/// to [`RESTART_MAX`], and starts over once a worker has lived that long.
const RESTART_MIN: Duration = Duration::from_millis(250);
const RESTART_MAX: Duration = Duration::from_secs(30);
/// How often the server looks at its worker and its bridge.
const WATCH: Duration = Duration::from_millis(250);

/// How to start an instance's worker.
struct WorkerSpec {
    exe: PathBuf,
    state_dir: PathBuf,
    region: String,
    id: String,
    /// Its user and group (the same number).
    uid: u32,
    /// Its (empty) root directory.
    root: PathBuf,
}

/// Starts the metadata server for `instance_id`'s VPC in a background thread of the
/// calling (supervisor) process. Returns at once; the thread lives as long as the process.
/// An instance without a network interface gets no server.
pub fn spawn(state_dir: &Path, region: &str, instance_id: &str) {
    let (state_dir, region, id) = (
        state_dir.to_path_buf(),
        region.to_string(),
        instance_id.to_string(),
    );
    let started = std::thread::Builder::new()
        .name("metadata".into())
        .spawn(move || {
            if let Err(e) = serve(state_dir, region, &id) {
                eprintln!("ec2lab supervisor {id}: metadata service: {e}");
            }
        });
    if let Err(e) = started {
        eprintln!("ec2lab supervisor {instance_id}: cannot start the metadata service: {e}");
    }
}

/// The uid (and gid) of instance `id`'s metadata worker: its own, in the span just past
/// the VMMs' ([`crate::instances::jail::ID_SPAN`] ids from its VMM's), so it shares no
/// user with any VMM or login account.
pub fn worker_uid(root: &Path, id: &str) -> u32 {
    crate::instances::jail::uid_of(root, id) + crate::instances::jail::ID_SPAN
}

fn serve(state_dir: PathBuf, region: String, id: &str) -> Result<(), Ec2Error> {
    let store = Store::open(&state_dir, &region)?;
    let key = TokenKey::load_or_create(store.root())?;
    let spec = WorkerSpec {
        exe: std::env::current_exe()?,
        uid: worker_uid(store.root(), id),
        root: empty_root(&crate::instances::rundir::RunDir::of(&store, id).metadata_root())?,
        state_dir,
        region,
        id: id.to_string(),
    };
    let svc = Arc::new(Service {
        store: Mutex::new(store),
        key,
    });
    let log = Arc::new(RateLog::new(
        format!("ec2lab supervisor {id}: metadata: "),
        LOG_LINES_PER_MINUTE,
    ));
    loop {
        let Some((bridge, listener)) = listen(&svc, id)? else {
            return Ok(()); // no network, no metadata service
        };
        let index = nix::net::if_::if_nametoindex(bridge.as_str()).ok();
        let stale = || nix::net::if_::if_nametoindex(bridge.as_str()).ok() != index;
        keep_worker(&svc, &spec, &listener, &bridge, &log, stale);
    }
}

/// The worker's root: an empty directory of root's that no one else can write to.
fn empty_root(dir: &Path) -> Result<PathBuf, Ec2Error> {
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e.into()),
    }
    let is_dir = std::fs::symlink_metadata(dir)?.is_dir();
    if !is_dir || std::fs::read_dir(dir)?.next().is_some() {
        return Err(Ec2Error::internal(format!(
            "{} must be an empty directory (the metadata worker's root); remove it and start the instance again",
            dir.display()
        )));
    }
    std::os::unix::fs::lchown(dir, Some(0), Some(0))?;
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o555))?;
    Ok(dir.to_path_buf())
}

/// Keeps a worker running on `listener` until `stale` says the listener is no longer
/// the bridge's: a worker that ends is started again, after a pause that grows while
/// workers keep ending soon after their start.
fn keep_worker(
    svc: &Arc<Service>,
    spec: &WorkerSpec,
    listener: &TcpListener,
    bridge: &str,
    log: &Arc<RateLog>,
    stale: impl Fn() -> bool,
) {
    let mut pause = RESTART_MIN;
    loop {
        let started = Instant::now();
        match start_worker(svc, spec, listener, bridge, log) {
            Ok(mut child) => loop {
                std::thread::sleep(WATCH);
                if stale() {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
                match child.try_wait() {
                    Ok(None) => continue,
                    Ok(Some(status)) => {
                        let why = if status.signal() == Some(libc::SIGSYS) {
                            ": killed by its seccomp filter (a system call outside its list)"
                        } else {
                            ""
                        };
                        log.line(format_args!("the worker ended ({status}){why}"));
                        break;
                    }
                    Err(e) => {
                        log.line(format_args!("cannot wait for the worker: {e}"));
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            },
            Err(e) => log.line(format_args!("cannot start the worker: {e}")),
        }
        if started.elapsed() >= RESTART_MAX {
            pause = RESTART_MIN;
        }
        let until = Instant::now() + pause;
        while Instant::now() < until {
            if stale() {
                return;
            }
            std::thread::sleep(WATCH.min(pause));
        }
        pause = (pause * 2).min(RESTART_MAX);
    }
}

/// Starts a worker with `listener` and one channel per pool thread, and a thread that
/// answers each channel.
fn start_worker(
    svc: &Arc<Service>,
    spec: &WorkerSpec,
    listener: &TcpListener,
    bridge: &str,
    log: &Arc<RateLog>,
) -> std::io::Result<Child> {
    let at = match listener.local_addr()? {
        std::net::SocketAddr::V4(a) => a,
        other => {
            return Err(std::io::Error::other(format!(
                "listening on {other}, not IPv4"
            )))
        }
    };
    let mut ours = Vec::with_capacity(LIMITS.workers);
    let mut theirs = Vec::with_capacity(LIMITS.workers);
    for _ in 0..LIMITS.workers {
        let (a, b) = ipc::channel()?;
        ours.push(a);
        theirs.push(b);
    }
    let mut fds = [-1 as RawFd; MAX_PASSED];
    fds[0] = listener.as_raw_fd();
    for (slot, fd) in fds[1..].iter_mut().zip(&theirs) {
        *slot = fd.as_raw_fd();
    }
    let n = 1 + theirs.len();
    let mut cmd = Command::new(&spec.exe);
    cmd.arg("--state-dir")
        .arg(&spec.state_dir)
        .arg("--region")
        .arg(&spec.region)
        .arg("__metadata-worker")
        .arg(&spec.id)
        .arg("--uid")
        .arg(spec.uid.to_string())
        .arg("--gid")
        .arg(spec.uid.to_string())
        .arg("--root")
        .arg(&spec.root)
        .arg("--channels")
        .arg(theirs.len().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // Through this process, not straight into the log file: a compromised worker's
        // writes are rate-limited like any other line, so it cannot fill the disk.
        .stderr(Stdio::piped());
    // SAFETY: the closure runs in the child between fork and exec and makes only
    // async-signal-safe calls (fcntl, dup2) on descriptor numbers copied into a fixed
    // array before the fork; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || place_fds(&fds[..n]));
    }
    let mut child = cmd.spawn()?;
    drop(theirs); // the worker's now: its ends close when it does
    if let Some(err) = child.stderr.take() {
        let log2 = Arc::clone(log);
        let relayed = std::thread::Builder::new()
            .name("metadata-worker-log".into())
            .spawn(move || relay(err, &log2));
        if let Err(e) = relayed {
            log.line(format_args!("cannot relay the worker's log: {e}"));
        }
    }
    for (i, fd) in ours.into_iter().enumerate() {
        let (svc, bridge, log2) = (Arc::clone(svc), bridge.to_string(), Arc::clone(log));
        let started = std::thread::Builder::new()
            .name(format!("metadata-answer-{i}"))
            .spawn(move || answer_channel(&svc, &fd, &bridge, at, &log2));
        // The channel's end is dropped with the closure: the worker sees it closed
        // when it uses it, and ends; it is started again.
        if let Err(e) = started {
            log.line(format_args!("cannot start an answering thread: {e}"));
        }
    }
    Ok(child)
}

/// Longest line of the worker's relayed to the log; longer ones are cut in pieces.
const MAX_LOG_LINE: u64 = 1024;

/// The worker's stderr, line by line, into the supervisor's rate-limited log, until the
/// worker ends.
fn relay(err: std::process::ChildStderr, log: &RateLog) {
    use std::io::{BufRead, Read};
    let mut r = std::io::BufReader::new(err);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut r).take(MAX_LOG_LINE).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => log.line(String::from_utf8_lossy(line.trim_ascii_end()).escape_debug()),
        }
    }
}

/// Descriptors passed to a worker: its listener and its channels.
const MAX_PASSED: usize = 1 + LIMITS.workers;

/// In the child: `fds` at [`LISTEN_FD`] onwards, open across exec. Each is copied above
/// the targets first, so no target overwrites a source not yet placed. Only
/// async-signal-safe calls and no allocation: for a `pre_exec` hook (the tests start a
/// worker by hand with it too).
pub fn place_fds(fds: &[RawFd]) -> std::io::Result<()> {
    let above = LISTEN_FD + fds.len() as RawFd;
    let mut tmp = [-1 as RawFd; MAX_PASSED];
    for (t, fd) in tmp.iter_mut().zip(fds) {
        // SAFETY: fcntl on a descriptor number; the copy closes on exec.
        *t = unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, above) };
        if *t < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    for (i, t) in tmp[..fds.len()].iter().enumerate() {
        // SAFETY: dup2 on descriptor numbers; the new one stays open across exec.
        if unsafe { libc::dup2(*t, LISTEN_FD + i as RawFd) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Answers the queries the worker sends on `fd` until it closes it. A message that is
/// not a query closes the channel (the worker then ends and a fresh one starts).
fn answer_channel(svc: &Service, fd: &OwnedFd, bridge: &str, at: SocketAddrV4, log: &RateLog) {
    loop {
        let (msg, conn) = match ipc::recv_with_fd(fd, ipc::MAX_QUERY) {
            Ok(Some(m)) => m,
            Ok(None) => return, // the worker ended
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log.line(format_args!("from the worker: {e}; closing its channel"));
                return;
            }
        };
        let Some(mut q) = Query::decode(&msg) else {
            log.line("the worker sent a malformed query; closing its channel");
            return;
        };
        // Who calls is read from the guest's connection itself, never taken from the
        // worker: a compromised worker cannot ask as another instance.
        match conn.as_ref().and_then(|c| witnessed_peer(c, at)) {
            Some(peer) => q.peer = peer,
            None => {
                log.line(
                    "the worker sent a query without its guest's connection; closing its channel",
                );
                return;
            }
        }
        drop(conn);
        let reply = reply_to(q.seq, svc.answer(&q, bridge))
            .encode()
            .or_else(|| reply_to(q.seq, Response::error(500)).encode())
            .expect("an error reply is small");
        if ipc::send(fd, &reply).is_err() {
            return;
        }
    }
}

/// The caller's address, if `conn` is a TCP connection a guest made to the metadata
/// endpoint `at` (its local address is `at`: no other socket can be bound there, so it
/// was accepted from this service's listener).
fn witnessed_peer(conn: &OwnedFd, at: SocketAddrV4) -> Option<std::net::Ipv4Addr> {
    let local: SockaddrIn = socket::getsockname(conn.as_raw_fd()).ok()?;
    let peer: SockaddrIn = socket::getpeername(conn.as_raw_fd()).ok()?;
    (SocketAddrV4::from(local) == at).then(|| peer.ip())
}

fn reply_to(seq: u32, r: Response) -> Reply {
    Reply {
        seq,
        status: r.status,
        hop_limit: r.ttl,
        token_ttl: r
            .extra_headers
            .into_iter()
            .find(|(k, _)| *k == TTL_HEADER)
            .map(|(_, v)| v),
        body: r.body,
    }
}

/// A listening socket on `at` that takes only connections that came in on `bridge`
/// (SO_BINDTODEVICE), shared by every supervisor of the VPC (SO_REUSEPORT: the kernel
/// spreads connections over them; any of them can answer any instance of the VPC).
fn bind_on(bridge: &str, at: SocketAddrV4) -> std::io::Result<TcpListener> {
    let fd: OwnedFd = socket::socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    socket::setsockopt(&fd, sockopt::ReusePort, &true)?;
    socket::setsockopt(
        &fd,
        sockopt::BindToDevice,
        &std::ffi::OsString::from(bridge),
    )?;
    socket::bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(at))?;
    socket::listen(&fd, socket::Backlog::new(128).expect("small backlog"))?;
    let l = TcpListener::from(fd);
    pool::listener_tick(&l)?;
    Ok(l)
}

/// Binds the metadata port of the instance's VPC, once its bridge is there and is
/// this state root's; `None` when the instance has no network interface.
fn listen(svc: &Service, id: &str) -> Result<Option<(String, TcpListener)>, Ec2Error> {
    loop {
        let (bridge, at, ours) = {
            let store = svc.store.lock().unwrap_or_else(|e| e.into_inner());
            let c = store.conn();
            let Some(eni) = crate::net::eni::Eni::of_instance(c, id)? else {
                return Ok(None);
            };
            let vpc = crate::net::vpc::Vpc::get(c, &eni.vpc_id)?;
            let at = crate::net::metadata_endpoint(c, &eni.vpc_id)?;
            // A bridge of the same name that another state root made (a copied
            // state directory) is not ours to answer on.
            let ours = crate::net::host::alias(&vpc.bridge)
                == crate::net::owner(&store).alias(&vpc.vpc_id);
            (vpc.bridge, at, ours)
        };
        if ours {
            if let Ok(l) = bind_on(&bridge, at) {
                return Ok(Some((bridge, l)));
            }
        }
        // The bridge and its router address appear when the supervisor plumbs the
        // network for the VMM, a moment after this thread starts.
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn the_caller_is_read_from_a_connection_to_the_endpoint_only() {
        use std::os::fd::AsFd;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let std::net::SocketAddr::V4(at) = l.local_addr().unwrap() else {
            unreachable!()
        };
        let client = std::net::TcpStream::connect(at).unwrap();
        let (accepted, _) = l.accept().unwrap();
        let owned = |s: &dyn AsFd| s.as_fd().try_clone_to_owned().unwrap();
        assert_eq!(
            witnessed_peer(&owned(&accepted), at),
            Some(Ipv4Addr::LOCALHOST)
        );
        // A socket the worker could make itself connects from elsewhere; a listener has
        // no peer.
        assert_eq!(witnessed_peer(&owned(&client), at), None);
        assert_eq!(witnessed_peer(&owned(&l), at), None);
    }

    #[test]
    fn supervisors_of_a_bridge_share_its_port() {
        let at = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let a = bind_on("lo", at).unwrap();
        let port = match a.local_addr().unwrap() {
            std::net::SocketAddr::V4(v) => v.port(),
            _ => unreachable!(),
        };
        let b = bind_on("lo", SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
        assert!(
            b.is_ok(),
            "SO_REUSEPORT lets a second supervisor bind: {b:?}"
        );
        assert!(
            bind_on("no-such-dev0", SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_err(),
            "a listener is bound to its bridge, which must exist"
        );
    }
}
