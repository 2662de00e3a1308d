//! `ec2lab serve` with the unmodified aws CLI and boto3: regions and zones, the profile
//! `configure-aws` writes, and EC2's errors for bad signatures, actions and parameters.

#[path = "api_common/mod.rs"]
mod api_common;
mod common;

use api_common::{ok, Api};
use serde_json::Value;

#[test]
fn aws_cli_describes_regions_and_zones() {
    let Some(api) = Api::start() else { return };
    let v: Value =
        serde_json::from_str(&ok(&api.aws(&["describe-regions"]), "describe-regions")).unwrap();
    let regions = v["Regions"].as_array().unwrap();
    assert_eq!(regions.len(), 1, "{v}");
    assert_eq!(regions[0]["RegionName"], "lab-1");
    assert_eq!(regions[0]["OptInStatus"], "opt-in-not-required");

    let v: Value = serde_json::from_str(&ok(
        &api.aws(&["describe-availability-zones", "--zone-names", "lab-1a"]),
        "describe-availability-zones",
    ))
    .unwrap();
    assert_eq!(v["AvailabilityZones"][0]["ZoneName"], "lab-1a");
    assert_eq!(v["AvailabilityZones"][0]["State"], "available");

    // The aws CLI's own --query and --output work on ec2lab's answers.
    let out = ok(
        &api.aws(&[
            "describe-regions",
            "--query",
            "Regions[].RegionName",
            "--output",
            "text",
        ]),
        "describe-regions --query",
    );
    assert_eq!(out.trim(), "lab-1");

    // The aws CLI's describe-instances (it paginates on its own) and its filters.
    let v: Value = serde_json::from_str(&ok(
        &api.aws(&[
            "describe-instances",
            "--filters",
            "Name=instance-state-name,Values=running",
        ]),
        "describe-instances",
    ))
    .unwrap();
    assert_eq!(v["Reservations"], serde_json::json!([]));

    // DryRun: EC2's DryRunOperation, which the aws CLI reports as an error.
    let out = api.aws(&["describe-regions", "--dry-run"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(DryRunOperation)"), "{err}");
}

#[test]
fn configure_aws_writes_only_its_profile() {
    let Some(api) = Api::start() else { return };
    let config = std::fs::read_to_string(api.config_file()).unwrap();
    assert!(config.contains("[profile ec2lab]"), "{config}");
    assert!(config.contains(&format!("endpoint_url = {}", api.endpoint)));
    assert!(config.contains("region = lab-1"));
    let creds = std::fs::read_to_string(api.credentials_file()).unwrap();
    assert!(creds.contains("[ec2lab]") && creds.contains("aws_secret_access_key = "));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(api.credentials_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Other profiles survive, byte for byte, and a second run changes nothing.
    let other = "[profile other]\n# a comment\nregion = eu-west-1\n";
    std::fs::write(api.config_file(), format!("{other}\n{config}")).unwrap();
    let mut c = api
        .lab
        .cmd(&["configure-aws", "--endpoint-url", &api.endpoint]);
    api.aws_env(&mut c);
    assert!(c.output().unwrap().status.success());
    let again = std::fs::read_to_string(api.config_file()).unwrap();
    assert_eq!(again, format!("{other}\n{config}"));
    let keys = std::fs::metadata(api.lab.state_dir().join("api-access-keys.json")).unwrap();
    assert_eq!(keys.permissions().mode() & 0o777, 0o600);
}

/// boto3 as a user's script uses it; then raw requests signed (or not) by botocore's own
/// signer, for what the client would refuse to send.
const BOTO3: &str = r#"
import json, sys
import boto3, botocore
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpsession import URLLib3Session

session = boto3.Session(profile_name="ec2lab")
ec2 = session.client("ec2")
out = {}
out["regions"] = [r["RegionName"] for r in ec2.describe_regions()["Regions"]]
out["zones"] = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
attrs = ec2.describe_account_attributes()["AccountAttributes"]
out["attributes"] = {a["AttributeName"]: a["AttributeValues"][0]["AttributeValue"] for a in attrs}
out["reservations"] = ec2.describe_instances()["Reservations"]
out["types"] = [t["InstanceType"] for t in ec2.describe_instance_types(InstanceTypes=["t2.micro"])["InstanceTypes"]]
# Many requests at once (boto3 clients are thread-safe).
from concurrent.futures import ThreadPoolExecutor
def call(i):
    if i % 2:
        return str(len(ec2.describe_instances()["Reservations"]))
    return ec2.describe_regions()["Regions"][0]["RegionName"]
with ThreadPoolExecutor(16) as pool:
    out["concurrent"] = sorted(set(pool.map(call, range(50))))
try:
    ec2.describe_regions(DryRun=True)
    out["dry_run"] = None
except botocore.exceptions.ClientError as e:
    out["dry_run"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]

creds = session.get_credentials().get_frozen_credentials()
endpoint = ec2.meta.endpoint_url
http = URLLib3Session()

def raw(body, key=creds.access_key, secret=creds.secret_key, sign=True, region="lab-1"):
    req = AWSRequest(method="POST", url=endpoint + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    if sign:
        SigV4Auth(Credentials(key, secret), "ec2", region).add_auth(req)
    resp = http.send(req.prepare())
    text = resp.content.decode()
    code = text.split("<Code>")[1].split("</Code>")[0] if "<Code>" in text else None
    return [code, resp.status_code]

create = "Action=CreateKeyPair&Version=2016-11-15&KeyName=should-not-exist"
out["unsigned"] = raw(create, sign=False)
out["unknown_key"] = raw(create, key="AKIAAAAAAAAAAAAAAAAA")
out["wrong_secret"] = raw(create, secret="x" * 40)
out["wrong_region"] = raw(create, region="us-east-1")
out["unknown_action"] = raw("Action=NoSuchThing&Version=2016-11-15")
out["unknown_parameter"] = raw("Action=DescribeRegions&Version=2016-11-15&Bogus.1=x")
out["bad_integer"] = raw("Action=DescribeInstances&Version=2016-11-15&MaxResults=many")
out["unsupported"] = raw("Action=CreateVolume&Version=2016-11-15&AvailabilityZone=lab-1a&Size=1&Encrypted=true")
out["missing_action"] = raw("Version=2016-11-15")
out["too_large"] = raw("Action=DescribeRegions&Version=2016-11-15&Pad=" + "a" * (2 << 20))
out["ok_raw"] = raw("Action=DescribeRegions&Version=2016-11-15")

# GET: signed in the header, and presigned in the query string.
def get(query, presign=False, secret=creds.secret_key):
    req = AWSRequest(method="GET", url=endpoint + "/?" + query)
    c = Credentials(creds.access_key, secret)
    if presign:
        SigV4QueryAuth(c, "ec2", "lab-1", expires=60).add_auth(req)
    else:
        SigV4Auth(c, "ec2", "lab-1").add_auth(req)
    resp = http.send(req.prepare())
    text = resp.content.decode()
    return [resp.status_code, "<regionName>lab-1</regionName>" in text]

regions = "Action=DescribeRegions&Version=2016-11-15&RegionName.1=lab-1"
out["get_signed"] = get(regions)
out["get_presigned"] = get(regions, presign=True)
out["get_presigned_wrong_secret"] = get(regions, presign=True, secret="y" * 40)

# AWS JSON 1.0: the same actions, JSON in and out.
def rawjson(target, body, sign=True):
    req = AWSRequest(method="POST", url=endpoint + "/", data=body,
                     headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target})
    if sign:
        SigV4Auth(Credentials(creds.access_key, creds.secret_key), "ec2", "lab-1").add_auth(req)
    resp = http.send(req.prepare())
    return [resp.status_code, resp.headers.get("Content-Type"), json.loads(resp.content.decode())]

out["json_regions"] = rawjson("AmazonEC2.DescribeRegions", json.dumps({"RegionNames": ["lab-1"]}))
out["json_unknown"] = rawjson("AmazonEC2.NoSuchThing", "{}")
out["json_unsigned"] = rawjson("AmazonEC2.DescribeRegions", "{}", sign=False)
out["json_garbled"] = rawjson("AmazonEC2.DescribeRegions", "{nope")
out["json_unsupported"] = rawjson("AmazonEC2.DescribeInstances", json.dumps({"NoSuchMember": 1}))
print(json.dumps(out))
"#;

#[test]
fn boto3_and_ec2_errors() {
    let Some(api) = Api::start() else { return };
    let out = ok(&api.python(BOTO3, &[]), "boto3 script");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["regions"], serde_json::json!(["lab-1"]));
    assert_eq!(v["zones"], serde_json::json!(["lab-1a"]));
    assert_eq!(v["attributes"]["supported-platforms"], "VPC");
    assert!(v["attributes"]["default-vpc"]
        .as_str()
        .unwrap()
        .starts_with("vpc-"));
    assert_eq!(v["reservations"], serde_json::json!([]));
    assert_eq!(v["types"], serde_json::json!(["t2.micro"]));
    assert_eq!(v["concurrent"], serde_json::json!(["0", "lab-1"]));
    let expect = |k: &str, code: &str, status: u16| {
        assert_eq!(v[k], serde_json::json!([code, status]), "{k}: {v}");
    };
    expect("dry_run", "DryRunOperation", 412);
    expect("unsigned", "AuthFailure", 401);
    expect("unknown_key", "AuthFailure", 401);
    expect("wrong_secret", "AuthFailure", 401);
    expect("wrong_region", "AuthFailure", 401);
    expect("unknown_action", "InvalidAction", 400);
    expect("unknown_parameter", "UnknownParameter", 400);
    expect("bad_integer", "InvalidParameterValue", 400);
    expect("unsupported", "Unsupported", 400);
    expect("missing_action", "MissingAction", 400);
    assert_eq!(v["too_large"][1], 413, "{v}");
    assert_eq!(v["ok_raw"], serde_json::json!([null, 200]));
    assert_eq!(v["get_signed"], serde_json::json!([200, true]));
    assert_eq!(v["get_presigned"], serde_json::json!([200, true]));
    assert_eq!(
        v["get_presigned_wrong_secret"],
        serde_json::json!([401, false])
    );
    // AWS JSON 1.0 reaches the same handlers; errors carry EC2's codes as `__type`.
    let json = &v["json_regions"];
    assert_eq!(json[0], 200, "{json}");
    assert_eq!(json[1], "application/x-amz-json-1.0");
    assert_eq!(json[2]["Regions"][0]["RegionName"], "lab-1", "{json}");
    let json_error = |k: &str, code: &str, status: u16| {
        assert_eq!(v[k][0], status, "{k}: {v}");
        assert_eq!(v[k][2]["__type"], code, "{k}: {v}");
        assert!(v[k][2]["message"].as_str().is_some_and(|m| !m.is_empty()));
    };
    json_error("json_unknown", "InvalidAction", 400);
    json_error("json_unsigned", "AuthFailure", 401);
    json_error("json_garbled", "SerializationException", 400);
    json_error("json_unsupported", "Unsupported", 400);
    // The refused requests changed nothing.
    let pairs = api.lab.ok(&["describe-key-pairs"]);
    assert_eq!(pairs["KeyPairs"], serde_json::json!([]), "{pairs}");
}
