//! Kill and fail points for the tests of interrupted and failed work:
//! `EC2LAB_TEST_KILL_AT=<step>` makes a process SIGKILL itself when it reaches
//! [`kill_point`]`(<step>)`, as `kill -9` at that moment would; `EC2LAB_TEST_FAIL_AT=<step>`
//! makes [`fail_point`]`(<step>)` return an error. Honoured only in debug builds (what
//! `cargo test` runs); a release build ignores the variables.

/// Dies by SIGKILL here if the tests asked for it at `step`.
pub fn kill_point(step: &str) {
    if !cfg!(debug_assertions) {
        return;
    }
    if std::env::var("EC2LAB_TEST_KILL_AT").is_ok_and(|v| v == step) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

/// Fails here, with an internal error naming the step, if the tests asked for it
/// (`EC2LAB_TEST_FAIL_AT=<step>`): for the tests of work that fails half way, such as a
/// launch whose supervisor cannot be started. Debug builds only, as [`kill_point`].
pub fn fail_point(step: &str) -> Result<(), crate::error::Ec2Error> {
    if cfg!(debug_assertions) && std::env::var("EC2LAB_TEST_FAIL_AT").is_ok_and(|v| v == step) {
        return Err(crate::error::Ec2Error::internal(format!(
            "the test hook EC2LAB_TEST_FAIL_AT failed the step {step:?}"
        )));
    }
    Ok(())
}

/// Whether the tests asked (`EC2LAB_TEST_SECCOMP_VIOLATION=<thread>`, debug builds only)
/// that the VMM's `thread` ("vcpu" or "main") or the metadata worker ("metadata-worker")
/// make a forbidden syscall once its seccomp filter is in.
pub fn seccomp_violation_in(thread: &str) -> bool {
    cfg!(debug_assertions)
        && std::env::var("EC2LAB_TEST_SECCOMP_VIOLATION").is_ok_and(|v| v == thread)
}

/// Makes a system call no filtered thread is allowed: ptrace(2) with a request that does
/// nothing (it fails with EINVAL or ESRCH where no filter stops it first).
pub fn forbidden_syscall() {
    // SAFETY: an invalid ptrace request on pid 0 touches no memory and changes nothing.
    let r = unsafe { libc::syscall(libc::SYS_ptrace, -1i64, 0i64, 0i64, 0i64) };
    eprintln!("ec2lab: test hook: ptrace(2) was not stopped (returned {r})");
}
