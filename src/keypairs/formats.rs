//! Key formats and fingerprints, exactly as EC2 and the tools make them: OpenSSH public
//! key lines (and RFC 4716 for import), EC2's three fingerprints (MD5 of the DER public key
//! for imported RSA, SHA-1 of the PKCS#8 private key for created RSA, SHA-256 of the blob
//! for ed25519), and PuTTY's PPK.

use std::fmt::Write as _;

use base64ct::{Base64, Encoding};
use hmac::{Hmac, Mac};
use md5::Md5;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use ssh_key::private::KeypairData;
use ssh_key::{PrivateKey, PublicKey};

use crate::error::Ec2Error;

/// EC2's message for public key material it cannot use.
pub(super) const BAD_FORMAT: &str = "Key is not in valid OpenSSH public key format";

/// A failure of the cryptography crates, which a user cannot fix: an internal error.
pub(super) fn crypto_err(what: &str, e: impl std::fmt::Display) -> Ec2Error {
    Ec2Error::internal(format!("{what} failed: {e}"))
}

pub(super) fn openssh_line(public: &PublicKey, name: &str) -> Result<String, Ec2Error> {
    let mut p = public.clone();
    p.set_comment(name);
    p.to_openssh()
        .map_err(|e| crypto_err("OpenSSH public key encoding", e))
}

/// Parses public key material as EC2's ImportKeyPair does: OpenSSH one-line or RFC 4716.
pub fn parse_public_key(material: &[u8]) -> Result<PublicKey, Ec2Error> {
    let bad = || Ec2Error::new("InvalidKey.Format", BAD_FORMAT);
    let text = std::str::from_utf8(material).map_err(|_| bad())?.trim();
    if text.starts_with("---- BEGIN SSH2 PUBLIC KEY ----") {
        let blob = rfc4716_blob(text).ok_or_else(bad)?;
        return PublicKey::from_bytes(&blob).map_err(|_| bad());
    }
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    match (lines.next(), lines.next()) {
        (Some(line), None) => PublicKey::from_openssh(line).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// The key blob of an RFC 4716 public key file: headers (`Tag: value`, continued by a
/// trailing backslash) then base64 lines between the BEGIN and END markers.
pub(super) fn rfc4716_blob(text: &str) -> Option<Vec<u8>> {
    let mut lines = text.lines().map(str::trim_end);
    if lines.next()?.trim() != "---- BEGIN SSH2 PUBLIC KEY ----" {
        return None;
    }
    let mut body = String::new();
    let mut continued = false;
    let mut ended = false;
    for line in lines {
        if line.trim() == "---- END SSH2 PUBLIC KEY ----" {
            ended = true;
            break;
        }
        if continued || (body.is_empty() && line.contains(':')) {
            continued = line.ends_with('\\');
            continue;
        }
        body.push_str(line.trim());
    }
    if !ended || body.is_empty() {
        return None;
    }
    Base64::decode_vec(&body).ok()
}

/// Bits of a big-endian unsigned integer.
pub(super) fn mpint_bits(bytes: &[u8]) -> usize {
    let bytes = match bytes.iter().position(|&b| b != 0) {
        Some(i) => &bytes[i..],
        None => return 0,
    };
    bytes.len() * 8 - bytes[0].leading_zeros() as usize
}

pub(super) fn colon_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// EC2's fingerprint of an RSA key it created: SHA-1 of the DER PKCS#8 private key
/// (`openssl pkcs8 -topk8 -nocrypt -outform DER | openssl sha1 -c`).
pub fn created_rsa_fingerprint(key: &rsa::RsaPrivateKey) -> Result<String, Ec2Error> {
    let der = key
        .to_pkcs8_der()
        .map_err(|e| crypto_err("PKCS#8 encoding", e))?;
    Ok(colon_hex(&Sha1::digest(der.as_bytes())))
}

/// EC2's fingerprint of an imported RSA key: MD5 of the DER SubjectPublicKeyInfo
/// (`openssl rsa -pubout -outform DER | openssl md5 -c`). AWS's API reference says
/// "RFC 4716 section 4" (the SSH blob), but EC2 hashes the DER, as its user guide's
/// verification commands show.
pub fn imported_rsa_fingerprint(key: &rsa::RsaPublicKey) -> Result<String, Ec2Error> {
    let der = key
        .to_public_key_der()
        .map_err(|e| crypto_err("SubjectPublicKeyInfo encoding", e))?;
    Ok(colon_hex(&Md5::digest(der.as_bytes())))
}

/// EC2's ed25519 fingerprint, created or imported: base64 of SHA-256 of the OpenSSH key
/// blob. It is `ssh-keygen -l -E sha256`'s value, but EC2 keeps the `=` padding and has no
/// `SHA256:` prefix.
pub fn ed25519_fingerprint(blob: &[u8]) -> String {
    Base64::encode_string(&Sha256::digest(blob))
}

/// The SSH wire encoding of a string (or an mpint's bytes): a u32 length, then the bytes.
pub(super) fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A PuTTY private key file, version 2, unencrypted. Version 2 because every PuTTY and
/// WinSCP release reads it (version 3, from PuTTY 0.75, changes only the passphrase hashing,
/// which an unencrypted file does not use).
pub fn ppk(private: &PrivateKey, comment: &str) -> Result<String, Ec2Error> {
    let algorithm = private.algorithm().to_string();
    let public_blob = private
        .public_key()
        .to_bytes()
        .map_err(|e| crypto_err("public key encoding", e))?;
    let mut private_blob = Vec::new();
    match private.key_data() {
        KeypairData::Rsa(k) => {
            for m in [&k.private.d, &k.private.p, &k.private.q, &k.private.iqmp] {
                put_string(&mut private_blob, m.as_bytes());
            }
        }
        // PuTTY stores the 32-byte seed as a string (its "private exponent", little-endian).
        KeypairData::Ed25519(k) => put_string(&mut private_blob, k.private.as_ref()),
        _ => return Err(Ec2Error::internal("PPK: only rsa and ed25519 keys")),
    }
    let mac = ppk_v2_mac(&algorithm, "none", comment, &public_blob, &private_blob);
    let mut out = String::new();
    let _ = writeln!(out, "PuTTY-User-Key-File-2: {algorithm}");
    let _ = writeln!(out, "Encryption: none");
    let _ = writeln!(out, "Comment: {comment}");
    for (label, blob) in [("Public", &public_blob), ("Private", &private_blob)] {
        let b64 = Base64::encode_string(blob);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        let _ = writeln!(out, "{label}-Lines: {}", lines.len());
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
    }
    let _ = writeln!(out, "Private-MAC: {}", hex(&mac));
    Ok(out)
}

/// PPK v2's MAC: HMAC-SHA-1 keyed with SHA-1("putty-private-key-file-mac-key" +
/// passphrase), over the algorithm, encryption, comment and both blobs as SSH strings.
pub fn ppk_v2_mac(
    algorithm: &str,
    encryption: &str,
    comment: &str,
    public_blob: &[u8],
    private_blob: &[u8],
) -> Vec<u8> {
    let key = Sha1::digest(b"putty-private-key-file-mac-key");
    let mut data = Vec::new();
    for part in [
        algorithm.as_bytes(),
        encryption.as_bytes(),
        comment.as_bytes(),
        public_blob,
        private_blob,
    ] {
        put_string(&mut data, part);
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(&data);
    mac.finalize().into_bytes().to_vec()
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
