//! SNS's message signatures (`SignatureVersion` 1: SHA1withRSA over SNS's canonical
//! string), under a self-signed certificate that `ec2lab serve` serves at the
//! `SigningCertURL`, so a subscriber can check messages as it checks SNS's. One key and
//! certificate per state directory, made on first use (`sns-signing.pem`, mode 0600: the
//! private key, then the certificate).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use base64ct::{Base64, Encoding};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use sha1::Sha1;
use sha2::Sha256;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::EncodePem;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;

use crate::error::Ec2Error;

/// The key and certificate file in the state directory.
pub const FILE: &str = "sns-signing.pem";
/// The certificate's path on `ec2lab serve`'s endpoint (the `SigningCertURL`'s).
pub const CERT_PATH: &str = "/SimpleNotificationService-ec2lab.pem";

const CERT_BEGIN: &str = "-----BEGIN CERTIFICATE-----";

fn failed(what: &str, e: impl std::fmt::Display) -> Ec2Error {
    Ec2Error::internal(format!("SNS's signing key: {what}: {e}"))
}

/// A new key and its self-signed certificate, as the file's text.
fn generate() -> Result<String, Ec2Error> {
    let key =
        RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map_err(|e| failed("generating", e))?;
    let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key())
        .map_err(|e| failed("public key", e))?;
    let subject =
        Name::from_str("CN=sns.ec2lab.invalid,O=ec2lab").map_err(|e| failed("name", e))?;
    let validity = Validity::from_now(Duration::from_secs(20 * 365 * 86_400))
        .map_err(|e| failed("validity", e))?;
    let signer = SigningKey::<Sha256>::new(key.clone());
    let cert = CertificateBuilder::new(
        Profile::Root,
        SerialNumber::from(1u32),
        validity,
        subject,
        spki,
        &signer,
    )
    .map_err(|e| failed("certificate", e))?
    .build::<rsa::pkcs1v15::Signature>()
    .map_err(|e| failed("certificate", e))?;
    let key_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| failed("encoding", e))?;
    let cert_pem = cert
        .to_pem(LineEnding::LF)
        .map_err(|e| failed("encoding", e))?;
    Ok(format!("{}{cert_pem}", key_pem.as_str()))
}

/// The file's text, made first if there is none. Two processes making it at once agree:
/// the first to link its file in wins, and the other reads that one.
fn load(state_dir: &Path) -> Result<String, Ec2Error> {
    let path = state_dir.join(FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok(text);
    }
    let text = generate()?;
    let tmp = state_dir.join(format!(".{FILE}.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(&path)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// The certificate (PEM) messages are signed under, if one has been made.
pub fn certificate_pem(state_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(state_dir.join(FILE)).ok()?;
    text.find(CERT_BEGIN).map(|i| text[i..].to_string())
}

/// The base64 `Signature` of `canonical` (see [`canonical`]).
pub fn sign(state_dir: &Path, canonical: &str) -> Result<String, Ec2Error> {
    let text = load(state_dir)?;
    let key_pem = text.split(CERT_BEGIN).next().unwrap_or_default();
    let key = RsaPrivateKey::from_pkcs8_pem(key_pem).map_err(|e| failed("reading", e))?;
    let sig = SigningKey::<Sha1>::new(key).sign(canonical.as_bytes());
    Ok(Base64::encode_string(&sig.to_bytes()))
}

/// SNS's string to sign: the message's fields that are present, in this order, each as
/// `Name\nvalue\n`; the order and the fields are SNS's for each message type.
pub fn canonical(fields: &[(&str, Option<&str>)]) -> String {
    const ORDER: &[&str] = &[
        "Message",
        "MessageId",
        "Subject",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ];
    let mut out = String::new();
    for name in ORDER {
        if let Some((_, Some(v))) = fields.iter().find(|(k, _)| k == name) {
            out.push_str(name);
            out.push('\n');
            out.push_str(v);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::VerifyingKey;
    use rsa::signature::Verifier;
    use x509_cert::der::DecodePem;

    #[test]
    fn signatures_check_against_the_served_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let text = canonical(&[
            ("Type", Some("Notification")),
            ("MessageId", Some("m")),
            ("TopicArn", Some("arn")),
            ("Subject", None),
            ("Message", Some("hi")),
            ("Timestamp", Some("t")),
        ]);
        assert_eq!(
            text,
            "Message\nhi\nMessageId\nm\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n"
        );
        let sig = sign(dir.path(), &text).unwrap();
        // The key is made once.
        assert_eq!(sign(dir.path(), &text).unwrap(), sig);
        let pem = certificate_pem(dir.path()).unwrap();
        let cert = x509_cert::Certificate::from_pem(pem.as_bytes()).unwrap();
        let spki = cert.tbs_certificate.subject_public_key_info;
        use rsa::pkcs8::DecodePublicKey;
        use x509_cert::der::Encode;
        let public = rsa::RsaPublicKey::from_public_key_der(&spki.to_der().unwrap()).unwrap();
        let raw = Base64::decode_vec(&sig).unwrap();
        let sig = rsa::pkcs1v15::Signature::try_from(raw.as_slice()).unwrap();
        let verifier = VerifyingKey::<Sha1>::new(public);
        verifier.verify(text.as_bytes(), &sig).unwrap();
        assert!(verifier.verify(b"other", &sig).is_err());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
