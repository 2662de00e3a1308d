//! ec2lab's XML answers, read back by botocore's own EC2 parser (the venv's): every member
//! of each result arrives with its name, type and value, and errors arrive as EC2's.

#[path = "api_common/mod.rs"]
mod api_common;
mod common;

use ec2lab::api::xml;
use ec2lab::ec2::model::Model;
use ec2lab::error::Ec2Error;
use serde_json::{json, Value};

const T: &str = "2026-12-03T11:00:00.000Z";

fn samples() -> Vec<(&'static str, Value)> {
    let state = |code: i64, name: &str| json!({"Code": code, "Name": name});
    let group = json!({"GroupId": "sg-0123456789abcdef0", "GroupName": "default"});
    let instance = json!({
        "InstanceId": "i-0123456789abcdef0", "ImageId": "ami-0123456789abcdef0",
        "State": state(16, "running"), "InstanceType": "t2.micro", "LaunchTime": T,
        "KeyName": "lab", "AmiLaunchIndex": 0, "Architecture": "x86_64",
        "PrivateIpAddress": "10.130.0.5", "PublicIpAddress": "192.0.2.10",
        "Placement": {"AvailabilityZone": "lab-1a", "Tenancy": "default"},
        "Tags": [{"Key": "Name", "Value": "web & <co>"}],
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {
            "VolumeId": "vol-0123456789abcdef0", "Status": "attached", "AttachTime": T,
            "DeleteOnTermination": true}}],
        "SecurityGroups": [group],
        "NetworkInterfaces": [{"NetworkInterfaceId": "eni-0123456789abcdef0",
            "PrivateIpAddress": "10.130.0.5", "Groups": [group],
            "Attachment": {"DeviceIndex": 0, "Status": "attached", "DeleteOnTermination": true}}],
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2,
            "HttpEndpoint": "enabled", "State": "applied"},
        "EbsOptimized": false,
    });
    vec![
        (
            "DescribeInstances",
            json!({"Reservations": [{"ReservationId": "r-0123456789abcdef0",
                "OwnerId": "000000000000", "Groups": [], "Instances": [instance.clone()]}]}),
        ),
        (
            "RunInstances",
            json!({"ReservationId": "r-0123456789abcdef0", "OwnerId": "000000000000",
                "Groups": [], "Instances": [instance]}),
        ),
        (
            "StartInstances",
            json!({"StartingInstances": [{"InstanceId": "i-0123456789abcdef0",
                "CurrentState": state(0, "pending"), "PreviousState": state(80, "stopped")}]}),
        ),
        (
            "DescribeSecurityGroups",
            json!({"SecurityGroups": [{"GroupId": "sg-0123456789abcdef0", "GroupName": "web",
                "Description": "web", "OwnerId": "000000000000", "VpcId": "vpc-0123456789abcdef0",
                "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh"}],
                    "UserIdGroupPairs": [], "Ipv6Ranges": [], "PrefixListIds": []}],
                "IpPermissionsEgress": [{"IpProtocol": "-1",
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
                "Tags": []}]}),
        ),
        (
            "GetConsoleOutput",
            json!({"InstanceId": "i-0123456789abcdef0", "Output": "aGVsbG8K", "Timestamp": T}),
        ),
        (
            "CreateKeyPair",
            json!({"KeyName": "lab", "KeyPairId": "key-0123456789abcdef0",
                "KeyFingerprint": "ab:cd",
                "KeyMaterial": "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"}),
        ),
        (
            "DescribeVolumes",
            json!({"Volumes": [{"VolumeId": "vol-0123456789abcdef0", "Size": 8,
                "AvailabilityZone": "lab-1a", "State": "in-use", "CreateTime": T,
                "VolumeType": "gp3", "Iops": 3000, "Encrypted": false, "MultiAttachEnabled": false,
                "Attachments": [{"VolumeId": "vol-0123456789abcdef0",
                    "InstanceId": "i-0123456789abcdef0", "Device": "/dev/sdf",
                    "State": "attached", "AttachTime": T, "DeleteOnTermination": false}]}]}),
        ),
        (
            "DescribeTags",
            json!({"Tags": [{"Key": "Name", "Value": "web", "ResourceId": "i-0123456789abcdef0",
                "ResourceType": "instance"}]}),
        ),
        (
            "DescribeRegions",
            json!({"Regions": [{"RegionName": "lab-1", "Endpoint": "127.0.0.1:8773",
                "OptInStatus": "opt-in-not-required"}]}),
        ),
        (
            "DescribeInstanceAttribute",
            json!({"InstanceId": "i-0123456789abcdef0", "InstanceType": {"Value": "t2.micro"},
                "UserData": {"Value": "IyEvYmluL3No"}}),
        ),
        (
            "DescribeInstanceStatus",
            json!({"InstanceStatuses": [{"AvailabilityZone": "lab-1a",
                "InstanceId": "i-0123456789abcdef0", "InstanceState": state(16, "running"),
                "InstanceStatus": {"Status": "initializing",
                    "Details": [{"Name": "reachability", "Status": "initializing"}]},
                "SystemStatus": {"Status": "ok",
                    "Details": [{"Name": "reachability", "Status": "passed"}]}}]}),
        ),
        (
            "DescribeInstanceAttribute",
            json!({"InstanceId": "i-0123456789abcdef0", "Groups": [group],
                "DisableApiTermination": {"Value": false}}),
        ),
        ("AuthorizeSecurityGroupIngress", json!({"Return": true})),
        (
            "DeleteSecurityGroup",
            json!({"Return": true, "GroupId": "sg-0123456789abcdef0"}),
        ),
        ("DeleteTags", json!({})),
    ]
}

/// Parses each answer with botocore's EC2 parser and prints the results (times back in
/// EC2's form) as JSON.
const PARSE: &str = r#"
import datetime, json, sys
import botocore.session
from botocore.parsers import create_parser

model = botocore.session.get_session().get_service_model("ec2", api_version="2016-11-15")
parser = create_parser("ec2")

def plain(v):
    if isinstance(v, datetime.datetime):
        v = v.astimezone(datetime.timezone.utc)
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v

out = []
for case in json.load(open(sys.argv[1])):
    op = model.operation_model(case["action"])
    parsed = parser.parse({"body": case["xml"].encode(), "headers": {}, "status_code": case["status"]},
                          op.output_shape)
    out.append(plain(parsed))
print(json.dumps(out))
"#;

#[test]
fn botocore_reads_our_xml() {
    let Some(venv) = api_common::venv() else {
        return;
    };
    let model = Model::get();
    let mut cases = Vec::new();
    for (action, result) in samples() {
        cases.push(json!({"action": action, "status": 200,
            "xml": xml::response(model, action, "req-1", &result)}));
    }
    let err = Ec2Error::new(
        "InvalidInstanceID.NotFound",
        "The instance ID 'i-1' does not exist",
    );
    cases.push(
        json!({"action": "DescribeInstances", "status": 400, "xml": xml::error(&err, "req-2")}),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.json");
    std::fs::write(&file, serde_json::to_vec(&cases).unwrap()).unwrap();
    let mut c = std::process::Command::new(venv.join("bin/python"));
    c.arg("-c").arg(PARSE).arg(&file);
    let out = common::run_with_timeout(c, 120);
    let stdout = api_common::ok(&out, "botocore parser");
    let parsed: Vec<Value> = serde_json::from_str(&stdout).unwrap();

    for ((action, expected), mut got) in samples().into_iter().zip(parsed.clone()) {
        let meta = got
            .as_object_mut()
            .unwrap()
            .remove("ResponseMetadata")
            .unwrap();
        assert_eq!(meta["RequestId"], "req-1", "{action}");
        assert_eq!(got, expected, "{action}");
    }
    let e = parsed.last().unwrap();
    assert_eq!(e["Error"]["Code"], "InvalidInstanceID.NotFound");
    assert_eq!(
        e["Error"]["Message"],
        "The instance ID 'i-1' does not exist"
    );
    assert_eq!(e["ResponseMetadata"]["RequestId"], "req-2");
}
