//! A lab on the real guest images (guest-images/out): one real-guest test at a time on
//! this host, verbs with a generous stop deadline, the quick-start AMI, the wait for a
//! guest's ready marker.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{guest_images_dir, real_guest_images, real_guest_lock, run_with_timeout, stderr};
use super::{Lab, RealGuestLock};

/// A [`Lab`] whose commands use the real guest images.
pub struct RealLab {
    pub lab: Lab,
    pub images: PathBuf,
    /// Dropped after `lab`: one real-guest test at a time on this host.
    _one: RealGuestLock,
}

impl RealLab {
    /// A lab on the real guest images, once no other real-guest test runs; None where the
    /// images are not built (the test skips).
    pub fn new() -> Option<RealLab> {
        real_guest_images()?;
        let _one = real_guest_lock();
        Some(RealLab {
            lab: Lab::new(),
            images: guest_images_dir(),
            _one,
        })
    }

    /// An ec2lab command on this lab (a real guest shuts down within 240 s).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.lab.cmd(args);
        c.env("EC2LAB_GUEST_IMAGES", &self.images)
            .env("EC2LAB_STOP_TIMEOUT_SECS", "240")
            .env_remove("EC2LAB_WARM_CACHE");
        c
    }

    /// A verb that must succeed; its JSON.
    pub fn ok(&self, args: &[&str]) -> serde_json::Value {
        ok_json(self.cmd(args), args)
    }

    /// The quick-start AMI's id (`ec2lab-linux`, registered by the first command).
    pub fn quick_start_ami(&self) -> String {
        self.ok(&[
            "describe-images",
            "--filters",
            "Name=name,Values=ec2lab-linux",
        ])["Images"][0]["ImageId"]
            .as_str()
            .expect("quick-start AMI registered")
            .to_string()
    }

    /// Waits until the instance's current boot printed its ready marker.
    pub fn wait_ready(&self, id: &str, timeout: Duration, what: &str) {
        let end = Instant::now() + timeout;
        loop {
            let out = self.ok(&["get-console-output", "--instance-id", id]);
            if ec2lab::instances::console::ready(out["Output"].as_str().unwrap_or("")) {
                return;
            }
            assert!(Instant::now() < end, "{what}: the guest never got ready");
            std::thread::sleep(Duration::from_secs(2));
        }
    }
}

/// Runs `cmd` (ec2lab `args`), which must succeed within 15 minutes; its JSON.
pub fn ok_json(cmd: Command, args: &[&str]) -> serde_json::Value {
    let out = run_with_timeout(cmd, 900);
    assert!(
        out.status.success(),
        "ec2lab {args:?}: {}{}",
        stderr(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}
