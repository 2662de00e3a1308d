//! The access keys `ec2lab serve` accepts: one file in the state directory, mode 0600,
//! made with one random key on first use.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The file's name in the state directory (beside the region roots).
pub const KEYS_FILE: &str = "api-access-keys.json";

/// One access key pair, as the AWS tools hold it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKey {
    /// `AKIA` and 16 base32 characters, like AWS's.
    pub access_key_id: String,
    /// 40 random characters.
    pub secret_access_key: String,
}

/// What can go wrong with the keys file.
#[derive(Debug, Error)]
pub enum KeysError {
    /// The file exists but cannot be read.
    #[error("cannot read the API access keys {path}: check its permissions")]
    Read {
        /// The keys file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file cannot be made.
    #[error(
        "cannot create the API access keys {path}: check that the state directory is writable"
    )]
    Write {
        /// The keys file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not what ec2lab writes.
    #[error(
        "the API access keys {path} are not valid JSON keys: remove the file to make new keys"
    )]
    Parse {
        /// The keys file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// The keys file of a state directory.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(KEYS_FILE)
}

/// The state directory's keys, made (one random key, mode 0600) if there are none yet.
/// Two processes doing this at once end up with the same keys.
pub fn load_or_create(state_dir: &Path) -> Result<Vec<AccessKey>, KeysError> {
    let path = path(state_dir);
    match std::fs::read(&path) {
        Ok(bytes) => return parse(&path, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(KeysError::Read { path, source }),
    }
    let write_err = |source| KeysError::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(write_err)?;
    let keys = vec![generate()];
    let mut text = serde_json::to_vec_pretty(&keys).expect("keys serialize");
    text.push(b'\n');
    // Written whole under a private name, then linked into place: readers never see a
    // partial file, and a concurrent creator's link fails instead of replacing keys.
    let tmp = state_dir.join(format!(".{KEYS_FILE}.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(write_err)?;
    f.write_all(&text)
        .and_then(|()| f.sync_all())
        .map_err(write_err)?;
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(keys),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = std::fs::read(&path).map_err(|source| KeysError::Read {
                path: path.clone(),
                source,
            })?;
            parse(&path, &bytes)
        }
        Err(source) => Err(KeysError::Write { path, source }),
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<AccessKey>, KeysError> {
    serde_json::from_slice(bytes).map_err(|source| KeysError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// A new random key pair.
pub fn generate() -> AccessKey {
    const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let pick = |alphabet: &[u8], n: usize| -> String {
        // Both alphabets have a power-of-two size, so masking is unbiased.
        let mut bytes = vec![0u8; n];
        OsRng.fill_bytes(&mut bytes);
        bytes
            .iter()
            .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
            .collect()
    };
    AccessKey {
        access_key_id: format!("AKIA{}", pick(BASE32, 16)),
        secret_access_key: pick(SECRET, 40),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path()).unwrap();
        let b = load_or_create(dir.path()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 1);
        let k = &a[0];
        assert!(k.access_key_id.starts_with("AKIA") && k.access_key_id.len() == 20);
        assert_eq!(k.secret_access_key.len(), 40);
        let mode = std::fs::metadata(path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_ne!(generate(), generate());
    }
}
