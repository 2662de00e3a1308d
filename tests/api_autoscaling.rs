//! Launch templates (EC2) and Auto Scaling (awsQuery, API 2011-01-01) on `ec2lab serve`
//! with the unmodified boto3 and aws CLI, no VMs (the group's capacity is 0): templates
//! and versions, a group over one, its update, a target tracking policy and the alarms it
//! makes in CloudWatch, and bad input answered with EC2's and Auto Scaling's codes through
//! botocore's own error parsing.

#[path = "api_common/mod.rs"]
mod api_common;
mod common;

use api_common::{ok, Api};
use serde_json::Value;

const SCRIPT: &str = r#"
import boto3, botocore, json, sys
s = boto3.Session(profile_name="ec2lab")
ec2, asg, cw = s.client("ec2"), s.client("autoscaling"), s.client("cloudwatch")
out = {}
def code(f, **kw):
    try:
        f(**kw)
        return "no error"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]

lt = ec2.create_launch_template(LaunchTemplateName="web",
    LaunchTemplateData={"ImageId": "ami-0123456789abcdef0", "InstanceType": "t2.micro",
                        "Monitoring": {"Enabled": True}})["LaunchTemplate"]
out["lt"] = lt["LaunchTemplateId"]
v2 = ec2.create_launch_template_version(LaunchTemplateId=lt["LaunchTemplateId"], SourceVersion="1",
    LaunchTemplateData={"InstanceType": "t3.small"})["LaunchTemplateVersion"]
out["v2"] = [v2["VersionNumber"], v2["LaunchTemplateData"]["ImageId"], v2["LaunchTemplateData"]["InstanceType"]]
ec2.modify_launch_template(LaunchTemplateName="web", DefaultVersion="2")
out["default"] = ec2.describe_launch_templates(LaunchTemplateNames=["web"])["LaunchTemplates"][0]["DefaultVersionNumber"]
out["versions"] = [v["VersionNumber"] for v in ec2.describe_launch_template_versions(LaunchTemplateName="web")["LaunchTemplateVersions"]]
out["lt_codes"] = [
    code(ec2.create_launch_template, LaunchTemplateName="web", LaunchTemplateData={"InstanceType": "t2.micro"}),
    code(ec2.describe_launch_templates, LaunchTemplateNames=["nope"]),
    code(ec2.describe_launch_templates, LaunchTemplateIds=["lt-1"]),
    code(ec2.describe_launch_template_versions, LaunchTemplateName="web", Versions=["9"]),
]

asg.create_auto_scaling_group(AutoScalingGroupName="web", MinSize=0, MaxSize=3, DesiredCapacity=0,
    LaunchTemplate={"LaunchTemplateName": "web", "Version": "$Latest"},
    Tags=[{"Key": "team", "Value": "blue", "PropagateAtLaunch": True}])
asg.update_auto_scaling_group(AutoScalingGroupName="web", MaxSize=4, DefaultCooldown=60)
g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
out["group"] = [g["MinSize"], g["MaxSize"], g["DesiredCapacity"], g["DefaultCooldown"],
                g["LaunchTemplate"]["LaunchTemplateName"], g["AvailabilityZones"], g["Tags"][0]["Key"],
                g["AutoScalingGroupARN"].startswith("arn:aws:autoscaling:lab-1:"), str(g["CreatedTime"].year)]
p = asg.put_scaling_policy(AutoScalingGroupName="web", PolicyName="cpu50", PolicyType="TargetTrackingScaling",
    TargetTrackingConfiguration={"PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
                                 "TargetValue": 50.0})
out["alarms"] = [a["AlarmName"].split("-")[2] for a in p["Alarms"]]
alarms = cw.describe_alarms(AlarmNamePrefix="TargetTracking-web-")["MetricAlarms"]
out["cw"] = sorted([a["Threshold"], a["AlarmActions"] == [p["PolicyARN"]]] for a in alarms)
pol = asg.describe_policies(AutoScalingGroupName="web")["ScalingPolicies"]
out["policies"] = [[x["PolicyName"], x["PolicyType"], len(x["Alarms"])] for x in pol]
out["activities"] = asg.describe_scaling_activities(AutoScalingGroupName="web")["Activities"]
out["asg_codes"] = [
    code(asg.create_auto_scaling_group, AutoScalingGroupName="web", MinSize=0, MaxSize=1,
         LaunchTemplate={"LaunchTemplateName": "web"}),
    code(asg.create_auto_scaling_group, AutoScalingGroupName="x", MinSize=2, MaxSize=1,
         LaunchTemplate={"LaunchTemplateName": "web"}),
    code(asg.create_auto_scaling_group, AutoScalingGroupName="x", MinSize=0, MaxSize=1),
    code(asg.set_desired_capacity, AutoScalingGroupName="web", DesiredCapacity=9),
    code(asg.set_desired_capacity, AutoScalingGroupName="nope", DesiredCapacity=1),
    code(asg.put_scaling_policy, AutoScalingGroupName="web", PolicyName="bad", AdjustmentType="Sideways",
         ScalingAdjustment=1),
    code(asg.execute_policy, AutoScalingGroupName="web", PolicyName="cpu50"),
    code(asg.delete_policy, AutoScalingGroupName="web", PolicyName="nope"),
]
asg.delete_policy(AutoScalingGroupName="web", PolicyName="cpu50")
out["alarms_left"] = len(cw.describe_alarms(AlarmNamePrefix="TargetTracking-")["MetricAlarms"])
asg.delete_auto_scaling_group(AutoScalingGroupName="web")
out["groups_left"] = len(asg.describe_auto_scaling_groups()["AutoScalingGroups"])
print(json.dumps(out))
"#;

#[test]
fn boto3_drives_launch_templates_and_auto_scaling() {
    let Some(api) = Api::start() else { return };
    let v: Value =
        serde_json::from_str(&ok(&api.python(SCRIPT, &[]), "boto3 autoscaling")).unwrap();
    assert!(v["lt"].as_str().unwrap().starts_with("lt-"), "{v}");
    assert_eq!(
        v["v2"],
        serde_json::json!([2, "ami-0123456789abcdef0", "t3.small"])
    );
    assert_eq!(v["default"], 2);
    assert_eq!(v["versions"], serde_json::json!([2, 1]));
    assert_eq!(
        v["lt_codes"],
        serde_json::json!([
            "InvalidLaunchTemplateName.AlreadyExistsException",
            "InvalidLaunchTemplateName.NotFoundException",
            "InvalidLaunchTemplateId.Malformed",
            "InvalidLaunchTemplateId.VersionNotFound"
        ])
    );
    assert_eq!(
        v["group"],
        serde_json::json!([0, 4, 0, 60, "web", ["lab-1a"], "team", true, "2026"])
    );
    assert_eq!(v["alarms"], serde_json::json!(["AlarmHigh", "AlarmLow"]));
    assert_eq!(v["cw"], serde_json::json!([[45.0, true], [50.0, true]]));
    assert_eq!(
        v["policies"],
        serde_json::json!([["cpu50", "TargetTrackingScaling", 2]])
    );
    assert_eq!(v["activities"], serde_json::json!([]));
    assert_eq!(
        v["asg_codes"],
        serde_json::json!([
            "AlreadyExists",
            "ValidationError",
            "ValidationError",
            "ValidationError",
            "ValidationError",
            "ValidationError",
            "ValidationError",
            "ValidationError"
        ])
    );
    assert_eq!(v["alarms_left"], 0);
    assert_eq!(v["groups_left"], 0);

    // The aws CLI's own verb, unmodified.
    let out = api.aws_service(
        "autoscaling",
        &["describe-auto-scaling-groups", "--output", "json"],
    );
    let listed: Value = serde_json::from_str(&ok(&out, "aws autoscaling")).unwrap();
    assert_eq!(listed["AutoScalingGroups"], serde_json::json!([]));
}
