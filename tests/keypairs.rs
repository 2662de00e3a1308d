//! Key pairs through the CLI: create, import, describe, delete with EC2's shapes and
//! errors, private key files, and run-instances refusing a key pair that does not exist.
//! No guest is started.

mod common;
use common::*;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn sh(script: &str) -> String {
    // pipefail: a failing first stage must not hide behind a digest of nothing.
    let out = Command::new("bash")
        .arg("-o")
        .arg("pipefail")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(out.status.success(), "{script}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// How many key pairs describe-key-pairs lists.
fn key_pair_count(lab: &Lab) -> usize {
    lab.ok(&["describe-key-pairs"])["KeyPairs"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn create_describe_delete_like_aws() {
    let lab = Lab::new();
    let c = lab.ok(&["create-key-pair", "--key-name", "web"]);
    let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["KeyFingerprint", "KeyMaterial", "KeyName", "KeyPairId"]
    );
    assert!(c["KeyMaterial"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert_eq!(c["KeyName"], "web");
    let id = c["KeyPairId"].as_str().unwrap().to_string();
    assert!(id.starts_with("key-") && id.len() == 4 + 17, "{id}");
    // SHA-1: 20 bytes as colon hex.
    assert_eq!(c["KeyFingerprint"].as_str().unwrap().len(), 59);

    let d = lab.ok(&["describe-key-pairs"]);
    let kp = &d["KeyPairs"][0];
    assert_eq!(kp["KeyPairId"], id.as_str());
    assert_eq!(kp["KeyType"], "rsa");
    assert_eq!(kp["KeyFingerprint"], c["KeyFingerprint"]);
    assert_eq!(kp["Tags"], serde_json::json!([]));
    assert!(kp["CreateTime"].as_str().unwrap().ends_with('Z'));
    assert!(kp.get("PublicKey").is_none());
    let d = lab.ok(&[
        "describe-key-pairs",
        "--key-names",
        "web",
        "--include-public-key",
    ]);
    let public = d["KeyPairs"][0]["PublicKey"].as_str().unwrap();
    assert!(
        public.starts_with("ssh-rsa AAAA") && public.ends_with(" web"),
        "{public}"
    );

    // Duplicate name: EC2's code and wording, through the AWS CLI's error line.
    let msg = lab.fails(
        &[
            "create-key-pair",
            "--key-name",
            "web",
            "--key-type",
            "ed25519",
        ],
        "InvalidKeyPair.Duplicate",
    );
    assert!(
        msg.contains(
            "An error occurred (InvalidKeyPair.Duplicate) when calling the CreateKeyPair operation: The keypair 'web' already exists."
        ),
        "{msg}"
    );

    let del = lab.ok(&["delete-key-pair", "--key-name", "web"]);
    assert_eq!(del["Return"], true);
    assert_eq!(del["KeyPairId"], id.as_str());
    assert_eq!(key_pair_count(&lab), 0);
    // As on EC2, deleting a name that does not exist succeeds.
    let del = lab.ok(&["delete-key-pair", "--key-name", "web"]);
    assert_eq!(del, serde_json::json!({"Return": true}));
    let e = lab.ec2(&["describe-key-pairs", "--key-names", "web"]);
    assert!(
        e.stderr.contains("(InvalidKeyPair.NotFound)") && e.stderr.contains("'web'"),
        "{}",
        e.stderr
    );
}

#[test]
fn bad_type_format_and_name_are_invalid_parameter_values() {
    let lab = Lab::new();
    for args in [
        &["create-key-pair", "--key-name", "a", "--key-type", "dsa"][..],
        &["create-key-pair", "--key-name", "a", "--key-format", "der"],
        &["create-key-pair", "--key-name", ""],
        &["create-key-pair", "--key-name", &"x".repeat(256)],
    ] {
        lab.fails(args, "InvalidParameterValue");
    }
    assert_eq!(key_pair_count(&lab), 0);
}

#[test]
fn output_file_is_0600_never_overwritten_and_readable_by_openssh() {
    let lab = Lab::new();
    let file = lab.state_dir().join("web.pem");
    let f = file.to_str().unwrap();
    let c = lab.ok(&[
        "create-key-pair",
        "--key-name",
        "ed",
        "--key-type",
        "ed25519",
        "--output-file",
        f,
        "--tag-specifications",
        "ResourceType=key-pair,Tags=[{Key=team,Value=web}]",
    ]);
    assert_eq!(c["Tags"][0]["Key"], "team");
    let pem = std::fs::read_to_string(&file).unwrap();
    assert_eq!(pem, c["KeyMaterial"].as_str().unwrap());
    assert!(pem.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let d = lab.ok(&["describe-key-pairs", "--include-public-key"]);
    assert_eq!(
        openssh_public_key(&file),
        key_part(d["KeyPairs"][0]["PublicKey"].as_str().unwrap())
    );
    // ed25519: base64 SHA-256 with EC2's padding.
    assert!(c["KeyFingerprint"].as_str().unwrap().ends_with('='));

    // An existing file is refused and nothing is recorded.
    let e = lab.ec2(&["create-key-pair", "--key-name", "again", "--output-file", f]);
    assert_eq!(e.code, 254);
    assert!(e.stderr.contains("already exists"), "{}", e.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), pem);
    assert_eq!(key_pair_count(&lab), 1);

    // --query KeyMaterial --output text: the way AWS's guide saves a key.
    let o = lab.ec2(&[
        "--output",
        "text",
        "create-key-pair",
        "--key-name",
        "q",
        "--key-type",
        "ed25519",
        "--query",
        "KeyMaterial",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"),
        "{}",
        o.stdout
    );

    // Deleting the pair keeps the user's file.
    lab.ok(&["delete-key-pair", "--key-name", "ed"]);
    assert!(file.exists());
}

#[test]
fn import_takes_files_and_base64_and_refuses_bad_material() {
    let lab = Lab::new();
    let k = lab.state_dir().join("id_rsa");
    // PEM (PKCS#1), so that openssl can read the private key below.
    sh(&format!(
        "ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -f {}",
        k.display()
    ));
    let pubf = format!("{}.pub", k.display());
    let v = lab.ok(&[
        "import-key-pair",
        "--key-name",
        "laptop",
        "--public-key-material",
        &format!("fileb://{pubf}"),
    ]);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["KeyFingerprint", "KeyName", "KeyPairId"]);
    // AWS's check for an imported RSA key: MD5 of the DER public key.
    let expected = sh(&format!(
        "openssl rsa -in {} -pubout -outform DER | openssl md5 -c",
        k.display()
    ));
    assert_eq!(
        v["KeyFingerprint"].as_str().unwrap(),
        expected.rsplit("= ").next().unwrap().trim()
    );
    // Inline: base64 of the file, as the AWS CLI takes blobs.
    let b64 = sh(&format!("base64 -w0 {pubf}"));
    let v2 = lab.ok(&[
        "import-key-pair",
        "--key-name",
        "laptop-b64",
        "--public-key-material",
        &b64,
    ]);
    assert_eq!(v2["KeyFingerprint"], v["KeyFingerprint"]);
    // The fingerprint filter finds both.
    let d = lab.ok(&[
        "describe-key-pairs",
        "--filters",
        &format!(
            "Name=fingerprint,Values={}",
            v["KeyFingerprint"].as_str().unwrap()
        ),
    ]);
    assert_eq!(d["KeyPairs"].as_array().unwrap().len(), 2);
    let d = lab.ok(&[
        "describe-key-pairs",
        "--filters",
        "Name=key-name,Values=*b64",
    ]);
    assert_eq!(d["KeyPairs"][0]["KeyName"], "laptop-b64");
    let d = lab.ok(&[
        "describe-key-pairs",
        "--key-pair-ids",
        v["KeyPairId"].as_str().unwrap(),
    ]);
    assert_eq!(d["KeyPairs"][0]["KeyName"], "laptop");

    // Not a key: EC2's InvalidKey.Format, and nothing recorded.
    let junk = lab.state_dir().join("junk.pub");
    std::fs::write(&junk, "ssh-rsa not-a-key\n").unwrap();
    let msg = lab.fails(
        &[
            "import-key-pair",
            "--key-name",
            "junk",
            "--public-key-material",
            &format!("fileb://{}", junk.display()),
        ],
        "InvalidKey.Format",
    );
    assert!(
        msg.contains("Key is not in valid OpenSSH public key format"),
        "{msg}"
    );
    // Not base64 inline: the AWS CLI's parameter error.
    let e = lab.ec2(&[
        "import-key-pair",
        "--key-name",
        "junk",
        "--public-key-material",
        "ssh-rsa !!",
    ]);
    assert_eq!(e.code, 252, "{}", e.stderr);
    assert!(e.stderr.contains("Invalid base64"), "{}", e.stderr);
    assert_eq!(key_pair_count(&lab), 2);

    // Table and text output work on the shape.
    let t = lab.ec2(&["--output", "table", "describe-key-pairs"]);
    assert_eq!(t.code, 0, "{}", t.stderr);
    assert!(t.stdout.contains("DescribeKeyPairs") && t.stdout.contains("laptop"));
    let t = lab.ec2(&["--output", "text", "describe-key-pairs"]);
    assert!(t.stdout.contains("KEYPAIRS"), "{}", t.stdout);

    // Deleting by id.
    lab.ok(&[
        "delete-key-pair",
        "--key-pair-id",
        v["KeyPairId"].as_str().unwrap(),
    ]);
    let d = lab.ok(&["describe-key-pairs"]);
    assert_eq!(d["KeyPairs"][0]["KeyName"], "laptop-b64");
    assert_eq!(d["KeyPairs"].as_array().unwrap().len(), 1);
}

#[test]
fn run_instances_with_a_missing_key_pair_is_not_found_and_changes_nothing() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny", TinyOs::StayUp);
    let msg = lab.fails(
        &["run-instances", "--image-id", &ami, "--key-name", "nope"],
        "InvalidKeyPair.NotFound",
    );
    assert!(
        msg.contains(
            "(InvalidKeyPair.NotFound) when calling the RunInstances operation: The key pair 'nope' does not exist"
        ),
        "{msg}"
    );
    assert_eq!(
        lab.ok(&["describe-instances"])["Reservations"],
        serde_json::json!([])
    );
    assert_eq!(
        lab.ok(&["describe-volumes"])["Volumes"],
        serde_json::json!([])
    );
}

#[test]
fn ssh_needs_a_known_running_instance() {
    let lab = Lab::new();
    lab.fails(
        &["ssh", "i-0123456789abcdef0"],
        "InvalidInstanceID.NotFound",
    );
    lab.fails(&["ssh", "web"], "InvalidInstanceID.Malformed");
}
