//! A small hash for names derived from names, shared by the VMM (MACs from tap names)
//! and the EC2 side (MACs from interface ids, table names from paths). It imports
//! nothing, so both layers can use it without depending on each other.

/// FNV-1a: a tiny hash that is stable across builds and hosts (unlike std's hashers,
/// which are seeded per process), so a name always derives the same value.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_fnv1a_reference_values() {
        // The published FNV-1a 64 test vectors: derived names must never change.
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
