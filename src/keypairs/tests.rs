//! Formats and fingerprints are checked against the real tools: OpenSSH's ssh-keygen,
//! openssl (the commands AWS's user guide gives for verifying fingerprints) and PuTTY's
//! puttygen.

use super::*;
use crate::ec2::tags::Tag;
use crate::store::Store;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn sh(script: &str) -> String {
    // pipefail: a failing first stage must not hide behind a digest of nothing.
    let out = Command::new("bash")
        .args(["-o", "pipefail", "-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `(stdin)= ab:cd…` or `SHA1(stdin)= ab:cd…`, as openssl versions print it.
fn openssl_digest(script: &str) -> String {
    sh(script).rsplit("= ").next().unwrap().trim().to_string()
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), "lab-1").unwrap();
    (dir, s)
}

/// The key type and base64 of an OpenSSH line, without its comment.
fn key_part(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// OpenSSH derives `public_key` (its type and base64) from the private key in `file`.
fn assert_openssh_derives(file: &Path, public_key: &str) {
    let derived = sh(&format!("ssh-keygen -y -f {}", file.display()));
    assert_eq!(key_part(&derived), key_part(public_key));
}

/// ssh-keygen's SHA-256 fingerprint of the key in `file`, with the padding EC2 adds:
/// ssh-keygen prints "256 SHA256:<unpadded base64> comment (ED25519)".
fn padded_sha256_fingerprint(file: &Path) -> String {
    let l = sh(&format!("ssh-keygen -l -E sha256 -f {}", file.display()));
    let b64 = l
        .split_whitespace()
        .nth(1)
        .unwrap()
        .strip_prefix("SHA256:")
        .unwrap();
    format!("{b64}=")
}

/// A new key made by `ssh-keygen -q {opts} -N ''` in `file`; its public key line.
fn ssh_keygen(file: &Path, opts: &str) -> Vec<u8> {
    sh(&format!("ssh-keygen -q {opts} -N '' -f {}", file.display()));
    std::fs::read(file.with_extension("pub")).unwrap()
}

#[test]
fn created_rsa_pem_is_pkcs1_and_fingerprinted_like_ec2() {
    let (dir, s) = store();
    let file = dir.path().join("k.pem");
    let (kp, pem) = create(
        s.conn(),
        "rsa-key",
        KeyType::Rsa,
        KeyFormat::Pem,
        Some(&file),
    )
    .unwrap();
    assert!(
        pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"),
        "{pem}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), pem);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        kp.private_key_file.as_deref(),
        Some(file.canonicalize().unwrap().as_path())
    );
    // OpenSSH takes it, and derives the public key we recorded.
    assert_openssh_derives(&file, &kp.public_key);
    assert!(kp.public_key.ends_with(" rsa-key"), "{}", kp.public_key);
    // AWS: openssl pkcs8 -in KEY -inform PEM -outform DER -topk8 -nocrypt | openssl sha1 -c
    let expected = openssl_digest(&format!(
        "openssl pkcs8 -in {} -inform PEM -outform DER -topk8 -nocrypt | openssl sha1 -c",
        file.display()
    ));
    assert_eq!(kp.fingerprint, expected);
    assert_eq!(kp.fingerprint.len(), 20 * 3 - 1);
    assert_eq!(KeyPair::get(s.conn(), "rsa-key").unwrap(), kp);
}

#[test]
fn created_ed25519_pem_is_openssh_format_with_a_padded_sha256_fingerprint() {
    let (dir, s) = store();
    let file = dir.path().join("k");
    let (kp, pem) = create(
        s.conn(),
        "ed",
        KeyType::Ed25519,
        KeyFormat::Pem,
        Some(&file),
    )
    .unwrap();
    assert!(
        pem.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
        "{pem}"
    );
    assert!(
        kp.public_key.starts_with("ssh-ed25519 AAAA"),
        "{}",
        kp.public_key
    );
    assert_openssh_derives(&file, &kp.public_key);
    assert_eq!(kp.fingerprint, padded_sha256_fingerprint(&file));
    assert_eq!(kp.key_type, KeyType::Ed25519);
}

#[test]
fn ppk_files_load_in_puttygen_for_both_key_types() {
    let (dir, s) = store();
    for (name, ty) in [("p-rsa", KeyType::Rsa), ("p-ed", KeyType::Ed25519)] {
        let file = dir.path().join(format!("{name}.ppk"));
        let (kp, ppk) = create(s.conn(), name, ty, KeyFormat::Ppk, Some(&file)).unwrap();
        let alg = if ty == KeyType::Rsa {
            "ssh-rsa"
        } else {
            "ssh-ed25519"
        };
        assert!(
            ppk.starts_with(&format!(
                "PuTTY-User-Key-File-2: {alg}\nEncryption: none\nComment: {name}\n"
            )),
            "{ppk}"
        );
        assert!(ppk.lines().last().unwrap().starts_with("Private-MAC: "));
        // Public output reads only the public blob; private output checks the MAC too.
        let public = sh(&format!("puttygen {} -O public-openssh", file.display()));
        assert_eq!(key_part(&public), key_part(&kp.public_key));
        let out = dir.path().join(format!("{name}.openssh"));
        sh(&format!(
            "puttygen {} -O private-openssh -o {}",
            file.display(),
            out.display()
        ));
        assert_openssh_derives(&out, &kp.public_key);
    }
    // A changed comment no longer matches the MAC: puttygen refuses the private key.
    let file = dir.path().join("p-ed.ppk");
    let text = std::fs::read_to_string(&file).unwrap();
    let bad = dir.path().join("bad.ppk");
    std::fs::write(&bad, text.replace("Comment: p-ed", "Comment: p-eX")).unwrap();
    let st = Command::new("puttygen")
        .arg(&bad)
        .args(["-O", "private-openssh", "-o"])
        .arg(dir.path().join("bad.openssh"))
        .output()
        .unwrap();
    assert!(!st.status.success());
}

#[test]
fn imported_rsa_is_md5_of_the_der_public_key_in_both_formats() {
    let (dir, s) = store();
    let k = dir.path().join("id_rsa");
    let line = ssh_keygen(&k, "-t rsa -b 2048 -C me@host");
    let kp = import(s.conn(), "imp", &line, &[]).unwrap();
    // AWS: ssh-keygen -ef KEY -m PEM | openssl rsa -RSAPublicKey_in -outform DER | openssl md5 -c
    let expected = openssl_digest(&format!(
        "ssh-keygen -ef {}.pub -m PEM | openssl rsa -RSAPublicKey_in -outform DER 2>/dev/null | openssl md5 -c",
        k.display()
    ));
    assert_eq!(kp.fingerprint, expected);
    assert_eq!(kp.key_type, KeyType::Rsa);
    assert_eq!(
        key_part(&kp.public_key),
        key_part(std::str::from_utf8(&line).unwrap())
    );
    assert!(kp.public_key.ends_with(" imp"));
    assert_eq!(kp.private_key_file, None);
    // The same key in RFC 4716 (SSH2) format, as `ssh-keygen -e` writes it.
    let rfc = sh(&format!("ssh-keygen -e -f {}.pub", k.display()));
    assert!(rfc.starts_with("---- BEGIN SSH2 PUBLIC KEY ----"), "{rfc}");
    let kp2 = import(s.conn(), "imp2", rfc.as_bytes(), &[]).unwrap();
    assert_eq!(kp2.fingerprint, kp.fingerprint);
    assert_eq!(key_part(&kp2.public_key), key_part(&kp.public_key));
}

#[test]
fn imported_ed25519_matches_ssh_keygen() {
    let (dir, s) = store();
    let k = dir.path().join("id_ed25519");
    let line = ssh_keygen(&k, "-t ed25519");
    let kp = import(s.conn(), "e", &line, &[Tag::new("team", "a")]).unwrap();
    assert_eq!(
        kp.fingerprint,
        padded_sha256_fingerprint(&k.with_extension("pub"))
    );
    assert_eq!(KeyPair::get(s.conn(), "e").unwrap().tag("team"), Some("a"));
}

#[test]
fn bad_material_short_rsa_and_other_key_types_are_invalid_key_format() {
    let (dir, s) = store();
    let code = |m: &[u8]| import(s.conn(), "x", m, &[]).unwrap_err().code;
    assert_eq!(code(b"hello"), "InvalidKey.Format");
    assert_eq!(code(b"ssh-ed25519 AAAAnotbase64!!"), "InvalidKey.Format");
    assert_eq!(code(&[0xff, 0xfe, 0x00]), "InvalidKey.Format");
    assert_eq!(
        code(b"---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n"),
        "InvalidKey.Format"
    );
    let short = ssh_keygen(&dir.path().join("short"), "-t rsa -b 1024");
    let e = import(s.conn(), "x", &short, &[]).unwrap_err();
    assert_eq!(e.code, "InvalidKey.Format");
    assert!(e.message.contains("1024 bits"), "{}", e.message);
    let ec = ssh_keygen(&dir.path().join("ec"), "-t ecdsa");
    let e = import(s.conn(), "x", &ec, &[]).unwrap_err();
    assert_eq!(e.code, "InvalidKey.Format");
    assert!(all(s.conn()).unwrap().is_empty(), "nothing was recorded");
}

#[test]
fn names_are_unique_checked_and_deleting_is_idempotent() {
    let (dir, s) = store();
    create(s.conn(), "a", KeyType::Ed25519, KeyFormat::Pem, None).unwrap();
    let e = create(s.conn(), "a", KeyType::Ed25519, KeyFormat::Pem, None).unwrap_err();
    assert_eq!(e.code, "InvalidKeyPair.Duplicate");
    assert_eq!(e.message, "The keypair 'a' already exists.");
    for bad in ["", "tab\there", "é", &"n".repeat(256)] {
        let e = create(s.conn(), bad, KeyType::Ed25519, KeyFormat::Pem, None).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue", "{bad:?}");
    }
    create(
        s.conn(),
        &"n".repeat(255),
        KeyType::Ed25519,
        KeyFormat::Pem,
        None,
    )
    .unwrap();
    assert_eq!(
        KeyPair::get(s.conn(), "zz").unwrap_err().code,
        "InvalidKeyPair.NotFound"
    );
    // An existing output file is never overwritten, and nothing is recorded.
    let f = dir.path().join("exists");
    std::fs::write(&f, "mine").unwrap();
    let e = create(s.conn(), "b", KeyType::Ed25519, KeyFormat::Pem, Some(&f)).unwrap_err();
    assert!(e.message.contains("already exists"), "{}", e.message);
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "mine");
    assert!(KeyPair::find(s.conn(), "b").unwrap().is_none());
    // Delete removes the record only; a missing name is not an error.
    let kf = dir.path().join("c.pem");
    create(s.conn(), "c", KeyType::Ed25519, KeyFormat::Pem, Some(&kf)).unwrap();
    assert!(delete(s.conn(), "c").unwrap().is_some());
    assert!(kf.exists());
    assert!(delete(s.conn(), "c").unwrap().is_none());
    assert_eq!(all(s.conn()).unwrap().len(), 2);
}

#[test]
fn helpers() {
    assert_eq!(mpint_bits(&[0x00, 0x80, 0]), 16);
    assert_eq!(mpint_bits(&[0x01]), 1);
    assert_eq!(colon_hex(&[0xab, 0x01]), "ab:01");
    assert_eq!(
        KeyType::parse("dsa").unwrap_err().code,
        "InvalidParameterValue"
    );
    assert_eq!(
        KeyFormat::parse("der").unwrap_err().code,
        "InvalidParameterValue"
    );
}
