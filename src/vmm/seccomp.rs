//! Seccomp filters for the VMM's threads, built with `seccompiler` (Firecracker's): each
//! thread allows only the system calls it makes, and any other kills the whole VMM with
//! SIGSYS, which its supervisor reports. A guest that breaks out into the VMM's code then
//! cannot open a socket, exec, ptrace, mount or change credentials.
//!
//! The VMM has two kinds of thread (see `vmm::run`):
//! - a **vCPU** thread runs KVM_RUN and the devices its exits reach, synchronously: serial
//!   output (console log and its rotation, the console socket), virtio-blk requests
//!   (pread/pwrite/fsync on the disk files), virtio-net transmits (writes to the tap),
//!   and, while parked for a snapshot, the jobs that read its registers. Its `ioctl`s must
//!   be KVM's (type `KVMIO`).
//! - the **main** thread runs the event loop: the control and console sockets, tap
//!   receives, hot-attached disks and interfaces, snapshots (memory and device files,
//!   `then: resume`, hibernation), pause leases and the exit record. Its `ioctl`s must be
//!   KVM's, the tap's or the terminal's (type `T`) or a block device's size (type 0x12).
//!
//! Filters go in after set-up (the guest's memory, devices and vCPUs exist) and before the
//! guest runs its first instruction; set-up's own calls (opening /dev/kvm, creating the
//! VM, binding sockets) are therefore not in the lists. `EC2LAB_SECCOMP=0` turns them off
//! for debugging (strace shows which call a filter refused).

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// Which of the VMM's threads a filter is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A vCPU thread.
    Vcpu,
    /// The main thread (event loop, control socket, snapshots).
    Main,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Vcpu => "vCPU",
            Role::Main => "main",
        }
    }
}

/// Why a filter could not be built or installed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The rules did not compile (a bug in the lists below).
    #[error("cannot build the {role} thread's seccomp filter: {source}; this is a bug in src/vmm/seccomp.rs (EC2LAB_SECCOMP=0 runs without filters meanwhile)")]
    Build {
        /// The thread kind.
        role: &'static str,
        /// seccompiler's complaint.
        source: seccompiler::BackendError,
    },
    /// The kernel refused the filter (no CONFIG_SECCOMP_FILTER?).
    #[error("cannot install the {role} thread's seccomp filter: {source}; the host kernel needs CONFIG_SECCOMP_FILTER (or set EC2LAB_SECCOMP=0 to run without filters)")]
    Install {
        /// The thread kind.
        role: &'static str,
        /// seccompiler's complaint (the errno of seccomp(2)).
        source: seccompiler::Error,
    },
}

/// Whether filters are on: unless `EC2LAB_SECCOMP=0`.
pub fn enabled() -> bool {
    std::env::var("EC2LAB_SECCOMP").map_or(true, |v| v != "0")
}

/// The compiled filters of both thread kinds, built once before any is installed (building
/// allocates, which is cheaper before the filter is in than to allow for afterwards).
#[derive(Clone)]
pub struct Filters {
    vcpu: BpfProgram,
    main: BpfProgram,
}

impl Filters {
    /// Both filters, or `None` when they are turned off.
    pub fn build() -> Result<Option<Self>, SeccompError> {
        if !enabled() {
            return Ok(None);
        }
        Ok(Some(Filters {
            vcpu: compile(Role::Vcpu)?,
            main: compile(Role::Main)?,
        }))
    }

    /// The program for `role`.
    pub fn program(&self, role: Role) -> &BpfProgram {
        match role {
            Role::Vcpu => &self.vcpu,
            Role::Main => &self.main,
        }
    }

    /// Installs `role`'s filter on the calling thread (it also sets no_new_privs, which
    /// seccomp requires of an unprivileged process). Irreversible for this thread, and
    /// inherited by threads it starts afterwards.
    pub fn install(&self, role: Role) -> Result<(), SeccompError> {
        seccompiler::apply_filter(self.program(role)).map_err(|source| SeccompError::Install {
            role: role.name(),
            source,
        })
    }
}

fn compile(role: Role) -> Result<BpfProgram, SeccompError> {
    let err = |source| SeccompError::Build {
        role: role.name(),
        source,
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let own: &[i64] = match role {
        Role::Vcpu => VCPU,
        Role::Main => MAIN,
    };
    for &nr in RUNTIME.iter().chain(COMMON).chain(own) {
        rules.insert(nr, Vec::new());
    }
    let types: &[u64] = match role {
        Role::Vcpu => &[KVMIO],
        Role::Main => &[KVMIO, TTY_AND_TUN, BLOCK],
    };
    let ioctl = types
        .iter()
        .map(|&t| {
            let cond = SeccompCondition::new(
                1,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::MaskedEq(0xff00),
                t << 8,
            )?;
            SeccompRule::new(vec![cond])
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    rules.insert(libc::SYS_ioctl, ioctl);
    // Signals only to this process's own threads (kicking a vCPU out of KVM_RUN, abort):
    // the VMM runs as root, and tgkill to another pid could end any process on the host.
    let own_pid = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        u64::from(std::process::id()),
    )
    .and_then(|c| SeccompRule::new(vec![c]))
    .map_err(err)?;
    rules.insert(libc::SYS_tgkill, vec![own_pid]);
    let arch = std::env::consts::ARCH.try_into().map_err(err)?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        arch,
    )
    .map_err(err)?;
    filter.try_into().map_err(err)
}

/// The ioctl "type" byte (bits 8..16 of the request) of KVM's ioctls.
const KVMIO: u64 = 0xAE;
/// `T`: the terminal's (TCGETS, TCSETS) and the tap's (TUNSETIFF, TUNSETVNETHDRSZ,
/// TUNSETOFFLOAD) ioctls share it.
const TTY_AND_TUN: u64 = 0x54;
/// Block devices' (BLKGETSIZE64), for a disk that is a device rather than a file.
const BLOCK: u64 = 0x12;

/// What any thread of a Rust program needs to live, whatever its work: memory (the
/// allocator, thread stacks), locks, signal masks and handlers, time and sleep, random
/// bytes (hash maps), its ids and its end. Shared with the metadata worker's filter.
pub const RUNTIME: &[i64] = &[
    libc::SYS_futex,
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mprotect,
    libc::SYS_madvise,
    libc::SYS_mremap,
    libc::SYS_brk,
    libc::SYS_rt_sigreturn,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigaction,
    libc::SYS_sigaltstack,
    libc::SYS_restart_syscall,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_clock_gettime,
    libc::SYS_clock_nanosleep,
    libc::SYS_gettid,
    libc::SYS_getpid,
    libc::SYS_getrandom,
    libc::SYS_exit,
    libc::SYS_exit_group,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_nanosleep,
];

/// What every VMM thread does beyond [`RUNTIME`]: I/O on descriptors it has (signals,
/// tgkill to its own process only, are added in `compile`). File opens and renames are
/// here because a vCPU thread writes the console log (O_APPEND|O_CREAT, rotated by
/// rename) when the guest prints.
const COMMON: &[i64] = &[
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_preadv,
    libc::SYS_pwritev,
    libc::SYS_lseek,
    libc::SYS_close,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_fcntl,
    libc::SYS_openat,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_fallocate,
    libc::SYS_ftruncate,
    libc::SYS_flock,
    libc::SYS_sendto,
    libc::SYS_sendmsg,
    libc::SYS_recvfrom,
    libc::SYS_recvmsg,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_rename,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_open,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_stat,
];

/// The vCPU thread's own: nothing beyond [`COMMON`] (and KVM's ioctls).
const VCPU: &[i64] = &[];

/// The main thread's own: the event loop, accepting control and console connections,
/// making and removing snapshot directories and files, new eventfds and taps for
/// hot-attached devices. (Kicking vCPU threads out of KVM_RUN is tgkill, see `compile`.)
const MAIN: &[i64] = &[
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_pwait,
    libc::SYS_accept4,
    libc::SYS_shutdown,
    libc::SYS_getsockopt,
    libc::SYS_setsockopt,
    libc::SYS_ppoll,
    libc::SYS_eventfd2,
    libc::SYS_timerfd_create,
    libc::SYS_timerfd_settime,
    libc::SYS_timerfd_gettime,
    libc::SYS_dup,
    libc::SYS_dup3,
    libc::SYS_pipe2,
    libc::SYS_unlinkat,
    libc::SYS_mkdirat,
    libc::SYS_getdents64,
    libc::SYS_copy_file_range,
    libc::SYS_sendfile,
    libc::SYS_fchmod,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_epoll_wait,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_poll,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_accept,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_unlink,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_mkdir,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_rmdir,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_filters_compile() {
        for role in [Role::Vcpu, Role::Main] {
            let prog = compile(role).unwrap();
            assert!(!prog.is_empty());
        }
    }

    #[test]
    fn a_thread_with_the_vcpu_filter_still_runs_rust() {
        // In a thread of its own: the filter cannot be taken off again.
        let t = std::thread::spawn(|| {
            let f = Filters {
                vcpu: compile(Role::Vcpu).unwrap(),
                main: compile(Role::Main).unwrap(),
            };
            f.install(Role::Vcpu).unwrap();
            let v: Vec<u8> = vec![7; 1 << 20];
            let dir = std::env::temp_dir();
            let p = dir.join(format!("ec2lab-seccomp-{}", std::process::id()));
            std::fs::write(&p, &v[..10]).unwrap();
            let back = std::fs::read(&p).unwrap();
            std::fs::rename(&p, p.with_extension("1")).unwrap();
            // Signal 0 to itself: allowed (its own process).
            // SAFETY: tgkill with signal 0 only checks that the thread exists.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_tgkill,
                    libc::getpid(),
                    libc::syscall(libc::SYS_gettid),
                    0,
                )
            };
            assert_eq!(r, 0);
            (back.len(), p)
        });
        let (n, p) = t.join().unwrap();
        assert_eq!(n, 10);
        std::fs::remove_file(p.with_extension("1")).unwrap();
    }
}
