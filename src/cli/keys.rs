//! The key pair verbs, shaped like `aws ec2`'s: create-key-pair, import-key-pair,
//! describe-key-pairs, delete-key-pair.

use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};

use super::ctx::{filters_from, tags_for, Ctx, Failure};
use super::shorthand;
use crate::error::Ec2Error;
use crate::instances::glob;
use crate::keypairs::{self, KeyFormat, KeyPair, KeyType};

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab create-key-pair --key-name web --output-file ~/.ssh/web.pem\n  \
  ec2lab create-key-pair --key-name web2 --key-type ed25519 --query KeyMaterial --output text > web2.pem\n  \
  ec2lab create-key-pair --key-name win --key-format ppk --output-file win.ppk\n\n  \
  The private key is shown once (KeyMaterial) and ec2lab keeps only the public key.\n  \
  --output-file (an ec2lab extension) also writes it to a new file with mode 0600, and\n  \
  `ec2lab ssh` then uses that file by default. Formats: rsa pem = PKCS#1\n  \
  (BEGIN RSA PRIVATE KEY), ed25519 pem = OpenSSH private key, ppk = PuTTY (version 2).")]
/// Create a key pair; prints its private key.
pub struct CreateKeyPair {
    /// A unique name, up to 255 ASCII characters.
    #[arg(long)]
    pub key_name: String,
    /// rsa (2048 bits) or ed25519.
    #[arg(long, default_value = "rsa")]
    pub key_type: String,
    /// pem (for OpenSSH) or ppk (for PuTTY).
    #[arg(long, default_value = "pem")]
    pub key_format: String,
    /// Tags, e.g. 'ResourceType=key-pair,Tags=[{Key=team,Value=web}]'.
    #[arg(long, num_args = 1..)]
    pub tag_specifications: Vec<String>,
    /// ec2lab extension: also write the private key to this new file (mode 0600).
    #[arg(long)]
    pub output_file: Option<PathBuf>,
    /// Print only this top-level field of the result (e.g. KeyMaterial).
    #[arg(long)]
    pub query: Option<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab import-key-pair --key-name laptop --public-key-material fileb://~/.ssh/id_ed25519.pub\n  \
  ec2lab import-key-pair --key-name laptop2 --public-key-material \"$(base64 -w0 ~/.ssh/id_rsa.pub)\"\n\n  \
  Takes OpenSSH public keys (ssh-ed25519, ssh-rsa of at least 2048 bits) and RFC 4716\n  \
  (SSH2) files, as `ssh-keygen -e` writes them. As with the AWS CLI, an inline value is the\n  \
  base64 of the key file; fileb:// (or file://) reads the file itself.")]
/// Import a public key you made (the private key never leaves your machine).
pub struct ImportKeyPair {
    #[arg(long)]
    pub key_name: String,
    /// fileb://PATH, file://PATH, or the base64 of the key file's contents.
    #[arg(long)]
    pub public_key_material: String,
    /// Tags, e.g. 'ResourceType=key-pair,Tags=[{Key=team,Value=web}]'.
    #[arg(long, num_args = 1..)]
    pub tag_specifications: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab describe-key-pairs\n  \
  ec2lab describe-key-pairs --key-names web --include-public-key\n  \
  ec2lab describe-key-pairs --filters 'Name=key-name,Values=web*' --output table\n  \
  ec2lab describe-key-pairs --filters Name=tag:team,Values=web\n\n  \
  Fingerprints are EC2's: created RSA = SHA-1 of the PKCS#8 private key; imported RSA =\n  \
  MD5 of the DER public key; ed25519 = base64 SHA-256 of the key blob (as ssh-keygen -l\n  \
  prints it, with EC2's '=' padding).")]
/// Describe key pairs.
pub struct DescribeKeyPairs {
    #[arg(long, num_args = 1..)]
    pub key_names: Vec<String>,
    #[arg(long, num_args = 1..)]
    pub key_pair_ids: Vec<String>,
    /// Filters: Name=key-name|key-pair-id|fingerprint|key-type|tag:KEY|tag-key,Values=V1,V2
    #[arg(long, num_args = 1..)]
    pub filters: Vec<String>,
    /// Include each pair's OpenSSH public key (PublicKey).
    #[arg(long)]
    pub include_public_key: bool,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab delete-key-pair --key-name web\n  \
  ec2lab delete-key-pair --key-pair-id key-0123456789abcdef0\n\n  \
  Deletes ec2lab's record only: a private key file you keep is not touched, and instances\n  \
  launched with the pair keep it. As on EC2, deleting a pair that does not exist succeeds.")]
/// Delete a key pair.
pub struct DeleteKeyPair {
    #[arg(
        long,
        conflicts_with = "key_pair_id",
        required_unless_present = "key_pair_id"
    )]
    pub key_name: Option<String>,
    #[arg(long)]
    pub key_pair_id: Option<String>,
}

fn tag_list(tags: &[(String, String)]) -> Value {
    json!(tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect::<Vec<_>>())
}

pub fn create_key_pair(ctx: &Ctx, a: CreateKeyPair) -> Result<Value, Failure> {
    let key_type = KeyType::parse(&a.key_type)?;
    let format = KeyFormat::parse(&a.key_format)?;
    let tags = tags_for(&a.tag_specifications, "key-pair")?;
    let mut s = ctx.store()?;
    let (kp, material) = s.write(|tx| {
        keypairs::create_with_tags(
            tx,
            &a.key_name,
            key_type,
            format,
            a.output_file.as_deref(),
            &tags,
        )
    })?;
    let mut v = json!({
        "KeyFingerprint": kp.fingerprint,
        "KeyMaterial": material,
        "KeyName": kp.key_name,
        "KeyPairId": kp.key_pair_id,
    });
    if !kp.tags.is_empty() {
        v["Tags"] = tag_list(&kp.tags);
    }
    query(v, a.query.as_deref())
}

/// `--query FIELD`: the one JMESPath form scripts use with create-key-pair
/// (`--query KeyMaterial --output text > key.pem`).
fn query(v: Value, field: Option<&str>) -> Result<Value, Failure> {
    match field {
        None => Ok(v),
        Some(f) => v.get(f).cloned().ok_or_else(|| {
            Failure::Param(format!(
                "Error parsing parameter '--query': ec2lab's --query takes one top-level field \
                 of the result (e.g. KeyMaterial); '{f}' is not one"
            ))
        }),
    }
}

/// The key file's bytes: fileb:// and file:// read the file; an inline value is base64,
/// as the AWS CLI takes blob parameters.
fn material(value: &str) -> Result<Vec<u8>, Failure> {
    if value.starts_with("fileb://") || value.starts_with("file://") {
        let file_value = value.replacen("file://", "fileb://", 1);
        return Ok(shorthand::load_param(&file_value)
            .map_err(|e| e.with_param("--public-key-material"))?
            .into_bytes());
    }
    use base64ct::{Base64, Encoding};
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    Base64::decode_vec(&compact).map_err(|_| {
        Failure::Param(format!(
            "Invalid base64: \"{value}\"\n\nPass the key file with fileb://PATH, or the base64 of \
             its contents"
        ))
    })
}

pub fn import_key_pair(ctx: &Ctx, a: ImportKeyPair) -> Result<Value, Failure> {
    let bytes = material(&a.public_key_material)?;
    let tags = tags_for(&a.tag_specifications, "key-pair")?;
    let mut s = ctx.store()?;
    let kp = s.write(|tx| keypairs::import(tx, &a.key_name, &bytes, &tags))?;
    let mut v = json!({
        "KeyFingerprint": kp.fingerprint,
        "KeyName": kp.key_name,
        "KeyPairId": kp.key_pair_id,
    });
    if !kp.tags.is_empty() {
        v["Tags"] = tag_list(&kp.tags);
    }
    Ok(v)
}

fn matches(kp: &KeyPair, name: &str, values: &[String]) -> Result<bool, Ec2Error> {
    let any = |v: Option<&str>| v.is_some_and(|v| values.iter().any(|p| glob(p, v)));
    Ok(match name {
        "key-name" => any(Some(&kp.key_name)),
        "key-pair-id" => any(Some(&kp.key_pair_id)),
        "fingerprint" => any(Some(&kp.fingerprint)),
        "key-type" => any(Some(kp.key_type.as_str())),
        "tag-key" => kp.tags.iter().any(|(k, _)| any(Some(k))),
        n if n.starts_with("tag:") => any(kp.tag(&n[4..])),
        other => {
            return Err(Ec2Error::invalid_parameter(format!(
                "The filter '{other}' is invalid; use key-name, key-pair-id, fingerprint, \
                 key-type, tag-key or tag:<key>"
            )))
        }
    })
}

pub fn describe_key_pairs(ctx: &Ctx, a: DescribeKeyPairs) -> Result<Value, Failure> {
    let filters = filters_from(&a.filters)?;
    let s = ctx.store()?;
    let all = keypairs::all(s.conn())?;
    // As on EC2, naming a pair that does not exist is an error, not an empty list.
    for n in &a.key_names {
        if !all.iter().any(|k| &k.key_name == n) {
            return Err(keypairs::not_found(n).into());
        }
    }
    for id in &a.key_pair_ids {
        if !all.iter().any(|k| &k.key_pair_id == id) {
            return Err(keypairs::id_not_found(id).into());
        }
    }
    let mut out = Vec::new();
    for kp in &all {
        if !a.key_names.is_empty() && !a.key_names.contains(&kp.key_name) {
            continue;
        }
        if !a.key_pair_ids.is_empty() && !a.key_pair_ids.contains(&kp.key_pair_id) {
            continue;
        }
        let mut keep = true;
        for f in &filters {
            keep &= matches(kp, &f.name, &f.values)?;
        }
        if keep {
            out.push(kp.describe(a.include_public_key));
        }
    }
    Ok(json!({ "KeyPairs": out }))
}

pub fn delete_key_pair(ctx: &Ctx, a: DeleteKeyPair) -> Result<Value, Failure> {
    let mut s = ctx.store()?;
    let gone = s.write(|tx| match (&a.key_name, &a.key_pair_id) {
        (Some(n), _) => keypairs::delete(tx, n),
        (None, Some(id)) => keypairs::delete_by_id(tx, id),
        (None, None) => Err(Ec2Error::missing_parameter("KeyName or KeyPairId")),
    })?;
    let mut v = json!({"Return": true});
    if let Some(kp) = gone {
        v["KeyPairId"] = json!(kp.key_pair_id);
    }
    Ok(v)
}
