//! A cloud-init based image (guest-images/build-cloudinit.sh: Debian bookworm, cloud-init
//! 22.4, openssh-server) launched by ec2lab picks up its key and user data from ec2lab's
//! instance metadata service, through cloud-init's own EC2 datasource.
//!
//! Slow on this host's software-nested KVM (every guest process start costs about a
//! second, and cloud-init is Python): several minutes per boot. Run it on demand:
//!   cargo test --test cloud_init -- --ignored --nocapture
//! It skips with a note when guest-images/out/cloudinit-rootfs.ext4 has not been built.

mod common;
use common::*;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Per boot, to the end of cloud-init's final stage. Measured here: see
/// guest-images/README.md; generous because the host's two cores are shared.
const BOOT_TIMEOUT: Duration = Duration::from_secs(1500);
/// Printed by the image's boot script after cloud-init's last stage and sshd's start.
const DONE: &str = "EC2LAB-CLOUD-INIT-DONE";
/// Printed by the user data below each time it runs.
const UD_MARK: &str = "EC2LAB-USERDATA-RAN";

fn image() -> Option<(PathBuf, PathBuf)> {
    let out = guest_images_dir();
    let (k, r) = (out.join("vmlinux"), out.join("cloudinit-rootfs.ext4"));
    if k.exists() && r.exists() {
        return Some((k, r));
    }
    eprintln!(
        "skipping: {} or {} missing; run guest-images/build.sh and \
         guest-images/build-cloudinit.sh",
        k.display(),
        r.display()
    );
    None
}

/// An ec2lab verb that must succeed; its JSON output.
fn ec2(lab: &Lab, args: &[&str]) -> serde_json::Value {
    let mut c = lab.cmd(args);
    // Lab::cmd stops tiny guests after 1 s; a real guest's Ctrl-Alt-Del shutdown (also
    // used by reboot-instances) needs longer.
    c.env("EC2LAB_STOP_TIMEOUT_SECS", "240");
    let out = run_with_timeout(c, 120);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

fn console(lab: &Lab, id: &str) -> String {
    ec2(lab, &["get-console-output", "--instance-id", id])["Output"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits until the console (kept across reboots) shows `DONE` `n` times.
fn wait_done(lab: &Lab, id: &str, n: usize) -> String {
    let end = Instant::now() + BOOT_TIMEOUT;
    loop {
        let c = console(lab, id);
        if c.matches(DONE).count() >= n {
            return c;
        }
        assert!(
            Instant::now() < end,
            "boot {n}: no {DONE} after {BOOT_TIMEOUT:?}:\n{c}"
        );
        std::thread::sleep(Duration::from_secs(5));
    }
}

/// `ec2lab ssh <id> -- <command>` as ec2-user with the key pair's file; its stdout.
fn ssh(lab: &Lab, id: &str, command: &str) -> String {
    let out = run_with_timeout(lab.cmd(&["ssh", id, "--", command]), 180);
    assert!(
        out.status.success(),
        "ssh {command}: {}\n{}",
        stderr(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The boot's timing lines, for the test log: the kernel starting init, the boot
/// script's stamps (guest uptime) and cloud-init's own per-stage lines.
fn timings(boot: &str) -> Vec<String> {
    boot.lines()
        .filter(|l| {
            l.contains("as init process")
                || l.contains("EC2LAB-CLOUD-INIT:")
                || (l.contains("Cloud-init v.")
                    && (l.contains("running") || l.contains("finished")))
        })
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
#[ignore = "slow: minutes per boot on this host; cargo test --test cloud_init -- --ignored"]
fn cloud_init_image_takes_key_and_user_data_from_imds() {
    let Some((kernel, rootfs)) = image() else {
        return;
    };
    let _one = real_guest_lock();
    let lab = Lab::new();
    let dir = lab.state_dir().to_path_buf();
    let ami = ec2(
        &lab,
        &[
            "register-image",
            "--name",
            "debian-cloudinit",
            "--kernel-file",
            kernel.to_str().unwrap(),
            "--root-image-file",
            rootfs.to_str().unwrap(),
        ],
    )["ImageId"]
        .as_str()
        .unwrap()
        .to_string();
    let pem = dir.join("ci.pem");
    ec2(
        &lab,
        &[
            "create-key-pair",
            "--key-name",
            "ci",
            "--key-type",
            "ed25519",
            "--output-file",
            pem.to_str().unwrap(),
        ],
    );
    // "ssh-ed25519 AAAA..." without the comment.
    let public_key = openssh_public_key(&pem);
    let sg = ec2(
        &lab,
        &[
            "create-security-group",
            "--group-name",
            "ssh",
            "--description",
            "ssh",
        ],
    )["GroupId"]
        .as_str()
        .unwrap()
        .to_string();
    ec2(
        &lab,
        &[
            "authorize-security-group-ingress",
            "--group-id",
            &sg,
            "--protocol",
            "tcp",
            "--port",
            "22",
            "--cidr",
            "0.0.0.0/0",
        ],
    );
    // Runs once per instance (cloud-init's scripts-user): the console line and the file
    // count its runs.
    let ud = dir.join("ud.sh");
    std::fs::write(
        &ud,
        format!("#!/bin/sh\necho {UD_MARK}\necho ran >> /marker\n"),
    )
    .unwrap();

    let started = Instant::now();
    let run = ec2(
        &lab,
        &[
            "run-instances",
            "--image-id",
            &ami,
            "--key-name",
            "ci",
            "--security-group-ids",
            &sg,
            "--user-data",
            &format!("file://{}", ud.display()),
        ],
    );
    let id = run["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    let first = wait_done(&lab, &id, 1);
    let first_boot = started.elapsed();
    eprintln!(
        "cloud-init image, first boot: {DONE} after {first_boot:?} (wall, from run-instances)"
    );
    for l in timings(&first) {
        eprintln!("  {l}");
    }

    // cloud-init found the EC2 datasource (not the None fallback) and finished.
    assert!(
        first.contains("Datasource DataSourceEc2."),
        "no 'finished ... Datasource DataSourceEc2.' line:\n{first}"
    );
    assert!(
        !first.contains("DataSourceNone"),
        "fell back to no datasource:\n{first}"
    );
    assert_eq!(
        first.matches(UD_MARK).count(),
        1,
        "user data ran once:\n{first}"
    );

    // In the guest: cloud-init's instance id is ec2lab's, the key pair's public key is in
    // ec2-user's authorized_keys (ssh as ec2-user with that key proves it too), the user
    // data ran once.
    let seen = ssh(
        &lab,
        &id,
        "cat /var/lib/cloud/data/instance-id; echo ---; cat ~/.ssh/authorized_keys; \
         echo ---; cat /marker",
    );
    let parts: Vec<&str> = seen.split("---\n").collect();
    assert_eq!(parts.len(), 3, "{seen}");
    assert_eq!(parts[0].trim(), id, "cloud-init's instance id");
    assert!(
        parts[1].lines().any(|l| l.contains(&public_key)),
        "{public_key} not in authorized_keys:\n{}",
        parts[1]
    );
    assert_eq!(parts[2], "ran\n", "/marker after one boot");

    // A reboot is the same instance: cloud-init runs again but not the user data.
    let rebooted = Instant::now();
    ec2(&lab, &["reboot-instances", "--instance-ids", &id]);
    let both = wait_done(&lab, &id, 2);
    eprintln!(
        "second boot: {DONE} after {:?} (wall, from reboot-instances)",
        rebooted.elapsed()
    );
    let second = &both[both.find(DONE).unwrap() + DONE.len()..];
    for l in timings(second) {
        eprintln!("  {l}");
    }
    assert!(
        second.contains("Datasource DataSourceEc2."),
        "second boot did not use the EC2 datasource:\n{second}"
    );
    assert_eq!(
        both.matches(UD_MARK).count(),
        1,
        "user data ran again after the reboot:\n{second}"
    );
    assert_eq!(
        ssh(&lab, &id, "cat /marker"),
        "ran\n",
        "/marker after the reboot"
    );
    ec2(&lab, &["terminate-instances", "--instance-ids", &id]);
    eprintln!("total: {:?}", started.elapsed());
}
