//! `ec2lab serve` under concurrent load from boto3, twice: 50 mixed calls (CreateTags on shared
//! resources, DeleteTags, CreateVolume, DescribeVolumes, DescribeTags) from 8 threads at
//! once. Afterwards no tag is lost, every deletion held, every new volume exists once, and
//! DescribeTags, each resource's own describe and ec2lab's CLI agree; and 50 mixed instance
//! calls (RunInstances, TerminateInstances, CreateTags, DescribeInstances, DescribeTags) on
//! tiny guests, after which every instance exists once with every tag it was given.

#[path = "api_common/mod.rs"]
mod api_common;
mod common;

use api_common::{ok, Api};
use serde_json::Value;

const MIXED: &str = r#"
import json, threading
import boto3, botocore
from concurrent.futures import ThreadPoolExecutor

ec2 = boto3.Session(profile_name="ec2lab").client("ec2")
pre = [{"Key": f"pre{j}", "Value": "x"} for j in range(10)]
base = [ec2.create_volume(AvailabilityZone="lab-1a", Size=1,
                          TagSpecifications=[{"ResourceType": "volume", "Tags": pre}])["VolumeId"]
        for _ in range(5)]
vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
barrier = threading.Barrier(8)
first = threading.local()

def call(i):
    # Every thread starts together, so the first calls really overlap.
    if not getattr(first, "done", False):
        first.done = True
        barrier.wait()
    kind, vol = i % 5, base[(i // 5) % 5]
    if kind == 0:
        # Every such call also tags the one VPC: ten writers on one row.
        ec2.create_tags(Resources=[vol, vpc], Tags=[{"Key": f"k{i}", "Value": str(i)}])
        return ["tagged", vol, f"k{i}", str(i)]
    if kind == 1:
        return ["described", len(ec2.describe_volumes()["Volumes"])]
    if kind == 2:
        v = ec2.create_volume(AvailabilityZone="lab-1a", Size=1,
                              TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "made", "Value": str(i)}]}])
        return ["created", v["VolumeId"], str(i)]
    if kind == 3:
        ec2.delete_tags(Resources=[vol], Tags=[{"Key": f"pre{i % 10}"}])
        return ["untagged", vol, f"pre{i % 10}"]
    return ["tags", len(ec2.describe_tags()["Tags"])]

def safe(i):
    try:
        return call(i)
    except Exception as e:
        return ["error", i, repr(e)]

with ThreadPoolExecutor(8) as pool:
    results = list(pool.map(safe, range(50)))

out = {"results": results, "base": base, "vpc": vpc}
vols = ec2.describe_volumes()["Volumes"]
out["volumes"] = {v["VolumeId"]: {t["Key"]: t["Value"] for t in v["Tags"]} for v in vols}
out["vpc_tags"] = {t["Key"]: t["Value"] for t in ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Tags"]}
out["described_tags"] = sorted([t["ResourceId"], t["Key"], t["Value"]] for t in ec2.describe_tags()["Tags"])
print(json.dumps(out))
"#;

#[test]
fn fifty_concurrent_mixed_calls_lose_nothing() {
    let Some(api) = Api::start() else { return };
    let started = std::time::Instant::now();
    let v: Value = serde_json::from_str(&ok(&api.python(MIXED, &[]), "boto3 mixed load")).unwrap();
    eprintln!("50 mixed calls and checks: {:?}", started.elapsed());
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 50);
    let errors: Vec<&Value> = results.iter().filter(|r| r[0] == "error").collect();
    assert!(errors.is_empty(), "calls failed: {errors:?}");

    // What each volume and the VPC must have: the tags made with them, less the deleted
    // ones, plus every tag a CreateTags call put on.
    let vols = v["volumes"].as_object().unwrap();
    let base: Vec<&str> = v["base"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    let mut want: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> =
        base.iter()
            .map(|b| {
                let pre = (0..10).map(|j| (format!("pre{j}"), "x".to_string()));
                (b.to_string(), pre.collect())
            })
            .collect();
    let mut vpc_want = std::collections::BTreeMap::new();
    let mut created = 0;
    for r in results {
        let s = |i: usize| r[i].as_str().unwrap().to_string();
        match r[0].as_str().unwrap() {
            "tagged" => {
                want.get_mut(&s(1)).unwrap().insert(s(2), s(3));
                vpc_want.insert(s(2), s(3));
            }
            "untagged" => {
                want.get_mut(&s(1)).unwrap().remove(&s(2));
            }
            "created" => {
                created += 1;
                let mut t = std::collections::BTreeMap::new();
                t.insert("made".to_string(), s(2));
                assert!(want.insert(s(1), t).is_none(), "volume {} twice", s(1));
            }
            "described" => {
                let n = r[1].as_u64().unwrap();
                assert!((5..=15).contains(&n), "a describe saw {n} volumes");
            }
            "tags" => {
                // 50 to start with; at most 10 deleted, at most 30 added.
                let n = r[1].as_u64().unwrap();
                assert!((40..=80).contains(&n), "a DescribeTags saw {n} tags");
            }
            other => panic!("{other}"),
        }
    }
    assert_eq!(created, 10);
    assert_eq!(vpc_want.len(), 10);
    let got: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> =
        serde_json::from_value(Value::Object(vols.clone())).unwrap();
    assert_eq!(got, want, "volumes and their tags after the load");
    let vpc_got: std::collections::BTreeMap<String, String> =
        serde_json::from_value(v["vpc_tags"].clone()).unwrap();
    assert_eq!(vpc_got, vpc_want, "the VPC lost a tag");

    // DescribeTags says exactly what the resources' own describes say.
    let vpc = v["vpc"].as_str().unwrap();
    let mut listed: Vec<Value> = want
        .iter()
        .flat_map(|(id, tags)| {
            tags.iter()
                .map(move |(k, val)| serde_json::json!([id, k, val]))
        })
        .chain(
            vpc_want
                .iter()
                .map(|(k, val)| serde_json::json!([vpc, k, val])),
        )
        .collect();
    listed.sort_by(|a, b| {
        let key = |x: &Value| {
            (0..3)
                .map(|i| x[i].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        key(a).cmp(&key(b))
    });
    assert_eq!(v["described_tags"], Value::Array(listed.clone()));

    // And so does ec2lab's own CLI on the same store.
    let cli = api.lab.ok(&["describe-volumes"]);
    assert_eq!(cli["Volumes"].as_array().unwrap().len(), 15);
    let cli_tags = api.lab.ok(&["describe-tags"]);
    assert_eq!(cli_tags["Tags"].as_array().unwrap().len(), listed.len());
}

/// Instances under the same load: RunInstances, TerminateInstances, CreateTags on
/// instances, DescribeInstances and DescribeTags, 50 calls from 8 threads, on tiny guests.
const INSTANCES: &str = r#"
import json, sys, threading
import boto3
from concurrent.futures import ThreadPoolExecutor

ami = sys.argv[1]
ec2 = boto3.Session(profile_name="ec2lab").client("ec2")
def run(tag):
    r = ec2.run_instances(ImageId=ami, InstanceType="t2.nano", MinCount=1, MaxCount=1,
                          TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "made", "Value": tag}]}])
    return r["Instances"][0]["InstanceId"]
base = [run(f"base{j}") for j in range(5)]
barrier = threading.Barrier(8)
first = threading.local()

def call(i):
    if not getattr(first, "done", False):
        first.done = True
        barrier.wait()
    kind, inst = i % 5, base[(i // 5) % 5]
    if kind == 0:
        return ["ran", run(str(i)), str(i)]
    if kind == 1:
        n = sum(len(r["Instances"]) for r in ec2.describe_instances()["Reservations"])
        return ["described", n]
    if kind == 2:
        ec2.create_tags(Resources=[inst], Tags=[{"Key": f"k{i}", "Value": str(i)}])
        return ["tagged", inst, f"k{i}", str(i)]
    if kind == 3:
        # Each base instance is terminated twice; the second call finds it on its way out.
        c = ec2.terminate_instances(InstanceIds=[inst])["TerminatingInstances"][0]
        return ["terminated", inst, c["CurrentState"]["Name"]]
    return ["tags", len(ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["instance"]}])["Tags"])]

def safe(i):
    try:
        return call(i)
    except Exception as e:
        return ["error", i, repr(e)]

with ThreadPoolExecutor(8) as pool:
    results = list(pool.map(safe, range(50)))
out = {"results": results, "base": base}
out["instances"] = {i["InstanceId"]: [i["State"]["Name"], {t["Key"]: t["Value"] for t in i.get("Tags", [])}]
                    for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
everyone = list(out["instances"])
# Pages of five through DescribeInstanceStatus and DescribeInstances see each instance once.
pages = ec2.get_paginator("describe_instance_status").paginate(
    IncludeAllInstances=True, PaginationConfig={"PageSize": 5})
out["status_pages"] = [[s["InstanceId"] for s in p["InstanceStatuses"]] for p in pages]
pages = ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5})
out["instance_pages"] = [[i["InstanceId"] for r in p["Reservations"] for i in r["Instances"]] for p in pages]
ec2.terminate_instances(InstanceIds=everyone)
ec2.get_waiter("instance_terminated").wait(InstanceIds=everyone, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
out["finally"] = sorted({i["State"]["Name"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]})
print(json.dumps(out))
"#;

#[test]
fn fifty_concurrent_calls_run_tag_and_terminate_instances() {
    let Some(api) = Api::start() else { return };
    let ami = api.lab.tiny_ami("tiny-load", common::TinyOs::StayUp);
    let started = std::time::Instant::now();
    let v: Value =
        serde_json::from_str(&ok(&api.python(INSTANCES, &[&ami]), "boto3 instance load")).unwrap();
    eprintln!(
        "50 mixed instance calls and checks: {:?}",
        started.elapsed()
    );
    let results = v["results"].as_array().unwrap();
    let errors: Vec<&Value> = results.iter().filter(|r| r[0] == "error").collect();
    assert!(errors.is_empty(), "calls failed: {errors:?}");

    type Tags = std::collections::BTreeMap<String, String>;
    let mut want: std::collections::BTreeMap<String, (bool, Tags)> = v["base"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(j, b)| {
            let tags = Tags::from([("made".to_string(), format!("base{j}"))]);
            (b.as_str().unwrap().to_string(), (true, tags))
        })
        .collect();
    for r in results {
        let s = |i: usize| r[i].as_str().unwrap().to_string();
        match r[0].as_str().unwrap() {
            "ran" => {
                let tags = Tags::from([("made".to_string(), s(2))]);
                assert!(want.insert(s(1), (false, tags)).is_none(), "{} twice", s(1));
            }
            "tagged" => {
                want.get_mut(&s(1)).unwrap().1.insert(s(2), s(3));
            }
            "terminated" => {
                let state = s(2);
                assert!(state == "shutting-down" || state == "terminated", "{r}");
            }
            "described" => {
                let n = r[1].as_u64().unwrap();
                assert!((5..=15).contains(&n), "a describe saw {n} instances");
            }
            "tags" => {
                let n = r[1].as_u64().unwrap();
                assert!((5..=25).contains(&n), "DescribeTags saw {n} instance tags");
            }
            other => panic!("{other}"),
        }
    }
    assert_eq!(
        want.len(),
        15,
        "5 base instances and 10 launched under load"
    );
    let got = v["instances"].as_object().unwrap();
    assert_eq!(got.len(), 15, "{got:?}");
    for (id, (terminated, tags)) in &want {
        let (state, got_tags) = (&got[id][0], &got[id][1]);
        let got_tags: Tags = serde_json::from_value(got_tags.clone()).unwrap();
        assert_eq!(&got_tags, tags, "{id} lost or gained a tag");
        if *terminated {
            assert!(
                state == "shutting-down" || state == "terminated",
                "{id}: {state}"
            );
        } else {
            assert!(state == "pending" || state == "running", "{id}: {state}");
        }
    }
    for pages in ["status_pages", "instance_pages"] {
        let pages: Vec<Vec<String>> = serde_json::from_value(v[pages].clone()).unwrap();
        assert_eq!(pages.len(), 3, "{pages:?}");
        assert!(pages.iter().all(|p| p.len() == 5), "{pages:?}");
        let mut seen: Vec<&String> = pages.iter().flatten().collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 15, "{pages:?}");
    }
    assert_eq!(v["finally"], serde_json::json!(["terminated"]));
}
