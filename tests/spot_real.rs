//! ONE real Linux guest (the quick-start AMI) as a spot instance on a host made to hold only
//! it (`EC2LAB_HOST_CAPACITY_MIB=1024`): from inside, through the metadata service, it is
//! a spot instance with no interruption pending; an on-demand launch (a tiny guest) needs
//! its memory, so the guest reads EC2's interruption notice (`spot/instance-action`,
//! `events/recommendations/rebalance`) and is then terminated with
//! `Server.SpotInstanceTermination`, and the on-demand instance runs. The notice lasts 30 s
//! here (`EC2LAB_SPOT_NOTICE_SECS`; EC2's is two minutes). Minutes on a nested KVM; skips
//! without guest-images/out unless EC2LAB_REQUIRE_IMAGES=1.

mod common;
use common::*;

use std::time::{Duration, Instant};

const BOOT_TIMEOUT: Duration = Duration::from_secs(420);
const ENV: &[(&str, &str)] = &[
    ("EC2LAB_HOST_CAPACITY_MIB", "1024"),
    ("EC2LAB_SPOT_NOTICE_SECS", "30"),
];

/// IMDSv2, as AWS's pages show it: a token, then the path.
fn imds(path: &str) -> String {
    format!(
        "T=$(curl -s -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300'); \
         echo \"[$(curl -s -H \"X-aws-ec2-metadata-token: $T\" http://169.254.169.254/latest/meta-data/{path})]\""
    )
}

/// What the guest read between the brackets of [`imds`]'s echo.
fn bracketed(seen: &str) -> String {
    // The last `[...]` line is the answer (the shell echoes the command first).
    seen.lines()
        .map(str::trim)
        .rev()
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l[1..l.len() - 1].to_string())
        .unwrap_or_default()
}

#[test]
fn a_spot_guest_reads_its_notice_and_is_reclaimed() {
    let Some(real) = RealLab::new() else {
        return;
    };
    let lab = &real.lab;
    let ec2 = |args: &[&str]| {
        let mut c = real.cmd(args);
        for (k, v) in ENV {
            c.env(k, v);
        }
        ok_json(c, args)
    };
    let ami = real.quick_start_ami();
    let spot = ec2(&[
        "run-instances",
        "--image-id",
        &ami,
        "--instance-type",
        "t2.micro",
        "--instance-market-options",
        "MarketType=spot",
    ])["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    let t = Instant::now();
    real.wait_ready(&spot, BOOT_TIMEOUT, "spot guest boot");
    eprintln!("spot guest ready after {:?}", t.elapsed());

    let mut console = Console::open(lab, &spot);
    let (code, seen) = console.status(&imds("instance-life-cycle"));
    assert_eq!((code, bracketed(&seen).as_str()), (0, "spot"), "{seen}");
    let (_, seen) = console.status(&imds("spot/instance-action"));
    assert!(
        !bracketed(&seen).contains("action"),
        "no notice yet: {seen}"
    );

    // An on-demand launch needs the only t2.micro's worth of memory the host has.
    let tiny = lab.tiny_ami("tiny-on-demand", TinyOs::StayUp);
    let noticed = Instant::now();
    let od = ec2(&[
        "run-instances",
        "--image-id",
        &tiny,
        "--instance-type",
        "t2.micro",
    ])["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();

    let (code, seen) = console.status(&imds("spot/instance-action"));
    let action: serde_json::Value = serde_json::from_str(&bracketed(&seen))
        .unwrap_or_else(|e| panic!("spot/instance-action is JSON ({e}): {seen}"));
    assert_eq!(code, 0, "{seen}");
    assert_eq!(action["action"], "terminate", "{action}");
    let when = action["time"].as_str().unwrap();
    assert!(when.ends_with('Z') && when.len() == 20, "{when}");
    let (_, seen) = console.status(&imds("events/recommendations/rebalance"));
    let rebalance: serde_json::Value = serde_json::from_str(&bracketed(&seen)).unwrap();
    assert!(rebalance["noticeTime"].is_string(), "{rebalance}");
    let (_, seen) = console.status(&imds("spot/termination-time"));
    assert_eq!(bracketed(&seen), when, "{seen}");
    let read_in = noticed.elapsed();
    drop(console);
    let od_state = ec2(&["describe-instances", "--instance-ids", &od])["Reservations"][0]
        ["Instances"][0]["State"]["Name"]
        .clone();
    assert_eq!(
        od_state, "pending",
        "the on-demand instance waits for the memory"
    );

    ec2(&[
        "wait",
        "instance-terminated",
        "--instance-ids",
        &spot,
        "--timeout-secs",
        "400",
    ]);
    let reclaimed = noticed.elapsed();
    let d = ec2(&["describe-instances", "--instance-ids", &spot])["Reservations"][0]["Instances"]
        [0]
    .clone();
    assert_eq!(
        d["StateReason"]["Code"], "Server.SpotInstanceTermination",
        "{d}"
    );
    assert!(
        reclaimed >= Duration::from_secs(30),
        "not before the notice ran out: {reclaimed:?}"
    );
    ec2(&[
        "wait",
        "instance-running",
        "--instance-ids",
        &od,
        "--timeout-secs",
        "120",
    ]);
    let r = ec2(&["describe-spot-instance-requests"])["SpotInstanceRequests"][0].clone();
    assert_eq!(
        r["Status"]["Code"], "instance-terminated-no-capacity",
        "{r}"
    );
    eprintln!(
        "notice read from inside {read_in:?} after the on-demand launch; spot terminated {reclaimed:?} after it; host kernel {}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim()
    );
}
