//! The console across boots, on tiny guests (milliseconds per boot): after a stop and
//! start or a reboot, the previous boot's lines stay in get-console-output but never
//! count for the current boot, even in the moment before the new VMM exists; and the
//! serial console can be connected to right after start-instances returns.

mod common;
use common::*;

use std::time::{Duration, Instant};

use ec2lab::instances::console::current_boot;

/// Polls the current boot's console until it shows `needle`.
fn wait_current(lab: &Lab, id: &str, needle: &str) -> String {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let out = lab.console(id);
        if current_boot(&out).contains(needle) {
            return out;
        }
        assert!(Instant::now() < end, "{needle:?} not in this boot: {out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_new_boot_never_counts_the_previous_ones_lines() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    let id = lab.run(&ami, &[]).remove(0);
    lab.wait("instance-running", &id);
    let first = wait_current(&lab, &id, "boot 1");
    assert!(
        current_boot(&first).starts_with("EC2LAB-BOOT 1 "),
        "{first}"
    );

    lab.ok(&["stop-instances", "--instance-ids", &id, "--force"]);
    lab.wait("instance-stopped", &id);
    lab.ok(&["start-instances", "--instance-ids", &id]);
    // At once, before the supervisor has started the new VMM: the old lines are still in
    // the output, and none of them is this boot's.
    let out = lab.console(&id);
    let now = current_boot(&out);
    assert!(
        out.contains("boot 1\n"),
        "the first boot's output is kept: {out}"
    );
    assert!(now.starts_with("EC2LAB-BOOT 2 "), "{out}");
    assert!(
        !now.contains("boot 1\n") && now.matches("as init process").count() <= 1,
        "the first boot's lines count for the second: {now:?}"
    );
    // The serial console answers right after start-instances (it waits for the VMM).
    let o = lab.ec2(&["connect-serial-console", "--instance-id", &id]);
    assert_eq!(o.code, 0, "connect-serial-console: {}", o.stderr);
    assert!(o.stderr.contains("Connected to"), "{}", o.stderr);
    wait_current(&lab, &id, "boot 2");
    lab.wait("instance-running", &id);

    // A reboot is a new boot too; the supervisor marks it before starting the VMM.
    lab.ok(&["reboot-instances", "--instance-ids", &id]);
    let out = wait_current(&lab, &id, "boot 3");
    let now = current_boot(&out);
    assert!(now.starts_with("EC2LAB-BOOT 3 "), "{out}");
    assert!(!now.contains("boot 2\n"), "{now:?}");
    assert_eq!(
        out.matches("EC2LAB-BOOT ").count(),
        3,
        "one line per boot: {out}"
    );

    // A stopped instance has no console to connect to: a clear EC2 error, at once.
    lab.ok(&["stop-instances", "--instance-ids", &id, "--force"]);
    lab.wait("instance-stopped", &id);
    let err = lab.fails(
        &["connect-serial-console", "--instance-id", &id],
        "IncorrectInstanceState",
    );
    assert!(err.contains("it is stopped"), "{err}");
}
