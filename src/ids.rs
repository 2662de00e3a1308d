//! Resource ids shaped like AWS's: a prefix and 17 lowercase hex digits
//! (`i-0abc…`, `ami-…`, `vol-…`, `snap-…`, `r-…`).

use std::io::Read;

/// The account that owns everything in an ec2lab state directory (AWS's documentation
/// example account).
pub const OWNER_ID: &str = "111122223333";

/// The shared name hash, re-exported where `net/` has always found it.
pub use crate::hash::stable_hash;

/// 17 hex digits from the kernel's random source.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 9];
    // /dev/urandom never blocks and never runs dry after boot; a failure here means the
    // host is broken beyond what ec2lab can work around.
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{}", &hex[..17])
}

/// A random number from the kernel's random source.
pub fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    u32::from_le_bytes(bytes)
}

/// Does `id` look like `prefix-` and 8 or 17 hex digits (AWS accepts both lengths)?
pub fn is_valid(id: &str, prefix: &str) -> bool {
    let Some(rest) = id.strip_prefix(prefix).and_then(|r| r.strip_prefix('-')) else {
        return false;
    };
    (rest.len() == 17 || rest.len() == 8) && rest.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A random version-4 UUID: EC2's request ids, SNS's message ids and subscription ARNs.
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_aws_ids() {
        let a = new_id("i");
        assert!(is_valid(&a, "i"), "{a}");
        assert_eq!(a.len(), 2 + 17);
        assert_ne!(a, new_id("i"));
        assert!(!is_valid("i-xyz", "i"));
        assert!(!is_valid("ami-0123456789abcdef0", "i"));
        assert!(is_valid("ami-0123456789abcdef0", "ami"));
    }
}
