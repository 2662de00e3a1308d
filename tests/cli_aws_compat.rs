//! The CLI catching up with the aws CLI: the global `--query` (JMESPath) before `--output`,
//! `--dry-run` on every verb answering as EC2 does and changing nothing, and every flag the
//! aws CLI gives a verb accepted by the parser (EC2's `Unsupported`, naming it, for what
//! ec2lab does not do). Also `serve --install-systemd`'s unit file. No guest is started.

#[path = "api_common/mod.rs"]
mod api_common;
mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::{json, Value};

const DRY_RUN: &str = "Request would have succeeded, but DryRun flag is set.";

/// The names of the state directory's entries: what a command left there.
fn entries(lab: &Lab) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(lab.state_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn query_applies_jmespath_before_output() {
    let lab = Lab::new();
    for name in ["web", "db"] {
        lab.ok(&[
            "create-key-pair",
            "--key-name",
            name,
            "--key-type",
            "ed25519",
        ]);
    }
    let o = lab.ec2(&[
        "describe-key-pairs",
        "--query",
        "sort(KeyPairs[].KeyName)",
        "--output",
        "text",
    ]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "db\tweb\n"),
        "{}",
        o.stderr
    );
    let v = lab.ok(&[
        "describe-key-pairs",
        "--query",
        "KeyPairs[?KeyName=='web'].{Name: KeyName, Type: KeyType}",
    ]);
    assert_eq!(v, json!([{"Name": "web", "Type": "ed25519"}]));
    // Global: before the verb as well as after it.
    let o = lab.ec2(&[
        "--query",
        "length(InstanceTypes)",
        "describe-instance-types",
        "--instance-types",
        "t2.micro",
        "t3.small",
    ]);
    assert_eq!(o.stdout, "2\n", "{}", o.stderr);
    // A table of the selection, titled with the operation, as the aws CLI draws it.
    let o = lab.ec2(&[
        "describe-instance-types",
        "--instance-types",
        "t2.micro",
        "--query",
        "InstanceTypes[].[InstanceType, VCpuInfo.DefaultVCpus]",
        "--output",
        "table",
    ]);
    assert!(o.stdout.contains("|DescribeInstanceTypes|"), "{}", o.stdout);
    assert!(
        o.stdout
            .lines()
            .any(|l| l.starts_with("|  t2.micro ") && l.contains("|  1 ")),
        "{}",
        o.stdout
    );
    // Nothing selected: null in JSON, None in text, as the aws CLI prints them.
    let o = lab.ec2(&["describe-key-pairs", "--query", "NoSuchKey"]);
    assert_eq!(o.stdout, "null\n");
    let o = lab.ec2(&[
        "describe-key-pairs",
        "--query",
        "NoSuchKey",
        "--output",
        "text",
    ]);
    assert_eq!(o.stdout, "None\n");

    // A bad expression: the aws CLI's message and exit code, and the verb never runs.
    let o = lab.ec2(&[
        "create-key-pair",
        "--key-name",
        "never",
        "--query",
        "KeyPairs[",
    ]);
    assert_eq!(o.code, 255, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("Bad value for --query KeyPairs[: Invalid jmespath expression: ")
            && o.stderr.contains("\"KeyPairs[\"\n          ^"),
        "{}",
        o.stderr
    );
    let names = lab.ok(&["describe-key-pairs", "--query", "KeyPairs[].KeyName"]);
    assert_eq!(names.as_array().unwrap().len(), 2, "{names}");
    // An expression that fails on the data (a function given a number) fails the same way.
    let o = lab.ec2(&["describe-key-pairs", "--query", "length(`1`)"]);
    assert_eq!(o.code, 255, "{}", o.stderr);
}

#[test]
fn dry_run_answers_dry_run_operation_and_changes_nothing() {
    let lab = Lab::new();
    let before = entries(&lab);
    let calls: &[(&str, &[&str])] = &[
        (
            "RunInstances",
            &[
                "run-instances",
                "--image-id",
                "ami-0123456789abcdef0",
                "--count",
                "2",
                "--tag-specifications",
                "ResourceType=instance,Tags=[{Key=Name,Value=web}]",
            ],
        ),
        (
            "TerminateInstances",
            &[
                "terminate-instances",
                "--instance-ids",
                "i-0123456789abcdef0",
            ],
        ),
        (
            "StopInstances",
            &["stop-instances", "--instance-ids", "i-0123456789abcdef0"],
        ),
        ("CreateKeyPair", &["create-key-pair", "--key-name", "web"]),
        ("DeleteKeyPair", &["delete-key-pair", "--key-name", "web"]),
        ("CreateVpc", &["create-vpc", "--cidr-block", "10.9.0.0/16"]),
        (
            "CreateSecurityGroup",
            &[
                "create-security-group",
                "--group-name",
                "web",
                "--description",
                "w",
            ],
        ),
        (
            "AuthorizeSecurityGroupIngress",
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
        ),
        (
            "CreateVolume",
            &[
                "create-volume",
                "--size",
                "1",
                "--availability-zone",
                "lab-1a",
            ],
        ),
        (
            "CreateSnapshot",
            &["create-snapshot", "--volume-id", "vol-0123456789abcdef0"],
        ),
        ("AllocateAddress", &["allocate-address"]),
        ("DescribeInstances", &["describe-instances"]),
    ];
    for (op, args) in calls {
        let mut argv = args.to_vec();
        argv.push("--dry-run");
        let o = lab.ec2(&argv);
        assert_eq!(o.code, 254, "{argv:?}: {}{}", o.stderr, o.stdout);
        assert_eq!(
            o.stderr.trim(),
            format!(
                "An error occurred (DryRunOperation) when calling the {op} operation: {DRY_RUN}"
            ),
            "{argv:?}"
        );
        assert_eq!(o.stdout, "");
    }
    // Nothing was created: not even the region's store.
    assert_eq!(entries(&lab), before);

    // The request is checked first: a parameter that does not parse is still 252, a
    // malformed id EC2's code, and --no-dry-run (or a later one) runs the verb.
    let o = lab.ec2(&[
        "run-instances",
        "--image-id",
        "ami-0123456789abcdef0",
        "--count",
        "two",
        "--dry-run",
    ]);
    assert_eq!(o.code, 252, "{}", o.stderr);
    lab.fails(
        &[
            "terminate-instances",
            "--instance-ids",
            "i-nothex",
            "--dry-run",
        ],
        "InvalidInstanceID.Malformed",
    );
    lab.fails(
        &[
            "describe-images",
            "--image-ids",
            "vol-0123456789abcdef0",
            "--dry-run",
        ],
        "InvalidAMIID.Malformed",
    );
    assert_eq!(entries(&lab), before);
    let v = lab.ok(&[
        "create-key-pair",
        "--key-name",
        "real",
        "--key-type",
        "ed25519",
        "--dry-run",
        "--no-dry-run",
    ]);
    assert_eq!(v["KeyName"], "real");
}

#[test]
fn flags_for_what_ec2lab_does_not_do_get_unsupported() {
    let lab = Lab::new();
    let before = entries(&lab);
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "RunInstances",
            &[
                "run-instances",
                "--image-id",
                "ami-0123456789abcdef0",
                "--ipv6-address-count",
                "1",
            ],
            "--ipv6-address-count (Ipv6AddressCount)",
        ),
        (
            "RunInstances",
            &[
                "run-instances",
                "--image-id",
                "ami-0123456789abcdef0",
                "--iam-instance-profile",
                "Name=admin",
                "--enclave-options",
                "Enabled=true",
            ],
            "--iam-instance-profile (IamInstanceProfile), --enclave-options (EnclaveOptions)",
        ),
        (
            "RunInstances",
            &[
                "run-instances",
                "--image-id",
                "ami-0123456789abcdef0",
                "--credit-specification",
                "CpuCredits=unlimited",
            ],
            "--credit-specification (CreditSpecification)",
        ),
        (
            "RunInstances",
            &[
                "run-instances",
                "--image-id",
                "ami-0123456789abcdef0",
                "--kernel-id",
                "aki-0123456789abcdef0",
            ],
            "--kernel-id (KernelId)",
        ),
        // Required arguments missing too: EC2 would refuse the flag first.
        (
            "RunInstances",
            &["run-instances", "--ebs-optimized"],
            "--ebs-optimized (EbsOptimized)",
        ),
        (
            "CreateVolume",
            &[
                "create-volume",
                "--size",
                "1",
                "--availability-zone",
                "lab-1a",
                "--encrypted",
                "--kms-key-id",
                "alias/aws/ebs",
            ],
            "--encrypted (Encrypted), --kms-key-id (KmsKeyId)",
        ),
        (
            "CreateVpc",
            &[
                "create-vpc",
                "--cidr-block",
                "10.9.0.0/16",
                "--amazon-provided-ipv6-cidr-block",
            ],
            "--amazon-provided-ipv6-cidr-block (AmazonProvidedIpv6CidrBlock)",
        ),
        (
            "CreateNetworkInterface",
            &[
                "create-network-interface",
                "--subnet-id",
                "subnet-0123456789abcdef0",
                "--interface-type",
                "efa",
            ],
            "--interface-type (InterfaceType)",
        ),
        (
            "DescribeInstances",
            &["describe-instances", "--max-items", "5"],
            "--max-items",
        ),
        (
            "ModifyInstanceAttribute",
            &[
                "modify-instance-attribute",
                "--instance-id",
                "i-0123456789abcdef0",
                "--no-source-dest-check",
            ],
            "--no-source-dest-check (SourceDestCheck)",
        ),
    ];
    for (op, args, named) in cases {
        let o = lab.ec2(args);
        assert_eq!(o.code, 254, "{args:?}: {}{}", o.stderr, o.stdout);
        let noun = if named.contains(", ") {
            "parameters"
        } else {
            "parameter"
        };
        let verb = if named.contains(", ") { "are" } else { "is" };
        assert_eq!(
            o.stderr.trim(),
            format!(
                "An error occurred (Unsupported) when calling the {op} operation: The {noun} \
                 {named} {verb} not supported by ec2lab"
            ),
            "{args:?}"
        );
    }
    // Unsupported wins over --dry-run, as EC2 checks parameters first.
    lab.fails(
        &[
            "create-volume",
            "--availability-zone",
            "lab-1a",
            "--size",
            "1",
            "--kms-key-id",
            "alias/aws/ebs",
            "--dry-run",
        ],
        "Unsupported",
    );
    assert_eq!(entries(&lab), before);

    // Flags that ask for what ec2lab does anyway are taken.
    let v = lab.ok(&[
        "describe-instance-types",
        "--instance-types",
        "t2.micro",
        "--no-include-unsupported-in-region",
        "--page-size",
        "5",
    ]);
    assert_eq!(v["InstanceTypes"][0]["InstanceType"], "t2.micro");
    let v = lab.ok(&[
        "create-key-pair",
        "--key-name",
        "k",
        "--key-type",
        "ed25519",
        "--no-dry-run",
    ]);
    assert_eq!(v["KeyName"], "k");
}

/// Dumps the aws CLI's argument table of each verb: flag -> is it a switch.
const AWS_ARGS: &str = r#"
import json, sys
from awscli.clidriver import create_clidriver
ec2 = create_clidriver()._get_command_table()["ec2"]
table = ec2._get_command_table()
out = {}
for verb in sys.argv[1:]:
    if verb in table:
        out[verb] = {a.cli_name: getattr(a, "_action", None) in ("store_true", "store_false")
                                 or getattr(a, "nargs", None) == "?"
                     for a in table[verb].arg_table.values()}
print(json.dumps(out))
"#;

#[test]
fn every_aws_cli_flag_of_every_verb_parses() {
    let Some(venv) = api_common::venv() else {
        return;
    };
    use clap::CommandFactory;
    let cli = ec2lab::cli::Cli::command();
    let verbs: Vec<String> = cli
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    let out = std::process::Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(AWS_ARGS)
        .args(&verbs)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let table: BTreeMap<String, BTreeMap<String, bool>> =
        serde_json::from_slice(&out.stdout).unwrap();
    assert!(table.len() > 40, "{table:?}");

    let lab = Lab::new();
    let mut checked = 0;
    for (verb, flags) in &table {
        let own: Vec<String> = cli
            .find_subcommand(verb)
            .unwrap()
            .get_arguments()
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        for (flag, switch) in flags {
            if own.contains(flag) {
                continue;
            }
            let mut argv = vec![verb.as_str(), flag.as_str()];
            if !switch {
                argv.push("x");
            }
            let o = lab.ec2(&argv);
            let what = format!("ec2lab {}: {}{}", argv.join(" "), o.stderr, o.stdout);
            assert!(!o.stderr.contains("unexpected argument"), "{what}");
            if o.stderr.contains("(Unsupported)") {
                assert_eq!(o.code, 254, "{what}");
                assert!(o.stderr.contains(&format!("{flag} ")), "{what}");
            } else {
                // Taken (--no-encrypted, --page-size, --dry-run): the verb ran or stopped
                // at --dry-run, or clap asks for the verb's own required arguments.
                assert!(
                    o.code != 2 || o.stderr.contains("required arguments were not provided"),
                    "{what}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 300, "only {checked} flags checked");
    // Nothing ran: the verbs refused, or stopped at --dry-run or their own arguments.
    assert!(
        !lab.state_dir().join("lab-1").exists() || {
            let v = lab.ok(&["describe-key-pairs"]);
            v["KeyPairs"] == json!([])
        }
    );
}

#[test]
fn install_systemd_writes_the_unit_that_runs_this_serve() {
    let lab = Lab::new();
    let units = lab.state_dir().join("units");
    let o = lab.ec2(&[
        "serve",
        "--listen",
        "127.0.0.1:9876",
        "--install-systemd",
        "--unit-dir",
        units.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let path = units.join("ec2lab-serve.service");
    assert!(
        o.stdout.starts_with(&format!("wrote {}\n", path.display())),
        "{}",
        o.stdout
    );
    let unit = std::fs::read_to_string(&path).unwrap();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_ec2lab")).unwrap();
    let exec = format!(
        "{} --state-dir {} --region lab-1 serve --listen 127.0.0.1:9876",
        exe.display(),
        lab.state_dir().display()
    );
    assert!(unit.contains(&format!("\nExecStart={exec}\n")), "{unit}");
    // The tests' environment goes along (EC2LAB_GUEST_IMAGES here).
    assert!(
        unit.contains("\nEnvironment=EC2LAB_GUEST_IMAGES="),
        "{unit}"
    );
    for line in [
        "[Service]",
        "KillMode=process",
        "Restart=on-failure",
        "WantedBy=multi-user.target",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line}: {unit}");
    }
    // systemd's own checker takes it, where the host has one.
    if let Ok(v) = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
    {
        assert!(v.status.success(), "systemd-analyze verify: {}", stderr(&v));
    }
    // Not systemd's directory: how to enable it, and how to start the server by hand.
    assert!(
        o.stdout
            .contains("systemctl enable --now ec2lab-serve.service"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains(&format!("nohup {exec}")), "{}", o.stdout);

    // --unit-dir only goes with --install-systemd.
    let o = lab.ec2(&["serve", "--unit-dir", "/tmp"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
}

#[test]
fn help_lists_dry_run_and_hides_the_unsupported_flags_from_short_help() {
    let lab = Lab::new();
    let short = lab.ec2(&["run-instances", "-h"]).stdout;
    assert!(short.contains("--dry-run"), "{short}");
    assert!(!short.contains("--ipv6-address-count"), "{short}");
    let long = lab.ec2(&["run-instances", "--help"]).stdout;
    assert!(long.contains("--ipv6-address-count"), "{long}");
    assert!(long.contains("Not supported by ec2lab"), "{long}");
    let v: Value = lab.ok(&["describe-instance-types", "--instance-types", "t2.micro"]);
    assert_eq!(v["InstanceTypes"].as_array().unwrap().len(), 1);
}

/// A verb with the host's network left alone (`EC2LAB_NETWORKING=off`): the VPC verbs
/// then only change the store.
fn offline(lab: &Lab, args: &[&str]) -> Ec2Out {
    let mut c = lab.cmd(args);
    c.env("EC2LAB_NETWORKING", "off");
    let out = run_with_timeout(c, 60);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    Ec2Out {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stdout,
        stderr: stderr(&out),
    }
}

/// The group's inbound rules as (protocol, from port, CIDR) triples, sorted.
fn ingress(lab: &Lab, group: &str) -> Vec<(String, i64, String)> {
    let o = offline(
        lab,
        &[
            "describe-security-groups",
            "--group-ids",
            group,
            "--query",
            "SecurityGroups[0].IpPermissions",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let mut out = Vec::new();
    for p in o.json.as_array().unwrap() {
        for r in p["IpRanges"].as_array().unwrap() {
            out.push((
                p["IpProtocol"].as_str().unwrap().to_string(),
                p["FromPort"].as_i64().unwrap_or(-1),
                r["CidrIp"].as_str().unwrap().to_string(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn ip_permissions_give_several_rules_at_once() {
    let lab = Lab::new();
    let o = offline(
        &lab,
        &[
            "create-security-group",
            "--group-name",
            "web",
            "--description",
            "w",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let g = o.json["GroupId"].as_str().unwrap().to_string();
    let o = offline(
        &lab,
        &[
            "authorize-security-group-ingress",
            "--group-id",
            &g,
            "--ip-permissions",
            "IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=203.0.113.0/24},{CidrIp=198.51.100.0/24}]",
            r#"[{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]"#,
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let t = |p: &str, port: i64, c: &str| (p.to_string(), port, c.to_string());
    assert_eq!(
        ingress(&lab, &g),
        [
            t("tcp", 22, "198.51.100.0/24"),
            t("tcp", 22, "203.0.113.0/24"),
            t("udp", 53, "10.0.0.0/8")
        ]
    );
    let o = offline(
        &lab,
        &[
            "revoke-security-group-ingress",
            "--group-id",
            &g,
            "--ip-permissions",
            "IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=203.0.113.0/24}]",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        ingress(&lab, &g),
        [t("tcp", 22, "198.51.100.0/24"), t("udp", 53, "10.0.0.0/8")]
    );

    // Not with the simple flags (the aws CLI's words), and what ec2lab lacks is named.
    let o = offline(
        &lab,
        &[
            "authorize-security-group-ingress",
            "--group-id",
            &g,
            "--port",
            "80",
            "--ip-permissions",
            "IpProtocol=tcp,FromPort=80,ToPort=80",
        ],
    );
    assert_eq!(o.code, 252, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("The --port option is not compatible with the --ip-permissions option"),
        "{}",
        o.stderr
    );
    let o = offline(
        &lab,
        &[
            "authorize-security-group-ingress",
            "--group-id",
            &g,
            "--ip-permissions",
            "IpProtocol=tcp,FromPort=443,ToPort=443,Ipv6Ranges=[{CidrIpv6=::/0}]",
        ],
    );
    assert_eq!(o.code, 254, "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "(Unsupported) when calling the AuthorizeSecurityGroupIngress operation: The \
             parameter IpPermissions.1.Ipv6Ranges is not supported by ec2lab"
        ),
        "{}",
        o.stderr
    );
    assert_eq!(
        ingress(&lab, &g),
        [t("tcp", 22, "198.51.100.0/24"), t("udp", 53, "10.0.0.0/8")]
    );
}

/// `offline`, which must fail with EC2's `code` (exit 254).
fn offline_fails(lab: &Lab, args: &[&str], code: &str) {
    let o = offline(lab, args);
    assert_eq!(o.code, 254, "{args:?}: {}{}", o.stderr, o.stdout);
    assert!(
        o.stderr.contains(&format!("({code})")),
        "{args:?}: expected {code}, got {}",
        o.stderr
    );
}

#[test]
fn group_tags_rule_descriptions_names_volume_types_and_placement_work() {
    let lab = Lab::new();
    // create-security-group --tag-specifications: the group is made with its tags.
    let o = offline(
        &lab,
        &[
            "create-security-group",
            "--group-name",
            "tagged",
            "--description",
            "t",
            "--tag-specifications",
            "ResourceType=security-group,Tags=[{Key=Name,Value=tagged-sg}]",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.json["Tags"],
        json!([{"Key": "Name", "Value": "tagged-sg"}])
    );
    let g = o.json["GroupId"].as_str().unwrap().to_string();
    // A rule's range keeps its description.
    let o = offline(
        &lab,
        &[
            "authorize-security-group-ingress",
            "--group-id",
            &g,
            "--ip-permissions",
            "IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=10.0.0.0/8,Description=ssh from the lab}]",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = offline(&lab, &["describe-security-groups", "--group-ids", &g]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let sg = &o.json["SecurityGroups"][0];
    assert_eq!(sg["Tags"], json!([{"Key": "Name", "Value": "tagged-sg"}]));
    assert_eq!(
        sg["IpPermissions"][0]["IpRanges"],
        json!([{"CidrIp": "10.0.0.0/8", "Description": "ssh from the lab"}])
    );
    // delete-security-group --group-name, in the default VPC.
    offline_fails(
        &lab,
        &["delete-security-group", "--group-name", "no-such-group"],
        "InvalidGroup.NotFound",
    );
    let o = offline(&lab, &["delete-security-group", "--group-name", "tagged"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    offline_fails(
        &lab,
        &["describe-security-groups", "--group-ids", &g],
        "InvalidGroup.NotFound",
    );

    // create-volume: every EBS type, with EC2's checks of Iops and Throughput.
    let vol = |args: &[&str]| {
        let mut argv = vec![
            "create-volume",
            "--size",
            "1",
            "--availability-zone",
            "lab-1a",
        ];
        argv.extend_from_slice(args);
        let o = offline(&lab, &argv);
        assert_eq!(o.code, 0, "{argv:?}: {}", o.stderr);
        (
            o.json["VolumeType"].clone(),
            o.json["Iops"].clone(),
            o.json["Throughput"].clone(),
        )
    };
    assert_eq!(
        vol(&["--volume-type", "io2", "--iops", "4000"]),
        (json!("io2"), json!(4000), Value::Null)
    );
    assert_eq!(
        vol(&["--volume-type", "st1"]),
        (json!("st1"), Value::Null, Value::Null)
    );
    assert_eq!(
        vol(&["--volume-type", "gp3", "--throughput", "300"]),
        (json!("gp3"), json!(3000), json!(300))
    );
    let create = [
        "create-volume",
        "--size",
        "1",
        "--availability-zone",
        "lab-1a",
    ];
    for (extra, code) in [
        (
            &["--volume-type", "gp2", "--iops", "100"][..],
            "InvalidParameterCombination",
        ),
        (&["--volume-type", "io1"][..], "InvalidParameterCombination"),
        (
            &["--volume-type", "sc1", "--throughput", "200"][..],
            "InvalidParameterCombination",
        ),
        (
            &["--volume-type", "gp3", "--iops", "100"][..],
            "InvalidParameterValue",
        ),
    ] {
        let argv: Vec<&str> = create.iter().chain(extra).copied().collect();
        offline_fails(&lab, &argv, code);
    }

    // run-instances --placement and the root volume's type, refused before anything is made.
    let run = |extra: &[&str], code: &str| {
        let mut argv = vec!["run-instances", "--image-id", "ami-0123456789abcdef0"];
        argv.extend_from_slice(extra);
        offline_fails(&lab, &argv, code);
    };
    run(
        &["--placement", "AvailabilityZone=lab-1b"],
        "InvalidParameterValue",
    );
    run(&["--placement", "Tenancy=dedicated"], "Unsupported");
    run(
        &[
            "--block-device-mappings",
            "DeviceName=/dev/xvda,Ebs={VolumeType=gp2,Iops=300}",
        ],
        "InvalidParameterCombination",
    );
    // A well-formed launch gets as far as the AMI, which does not exist.
    run(
        &[
            "--placement",
            "AvailabilityZone=lab-1a",
            "--block-device-mappings",
            "DeviceName=/dev/xvda,Ebs={VolumeType=io2,Iops=4000}",
        ],
        "InvalidAMIID.NotFound",
    );
    let o = offline(&lab, &["describe-instances"]);
    assert_eq!(o.json["Reservations"], json!([]), "{}", o.stdout);

    // Malformed ids in the describes the CLI does not check itself.
    offline_fails(
        &lab,
        &["describe-vpcs", "--vpc-ids", "vpc-nothex"],
        "InvalidVpcID.Malformed",
    );
    offline_fails(
        &lab,
        &["describe-subnets", "--subnet-ids", "subnet-nothex"],
        "InvalidSubnetID.Malformed",
    );
    offline_fails(
        &lab,
        &["describe-security-groups", "--group-ids", "sg-nothex"],
        "InvalidGroupId.Malformed",
    );
    offline_fails(
        &lab,
        &["describe-key-pairs", "--key-pair-ids", "key-nothex"],
        "InvalidKeyPairID.Malformed",
    );
}
