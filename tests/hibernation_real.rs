//! Hibernation of ONE real Linux guest (the quick-start AMI): a background process and a
//! file in `/tmp` (a tmpfs: memory only) are still there after `stop-instances
//! --hibernate` and `start-instances`, and the guest did not boot again. Minutes on a
//! nested KVM; skips without guest-images/out unless EC2LAB_REQUIRE_IMAGES=1.

mod common;
use common::*;

use std::time::{Duration, Instant};

const BOOT_TIMEOUT: Duration = Duration::from_secs(420);

#[test]
fn a_hibernated_guest_keeps_its_processes_and_tmp() {
    let Some(real) = RealLab::new() else {
        return;
    };
    let lab = &real.lab;
    let ec2 = |args: &[&str]| real.ok(args);
    let ami = real.quick_start_ami();
    let id = ec2(&[
        "run-instances",
        "--image-id",
        &ami,
        "--instance-type",
        "t2.micro",
        "--hibernation-options",
        "Configured=true",
    ])["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    let t = Instant::now();
    real.wait_ready(&id, BOOT_TIMEOUT, "first boot");
    eprintln!("first boot ready after {:?}", t.elapsed());

    let mut console = Console::open(lab, &id);
    let (code, seen) = console.status(
        "echo kept-in-memory > /tmp/hib; (while :; do sleep 1; done) & echo $! > /tmp/hib.pid",
    );
    assert_eq!(code, 0, "{seen}");
    drop(console);

    let t = Instant::now();
    ec2(&["stop-instances", "--instance-ids", &id, "--hibernate"]);
    ec2(&[
        "wait",
        "instance-stopped",
        "--instance-ids",
        &id,
        "--timeout-secs",
        "300",
    ]);
    let hibernated = t.elapsed();
    let d = ec2(&["describe-instances", "--instance-ids", &id])["Reservations"][0]["Instances"][0]
        .clone();
    assert_eq!(
        d["StateReason"]["Code"], "Client.UserInitiatedHibernate",
        "{d}"
    );

    let t = Instant::now();
    ec2(&["start-instances", "--instance-ids", &id]);
    ec2(&[
        "wait",
        "instance-running",
        "--instance-ids",
        &id,
        "--timeout-secs",
        "300",
    ]);
    let resumed = t.elapsed();
    let mut console = Console::open(lab, &id);
    let (code, seen) =
        console.status("cat /tmp/hib; kill -0 $(cat /tmp/hib.pid) && echo ALIVE''-PROC");
    eprintln!(
        "hibernate (stop-instances to stopped) {hibernated:?}, resume (start-instances to running) {resumed:?}, host kernel {}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim()
    );
    assert_eq!(code, 0, "{seen}");
    assert!(seen.contains("kept-in-memory"), "{seen}");
    assert!(seen.contains("ALIVE-PROC"), "{seen}");
    let out = ec2(&["get-console-output", "--instance-id", &id]);
    let log = out["Output"].as_str().unwrap_or("");
    assert!(log.contains("ec2lab: resuming from hibernation"), "{log}");
    assert!(!log.contains("resuming from hibernation failed"), "{log}");
    drop(console);
    ec2(&["terminate-instances", "--instance-ids", &id]);
}
