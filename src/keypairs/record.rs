//! The key pair record and its operations: create (the private key handed out once),
//! import, look up, delete.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rsa::pkcs1::EncodeRsaPrivateKey;
use rusqlite::{params, Connection, OptionalExtension, Row};
use ssh_key::private::{KeypairData, RsaKeypair};
use ssh_key::public::KeyData;
use ssh_key::{LineEnding, PrivateKey};

use crate::ec2::shapes::keys as shapes;
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::ids;
use crate::store::iso8601_now;

use super::formats::*;

/// The RSA size `create-key-pair` makes, as EC2 does.
pub const RSA_BITS: usize = 2048;
/// The smallest RSA key `import-key-pair` takes. AWS's user guide lists 1024 as accepted;
/// ec2lab refuses it: 1024-bit RSA is breakable, and the RSA crate refuses to use it.
pub const MIN_IMPORT_RSA_BITS: usize = 2048;
/// EC2's limit on key names.
pub const MAX_NAME_LEN: usize = 255;

/// The kinds of key ec2lab makes and imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// RSA (2048 bits when created here).
    Rsa,
    /// Ed25519.
    Ed25519,
}

impl KeyType {
    /// EC2's name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "rsa",
            KeyType::Ed25519 => "ed25519",
        }
    }

    /// The type of an EC2 name, or `InvalidParameterValue`.
    pub fn parse(s: &str) -> Result<KeyType, Ec2Error> {
        match s {
            "rsa" => Ok(KeyType::Rsa),
            "ed25519" => Ok(KeyType::Ed25519),
            other => Err(Ec2Error::invalid_parameter(format!(
                "Value ({other}) for parameter keyType is invalid. Valid values: rsa, ed25519"
            ))),
        }
    }
}

/// How `create` returns the private key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFormat {
    /// RSA: PKCS#1 PEM; ed25519: the OpenSSH private key format. Both work with `ssh -i`.
    Pem,
    /// A PuTTY private key file (version 2, unencrypted), for PuTTY on Windows.
    Ppk,
}

impl KeyFormat {
    /// The format of an EC2 name, or `InvalidParameterValue`.
    pub fn parse(s: &str) -> Result<KeyFormat, Ec2Error> {
        match s {
            "pem" => Ok(KeyFormat::Pem),
            "ppk" => Ok(KeyFormat::Ppk),
            other => Err(Ec2Error::invalid_parameter(format!(
                "Value ({other}) for parameter keyFormat is invalid. Valid values: pem, ppk"
            ))),
        }
    }
}

/// A key pair as the store keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyPair {
    /// Its id (`key-…`).
    pub key_pair_id: String,
    /// Its unique name.
    pub key_name: String,
    /// Its type.
    pub key_type: KeyType,
    /// EC2's fingerprint of the key.
    pub fingerprint: String,
    /// The OpenSSH one-line public key, with the key name as its comment.
    pub public_key: String,
    /// Where ec2lab wrote the private key (`create-key-pair --output-file`), if it did.
    pub private_key_file: Option<PathBuf>,
    /// When it was created or imported.
    pub create_time: String,
    /// Its tags.
    pub tags: Vec<Tag>,
}

/// `InvalidKeyPair.NotFound` for a name.
pub fn not_found(name: &str) -> Ec2Error {
    Ec2Error::new(
        "InvalidKeyPair.NotFound",
        format!("The key pair '{name}' does not exist"),
    )
}

/// `InvalidKeyPair.NotFound` for an id.
pub fn id_not_found(id: &str) -> Ec2Error {
    Ec2Error::new(
        "InvalidKeyPair.NotFound",
        format!("The key pair ID '{id}' does not exist"),
    )
}

impl KeyPair {
    fn from_row(r: &Row) -> rusqlite::Result<KeyPair> {
        let ty: String = r.get("key_type")?;
        Ok(KeyPair {
            key_pair_id: r.get("key_pair_id")?,
            key_name: r.get("key_name")?,
            // The table's CHECK constraint allows only these two.
            key_type: if ty == "ed25519" {
                KeyType::Ed25519
            } else {
                KeyType::Rsa
            },
            fingerprint: r.get("fingerprint")?,
            public_key: r.get("public_key")?,
            private_key_file: r
                .get::<_, Option<String>>("private_key_file")?
                .map(PathBuf::from),
            create_time: r.get("create_time")?,
            tags: tags::from_column(&r.get::<_, String>("tags")?),
        })
    }

    /// The pair of this name, if there is one.
    pub fn find(c: &Connection, name: &str) -> Result<Option<KeyPair>, Ec2Error> {
        Ok(c.query_row(
            "SELECT * FROM key_pairs WHERE key_name = ?1",
            [name],
            KeyPair::from_row,
        )
        .optional()?)
    }

    /// The pair named `name`, or `InvalidKeyPair.NotFound`.
    pub fn get(c: &Connection, name: &str) -> Result<KeyPair, Ec2Error> {
        Self::find(c, name)?.ok_or_else(|| not_found(name))
    }

    /// The pair of this id, if there is one.
    pub fn find_by_id(c: &Connection, id: &str) -> Result<Option<KeyPair>, Ec2Error> {
        Ok(c.query_row(
            "SELECT * FROM key_pairs WHERE key_pair_id = ?1",
            [id],
            KeyPair::from_row,
        )
        .optional()?)
    }

    /// Every pair, by name.
    pub fn all(c: &Connection) -> Result<Vec<KeyPair>, Ec2Error> {
        all(c)
    }

    /// The value of tag `key`, if the pair has it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        tags::get(&self.tags, key)
    }

    /// The pair as `DescribeKeyPairs` shows it.
    pub fn to_shape(&self, include_public_key: bool) -> shapes::KeyPairInfo {
        shapes::KeyPairInfo {
            key_pair_id: self.key_pair_id.clone(),
            key_fingerprint: self.fingerprint.clone(),
            key_name: self.key_name.clone(),
            key_type: self.key_type.as_str().into(),
            tags: self.tags.clone(),
            public_key: include_public_key.then(|| self.public_key.clone()),
            create_time: self.create_time.clone(),
        }
    }

    fn insert(&self, c: &Connection) -> Result<(), Ec2Error> {
        c.execute(
            "INSERT INTO key_pairs (key_pair_id, key_name, key_type, fingerprint, public_key,
                                    private_key_file, create_time, tags)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
            params![
                self.key_pair_id,
                self.key_name,
                self.key_type.as_str(),
                self.fingerprint,
                self.public_key,
                self.private_key_file
                    .as_ref()
                    .map(|p| p.to_string_lossy().into_owned()),
                self.create_time,
                tags::to_column(&self.tags),
            ],
        )?;
        Ok(())
    }
}

/// Every key pair, by name.
pub fn all(c: &Connection) -> Result<Vec<KeyPair>, Ec2Error> {
    let mut stmt = c.prepare("SELECT * FROM key_pairs ORDER BY key_name")?;
    let rows = stmt.query_map([], KeyPair::from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// EC2's rule: 1 to 255 ASCII characters. Control characters are refused too: the name
/// ends up in key comments and file headers.
pub fn check_name(name: &str) -> Result<(), Ec2Error> {
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || !name.bytes().all(|b| (0x20..0x7f).contains(&b))
    {
        return Err(Ec2Error::invalid_parameter(format!(
            "Value ({name}) for parameter KeyName is invalid. A key name has 1 to {MAX_NAME_LEN} \
             printable ASCII characters"
        )));
    }
    Ok(())
}

pub(super) fn check_free(c: &Connection, name: &str) -> Result<(), Ec2Error> {
    check_name(name)?;
    if KeyPair::find(c, name)?.is_some() {
        return Err(Ec2Error::new(
            "InvalidKeyPair.Duplicate",
            format!("The keypair '{name}' already exists."),
        ));
    }
    Ok(())
}

/// Creates a key pair; returns it and the private key material (the only copy, unless
/// `output_file` is given: then it is also written there, mode 0600, and remembered).
pub fn create(
    c: &Connection,
    name: &str,
    key_type: KeyType,
    format: KeyFormat,
    output_file: Option<&Path>,
) -> Result<(KeyPair, String), Ec2Error> {
    create_with_tags(c, name, key_type, format, output_file, &[])
}

/// Creates a pair with tags; see `create`.
pub fn create_with_tags(
    c: &Connection,
    name: &str,
    key_type: KeyType,
    format: KeyFormat,
    output_file: Option<&Path>,
    tags: &[Tag],
) -> Result<(KeyPair, String), Ec2Error> {
    check_free(c, name)?;
    if let Some(p) = output_file {
        // Checked before the (slow) key generation; create_new below closes the race.
        if p.symlink_metadata().is_ok() {
            return Err(file_exists(p));
        }
    }
    let mut rng = rand_core::OsRng;
    let (private, fingerprint, material) = match key_type {
        KeyType::Rsa => {
            let rsa_key = rsa::RsaPrivateKey::new(&mut rng, RSA_BITS)
                .map_err(|e| crypto_err("RSA key generation", e))?;
            let fingerprint = created_rsa_fingerprint(&rsa_key)?;
            let keypair =
                RsaKeypair::try_from(&rsa_key).map_err(|e| crypto_err("RSA key conversion", e))?;
            let private = PrivateKey::new(KeypairData::Rsa(keypair), name)
                .map_err(|e| crypto_err("RSA key conversion", e))?;
            let material = match format {
                KeyFormat::Pem => rsa_key
                    .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
                    .map_err(|e| crypto_err("PEM encoding", e))?
                    .to_string(),
                KeyFormat::Ppk => ppk(&private, name)?,
            };
            (private, fingerprint, material)
        }
        KeyType::Ed25519 => {
            let private = PrivateKey::random(&mut rng, ssh_key::Algorithm::Ed25519)
                .map_err(|e| crypto_err("ed25519 key generation", e))?;
            let mut private = private;
            private.set_comment(name);
            let blob = private
                .public_key()
                .to_bytes()
                .map_err(|e| crypto_err("public key encoding", e))?;
            let material = match format {
                KeyFormat::Pem => private
                    .to_openssh(LineEnding::LF)
                    .map_err(|e| crypto_err("OpenSSH encoding", e))?
                    .to_string(),
                KeyFormat::Ppk => ppk(&private, name)?,
            };
            (private, ed25519_fingerprint(&blob), material)
        }
    };
    let public_key = openssh_line(private.public_key(), name)?;
    let private_key_file = match output_file {
        Some(p) => Some(write_private_key(p, &material)?),
        None => None,
    };
    let kp = KeyPair {
        key_pair_id: ids::new_id("key"),
        key_name: name.into(),
        key_type,
        fingerprint,
        public_key,
        private_key_file: private_key_file.clone(),
        create_time: iso8601_now(),
        tags: tags.to_vec(),
    };
    if let Err(e) = kp.insert(c) {
        // Nothing was recorded, so the file would name a key EC2 does not know.
        if let Some(p) = &private_key_file {
            let _ = std::fs::remove_file(p);
        }
        return Err(e);
    }
    Ok((kp, material))
}

pub(super) fn file_exists(p: &Path) -> Ec2Error {
    Ec2Error::invalid_parameter(format!(
        "The output file {} already exists; ec2lab never overwrites a key file. \
         Choose another --output-file or move the old one away",
        p.display()
    ))
}

/// Writes a private key readable by its owner only, never over an existing file.
/// Returns the absolute path, which is what `ec2lab ssh` later uses.
pub(super) fn write_private_key(p: &Path, material: &str) -> Result<PathBuf, Ec2Error> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => file_exists(p),
            _ => Ec2Error::invalid_parameter(format!(
                "Cannot create the output file {}: {e}",
                p.display()
            )),
        })?;
    let written = f.write_all(material.as_bytes()).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(p);
        return Err(Ec2Error::internal(format!(
            "Writing the private key to {} failed: {e}",
            p.display()
        )));
    }
    Ok(std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()))
}

/// What ImportKeyPair makes of public key `material` for key `name`: its type, EC2's
/// fingerprint and the OpenSSH line kept (commented with the name); every check of the
/// material, and nothing stored. Public for the fuzz harness (fuzz/key_formats).
#[doc(hidden)]
pub fn examine_public_key(
    material: &[u8],
    name: &str,
) -> Result<(KeyType, String, String), Ec2Error> {
    let public = parse_public_key(material)?;
    let blob = public
        .to_bytes()
        .map_err(|_| Ec2Error::new("InvalidKey.Format", BAD_FORMAT))?;
    let (key_type, fingerprint) = match public.key_data() {
        KeyData::Ed25519(_) => (KeyType::Ed25519, ed25519_fingerprint(&blob)),
        KeyData::Rsa(k) => {
            let bits = mpint_bits(k.n.as_positive_bytes().unwrap_or_default());
            if bits < MIN_IMPORT_RSA_BITS {
                return Err(Ec2Error::new(
                    "InvalidKey.Format",
                    format!(
                        "{BAD_FORMAT}: this RSA key has {bits} bits; ec2lab needs at least \
                         {MIN_IMPORT_RSA_BITS} (make one with ssh-keygen -t rsa -b 4096, or use ed25519)"
                    ),
                ));
            }
            let rsa_pub = rsa::RsaPublicKey::try_from(k)
                .map_err(|_| Ec2Error::new("InvalidKey.Format", BAD_FORMAT))?;
            (KeyType::Rsa, imported_rsa_fingerprint(&rsa_pub)?)
        }
        other => {
            return Err(Ec2Error::new(
                "InvalidKey.Format",
                format!(
                    "{BAD_FORMAT}: {} keys are not supported; use rsa or ed25519",
                    other.algorithm()
                ),
            ))
        }
    };
    Ok((key_type, fingerprint, openssh_line(&public, name)?))
}

/// Records a public key the user made. `material` is the key file's bytes: an OpenSSH
/// one-line key (`ssh-ed25519 AAAA… comment`, `ssh-rsa …`) or RFC 4716 (SSH2) format.
pub fn import(
    c: &Connection,
    name: &str,
    material: &[u8],
    tags: &[Tag],
) -> Result<KeyPair, Ec2Error> {
    check_free(c, name)?;
    let (key_type, fingerprint, public_key) = examine_public_key(material, name)?;
    let kp = KeyPair {
        key_pair_id: ids::new_id("key"),
        key_name: name.into(),
        key_type,
        fingerprint,
        public_key,
        private_key_file: None,
        create_time: iso8601_now(),
        tags: tags.to_vec(),
    };
    kp.insert(c)?;
    Ok(kp)
}

/// Deletes the record of a key pair (never the user's private key file). Like EC2,
/// deleting a name that does not exist succeeds; returns the deleted pair, if any.
pub fn delete(c: &Connection, name: &str) -> Result<Option<KeyPair>, Ec2Error> {
    let kp = KeyPair::find(c, name)?;
    c.execute("DELETE FROM key_pairs WHERE key_name = ?1", [name])?;
    Ok(kp)
}

/// As `delete`, by key pair id.
pub fn delete_by_id(c: &Connection, id: &str) -> Result<Option<KeyPair>, Ec2Error> {
    let kp = KeyPair::find_by_id(c, id)?;
    c.execute("DELETE FROM key_pairs WHERE key_pair_id = ?1", [id])?;
    Ok(kp)
}
