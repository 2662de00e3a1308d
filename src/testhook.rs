//! Kill points for the tests of interrupted work: `EC2LAB_TEST_KILL_AT=<step>` makes a
//! process SIGKILL itself when it reaches [`kill_point`]`(<step>)`, as `kill -9` at that
//! moment would. Honoured only in debug builds (what `cargo test` runs); a release build
//! ignores the variable.

/// Dies by SIGKILL here if the tests asked for it at `step`.
pub fn kill_point(step: &str) {
    if !cfg!(debug_assertions) {
        return;
    }
    if std::env::var("EC2LAB_TEST_KILL_AT").is_ok_and(|v| v == step) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}
