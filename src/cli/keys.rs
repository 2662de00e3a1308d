//! The key pair verbs, shaped like `aws ec2`'s: create-key-pair, import-key-pair,
//! describe-key-pairs, delete-key-pair.

use std::path::PathBuf;

use clap::Args;
use serde_json::Value;

use super::ctx::{filters_from, tag_specifications, to_json, Ctx, Failure};
use super::shorthand;
use crate::ec2::shapes::keys::{
    CreateKeyPairRequest, DeleteKeyPairRequest, DescribeKeyPairsRequest, ImportKeyPairRequest,
};
use crate::keypairs;

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
    /// A unique name, up to 255 ASCII characters.
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
    /// Only these pairs, by name.
    #[arg(long, num_args = 1..)]
    pub key_names: Vec<String>,
    /// Only these pairs, by id (key-…).
    #[arg(long, num_args = 1..)]
    pub key_pair_ids: Vec<String>,
    /// Filters: Name=key-name|key-pair-id|fingerprint|key-type|tag:KEY|tag-key|tag-value,Values=V1,V2
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
    /// The pair's name.
    pub key_name: Option<String>,
    /// The pair's id (key-…).
    #[arg(long)]
    pub key_pair_id: Option<String>,
}

/// create-key-pair (`--query KeyMaterial --output text > key.pem` prints only the key).
pub fn create_key_pair(ctx: &Ctx, a: CreateKeyPair) -> Result<Value, Failure> {
    let req = CreateKeyPairRequest {
        key_name: a.key_name,
        key_type: a.key_type,
        key_format: a.key_format,
        tag_specifications: tag_specifications(&a.tag_specifications)?,
    };
    ctx.answer_dry_run(&req)?;
    let kp = keypairs::create_key_pair(&mut ctx.store()?, &req, a.output_file.as_deref())?;
    to_json(&kp)
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

/// import-key-pair.
pub fn import_key_pair(ctx: &Ctx, a: ImportKeyPair) -> Result<Value, Failure> {
    let req = ImportKeyPairRequest {
        public_key_material: material(&a.public_key_material)?,
        key_name: a.key_name,
        tag_specifications: tag_specifications(&a.tag_specifications)?,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&keypairs::import_key_pair(&mut ctx.store()?, &req)?)
}

/// describe-key-pairs.
pub fn describe_key_pairs(ctx: &Ctx, a: DescribeKeyPairs) -> Result<Value, Failure> {
    let req = DescribeKeyPairsRequest {
        filters: filters_from(&a.filters)?,
        key_names: a.key_names,
        key_pair_ids: a.key_pair_ids,
        include_public_key: Some(a.include_public_key),
    };
    ctx.answer_dry_run(&req)?;
    to_json(&keypairs::describe_key_pairs(&ctx.store()?, &req)?)
}

/// delete-key-pair.
pub fn delete_key_pair(ctx: &Ctx, a: DeleteKeyPair) -> Result<Value, Failure> {
    let req = DeleteKeyPairRequest {
        key_name: a.key_name,
        key_pair_id: a.key_pair_id,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&keypairs::delete_key_pair(&mut ctx.store()?, &req)?)
}
