//! Auto Scaling on tiny guests (real KVM, milliseconds to boot), through the `ec2lab`
//! CLI, with the real monitor daemon as its reconciler: a group over a launch template
//! reaches its desired capacity; an instance terminated by hand and one whose VMM is
//! killed (SIGKILL: its system status check fails) are each replaced, with Auto Scaling's
//! activities and causes; a simple scaling policy run by a CloudWatch alarm
//! (SetAlarmState) grows the group by one; target tracking makes its two alarms, and its
//! low alarm shrinks the group back; bad input answers Auto Scaling's codes; a forced
//! delete terminates the instances and the group goes. An alarm held in ALARM runs its
//! policy every period; instances carry Auto Scaling's, the group's and the template's
//! tags; a launch that fails after its instance is recorded leaves no orphan.

mod common;
use common::*;

use std::time::Duration;

use ec2lab::instances::record::Instance;
use ec2lab::store::Store;
use serde_json::Value;

const GROUP: &str = "web";

fn group(lab: &Lab) -> Option<Value> {
    let v = lab.ok(&[
        "autoscaling",
        "describe-auto-scaling-groups",
        "--auto-scaling-group-names",
        GROUP,
    ]);
    v["AutoScalingGroups"].as_array()?.first().cloned()
}

/// The group's instances in service (running, healthy), once `n` of them are and no other.
fn in_service(lab: &Lab, n: usize, secs: u64, what: &str) -> Vec<String> {
    wait_until(what, secs, || {
        std::thread::sleep(Duration::from_millis(500));
        let g = group(lab)?;
        let all = g["Instances"].as_array()?.clone();
        let ids: Vec<String> = all
            .iter()
            .filter(|i| i["LifecycleState"] == "InService" && i["HealthStatus"] == "Healthy")
            .map(|i| i["InstanceId"].as_str().unwrap().to_string())
            .collect();
        (ids.len() == n && all.len() == n).then_some(ids)
    })
}

fn activities(lab: &Lab) -> Vec<Value> {
    lab.ok(&[
        "autoscaling",
        "describe-scaling-activities",
        "--auto-scaling-group-name",
        GROUP,
    ])["Activities"]
        .as_array()
        .unwrap()
        .clone()
}

fn activity<'a>(acts: &'a [Value], description: &str) -> &'a Value {
    acts.iter()
        .find(|a| a["Description"] == description)
        .unwrap_or_else(|| panic!("no activity {description:?} in {acts:#?}"))
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn fails_validation(lab: &Lab, args: &[&str], code: &str, words: &str) {
    let msg = lab.fails(args, code);
    assert!(msg.contains(words), "{args:?}: {msg}");
}

#[test]
fn a_group_keeps_its_capacity_replaces_failures_and_follows_its_policies() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-up", TinyOs::StayUp);
    // No automatic recovery: a killed VMM leaves the instance impaired for the group to
    // replace, as Auto Scaling replaces an instance that fails its status checks.
    let data = format!(
        r#"{{"ImageId":"{ami}","InstanceType":"t2.nano","MaintenanceOptions":{{"AutoRecovery":"disabled"}}}}"#
    );
    lab.ok(&[
        "create-launch-template",
        "--launch-template-name",
        "tiny",
        "--launch-template-data",
        &data,
    ]);

    // Bad input, Auto Scaling's codes, nothing made.
    let create = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "autoscaling",
            "create-auto-scaling-group",
            "--auto-scaling-group-name",
            GROUP,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let no_template = create(&["--min-size", "1", "--max-size", "3"]);
    fails_validation(
        &lab,
        &args(&no_template),
        "ValidationError",
        "LaunchTemplate",
    );
    let unknown = create(&[
        "--min-size",
        "1",
        "--max-size",
        "3",
        "--launch-template",
        "LaunchTemplateName=nope",
    ]);
    fails_validation(&lab, &args(&unknown), "ValidationError", "nope");
    let inverted = create(&[
        "--min-size",
        "3",
        "--max-size",
        "1",
        "--launch-template",
        "LaunchTemplateName=tiny",
    ]);
    fails_validation(&lab, &args(&inverted), "ValidationError", "Max bound, 1");
    let elb = create(&[
        "--min-size",
        "1",
        "--max-size",
        "3",
        "--launch-template",
        "LaunchTemplateName=tiny",
        "--load-balancer-names",
        "lb",
    ]);
    fails_validation(&lab, &args(&elb), "ValidationError", "LoadBalancerNames");
    assert!(group(&lab).is_none());

    let good = create(&[
        "--min-size",
        "1",
        "--max-size",
        "3",
        "--desired-capacity",
        "2",
        "--launch-template",
        "LaunchTemplateName=tiny,Version=$Latest",
        "--tags",
        "Key=team,Value=blue,PropagateAtLaunch=true",
    ]);
    lab.ok(&args(&good));
    fails_validation(&lab, &args(&good), "AlreadyExists", "already exists");
    let first = in_service(&lab, 2, 60, "two instances in service");
    let tags = lab.describe(&first[0])["Tags"].clone();
    assert!(
        tags.as_array()
            .unwrap()
            .iter()
            .any(|t| t["Key"] == "team" && t["Value"] == "blue"),
        "the group's tag propagates: {tags}"
    );
    let acts = activities(&lab);
    let launch = activity(
        &acts,
        &format!("Launching a new EC2 instance: {}", first[0]),
    );
    assert_eq!(launch["StatusCode"], "Successful");
    assert!(
        launch["Cause"]
            .as_str()
            .unwrap()
            .contains("a difference between desired and actual capacity"),
        "{launch}"
    );
    let listed = lab.ok(&["autoscaling", "describe-auto-scaling-instances"]);
    assert_eq!(listed["AutoScalingInstances"].as_array().unwrap().len(), 2);

    fails_validation(
        &lab,
        &[
            "autoscaling",
            "set-desired-capacity",
            "--auto-scaling-group-name",
            GROUP,
            "--desired-capacity",
            "4",
        ],
        "ValidationError",
        "above max value 3",
    );
    fails_validation(
        &lab,
        &[
            "autoscaling",
            "delete-auto-scaling-group",
            "--auto-scaling-group-name",
            GROUP,
        ],
        "ResourceInUse",
        "instances",
    );

    // Terminated by hand: replaced.
    lab.ok(&["terminate-instances", "--instance-ids", &first[0]]);
    let second = wait_until("the terminated instance replaced", 60, || {
        std::thread::sleep(Duration::from_millis(500));
        let g = group(&lab)?;
        let ids: Vec<String> = g["Instances"]
            .as_array()?
            .iter()
            .filter(|i| i["LifecycleState"] == "InService")
            .map(|i| i["InstanceId"].as_str().unwrap().to_string())
            .collect();
        (ids.len() == 2 && !ids.contains(&first[0])).then_some(ids)
    });
    let acts = activities(&lab);
    let gone = activity(&acts, &format!("Terminating EC2 instance: {}", first[0]));
    assert!(
        gone["Cause"]
            .as_str()
            .unwrap()
            .contains("terminated or stopped"),
        "{gone}"
    );

    // A killed VMM: the system status check fails and the group replaces the instance.
    let victim = second
        .iter()
        .find(|i| **i == first[1])
        .cloned()
        .unwrap_or_else(|| second[0].clone());
    let store = Store::open(lab.state_dir(), "lab-1").unwrap();
    let pid = Instance::get(store.conn(), &victim)
        .unwrap()
        .vmm_pid
        .expect("a VMM");
    assert!(std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let third = wait_until("the impaired instance replaced", 90, || {
        std::thread::sleep(Duration::from_millis(500));
        let g = group(&lab)?;
        let ids: Vec<String> = g["Instances"]
            .as_array()?
            .iter()
            .filter(|i| i["LifecycleState"] == "InService")
            .map(|i| i["InstanceId"].as_str().unwrap().to_string())
            .collect();
        (ids.len() == 2 && !ids.contains(&victim)).then_some(ids)
    });
    let acts = activities(&lab);
    let replaced = activity(&acts, &format!("Terminating EC2 instance: {victim}"));
    assert!(
        replaced["Cause"]
            .as_str()
            .unwrap()
            .contains("in response to an EC2 instance status checks failure"),
        "{replaced}"
    );
    wait_until("the impaired instance terminated", 60, || {
        std::thread::sleep(Duration::from_millis(500));
        (lab.state(&victim) == "terminated").then_some(())
    });

    // A simple scaling policy, run by an alarm: one more instance.
    let policy = lab.ok(&[
        "autoscaling",
        "put-scaling-policy",
        "--auto-scaling-group-name",
        GROUP,
        "--policy-name",
        "add-one",
        "--adjustment-type",
        "ChangeInCapacity",
        "--scaling-adjustment",
        "1",
        "--cooldown",
        "0",
    ]);
    let arn = policy["PolicyARN"].as_str().unwrap().to_string();
    assert!(
        arn.contains(":scalingPolicy:") && arn.ends_with("policyName/add-one"),
        "{arn}"
    );
    lab.ok(&[
        "cloudwatch",
        "put-metric-alarm",
        "--alarm-name",
        "load-high",
        "--namespace",
        "Lab/App",
        "--metric-name",
        "Load",
        "--statistic",
        "Average",
        "--period",
        "10",
        "--evaluation-periods",
        "1",
        "--threshold",
        "80",
        "--comparison-operator",
        "GreaterThanThreshold",
        "--alarm-actions",
        &arn,
    ]);
    let described = lab.ok(&[
        "autoscaling",
        "describe-policies",
        "--auto-scaling-group-name",
        GROUP,
    ]);
    assert_eq!(
        described["ScalingPolicies"][0]["Alarms"][0]["AlarmName"], "load-high",
        "{described}"
    );
    lab.ok(&[
        "cloudwatch",
        "set-alarm-state",
        "--alarm-name",
        "load-high",
        "--state-value",
        "ALARM",
        "--state-reason",
        "test: load",
    ]);
    let grown = in_service(&lab, 3, 60, "three instances after the alarm");
    assert_eq!(group(&lab).unwrap()["DesiredCapacity"], 3);
    let acts = activities(&lab);
    let newest = grown.iter().find(|i| !third.contains(i)).unwrap();
    let launch = activity(&acts, &format!("Launching a new EC2 instance: {newest}"));
    assert!(
        launch["Cause"]
            .as_str()
            .unwrap()
            .contains("a monitor alarm load-high in state ALARM triggered policy add-one changing the desired capacity from 2 to 3"),
        "{launch}"
    );

    // Target tracking: its two alarms, as Auto Scaling names them; the low one shrinks
    // the group back by one.
    let tt = lab.ok(&[
        "autoscaling",
        "put-scaling-policy",
        "--auto-scaling-group-name",
        GROUP,
        "--policy-name",
        "cpu40",
        "--policy-type",
        "TargetTrackingScaling",
        "--target-tracking-configuration",
        r#"{"PredefinedMetricSpecification":{"PredefinedMetricType":"ASGAverageCPUUtilization"},"TargetValue":40}"#,
    ]);
    let names: Vec<String> = tt["Alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AlarmName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 2, "{tt}");
    assert!(
        names[0].starts_with("TargetTracking-web-AlarmHigh-"),
        "{names:?}"
    );
    assert!(
        names[1].starts_with("TargetTracking-web-AlarmLow-"),
        "{names:?}"
    );
    let high = lab.ok(&["cloudwatch", "describe-alarms", "--alarm-names", &names[0]]);
    let high = &high["MetricAlarms"][0];
    assert_eq!(high["Namespace"], "AWS/EC2");
    assert_eq!(high["MetricName"], "CPUUtilization");
    assert_eq!(high["Dimensions"][0]["Name"], "AutoScalingGroupName");
    assert_eq!(high["Dimensions"][0]["Value"], GROUP);
    assert_eq!(high["Threshold"], 40.0);
    assert_eq!(high["ComparisonOperator"], "GreaterThanThreshold");
    fails_validation(
        &lab,
        &[
            "autoscaling",
            "execute-policy",
            "--auto-scaling-group-name",
            GROUP,
            "--policy-name",
            "cpu40",
        ],
        "ValidationError",
        "target tracking",
    );
    lab.ok(&[
        "cloudwatch",
        "set-alarm-state",
        "--alarm-name",
        &names[1],
        "--state-value",
        "ALARM",
        "--state-reason",
        "test: idle",
    ]);
    in_service(&lab, 2, 60, "two instances after the low alarm");
    assert_eq!(group(&lab).unwrap()["DesiredCapacity"], 2);

    lab.ok(&[
        "autoscaling",
        "delete-policy",
        "--auto-scaling-group-name",
        GROUP,
        "--policy-name",
        "cpu40",
    ]);
    let left = lab.ok(&[
        "cloudwatch",
        "describe-alarms",
        "--alarm-name-prefix",
        "TargetTracking-",
    ]);
    assert_eq!(left["MetricAlarms"], Value::Array(vec![]), "{left}");

    // A forced delete terminates the instances; then the group is gone.
    let last = in_service(&lab, 2, 30, "two instances");
    lab.ok(&[
        "autoscaling",
        "delete-auto-scaling-group",
        "--auto-scaling-group-name",
        GROUP,
        "--force-delete",
    ]);
    wait_until("the group gone", 90, || {
        std::thread::sleep(Duration::from_millis(500));
        group(&lab).is_none().then_some(())
    });
    for id in &last {
        let s = lab.state(id);
        assert!(s == "terminated" || s == "shutting-down", "{id}: {s}");
    }
}

/// The launch template's tag specifications, the group's tags with PropagateAtLaunch and
/// Auto Scaling's own `aws:autoscaling:groupName`, which users may neither set nor remove.
fn template_with_tags(lab: &Lab, name: &str) -> String {
    let ami = lab.tiny_ami(&format!("{name}-ami"), TinyOs::StayUp);
    let data = format!(
        r#"{{"ImageId":"{ami}","InstanceType":"t2.nano","TagSpecifications":[
            {{"ResourceType":"instance","Tags":[{{"Key":"role","Value":"web"}}]}},
            {{"ResourceType":"volume","Tags":[{{"Key":"disk","Value":"root"}}]}}]}}"#
    );
    lab.ok(&[
        "create-launch-template",
        "--launch-template-name",
        name,
        "--launch-template-data",
        &data,
    ]);
    ami
}

fn tag<'a>(tags: &'a Value, key: &str) -> Option<&'a str> {
    tags.as_array()?
        .iter()
        .find(|t| t["Key"] == key)
        .and_then(|t| t["Value"].as_str())
}

/// An alarm that stays in ALARM runs its Auto Scaling action again every period (a simple
/// policy adds one instance each time, up to the group's maximum), while the alarm itself
/// changed state once; the instances carry the group's and the template's tags.
#[test]
fn an_alarm_held_in_alarm_keeps_scaling_and_instances_carry_tags() {
    let lab = Lab::new();
    template_with_tags(&lab, "tagged");
    lab.ok(&[
        "autoscaling",
        "create-auto-scaling-group",
        "--auto-scaling-group-name",
        GROUP,
        "--min-size",
        "0",
        "--max-size",
        "3",
        "--desired-capacity",
        "0",
        "--launch-template",
        "LaunchTemplateName=tagged",
        "--tags",
        "Key=team,Value=blue,PropagateAtLaunch=true",
        "Key=cost,Value=lab,PropagateAtLaunch=false",
    ]);
    let arn = lab.ok(&[
        "autoscaling",
        "put-scaling-policy",
        "--auto-scaling-group-name",
        GROUP,
        "--policy-name",
        "add-one",
        "--adjustment-type",
        "ChangeInCapacity",
        "--scaling-adjustment",
        "1",
        "--cooldown",
        "0",
    ])["PolicyARN"]
        .as_str()
        .unwrap()
        .to_string();
    // No data, treated as breaching: the alarm goes to ALARM and stays there.
    lab.ok(&[
        "cloudwatch",
        "put-metric-alarm",
        "--alarm-name",
        "always-high",
        "--namespace",
        "Lab/App",
        "--metric-name",
        "Load",
        "--statistic",
        "Average",
        "--period",
        "10",
        "--evaluation-periods",
        "1",
        "--threshold",
        "80",
        "--comparison-operator",
        "GreaterThanThreshold",
        "--treat-missing-data",
        "breaching",
        "--alarm-actions",
        &arn,
    ]);
    let ids = in_service(&lab, 3, 120, "three instances, one per period in ALARM");
    assert_eq!(group(&lab).unwrap()["DesiredCapacity"], 3);
    let acts = activities(&lab);
    for (from, to) in [(0, 1), (1, 2), (2, 3)] {
        let words = format!(
            "a monitor alarm always-high in state ALARM triggered policy add-one changing the desired capacity from {from} to {to}"
        );
        assert!(
            acts.iter()
                .any(|a| a["Cause"].as_str().unwrap_or_default().contains(&words)),
            "{words:?} in {acts:#?}"
        );
    }
    let history = lab.ok(&[
        "cloudwatch",
        "describe-alarm-history",
        "--alarm-name",
        "always-high",
        "--history-item-type",
        "StateUpdate",
    ]);
    let changes = history["AlarmHistoryItems"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "one state change: {history}");

    // Tags: the template's, the group's propagated one, and Auto Scaling's own.
    let d = lab.describe(&ids[0]);
    let tags = &d["Tags"];
    assert_eq!(
        tag(tags, "aws:autoscaling:groupName"),
        Some(GROUP),
        "{tags}"
    );
    assert_eq!(tag(tags, "team"), Some("blue"), "{tags}");
    assert_eq!(tag(tags, "role"), Some("web"), "{tags}");
    assert_eq!(tag(tags, "cost"), None, "not propagated: {tags}");
    let vols = lab.ok(&[
        "describe-volumes",
        "--filters",
        &format!("Name=attachment.instance-id,Values={}", ids[0]),
    ]);
    assert_eq!(
        tag(&vols["Volumes"][0]["Tags"], "disk"),
        Some("root"),
        "{vols}"
    );
    // Users may not set or remove aws: keys.
    for verb in ["create-tags", "delete-tags"] {
        let msg = lab.fails(
            &[
                verb,
                "--resources",
                &ids[0],
                "--tags",
                "Key=aws:autoscaling:groupName,Value=x",
            ],
            "InvalidParameterValue",
        );
        assert!(
            msg.contains("Tag keys starting with 'aws:' are reserved for internal use"),
            "{verb}: {msg}"
        );
    }
    assert_eq!(
        tag(&lab.describe(&ids[0])["Tags"], "aws:autoscaling:groupName"),
        Some(GROUP)
    );
    lab.ok(&[
        "autoscaling",
        "delete-auto-scaling-group",
        "--auto-scaling-group-name",
        GROUP,
        "--force-delete",
    ]);
}

/// A launch that fails after its instance is recorded (here its supervisor cannot be
/// started: `EC2LAB_TEST_FAIL_AT=supervisor-spawn`, a debug-build test hook) leaves
/// nothing behind: the instance is terminated with EC2's `Server.InternalError` and its
/// volume goes; the group records the failed launch with its cause and holds no orphan.
#[test]
fn a_failed_launch_leaves_no_orphan_instance() {
    let lab = Lab::new();
    let ami = template_with_tags(&lab, "failing");
    let failing = |args: &[&str]| {
        let mut c = lab.cmd(args);
        c.env("EC2LAB_TEST_FAIL_AT", "supervisor-spawn");
        run_with_timeout(c, 120)
    };
    let out = failing(&["run-instances", "--image-id", &ami]);
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("supervisor-spawn"),
        "{}",
        stderr(&out)
    );
    let all = lab.ok(&["describe-instances"]);
    let insts: Vec<Value> = all["Reservations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Instances"].as_array().unwrap().clone())
        .collect();
    assert_eq!(insts.len(), 1, "{all}");
    assert_eq!(insts[0]["State"]["Name"], "terminated", "{all}");
    assert_eq!(
        insts[0]["StateReason"]["Code"], "Server.InternalError",
        "{all}"
    );
    let vols = lab.ok(&["describe-volumes"]);
    assert_eq!(vols["Volumes"], Value::Array(vec![]), "{vols}");

    // The group's launches fail the same way (the monitor daemon, which launches for it,
    // inherits the hook from the command that starts it).
    let out = failing(&[
        "autoscaling",
        "create-auto-scaling-group",
        "--auto-scaling-group-name",
        GROUP,
        "--min-size",
        "1",
        "--max-size",
        "1",
        "--launch-template",
        "LaunchTemplateName=failing",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let failed = wait_until("a failed launch activity", 60, || {
        std::thread::sleep(Duration::from_millis(500));
        activities(&lab)
            .into_iter()
            .find(|a| a["StatusCode"] == "Failed")
    });
    assert!(
        failed["StatusMessage"]
            .as_str()
            .unwrap()
            .contains("supervisor-spawn"),
        "{failed}"
    );
    let g = group(&lab).unwrap();
    assert_eq!(g["Instances"], Value::Array(vec![]), "{g}");
    let all = lab.ok(&["describe-instances"]);
    for r in all["Reservations"].as_array().unwrap() {
        for i in r["Instances"].as_array().unwrap() {
            assert_eq!(i["State"]["Name"], "terminated", "no orphan: {all}");
            assert_eq!(i["StateReason"]["Code"], "Server.InternalError", "{all}");
        }
    }
    lab.ok(&[
        "autoscaling",
        "delete-auto-scaling-group",
        "--auto-scaling-group-name",
        GROUP,
        "--force-delete",
    ]);
}
