//! Spot instances on a host made small (`EC2LAB_HOST_CAPACITY_MIB=2048`: two t2.micro) with
//! a three-second interruption notice, on tiny guests: spot launches, their requests and
//! the price that rises as the host fills; an on-demand launch that spot makes room for
//! (the newest spot instance is noticed, then terminated with EC2's reason, and the
//! on-demand instance leaves `pending` once the memory is free); a stop-behaviour spot
//! instance stopped the same way; `InsufficientInstanceCapacity` only when no spot
//! instance is left to reclaim; a Reserved Instance covering on-demand usage; EC2's error
//! codes for bad input. The aws CLI reads the same requests and prices through
//! `ec2lab serve`, and Cost Explorer splits the bill by purchase option.

#[path = "api_common/mod.rs"]
mod api_common;
mod common;

use std::time::{Duration, Instant};

use api_common::{ok, Api};
use common::{Lab, TinyOs};
use serde_json::Value;

const ENV: &[(&str, &str)] = &[
    ("EC2LAB_HOST_CAPACITY_MIB", "2048"),
    ("EC2LAB_SPOT_NOTICE_SECS", "3"),
];

fn cmd(lab: &Lab, args: &[&str]) -> std::process::Command {
    let mut c = lab.cmd(args);
    for (k, v) in ENV {
        c.env(k, v);
    }
    c
}

fn run(lab: &Lab, args: &[&str]) -> (i32, Value, String) {
    let out = common::run_with_timeout(cmd(lab, args), 120);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        common::stderr(&out),
    )
}

fn okv(lab: &Lab, args: &[&str]) -> Value {
    let (code, v, err) = run(lab, args);
    assert_eq!(code, 0, "ec2lab {args:?}: {err}");
    v
}

fn fails(lab: &Lab, args: &[&str], code: &str) {
    let (c, _, err) = run(lab, args);
    assert_eq!(c, 254, "{args:?}: {err}");
    assert!(
        err.contains(&format!("({code})")),
        "{args:?}: want {code}: {err}"
    );
}

fn describe(lab: &Lab, id: &str) -> Value {
    okv(lab, &["describe-instances", "--instance-ids", id])["Reservations"][0]["Instances"][0]
        .clone()
}

fn wait_state(lab: &Lab, id: &str, want: &str, secs: u64) -> Value {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        let d = describe(lab, id);
        if d["State"]["Name"] == want {
            return d;
        }
        assert!(Instant::now() < end, "{id} never {want}: {d}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn launch(lab: &Lab, ami: &str, market: Option<&str>) -> String {
    let mut args = vec![
        "run-instances",
        "--image-id",
        ami,
        "--instance-type",
        "t2.micro",
    ];
    if let Some(m) = market {
        args.extend(["--instance-market-options", m]);
    }
    okv(lab, &args)["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string()
}

fn request_of(lab: &Lab, id: &str) -> Value {
    okv(
        lab,
        &[
            "describe-spot-instance-requests",
            "--filters",
            &format!("Name=instance-id,Values={id}"),
        ],
    )["SpotInstanceRequests"][0]
        .clone()
}

#[test]
fn spot_instances_make_room_for_on_demand_ones() {
    let Some(api) = Api::start_with(ENV) else {
        return;
    };
    let lab = &api.lab;
    let ami = lab.tiny_ami("tiny-spot", TinyOs::StayUp);

    // Bad input, with EC2's codes, before anything runs.
    fails(
        lab,
        &[
            "run-instances",
            "--image-id",
            &ami,
            "--instance-market-options",
            "MarketType=cheap",
        ],
        "InvalidParameterValue",
    );
    fails(
        lab,
        &[
            "run-instances",
            "--image-id",
            &ami,
            "--instance-market-options",
            "MarketType=spot,SpotOptions={InstanceInterruptionBehavior=stop}",
        ],
        "InvalidParameterCombination",
    );
    fails(
        lab,
        &[
            "run-instances",
            "--image-id",
            &ami,
            "--instance-market-options",
            "MarketType=spot,SpotOptions={MaxPrice=0.0001}",
        ],
        "SpotMaxPriceTooLow",
    );
    fails(
        lab,
        &[
            "cancel-spot-instance-requests",
            "--spot-instance-request-ids",
            "sir-0123abcd",
        ],
        "InvalidSpotInstanceRequestID.NotFound",
    );
    fails(
        lab,
        &[
            "describe-spot-instance-requests",
            "--spot-instance-request-ids",
            "req-1",
        ],
        "InvalidSpotInstanceRequestID.Malformed",
    );
    fails(
        lab,
        &[
            "purchase-reserved-instances-offering",
            "--reserved-instances-offering-id",
            "00000000-0000-0000-0000-000000000000",
            "--instance-count",
            "1",
        ],
        "InvalidReservedInstancesOfferingId",
    );

    // A Reserved Instance for one t2.micro, bought before the on-demand launches.
    let offerings = okv(
        lab,
        &[
            "describe-reserved-instances-offerings",
            "--instance-type",
            "t2.micro",
            "--offering-type",
            "No Upfront",
            "--max-duration",
            "31536000",
        ],
    );
    let offering = &offerings["ReservedInstancesOfferings"][0];
    assert_eq!(offering["Duration"], 31_536_000);
    assert_eq!(offering["FixedPrice"], 0.0);
    let ri = okv(
        lab,
        &[
            "purchase-reserved-instances-offering",
            "--reserved-instances-offering-id",
            offering["ReservedInstancesOfferingId"].as_str().unwrap(),
            "--instance-count",
            "1",
        ],
    )["ReservedInstancesId"]
        .as_str()
        .unwrap()
        .to_string();
    let ris = okv(lab, &["describe-reserved-instances"]);
    assert_eq!(
        ris["ReservedInstances"][0]["ReservedInstancesId"],
        ri.as_str()
    );
    assert_eq!(ris["ReservedInstances"][0]["State"], "active");

    // Two spot instances fill the host; the price rises with it.
    let stop_me = launch(
        lab,
        &ami,
        Some("MarketType=spot,SpotOptions={SpotInstanceType=persistent,InstanceInterruptionBehavior=stop}"),
    );
    let term_me = launch(lab, &ami, Some("MarketType=spot"));
    for id in [&stop_me, &term_me] {
        let d = wait_state(lab, id, "running", 60);
        assert_eq!(d["InstanceLifecycle"], "spot");
        assert!(d["SpotInstanceRequestId"]
            .as_str()
            .unwrap()
            .starts_with("sir-"));
        let r = request_of(lab, id);
        assert_eq!(
            (r["State"].as_str(), r["Status"]["Code"].as_str()),
            (Some("active"), Some("fulfilled"))
        );
    }
    assert_eq!(
        request_of(lab, &stop_me)["InstanceInterruptionBehavior"],
        "stop"
    );
    assert_eq!(request_of(lab, &stop_me)["Type"], "persistent");
    // Spot never takes memory from anyone.
    fails(
        lab,
        &[
            "run-instances",
            "--image-id",
            &ami,
            "--instance-market-options",
            "MarketType=spot",
        ],
        "InsufficientInstanceCapacity",
    );
    let history = okv(
        lab,
        &[
            "describe-spot-price-history",
            "--instance-types",
            "t2.micro",
        ],
    );
    let prices: Vec<f64> = history["SpotPriceHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["SpotPrice"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(prices.len() >= 2, "{history}");
    assert!(
        prices[0] > prices[prices.len() - 1],
        "newest first, rising: {prices:?}"
    );
    // $0.0116 on-demand; a full host charges the ceiling (100%).
    assert_eq!(prices[0], 0.0116, "{prices:?}");

    // An on-demand launch: the newest spot instance is noticed and terminated.
    let od1 = launch(lab, &ami, None);
    assert_eq!(describe(lab, &od1)["State"]["Name"], "pending");
    let r = request_of(lab, &term_me);
    assert_eq!(r["Status"]["Code"], "marked-for-termination", "{r}");
    let d = wait_state(lab, &term_me, "terminated", 60);
    assert_eq!(
        d["StateReason"]["Code"], "Server.SpotInstanceTermination",
        "{d}"
    );
    let r = request_of(lab, &term_me);
    assert_eq!(
        (r["State"].as_str(), r["Status"]["Code"].as_str()),
        (Some("closed"), Some("instance-terminated-no-capacity")),
        "{r}"
    );
    wait_state(lab, &od1, "running", 60);
    assert_eq!(describe(lab, &stop_me)["State"]["Name"], "running");

    // Another: the stop-behaviour spot instance is stopped, its request disabled.
    let od2 = launch(lab, &ami, None);
    let d = wait_state(lab, &stop_me, "stopped", 60);
    assert_eq!(
        d["StateReason"]["Code"], "Server.SpotInstanceShutdown",
        "{d}"
    );
    let r = request_of(lab, &stop_me);
    assert_eq!(
        (r["State"].as_str(), r["Status"]["Code"].as_str()),
        (Some("disabled"), Some("instance-stopped-no-capacity")),
        "{r}"
    );
    wait_state(lab, &od2, "running", 60);

    // No spot instance left to reclaim: on-demand gets EC2's capacity error.
    fails(
        lab,
        &[
            "run-instances",
            "--image-id",
            &ami,
            "--instance-type",
            "t2.micro",
        ],
        "InsufficientInstanceCapacity",
    );

    // Room again: the persistent request is fulfilled again, its instance started.
    okv(lab, &["terminate-instances", "--instance-ids", &od2]);
    wait_state(lab, &od2, "terminated", 60);
    wait_state(lab, &stop_me, "running", 60);
    let r = request_of(lab, &stop_me);
    assert_eq!(
        (r["State"].as_str(), r["Status"]["Code"].as_str()),
        (Some("active"), Some("fulfilled")),
        "{r}"
    );

    // The aws CLI through `ec2lab serve`: the same requests and prices.
    let out = api.aws(&["describe-spot-instance-requests"]);
    let v: Value =
        serde_json::from_str(&ok(&out, "aws ec2 describe-spot-instance-requests")).unwrap();
    let states: Vec<&str> = v["SpotInstanceRequests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["State"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["active", "closed"], "{v}");
    let out = api.aws(&[
        "cancel-spot-instance-requests",
        "--spot-instance-request-ids",
        r["SpotInstanceRequestId"].as_str().unwrap(),
    ]);
    let v: Value =
        serde_json::from_str(&ok(&out, "aws ec2 cancel-spot-instance-requests")).unwrap();
    assert_eq!(v["CancelledSpotInstanceRequests"][0]["State"], "cancelled");
    let r = request_of(lab, &stop_me);
    assert_eq!(
        r["Status"]["Code"], "request-canceled-and-instance-running",
        "{r}"
    );
    assert_eq!(describe(lab, &stop_me)["State"]["Name"], "running");
    let out = api.aws(&[
        "describe-spot-price-history",
        "--instance-types",
        "t2.micro",
        "--max-items",
        "1",
    ]);
    let v: Value = serde_json::from_str(&ok(&out, "aws ec2 describe-spot-price-history")).unwrap();
    assert_eq!(v["SpotPriceHistory"][0]["ProductDescription"], "Linux/UNIX");

    // The bill by purchase option: spot time, on-demand time, and the RI's share of it.
    let launched = describe(lab, &od1);
    let today = &launched["LaunchTime"].as_str().unwrap()[..10];
    let bill = okv(
        lab,
        &[
            "ce",
            "get-cost-and-usage",
            "--time-period",
            &format!("Start={today},End=2100-01-01"),
            "--granularity",
            "MONTHLY",
            "--metrics",
            "UnblendedCost",
            "UsageQuantity",
            "--group-by",
            "Type=DIMENSION,Key=PURCHASE_TYPE",
            "Type=DIMENSION,Key=RECORD_TYPE",
        ],
    );
    let groups: Vec<(String, String)> = bill["ResultsByTime"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["Groups"].as_array().unwrap().clone())
        .map(|g| {
            (
                g["Keys"][0].as_str().unwrap().to_string(),
                g["Keys"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        ("Spot Instances", "Usage"),
        ("On Demand Instances", "Usage"),
        ("Standard Reserved Instances", "DiscountedUsage"),
        ("Standard Reserved Instances", "RIFee"),
    ] {
        assert!(
            groups.iter().any(|g| (g.0.as_str(), g.1.as_str()) == want),
            "{want:?} in {groups:?}"
        );
    }
}

fn request(lab: &Lab, rid: &str) -> Value {
    okv(
        lab,
        &[
            "describe-spot-instance-requests",
            "--spot-instance-request-ids",
            rid,
        ],
    )["SpotInstanceRequests"][0]
        .clone()
}

/// Waits (the monitor daemon ticks every 10 s) until `rid` is in `state` with `code`.
fn request_becomes(lab: &Lab, rid: &str, state: &str, code: &str, secs: u64) -> Value {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = request(lab, rid);
        if r["State"] == state && r["Status"]["Code"] == code {
            return r;
        }
        assert!(Instant::now() < end, "{rid} never {state}/{code}: {r}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn request_spot(lab: &Lab, ami: &str, extra: &[&str]) -> Value {
    let spec = format!("ImageId={ami},InstanceType=t2.micro");
    let mut args = vec!["request-spot-instances", "--launch-specification", &spec];
    args.extend_from_slice(extra);
    okv(lab, &args)["SpotInstanceRequests"][0].clone()
}

/// The monitor daemon fulfils spot requests by itself, with no command running: an open
/// one-time request launches once the host has room (and is closed when the user
/// terminates its instance); a persistent request launches again after the user
/// terminates its instance, and names each instance it launched; a request past its
/// ValidUntil expires (`schedule-expired`); one whose AMI is gone is `bad-parameters`.
#[test]
fn the_monitor_daemon_fulfils_open_and_persistent_requests() {
    let lab = &Lab::new();
    let ami = lab.tiny_ami("tiny-open", TinyOs::StayUp);
    let other = lab.tiny_ami("tiny-gone", TinyOs::StayUp);
    // Two on-demand instances fill the host.
    let od1 = launch(lab, &ami, None);
    let od2 = launch(lab, &ami, None);
    wait_state(lab, &od2, "running", 60);

    let one_time = request_spot(lab, &ami, &[]);
    assert_eq!(
        (
            one_time["State"].as_str(),
            one_time["Status"]["Code"].as_str()
        ),
        (Some("open"), Some("capacity-not-available")),
        "{one_time}"
    );
    let one_time = one_time["SpotInstanceRequestId"]
        .as_str()
        .unwrap()
        .to_string();
    // Valid for five more seconds: not long enough for the host to have room.
    let soon = ec2lab::clock::iso_ms(ec2lab::clock::now_ms() + 5_000);
    let expiring = request_spot(lab, &ami, &["--valid-until", &soon]);
    let expiring = expiring["SpotInstanceRequestId"]
        .as_str()
        .unwrap()
        .to_string();
    let doomed = request_spot(lab, &other, &[]);
    let doomed = doomed["SpotInstanceRequestId"]
        .as_str()
        .unwrap()
        .to_string();
    okv(lab, &["deregister-image", "--image-id", &other]);
    request_becomes(lab, &expiring, "closed", "schedule-expired", 40);
    let r = request_becomes(lab, &doomed, "closed", "bad-parameters", 40);
    assert!(
        r["Status"]["Message"]
            .as_str()
            .unwrap()
            .contains("InvalidAMIID"),
        "{r}"
    );

    // Room: the daemon launches the one-time request, no command asked for it.
    okv(lab, &["terminate-instances", "--instance-ids", &od1]);
    let r = request_becomes(lab, &one_time, "active", "fulfilled", 60);
    let spot1 = r["InstanceId"].as_str().unwrap().to_string();
    let d = wait_state(lab, &spot1, "running", 60);
    assert_eq!(d["InstanceLifecycle"], "spot", "{d}");
    assert_eq!(d["SpotInstanceRequestId"], one_time.as_str(), "{d}");
    // The user terminates it: a one-time request closes.
    okv(lab, &["terminate-instances", "--instance-ids", &spot1]);
    request_becomes(lab, &one_time, "closed", "instance-terminated-by-user", 40);

    // A persistent request: terminated by the user, it launches another instance.
    let p = request_spot(lab, &ami, &["--type", "persistent"]);
    let pid = p["SpotInstanceRequestId"].as_str().unwrap().to_string();
    let first = request_becomes(lab, &pid, "active", "fulfilled", 60)["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    wait_state(lab, &first, "running", 60);
    okv(lab, &["terminate-instances", "--instance-ids", &first]);
    let second = wait_until_relaunched(lab, &pid, &first);
    wait_state(lab, &second, "running", 60);
    // Both instances name the request they were launched for.
    for id in [&first, &second] {
        assert_eq!(describe(lab, id)["SpotInstanceRequestId"], pid.as_str());
    }
    okv(
        lab,
        &[
            "cancel-spot-instance-requests",
            "--spot-instance-request-ids",
            &pid,
        ],
    );
    okv(
        lab,
        &["terminate-instances", "--instance-ids", &second, &od2],
    );
    wait_state(lab, &second, "terminated", 60);
    // Cancelled: it launches nothing more.
    std::thread::sleep(Duration::from_secs(12));
    let r = request(lab, &pid);
    assert_eq!(r["State"], "cancelled", "{r}");
    assert_eq!(r["InstanceId"], second.as_str(), "{r}");
}

fn wait_until_relaunched(lab: &Lab, rid: &str, before: &str) -> String {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let r = request(lab, rid);
        if r["State"] == "active" && r["InstanceId"].as_str().is_some_and(|i| i != before) {
            return r["InstanceId"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < end, "{rid} never relaunched: {r}");
        std::thread::sleep(Duration::from_millis(500));
    }
}
