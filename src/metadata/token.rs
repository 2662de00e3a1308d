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
    /// The state root's key (`metadata.key`, mode 0600), made on first use.
    pub fn load_or_create(root: &Path) -> std::io::Result<TokenKey> {
        let path = root.join("metadata.key");
        if let Ok(bytes) = std::fs::read(&path) {
            if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
                return Ok(TokenKey(key));
            }
        }
        let mut key = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut key))?;
        // Written to a temporary name and renamed, so two first users never see half a key;
        // the loser of a race re-reads the winner's.
        let tmp = root.join(format!("metadata.key.{}", std::process::id()));
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?
            .write_all(&key)?;
        if std::fs::hard_link(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
            return TokenKey::load_or_create(root);
        }
        let _ = std::fs::remove_file(&tmp);
        Ok(TokenKey(key))
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
}
