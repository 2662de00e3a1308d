//! Host processes behind an instance: identifying them across ec2lab restarts (a pid and
//! its start time, so a reused pid is never mistaken for ours) and starting them
//! detached, so they outlive the command that started them.

use std::fs::{File, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or
/// `None` if there is no such live process. Zombies count as gone.
pub fn start_ticks(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Is the process recorded as (pid, start ticks) still the same live process?
pub fn alive(pid: i64, ticks: i64) -> bool {
    start_ticks(pid) == Some(ticks)
}

/// Starts `cmd` in a session of its own, stdin from /dev/null and output appended to
/// `log`; returns (pid, start ticks).
pub fn spawn_detached(cmd: Command, log: &Path) -> std::io::Result<(i64, i64)> {
    spawn_detached_in(cmd, log, &[])
}

/// [`spawn_detached`], the child first joining the cgroups whose `cgroup.procs` files are
/// `cgroups` (before exec, so that all it does is charged there).
pub fn spawn_detached_in(
    mut cmd: Command,
    log: &Path,
    cgroups: &[std::path::PathBuf],
) -> std::io::Result<(i64, i64)> {
    let out = OpenOptions::new().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    let procs = c_paths(cgroups)?;
    // SAFETY: the closure runs in the child between fork and exec and makes only the
    // async-signal-safe calls of `detach_into` (see there).
    unsafe {
        cmd.pre_exec(move || detach_into(&procs));
    }
    let child = cmd.spawn()?;
    let pid = i64::from(child.id());
    // The child is reaped by whoever waits for it (the supervisor polls); dropping the
    // handle does not kill it.
    std::mem::forget(child);
    let ticks = start_ticks(pid).unwrap_or(0);
    Ok((pid, ticks))
}

/// `paths` as C strings, made before a fork (the child must not allocate).
fn c_paths(paths: &[std::path::PathBuf]) -> std::io::Result<Vec<std::ffi::CString>> {
    paths
        .iter()
        .map(|p| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()))
        .collect::<Result<_, _>>()
        .map_err(std::io::Error::other)
}

/// In a new child before exec: a session of its own, then the cgroups whose
/// `cgroup.procs` files are `procs` (so that all it does is charged there).
///
/// # Safety
/// Only for a child between fork (or clone) and exec: it makes only async-signal-safe
/// calls (setsid, open, write, close) and allocates nothing.
unsafe fn detach_into(procs: &[std::ffi::CString]) -> std::io::Result<()> {
    nix::unistd::setsid()?;
    for p in procs {
        // "0" is the writing process itself.
        let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let r = libc::write(fd, b"0".as_ptr().cast(), 1);
        let e = std::io::Error::last_os_error();
        libc::close(fd);
        if r != 1 {
            return Err(e);
        }
    }
    Ok(())
}

/// [`spawn_detached_in`] for a VMM to be jailed: the child is born into a new PID
/// namespace (a process cannot enter one itself, only its children can be born into
/// one), where it is pid 1 and sees no other process. The returned pid is its pid on
/// the host, the one to record, signal and wait for.
pub fn spawn_in_pid_ns(
    exe: &Path,
    args: &[&std::ffi::OsStr],
    log: &Path,
    cgroups: &[std::path::PathBuf],
) -> std::io::Result<(i64, i64)> {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    let cstr = |b: &[u8]| CString::new(b).map_err(std::io::Error::other);
    let out = OpenOptions::new().create(true).append(true).open(log)?;
    let null = File::open("/dev/null")?;
    let argv: Vec<CString> = std::iter::once(exe.as_os_str())
        .chain(args.iter().copied())
        .map(|a| cstr(a.as_encoded_bytes()))
        .collect::<Result<_, _>>()?;
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let procs = c_paths(cgroups)?;
    let (out_fd, null_fd) = (out.as_raw_fd(), null.as_raw_fd());
    const FAILED: &[u8] = b"ec2lab: could not start the VMM in its PID namespace\n";
    let child = move || -> isize {
        // SAFETY: this runs in the cloned child (a copy of this process without its other
        // threads), where only async-signal-safe calls are sound: `detach_into`'s, dup2,
        // execv and _exit are, and nothing here allocates (every string and array was
        // made before the clone).
        unsafe {
            let fail = || {
                libc::write(out_fd, FAILED.as_ptr().cast(), FAILED.len());
                libc::_exit(127)
            };
            if detach_into(&procs).is_err() {
                fail();
            }
            if libc::dup2(null_fd, 0) < 0 || libc::dup2(out_fd, 1) < 0 || libc::dup2(out_fd, 2) < 0
            {
                fail();
            }
            libc::execv(argv_ptrs[0], argv_ptrs.as_ptr());
            fail();
            127
        }
    };
    let mut stack = vec![0u8; 256 * 1024];
    // SAFETY: without CLONE_VM the child runs on its own copy of `stack` and of this
    // process's memory; the callback only makes async-signal-safe calls (see above).
    // SIGCHLD as the exit signal lets the supervisor wait for it as for any child.
    let pid = unsafe {
        nix::sched::clone(
            Box::new(child),
            &mut stack,
            nix::sched::CloneFlags::CLONE_NEWPID,
            Some(libc::SIGCHLD),
        )
    }
    .map_err(std::io::Error::from)?;
    let pid = i64::from(pid.as_raw());
    let ticks = start_ticks(pid).unwrap_or(0);
    Ok((pid, ticks))
}

/// SIGKILLs `pid` if it is still the process that started at `ticks` (a pid reused by
/// another process is left alone). Works on a stopped (SIGSTOP) process too.
pub fn kill_hard(pid: i64, ticks: i64) {
    if !alive(pid, ticks) {
        return;
    }
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Reaps `pid` if it is our exited child, so it does not linger as a zombie; returns the
/// signal that ended it, if it was our child and a signal did. Harmless if it is not our
/// child (ECHILD) or still running (WNOHANG).
pub fn reap(pid: i64) -> Option<nix::sys::signal::Signal> {
    let pid = i32::try_from(pid).ok()?;
    match nix::sys::wait::waitpid(
        nix::unistd::Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    ) {
        Ok(nix::sys::wait::WaitStatus::Signaled(_, sig, _)) => Some(sig),
        _ => None,
    }
}

/// Says how a VMM that left no exit record ended, from the signal that killed it (when
/// its supervisor started it and so could reap it).
pub fn vmm_death(killed_by: Option<nix::sys::signal::Signal>) -> String {
    use nix::sys::signal::Signal;
    match killed_by {
        Some(Signal::SIGSYS) => "the VMM was killed by SIGSYS: one of its threads made a system \
             call its seccomp filter does not allow (a VMM bug or a compromised VMM; vmm.log \
             says which thread ran last, and EC2LAB_SECCOMP=0 runs without filters to debug)"
            .to_string(),
        Some(sig) => format!("the VMM was killed by {sig}"),
        None => "the VMM process ended without a record (killed?)".to_string(),
    }
}

/// An exclusive lock on a file, held while the value lives: one supervisor per instance.
/// The field is never read: holding it is the point (the flock ends when it drops).
pub struct Lock(#[allow(dead_code)] nix::fcntl::Flock<File>);

impl Lock {
    /// `None` if another process holds it.
    pub fn try_acquire(path: &Path) -> std::io::Result<Option<Lock>> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(l) => Ok(Some(Lock(l))),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_itself_and_not_a_stale_record() {
        let me = i64::from(std::process::id());
        let t = start_ticks(me).unwrap();
        assert!(alive(me, t));
        assert!(!alive(me, t + 1));
        assert!(!alive(i64::from(i32::MAX), 0));
    }

    #[test]
    fn lock_is_exclusive() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("l");
        let a = Lock::try_acquire(&p).unwrap();
        assert!(a.is_some());
        // flock locks belong to the open file description: a second open conflicts.
        assert!(Lock::try_acquire(&p).unwrap().is_none());
        drop(a);
        assert!(Lock::try_acquire(&p).unwrap().is_some());
    }

    #[test]
    fn a_seccomp_kill_is_named_as_such() {
        let d = vmm_death(Some(nix::sys::signal::Signal::SIGSYS));
        assert!(d.contains("SIGSYS") && d.contains("seccomp"), "{d}");
        assert!(vmm_death(Some(nix::sys::signal::Signal::SIGKILL)).contains("SIGKILL"));
        assert!(vmm_death(None).contains("without a record"));
    }
}
