//! Becoming an unprivileged user for good, as every process that handles what a guest
//! sends does (the jailed VMM, the metadata service's worker): no supplementary groups,
//! one uid and gid for real, effective and saved, every capability gone (effective,
//! permitted, inheritable, ambient and the bounding set) and `no_new_privs` set, so
//! nothing the process execs could regain any.

use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use thiserror::Error;

/// A step of dropping privileges failed; the caller must not go on with them.
#[derive(Debug, Error)]
#[error("{step} failed: {source}")]
pub struct DropError {
    /// What was being done.
    pub step: String,
    /// Why it failed.
    #[source]
    pub source: nix::Error,
}

fn step(what: impl Into<String>) -> impl FnOnce(nix::Error) -> DropError {
    let step = what.into();
    move |source| DropError { step, source }
}

/// Becomes `uid`:`gid` with no capability left in any set, and no way to gain one.
pub fn drop_privileges(uid: u32, gid: u32) -> Result<(), DropError> {
    // The bounding set first: dropping from it needs CAP_SETPCAP, gone after setuid.
    for cap in 0..64 {
        // SAFETY: prctl(PR_CAPBSET_DROP, cap) takes two integers and touches no memory;
        // capabilities past the kernel's last fail with EINVAL, which ends the loop.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } != 0 {
            break;
        }
    }
    setgroups(&[]).map_err(step("setgroups([])"))?;
    let (u, g) = (Uid::from_raw(uid), Gid::from_raw(gid));
    setresgid(g, g, g).map_err(step(format!("setresgid({gid})")))?;
    // From root to a uid that is none of real, effective or saved: the kernel clears the
    // permitted and effective sets.
    setresuid(u, u, u).map_err(step(format!("setresuid({uid})")))?;
    // SAFETY: as above, integer-only prctl calls.
    let ambient = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    if ambient != 0 {
        return Err(step("clearing the ambient capabilities")(nix::Error::last()));
    }
    clear_inheritable()?;
    // SAFETY: integer-only prctl call.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(step("PR_SET_NO_NEW_PRIVS")(nix::Error::last()));
    }
    Ok(())
}

/// capset(2) with every set empty: what setuid left (the inheritable set) goes too.
fn clear_inheritable() -> Result<(), DropError> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [Data::default(); 2];
    // SAFETY: capset reads a v3 header and two data structs, laid out as the kernel's
    // `__user_cap_header_struct` and `__user_cap_data_struct`; both live on this stack.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if r != 0 {
        return Err(step("capset (clearing every capability)")(
            nix::Error::last(),
        ));
    }
    Ok(())
}
