//! EC2 key pairs: a named public key that instances are launched with. `create` makes a
//! new pair and hands the private key out once (EC2 keeps only the public half, and so
//! does ec2lab); `import` records a public key the user made. Fingerprints are computed
//! exactly as EC2 computes them, so they can be compared with AWS's documented `openssl`
//! and `ssh-keygen` commands.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64ct::{Base64, Encoding};
use hmac::{Hmac, Mac};
use md5::Md5;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rusqlite::{params, Connection, OptionalExtension, Row};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use ssh_key::private::{KeypairData, RsaKeypair};
use ssh_key::public::KeyData;
use ssh_key::{LineEnding, PrivateKey, PublicKey};

use crate::ec2::filters;
use crate::ec2::shapes::keys as shapes;
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::ids;
use crate::store::iso8601_now;
use crate::store::Store;

/// The RSA size `create-key-pair` makes, as EC2 does.
pub const RSA_BITS: usize = 2048;
/// The smallest RSA key `import-key-pair` takes. AWS's user guide lists 1024 as accepted;
/// ec2lab refuses it: 1024-bit RSA is breakable, and the RSA crate refuses to use it.
pub const MIN_IMPORT_RSA_BITS: usize = 2048;
/// EC2's limit on key names.
pub const MAX_NAME_LEN: usize = 255;

/// EC2's message for public key material it cannot use.
const BAD_FORMAT: &str = "Key is not in valid OpenSSH public key format";

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

fn check_free(c: &Connection, name: &str) -> Result<(), Ec2Error> {
    check_name(name)?;
    if KeyPair::find(c, name)?.is_some() {
        return Err(Ec2Error::new(
            "InvalidKeyPair.Duplicate",
            format!("The keypair '{name}' already exists."),
        ));
    }
    Ok(())
}

fn crypto_err(what: &str, e: impl std::fmt::Display) -> Ec2Error {
    Ec2Error::internal(format!("{what} failed: {e}"))
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

fn file_exists(p: &Path) -> Ec2Error {
    Ec2Error::invalid_parameter(format!(
        "The output file {} already exists; ec2lab never overwrites a key file. \
         Choose another --output-file or move the old one away",
        p.display()
    ))
}

/// Writes a private key readable by its owner only, never over an existing file.
/// Returns the absolute path, which is what `ec2lab ssh` later uses.
fn write_private_key(p: &Path, material: &str) -> Result<PathBuf, Ec2Error> {
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

/// Records a public key the user made. `material` is the key file's bytes: an OpenSSH
/// one-line key (`ssh-ed25519 AAAA… comment`, `ssh-rsa …`) or RFC 4716 (SSH2) format.
pub fn import(
    c: &Connection,
    name: &str,
    material: &[u8],
    tags: &[Tag],
) -> Result<KeyPair, Ec2Error> {
    check_free(c, name)?;
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
    let kp = KeyPair {
        key_pair_id: ids::new_id("key"),
        key_name: name.into(),
        key_type,
        fingerprint,
        public_key: openssh_line(&public, name)?,
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

/// The key pair tags of a `TagSpecifications` list, checked.
fn key_pair_tags(specs: &[tags::TagSpecification]) -> Result<Vec<Tag>, Ec2Error> {
    tags::for_resource(specs, &["key-pair"], "key-pair")
}

/// `CreateKeyPair`. `output_file` (an ec2lab extension of the CLI) also gets the private
/// key, in a new file of mode 0600 that `ec2lab ssh` then uses.
pub fn create_key_pair(
    store: &mut Store,
    req: &shapes::CreateKeyPairRequest,
    output_file: Option<&Path>,
) -> Result<shapes::KeyPair, Ec2Error> {
    let key_type = KeyType::parse(&req.key_type)?;
    let format = KeyFormat::parse(&req.key_format)?;
    let tags = key_pair_tags(&req.tag_specifications)?;
    let (kp, material) = store
        .write(|tx| create_with_tags(tx, &req.key_name, key_type, format, output_file, &tags))?;
    Ok(shapes::KeyPair {
        key_fingerprint: kp.fingerprint,
        key_material: material,
        key_name: kp.key_name,
        key_pair_id: kp.key_pair_id,
        tags: kp.tags,
    })
}

/// `ImportKeyPair`.
pub fn import_key_pair(
    store: &mut Store,
    req: &shapes::ImportKeyPairRequest,
) -> Result<shapes::ImportKeyPairResult, Ec2Error> {
    let tags = key_pair_tags(&req.tag_specifications)?;
    let kp = store.write(|tx| import(tx, &req.key_name, &req.public_key_material, &tags))?;
    Ok(shapes::ImportKeyPairResult {
        key_fingerprint: kp.fingerprint,
        key_name: kp.key_name,
        key_pair_id: kp.key_pair_id,
        tags: kp.tags,
    })
}

/// `DescribeKeyPairs`: as on EC2, naming a pair that does not exist is an error, not an
/// empty list.
pub fn describe_key_pairs(
    store: &Store,
    req: &shapes::DescribeKeyPairsRequest,
) -> Result<shapes::DescribeKeyPairsResult, Ec2Error> {
    let all = all(store.conn())?;
    for n in &req.key_names {
        if !all.iter().any(|k| &k.key_name == n) {
            return Err(not_found(n));
        }
    }
    for id in &req.key_pair_ids {
        if !all.iter().any(|k| &k.key_pair_id == id) {
            return Err(id_not_found(id));
        }
    }
    let include = req.include_public_key.unwrap_or(false);
    let listed = all
        .iter()
        .filter(|k| req.key_names.is_empty() || req.key_names.contains(&k.key_name))
        .filter(|k| req.key_pair_ids.is_empty() || req.key_pair_ids.contains(&k.key_pair_id))
        .map(|k| k.to_shape(include))
        .collect();
    Ok(shapes::DescribeKeyPairsResult {
        key_pairs: filters::retain(listed, &req.filters)?,
    })
}

/// `DeleteKeyPair`, by name or by id; deleting a pair that does not exist succeeds.
pub fn delete_key_pair(
    store: &mut Store,
    req: &shapes::DeleteKeyPairRequest,
) -> Result<shapes::DeleteKeyPairResult, Ec2Error> {
    let gone = store.write(|tx| match (&req.key_name, &req.key_pair_id) {
        (Some(n), _) => delete(tx, n),
        (None, Some(id)) => delete_by_id(tx, id),
        (None, None) => Err(Ec2Error::missing_parameter("KeyName or KeyPairId")),
    })?;
    Ok(shapes::DeleteKeyPairResult {
        return_: true,
        key_pair_id: gone.map(|k| k.key_pair_id),
    })
}

fn openssh_line(public: &PublicKey, name: &str) -> Result<String, Ec2Error> {
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
fn rfc4716_blob(text: &str) -> Option<Vec<u8>> {
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
fn mpint_bits(bytes: &[u8]) -> usize {
    let bytes = match bytes.iter().position(|&b| b != 0) {
        Some(i) => &bytes[i..],
        None => return 0,
    };
    bytes.len() * 8 - bytes[0].leading_zeros() as usize
}

fn colon_hex(bytes: &[u8]) -> String {
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
fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    //! Formats and fingerprints are checked against the real tools: OpenSSH's ssh-keygen,
    //! openssl (the commands AWS's user guide gives for verifying fingerprints) and PuTTY's
    //! puttygen.

    use super::*;
    use crate::store::Store;
    use std::os::unix::fs::PermissionsExt;
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
}
