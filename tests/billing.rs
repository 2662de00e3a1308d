//! Metering and the bill: a tiny guest runs twice (start, stop, start, terminate); the
//! store's usage records say when, and the bill that boto3's unmodified `ce` client, the
//! aws CLI's `ce get-cost-and-usage` and `ec2lab billing` read matches EC2's rules to the
//! cent: per second with a one-minute minimum each time the instance enters `running`,
//! nothing while stopped, the root volume by provisioned GiB over the days of its month.
//! Prices are overridden (`<state-dir>/prices.json`) so that a second is worth cents.

#[path = "api_common/mod.rs"]
mod api_common;
mod common;

use api_common::{ok, Api};
use common::TinyOs;
use serde_json::{json, Value};

/// $3600 an hour: a dollar a second, so a one-minute minimum is $60.00 exactly.
const T2_MICRO_HOURLY: f64 = 3600.0;
/// A gp3 GiB-month priced so that a GiB-second is a cent in a 30-day month.
const GP3_GIB_MONTH: f64 = 25_920.0;

const SCRIPT: &str = r##"
import json, sys
import boto3, botocore

ce = boto3.Session(profile_name="ec2lab").client("ce")
start, end = sys.argv[1], sys.argv[2]
out = {}

def code(**kw):
    try:
        ce.get_cost_and_usage(**kw)
        return None
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]

r = ce.get_cost_and_usage(TimePeriod={"Start": start, "End": end}, Granularity="MONTHLY",
                          Metrics=["UnblendedCost", "UsageQuantity"],
                          GroupBy=[{"Type": "DIMENSION", "Key": "INSTANCE_TYPE"}])
out["by_type"] = {g["Keys"][0]: g["Metrics"] for t in r["ResultsByTime"] for g in t["Groups"]}
out["group_definitions"] = r["GroupDefinitions"]
r = ce.get_cost_and_usage(TimePeriod={"Start": start, "End": end}, Granularity="DAILY",
                          Metrics=["UnblendedCost"],
                          Filter={"Dimensions": {"Key": "USAGE_TYPE",
                                                 "Values": ["BoxUsage:t2.micro"]}})
out["daily_box"] = [t["Total"]["UnblendedCost"] for t in r["ResultsByTime"]]
out["backwards"] = code(TimePeriod={"Start": end, "End": start}, Granularity="DAILY",
                        Metrics=["UnblendedCost"])
out["bad_metric"] = code(TimePeriod={"Start": start, "End": end}, Granularity="DAILY",
                         Metrics=["Dollars"])
out["bad_group"] = code(TimePeriod={"Start": start, "End": end}, Granularity="DAILY",
                        Metrics=["UnblendedCost"], GroupBy=[{"Type": "DIMENSION", "Key": "COLOR"}])
out["bad_date"] = code(TimePeriod={"Start": "yesterday", "End": end}, Granularity="DAILY",
                       Metrics=["UnblendedCost"])
print(json.dumps(out))
"##;

/// A usage record as the test reads it from the store itself.
#[derive(Debug)]
struct Rec {
    kind: String,
    usage_type: String,
    quantity: f64,
    start_ms: i64,
    end_ms: Option<i64>,
}

fn records(lab: &common::Lab, resource: &str) -> Vec<Rec> {
    let db = rusqlite::Connection::open(lab.state_dir().join("lab-1/ec2lab.db")).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT kind, usage_type, quantity, start_ms, end_ms FROM billing_usage
             WHERE resource_id = ?1 ORDER BY id",
        )
        .unwrap();
    stmt.query_map([resource], |r| {
        Ok(Rec {
            kind: r.get(0)?,
            usage_type: r.get(1)?,
            quantity: r.get(2)?,
            start_ms: r.get(3)?,
            end_ms: r.get(4)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Days in the month of `ms` (a Unix time in ms), by the civil calendar.
fn days_in_month(ms: i64) -> f64 {
    let days = ms.div_euclid(86_400_000);
    // Howard Hinnant's civil_from_days, for the month and year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    match m {
        2 if leap => 29.0,
        2 => 28.0,
        4 | 6 | 9 | 11 => 30.0,
        _ => 31.0,
    }
}

fn cents(x: f64) -> i64 {
    (x * 100.0).round() as i64
}

fn amount_cents(v: &Value) -> i64 {
    cents(v.as_str().unwrap().parse::<f64>().unwrap())
}

#[test]
fn a_known_run_is_billed_by_ec2s_rules_to_the_cent() {
    let Some(api) = Api::start() else { return };
    let lab = &api.lab;
    std::fs::write(
        lab.state_dir().join("prices.json"),
        json!({"regions": {"us-east-1": {
            "instances": {"t2.micro": T2_MICRO_HOURLY},
            "ebs_gib_month": {"gp3": GP3_GIB_MONTH},
            "public_ipv4_hour": 0.0
        }}})
        .to_string(),
    )
    .unwrap();
    let ami = lab.tiny_ami("tiny-billing", TinyOs::StayUp);
    let id = lab.run(&ami, &["--instance-type", "t2.micro"]).remove(0);
    lab.wait("instance-running", &id);
    let vol = lab.describe(&id)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        .as_str()
        .expect("a root volume")
        .to_string();
    lab.ok(&["stop-instances", "--instance-ids", &id]);
    lab.wait("instance-stopped", &id);

    // Stopped: the record is closed and stays so.
    let first = records(lab, &id);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(
        (first[0].kind.as_str(), first[0].usage_type.as_str()),
        ("instance", "t2.micro")
    );
    let first_end = first[0]
        .end_ms
        .expect("closed when the instance left running");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(records(lab, &id)[0].end_ms, Some(first_end));

    lab.ok(&["start-instances", "--instance-ids", &id]);
    lab.wait("instance-running", &id);
    lab.ok(&["terminate-instances", "--instance-ids", &id]);
    lab.wait("instance-terminated", &id);

    let runs = records(lab, &id);
    assert_eq!(runs.len(), 2, "one record per time in running: {runs:?}");
    assert!(runs.iter().all(|r| r.end_ms.is_some()), "{runs:?}");
    assert!(runs[1].start_ms > first_end, "{runs:?}");
    // EC2's rule, computed here: per second, at least 60 s each time.
    let instance_cost: f64 = runs
        .iter()
        .map(|r| {
            let secs = ((r.end_ms.unwrap() - r.start_ms) as f64 / 1000.0).max(60.0);
            T2_MICRO_HOURLY * secs / 3600.0
        })
        .sum();
    // Tiny guests run for seconds: two one-minute minimums.
    assert_eq!(cents(instance_cost), 12_000, "{runs:?}");

    // The root volume: provisioned GiB from launch to termination (DeleteOnTermination).
    let volume_cost: f64 = records(lab, &vol)
        .iter()
        .map(|r| {
            assert_eq!((r.kind.as_str(), r.usage_type.as_str()), ("volume", "gp3"));
            let end = r.end_ms.expect("deleted with the instance");
            GP3_GIB_MONTH * r.quantity * (end - r.start_ms) as f64
                / (days_in_month(r.start_ms) * 86_400_000.0)
        })
        .sum();
    assert!(volume_cost > 0.0, "the root volume was metered: {vol}");

    // boto3's Cost Explorer client, this month and next (a run near midnight spans two days).
    let today = chrono_day(runs[0].start_ms);
    let after = chrono_day(runs[1].end_ms.unwrap() + 86_400_000);
    let v: Value = serde_json::from_str(&ok(
        &api.python(SCRIPT, &[&today, &after]),
        "boto3 ce get_cost_and_usage",
    ))
    .unwrap();
    let t2 = &v["by_type"]["t2.micro"];
    assert_eq!(t2["UnblendedCost"]["Unit"], "USD");
    assert_eq!(amount_cents(&t2["UnblendedCost"]["Amount"]), 12_000, "{v}");
    assert_eq!(t2["UsageQuantity"]["Unit"], "Hrs");
    let other = &v["by_type"]["NoInstanceType"];
    assert_eq!(
        amount_cents(&other["UnblendedCost"]["Amount"]),
        cents(volume_cost),
        "{v}"
    );
    assert_eq!(
        v["group_definitions"],
        json!([{"Type": "DIMENSION", "Key": "INSTANCE_TYPE"}])
    );
    let daily: i64 = v["daily_box"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| amount_cents(&m["Amount"]))
        .sum();
    assert_eq!(daily, 12_000, "{v}");
    assert_eq!(v["backwards"], "ValidationException");
    assert_eq!(v["bad_metric"], "ValidationException");
    assert_eq!(v["bad_group"], "ValidationException");
    assert_eq!(v["bad_date"], "ValidationException");

    // The aws CLI's own verb, and ec2lab's: the same records, the same cents.
    let tp = format!("Start={today},End={after}");
    let out = api.aws_service(
        "ce",
        &[
            "get-cost-and-usage",
            "--time-period",
            &tp,
            "--granularity",
            "MONTHLY",
            "--metrics",
            "UnblendedCost",
            "--group-by",
            "Type=DIMENSION,Key=PURCHASE_TYPE",
        ],
    );
    let aws: Value = serde_json::from_str(&ok(&out, "aws ce get-cost-and-usage")).unwrap();
    let mine = lab.ok(&[
        "ce",
        "get-cost-and-usage",
        "--time-period",
        &tp,
        "--granularity",
        "MONTHLY",
        "--metrics",
        "UnblendedCost",
        "--group-by",
        "Type=DIMENSION,Key=PURCHASE_TYPE",
    ]);
    assert_eq!(aws, mine);
    let groups = mine["ResultsByTime"][0]["Groups"].as_array().unwrap();
    let on_demand = groups
        .iter()
        .find(|g| g["Keys"][0] == "On Demand Instances")
        .unwrap();
    assert_eq!(
        amount_cents(&on_demand["Metrics"]["UnblendedCost"]["Amount"]),
        cents(instance_cost + volume_cost)
    );
    let bill = lab.ok(&["billing", "--start", &today, "--end", &after]);
    assert_eq!(
        bill["Total"].as_str().unwrap(),
        format!("{:.2}", instance_cost + volume_cost),
        "{bill}"
    );
    let line = bill["Lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["ResourceId"] == id.as_str())
        .unwrap();
    assert_eq!(line["UsageType"], "BoxUsage:t2.micro");
    assert_eq!(line["Cost"], "120.00");
}

/// `YYYY-MM-DD` of a Unix time in ms (UTC).
fn chrono_day(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

const SAVINGS: &str = r##"
import json
import boto3, botocore

sp = boto3.Session(profile_name="ec2lab").client("savingsplans")
out = {}

def code(f, **kw):
    try:
        f(**kw)
        return None
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]

offers = sp.describe_savings_plans_offerings(planTypes=["Compute"], paymentOptions=["No Upfront"],
                                             durations=[31536000])["searchResults"]
out["offers"] = [(o["planType"], o["paymentOption"], o["durationSeconds"], o["usageType"])
                 for o in offers]
made = sp.create_savings_plan(savingsPlanOfferingId=offers[0]["offeringId"], commitment="0.05")
plans = sp.describe_savings_plans()["savingsPlans"]
out["plan"] = [(p["savingsPlanId"] == made["savingsPlanId"], p["state"], p["commitment"],
                p["recurringPaymentAmount"], p["savingsPlanType"]) for p in plans]
out["unknown_offering"] = code(sp.create_savings_plan,
                               savingsPlanOfferingId="00000000-0000-0000-0000-000000000000",
                               commitment="1")
out["bad_commitment"] = code(sp.create_savings_plan, savingsPlanOfferingId=offers[0]["offeringId"],
                             commitment="lots")
out["bad_payment"] = code(sp.describe_savings_plans_offerings, paymentOptions=["Later"])
print(json.dumps(out))
"##;

/// Compute Savings Plans through boto3's unmodified `savingsplans` client (REST-JSON) on
/// `ec2lab serve`: offerings, a purchase, its description, and the service's error codes.
/// (How a plan prices usage is `billing::cost`'s unit tests.)
#[test]
fn savings_plans_through_boto3() {
    let Some(api) = Api::start() else { return };
    let v: Value =
        serde_json::from_str(&ok(&api.python(SAVINGS, &[]), "boto3 savingsplans")).unwrap();
    assert_eq!(
        v["offers"],
        json!([["Compute", "No Upfront", 31536000, "ComputeSP:1yrNoUpfront"]])
    );
    assert_eq!(
        v["plan"],
        json!([[true, "active", "0.050000", "0.050000", "Compute"]])
    );
    assert_eq!(v["unknown_offering"], "ResourceNotFoundException");
    assert_eq!(v["bad_commitment"], "ValidationException");
    assert_eq!(v["bad_payment"], "ValidationException");
    let listed = api.lab.ok(&["savingsplans", "describe-savings-plans"]);
    assert_eq!(listed["savingsPlans"][0]["commitment"], "0.050000");
}
