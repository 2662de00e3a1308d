//! VPCs, subnets and security groups through the CLI: AWS's defaults, rule bookkeeping,
//! and EC2's error codes for bad input, which must change nothing.

mod common;
use common::*;

#[test]
fn a_default_vpc_subnet_and_group_exist_from_the_first_run() {
    let lab = Lab::with_aws_default_vpc();
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
                &vpc,
                "--cidr-block",
                "10.0.2.0/33",
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

fn public_ip(lab: &Lab, id: &str) -> Option<String> {
    lab.describe(id)
        .get("PublicIpAddress")
        .and_then(|p| p.as_str())
        .map(String::from)
}

/// One network interface, as describe-network-interfaces shows it.
fn network_interface(lab: &Lab, eni: &str) -> serde_json::Value {
    lab.ok(&[
        "describe-network-interfaces",
        "--network-interface-ids",
        eni,
    ])["NetworkInterfaces"][0]
        .clone()
}

fn nft_ruleset() -> String {
    let out = std::process::Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn automatic_public_ips_change_at_stop_and_start() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    let id = lab.run(&ami, &[]).remove(0);
    lab.wait("instance-running", &id);
    let first = public_ip(&lab, &id).expect("an automatic public address at launch");
    assert!(nft_ruleset().contains(&format!(
        "dnat ip to {}",
        lab.describe(&id)["PrivateIpAddress"].as_str().unwrap()
    )));
    lab.ok(&["stop-instances", "--instance-ids", &id]);
    lab.wait("instance-stopped", &id);
    assert_eq!(public_ip(&lab, &id), None, "a stopped instance has none");
    let nics = lab.ok(&["describe-network-interfaces"]);
    assert!(nics["NetworkInterfaces"][0].get("Association").is_none());
    assert!(
        !nft_ruleset().contains(&format!("ip daddr {first} ")),
        "the released address is still NATed"
    );
    lab.ok(&["start-instances", "--instance-ids", &id]);
    let second = public_ip(&lab, &id).expect("a fresh public address at start");
    assert_ne!(first, second);
    lab.wait("instance-running", &id);
    assert!(nft_ruleset().contains(&format!("ip daddr {second} dnat")));
    // An instance launched without one gets none at start either.
    let quiet = lab
        .run(&ami, &["--no-associate-public-ip-address"])
        .remove(0);
    lab.ok(&["stop-instances", "--instance-ids", &quiet, "--force"]);
    lab.wait("instance-stopped", &quiet);
    lab.ok(&["start-instances", "--instance-ids", &quiet]);
    assert_eq!(public_ip(&lab, &quiet), None);
}

#[test]
fn network_interfaces_are_created_attached_and_deleted_like_aws() {
    let lab = Lab::new();
    // Addresses in the lab's own default VPC (p.0.0/16).
    let p = lab.vpc_prefix();
    let ip = |rest: &str| format!("{p}.{rest}");
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    let vpc_of = |v: &serde_json::Value| v["VpcId"].as_str().unwrap().to_string();
    let default_vpc = vpc_of(&lab.ok(&["describe-vpcs"])["Vpcs"][0]);
    let subnet = |vpc: &str, cidr: &str, az: &str| {
        lab.ok(&[
            "create-subnet",
            "--vpc-id",
            vpc,
            "--cidr-block",
            cidr,
            "--availability-zone",
            az,
        ])["Subnet"]["SubnetId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let s2 = subnet(&default_vpc, &ip("16.0/24"), "lab-1a");
    let s_other_az = subnet(&default_vpc, &ip("17.0/24"), "lab-1b");
    let other_vpc = vpc_of(&lab.ok(&["create-vpc", "--cidr-block", "10.8.0.0/16"])["Vpc"]);
    let s_other_vpc = subnet(&other_vpc, "10.8.1.0/24", "lab-1a");
    let group = |name: &str, vpc: &str| {
        lab.ok(&[
            "create-security-group",
            "--group-name",
            name,
            "--description",
            name,
            "--vpc-id",
            vpc,
        ])["GroupId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let sg = group("backend", &default_vpc);
    let sg_other = group("elsewhere", &other_vpc);

    let (eni_ip, reserved_ip) = (ip("16.10"), ip("16.2"));
    let created = lab.ok(&[
        "create-network-interface",
        "--subnet-id",
        &s2,
        "--description",
        "backend leg",
        "--groups",
        &sg,
        "--private-ip-address",
        &eni_ip,
    ])["NetworkInterface"]
        .clone();
    let eni = created["NetworkInterfaceId"].as_str().unwrap().to_string();
    assert_eq!(created["Status"], "available");
    assert_eq!(created["Description"], "backend leg");
    assert_eq!(created["PrivateIpAddress"], eni_ip.as_str());
    assert_eq!(created["Groups"][0]["GroupName"], "backend");
    assert_eq!(created["AvailabilityZone"], "lab-1a");
    assert!(created.get("Attachment").is_none());
    let nic = |args: &[&str]| -> Vec<String> {
        std::iter::once("create-network-interface")
            .chain(args.iter().copied())
            .map(String::from)
            .collect()
    };
    let bad_creations: [(&[&str], &str); 7] = [
        (
            &["--subnet-id", &s2, "--private-ip-address", &eni_ip],
            "InvalidIPAddress.InUse",
        ),
        (
            &["--subnet-id", &s2, "--private-ip-address", &reserved_ip],
            "InvalidParameterValue",
        ),
        (
            &["--subnet-id", &s2, "--private-ip-address", "10.9.9.9"],
            "InvalidParameterValue",
        ),
        (
            &["--subnet-id", &s2, "--private-ip-address", "banana"],
            "InvalidParameterValue",
        ),
        (
            &["--subnet-id", "subnet-0123456789abcdef0"],
            "InvalidSubnetID.NotFound",
        ),
        (
            &["--subnet-id", &s2, "--groups", &sg_other],
            "InvalidParameterValue",
        ),
        (
            &["--subnet-id", &s2, "--groups", "sg-0123456789abcdef0"],
            "InvalidGroup.NotFound",
        ),
    ];
    for (args, code) in bad_creations {
        fails_v(&lab, nic(args), code);
    }
    // Interfaces that cannot go on the instance below.
    let eni_id = |v: serde_json::Value| {
        v["NetworkInterface"]["NetworkInterfaceId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let eni_az = eni_id(ok_v(&lab, nic(&["--subnet-id", &s_other_az])));
    let eni_vpc = eni_id(ok_v(&lab, nic(&["--subnet-id", &s_other_vpc])));
    assert_eq!(
        lab.ok(&["describe-network-interfaces"])["NetworkInterfaces"]
            .as_array()
            .unwrap()
            .len(),
        3,
        "the failed creations left nothing behind"
    );

    let id = lab.run(&ami, &["--instance-type", "t3.small"]).remove(0);
    lab.wait("instance-running", &id);
    let attach = |eni: &str, inst: &str, index: &str| {
        vec![
            "attach-network-interface".to_string(),
            "--network-interface-id".into(),
            eni.into(),
            "--instance-id".into(),
            inst.into(),
            "--device-index".into(),
            index.into(),
        ]
    };
    let msg = fails_v(&lab, attach(&eni, &id, "1"), "IncorrectInstanceState");
    assert!(msg.contains("Stop the instance"), "{msg}");
    lab.ok(&["stop-instances", "--instance-ids", &id, "--force"]);
    lab.wait("instance-stopped", &id);
    for (iface, inst, index, code) in [
        (eni.as_str(), id.as_str(), "0", "InvalidParameterValue"),
        (&eni, &id, "7", "InvalidParameterValue"),
        (
            "eni-0123456789abcdef0",
            &id,
            "1",
            "InvalidNetworkInterfaceID.NotFound",
        ),
        (
            &eni,
            "i-0123456789abcdef0",
            "1",
            "InvalidInstanceID.NotFound",
        ),
        (&eni_az, &id, "1", "InvalidParameterCombination"),
        (&eni_vpc, &id, "1", "InvalidParameterCombination"),
    ] {
        fails_v(&lab, attach(iface, inst, index), code);
    }
    let v = attach(&eni, &id, "1");
    let att = ok_v(&lab, v)["AttachmentId"].as_str().unwrap().to_string();
    assert!(att.starts_with("eni-attach-"), "{att}");
    // Taken now: by index, and as an interface.
    let second = eni_id(ok_v(&lab, nic(&["--subnet-id", &s2])));
    fails_v(&lab, attach(&second, &id, "1"), "InvalidParameterValue");
    let other = lab.run(&ami, &[]).remove(0);
    fails_v(
        &lab,
        attach(&eni, &other, "1"),
        "InvalidNetworkInterface.InUse",
    );
    lab.fails(
        &["delete-network-interface", "--network-interface-id", &eni],
        "InvalidNetworkInterface.InUse",
    );
    let d = network_interface(&lab, &eni);
    assert_eq!(d["Status"], "in-use");
    assert_eq!(d["Attachment"]["AttachmentId"], att.as_str());
    assert_eq!(d["Attachment"]["InstanceId"], id.as_str());
    assert_eq!(d["Attachment"]["DeviceIndex"], 1);
    assert_eq!(d["Attachment"]["DeleteOnTermination"], false);
    lab.fails(
        &["delete-security-group", "--group-id", &sg],
        "DependencyViolation",
    );
    lab.ok(&[
        "modify-network-interface-attribute",
        "--network-interface-id",
        &eni,
        "--groups",
        &sg,
    ]);
    lab.fails(
        &[
            "modify-network-interface-attribute",
            "--network-interface-id",
            &eni,
            "--groups",
            &sg_other,
        ],
        "InvalidParameterValue",
    );
    // Several interfaces: the instance's groups are set per interface.
    lab.fails(
        &[
            "modify-instance-attribute",
            "--instance-id",
            &id,
            "--groups",
            &sg,
        ],
        "InvalidInstanceID",
    );

    // At start the VMM gets both taps, and the guest its second address on the kernel
    // command line; as on AWS, with two interfaces there is no automatic public address.
    lab.ok(&["start-instances", "--instance-ids", &id]);
    lab.wait("instance-running", &id);
    let d = lab.describe(&id);
    assert_eq!(d["NetworkInterfaces"].as_array().unwrap().len(), 2);
    assert!(d.get("PublicIpAddress").is_none());
    let tap = d["NetworkInterfaces"][1]["Ec2LabInfo"]["Tap"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        d["NetworkInterfaces"][1]["NetworkInterfaceId"],
        eni.as_str()
    );
    // The running VMM's launch description (ec2lab vmm --launch FILE).
    let launch_file = lab.run_dir(&id).join("launch.json");
    let ps = std::process::Command::new("pgrep")
        .args(["-f", &launch_file.display().to_string()])
        .output()
        .unwrap();
    assert!(ps.status.success(), "no VMM runs {}", launch_file.display());
    let launch: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&launch_file).unwrap()).unwrap();
    assert_eq!(launch["nets"][1]["tap"], tap.as_str(), "{launch}");
    assert!(
        launch["append"]
            .as_array()
            .unwrap()
            .contains(&format!("ec2lab.eth1={eni_ip}/255.255.255.0").into()),
        "VMM launch description: {launch}"
    );
    assert!(std::path::Path::new("/sys/class/net").join(&tap).exists());
    fails_v(
        &lab,
        vec![
            "detach-network-interface".into(),
            "--attachment-id".into(),
            att.clone(),
            "--force".into(),
        ],
        "IncorrectInstanceState",
    );
    let primary_att = d["NetworkInterfaces"][0]["Attachment"]["AttachmentId"]
        .as_str()
        .unwrap()
        .to_string();
    lab.fails(
        &["detach-network-interface", "--attachment-id", &primary_att],
        "OperationNotPermitted",
    );
    lab.fails(
        &[
            "detach-network-interface",
            "--attachment-id",
            "eni-attach-0123456789abcdef0",
        ],
        "InvalidAttachmentID.NotFound",
    );

    lab.ok(&["stop-instances", "--instance-ids", &id, "--force"]);
    lab.wait("instance-stopped", &id);
    lab.ok(&["detach-network-interface", "--attachment-id", &att]);
    assert!(
        !std::path::Path::new("/sys/class/net").join(&tap).exists(),
        "the tap stayed"
    );
    let d = network_interface(&lab, &eni);
    assert_eq!(d["Status"], "available");
    assert!(d.get("Attachment").is_none());
    lab.ok(&["delete-network-interface", "--network-interface-id", &eni]);
    lab.fails(
        &[
            "describe-network-interfaces",
            "--network-interface-ids",
            &eni,
        ],
        "InvalidNetworkInterfaceID.NotFound",
    );
    lab.fails(
        &["delete-network-interface", "--network-interface-id", &eni],
        "InvalidNetworkInterfaceID.NotFound",
    );

    // At terminate an attached interface is detached and stays; the primary one goes.
    let v = attach(&second, &id, "2");
    ok_v(&lab, v);
    let primary = lab.describe(&id)["NetworkInterfaces"][0]["NetworkInterfaceId"]
        .as_str()
        .unwrap()
        .to_string();
    lab.ok(&["terminate-instances", "--instance-ids", &id]);
    lab.wait("instance-terminated", &id);
    let d = network_interface(&lab, &second);
    assert_eq!(d["Status"], "available");
    lab.fails(
        &[
            "describe-network-interfaces",
            "--network-interface-ids",
            &primary,
        ],
        "InvalidNetworkInterfaceID.NotFound",
    );
}

fn fails_v(lab: &Lab, args: Vec<String>, code: &str) -> String {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.fails(&a, code)
}

fn ok_v(lab: &Lab, args: Vec<String>) -> serde_json::Value {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.ok(&a)
}

/// Every network describe verb filters through EC2's filter names and refuses unknown ones.
#[test]
fn network_describe_verbs_take_ec2_filters() {
    let lab = Lab::new();
    let vpc = lab.ok(&["create-vpc", "--cidr-block", "10.251.0.0/16"])["Vpc"]["VpcId"]
        .as_str()
        .unwrap()
        .to_string();
    let vpc_filter = format!("Name=vpc-id,Values={vpc}");
    let subnet = lab.ok(&[
        "create-subnet",
        "--vpc-id",
        &vpc,
        "--cidr-block",
        "10.251.1.0/24",
    ])["Subnet"]["SubnetId"]
        .as_str()
        .unwrap()
        .to_string();
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
    lab.ok(&[
        "authorize-security-group-ingress",
        "--group-id",
        &sg,
        "--protocol",
        "tcp",
        "--port",
        "80",
        "--cidr",
        "10.9.0.0/16",
    ]);
    let eni = lab.ok(&[
        "create-network-interface",
        "--subnet-id",
        &subnet,
        "--groups",
        &sg,
    ])["NetworkInterface"]["NetworkInterfaceId"]
        .as_str()
        .unwrap()
        .to_string();
    let ids = |v: serde_json::Value, list: &str, id: &str| -> Vec<String> {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[id].as_str().unwrap().to_string())
            .collect()
    };

    let v = lab.ok(&["describe-vpcs", "--filters", "Name=is-default,Values=false"]);
    assert_eq!(ids(v, "Vpcs", "VpcId"), vec![vpc.clone()]);
    let v = lab.ok(&["describe-subnets", "--filters", &vpc_filter]);
    assert_eq!(ids(v, "Subnets", "SubnetId"), vec![subnet.clone()]);
    let v = lab.ok(&[
        "describe-security-groups",
        "--filters",
        &vpc_filter,
        "Name=ip-permission.cidr,Values=10.9.*",
    ]);
    assert_eq!(ids(v, "SecurityGroups", "GroupId"), vec![sg.clone()]);
    let v = lab.ok(&[
        "describe-security-groups",
        "--filters",
        "Name=group-name,Values=default",
        &vpc_filter,
    ]);
    assert_eq!(v["SecurityGroups"].as_array().unwrap().len(), 1);
    let v = lab.ok(&[
        "describe-network-interfaces",
        "--filters",
        &format!("Name=group-id,Values={sg}"),
        "Name=status,Values=available",
    ]);
    assert_eq!(ids(v, "NetworkInterfaces", "NetworkInterfaceId"), vec![eni]);
    let v = lab.ok(&[
        "describe-network-interfaces",
        "--filters",
        "Name=attachment.instance-id,Values=*",
    ]);
    assert!(v["NetworkInterfaces"].as_array().unwrap().is_empty());
    let alloc = lab.ok(&["allocate-address"]);
    let v = lab.ok(&[
        "describe-addresses",
        "--filters",
        &format!(
            "Name=public-ip,Values={}",
            alloc["PublicIp"].as_str().unwrap()
        ),
    ]);
    assert_eq!(v["Addresses"][0]["AllocationId"], alloc["AllocationId"]);
    let v = lab.ok(&[
        "describe-vpcs",
        "--vpc-ids",
        &vpc,
        "--filters",
        "Name=cidr,Values=172.*",
    ]);
    assert!(v["Vpcs"].as_array().unwrap().is_empty());

    let m = lab.fails(
        &["describe-subnets", "--filters", "Name=colour,Values=x"],
        "InvalidParameterValue",
    );
    assert!(m.contains("'colour'"), "{m}");
    lab.fails(
        &["describe-vpcs", "--vpc-ids", "vpc-00000000000000000"],
        "InvalidVpcID.NotFound",
    );
}

#[test]
fn ip_permissions_take_several_rules_as_the_aws_cli_writes_them() {
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
    let ssh = "IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=0.0.0.0/0}]";
    let http = r#"[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                    "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]"#;
    let rules = |verb: &str, perms: &[&str]| {
        let mut args = vec![verb, "--group-id", &sg, "--ip-permissions"];
        args.extend_from_slice(perms);
        lab.ec2(&args)
    };
    assert_eq!(
        rules("authorize-security-group-ingress", &[ssh, http]).json["Return"],
        true
    );
    let ingress = |lab: &Lab| {
        lab.ok(&["describe-security-groups", "--group-ids", &sg])["SecurityGroups"][0]
            ["IpPermissions"]
            .clone()
    };
    let both = ingress(&lab);
    assert_eq!(both.as_array().unwrap().len(), 2, "{both}");
    assert_eq!(both[0]["FromPort"], 22);
    assert_eq!(both[1]["IpRanges"][0]["CidrIp"], "10.0.0.0/8");
    // One of two already there: neither is added again.
    let e = rules(
        "authorize-security-group-ingress",
        &[
            "IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=0.0.0.0/0}]",
            ssh,
        ],
    );
    assert!(
        e.stderr.contains("(InvalidPermission.Duplicate)"),
        "{}",
        e.stderr
    );
    assert_eq!(ingress(&lab), both);
    let bad = rules(
        "authorize-security-group-ingress",
        &["IpProtocol=tcp,FromPort=x"],
    );
    assert_eq!(bad.code, 252, "{}", bad.stderr);
    rules("revoke-security-group-ingress", &[ssh]);
    assert_eq!(ingress(&lab).as_array().unwrap().len(), 1);
    // --ip-permissions or --protocol, not both.
    let both_forms = lab.ec2(&[
        "revoke-security-group-ingress",
        "--group-id",
        &sg,
        "--protocol",
        "tcp",
        "--ip-permissions",
        http,
    ]);
    assert_eq!(both_forms.code, 252, "{}", both_forms.stderr);
    assert!(
        both_forms
            .stderr
            .contains("The --protocol option is not compatible with the --ip-permissions option"),
        "{}",
        both_forms.stderr
    );
}
