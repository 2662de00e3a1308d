//! The few system calls std does not wrap, declared by hand (this crate has no
//! dependencies, so no libc crate). Each wrapper returns an io::Result.

use std::ffi::{c_char, c_int, c_short, c_ulong, c_void, CString};
use std::io;
use std::net::{SocketAddrV4, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

/// struct sockaddr_in
#[repr(C)]
struct SockaddrIn {
    family: u16,
    port_be: u16,
    addr_be: u32,
    zero: [u8; 8],
}

/// struct pollfd
#[repr(C)]
struct PollFd {
    fd: c_int,
    events: c_short,
    revents: c_short,
}

extern "C" {
    fn getuid() -> u32;
    fn geteuid() -> u32;
    fn getgid() -> u32;
    fn getgroups(size: c_int, list: *mut u32) -> c_int;
    fn setgroups(size: usize, list: *const u32) -> c_int;
    fn setgid(gid: u32) -> c_int;
    fn setuid(uid: u32) -> c_int;
    fn fork() -> c_int;
    fn setsid() -> c_int;
    fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int;
    fn bind(fd: c_int, addr: *const SockaddrIn, len: u32) -> c_int;
    fn connect(fd: c_int, addr: *const SockaddrIn, len: u32) -> c_int;
    fn poll(fds: *mut PollFd, n: u64, timeout_ms: c_int) -> c_int;
    fn mount(
        source: *const c_char,
        target: *const c_char,
        fstype: *const c_char,
        flags: c_ulong,
        data: *const c_void,
    ) -> c_int;
}

fn check(rc: c_int) -> io::Result<c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

pub fn uid() -> u32 {
    // SAFETY: getuid has no arguments and cannot fail.
    unsafe { getuid() }
}

pub fn euid() -> u32 {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { geteuid() }
}

pub fn gid() -> u32 {
    // SAFETY: getgid has no arguments and cannot fail.
    unsafe { getgid() }
}

/// The supplementary group ids of this process.
pub fn groups() -> io::Result<Vec<u32>> {
    // SAFETY: size 0 with a null list only asks for the count.
    let n = check(unsafe { getgroups(0, std::ptr::null_mut()) })?;
    let mut v = vec![0u32; n as usize];
    // SAFETY: v has room for exactly n gid_t (u32) entries, and n is passed as the size.
    let got = check(unsafe { getgroups(n, v.as_mut_ptr()) })?;
    v.truncate(got as usize);
    Ok(v)
}

/// Becomes root completely (real, effective and saved ids; groups: root only).
/// Needs an effective uid of 0 (a setuid-root binary).
pub fn become_root() -> io::Result<()> {
    let root_only = [0u32];
    // SAFETY: a one-element array of gid_t, its length passed alongside.
    check(unsafe { setgroups(root_only.len(), root_only.as_ptr()) })?;
    // SAFETY: plain system calls on integer arguments.
    check(unsafe { setgid(0) })?;
    // SAFETY: as above; with euid 0 this sets the real, effective and saved uid.
    check(unsafe { setuid(0) })?;
    Ok(())
}

pub enum Forked {
    Parent,
    Child,
}

/// fork(2). Only called while the agent is single-threaded (it never starts threads), so
/// the child may go on running ordinary Rust code.
pub fn fork_process() -> io::Result<Forked> {
    // SAFETY: the process has one thread (see above), so no lock can be held by a thread
    // that does not exist in the child.
    match check(unsafe { fork() })? {
        0 => Ok(Forked::Child),
        _ => Ok(Forked::Parent),
    }
}

/// setsid(2): a new session, without a controlling terminal.
pub fn new_session() -> io::Result<()> {
    // SAFETY: no arguments; fails harmlessly (EPERM) for a process-group leader.
    check(unsafe { setsid() }).map(|_| ())
}

pub const MS_NOSUID: c_ulong = 2;
pub const MS_NOEXEC: c_ulong = 8;

pub fn mount_fs(
    source: &str,
    target: &str,
    fstype: &str,
    flags: c_ulong,
    data: &str,
) -> io::Result<()> {
    let c = |s: &str| CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
    let (source, target, fstype, data) = (c(source)?, c(target)?, c(fstype)?, c(data)?);
    // SAFETY: all four pointers are NUL-terminated strings that outlive the call.
    check(unsafe {
        mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            data.as_ptr().cast(),
        )
    })
    .map(|_| ())
}

const AF_INET: c_int = 2;
const SOCK_STREAM: c_int = 1;
const SOCK_NONBLOCK: c_int = 0o4000;
const SOCK_CLOEXEC: c_int = 0o2000000;
const POLLOUT: c_short = 4;
const EINPROGRESS: i32 = 115;
const EADDRINUSE: i32 = 98;

fn sockaddr(a: &SocketAddrV4) -> SockaddrIn {
    SockaddrIn {
        family: AF_INET as u16,
        port_be: a.port().to_be(),
        addr_be: u32::from(*a.ip()).to_be(),
        zero: [0; 8],
    }
}

/// A TCP connection to `to` from an explicitly bound local port, with a connect timeout.
///
/// Why not TcpStream::connect_timeout: a connect from an unbound socket makes Linux pick
/// the port in __inet_hash_connect(), which on the first call fills its 256 KiB port
/// perturbation table with random bytes (net_get_random_once). Measured here: 4.7 s of
/// emulated kernel time for the guest's first TCP connection, right on the boot path.
/// With the port already bound, connect() skips that search entirely.
pub fn connect_bound(to: SocketAddrV4, timeout: Duration) -> io::Result<TcpStream> {
    let seed = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    // The default ephemeral range, 32768-60999.
    let mut port = 32768 + seed % 28232;
    for _ in 0..32 {
        // SAFETY: plain socket(2); the result is checked and owned right away.
        let fd = check(unsafe { socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) })?;
        // SAFETY: fd is a new, valid descriptor that nothing else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let local = sockaddr(&SocketAddrV4::new(
            std::net::Ipv4Addr::UNSPECIFIED,
            port as u16,
        ));
        let len = std::mem::size_of::<SockaddrIn>() as u32;
        // SAFETY: local is a sockaddr_in of the given length, alive for the call.
        if let Err(e) = check(unsafe { bind(fd, &local, len) }) {
            if e.raw_os_error() == Some(EADDRINUSE) {
                port = 32768 + (port - 32768 + 7919) % 28232;
                continue;
            }
            return Err(e);
        }
        let remote = sockaddr(&to);
        // SAFETY: as above, for the remote address.
        if let Err(e) = check(unsafe { connect(fd, &remote, len) }) {
            if e.raw_os_error() != Some(EINPROGRESS) {
                return Err(e);
            }
            let mut p = PollFd {
                fd,
                events: POLLOUT,
                revents: 0,
            };
            let ms = timeout.as_millis().min(i32::MAX as u128) as c_int;
            // SAFETY: one pollfd, owned by this frame.
            let n = loop {
                match check(unsafe { poll(&mut p, 1, ms) }) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection timed out",
                ));
            }
        }
        let stream = TcpStream::from(owned);
        if let Some(e) = stream.take_error()? {
            return Err(e);
        }
        stream.set_nonblocking(false)?;
        return Ok(stream);
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "no free local port",
    ))
}
