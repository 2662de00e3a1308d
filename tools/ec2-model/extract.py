#!/usr/bin/env python3
"""Writes the parts of botocore's models that `ec2lab serve` needs to decode requests and
encode answers, each next to its service:

- src/ec2/ec2-model.json: EC2 (API 2016-11-15, the EC2 Query protocol);
- src/cloudwatch/cloudwatch-model.json: CloudWatch (2010-08-01: awsQuery and AWS JSON 1.0);
- src/sns/sns-model.json: SNS (2010-03-31: awsQuery);
- src/billing/ce-model.json: Cost Explorer (2017-10-25: AWS JSON 1.1);
- src/billing/savingsplans-model.json: Savings Plans (2019-06-28: REST-JSON).
- src/autoscaling/autoscaling-model.json: Auto Scaling (2011-01-01: awsQuery).

Run with the venv's python (tools/setup.sh makes it):
    /opt/ec2lab-venv/bin/python tools/ec2-model/extract.py [ec2|cloudwatch|sns|autoscaling ...]

It keeps the operations ec2lab serves (OPERATIONS below) and the closure of their input
and output shapes, and of each shape only what the codec reads: type, members (shape,
locationName, queryName), list member and flattened, map key and value, required,
timestampFormat; for the services other than EC2 also the protocol metadata (namespace,
JSON target prefix, awsQueryCompatible) and each output's resultWrapper.
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
    "ModifyInstanceMetadataOptions", "ModifyInstanceMaintenanceOptions", "MonitorInstances",
    "UnmonitorInstances",
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
    # spot instances and Reserved Instances (issue 18; src/instances/spot.rs, src/billing/)
    "RequestSpotInstances", "DescribeSpotInstanceRequests", "CancelSpotInstanceRequests",
    "DescribeSpotPriceHistory", "DescribeReservedInstancesOfferings",
    "PurchaseReservedInstancesOffering", "DescribeReservedInstances",
    # launch templates (src/launch_templates/)
    "CreateLaunchTemplate", "CreateLaunchTemplateVersion", "DescribeLaunchTemplates",
    "DescribeLaunchTemplateVersions", "ModifyLaunchTemplate", "DeleteLaunchTemplate",
]

# CloudWatch: what issue 13 serves (the service functions are in src/cloudwatch/).
CLOUDWATCH_OPERATIONS = [
    "GetMetricStatistics", "GetMetricData", "ListMetrics", "PutMetricData",
    "PutMetricAlarm", "DescribeAlarms", "DescribeAlarmsForMetric", "DescribeAlarmHistory",
    "DeleteAlarms", "SetAlarmState", "EnableAlarmActions", "DisableAlarmActions",
    "PutDashboard", "GetDashboard", "ListDashboards", "DeleteDashboards",
    "GetMetricWidgetImage",
]

# SNS: topics, subscriptions and Publish (src/sns/).
SNS_OPERATIONS = [
    "CreateTopic", "DeleteTopic", "ListTopics", "GetTopicAttributes", "SetTopicAttributes",
    "Subscribe", "ConfirmSubscription", "Unsubscribe", "ListSubscriptions",
    "ListSubscriptionsByTopic", "GetSubscriptionAttributes", "Publish",
]

# Cost Explorer: what issue 18 serves (src/billing/).
CE_OPERATIONS = ["GetCostAndUsage"]
SAVINGSPLANS_OPERATIONS = ["CreateSavingsPlan", "DescribeSavingsPlans",
                           "DescribeSavingsPlansOfferings"]
# Auto Scaling (2011-01-01, awsQuery): groups over launch templates, their activities and
# scaling policies (src/autoscaling/).
AUTOSCALING_OPERATIONS = [
    "CreateAutoScalingGroup", "DescribeAutoScalingGroups", "DescribeAutoScalingInstances",
    "UpdateAutoScalingGroup", "SetDesiredCapacity", "DeleteAutoScalingGroup",
    "DescribeScalingActivities", "PutScalingPolicy", "DescribePolicies", "DeletePolicy",
    "ExecutePolicy",
]

# service: (botocore name, API version, operations, output path from the repository root,
# the protocol botocore's model names)
SERVICES = {
    "ec2": ("ec2", API_VERSION, OPERATIONS, "src/ec2/ec2-model.json", "ec2"),
    "cloudwatch": ("cloudwatch", "2010-08-01", CLOUDWATCH_OPERATIONS,
                   "src/cloudwatch/cloudwatch-model.json", None),
    "sns": ("sns", "2010-03-31", SNS_OPERATIONS, "src/sns/sns-model.json", "query"),
    "ce": ("ce", "2017-10-25", CE_OPERATIONS, "src/billing/ce-model.json", "json"),
    "savingsplans": ("savingsplans", "2019-06-28", SAVINGSPLANS_OPERATIONS,
                     "src/billing/savingsplans-model.json", "rest-json"),
    "autoscaling": ("autoscaling", "2011-01-01", AUTOSCALING_OPERATIONS,
                    "src/autoscaling/autoscaling-model.json", "query"),
}

# The metadata the awsQuery and JSON codecs read.
METADATA_KEYS = ("protocol", "protocols", "xmlNamespace", "targetPrefix", "jsonVersion",
                 "awsQueryCompatible", "endpointPrefix", "signingName")

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
        for part in ("key", "value"):
            m = shape[part]
            out[part] = {"shape": m["shape"], **{k: m[k] for k in MEMBER_KEYS if k in m}}
        if shape.get("flattened"):
            out["flattened"] = True
    elif shape["type"] == "timestamp" and "timestampFormat" in shape:
        out["timestampFormat"] = shape["timestampFormat"]
    return out


def children(shape):
    if shape["type"] == "structure":
        return [m["shape"] for m in shape.get("members", {}).values()]
    if shape["type"] == "list":
        return [shape["member"]["shape"]]
    if shape["type"] == "map":
        return [shape["key"]["shape"], shape["value"]["shape"]]
    return []


def extract(service):
    botocore_name, version, operations, rel, protocol = SERVICES[service]
    model = Loader().load_service_model(botocore_name, "service-2", version)
    if protocol is not None:
        assert model["metadata"]["protocol"] == protocol, model["metadata"]["protocol"]
    ops = {}
    todo = []
    for name in operations:
        op = model["operations"][name]
        entry = {}
        for key in ("input", "output"):
            if key in op:
                entry[key] = op[key]["shape"]
                todo.append(op[key]["shape"])
        if service != "ec2" and "output" in op and "resultWrapper" in op["output"]:
            entry["resultWrapper"] = op["output"]["resultWrapper"]
        ops[name] = entry
    shapes = {}
    while todo:
        name = todo.pop()
        if name in shapes:
            continue
        full = model["shapes"][name]
        if service == "ec2" and full["type"] == "map":
            raise SystemExit(f"map shapes are not in ec2lab's EC2 operations: {name}")
        shapes[name] = slim_shape(full)
        todo.extend(children(full))
    out = {"apiVersion": version, "botocoreVersion": botocore.__version__}
    if service != "ec2":
        out["metadata"] = {k: model["metadata"][k] for k in METADATA_KEYS if k in model["metadata"]}
    out["operations"] = dict(sorted(ops.items()))
    out["shapes"] = dict(sorted(shapes.items()))
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", rel)
    with open(path, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"), sort_keys=False)
        f.write("\n")
    print(f"{os.path.relpath(path)}: {len(ops)} operations, {len(shapes)} shapes", file=sys.stderr)


def main():
    for service in sys.argv[1:] or list(SERVICES):
        extract(service)


if __name__ == "__main__":
    main()
