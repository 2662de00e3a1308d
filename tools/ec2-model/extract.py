#!/usr/bin/env python3
"""Writes src/ec2/ec2-model.json: the part of botocore's EC2 model (API 2016-11-15) that
`ec2lab serve` needs to decode Query requests and encode XML answers.

Run with the venv's python (tools/setup.sh makes it):
    /opt/ec2lab-venv/bin/python tools/ec2-model/extract.py

It keeps the operations ec2lab serves (OPERATIONS below) and the closure of their input
and output shapes, and of each shape only what the codec reads: type, members (shape,
locationName, queryName), list member and flattened, required, timestampFormat.
"""
import json
import os
import sys

import botocore
from botocore.loaders import Loader

API_VERSION = "2016-11-15"

# Every `aws ec2` verb the ec2lab CLI has (`ec2lab --help`), plus what the AWS tools call
# on their own (regions and zones, instance status for the status waiters, tags,
# instance attributes, account attributes).
OPERATIONS = [
    # instances
    "RunInstances", "DescribeInstances", "StartInstances", "StopInstances",
    "RebootInstances", "TerminateInstances", "GetConsoleOutput", "DescribeInstanceTypes",
    "DescribeInstanceStatus", "DescribeInstanceAttribute", "ModifyInstanceAttribute",
    "ModifyInstanceMetadataOptions", "MonitorInstances", "UnmonitorInstances",
    # images
    "DescribeImages", "RegisterImage", "CreateImage", "CopyImage", "DeregisterImage",
    # EBS
    "CreateVolume", "DescribeVolumes", "AttachVolume", "DetachVolume", "DeleteVolume",
    "ModifyVolume", "CreateSnapshot", "DescribeSnapshots", "DeleteSnapshot",
    # key pairs
    "CreateKeyPair", "ImportKeyPair", "DescribeKeyPairs", "DeleteKeyPair",
    # VPC
    "CreateVpc", "DescribeVpcs", "DeleteVpc", "CreateSubnet", "DescribeSubnets",
    "DeleteSubnet", "CreateSecurityGroup", "DescribeSecurityGroups", "DeleteSecurityGroup",
    "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
    "DescribeNetworkInterfaces", "CreateNetworkInterface", "AttachNetworkInterface",
    "DetachNetworkInterface", "DeleteNetworkInterface", "ModifyNetworkInterfaceAttribute",
    "AllocateAddress", "AssociateAddress", "DisassociateAddress", "ReleaseAddress",
    "DescribeAddresses",
    # tags, regions, zones, account
    "CreateTags", "DeleteTags", "DescribeTags", "DescribeRegions",
    "DescribeAvailabilityZones", "DescribeAccountAttributes",
]

# The member traits the Query decoder and the XML encoder read.
MEMBER_KEYS = ("locationName", "queryName", "flattened")


def slim_shape(shape):
    out = {"type": shape["type"]}
    if shape["type"] == "structure":
        # A list, not an object: the XML answer keeps the model's member order.
        out["members"] = [
            {"name": name, "shape": m["shape"], **{k: m[k] for k in MEMBER_KEYS if k in m}}
            for name, m in shape.get("members", {}).items()
        ]
        if shape.get("required"):
            out["required"] = shape["required"]
    elif shape["type"] == "list":
        m = shape["member"]
        out["member"] = {"shape": m["shape"], **{k: m[k] for k in MEMBER_KEYS if k in m}}
        if shape.get("flattened"):
            out["flattened"] = True
    elif shape["type"] == "map":
        raise SystemExit(f"map shapes are not in ec2lab's operations: {shape}")
    elif shape["type"] == "timestamp" and "timestampFormat" in shape:
        out["timestampFormat"] = shape["timestampFormat"]
    return out


def children(shape):
    if shape["type"] == "structure":
        return [m["shape"] for m in shape.get("members", {}).values()]
    if shape["type"] == "list":
        return [shape["member"]["shape"]]
    return []


def main():
    model = Loader().load_service_model("ec2", "service-2", API_VERSION)
    assert model["metadata"]["protocol"] == "ec2", model["metadata"]["protocol"]
    ops = {}
    todo = []
    for name in OPERATIONS:
        op = model["operations"][name]
        entry = {}
        for key in ("input", "output"):
            if key in op:
                entry[key] = op[key]["shape"]
                todo.append(op[key]["shape"])
        ops[name] = entry
    shapes = {}
    while todo:
        name = todo.pop()
        if name in shapes:
            continue
        full = model["shapes"][name]
        shapes[name] = slim_shape(full)
        todo.extend(children(full))
    out = {
        "apiVersion": API_VERSION,
        "botocoreVersion": botocore.__version__,
        "operations": dict(sorted(ops.items())),
        "shapes": dict(sorted(shapes.items())),
    }
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "src", "ec2", "ec2-model.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"), sort_keys=False)
        f.write("\n")
    print(f"{os.path.relpath(path)}: {len(ops)} operations, {len(shapes)} shapes", file=sys.stderr)


if __name__ == "__main__":
    main()
