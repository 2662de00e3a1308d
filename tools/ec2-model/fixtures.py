#!/usr/bin/env python3
"""Writes src/api/testdata/botocore-requests.json: EC2 Query request bodies exactly as
botocore serializes and prepares them, each with the member-name JSON they came from.
The codec's unit tests decode each body and expect that JSON back.

Run with the venv's python (tools/setup.sh makes it):
    /opt/ec2lab-venv/bin/python tools/ec2-model/fixtures.py
"""
import base64
import json
import os

import botocore
import botocore.session
from botocore.awsrequest import prepare_request_dict, create_request_object
from botocore.serialize import create_serializer

SG = "sg-0123456789abcdef0"
I1, I2 = "i-0123456789abcdef0", "i-0fedcba9876543210"
TAGS = [{"Key": "Name", "Value": "web server"}, {"Key": "team", "Value": "a&b=c"}]

# (operation, params by member name): what users and waiters send, with every kind of
# nesting the EC2 protocol has.
CASES = [
    ("RunInstances", {
        "ImageId": "ami-0123456789abcdef0", "MinCount": 1, "MaxCount": 2,
        "InstanceType": "t2.micro", "KeyName": "lab", "SecurityGroupIds": [SG],
        "UserData": base64.b64encode(b"#!/bin/sh\necho hi\n").decode(),
        "BlockDeviceMappings": [
            {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "DeleteOnTermination": True, "VolumeType": "gp3"}},
            {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
        ],
        "TagSpecifications": [{"ResourceType": "instance", "Tags": TAGS},
                              {"ResourceType": "volume", "Tags": TAGS[:1]}],
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2},
        "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "subnet-0123456789abcdef0",
                               "Groups": [SG], "AssociatePublicIpAddress": True}],
        "Placement": {"AvailabilityZone": "lab-1a"},
        "DryRun": False,
    }),
    ("DescribeInstances", {
        "InstanceIds": [I1, I2],
        "Filters": [{"Name": "instance-state-name", "Values": ["running", "pending"]},
                    {"Name": "tag:Name", "Values": ["web*"]}],
        "MaxResults": 10, "NextToken": "abc",
    }),
    ("DescribeInstanceStatus", {"InstanceIds": [I1], "IncludeAllInstances": True}),
    ("StopInstances", {"InstanceIds": [I1], "Force": True}),
    ("TerminateInstances", {"InstanceIds": [I1, I2]}),
    ("GetConsoleOutput", {"InstanceId": I1, "Latest": True}),
    ("AuthorizeSecurityGroupIngress", {
        "GroupId": SG,
        "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh from anywhere"}]},
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": SG}]},
        ],
    }),
    ("CreateSecurityGroup", {"GroupName": "web", "Description": "web servers",
                             "TagSpecifications": [{"ResourceType": "security-group", "Tags": TAGS}]}),
    ("CreateTags", {"Resources": [I1, "vol-0123456789abcdef0"], "Tags": TAGS}),
    ("DeleteTags", {"Resources": [I1], "Tags": [{"Key": "Name"}]}),
    ("DescribeTags", {"Filters": [{"Name": "resource-id", "Values": [I1]}], "MaxResults": 5}),
    ("ImportKeyPair", {"KeyName": "mine", "PublicKeyMaterial": b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA me@host"}),
    ("DescribeKeyPairs", {"KeyNames": ["mine"], "IncludePublicKey": True}),
    ("ModifyInstanceAttribute", {"InstanceId": I1, "InstanceType": {"Value": "t3.small"}}),
    ("ModifyInstanceAttribute", {"InstanceId": I1, "UserData": {"Value": b"#!/bin/sh\necho changed\n"}}),
    ("DescribeInstanceAttribute", {"InstanceId": I1, "Attribute": "userData"}),
    ("CreateVolume", {"AvailabilityZone": "lab-1a", "Size": 10, "VolumeType": "io1", "Iops": 100,
                      "TagSpecifications": [{"ResourceType": "volume", "Tags": TAGS}]}),
    ("AttachVolume", {"VolumeId": "vol-0123456789abcdef0", "InstanceId": I1, "Device": "/dev/sdf"}),
    ("DescribeVolumes", {"Filters": [{"Name": "attachment.instance-id", "Values": [I1]}]}),
    ("CreateSnapshot", {"VolumeId": "vol-0123456789abcdef0", "Description": "nightly",
                        "TagSpecifications": [{"ResourceType": "snapshot", "Tags": TAGS}]}),
    ("CreateImage", {"InstanceId": I1, "Name": "golden", "NoReboot": True,
                     "BlockDeviceMappings": [{"DeviceName": "/dev/sdb", "NoDevice": ""}]}),
    ("DescribeImages", {"Owners": ["self"], "ImageIds": ["ami-0123456789abcdef0"]}),
    ("CreateVpc", {"CidrBlock": "10.0.0.0/16", "TagSpecifications": [{"ResourceType": "vpc", "Tags": TAGS}]}),
    ("CreateSubnet", {"VpcId": "vpc-0123456789abcdef0", "CidrBlock": "10.0.1.0/24", "AvailabilityZone": "lab-1a"}),
    ("DescribeRegions", {"RegionNames": ["lab-1"], "AllRegions": False}),
    ("DescribeAvailabilityZones", {"ZoneNames": ["lab-1a"], "Filters": [{"Name": "state", "Values": ["available"]}]}),
    ("DescribeAccountAttributes", {"AttributeNames": ["default-vpc", "supported-platforms"]}),
    ("DescribeInstanceTypes", {"InstanceTypes": ["t2.micro"]}),
]


def to_json(value):
    # Blobs stay base64 text in the decoder's JSON, as the typed shapes take them.
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def main():
    session = botocore.session.get_session()
    model = session.get_service_model("ec2", api_version="2016-11-15")
    serializer = create_serializer("ec2")
    out = []
    for name, params in CASES:
        op = model.operation_model(name)
        # botocore fills idempotency tokens with random uuids: fix them so the file is stable.
        for member, shape in op.input_shape.members.items():
            if shape.metadata.get("idempotencyToken") and member not in params:
                params[member] = f"token-{name}"
        request = serializer.serialize_to_request(params, op)
        prepare_request_dict(request, endpoint_url="http://127.0.0.1:8773")
        body = create_request_object(request).prepare().body
        out.append({"operation": name, "body": body if isinstance(body, str) else body.decode(),
                    "expected": to_json(params)})
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "src", "api", "testdata", "botocore-requests.json")
    with open(path, "w") as f:
        json.dump({"botocoreVersion": botocore.__version__, "requests": out}, f, indent=1)
        f.write("\n")
    print(f"{os.path.relpath(path)}: {len(out)} requests")


if __name__ == "__main__":
    main()
