//! Key pairs: CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair.

use serde::{Deserialize, Serialize};

use super::{Filter, Tag, TagSpecification};
use crate::ec2::filters::Filterable;

/// `CreateKeyPair` input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateKeyPairRequest {
    /// A unique name, up to 255 ASCII characters.
    pub key_name: String,
    /// `rsa` (2048 bits) or `ed25519`.
    pub key_type: String,
    /// `pem` or `ppk`.
    pub key_format: String,
    /// Tags for the pair (`ResourceType=key-pair`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<TagSpecification>,
}

impl Default for CreateKeyPairRequest {
    fn default() -> Self {
        CreateKeyPairRequest {
            key_name: String::new(),
            key_type: "rsa".into(),
            key_format: "pem".into(),
            tag_specifications: Vec::new(),
        }
    }
}

/// `CreateKeyPair` output: the one time the private key is shown.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KeyPair {
    /// EC2's fingerprint of the key.
    pub key_fingerprint: String,
    /// The private key, in the requested format.
    pub key_material: String,
    /// The pair's name.
    pub key_name: String,
    /// Its id (`key-…`).
    pub key_pair_id: String,
    /// Its tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// `ImportKeyPair` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImportKeyPairRequest {
    /// A unique name, up to 255 ASCII characters.
    pub key_name: String,
    /// The public key file's bytes (OpenSSH or RFC 4716); base64 in JSON, as the model's blob.
    #[serde(with = "base64_blob")]
    pub public_key_material: Vec<u8>,
    /// Tags for the pair (`ResourceType=key-pair`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<TagSpecification>,
}

/// `ImportKeyPair` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImportKeyPairResult {
    /// EC2's fingerprint of the key.
    pub key_fingerprint: String,
    /// The pair's name.
    pub key_name: String,
    /// Its id (`key-…`).
    pub key_pair_id: String,
    /// Its tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// `DescribeKeyPairs` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeKeyPairsRequest {
    /// Only these pairs; each must exist.
    pub key_names: Vec<String>,
    /// Only these pairs; each must exist.
    pub key_pair_ids: Vec<String>,
    /// Filters: key-name, key-pair-id, fingerprint, key-type, tags.
    pub filters: Vec<Filter>,
    /// Show each pair's OpenSSH public key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_public_key: Option<bool>,
}

/// `DescribeKeyPairs` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeKeyPairsResult {
    /// The pairs, by name.
    pub key_pairs: Vec<KeyPairInfo>,
}

/// A key pair as `DescribeKeyPairs` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KeyPairInfo {
    /// Its id (`key-…`).
    pub key_pair_id: String,
    /// EC2's fingerprint of the key.
    pub key_fingerprint: String,
    /// Its name.
    pub key_name: String,
    /// `rsa` or `ed25519`.
    pub key_type: String,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// Its OpenSSH public key, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// When it was created or imported.
    pub create_time: String,
}

impl Filterable for KeyPairInfo {
    const FILTERS: &'static [&'static str] =
        &["key-name", "key-pair-id", "fingerprint", "key-type"];

    fn filter_values(&self, name: &str) -> Vec<String> {
        match name {
            "key-name" => vec![self.key_name.clone()],
            "key-pair-id" => vec![self.key_pair_id.clone()],
            "fingerprint" => vec![self.key_fingerprint.clone()],
            "key-type" => vec![self.key_type.clone()],
            _ => vec![],
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// `DeleteKeyPair` input: by name or by id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteKeyPairRequest {
    /// The pair's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// The pair's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_pair_id: Option<String>,
}

/// `DeleteKeyPair` output: it succeeds also when there was no such pair.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteKeyPairResult {
    /// Always true.
    #[serde(rename = "Return")]
    pub return_: bool,
    /// The pair that was deleted, if there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_pair_id: Option<String>,
}

/// A blob member: bytes in Rust, base64 text in JSON, as the aws CLI and the model have it.
mod base64_blob {
    use base64ct::{Base64, Encoding};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Base64::encode_string(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        Base64::decode_vec(&compact).map_err(serde::de::Error::custom)
    }
}
