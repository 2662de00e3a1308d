//! Tags, VPCs, subnets, network interfaces, Elastic IPs, volumes and snapshots through
//! `ec2lab serve`, driven by the unmodified boto3 and aws CLI: tags on every kind of
//! resource and the describes' tag filters, each resource's lifecycle with the clients'
//! own waiters, pagination with the clients' own paginators, and EC2's codes for bad input
//! (which changes nothing). The instances here are tiny guests (a few instructions on
//! KVM), stopped before their volumes and interfaces are attached.

#[path = "api_common/mod.rs"]
mod api_common;
mod common;

use api_common::{ok, Api};
use common::TinyOs;
use serde_json::{json, Value};

fn parse(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// A tiny guest, launched and stopped through the CLI (the API's RunInstances is not what
/// these tests are about).
fn stopped_instance(api: &Api) -> String {
    let ami = api.lab.tiny_ami("tiny", TinyOs::StayUp);
    let id = api.lab.run(&ami, &[]).remove(0);
    api.lab.ok(&["stop-instances", "--instance-ids", &id]);
    api.lab.wait("instance-stopped", &id);
    id
}

/// What the boto3 scripts share: the client and EC2's error code of a call.
const PRELUDE: &str = r#"
import json, sys
import boto3, botocore
ec2 = boto3.Session(profile_name="ec2lab").client("ec2")
out = {}
def code(f, **kw):
    try:
        f(**kw)
        return None
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
def spec(rt, name):
    return [{"ResourceType": rt, "Tags": [{"Key": "Name", "Value": name}]}]
def all_tags():
    p = ec2.get_paginator("describe_tags")
    return sorted((t["ResourceId"], t["Key"], t["Value"]) for page in p.paginate() for t in page["Tags"])
"#;

const TAGS: &str = r#"
ext = json.loads(sys.argv[1])
vpc = ec2.create_vpc(CidrBlock="10.250.0.0/16", TagSpecifications=spec("vpc", "tv"))["Vpc"]
subnet = ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.250.1.0/24",
                           TagSpecifications=spec("subnet", "ts"))["Subnet"]
eni = ec2.create_network_interface(SubnetId=subnet["SubnetId"],
                                   TagSpecifications=spec("network-interface", "te"))["NetworkInterface"]
eip = ec2.allocate_address(Domain="vpc", TagSpecifications=spec("elastic-ip", "ta"))
vol = ec2.create_volume(AvailabilityZone="lab-1a", Size=1, TagSpecifications=spec("volume", "tvol"))
snap = ec2.create_snapshot(VolumeId=vol["VolumeId"], TagSpecifications=spec("snapshot", "tsnap"))
sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"][0]
out["created_with"] = [t[0]["Value"] for t in [vpc["Tags"], subnet["Tags"], eni["TagSet"], vol["Tags"], snap["Tags"]]]
ids = {"vpc": vpc["VpcId"], "subnet": subnet["SubnetId"], "network-interface": eni["NetworkInterfaceId"],
       "elastic-ip": eip["AllocationId"], "volume": vol["VolumeId"], "snapshot": snap["SnapshotId"],
       "security-group": sg["GroupId"], "key-pair": ext["key"], "image": ext["ami"],
       "instance": ext["instance"]}
out["ids"] = ids
ec2.create_tags(Resources=list(ids.values()),
                Tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "test"}])
team = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["team"]}])["Tags"]
out["team"] = sorted([t["ResourceType"], t["ResourceId"], t["Value"]] for t in team)
out["by_id"] = {rt: sorted(t["Key"] for t in ec2.describe_tags(
    Filters=[{"Name": "resource-id", "Values": [i]}, {"Name": "resource-type", "Values": [rt]}])["Tags"])
    for rt, i in ids.items()}
team_a = [{"Name": "tag:team", "Values": ["a"]}]
env_key = [{"Name": "tag-key", "Values": ["env"]}]
out["filtered"] = {
    "vpc": [v["VpcId"] for v in ec2.describe_vpcs(Filters=team_a)["Vpcs"]],
    "subnet": [s["SubnetId"] for s in ec2.describe_subnets(Filters=env_key)["Subnets"]],
    "network-interface": [n["NetworkInterfaceId"] for n in ec2.describe_network_interfaces(Filters=team_a)["NetworkInterfaces"]],
    "elastic-ip": [a["AllocationId"] for a in ec2.describe_addresses(Filters=team_a)["Addresses"]],
    "volume": [v["VolumeId"] for v in ec2.describe_volumes(Filters=team_a)["Volumes"]],
    "snapshot": [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"], Filters=env_key)["Snapshots"]],
    "security-group": [g["GroupId"] for g in ec2.describe_security_groups(Filters=team_a)["SecurityGroups"]],
    "key-pair": [k["KeyPairId"] for k in ec2.describe_key_pairs(Filters=team_a)["KeyPairs"]],
    "image": [i["ImageId"] for i in ec2.describe_images(Filters=env_key)["Images"]],
    "instance": [i["InstanceId"] for r in ec2.describe_instances(Filters=team_a)["Reservations"] for i in r["Instances"]],
}
out["no_match"] = len(ec2.describe_volumes(Filters=[{"Name": "tag:team", "Values": ["b"]}])["Volumes"])
out["shown"] = {
    "vpc": sorted(t["Key"] for t in ec2.describe_vpcs(VpcIds=[ids["vpc"]])["Vpcs"][0]["Tags"]),
    "network-interface": sorted(t["Key"] for t in ec2.describe_network_interfaces(
        NetworkInterfaceIds=[ids["network-interface"]])["NetworkInterfaces"][0]["TagSet"]),
    "image": sorted(t["Key"] for t in ec2.describe_images(ImageIds=[ids["image"]])["Images"][0]["Tags"]),
}

# DeleteTags as EC2: a value that does not match keeps the tag, no value removes it.
ec2.delete_tags(Resources=[ids["volume"]], Tags=[{"Key": "team", "Value": "b"}])
ec2.delete_tags(Resources=[ids["volume"]], Tags=[{"Key": "env"}])
ec2.delete_tags(Resources=[ids["vpc"]], Tags=[{"Key": "team", "Value": "a"}])
keys = lambda rid: sorted(t["Key"] for t in ec2.describe_tags(
    Filters=[{"Name": "resource-id", "Values": [rid]}])["Tags"])
out["after_delete"] = {"volume": keys(ids["volume"]), "vpc": keys(ids["vpc"])}

# At most 50 tags a resource: the volume has Name and team.
more = [{"Key": f"k{i}", "Value": ""} for i in range(47)]
out["limit"] = [code(ec2.create_tags, Resources=[ids["volume"]], Tags=more),
                code(ec2.create_tags, Resources=[ids["volume"]], Tags=[{"Key": "k47", "Value": ""}]),
                code(ec2.create_tags, Resources=[ids["volume"]], Tags=[{"Key": "one-too-many", "Value": ""}]),
                code(ec2.create_tags, Resources=[ids["volume"]], Tags=[{"Key": "k0", "Value": "overwrite"}])]
out["count_at_limit"] = len(keys(ids["volume"]))

# Bad input: EC2's codes, and nothing changes (the good resource named first included).
before = all_tags()
x = [{"Key": "x", "Value": "1"}]
out["bad"] = {
    "unknown_volume": code(ec2.create_tags, Resources=[ids["vpc"], "vol-0123456789abcdef0"], Tags=x),
    "unknown_instance": code(ec2.create_tags, Resources=[ids["vpc"], "i-0123456789abcdef0"], Tags=x),
    "unknown_group": code(ec2.create_tags, Resources=[ids["vpc"], "sg-0123456789abcdef0"], Tags=x),
    "malformed": code(ec2.create_tags, Resources=[ids["vpc"], "vol-xyz"], Tags=x),
    "unknown_kind": code(ec2.create_tags, Resources=[ids["vpc"], "igw-0123456789abcdef0"], Tags=x),
    "delete_unknown": code(ec2.delete_tags, Resources=[ids["vpc"], "snap-0123456789abcdef0"]),
    "reserved_key": code(ec2.create_tags, Resources=[ids["vpc"]], Tags=[{"Key": "aws:x", "Value": "1"}]),
    "unknown_filter": code(ec2.describe_tags, Filters=[{"Name": "colour", "Values": ["x"]}]),
}
out["unchanged"] = all_tags() == before
print(json.dumps(out))
"#;

#[test]
fn tags_on_every_kind_of_resource() {
    let Some(api) = Api::start() else { return };
    let lab = &api.lab;
    let key = lab.ok(&["create-key-pair", "--key-name", "tagged"])["KeyPairId"]
        .as_str()
        .unwrap()
        .to_string();
    let instance = stopped_instance(&api);
    let ami = lab.ok(&["describe-instances", "--instance-ids", &instance])["Reservations"][0]
        ["Instances"][0]["ImageId"]
        .as_str()
        .unwrap()
        .to_string();
    let ext = json!({"key": key, "ami": ami, "instance": instance}).to_string();
    let v = parse(&ok(
        &api.python(&format!("{PRELUDE}{TAGS}"), &[&ext]),
        "boto3 tags",
    ));
    assert_eq!(
        v["created_with"],
        json!(["tv", "ts", "te", "tvol", "tsnap"]),
        "{v}"
    );
    let ids = v["ids"].as_object().unwrap();
    assert_eq!(ids.len(), 10);
    // Every kind has both tags, and shows up in DescribeTags and in its own describe's
    // tag filters.
    let mut team: Vec<Value> = ids.iter().map(|(rt, id)| json!([rt, id, "a"])).collect();
    team.sort_by_key(|t| t.to_string());
    assert_eq!(v["team"], Value::Array(team), "{v}");
    for (rt, id) in ids {
        let mut want = vec!["env", "team"];
        if [
            "vpc",
            "subnet",
            "network-interface",
            "elastic-ip",
            "volume",
            "snapshot",
        ]
        .contains(&rt.as_str())
        {
            want.insert(0, "Name");
        }
        assert_eq!(v["by_id"][rt], json!(want), "{rt}: {v}");
        assert_eq!(v["filtered"][rt], json!([id]), "{rt}: {v}");
    }
    assert_eq!(v["no_match"], 0);
    assert_eq!(v["shown"]["vpc"], json!(["Name", "env", "team"]));
    assert_eq!(
        v["shown"]["network-interface"],
        json!(["Name", "env", "team"])
    );
    assert_eq!(v["shown"]["image"], json!(["env", "team"]));
    assert_eq!(v["after_delete"]["volume"], json!(["Name", "team"]));
    assert_eq!(v["after_delete"]["vpc"], json!(["Name", "env"]));
    assert_eq!(
        v["limit"],
        json!([null, null, "TagLimitExceeded", null]),
        "{v}"
    );
    assert_eq!(v["count_at_limit"], 50);
    let bad = &v["bad"];
    assert_eq!(bad["unknown_volume"], "InvalidVolume.NotFound");
    assert_eq!(bad["unknown_instance"], "InvalidInstanceID.NotFound");
    assert_eq!(bad["unknown_group"], "InvalidGroup.NotFound");
    assert_eq!(bad["malformed"], "InvalidID");
    assert_eq!(bad["unknown_kind"], "InvalidID");
    assert_eq!(bad["delete_unknown"], "InvalidSnapshot.NotFound");
    assert_eq!(bad["reserved_key"], "InvalidParameterValue");
    assert_eq!(bad["unknown_filter"], "InvalidParameterValue");
    assert_eq!(v["unchanged"], true, "a refused request changed tags: {v}");

    // The aws CLI, and ec2lab's own CLI on the same core (the volume is full now).
    let snap = ids["snapshot"].as_str().unwrap();
    let sg = ids["security-group"].as_str().unwrap();
    ok(
        &api.aws(&[
            "create-tags",
            "--resources",
            snap,
            sg,
            "--tags",
            "Key=cli,Value=yes",
        ]),
        "aws create-tags",
    );
    let cli_tags = |who: &str, v: &Value| -> Vec<String> {
        let mut t: Vec<String> = v["Tags"]
            .as_array()
            .unwrap_or_else(|| panic!("{who}: {v}"))
            .iter()
            .map(|t| {
                let f = |k: &str| t[k].as_str().unwrap_or_default().to_string();
                format!("{} {} {}", f("ResourceType"), f("ResourceId"), f("Value"))
            })
            .collect();
        t.sort();
        t
    };
    let aws_view = parse(&ok(
        &api.aws(&["describe-tags", "--filters", "Name=key,Values=cli"]),
        "aws describe-tags",
    ));
    let mut want = vec![
        format!("security-group {sg} yes"),
        format!("snapshot {snap} yes"),
    ];
    want.sort();
    assert_eq!(cli_tags("aws", &aws_view), want);
    ok(
        &api.aws(&["delete-tags", "--resources", snap, "--tags", "Key=cli"]),
        "aws delete-tags",
    );
    let ours = lab.ok(&["describe-tags", "--filters", "Name=key,Values=cli"]);
    assert_eq!(
        cli_tags("ec2lab", &ours),
        vec![format!("security-group {sg} yes")]
    );
    lab.ok(&[
        "create-tags",
        "--resources",
        snap,
        "--tags",
        "Key=from-ec2lab,Value=1",
    ]);
    let aws_view = parse(&ok(
        &api.aws(&["describe-tags", "--filters", "Name=key,Values=from-ec2lab"]),
        "aws describe-tags",
    ));
    assert_eq!(
        cli_tags("aws", &aws_view),
        vec![format!("snapshot {snap} 1")]
    );
    let out = api.aws(&[
        "create-tags",
        "--resources",
        "i-0123456789abcdef0",
        "--tags",
        "Key=a,Value=b",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(InvalidInstanceID.NotFound)"), "{err}");
    lab.fails(
        &["delete-tags", "--resources", "vpc-0123456789abcdef0"],
        "InvalidVpcID.NotFound",
    );
}

const NETWORK: &str = r#"
vpc_id, sg2, instance, default_subnet = sys.argv[1:5]
ec2.get_waiter("vpc_available").wait(VpcIds=[vpc_id], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
sub = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.251.1.0/24")["Subnet"]
out["subnet"] = [sub["CidrBlock"], sub["AvailabilityZone"], sub["AvailableIpAddressCount"], sub["State"]]
ec2.get_waiter("subnet_available").wait(SubnetIds=[sub["SubnetId"]], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
default_sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                   {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"]
eni = ec2.create_network_interface(SubnetId=sub["SubnetId"], Description="backend",
                                   PrivateIpAddress="10.251.1.10")["NetworkInterface"]
eid = eni["NetworkInterfaceId"]
out["eni"] = [eni["Status"], eni["PrivateIpAddress"], [g["GroupId"] for g in eni["Groups"]] == [default_sg], eni["Description"]]
ec2.modify_network_interface_attribute(NetworkInterfaceId=eid, Groups=[sg2, default_sg])
out["groups"] = [g["GroupId"] for g in ec2.describe_network_interfaces(NetworkInterfaceIds=[eid])["NetworkInterfaces"][0]["Groups"]] == [sg2, default_sg]
out["in_use"] = [code(ec2.delete_vpc, VpcId=vpc_id), code(ec2.delete_subnet, SubnetId=sub["SubnetId"])]
out["eni_bad"] = [
    code(ec2.attach_network_interface, NetworkInterfaceId=eid, InstanceId="i-0123456789abcdef0", DeviceIndex=1),
    code(ec2.attach_network_interface, NetworkInterfaceId=eid, InstanceId=instance, DeviceIndex=1),
    code(ec2.detach_network_interface, AttachmentId="eni-attach-0123456789abcdef0"),
    code(ec2.modify_network_interface_attribute, NetworkInterfaceId=eid, Groups=["sg-0123456789abcdef0"]),
    code(ec2.create_network_interface, SubnetId=sub["SubnetId"], PrivateIpAddress="10.251.1.10"),
    code(ec2.create_network_interface, SubnetId="subnet-0123456789abcdef0"),
]
ec2.delete_network_interface(NetworkInterfaceId=eid)
out["eni_gone"] = code(ec2.describe_network_interfaces, NetworkInterfaceIds=[eid])

# An interface in the instance's subnet, attached to the stopped instance and detached.
e2 = ec2.create_network_interface(SubnetId=default_subnet)["NetworkInterface"]["NetworkInterfaceId"]
att = ec2.attach_network_interface(NetworkInterfaceId=e2, InstanceId=instance, DeviceIndex=1)
n = ec2.describe_network_interfaces(NetworkInterfaceIds=[e2])["NetworkInterfaces"][0]
out["attached"] = [n["Status"], n["Attachment"]["InstanceId"] == instance, n["Attachment"]["AttachmentId"] == att["AttachmentId"],
                   n["Attachment"]["DeviceIndex"]]
out["delete_attached"] = code(ec2.delete_network_interface, NetworkInterfaceId=e2)
ec2.detach_network_interface(AttachmentId=att["AttachmentId"])
out["detached"] = ec2.describe_network_interfaces(NetworkInterfaceIds=[e2])["NetworkInterfaces"][0]["Status"]
ec2.delete_network_interface(NetworkInterfaceId=e2)

# Elastic IPs.
a = ec2.allocate_address(Domain="vpc")
got = ec2.describe_addresses(AllocationIds=[a["AllocationId"]])["Addresses"][0]
out["eip"] = [got["PublicIp"] == a["PublicIp"], a["Domain"], "AssociationId" in got]
assoc = ec2.associate_address(AllocationId=a["AllocationId"], InstanceId=instance)
got = ec2.describe_addresses(PublicIps=[a["PublicIp"]])["Addresses"][0]
out["associated"] = [got.get("InstanceId") == instance, got.get("AssociationId") == assoc["AssociationId"]]
out["eip_bad"] = [
    code(ec2.associate_address, AllocationId=a["AllocationId"], InstanceId="i-0123456789abcdef0"),
    code(ec2.associate_address, AllocationId="eipalloc-0123456789abcdef0", InstanceId=instance),
    code(ec2.release_address, AllocationId=a["AllocationId"]),
    code(ec2.disassociate_address, AssociationId="eipassoc-0123456789abcdef0"),
    code(ec2.allocate_address, Domain="standard"),
]
ec2.disassociate_address(AssociationId=assoc["AssociationId"])
out["disassociated"] = "InstanceId" in ec2.describe_addresses(AllocationIds=[a["AllocationId"]])["Addresses"][0]
ec2.release_address(AllocationId=a["AllocationId"])
out["released"] = [code(ec2.release_address, AllocationId=a["AllocationId"]),
                   code(ec2.describe_addresses, AllocationIds=[a["AllocationId"]])]

# The VPC goes once its subnet has.
ec2.delete_subnet(SubnetId=sub["SubnetId"])
ec2.delete_vpc(VpcId=vpc_id)
out["vpc_gone"] = [code(ec2.describe_vpcs, VpcIds=[vpc_id]), code(ec2.describe_subnets, SubnetIds=[sub["SubnetId"]])]
out["vpc_bad"] = [
    code(ec2.create_subnet, VpcId="vpc-0123456789abcdef0", CidrBlock="10.9.0.0/24"),
    code(ec2.create_subnet, VpcId="vpc-xyz", CidrBlock="10.9.0.0/24"),
    code(ec2.create_vpc, CidrBlock="10.0.0.0/8"),
    code(ec2.create_vpc, CidrBlock="not-a-cidr"),
    code(ec2.create_vpc, CidrBlock="10.252.0.0/16", TagSpecifications=spec("volume", "wrong type")),
    code(ec2.delete_vpc, VpcId="vpc-0123456789abcdef0"),
    code(ec2.delete_subnet, SubnetId="subnet-0123456789abcdef0"),
]
out["vpcs_left"] = len(ec2.describe_vpcs()["Vpcs"])
out["enis_left"] = len(ec2.describe_network_interfaces()["NetworkInterfaces"])
out["addresses_left"] = len(ec2.describe_addresses()["Addresses"])
print(json.dumps(out))
"#;

#[test]
fn vpc_subnet_interface_and_address_lifecycle() {
    let Some(api) = Api::start() else { return };
    let lab = &api.lab;
    let instance = stopped_instance(&api);
    // The aws CLI makes the VPC; the service brings up its bridge on the host, as the
    // CLI's create-vpc does.
    let vpc = parse(&ok(
        &api.aws(&[
            "create-vpc",
            "--cidr-block",
            "10.251.0.0/16",
            "--tag-specifications",
            "ResourceType=vpc,Tags=[{Key=Name,Value=api}]",
        ]),
        "aws create-vpc",
    ));
    let vpc_id = vpc["Vpc"]["VpcId"].as_str().unwrap().to_string();
    assert_eq!(vpc["Vpc"]["Tags"], json!([{"Key": "Name", "Value": "api"}]));
    let ours = lab.ok(&["describe-vpcs", "--vpc-ids", &vpc_id]);
    let bridge = ours["Vpcs"][0]["Ec2LabInfo"]["Bridge"]
        .as_str()
        .unwrap()
        .to_string();
    let bridge_dir = std::path::Path::new("/sys/class/net").join(&bridge);
    assert!(bridge_dir.exists(), "no bridge {bridge} after create-vpc");
    let sg2 = lab.ok(&[
        "create-security-group",
        "--group-name",
        "backend",
        "--description",
        "backend",
        "--vpc-id",
        &vpc_id,
    ])["GroupId"]
        .as_str()
        .unwrap()
        .to_string();
    let subnet = lab.describe(&instance)["SubnetId"]
        .as_str()
        .unwrap()
        .to_string();
    let v = parse(&ok(
        &api.python(
            &format!("{PRELUDE}{NETWORK}"),
            &[&vpc_id, &sg2, &instance, &subnet],
        ),
        "boto3 network",
    ));
    assert_eq!(
        v["subnet"],
        json!(["10.251.1.0/24", "lab-1a", 251, "available"])
    );
    assert_eq!(
        v["eni"],
        json!(["available", "10.251.1.10", true, "backend"])
    );
    assert_eq!(v["groups"], true);
    assert_eq!(
        v["in_use"],
        json!(["DependencyViolation", "DependencyViolation"])
    );
    assert_eq!(
        v["eni_bad"],
        json!([
            "InvalidInstanceID.NotFound",
            "InvalidParameterCombination",
            "InvalidAttachmentID.NotFound",
            "InvalidGroup.NotFound",
            "InvalidIPAddress.InUse",
            "InvalidSubnetID.NotFound"
        ]),
        "{v}"
    );
    assert_eq!(v["eni_gone"], "InvalidNetworkInterfaceID.NotFound");
    assert_eq!(v["attached"], json!(["in-use", true, true, 1]));
    assert_eq!(v["delete_attached"], "InvalidNetworkInterface.InUse");
    assert_eq!(v["detached"], "available");
    assert_eq!(v["eip"], json!([true, "vpc", false]));
    assert_eq!(v["associated"], json!([true, true]));
    assert_eq!(
        v["eip_bad"],
        json!([
            "InvalidInstanceID.NotFound",
            "InvalidAllocationID.NotFound",
            "InvalidIPAddress.InUse",
            "InvalidAssociationID.NotFound",
            "InvalidParameterValue"
        ]),
        "{v}"
    );
    assert_eq!(v["disassociated"], false);
    assert_eq!(
        v["released"],
        json!([
            "InvalidAllocationID.NotFound",
            "InvalidAllocationID.NotFound"
        ])
    );
    assert_eq!(
        v["vpc_gone"],
        json!(["InvalidVpcID.NotFound", "InvalidSubnetID.NotFound"])
    );
    assert_eq!(
        v["vpc_bad"],
        json!([
            "InvalidVpcID.NotFound",
            "InvalidVpcID.Malformed",
            "InvalidVpc.Range",
            "InvalidVpc.Range",
            "InvalidParameterValue",
            "InvalidVpcID.NotFound",
            "InvalidSubnetID.NotFound"
        ]),
        "{v}"
    );
    // Only the default VPC and the instance's own interface are left; the deleted VPC's
    // bridge is gone from the host.
    assert_eq!(v["vpcs_left"], 1);
    assert_eq!(v["enis_left"], 1);
    assert_eq!(v["addresses_left"], 0);
    assert!(
        !bridge_dir.exists(),
        "bridge {bridge} left after delete-vpc"
    );
}

const VOLUMES: &str = r#"
instance = sys.argv[1]
fast = {"Delay": 1, "MaxAttempts": 20}
v = ec2.create_volume(AvailabilityZone="lab-1a", Size=1, VolumeType="gp3", TagSpecifications=spec("volume", "data"))
vid = v["VolumeId"]
ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=fast)
m = ec2.modify_volume(VolumeId=vid, Size=2)["VolumeModification"]
out["modified"] = [m["OriginalSize"], m["TargetSize"], m["ModificationState"],
                   ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]["Size"]]
s = ec2.create_snapshot(VolumeId=vid, Description="nightly", TagSpecifications=spec("snapshot", "nightly"))
sid = s["SnapshotId"]
ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=fast)
got = ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0]
out["snapshot"] = [got["VolumeId"] == vid, got["VolumeSize"], got["State"], got["Description"], got["Tags"]]
r = ec2.create_volume(AvailabilityZone="lab-1a", SnapshotId=sid)
ec2.get_waiter("volume_available").wait(VolumeIds=[r["VolumeId"]], WaiterConfig=fast)
out["restored"] = [r["Size"], r["SnapshotId"] == sid]

# Attached to the stopped instance, and detached.
a = ec2.attach_volume(VolumeId=vid, InstanceId=instance, Device="/dev/sdf")
ec2.get_waiter("volume_in_use").wait(VolumeIds=[vid], WaiterConfig=fast)
att = ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]["Attachments"][0]
out["attached"] = [a["State"], att["InstanceId"] == instance, att["Device"]]
out["in_use"] = [code(ec2.delete_volume, VolumeId=vid),
                 code(ec2.detach_volume, VolumeId=vid, InstanceId="i-0123456789abcdef0")]
ec2.detach_volume(VolumeId=vid, InstanceId=instance, Device="/dev/sdf")
ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=fast)

# Bad input: EC2's codes; nothing changes.
before = ec2.describe_volumes()["Volumes"], ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
out["bad"] = [
    code(ec2.create_volume, AvailabilityZone="lab-1z", Size=1),
    code(ec2.create_volume, AvailabilityZone="lab-1a"),
    code(ec2.create_volume, AvailabilityZone="lab-1a", Size=1, Encrypted=True),
    code(ec2.create_volume, AvailabilityZone="lab-1a", Size=1, TagSpecifications=spec("snapshot", "x")),
    code(ec2.delete_volume, VolumeId="vol-0123456789abcdef0"),
    code(ec2.delete_volume, VolumeId="vol-xyz"),
    code(ec2.modify_volume, VolumeId=vid, Size=1),
    code(ec2.attach_volume, VolumeId=vid, InstanceId="i-0123456789abcdef0", Device="/dev/sdf"),
    code(ec2.attach_volume, VolumeId=vid, InstanceId=instance, Device="/dev/sdz"),
    code(ec2.detach_volume, VolumeId=vid),
    code(ec2.create_snapshot, VolumeId="vol-0123456789abcdef0"),
    code(ec2.delete_snapshot, SnapshotId="snap-0123456789abcdef0"),
]
out["unchanged"] = (ec2.describe_volumes()["Volumes"], ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]) == before

ec2.delete_snapshot(SnapshotId=sid)
out["snapshot_gone"] = code(ec2.describe_snapshots, SnapshotIds=[sid])
for i in [vid, r["VolumeId"]]:
    ec2.delete_volume(VolumeId=i)
ec2.get_waiter("volume_deleted").wait(VolumeIds=[vid, r["VolumeId"]], WaiterConfig=fast)
out["volumes_left"] = [x["VolumeId"] for x in ec2.describe_volumes()["Volumes"]]
print(json.dumps(out, default=str))
"#;

#[test]
fn volumes_and_snapshots_with_the_clients_waiters() {
    let Some(api) = Api::start() else { return };
    let instance = stopped_instance(&api);
    let root = api.lab.describe(&instance)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        .as_str()
        .unwrap()
        .to_string();
    let v = parse(&ok(
        &api.python(&format!("{PRELUDE}{VOLUMES}"), &[&instance]),
        "boto3 volumes",
    ));
    assert_eq!(v["modified"], json!([1, 2, "completed", 2]));
    assert_eq!(
        v["snapshot"],
        json!([true, 2, "completed", "nightly", [{"Key": "Name", "Value": "nightly"}]])
    );
    assert_eq!(v["restored"], json!([2, true]));
    assert_eq!(v["attached"], json!(["attached", true, "/dev/sdf"]));
    assert_eq!(
        v["in_use"],
        json!(["VolumeInUse", "InvalidAttachment.NotFound"])
    );
    assert_eq!(
        v["bad"],
        json!([
            "InvalidParameterValue",
            "MissingParameter",
            "Unsupported",
            "InvalidParameterValue",
            "InvalidVolume.NotFound",
            "InvalidVolumeID.Malformed",
            "InvalidParameterValue",
            "InvalidInstanceID.NotFound",
            "InvalidParameterValue",
            "IncorrectState",
            "InvalidVolume.NotFound",
            "InvalidSnapshot.NotFound"
        ]),
        "{v}"
    );
    assert_eq!(
        v["unchanged"], true,
        "a refused request changed volumes: {v}"
    );
    assert_eq!(v["snapshot_gone"], "InvalidSnapshot.NotFound");
    // Only the instance's root volume is left.
    assert_eq!(v["volumes_left"], json!([root]));

    // The same with the aws CLI and its waiters.
    let vol = parse(&ok(
        &api.aws(&[
            "create-volume",
            "--size",
            "1",
            "--availability-zone",
            "lab-1a",
            "--tag-specifications",
            "ResourceType=volume,Tags=[{Key=Name,Value=cli}]",
        ]),
        "aws create-volume",
    ));
    let vid = vol["VolumeId"].as_str().unwrap();
    assert_eq!(vol["Tags"], json!([{"Key": "Name", "Value": "cli"}]));
    ok(
        &api.aws(&["wait", "volume-available", "--volume-ids", vid]),
        "aws wait volume-available",
    );
    let snap = parse(&ok(
        &api.aws(&[
            "create-snapshot",
            "--volume-id",
            vid,
            "--tag-specifications",
            "ResourceType=snapshot,Tags=[{Key=Name,Value=cli}]",
        ]),
        "aws create-snapshot",
    ));
    let sid = snap["SnapshotId"].as_str().unwrap();
    ok(
        &api.aws(&["wait", "snapshot-completed", "--snapshot-ids", sid]),
        "aws wait snapshot-completed",
    );
    // ec2lab's CLI sees what the API made.
    let ours = api.lab.ok(&["describe-snapshots", "--snapshot-ids", sid]);
    assert_eq!(ours["Snapshots"][0]["Tags"][0]["Value"], "cli");
    ok(
        &api.aws(&["delete-snapshot", "--snapshot-id", sid]),
        "aws delete-snapshot",
    );
    ok(
        &api.aws(&["delete-volume", "--volume-id", vid]),
        "aws delete-volume",
    );
    ok(
        &api.aws(&["wait", "volume-deleted", "--volume-ids", vid]),
        "aws wait volume-deleted",
    );
}

const PAGES: &str = r#"
spec_v = lambda i: spec("volume", f"v{i:02}")
ids = [ec2.create_volume(AvailabilityZone="lab-1a", Size=1, TagSpecifications=spec_v(i))["VolumeId"] for i in range(25)]
pages = list(ec2.get_paginator("describe_volumes").paginate(PaginationConfig={"PageSize": 5}))
seen = [v["VolumeId"] for p in pages for v in p["Volumes"]]
out["volume_pages"] = [len(p["Volumes"]) for p in pages]
out["volumes_once"] = sorted(seen) == sorted(ids) and len(set(seen)) == 25
tag_pages = list(ec2.get_paginator("describe_tags").paginate(
    Filters=[{"Name": "resource-type", "Values": ["volume"]}], PaginationConfig={"PageSize": 5}))
tags = [t["ResourceId"] for p in tag_pages for t in p["Tags"]]
out["tag_pages"] = len(tag_pages)
out["tags_once"] = sorted(tags) == sorted(ids)

# Stable tokens: what changes between two pages neither repeats nor skips anything else.
first = ec2.describe_volumes(MaxResults=5)
again = ec2.describe_volumes(MaxResults=5)
out["same_token"] = first["NextToken"] == again["NextToken"]
got = [v["VolumeId"] for v in first["Volumes"]]
ec2.delete_volume(VolumeId=got[0])
ec2.delete_volume(VolumeId=ids[-1])
new = ec2.create_volume(AvailabilityZone="lab-1a", Size=1)["VolumeId"]
token = first["NextToken"]
while token:
    r = ec2.describe_volumes(MaxResults=5, NextToken=token)
    got += [v["VolumeId"] for v in r["Volumes"]]
    token = r.get("NextToken")
out["stable"] = len(got) == len(set(got)) and set(got) == (set(ids) - {ids[-1]}) | {new}

# VPCs and their default groups, instance types.
for i in range(6):
    ec2.create_vpc(CidrBlock=f"10.24{i}.0.0/16")
vpc_pages = list(ec2.get_paginator("describe_vpcs").paginate(PaginationConfig={"PageSize": 5}))
out["vpc_pages"] = [len(p["Vpcs"]) for p in vpc_pages]
sg_pages = list(ec2.get_paginator("describe_security_groups").paginate(PaginationConfig={"PageSize": 5}))
out["sg_pages"] = [len(p["SecurityGroups"]) for p in sg_pages]
types = [t["InstanceType"] for p in ec2.get_paginator("describe_instance_types").paginate(
    PaginationConfig={"PageSize": 5}) for t in p["InstanceTypes"]]
out["types"] = types == [t["InstanceType"] for t in ec2.describe_instance_types()["InstanceTypes"]] and len(types) > 5

out["bad"] = [
    code(ec2.describe_volumes, MaxResults=4),
    code(ec2.describe_vpcs, MaxResults=1001),
    code(ec2.describe_instance_types, MaxResults=101),
    code(ec2.describe_volumes, VolumeIds=[ids[1]], MaxResults=5),
    code(ec2.describe_instances, InstanceIds=["i-0123456789abcdef0"], MaxResults=5),
    code(ec2.describe_volumes, NextToken="garbage"),
    code(ec2.describe_vpcs, NextToken=first["NextToken"]),
]
big = ec2.describe_volumes(MaxResults=1000)
out["capped"] = [len(big["Volumes"]), "NextToken" in big]
print(json.dumps(out))
"#;

#[test]
fn pagination_returns_everything_once() {
    let Some(api) = Api::start() else { return };
    let v = parse(&ok(
        &api.python(&format!("{PRELUDE}{PAGES}"), &[]),
        "boto3 pages",
    ));
    assert_eq!(v["volume_pages"], json!([5, 5, 5, 5, 5]), "{v}");
    assert_eq!(v["volumes_once"], true);
    assert_eq!(v["tag_pages"], 5);
    assert_eq!(v["tags_once"], true);
    assert_eq!(v["same_token"], true);
    assert_eq!(v["stable"], true, "{v}");
    // Seven VPCs (the default one too), each with its group "default".
    assert_eq!(v["vpc_pages"], json!([5, 2]));
    assert_eq!(v["sg_pages"], json!([5, 2]));
    assert_eq!(v["types"], true);
    assert_eq!(
        v["bad"],
        json!([
            "InvalidParameterValue",
            "InvalidParameterValue",
            "InvalidParameterValue",
            "InvalidParameterCombination",
            "InvalidParameterCombination",
            "InvalidPaginationToken",
            "InvalidPaginationToken"
        ]),
        "{v}"
    );
    // 25 volumes, less two deleted between pages, and one made then.
    assert_eq!(v["capped"], json!([24, false]));

    // The aws CLI pages on its own (it asks DescribeVolumes for 1000 a page, or for
    // --page-size) and returns everything; --max-items stops early with a token.
    let count = |args: &[&str]| -> usize {
        let mut a = vec!["describe-volumes"];
        a.extend_from_slice(args);
        parse(&ok(&api.aws(&a), "aws describe-volumes"))["Volumes"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count(&[]), 24);
    assert_eq!(count(&["--page-size", "5"]), 24);
    let part = parse(&ok(
        &api.aws(&["describe-volumes", "--page-size", "5", "--max-items", "7"]),
        "aws describe-volumes --max-items",
    ));
    assert_eq!(part["Volumes"].as_array().unwrap().len(), 7);
    let token = part["NextToken"].as_str().expect("a token to go on");
    assert_eq!(count(&["--page-size", "5", "--starting-token", token]), 17);
    let tags = parse(&ok(
        &api.aws(&["describe-tags", "--page-size", "5"]),
        "aws describe-tags",
    ));
    // The 23 tagged volumes left.
    assert_eq!(tags["Tags"].as_array().unwrap().len(), 23);
}

const GAPS: &str = r#"
ext = json.loads(sys.argv[1])
# CreateSecurityGroup with TagSpecifications; descriptions on both sides' ranges.
sg = ec2.create_security_group(GroupName="gaps", Description="gaps",
                               TagSpecifications=spec("security-group", "tsg"))
gid = sg["GroupId"]
out["sg_created_tags"] = sg.get("Tags")
ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
     "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh from the lab"}, {"CidrIp": "10.9.0.0/16"}]}])
ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
     "IpRanges": [{"CidrIp": "10.1.0.0/16", "Description": "https out"}]}])
g = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
out["sg_tags"] = g.get("Tags")
out["ingress_ranges"] = [p["IpRanges"] for p in g["IpPermissions"]]
out["egress_ranges"] = [p["IpRanges"] for p in g["IpPermissionsEgress"] if p.get("FromPort") == 443]
# Revoking needs no description, as on EC2; the other range keeps its rule.
ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
out["ingress_after_revoke"] = [p["IpRanges"] for p in
    ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]]
# DeleteSecurityGroup by name: the default VPC's group.
out["delete_unknown_name"] = code(ec2.delete_security_group, GroupName="no-such-group")
out["delete_neither"] = code(ec2.delete_security_group)
out["delete_by_name"] = ec2.delete_security_group(GroupName="gaps").get("GroupId")
out["after_delete"] = code(ec2.describe_security_groups, GroupIds=[gid])
# Every describe with ids refuses a malformed one.
bad = lambda p: p + "-nothex"
out["malformed"] = {
    "instance": code(ec2.describe_instances, InstanceIds=[bad("i")]),
    "volume": code(ec2.describe_volumes, VolumeIds=[bad("vol")]),
    "snapshot": code(ec2.describe_snapshots, SnapshotIds=[bad("snap")]),
    "image": code(ec2.describe_images, ImageIds=[bad("ami")]),
    "vpc": code(ec2.describe_vpcs, VpcIds=[bad("vpc")]),
    "subnet": code(ec2.describe_subnets, SubnetIds=[bad("subnet")]),
    "group": code(ec2.describe_security_groups, GroupIds=[bad("sg")]),
    "interface": code(ec2.describe_network_interfaces, NetworkInterfaceIds=[bad("eni")]),
    "address": code(ec2.describe_addresses, AllocationIds=[bad("eipalloc")]),
    "key_pair": code(ec2.describe_key_pairs, KeyPairIds=[bad("key")]),
}
# Every EBS volume type, recorded and shown; EC2's checks of Iops and Throughput.
vols = {}
for t, kw in [("io2", {"Iops": 4000}), ("io1", {"Iops": 200}), ("st1", {}), ("sc1", {}),
              ("standard", {}), ("gp2", {}), ("gp3", {"Iops": 4000, "Throughput": 250})]:
    vols[t] = ec2.create_volume(AvailabilityZone="lab-1a", Size=1, VolumeType=t, **kw)["VolumeId"]
shown = {v["VolumeId"]: v for v in ec2.describe_volumes(VolumeIds=list(vols.values()))["Volumes"]}
out["volumes"] = {t: [shown[i]["VolumeType"], shown[i].get("Iops"), shown[i].get("Throughput")]
                  for t, i in vols.items()}
out["volume_type_filter"] = [v["VolumeId"] for v in ec2.describe_volumes(
    Filters=[{"Name": "volume-type", "Values": ["io2"]}])["Volumes"]] == [vols["io2"]]
vol = lambda **kw: code(ec2.create_volume, AvailabilityZone="lab-1a", Size=1, **kw)
out["volume_errors"] = {
    "gp2_iops": vol(VolumeType="gp2", Iops=100),
    "st1_iops": vol(VolumeType="st1", Iops=100),
    "io1_without_iops": vol(VolumeType="io1"),
    "io2_too_many_iops": vol(VolumeType="io2", Iops=300000),
    "gp3_too_few_iops": vol(VolumeType="gp3", Iops=100),
    "sc1_throughput": vol(VolumeType="sc1", Throughput=200),
}
for i in vols.values():
    ec2.delete_volume(VolumeId=i)
volumes_before = sorted(v["VolumeId"] for v in ec2.describe_volumes()["Volumes"])
# RunInstances: the region's one zone, and the root volume's type.
def instances():
    return sorted(i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"])
before = instances()
run = dict(ImageId=ext["ami"], MinCount=1, MaxCount=1)
root = lambda **ebs: [{"DeviceName": "/dev/xvda", "Ebs": ebs}]
out["run_errors"] = {
    "other_zone": code(ec2.run_instances, Placement={"AvailabilityZone": "lab-1b"}, **run),
    "tenancy": code(ec2.run_instances, Placement={"Tenancy": "dedicated"}, **run),
    "gp2_iops": code(ec2.run_instances, BlockDeviceMappings=root(VolumeType="gp2", Iops=300), **run),
    "io1_without_iops": code(ec2.run_instances, BlockDeviceMappings=root(VolumeType="io1"), **run),
    "gp3_throughput_too_high": code(ec2.run_instances,
                                    BlockDeviceMappings=root(VolumeType="gp3", Throughput=5000), **run),
}
out["run_refusals_changed_nothing"] = (instances() == before and
    sorted(v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]) == volumes_before)
zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
inst = ec2.run_instances(Placement={"AvailabilityZone": zones[0]},
                         BlockDeviceMappings=root(VolumeType="io2", Iops=5000), **run)["Instances"][0]
out["run_zone"] = [zones, inst["Placement"]["AvailabilityZone"]]
rv = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [inst["InstanceId"]]}])["Volumes"]
out["root_volume"] = [[v["VolumeType"], v.get("Iops"), v["Attachments"][0]["Device"]] for v in rv]
ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
# CreateImage with TagSpecifications: the AMI is made with its tags.
out["image_bad_type"] = code(ec2.create_image, InstanceId=ext["instance"], Name="gaps-bad",
                             TagSpecifications=spec("instance", "x"))
img = ec2.create_image(InstanceId=ext["instance"], Name="gaps-image", TagSpecifications=spec("image", "timg"))
out["image_tags"] = ec2.describe_images(ImageIds=[img["ImageId"]])["Images"][0].get("Tags")
out["images_named_gaps"] = sorted(i["Name"] for i in ec2.describe_images(
    Filters=[{"Name": "name", "Values": ["gaps-*"]}])["Images"])
print(json.dumps(out))
"#;

#[test]
fn group_tags_descriptions_names_malformed_ids_volume_types_placement_and_image_tags() {
    let Some(api) = Api::start() else { return };
    let instance = stopped_instance(&api);
    let ami = api
        .lab
        .ok(&["describe-instances", "--instance-ids", &instance])["Reservations"][0]["Instances"]
        [0]["ImageId"]
        .as_str()
        .unwrap()
        .to_string();
    let ext = json!({"ami": ami, "instance": instance}).to_string();
    let v = parse(&ok(
        &api.python_for(&format!("{PRELUDE}{GAPS}"), &[&ext], 240),
        "boto3 gaps",
    ));
    let name = |n: &str| json!([{"Key": "Name", "Value": n}]);
    assert_eq!(v["sg_created_tags"], name("tsg"), "{v}");
    assert_eq!(v["sg_tags"], name("tsg"), "{v}");
    assert_eq!(
        v["ingress_ranges"],
        json!([[{"CidrIp": "10.0.0.0/8", "Description": "ssh from the lab"},
                {"CidrIp": "10.9.0.0/16"}]]),
        "{v}"
    );
    assert_eq!(
        v["egress_ranges"],
        json!([[{"CidrIp": "10.1.0.0/16", "Description": "https out"}]]),
        "{v}"
    );
    assert_eq!(
        v["ingress_after_revoke"],
        json!([[{"CidrIp": "10.9.0.0/16"}]]),
        "{v}"
    );
    assert_eq!(v["delete_unknown_name"], "InvalidGroup.NotFound");
    assert_eq!(v["delete_neither"], "MissingParameter");
    assert!(v["delete_by_name"].as_str().unwrap().starts_with("sg-"));
    assert_eq!(v["after_delete"], "InvalidGroup.NotFound");
    assert_eq!(
        v["malformed"],
        json!({
            "instance": "InvalidInstanceID.Malformed",
            "volume": "InvalidVolumeID.Malformed",
            "snapshot": "InvalidSnapshotID.Malformed",
            "image": "InvalidAMIID.Malformed",
            "vpc": "InvalidVpcID.Malformed",
            "subnet": "InvalidSubnetID.Malformed",
            "group": "InvalidGroupId.Malformed",
            "interface": "InvalidNetworkInterfaceID.Malformed",
            "address": "InvalidAllocationID.Malformed",
            "key_pair": "InvalidKeyPairID.Malformed",
        }),
        "{v}"
    );
    assert_eq!(
        v["volumes"],
        json!({
            "io2": ["io2", 4000, null],
            "io1": ["io1", 200, null],
            "st1": ["st1", null, null],
            "sc1": ["sc1", null, null],
            "standard": ["standard", null, null],
            "gp2": ["gp2", null, null],
            "gp3": ["gp3", 4000, 250],
        }),
        "{v}"
    );
    assert_eq!(v["volume_type_filter"], true, "{v}");
    assert_eq!(
        v["volume_errors"],
        json!({
            "gp2_iops": "InvalidParameterCombination",
            "st1_iops": "InvalidParameterCombination",
            "io1_without_iops": "InvalidParameterCombination",
            "io2_too_many_iops": "InvalidParameterValue",
            "gp3_too_few_iops": "InvalidParameterValue",
            "sc1_throughput": "InvalidParameterCombination",
        }),
        "{v}"
    );
    assert_eq!(
        v["run_errors"],
        json!({
            "other_zone": "InvalidParameterValue",
            "tenancy": "Unsupported",
            "gp2_iops": "InvalidParameterCombination",
            "io1_without_iops": "InvalidParameterCombination",
            "gp3_throughput_too_high": "InvalidParameterValue",
        }),
        "{v}"
    );
    assert_eq!(v["run_refusals_changed_nothing"], true, "{v}");
    assert_eq!(v["run_zone"], json!([["lab-1a"], "lab-1a"]), "{v}");
    assert_eq!(v["root_volume"], json!([["io2", 5000, "/dev/xvda"]]), "{v}");
    assert_eq!(v["image_bad_type"], "InvalidParameterValue", "{v}");
    assert_eq!(v["image_tags"], name("timg"), "{v}");
    assert_eq!(v["images_named_gaps"], json!(["gaps-image"]), "{v}");
}
