//! boto3 and the aws CLI, unmodified, drive detailed monitoring through `ec2lab serve`:
//! `RunInstances` with `Monitoring={"Enabled": true}`, `MonitorInstances`,
//! `UnmonitorInstances`, `Monitoring.State` in `DescribeInstances` as the monitor daemon
//! confirms each change, and EC2's errors for bad ids with nothing changed. Instances are
//! records (no VM) except one tiny guest for RunInstances.

#[path = "api_common/mod.rs"]
mod api_common;
mod common;
#[path = "api_common/records.rs"]
mod records;

use api_common::{ok, Api};
use common::TinyOs;
use serde_json::{json, Value};

const SCRIPT: &str = r##"
import json, sys, time
import boto3, botocore

ec2 = boto3.Session(profile_name="ec2lab").client("ec2")
ami, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}

def code(f, **kw):
    try:
        f(**kw)
        return None
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]

def states(*ids):
    r = ec2.describe_instances(InstanceIds=list(ids))["Reservations"]
    got = {i["InstanceId"]: i["Monitoring"]["State"] for res in r for i in res["Instances"]}
    return [got[i] for i in ids]

def settle(want, *ids, secs=30):
    end = time.time() + secs
    while time.time() < end:
        if states(*ids) == [want] * len(ids):
            return True
        time.sleep(0.5)
    return False

out["initial"] = states(a, b)
r = ec2.monitor_instances(InstanceIds=[a, b])
out["monitor"] = [(m["InstanceId"], m["Monitoring"]["State"]) for m in r["InstanceMonitorings"]]
out["enabled"] = settle("enabled", a, b)
r = ec2.unmonitor_instances(InstanceIds=[a])
out["unmonitor"] = [m["Monitoring"]["State"] for m in r["InstanceMonitorings"]]
out["disabled"] = settle("disabled", a)
out["unknown"] = code(ec2.monitor_instances, InstanceIds=[a, "i-0000000000000000f"])
out["malformed"] = code(ec2.unmonitor_instances, InstanceIds=["bogus"])
out["unchanged"] = states(a, b)

run = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t2.nano",
                        Monitoring={"Enabled": True})
i = run["Instances"][0]
out["run"] = i["Monitoring"]["State"]
out["run_enabled"] = settle("enabled", i["InstanceId"])
ec2.terminate_instances(InstanceIds=[i["InstanceId"]])
print(json.dumps(out))
"##;

#[test]
fn boto3_and_the_aws_cli_switch_detailed_monitoring() {
    let Some(api) = Api::start() else { return };
    let ami = api.lab.tiny_ami("tiny-mon-api", TinyOs::StayUp);
    let ids = records::insert_stopped(api.lab.state_dir(), "lab-1", &ami, 2, |_| vec![]);
    let v: Value = serde_json::from_str(&ok(
        &api.python_for(SCRIPT, &[&ami, &ids[0], &ids[1]], 300),
        "boto3 monitoring",
    ))
    .unwrap();
    assert_eq!(v["initial"], json!(["disabled", "disabled"]));
    assert_eq!(
        v["monitor"],
        json!([[ids[0], "pending"], [ids[1], "pending"]])
    );
    assert_eq!(v["enabled"], true, "{v}");
    assert_eq!(v["unmonitor"], json!(["disabling"]));
    assert_eq!(v["disabled"], true, "{v}");
    assert_eq!(v["unknown"], "InvalidInstanceID.NotFound");
    assert_eq!(v["malformed"], "InvalidInstanceID.Malformed");
    assert_eq!(v["unchanged"], json!(["disabled", "enabled"]));
    assert_eq!(v["run"], "pending");
    assert_eq!(v["run_enabled"], true, "{v}");

    // The aws CLI's own verbs and output.
    let out = api.aws(&["monitor-instances", "--instance-ids", &ids[0]]);
    let v: Value =
        serde_json::from_slice(&ok(&out, "aws ec2 monitor-instances").into_bytes()).unwrap();
    assert_eq!(
        v["InstanceMonitorings"][0]["Monitoring"]["State"],
        "pending"
    );
    let out = api.aws(&["unmonitor-instances", "--instance-ids", &ids[1]]);
    let v: Value =
        serde_json::from_slice(&ok(&out, "aws ec2 unmonitor-instances").into_bytes()).unwrap();
    assert_eq!(
        v["InstanceMonitorings"][0]["Monitoring"]["State"],
        "disabling"
    );
}
