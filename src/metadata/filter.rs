//! The metadata worker's seccomp filter (with `seccompiler`, as the VMM's): once it has
//! dropped its privileges and before it accepts a guest's connection, the worker may make
//! only the calls its accept loop, its parser threads and its channels to the supervisor
//! use. Anything else (open, exec, socket, connect, ptrace, kill, ...) kills it with
//! SIGSYS; its supervisor logs that and starts another after a pause.
//!
//! The filter goes in before the pool's threads exist, so they inherit it: `clone` is
//! allowed only for threads (`CLONE_THREAD` set), and `clone3`, whose flags sit in memory
//! a filter cannot read, fails with ENOSYS so the C library falls back to `clone`;
//! `openat` fails with ENOENT (there is nothing to open in its empty root anyway).
//! `EC2LAB_SECCOMP=0` turns the filter off, as for the VMM.

use std::collections::BTreeMap;

use crate::vmm::seccomp::RUNTIME;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// Why the filter could not be built or installed.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// The rules did not compile (a bug in the list below).
    #[error("cannot build the metadata worker's seccomp filter: {0}; this is a bug in src/metadata/filter.rs (EC2LAB_SECCOMP=0 runs without it meanwhile)")]
    Build(#[from] seccompiler::BackendError),
    /// The kernel refused it.
    #[error("cannot install the metadata worker's seccomp filter: {0}; the host kernel needs CONFIG_SECCOMP_FILTER (or set EC2LAB_SECCOMP=0)")]
    Install(#[from] seccompiler::Error),
}

/// Installs the worker's filters on the calling thread, which must be its only one;
/// threads it starts afterwards inherit them. Does nothing when `EC2LAB_SECCOMP=0`.
pub fn install() -> Result<bool, FilterError> {
    if std::env::var("EC2LAB_SECCOMP").is_ok_and(|v| v == "0") {
        return Ok(false);
    }
    // Of several filters the kernel takes the strictest answer: the calls the first ones
    // answer with an error get that error although the last lets them through; anything
    // the last does not list kills the worker.
    for program in programs()? {
        seccompiler::apply_filter(&program)?;
    }
    Ok(true)
}

/// A filter that answers `nr` with `errno` and lets everything else through.
fn answer(nr: i64, errno: i32) -> Result<BpfProgram, FilterError> {
    let arch = std::env::consts::ARCH.try_into()?;
    let f = SeccompFilter::new(
        BTreeMap::from([(nr, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        arch,
    )?;
    Ok(f.try_into()?)
}

fn programs() -> Result<Vec<BpfProgram>, FilterError> {
    let arch = std::env::consts::ARCH.try_into()?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = RUNTIME
        .iter()
        .chain(ALLOWED)
        .map(|&nr| (nr, Vec::new()))
        .collect();
    let thread = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64),
        libc::CLONE_THREAD as u64,
    )?;
    rules.insert(libc::SYS_clone, vec![SeccompRule::new(vec![thread])?]);
    // Let through here only so that the error filters' answers stand (see `install`).
    rules.insert(libc::SYS_clone3, Vec::new());
    rules.insert(libc::SYS_openat, Vec::new());
    // Signals only to itself (abort on a panic, glibc's thread set-up).
    let own = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        u64::from(std::process::id()),
    )?;
    rules.insert(libc::SYS_tgkill, vec![SeccompRule::new(vec![own])?]);
    // Naming its own thread (the pool's threads are named), nothing else prctl does.
    let name = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        libc::PR_SET_NAME as u64,
    )?;
    rules.insert(libc::SYS_prctl, vec![SeccompRule::new(vec![name])?]);
    let allowed = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        arch,
    )?;
    Ok(vec![
        answer(libc::SYS_clone3, libc::ENOSYS)?,
        // glibc's malloc reads /sys/devices/system/cpu/online when a thread first needs
        // an arena of its own; in the empty chroot there is nothing to open anyway.
        answer(libc::SYS_openat, libc::ENOENT)?,
        allowed.try_into()?,
    ])
}

/// Beyond what any Rust thread needs ([`RUNTIME`]): the accept loop (accept, the
/// listener's timeout, the parent check), the parser threads (reads and writes on a
/// guest's connection, its deadline and TTL), the channels (sendmsg with the connection,
/// recvmsg with a timeout), the log (stderr) and thread start-up.
const ALLOWED: &[i64] = &[
    libc::SYS_accept4,
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_recvfrom,
    libc::SYS_recvmsg,
    libc::SYS_sendto,
    libc::SYS_sendmsg,
    libc::SYS_setsockopt,
    libc::SYS_getsockopt,
    libc::SYS_shutdown,
    libc::SYS_ppoll,
    libc::SYS_close,
    libc::SYS_fcntl,
    libc::SYS_getppid,
    libc::SYS_set_robust_list,
    libc::SYS_rseq,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_accept,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_poll,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_compile() {
        let programs = programs().unwrap();
        assert_eq!(programs.len(), 3);
        assert!(programs.iter().all(|p| !p.is_empty()));
    }
}
