//! boto3, unmodified, drives instances, key pairs and security groups through
//! `ec2lab serve`: its own waiters (`instance_running`, `instance_stopped`,
//! `instance_terminated`, `instance_status_ok`, `system_status_ok`), filters, console
//! output, instance attributes, and EC2's error codes for bad input with nothing changed.
//!
//! Two tests: one on a tiny guest (milliseconds of real KVM, runs everywhere), and one on
//! ONE real Linux guest shared by every assertion (minutes on a nested KVM; skips without
//! guest-images/out unless EC2LAB_REQUIRE_IMAGES=1).

#[path = "api_common/mod.rs"]
mod api_common;
mod common;

use std::time::Instant;

use api_common::{ok, Api};
use common::{guest_images_dir, real_guest_images, real_guest_lock, TinyOs};
use serde_json::{json, Value};

/// What both scripts start with: a client, `code()` for EC2's error codes, and `count()`.
const PRELUDE: &str = r##"
import base64, json, sys, time
import boto3, botocore
from botocore.config import Config

session = boto3.Session(profile_name="ec2lab")
ec2 = session.client("ec2")
# A client that sends what boto3 itself would refuse (a required member missing).
loose = session.client("ec2", config=Config(parameter_validation=False))
out = {}

def code(f, **kw):
    try:
        f(**kw)
        return None
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]

def count():
    return sum(len(r["Instances"]) for r in ec2.describe_instances()["Reservations"])

def step(what):
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)
"##;

/// The tiny-guest run: every action once, the bad inputs, and the waiters with a short
/// delay (the tiny OS reaches init in milliseconds and is stopped hard after a second).
const TINY: &str = r##"
ami, pubkey = sys.argv[1], sys.argv[2]
# The default VPC's group "default" exists from the first call, as the CLI shows it.
out["default_group"] = [g["GroupName"] for g in ec2.describe_security_groups(
    Filters=[{"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]]

kp = ec2.create_key_pair(KeyName="api-key", KeyType="ed25519")
out["key_material"] = kp["KeyMaterial"].splitlines()[0]
fp = kp["KeyFingerprint"]
out["duplicate_key"] = code(ec2.create_key_pair, KeyName="api-key")
out["key_unchanged"] = [k["KeyFingerprint"] for k in ec2.describe_key_pairs(KeyNames=["api-key"])["KeyPairs"]] == [fp]
imported = ec2.import_key_pair(KeyName="imported", PublicKeyMaterial=pubkey.encode())
out["imported"] = [imported["KeyName"], imported["KeyFingerprint"]]
out["deleted_key"] = ec2.delete_key_pair(KeyName="imported")["Return"]
out["keys"] = sorted(k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"])

ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
http = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
sg = ec2.create_security_group(GroupName="api-web", Description="web via boto3")["GroupId"]
out["authorized"] = ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[ssh, http])["Return"]
out["duplicate_permission"] = code(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[ssh])
def ingress():
    g = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]
    return sorted([p["IpProtocol"], p["FromPort"], p["ToPort"], p["IpRanges"][0]["CidrIp"]] for p in g["IpPermissions"])
out["ingress"] = ingress()
out["unknown_group"] = code(ec2.delete_security_group, GroupId="sg-0123456789abcdef0")
out["malformed_group"] = code(ec2.authorize_security_group_ingress, GroupId="sg-xyz", IpPermissions=[ssh])
out["egress_revoked"] = ec2.revoke_security_group_egress(GroupId=sg, IpPermissions=[
    {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])["Return"]
out["egress_authorized"] = ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=[http])["Return"]
out["ingress_after_bad_input"] = ingress()
other = ec2.create_security_group(GroupName="api-other", Description="to delete")["GroupId"]
out["deleted_group"] = ec2.delete_security_group(GroupId=other)["Return"]

before = count()
out["unknown_ami"] = code(ec2.run_instances, ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1)
out["malformed_ami"] = code(ec2.run_instances, ImageId="ami-xyz", MinCount=1, MaxCount=1)
out["unknown_key_pair"] = code(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, KeyName="nope")
out["unknown_group_at_launch"] = code(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1,
                                      SecurityGroupIds=["sg-0123456789abcdef0"])
out["missing_parameter"] = code(loose.run_instances, ImageId=ami, MinCount=1)
out["malformed_instance"] = code(ec2.describe_instances, InstanceIds=["i-xyz"])
out["unknown_instance"] = code(ec2.terminate_instances, InstanceIds=["i-0123456789abcdef0"])
out["unknown_instance_status"] = code(ec2.describe_instance_status, InstanceIds=["i-0123456789abcdef0"])
out["count_unchanged"] = count() == before

r = ec2.run_instances(ImageId=ami, InstanceType="t2.nano", MinCount=1, MaxCount=1,
                      KeyName="api-key", SecurityGroupIds=[sg], UserData="#!/bin/sh\necho tiny\n",
                      TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "tiny-api"}]}])
iid = r["Instances"][0]["InstanceId"]
out["instance_id"] = iid
out["launched"] = [r["Instances"][0]["State"]["Name"], r["Instances"][0]["InstanceType"]]

def wait(name):
    ec2.get_waiter(name).wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 120})

wait("instance_running")
wait("system_status_ok")
st = ec2.describe_instance_status(InstanceIds=[iid])["InstanceStatuses"]
out["status"] = [[s["InstanceState"]["Name"], s["SystemStatus"]["Status"], s["InstanceStatus"]["Status"],
                  s["SystemStatus"]["Details"][0]["Status"]] for s in st]
out["status_ids_and_max"] = code(ec2.describe_instance_status, InstanceIds=[iid], MaxResults=5)
out["status_pages"] = [s["InstanceId"] == iid for page in ec2.get_paginator("describe_instance_status").paginate(
    PaginationConfig={"PageSize": 5}) for s in page["InstanceStatuses"]]
out["status_filtered"] = len(ec2.describe_instance_status(
    Filters=[{"Name": "system-status.status", "Values": ["impaired"]}])["InstanceStatuses"])
def ids(filters):
    return [i["InstanceId"] for r in ec2.describe_instances(Filters=filters)["Reservations"] for i in r["Instances"]]
out["by_filters"] = ids([{"Name": "instance-state-name", "Values": ["running"]},
                         {"Name": "tag:Name", "Values": ["tiny-*"]}])
out["by_other_tag"] = ids([{"Name": "tag:Name", "Values": ["other"]}])
out["modify_running"] = code(ec2.modify_instance_attribute, InstanceId=iid, InstanceType={"Value": "t2.micro"})
attr = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")
out["user_data"] = base64.b64decode(attr["UserData"]["Value"]).decode()
out["type_while_running"] = ec2.describe_instance_attribute(InstanceId=iid, Attribute="instanceType")["InstanceType"]["Value"]
out["maint"] = ec2.modify_instance_maintenance_options(InstanceId=iid, AutoRecovery="disabled")["AutoRecovery"]
out["maint_shown"] = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
    "MaintenanceOptions"]["AutoRecovery"]
out["maint_bad"] = code(ec2.modify_instance_maintenance_options, InstanceId=iid, AutoRecovery="sometimes")

# An EBS volume through its life on the running instance, with boto3's volume waiters.
def vwait(name, vol):
    ec2.get_waiter(name).wait(VolumeIds=[vol], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
vol = ec2.create_volume(AvailabilityZone="lab-1a", Size=1,
                        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "data"}]}])["VolumeId"]
vwait("volume_available", vol)
att = ec2.attach_volume(VolumeId=vol, InstanceId=iid, Device="/dev/sdf")
vwait("volume_in_use", vol)
v = ec2.describe_volumes(VolumeIds=[vol])["Volumes"][0]
out["attached"] = [att["State"], v["State"], v["Attachments"][0]["InstanceId"] == iid, v["Attachments"][0]["Device"]]
out["attach_twice"] = code(ec2.attach_volume, VolumeId=vol, InstanceId=iid, Device="/dev/sdg")
out["by_attachment"] = [x["VolumeId"] == vol for x in ec2.describe_volumes(
    Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["Volumes"]]
# ec2lab cannot see the guest's mounts: a running instance's volume is detached by force.
out["detach_unforced"] = code(ec2.detach_volume, VolumeId=vol)
ec2.detach_volume(VolumeId=vol, Force=True)
vwait("volume_available", vol)
snap = ec2.create_snapshot(VolumeId=vol, Description="after detach")["SnapshotId"]
ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
out["detached"] = [ec2.describe_volumes(VolumeIds=[vol])["Volumes"][0]["State"],
                   ec2.describe_snapshots(SnapshotIds=[snap])["Snapshots"][0]["State"]]
out["volume_deleted"] = [ec2.delete_snapshot(SnapshotId=snap)["ResponseMetadata"]["HTTPStatusCode"],
                         ec2.delete_volume(VolumeId=vol)["ResponseMetadata"]["HTTPStatusCode"]]
out["volume_gone"] = code(ec2.describe_volumes, VolumeIds=[vol])

stop = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
out["stop"] = [stop["PreviousState"]["Name"], stop["CurrentState"]["Name"]]
wait("instance_stopped")
out["status_default_stopped"] = ec2.describe_instance_status(InstanceIds=[iid])["InstanceStatuses"]
out["status_all_stopped"] = [s["SystemStatus"]["Status"] for s in ec2.describe_instance_status(
    InstanceIds=[iid], IncludeAllInstances=True)["InstanceStatuses"]]
image = ec2.create_image(InstanceId=iid, Name="tiny-image", Description="from a stopped instance")["ImageId"]
ec2.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
copy = ec2.copy_image(SourceImageId=image, SourceRegion="lab-1", Name="tiny-image-copy")["ImageId"]
out["copy_from_nowhere"] = code(ec2.copy_image, SourceImageId=image, SourceRegion="eu-west-9", Name="x-copy")
out["deregistered"] = ec2.deregister_image(ImageId=copy)["Return"]
out["images"] = sorted(i["Name"] for i in ec2.describe_images(Owners=["self"])["Images"])
out["register_image"] = code(ec2.register_image, Name="from-s3", ImageLocation="bucket/manifest.xml")
ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t2.micro"})
ec2.modify_instance_attribute(InstanceId=iid, UserData={"Value": b"#!/bin/sh\necho changed\n"})
out["bad_type"] = code(ec2.modify_instance_attribute, InstanceId=iid, InstanceType={"Value": "t9.huge"})
out["type_after"] = ec2.describe_instance_attribute(InstanceId=iid, Attribute="instanceType")["InstanceType"]["Value"]
out["user_data_after"] = base64.b64decode(ec2.describe_instance_attribute(
    InstanceId=iid, Attribute="userData")["UserData"]["Value"]).decode()

start = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
out["start"] = [start["PreviousState"]["Name"], start["CurrentState"]["Name"]]
wait("instance_running")
out["console"] = ec2.get_console_output(InstanceId=iid)["Output"]
out["reboot"] = code(ec2.reboot_instances, InstanceIds=[iid])
term = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"][0]
out["terminate"] = [term["PreviousState"]["Name"], term["CurrentState"]["Name"]]
wait("instance_terminated")
out["start_terminated"] = code(ec2.start_instances, InstanceIds=[iid])
print(json.dumps(out))
"##;

/// A fresh OpenSSH public key line.
fn public_key() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (dir, pubkey.trim().to_string())
}

#[test]
fn boto3_drives_a_tiny_guest() {
    let Some(api) = Api::start() else { return };
    let ami = api.lab.tiny_ami("tiny-api", TinyOs::StayUp);
    let (_keydir, pubkey) = public_key();
    let started = Instant::now();
    let script = format!("{PRELUDE}{TINY}");
    let v: Value = serde_json::from_str(&ok(
        &api.python_for(&script, &[&ami, &pubkey], 600),
        "boto3 on a tiny guest",
    ))
    .unwrap();
    eprintln!(
        "boto3 on a tiny guest: {:.1} s",
        started.elapsed().as_secs_f64()
    );

    assert_eq!(v["default_group"], json!(["default"]));
    assert_eq!(v["key_material"], "-----BEGIN OPENSSH PRIVATE KEY-----");
    assert_eq!(v["duplicate_key"], "InvalidKeyPair.Duplicate");
    assert_eq!(v["key_unchanged"], true);
    assert_eq!(v["imported"][0], "imported");
    assert!(v["imported"][1].as_str().unwrap().ends_with('='), "{v}");
    assert_eq!(v["deleted_key"], true);
    assert_eq!(v["keys"], json!(["api-key"]));

    assert_eq!(v["authorized"], true);
    assert_eq!(v["duplicate_permission"], "InvalidPermission.Duplicate");
    let ingress = json!([["tcp", 22, 22, "0.0.0.0/0"], ["tcp", 80, 80, "10.0.0.0/8"]]);
    assert_eq!(v["ingress"], ingress);
    assert_eq!(v["unknown_group"], "InvalidGroup.NotFound");
    assert_eq!(v["malformed_group"], "InvalidGroupId.Malformed");
    assert_eq!(v["ingress_after_bad_input"], ingress);
    assert_eq!(v["egress_revoked"], true);
    assert_eq!(v["egress_authorized"], true);
    assert_eq!(v["deleted_group"], true);

    assert_eq!(v["unknown_ami"], "InvalidAMIID.NotFound");
    assert_eq!(v["malformed_ami"], "InvalidAMIID.Malformed");
    assert_eq!(v["unknown_key_pair"], "InvalidKeyPair.NotFound");
    assert_eq!(v["unknown_group_at_launch"], "InvalidGroup.NotFound");
    assert_eq!(v["missing_parameter"], "MissingParameter");
    assert_eq!(v["malformed_instance"], "InvalidInstanceID.Malformed");
    assert_eq!(v["unknown_instance"], "InvalidInstanceID.NotFound");
    assert_eq!(v["unknown_instance_status"], "InvalidInstanceID.NotFound");
    assert_eq!(v["count_unchanged"], true);

    let id = v["instance_id"].as_str().unwrap();
    assert_eq!(v["launched"], json!(["pending", "t2.nano"]));
    // The VMM runs (system ok); the tiny OS never prints the ready marker.
    assert_eq!(
        v["status"],
        json!([["running", "ok", "initializing", "passed"]])
    );
    assert_eq!(v["status_filtered"], 0);
    assert_eq!(v["status_ids_and_max"], "InvalidParameterCombination");
    assert_eq!(v["status_pages"], json!([true]));
    assert_eq!(v["by_filters"], json!([id]));
    assert_eq!(v["by_other_tag"], json!([]));
    // ec2lab attaches at once (the VMM takes the disk in its slot before answering).
    assert_eq!(
        v["attached"],
        json!(["attached", "in-use", true, "/dev/sdf"])
    );
    assert_eq!(v["attach_twice"], "VolumeInUse");
    // The instance's root volume and the new one.
    assert_eq!(v["by_attachment"], json!([false, true]));
    assert_eq!(v["detach_unforced"], "IncorrectState");
    assert_eq!(v["detached"], json!(["available", "completed"]));
    assert_eq!(v["volume_deleted"], json!([200, 200]));
    assert_eq!(v["volume_gone"], "InvalidVolume.NotFound");
    assert_eq!(v["modify_running"], "IncorrectInstanceState");
    assert_eq!(v["type_while_running"], "t2.nano");
    assert_eq!(v["maint"], "disabled");
    assert_eq!(v["maint_shown"], "disabled");
    assert_eq!(v["maint_bad"], "InvalidParameterValue");
    assert_eq!(v["user_data"], "#!/bin/sh\necho tiny\n");
    assert_eq!(v["stop"], json!(["running", "stopping"]));
    assert_eq!(v["status_default_stopped"], json!([]));
    assert_eq!(v["status_all_stopped"], json!(["not-applicable"]));
    assert_eq!(v["copy_from_nowhere"], "InvalidParameterValue");
    assert_eq!(v["deregistered"], true);
    assert_eq!(v["images"], json!(["tiny-api", "tiny-image"]));
    assert_eq!(v["register_image"], "Unsupported");
    assert_eq!(v["bad_type"], "InvalidParameterValue");
    assert_eq!(v["type_after"], "t2.micro");
    assert_eq!(v["user_data_after"], "#!/bin/sh\necho changed\n");
    assert_eq!(v["start"], json!(["stopped", "pending"]));
    // Both boots: the tiny OS counts them on its root disk.
    let console = v["console"].as_str().unwrap();
    assert!(
        console.contains("boot 1") && console.contains("boot 2"),
        "{console}"
    );
    assert_eq!(v["reboot"], Value::Null);
    assert_eq!(v["terminate"][1], "shutting-down");
    assert_eq!(v["start_terminated"], "IncorrectInstanceState");

    // The CLI reads the same store: the new type's memory, and the same attribute.
    let inst = api.lab.describe(id);
    assert_eq!(inst["InstanceType"], "t2.micro");
    assert_eq!(inst["Ec2LabInfo"]["MemoryMiB"], 1024);
    assert_eq!(inst["State"]["Name"], "terminated");
    let attr = api.lab.ok(&[
        "describe-instance-attribute",
        "--instance-id",
        id,
        "--attribute",
        "instanceType",
    ]);
    assert_eq!(
        attr,
        json!({"InstanceId": id, "InstanceType": {"Value": "t2.micro"}})
    );
    let st = api.lab.ok(&[
        "describe-instance-status",
        "--instance-ids",
        id,
        "--include-all-instances",
    ]);
    assert_eq!(
        st["InstanceStatuses"][0]["InstanceState"]["Name"],
        "terminated"
    );
    assert_eq!(
        st["InstanceStatuses"][0]["SystemStatus"]["Status"],
        "not-applicable"
    );
}

/// The real guest's first phase: key pair, group, launch with user data and tags, boto3's
/// waiters up to `instance_status_ok`, filters, console output, bad input.
const REAL_LAUNCH: &str = r##"
ami_name = sys.argv[1]
ami = ec2.describe_images(Filters=[{"Name": "name", "Values": [ami_name]}])["Images"][0]["ImageId"]
out["ami"] = ami
kp = ec2.create_key_pair(KeyName="real-key")
fp = kp["KeyFingerprint"]
sg = ec2.create_security_group(GroupName="real-web", Description="ssh and http")["GroupId"]
ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
])
user_data = "#!/bin/sh\necho api-user-data-ran > /tmp/api-user-data\n"
r = ec2.run_instances(ImageId=ami, InstanceType="t2.micro", MinCount=1, MaxCount=1,
                      KeyName="real-key", SecurityGroupIds=[sg], UserData=user_data,
                      TagSpecifications=[{"ResourceType": "instance", "Tags": [
                          {"Key": "Name", "Value": "real-api"}, {"Key": "team", "Value": "lab"}]}])
iid = r["Instances"][0]["InstanceId"]
out["instance_id"] = iid
t0 = time.time()
step(f"{iid} launched; waiting for instance_running")
def wait(name):
    ec2.get_waiter(name).wait(InstanceIds=[iid], WaiterConfig={"Delay": 5, "MaxAttempts": 120})
wait("instance_running")
out["running_after_s"] = round(time.time() - t0, 1)
step("running; waiting for instance_status_ok")
wait("instance_status_ok")
wait("system_status_ok")
out["status_ok_after_s"] = round(time.time() - t0, 1)
s = ec2.describe_instance_status(InstanceIds=[iid])["InstanceStatuses"][0]
out["status"] = [s["InstanceStatus"]["Status"], s["SystemStatus"]["Status"]]

def ids(**kw):
    return [i["InstanceId"] for r in ec2.describe_instances(**kw)["Reservations"] for i in r["Instances"]]
out["by_state_and_tag"] = ids(Filters=[{"Name": "instance-state-name", "Values": ["running"]},
                                       {"Name": "tag:team", "Values": ["lab"]}])
out["by_instance_id"] = ids(Filters=[{"Name": "instance-id", "Values": [iid]}])
out["by_stopped"] = ids(Filters=[{"Name": "instance-state-name", "Values": ["stopped"]}])
inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
out["key_name"] = inst["KeyName"]
out["groups"] = [g["GroupId"] for g in inst["SecurityGroups"]] == [sg]
# User data runs after the status checks pass, as on EC2 (cloud-init's final stage): the
# agent first grows the root file system to its 8 GiB volume, seconds on a loaded host.
step("status ok; waiting for the user data's exit line in the console output")
deadline = time.time() + 300
while True:
    out["console"] = ec2.get_console_output(InstanceId=iid)["Output"]
    if "user data exited" in out["console"] or time.time() > deadline:
        break
    time.sleep(2)
out["user_data_done_after_s"] = round(time.time() - t0, 1)

before = count()
out["malformed_instance"] = code(ec2.describe_instances, InstanceIds=["i-xyz"])
out["unknown_ami"] = code(ec2.run_instances, ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1)
out["duplicate_key"] = code(ec2.create_key_pair, KeyName="real-key")
out["modify_running"] = code(ec2.modify_instance_attribute, InstanceId=iid, InstanceType={"Value": "t2.small"})
out["nothing_changed"] = [count() == before,
    [k["KeyFingerprint"] for k in ec2.describe_key_pairs(KeyNames=["real-key"])["KeyPairs"]] == [fp],
    ec2.describe_instance_attribute(InstanceId=iid, Attribute="instanceType")["InstanceType"]["Value"]]
print(json.dumps(out))
"##;

/// The second phase: stop, a new type while stopped, start again, terminate.
const REAL_CYCLE: &str = r##"
iid = sys.argv[1]
def wait(name):
    ec2.get_waiter(name).wait(InstanceIds=[iid], WaiterConfig={"Delay": 5, "MaxAttempts": 120})
t0 = time.time()
stop = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
out["stop"] = [stop["PreviousState"]["Name"], stop["CurrentState"]["Name"]]
step("stopping; waiting for instance_stopped")
wait("instance_stopped")
out["stopped_after_s"] = round(time.time() - t0, 1)
ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t2.small"})
out["type"] = ec2.describe_instance_attribute(InstanceId=iid, Attribute="instanceType")["InstanceType"]["Value"]
t0 = time.time()
start = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
out["start"] = [start["PreviousState"]["Name"], start["CurrentState"]["Name"]]
step("starting; waiting for instance_running")
wait("instance_running")
out["running_again_after_s"] = round(time.time() - t0, 1)
inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
out["type_running"] = inst["InstanceType"]
t0 = time.time()
term = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"][0]
out["terminate"] = [term["PreviousState"]["Name"], term["CurrentState"]["Name"]]
step("terminating; waiting for instance_terminated")
wait("instance_terminated")
out["terminated_after_s"] = round(time.time() - t0, 1)
print(json.dumps(out))
"##;

#[test]
fn boto3_drives_one_real_vm() {
    if real_guest_images().is_none() {
        return;
    }
    let _one = real_guest_lock();
    let images = guest_images_dir();
    // The host's warm-launch templates, shared by every real-guest test.
    let warm = ec2lab::instances::warm::cache_dir();
    let Some(api) = Api::start_with(&[
        ("EC2LAB_GUEST_IMAGES", images.to_str().unwrap()),
        ("EC2LAB_WARM_CACHE", warm.to_str().unwrap()),
        // A real guest shuts down in well under this on this nested KVM.
        ("EC2LAB_STOP_TIMEOUT_SECS", "240"),
    ]) else {
        return;
    };
    let started = Instant::now();
    // The waiters give up after 120 x 5 s each; the whole run stays within these limits.
    let launch = format!("{PRELUDE}{REAL_LAUNCH}");
    let v: Value = serde_json::from_str(&ok(
        &api.python_for(&launch, &[ec2lab::images::QUICK_START_NAME], 1500),
        "boto3: launch a real guest",
    ))
    .unwrap();
    let mut shown = v.clone();
    shown.as_object_mut().unwrap().remove("console");
    eprintln!("real guest: {shown:#}");
    let id = v["instance_id"].as_str().unwrap().to_string();
    assert_eq!(v["status"], json!(["ok", "ok"]));
    assert_eq!(v["by_state_and_tag"], json!([id]));
    assert_eq!(v["by_instance_id"], json!([id]));
    assert_eq!(v["by_stopped"], json!([]));
    assert_eq!(v["key_name"], "real-key");
    assert_eq!(v["groups"], true);
    let console = v["console"].as_str().unwrap();
    assert!(console.contains("Linux version"), "{console}");
    assert!(console.contains("EC2LAB-GUEST-READY"), "{console}");
    assert!(
        console.contains("ec2lab-agent: user data exited with status 0"),
        "{console}"
    );
    assert_eq!(v["malformed_instance"], "InvalidInstanceID.Malformed");
    assert_eq!(v["unknown_ami"], "InvalidAMIID.NotFound");
    assert_eq!(v["duplicate_key"], "InvalidKeyPair.Duplicate");
    assert_eq!(v["modify_running"], "IncorrectInstanceState");
    assert_eq!(v["nothing_changed"], json!([true, true, "t2.micro"]));

    let cycle = format!("{PRELUDE}{REAL_CYCLE}");
    let c: Value = serde_json::from_str(&ok(
        &api.python_for(&cycle, &[&id], 3000),
        "boto3: stop, modify, start, terminate",
    ))
    .unwrap();
    eprintln!("real guest cycle: {c:#}");
    assert_eq!(c["stop"], json!(["running", "stopping"]));
    assert_eq!(c["type"], "t2.small");
    assert_eq!(c["start"], json!(["stopped", "pending"]));
    assert_eq!(c["type_running"], "t2.small");
    assert_eq!(c["terminate"], json!(["running", "shutting-down"]));
    // The second boot ran with the new type's memory.
    let inst = api.lab.describe(&id);
    assert_eq!(inst["Ec2LabInfo"]["MemoryMiB"], 2048, "{inst}");
    assert_eq!(inst["Ec2LabInfo"]["Boots"], 2, "{inst}");
    let wall = started.elapsed();
    eprintln!(
        "boto3 on one real guest: {:.0} s wall (running after {} s, status ok after {} s, \
         stopped after {} s, running again after {} s, terminated after {} s)",
        wall.as_secs_f64(),
        v["running_after_s"],
        v["status_ok_after_s"],
        c["stopped_after_s"],
        c["running_again_after_s"],
        c["terminated_after_s"]
    );
}
