//! The real guest image (guest-images/build.sh) booted by `ec2lab vmm` on this host's KVM.
//! Slow on a software-nested KVM (tens of seconds to init), under a second on hardware.
//!
//! These tests need guest-images/out/{vmlinux,rootfs.ext4}. Without them they skip with
//! a note, unless EC2LAB_REQUIRE_IMAGES=1 (CI), where a missing image is a failure.

mod common;
use common::*;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One Linux guest at a time: on a nested KVM each takes a whole core.
static ONE_GUEST: Mutex<()> = Mutex::new(());

/// Generous: measured ~40-90 s to init on the nested KVM here.
const BOOT_TIMEOUT: Duration = Duration::from_secs(420);

fn images() -> Option<(PathBuf, PathBuf)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guest-images/out");
    let (k, r) = (root.join("vmlinux"), root.join("rootfs.ext4"));
    if k.exists() && r.exists() {
        return Some((k, r));
    }
    if std::env::var("EC2LAB_REQUIRE_IMAGES").as_deref() == Ok("1") {
        panic!(
            "guest images missing in {}: run guest-images/build.sh",
            root.display()
        );
    }
    eprintln!("skipping: guest images missing; run guest-images/build.sh");
    None
}

fn wait_console(g: &Guest, needle: &str, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if g.console().contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn ctl(sock: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let mut c = ec2lab();
    c.args(["vmm-ctl", "--api-sock", sock.to_str().unwrap()])
        .args(args);
    let out = run_with_timeout(c, 30);
    assert!(out.status.success(), "vmm-ctl {args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Boots the image from its root disk with default switches, reaches the ready marker,
/// reports milestones on the control socket, and powers off on a graceful shutdown.
#[test]
fn guest_image_boots_to_ready_and_shuts_down_gracefully() {
    let Some((kernel, rootfs)) = images() else {
        return;
    };
    let _one = ONE_GUEST.lock().unwrap_or_else(|e| e.into_inner());
    let g = Guest {
        dir: tempfile::tempdir().unwrap(),
    };
    // The guest writes to its root disk: give it a copy.
    let disk = g.path("rootfs.ext4");
    std::fs::copy(&rootfs, &disk).unwrap();
    let sock = g.path("api.sock");
    let started = Instant::now();
    let mut child = ec2lab()
        .args(["vmm", "--kernel"])
        .arg(&kernel)
        .arg("--disk")
        .arg(&disk)
        .arg("--serial-out")
        .arg(g.path("console"))
        .arg("--api-sock")
        .arg(&sock)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ready = wait_console(&g, "EC2LAB-GUEST-READY", BOOT_TIMEOUT);
    if !ready {
        let _ = child.kill();
        panic!(
            "no ready marker in {:?}; console:\n{}",
            BOOT_TIMEOUT,
            g.console()
        );
    }
    let boot = started.elapsed();
    let status = ctl(&sock, &["status"]);
    let s = &status["status"];
    assert_eq!(s["state"], "running");
    let init_ms = s["init_started_ms"].as_u64().expect("init milestone seen");
    let ready_ms = s["ready_ms"].as_u64().expect("ready milestone seen");
    assert!(init_ms <= ready_ms && ready_ms <= boot.as_millis() as u64 + 1000);
    eprintln!(
        "boot: init at {init_ms} ms, ready at {ready_ms} ms ({} KVM)",
        s["kvm"]
    );

    ctl(&sock, &["shutdown", "--timeout-secs", "300"]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "expected a power-off; stderr: {}\nconsole:\n{}",
        stderr(&out),
        g.console()
    );
    assert!(
        g.console().contains("reboot: Power down"),
        "{}",
        g.console()
    );
}
