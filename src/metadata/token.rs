//! IMDSv2 session tokens. A token is the instance id's MAC under a key kept in the state
//! root, with an expiry: any supervisor's metadata server can check any instance's token
//! (they share one listening port), a token works only for the instance that asked for
//! it, and none is ever stored.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// AWS's bounds for `X-aws-ec2-metadata-token-ttl-seconds`.
pub const MAX_TTL_SECS: u64 = 21_600;

/// The secret that signs IMDSv2 session tokens, shared by every supervisor of a state root.
pub struct TokenKey([u8; 32]);

impl TokenKey {
    /// The state root's key (`metadata.key`, mode 0600), made on first use. A key file of
    /// the wrong length (cut short by a crash before it reached the disk) is replaced;
    /// tokens issued under it stop working, as after any key change.
    pub fn load_or_create(root: &Path) -> std::io::Result<TokenKey> {
        let path = root.join("metadata.key");
        // A bounded number of rounds: each either returns or follows another process
        // that changed the file meanwhile; the file settles after one such change.
        for _ in 0..5 {
            match std::fs::read(&path) {
                Ok(bytes) => {
                    if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
                        return Ok(TokenKey(key));
                    }
                    // Replaced whole (rename), then read again: of several supervisors
                    // that found it broken at once, all use the one that was renamed last.
                    let tmp = Self::write_new(root)?;
                    crate::fsutil::rename_durably(&tmp, &path)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // Linked into place, never overwritten: two first users never see
                    // half a key; the loser of a race reads the winner's.
                    let tmp = Self::write_new(root)?;
                    let linked = std::fs::hard_link(&tmp, &path)
                        .and_then(|()| crate::fsutil::sync_dir(root));
                    let _ = std::fs::remove_file(&tmp);
                    if let Err(e) = linked {
                        if e.kind() != std::io::ErrorKind::AlreadyExists {
                            return Err(e);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other(format!(
            "{} keeps changing under this process; is another program writing it?",
            path.display()
        )))
    }

    /// A new random key in a temporary file of `root`, on disk.
    fn write_new(root: &Path) -> std::io::Result<std::path::PathBuf> {
        let mut key = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut key))?;
        let tmp = root.join(format!("metadata.key.{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&key)?;
        f.sync_all()?;
        Ok(tmp)
    }

    fn mac(&self, instance_id: &str, expires: u64) -> String {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(instance_id.as_bytes());
        m.update(&expires.to_be_bytes());
        m.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A token for `instance_id`, valid until `now + ttl` (unix seconds).
    pub fn issue(&self, instance_id: &str, now: u64, ttl: u64) -> String {
        let expires = now + ttl;
        format!("{expires:x}.{}", self.mac(instance_id, expires))
    }

    /// Is `token` this instance's, and not expired?
    pub fn check(&self, token: &str, instance_id: &str, now: u64) -> bool {
        let Some((exp, mac)) = token.trim().split_once('.') else {
            return false;
        };
        let Ok(expires) = u64::from_str_radix(exp, 16) else {
            return false;
        };
        // Constant-time comparison through the MAC type, so timing tells nothing.
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(instance_id.as_bytes());
        m.update(&expires.to_be_bytes());
        let Some(bytes) = hex(mac) else {
            return false;
        };
        now < expires && m.verify_slice(&bytes).is_ok()
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_per_instance_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let k = TokenKey::load_or_create(dir.path()).unwrap();
        let t = k.issue("i-1", 1000, 60);
        assert!(k.check(&t, "i-1", 1000));
        assert!(k.check(&t, "i-1", 1059));
        assert!(!k.check(&t, "i-1", 1060), "expired");
        assert!(!k.check(&t, "i-2", 1000), "another instance's token");
        assert!(!k.check("garbage", "i-1", 1000));
        let forged = format!("{:x}{}", 99999, &t[t.find('.').unwrap()..]);
        assert!(
            !k.check(&forged, "i-1", 1000),
            "a changed expiry breaks the MAC"
        );
        // The key persists: a restarted server accepts tokens it issued before.
        let again = TokenKey::load_or_create(dir.path()).unwrap();
        assert!(again.check(&t, "i-1", 1000));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join("metadata.key"))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_truncated_key_is_replaced_not_looped_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.key");
        std::fs::write(&path, b"short").unwrap();
        let k = TokenKey::load_or_create(dir.path()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 32, "a whole key now");
        let t = k.issue("i-1", 1000, 60);
        let again = TokenKey::load_or_create(dir.path()).unwrap();
        assert!(
            again.check(&t, "i-1", 1000),
            "the replacement is the key in use"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
        // An empty file, too.
        std::fs::write(&path, b"").unwrap();
        TokenKey::load_or_create(dir.path()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 32);
    }
}
