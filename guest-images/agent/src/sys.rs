//! The few system calls std does not wrap, declared by hand (this crate has no
//! dependencies, so no libc crate). Each wrapper returns an io::Result.

use std::ffi::{c_char, c_int, c_ulong, c_void, CString};
use std::io;

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
