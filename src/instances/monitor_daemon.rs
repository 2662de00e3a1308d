//! Keeps the region's monitor daemon (`ec2lab __monitor <region>`, `cloudwatch::daemon`)
//! running: one per region, held by an flock on `<region>/monitor.lock`. Supervisors call
//! [`ensure`] at their start and every ~30 s, and so do the services that leave work for it
//! (detailed monitoring, alarms, metric data, SNS deliveries), so monitoring goes on whether
//! or not any ec2lab command or `ec2lab serve` runs, and comes back by itself after a crash.
//! It lives here, beside the supervisors that start it, so that `cloudwatch/` (which reads
//! instances) stays above `instances/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::process::{self, Lock};
use crate::error::Ec2Error;
use crate::store::Store;

/// The lock file that makes one monitor per region.
pub fn lock_path(region_root: &Path) -> PathBuf {
    region_root.join("monitor.lock")
}

/// Starts the region's monitor daemon unless one runs. Cheap (one flock attempt).
pub fn ensure(store: &Store) -> Result<(), Ec2Error> {
    // The library's unit tests would start their own test binary as the daemon.
    if cfg!(test) {
        return Ok(());
    }
    // Free lock = no monitor. Two callers may both spawn one in the window after the
    // drop; the second finds the lock taken and exits at once.
    if Lock::try_acquire(&lock_path(store.root()))?.is_none() {
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--state-dir")
        .arg(store.root().parent().unwrap_or(Path::new("/")))
        .arg("__monitor")
        .arg(store.region());
    process::spawn_detached(cmd, &store.root().join("monitor.log"))?;
    Ok(())
}
