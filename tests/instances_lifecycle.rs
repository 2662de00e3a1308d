//! The instance lifecycle through the ec2lab CLI, on real KVM guests: tiny operating
//! systems (a few hundred instructions that read and write their virtio root disk) make
//! every transition take milliseconds, so each one is exercised, not skipped.

mod common;
use common::*;
#[path = "api_common/server.rs"]
mod server;

use std::time::{Duration, Instant};

fn code(v: &serde_json::Value) -> u64 {
    v["State"]["Code"].as_u64().unwrap()
}

#[test]
fn every_transition_of_the_lifecycle_on_real_vms() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);

    // run-instances: pending at once, running once the guest reaches init.
    let started = Instant::now();
    let out = lab.ok(&[
        "run-instances",
        "--image-id",
        &ami,
        "--instance-type",
        "t2.micro",
        "--tag-specifications",
        "ResourceType=instance,Tags=[{Key=Name,Value=web}]",
    ]);
    let inst = &out["Instances"][0];
    let id = inst["InstanceId"].as_str().unwrap().to_string();
    assert!(id.starts_with("i-") && id.len() == 19, "{id}");
    assert_eq!(inst["State"]["Name"], "pending");
    assert_eq!(code(inst), 0);
    assert!(out["ReservationId"].as_str().unwrap().starts_with("r-"));
    lab.wait("instance-running", &id);
    let to_running = started.elapsed();
    let d = lab.describe(&id);
    assert_eq!(
        (d["State"]["Name"].as_str(), code(&d)),
        (Some("running"), 16)
    );
    assert_eq!(d["Tags"][0]["Value"], "web");
    assert_eq!(d["InstanceType"], "t2.micro");
    assert!(lab.console(&id).contains("boot 1"), "{}", lab.console(&id));
    eprintln!("run-instances -> running: {to_running:?}");

    // reboot: stays running, same id, a new boot of the same disk.
    lab.ok(&["reboot-instances", "--instance-ids", &id]);
    let end = Instant::now() + Duration::from_secs(60);
    while !lab.console(&id).contains("boot 2") {
        assert!(Instant::now() < end, "no second boot: {}", lab.console(&id));
        std::thread::sleep(Duration::from_millis(100));
    }
    lab.wait("instance-running", &id);
    assert_eq!(lab.describe(&id)["InstanceId"], id.as_str());

    // stop: stopping, then stopped; the root disk stays.
    let v = lab.ok(&["stop-instances", "--instance-ids", &id]);
    let s = &v["StoppingInstances"][0];
    assert_eq!(
        (
            s["PreviousState"]["Code"].as_u64(),
            s["CurrentState"]["Code"].as_u64()
        ),
        (Some(16), Some(64))
    );
    lab.wait("instance-stopped", &id);
    let d = lab.describe(&id);
    assert_eq!(code(&d), 80);
    assert_eq!(d["StateReason"]["Code"], "Client.UserInitiatedShutdown");
    assert!(d["StateTransitionReason"]
        .as_str()
        .unwrap()
        .starts_with("User initiated"));

    // start: pending -> running again, and the disk kept its data (the counter goes on).
    let v = lab.ok(&["start-instances", "--instance-ids", &id]);
    assert_eq!(v["StartingInstances"][0]["CurrentState"]["Name"], "pending");
    lab.wait("instance-running", &id);
    let end = Instant::now() + Duration::from_secs(30);
    while !lab.console(&id).contains("boot 3") {
        assert!(
            Instant::now() < end,
            "disk data lost across stop/start: {}",
            lab.console(&id)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // create-image from the running instance (paused copy), then launch from it: the new
    // instance's disk carries on from the copied counter.
    let img = lab.ok(&[
        "create-image",
        "--instance-id",
        &id,
        "--name",
        "tiny-v2",
        "--no-reboot",
    ]);
    let ami2 = img["ImageId"].as_str().unwrap().to_string();
    let imgs = lab.ok(&["describe-images", "--image-ids", &ami2]);
    assert_eq!(imgs["Images"][0]["State"], "available");
    let id2 = lab.run(&ami2, &[]).remove(0);
    lab.wait("instance-running", &id2);
    assert!(
        lab.console(&id2).contains("boot 4"),
        "{}",
        lab.console(&id2)
    );
    assert_eq!(lab.state(&id), "running");

    // terminate: shutting-down then terminated; the root disk goes; still visible.
    let v = lab.ok(&["terminate-instances", "--instance-ids", &id, &id2]);
    assert_eq!(v["TerminatingInstances"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["TerminatingInstances"][0]["CurrentState"]["Name"],
        "shutting-down"
    );
    lab.wait("instance-terminated", &id);
    lab.wait("instance-terminated", &id2);
    assert_eq!(code(&lab.describe(&id)), 48);
    assert!(
        !lab.run_dir(&id).join("root.img").exists(),
        "root volume kept after terminate"
    );
    // Terminating again is accepted and changes nothing; starting is refused.
    let v = lab.ok(&["terminate-instances", "--instance-ids", &id]);
    assert_eq!(
        v["TerminatingInstances"][0]["CurrentState"]["Name"],
        "terminated"
    );
    let e = lab.ec2(&["start-instances", "--instance-ids", &id]);
    assert_eq!(e.code, 254);
    assert!(
        e.stderr.contains("(IncorrectInstanceState)"),
        "{}",
        e.stderr
    );
}

#[test]
fn a_stopped_instance_terminates_at_once_and_filters_select_by_state() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    let ids = lab.run(&ami, &["--count", "2"]);
    assert_eq!(ids.len(), 2);
    for id in &ids {
        lab.wait("instance-running", id);
    }
    lab.ok(&["stop-instances", "--instance-ids", &ids[0], "--force"]);
    lab.wait("instance-stopped", &ids[0]);
    let v = lab.ok(&[
        "describe-instances",
        "--filters",
        "Name=instance-state-name,Values=running",
    ]);
    let running: Vec<&str> = v["Reservations"][0]["Instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["InstanceId"].as_str().unwrap())
        .collect();
    assert_eq!(running, vec![ids[1].as_str()]);
    let v = lab.ok(&["terminate-instances", "--instance-ids", &ids[0]]);
    assert_eq!(
        v["TerminatingInstances"][0]["CurrentState"]["Name"],
        "terminated"
    );
    let v = lab.ok(&[
        "describe-instances",
        "--filters",
        "Name=instance-state-name,Values=terminated,stopped",
    ]);
    assert_eq!(
        v["Reservations"][0]["Instances"].as_array().unwrap().len(),
        1
    );
}

#[test]
fn guest_initiated_power_off_stops_the_instance() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-poweroff", TinyOs::PowerOff);
    let id = lab.run(&ami, &[]).remove(0);
    // Not `wait instance-stopped`: like AWS's waiter it fails on 'pending', and this guest
    // may still be pending when asked.
    let end = Instant::now() + Duration::from_secs(60);
    while lab.state(&id) != "stopped" {
        assert!(Instant::now() < end, "never stopped: {}", lab.describe(&id));
        std::thread::sleep(Duration::from_millis(100));
    }
    let d = lab.describe(&id);
    assert_eq!(d["StateReason"]["Code"], "Client.InstanceInitiatedShutdown");
    assert!(lab.console(&id).contains("reboot: Power down"));
}

#[test]
fn a_killed_supervisor_is_replaced_and_a_killed_vmm_is_recovered() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    let id = lab.run(&ami, &[]).remove(0);
    lab.wait("instance-running", &id);
    let run = lab.run_dir(&id);
    let sup: i32 = std::fs::read_to_string(run.join("supervisor.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: kill(2) of a process this test's lab started.
    unsafe { libc::kill(sup, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(200));
    // The next command repairs: a new supervisor adopts the VMM, which kept running.
    assert_eq!(lab.state(&id), "running");
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let now: i32 = std::fs::read_to_string(run.join("supervisor.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        if now != sup {
            break;
        }
        assert!(Instant::now() < end, "no new supervisor");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !lab.console(&id).contains("boot 2"),
        "the adopted VMM was restarted"
    );

    // Kill the VMM itself (the host's side fails, not the guest): as on EC2 the instance
    // stays running with its system status check impaired, and its automatic recovery
    // (EC2LAB_AUTO_RECOVERY_SECS, 3 s in tests) starts a new VMM for it.
    let vmm_of = |boot: &str| -> i32 {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let out = std::process::Command::new("pgrep")
                .args(["-f", &format!("{}/launch.json", run.display())])
                .output()
                .unwrap();
            let pid = String::from_utf8_lossy(&out.stdout).trim().parse::<i32>();
            if let (Ok(pid), true) = (pid, lab.console(&id).contains(boot)) {
                return pid;
            }
            assert!(Instant::now() < end, "no VMM for {boot}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let system = |lab: &Lab| {
        let v = lab.ok(&["describe-instance-status", "--instance-ids", &id]);
        v["InstanceStatuses"][0]["SystemStatus"].clone()
    };
    assert_eq!(
        lab.describe(&id)["MaintenanceOptions"]["AutoRecovery"],
        "default"
    );
    let first = vmm_of("boot 1");
    // SAFETY: as above.
    unsafe { libc::kill(first, libc::SIGKILL) };
    let seen = wait_until("the system check impaired", 10, || {
        let s = system(&lab);
        (s["Status"] == "impaired").then_some(s)
    });
    assert_eq!(seen["Details"][0]["Name"], "reachability");
    assert_eq!(seen["Details"][0]["Status"], "failed");
    assert!(seen["Details"][0]["ImpairedSince"].is_string(), "{seen}");
    assert_eq!(lab.state(&id), "running");
    let second = vmm_of("boot 2");
    assert_ne!(second, first);
    wait_until("the system check ok again", 10, || {
        (system(&lab)["Status"] == "ok").then_some(())
    });
    assert_eq!(lab.state(&id), "running");
    assert!(lab
        .console(&id)
        .contains("system status check impaired; automatic recovery"));

    // With automatic recovery disabled it stays impaired until the user acts; bad values
    // change nothing.
    lab.fails(
        &[
            "modify-instance-maintenance-options",
            "--instance-id",
            &id,
            "--auto-recovery",
            "sometimes",
        ],
        "InvalidParameterValue",
    );
    let v = lab.ok(&[
        "modify-instance-maintenance-options",
        "--instance-id",
        &id,
        "--auto-recovery",
        "disabled",
    ]);
    assert_eq!(v["AutoRecovery"], "disabled");
    assert_eq!(
        lab.describe(&id)["MaintenanceOptions"]["AutoRecovery"],
        "disabled"
    );
    // SAFETY: as above.
    unsafe { libc::kill(second, libc::SIGKILL) };
    wait_until("the system check impaired", 10, || {
        (system(&lab)["Status"] == "impaired").then_some(())
    });
    std::thread::sleep(Duration::from_secs(7)); // twice the recovery delay
    assert_eq!(system(&lab)["Status"], "impaired");
    assert_eq!(lab.state(&id), "running");
    assert!(!lab.console(&id).contains("boot 3"));
    // Stopping it needs no VMM; it starts again from its disk.
    lab.ok(&["stop-instances", "--instance-ids", &id]);
    lab.wait("instance-stopped", &id);
    let d = lab.describe(&id);
    assert_eq!(d["StateReason"]["Code"], "Client.UserInitiatedShutdown");
    lab.ok(&["start-instances", "--instance-ids", &id]);
    lab.wait("instance-running", &id);
    vmm_of("boot 3");
    assert_eq!(
        lab.describe(&id)["MaintenanceOptions"]["AutoRecovery"],
        "disabled"
    );
}

#[test]
fn concurrent_commands_never_lose_or_corrupt_anything() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let cmd_args = [
                "run-instances",
                "--image-id",
                &ami,
                "--instance-type",
                "t2.nano",
            ];
            let mut cmd = lab.cmd(&cmd_args);
            std::thread::spawn(move || {
                run_with_timeout(
                    std::mem::replace(&mut cmd, std::process::Command::new("true")),
                    120,
                )
            })
        })
        .collect();
    // Readers at the same time.
    for _ in 0..4 {
        lab.ok(&["describe-instances"]);
    }
    let mut ids = Vec::new();
    for t in threads {
        let out = t.join().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        ids.push(
            v["Instances"][0]["InstanceId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    let v = lab.ok(&["describe-instances"]);
    let n: usize = v["Reservations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Instances"].as_array().unwrap().len())
        .sum();
    assert_eq!(n, 4);
    for id in &ids {
        lab.wait("instance-running", id);
    }
    // Stop them all from parallel commands.
    let stoppers: Vec<_> = ids
        .iter()
        .map(|id| {
            let mut cmd = lab.cmd(&["stop-instances", "--instance-ids", id]);
            std::thread::spawn(move || {
                run_with_timeout(
                    std::mem::replace(&mut cmd, std::process::Command::new("true")),
                    60,
                )
            })
        })
        .collect();
    for s in stoppers {
        assert!(s.join().unwrap().status.success());
    }
    for id in &ids {
        lab.wait("instance-stopped", id);
    }
}

#[test]
fn bad_input_gets_ec2_errors_and_changes_nothing() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["run-instances", "--image-id", "ami-0123456789abcdef0"],
            254,
            "(InvalidAMIID.NotFound)",
        ),
        (
            &["run-instances", "--image-id", "not-an-ami"],
            254,
            "(InvalidAMIID.Malformed)",
        ),
        (
            &[
                "run-instances",
                "--image-id",
                &ami,
                "--instance-type",
                "t9.huge",
            ],
            254,
            "(InvalidParameterValue)",
        ),
        (
            &[
                "run-instances",
                "--image-id",
                &ami,
                "--instance-type",
                "r5.2xlarge",
                "--count",
                "8",
            ],
            254,
            "(InsufficientInstanceCapacity)",
        ),
        (
            &["run-instances", "--image-id", &ami, "--count", "two"],
            252,
            "--count",
        ),
        (
            &[
                "describe-instances",
                "--instance-ids",
                "i-0123456789abcdef0",
            ],
            254,
            "(InvalidInstanceID.NotFound)",
        ),
        (
            &["stop-instances", "--instance-ids", "i-nope"],
            254,
            "(InvalidInstanceID.Malformed)",
        ),
        (
            &["describe-instances", "--filters", "Name=x]"],
            252,
            "Error parsing parameter '--filters'",
        ),
        (
            &["describe-instances", "--filters", "Name=color,Values=red"],
            254,
            "(InvalidParameterValue)",
        ),
        (
            &[
                "register-image",
                "--name",
                "tiny-os",
                "--kernel-file",
                "/etc/hostname",
                "--root-image-file",
                "/etc/hostname",
            ],
            254,
            "(InvalidAMIName.Duplicate)",
        ),
        (
            &["deregister-image", "--image-id", "ami-0123456789abcdef0"],
            254,
            "(InvalidAMIID.NotFound)",
        ),
    ];
    for (args, code, needle) in cases {
        let o = lab.ec2(args);
        assert_eq!(o.code, *code, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(needle), "{args:?}: {}", o.stderr);
    }
    let big = lab.dir.path().join("big-user-data");
    std::fs::write(&big, vec![b'x'; 16 * 1024 + 1]).unwrap();
    let arg = format!("file://{}", big.display());
    let o = lab.ec2(&["run-instances", "--image-id", &ami, "--user-data", &arg]);
    assert_eq!(o.code, 254);
    assert!(o.stderr.contains("16384 bytes"), "{}", o.stderr);
    for bad in [
        "HttpTokens=sometimes",
        "HttpEndpoint=on",
        "HttpPutResponseHopLimit=65",
    ] {
        lab.fails(
            &[
                "run-instances",
                "--image-id",
                &ami,
                "--metadata-options",
                bad,
            ],
            "InvalidParameterValue",
        );
    }
    // Nothing was launched by any of that.
    let v = lab.ok(&["describe-instances"]);
    assert_eq!(v["Reservations"].as_array().unwrap().len(), 0);
    assert_eq!(
        std::fs::read_dir(lab.dir.path().join("lab-1/instances"))
            .unwrap()
            .count(),
        0
    );
}

/// A multi-vCPU type gets every vCPU on every host (kvm_pvm included, since the VMM hides
/// the hypercall features that hung Linux's bring-up there): the VMM made and ran a vCPU
/// thread for each, and `describe-instances` says the same, with no warning. (The tiny OS
/// never wakes its second vCPU; tests/guest_tools.rs and tests/boot_linux.rs show Linux
/// using both.)
#[test]
fn multi_vcpu_types_run_every_vcpu() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    let id = lab.run(&ami, &["--instance-type", "t3.small"]).remove(0);
    lab.wait("instance-running", &id);
    let d = lab.describe(&id);
    let cpu = &d["CpuOptions"];
    let cores = cpu["CoreCount"].as_u64().unwrap() * cpu["ThreadsPerCore"].as_u64().unwrap();
    assert_eq!(cores, 2, "{d}");
    assert_eq!(d["Ec2LabInfo"]["VCpusRunning"], 2, "{d}");
    assert_eq!(d["Ec2LabInfo"]["Warnings"], serde_json::json!([]), "{d}");
    assert!(
        !lab.console(&id).contains("ec2lab: warning"),
        "{}",
        lab.console(&id)
    );

    let sock = lab.run_dir(&id).join("vmm.sock");
    let ctl = |what: &str| {
        let mut c = ec2lab();
        c.args(["vmm-ctl", "--api-sock", sock.to_str().unwrap(), what]);
        let out = run_with_timeout(c, 30);
        assert!(out.status.success(), "vmm-ctl {what}: {}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let status = &ctl("status")["status"];
    assert_eq!(
        (status["vcpus"].as_u64(), status["requested_vcpus"].as_u64()),
        (Some(2), Some(2))
    );
    let metrics = &ctl("metrics")["metrics"];
    let per_thread: Vec<u64> = metrics["vcpu_thread_cpu_ns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(per_thread.len(), 2, "{metrics}");
    assert!(
        per_thread.iter().all(|&ns| ns > 0),
        "every vCPU thread ran: {metrics}"
    );
    lab.ok(&["terminate-instances", "--instance-ids", &id]);
}

#[test]
fn images_register_copy_across_regions_and_deregister() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    let id = lab.run(&ami, &[]).remove(0);
    // Both regions run an instance at once: their default VPCs must not overlap.
    lab.region_default_vpc("lab-2");
    let v = lab.ok(&[
        "--region",
        "lab-2",
        "copy-image",
        "--source-region",
        "lab-1",
        "--source-image-id",
        &ami,
        "--name",
        "tiny-copy",
    ]);
    let copy = v["ImageId"].as_str().unwrap().to_string();
    assert_ne!(copy, ami);
    let v = lab.ok(&["--region", "lab-2", "describe-images"]);
    assert_eq!(v["Images"].as_array().unwrap().len(), 1);
    assert_eq!(v["Images"][0]["Name"], "tiny-copy");
    let id2 = lab.ok(&["--region", "lab-2", "run-instances", "--image-id", &copy])["Instances"][0]
        ["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    lab.ok(&[
        "--region",
        "lab-2",
        "wait",
        "instance-running",
        "--instance-ids",
        &id2,
    ]);
    // Deregistering the source leaves the instance launched from it running.
    lab.wait("instance-running", &id);
    lab.ok(&["deregister-image", "--image-id", &ami]);
    let e = lab.ec2(&["run-instances", "--image-id", &ami]);
    assert!(e.stderr.contains("(InvalidAMIID.NotFound)"), "{}", e.stderr);
    assert_eq!(lab.state(&id), "running");
    lab.ok(&["reboot-instances", "--instance-ids", &id]);
    let end = Instant::now() + Duration::from_secs(30);
    while !lab.console(&id).contains("boot 2") {
        assert!(Instant::now() < end, "could not reboot after deregister");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn instance_types_are_described_like_aws() {
    let lab = Lab::new();
    let v = lab.ok(&[
        "describe-instance-types",
        "--instance-types",
        "t2.micro",
        "m5d.large",
    ]);
    let t = v["InstanceTypes"].as_array().unwrap();
    assert_eq!(t[0]["VCpuInfo"]["DefaultVCpus"], 1);
    assert_eq!(t[0]["MemoryInfo"]["SizeInMiB"], 1024);
    assert_eq!(t[1]["InstanceStorageInfo"]["TotalSizeInGB"], 75);
    let all = lab.ok(&["describe-instance-types"]);
    assert!(all["InstanceTypes"].as_array().unwrap().len() >= 25);
    let table = lab.ec2(&[
        "describe-instance-types",
        "--instance-types",
        "t2.micro",
        "--output",
        "table",
    ]);
    assert!(
        table.stdout.contains("DescribeInstanceTypes") && table.stdout.contains("t2.micro"),
        "{}",
        table.stdout
    );
}

#[test]
fn metadata_options_are_recorded_shown_and_modified() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    let id = lab.run(
        &ami,
        &[
            "--metadata-options",
            "HttpTokens=required,HttpPutResponseHopLimit=2",
        ],
    )[0]
    .clone();
    let m = &lab.describe(&id)["MetadataOptions"];
    assert_eq!(m["HttpTokens"], "required");
    assert_eq!(m["HttpPutResponseHopLimit"], 2);
    assert_eq!(m["HttpEndpoint"], "enabled");
    let v = lab.ok(&[
        "modify-instance-metadata-options",
        "--instance-id",
        &id,
        "--http-tokens",
        "optional",
        "--http-endpoint",
        "disabled",
    ]);
    assert_eq!(v["InstanceMetadataOptions"]["HttpTokens"], "optional");
    let m = &lab.describe(&id)["MetadataOptions"];
    assert_eq!(m["HttpTokens"], "optional");
    assert_eq!(m["HttpEndpoint"], "disabled");
    assert_eq!(m["HttpPutResponseHopLimit"], 2, "unchanged");
    lab.fails(
        &[
            "modify-instance-metadata-options",
            "--instance-id",
            &id,
            "--http-tokens",
            "maybe",
        ],
        "InvalidParameterValue",
    );
    assert_eq!(
        lab.describe(&id)["MetadataOptions"]["HttpTokens"],
        "optional"
    );
    lab.ok(&["terminate-instances", "--instance-ids", &id]);
}

#[test]
fn after_a_host_reboot_serve_brings_instances_and_the_monitor_back() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    let id = lab.run(&ami, &[]).remove(0);
    lab.wait("instance-running", &id);
    let run = lab.run_dir(&id);
    let region = lab.state_dir().join("lab-1");
    let monitor_lock = region.join("monitor.lock");
    let monitor_running = || {
        ec2lab::instances::process::Lock::try_acquire(&monitor_lock)
            .unwrap()
            .is_none()
    };
    wait_until("the monitor daemon", 30, || monitor_running().then_some(()));
    // The host goes down: every ec2lab process dies at once (supervisor first, so that
    // nothing sees the VMM go).
    let pid_of = |pattern: &str| -> i32 {
        let out = std::process::Command::new("pgrep")
            .args(["-f", pattern])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no process {pattern}"))
    };
    let sup: i32 = std::fs::read_to_string(run.join("supervisor.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let vmm = pid_of(&format!("{}/launch.json", run.display()));
    let monitor = pid_of(&format!("{} __monitor", lab.state_dir().display()));
    for pid in [sup, vmm, monitor] {
        // SAFETY: kill(2) of processes this test's lab started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    wait_until("the monitor's lock free", 10, || {
        (!monitor_running()).then_some(())
    });
    // No ec2lab command runs now (each would repair on its own): `ec2lab serve`, which
    // its systemd unit starts at boot, must bring everything back by itself.
    let server = server::Server::start(&lab, &[]);
    assert!(server.endpoint.starts_with("http://127.0.0.1:"));
    wait_until("the monitor daemon back", 30, || {
        monitor_running().then_some(())
    });
    wait_until("the instance's automatic recovery", 30, || {
        let log = std::fs::read_to_string(run.join("vmm/console.log")).unwrap_or_default();
        log.contains("boot 2").then_some(())
    });
    assert_eq!(lab.state(&id), "running");
    assert!(lab.console(&id).contains("system status check impaired"));
}
