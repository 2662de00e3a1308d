//! VPCs, subnets and security groups through the CLI: AWS's defaults, rule bookkeeping,
//! and EC2's error codes for bad input, which must change nothing.

mod common;
use common::*;

#[test]
fn a_default_vpc_subnet_and_group_exist_from_the_first_run() {
    let lab = Lab::new();
    let vpcs = lab.ok(&["describe-vpcs"]);
    assert_eq!(vpcs["Vpcs"].as_array().unwrap().len(), 1);
    assert_eq!(vpcs["Vpcs"][0]["CidrBlock"], "172.31.0.0/16");
    assert_eq!(vpcs["Vpcs"][0]["IsDefault"], true);
    let subnets = lab.ok(&["describe-subnets"]);
    assert_eq!(subnets["Subnets"][0]["CidrBlock"], "172.31.0.0/20");
    assert_eq!(subnets["Subnets"][0]["MapPublicIpOnLaunch"], true);
    assert_eq!(subnets["Subnets"][0]["AvailableIpAddressCount"], 4091);
    let groups = lab.ok(&["describe-security-groups"]);
    let g = &groups["SecurityGroups"][0];
    assert_eq!(g["GroupName"], "default");
    // The default group: members reach each other; everything may go out.
    assert_eq!(
        g["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"],
        g["GroupId"]
    );
    assert_eq!(
        g["IpPermissionsEgress"][0]["IpRanges"][0]["CidrIp"],
        "0.0.0.0/0"
    );
}

#[test]
fn rules_are_added_listed_and_revoked_like_aws() {
    let lab = Lab::new();
    let sg = lab.ok(&[
        "create-security-group",
        "--group-name",
        "web",
        "--description",
        "web servers",
    ])["GroupId"]
        .as_str()
        .unwrap()
        .to_string();
    let other = lab.ok(&[
        "create-security-group",
        "--group-name",
        "admin",
        "--description",
        "admins",
    ])["GroupId"]
        .as_str()
        .unwrap()
        .to_string();
    lab.ok(&[
        "authorize-security-group-ingress",
        "--group-id",
        &sg,
        "--protocol",
        "tcp",
        "--port",
        "80",
        "--cidr",
        "0.0.0.0/0",
    ]);
    lab.ok(&[
        "authorize-security-group-ingress",
        "--group-id",
        &sg,
        "--protocol",
        "tcp",
        "--port",
        "8000-8100",
        "--source-group",
        &other,
    ]);
    lab.ok(&[
        "authorize-security-group-ingress",
        "--group-id",
        &sg,
        "--protocol",
        "icmp",
        "--port",
        "-1",
        "--cidr",
        "10.0.0.0/8",
    ]);
    let d = lab.ok(&["describe-security-groups", "--group-ids", &sg]);
    let perms = d["SecurityGroups"][0]["IpPermissions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(perms.len(), 3);
    assert_eq!(
        (perms[0]["FromPort"].as_u64(), perms[0]["ToPort"].as_u64()),
        (Some(80), Some(80))
    );
    assert_eq!(perms[1]["UserIdGroupPairs"][0]["GroupId"], other.as_str());
    assert_eq!(
        (perms[1]["FromPort"].as_u64(), perms[1]["ToPort"].as_u64()),
        (Some(8000), Some(8100))
    );
    // The same rule twice is a duplicate; revoking removes it; revoking again is NotFound.
    let e = lab.ec2(&[
        "authorize-security-group-ingress",
        "--group-id",
        &sg,
        "--protocol",
        "tcp",
        "--port",
        "80",
        "--cidr",
        "0.0.0.0/0",
    ]);
    assert!(
        e.stderr.contains("(InvalidPermission.Duplicate)"),
        "{}",
        e.stderr
    );
    lab.ok(&[
        "revoke-security-group-ingress",
        "--group-id",
        &sg,
        "--protocol",
        "tcp",
        "--port",
        "80",
        "--cidr",
        "0.0.0.0/0",
    ]);
    let e = lab.ec2(&[
        "revoke-security-group-ingress",
        "--group-id",
        &sg,
        "--protocol",
        "tcp",
        "--port",
        "80",
        "--cidr",
        "0.0.0.0/0",
    ]);
    assert!(
        e.stderr.contains("(InvalidPermission.NotFound)"),
        "{}",
        e.stderr
    );
    // Egress: a new group allows everything out; revoking that leaves no egress rule.
    lab.ok(&[
        "revoke-security-group-egress",
        "--group-id",
        &sg,
        "--protocol",
        "-1",
        "--cidr",
        "0.0.0.0/0",
    ]);
    let d = lab.ok(&["describe-security-groups", "--group-ids", &sg]);
    assert_eq!(
        d["SecurityGroups"][0]["IpPermissionsEgress"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // A group named by another group's rule cannot go; once the rule is gone, it can.
    let e = lab.ec2(&["delete-security-group", "--group-id", &other]);
    assert!(e.stderr.contains("(DependencyViolation)"), "{}", e.stderr);
    lab.ok(&[
        "revoke-security-group-ingress",
        "--group-id",
        &sg,
        "--protocol",
        "tcp",
        "--port",
        "8000-8100",
        "--source-group",
        &other,
    ]);
    lab.ok(&["delete-security-group", "--group-id", &other]);
}

#[test]
fn bad_network_input_gets_ec2_errors_and_changes_nothing() {
    let lab = Lab::new();
    let vpc = lab.ok(&["create-vpc", "--cidr-block", "10.0.0.0/16"])["Vpc"]["VpcId"]
        .as_str()
        .unwrap()
        .to_string();
    lab.ok(&[
        "create-subnet",
        "--vpc-id",
        &vpc,
        "--cidr-block",
        "10.0.1.0/24",
    ]);
    let sg = lab.ok(&[
        "create-security-group",
        "--group-name",
        "web",
        "--description",
        "w",
        "--vpc-id",
        &vpc,
    ])["GroupId"]
        .as_str()
        .unwrap()
        .to_string();
    let cases: &[(&[&str], &str)] = &[
        (
            &["create-vpc", "--cidr-block", "10.0.0.0/33"],
            "(InvalidVpc.Range)",
        ),
        (
            &["create-vpc", "--cidr-block", "10.0.0.0/8"],
            "(InvalidVpc.Range)",
        ),
        (
            &["create-vpc", "--cidr-block", "10.0.128.0/17"],
            "(InvalidVpc.Range)",
        ),
        (
            &["create-vpc", "--cidr-block", "300.1.0.0/16"],
            "(InvalidVpc.Range)",
        ),
        (
            &[
                "create-subnet",
                "--vpc-id",
                &vpc,
                "--cidr-block",
                "10.0.1.128/25",
            ],
            "(InvalidSubnet.Conflict)",
        ),
        (
            &[
                "create-subnet",
                "--vpc-id",
                &vpc,
                "--cidr-block",
                "192.168.0.0/24",
            ],
            "(InvalidSubnet.Range)",
        ),
        (
            &[
                "create-subnet",
                "--vpc-id",
                "vpc-0123456789abcdef0",
                "--cidr-block",
                "10.0.2.0/24",
            ],
            "(InvalidVpcID.NotFound)",
        ),
        (
            &[
                "authorize-security-group-ingress",
                "--group-id",
                &sg,
                "--protocol",
                "tcp",
                "--port",
                "70000",
                "--cidr",
                "0.0.0.0/0",
            ],
            "(InvalidParameterValue)",
        ),
        (
            &[
                "authorize-security-group-ingress",
                "--group-id",
                &sg,
                "--protocol",
                "sctp",
                "--port",
                "80",
                "--cidr",
                "0.0.0.0/0",
            ],
            "(InvalidParameterValue)",
        ),
        (
            &[
                "authorize-security-group-ingress",
                "--group-id",
                &sg,
                "--protocol",
                "tcp",
                "--port",
                "90-80",
                "--cidr",
                "0.0.0.0/0",
            ],
            "(InvalidParameterValue)",
        ),
        (
            &[
                "authorize-security-group-ingress",
                "--group-id",
                &sg,
                "--protocol",
                "tcp",
                "--port",
                "80",
                "--cidr",
                "0.0.0.0/33",
            ],
            "(InvalidParameterValue)",
        ),
        (
            &[
                "authorize-security-group-ingress",
                "--group-id",
                "sg-0123456789abcdef0",
                "--protocol",
                "tcp",
                "--port",
                "80",
                "--cidr",
                "0.0.0.0/0",
            ],
            "(InvalidGroup.NotFound)",
        ),
        (
            &[
                "create-security-group",
                "--group-name",
                "web",
                "--description",
                "again",
                "--vpc-id",
                &vpc,
            ],
            "(InvalidGroup.Duplicate)",
        ),
        (&["delete-vpc", "--vpc-id", &vpc], "(DependencyViolation)"),
    ];
    for (args, needle) in cases {
        let o = lab.ec2(args);
        assert_eq!(o.code, 254, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(needle), "{args:?}: {}", o.stderr);
    }
    // Nothing changed: two VPCs, two subnets, the groups with no ingress rules.
    assert_eq!(
        lab.ok(&["describe-vpcs"])["Vpcs"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        lab.ok(&["describe-subnets"])["Subnets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let d = lab.ok(&["describe-security-groups", "--group-ids", &sg]);
    assert_eq!(
        d["SecurityGroups"][0]["IpPermissions"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn elastic_ips_stay_with_an_instance_across_stop_and_start() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    let id = lab.run(&ami, &[]).remove(0);
    lab.wait("instance-running", &id);
    let auto = lab.describe(&id)["PublicIpAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let eip = lab.ok(&["allocate-address"]);
    let (alloc, ip) = (
        eip["AllocationId"].as_str().unwrap().to_string(),
        eip["PublicIp"].as_str().unwrap().to_string(),
    );
    assert_ne!(ip, auto);
    let assoc = lab.ok(&[
        "associate-address",
        "--allocation-id",
        &alloc,
        "--instance-id",
        &id,
    ])["AssociationId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(lab.describe(&id)["PublicIpAddress"], ip.as_str());
    lab.ok(&["stop-instances", "--instance-ids", &id]);
    lab.wait("instance-stopped", &id);
    lab.ok(&["start-instances", "--instance-ids", &id]);
    lab.wait("instance-running", &id);
    assert_eq!(lab.describe(&id)["PublicIpAddress"], ip.as_str());
    let e = lab.ec2(&["release-address", "--allocation-id", &alloc]);
    assert!(
        e.stderr.contains("(InvalidIPAddress.InUse)"),
        "{}",
        e.stderr
    );
    let a = lab.ok(&["describe-addresses"]);
    assert_eq!(a["Addresses"][0]["InstanceId"], id.as_str());
    lab.ok(&["disassociate-address", "--association-id", &assoc]);
    assert!(lab.describe(&id).get("PublicIpAddress").is_none());
    lab.ok(&["release-address", "--allocation-id", &alloc]);
    assert_eq!(
        lab.ok(&["describe-addresses"])["Addresses"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Private addresses are never handed out twice, and come back after terminate.
    let id2 = lab.run(&ami, &[]).remove(0);
    let (p1, p2) = (
        lab.describe(&id)["PrivateIpAddress"]
            .as_str()
            .unwrap()
            .to_string(),
        lab.describe(&id2)["PrivateIpAddress"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    assert_ne!(p1, p2);
    let nics = lab.ok(&["describe-network-interfaces"]);
    assert_eq!(nics["NetworkInterfaces"].as_array().unwrap().len(), 2);
    lab.ok(&["terminate-instances", "--instance-ids", &id, &id2]);
    lab.wait("instance-terminated", &id);
    lab.wait("instance-terminated", &id2);
    let nics = lab.ok(&["describe-network-interfaces"]);
    assert_eq!(nics["NetworkInterfaces"].as_array().unwrap().len(), 0);
}
