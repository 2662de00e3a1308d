//! An Auto Scaling group of real Linux guests (the quick-start AMI, detailed monitoring),
//! driven by real CPU: the first instance's user data spins its vCPU; its CPUUtilization,
//! published under the group's `AutoScalingGroupName` dimension, passes an alarm's 50 %
//! (two 10-second periods), whose simple scaling policy grows the group by one; once the
//! spin ends and the group is idle, a low alarm's policy shrinks it back, taking the newest
//! instance; then the remaining instance's VMM is killed (SIGKILL) and the group replaces
//! it. The second instance comes from the template's version 2, without the spin (the
//! group launches `$Latest`). Target tracking's own alarms need 3 and 15 one-minute
//! periods, longer than this test may take on a nested KVM: `tests/autoscaling.rs` covers
//! them. At most two guests at a time. Skips without guest-images/out unless
//! EC2LAB_REQUIRE_IMAGES=1.

mod common;
use common::*;

use std::time::{Duration, Instant};

use ec2lab::instances::record::Instance;
use ec2lab::store::Store;
use serde_json::Value;

const GROUP: &str = "web";

fn in_service(real: &RealLab, n: usize, secs: u64, what: &str) -> Vec<String> {
    let mut polls = 0;
    wait_until(what, secs, || {
        std::thread::sleep(Duration::from_secs(1));
        polls += 1;
        if polls % 30 == 0 {
            // Progress on a slow host: the group's instances and their EC2 states.
            let acts = real.ok(&["autoscaling", "describe-scaling-activities"]);
            let states = real.ok(&[
                "describe-instances",
                "--query",
                "Reservations[].Instances[].[InstanceId,State.Name]",
            ]);
            eprintln!(
                "waiting for {what}: instances {states}, last activity {}",
                acts["Activities"][0]["Description"]
            );
        }
        let v = real.ok(&[
            "autoscaling",
            "describe-auto-scaling-groups",
            "--auto-scaling-group-names",
            GROUP,
        ]);
        let all = v["AutoScalingGroups"][0]["Instances"].as_array()?.clone();
        let ids: Vec<String> = all
            .iter()
            .filter(|i| i["LifecycleState"] == "InService")
            .map(|i| i["InstanceId"].as_str().unwrap().to_string())
            .collect();
        (ids.len() == n && all.len() == n).then_some(ids)
    })
}

#[test]
fn a_real_group_grows_with_cpu_shrinks_back_and_replaces_a_killed_instance() {
    let Some(real) = RealLab::new() else { return };
    let started = Instant::now();
    let ami = real.quick_start_ami();
    use base64ct::{Base64, Encoding};
    // It exits 0: user data that fails makes EC2's instance status check impaired, and the
    // group would replace the instance.
    let spin = Base64::encode_string(b"#!/bin/sh\ntimeout 45 sh -c 'while :; do :; done'; true\n");
    let data = |user_data: &str| {
        format!(
            r#"{{"ImageId":"{ami}","InstanceType":"t2.micro","Monitoring":{{"Enabled":true}},"MaintenanceOptions":{{"AutoRecovery":"disabled"}}{user_data}}}"#
        )
    };
    real.ok(&[
        "create-launch-template",
        "--launch-template-name",
        "web",
        "--launch-template-data",
        &data(&format!(r#","UserData":"{spin}""#)),
    ]);
    real.ok(&[
        "autoscaling",
        "create-auto-scaling-group",
        "--auto-scaling-group-name",
        GROUP,
        "--launch-template",
        "LaunchTemplateName=web,Version=$Latest",
        "--min-size",
        "1",
        "--max-size",
        "2",
    ]);
    let first = in_service(&real, 1, 240, "the first instance in service");
    eprintln!("first instance in service after {:?}", started.elapsed());
    // Later launches: no spin.
    real.ok(&[
        "create-launch-template-version",
        "--launch-template-name",
        "web",
        "--launch-template-data",
        &data(""),
    ]);
    // The alarms after the boot, so that only the user data's spin moves them.
    real.wait_ready(&first[0], Duration::from_secs(300), "the first instance");
    let policy = |name: &str, adjustment: &str| -> String {
        real.ok(&[
            "autoscaling",
            "put-scaling-policy",
            "--auto-scaling-group-name",
            GROUP,
            "--policy-name",
            name,
            "--adjustment-type",
            "ChangeInCapacity",
            "--scaling-adjustment",
            adjustment,
            "--cooldown",
            "0",
        ])["PolicyARN"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (up, down) = (policy("up", "1"), policy("down", "-1"));
    let alarm = |name: &str, op: &str, threshold: &str, periods: &str, arn: &str| {
        real.ok(&[
            "cloudwatch",
            "put-metric-alarm",
            "--alarm-name",
            name,
            "--namespace",
            "AWS/EC2",
            "--metric-name",
            "CPUUtilization",
            "--dimensions",
            "Name=AutoScalingGroupName,Value=web",
            "--statistic",
            "Average",
            "--period",
            "10",
            "--evaluation-periods",
            periods,
            "--threshold",
            threshold,
            "--comparison-operator",
            op,
            "--alarm-actions",
            arn,
        ]);
    };
    alarm("web-cpu-high", "GreaterThanThreshold", "50", "2", &up);
    alarm("web-cpu-low", "LessThanThreshold", "15", "3", &down);
    let two = in_service(&real, 2, 180, "a second instance once the CPU passed 50 %");
    eprintln!("grown to two after {:?}", started.elapsed());
    let added = two.iter().find(|i| !first.contains(i)).unwrap().clone();

    // The group's CPU, as CloudWatch has it: the spin is in it.
    let now = ec2lab::clock::now_unix();
    let stats = real.ok(&[
        "cloudwatch",
        "get-metric-statistics",
        "--namespace",
        "AWS/EC2",
        "--metric-name",
        "CPUUtilization",
        "--dimensions",
        "Name=AutoScalingGroupName,Value=web",
        "--statistics",
        "Maximum",
        "--period",
        "10",
        "--start-time",
        &(now - 600).to_string(),
        "--end-time",
        &(now + 10).to_string(),
    ]);
    let peak = stats["Datapoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Maximum"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(
        peak > 50.0 && peak <= 100.0,
        "group CPU peak {peak}: {stats}"
    );

    let back = in_service(&real, 1, 240, "back to one once the group is idle");
    assert_eq!(back, first, "the newest instance goes first");
    eprintln!("shrunk back to one after {:?}", started.elapsed());

    // The CPU alarms go (a replacement's boot would pass 50 % and grow the group again).
    real.ok(&[
        "cloudwatch",
        "delete-alarms",
        "--alarm-names",
        "web-cpu-high",
        "web-cpu-low",
    ]);
    // Kill the remaining instance's VMM: impaired, replaced.
    let store = Store::open(real.lab.state_dir(), "lab-1").unwrap();
    let pid = Instance::get(store.conn(), &first[0])
        .unwrap()
        .vmm_pid
        .expect("a VMM");
    assert!(std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let end = Instant::now() + Duration::from_secs(240);
    loop {
        // Until the reconciler has seen the kill, the old instance still reads InService.
        let now = in_service(&real, 1, 240, "a replacement for the killed instance");
        if now != first {
            break;
        }
        assert!(
            Instant::now() < end,
            "the killed instance was never replaced"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    eprintln!("replaced after {:?}", started.elapsed());
    let acts: Value = real.ok(&[
        "autoscaling",
        "describe-scaling-activities",
        "--auto-scaling-group-name",
        GROUP,
    ]);
    let causes: Vec<&str> = acts["Activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Cause"].as_str().unwrap())
        .collect();
    for want in [
        "a monitor alarm web-cpu-high in state ALARM triggered policy up changing the desired capacity from 1 to 2",
        "a monitor alarm web-cpu-low in state ALARM triggered policy down changing the desired capacity from 2 to 1",
        "in response to an EC2 instance status checks failure",
    ] {
        assert!(causes.iter().any(|c| c.contains(want)), "{want}: {causes:#?}");
    }
    let v = real.ok(&["describe-instances", "--instance-ids", &added]);
    let s = v["Reservations"][0]["Instances"][0]["State"]["Name"].clone();
    assert!(s == "terminated" || s == "shutting-down", "{added}: {s}");
    real.ok(&[
        "autoscaling",
        "delete-auto-scaling-group",
        "--auto-scaling-group-name",
        GROUP,
        "--force-delete",
    ]);
}
