//! Key material a user hands to ImportKeyPair (OpenSSH one-line and RFC 4716 public keys,
//! checked, fingerprinted and re-encoded as EC2 does), and private keys in OpenSSH's
//! format written out as PuTTY .ppk and PEM as create-key-pair does.
#![no_main]

use ec2lab::keypairs;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, material)) = data.split_first() else {
        return;
    };
    if selector & 1 == 0 {
        let _ = keypairs::examine_public_key(material, "fuzz");
        return;
    }
    // A private key (OpenSSH format) as create-key-pair writes it in its two formats.
    if let Ok(key) = ssh_key::PrivateKey::from_openssh(material) {
        let _ = keypairs::ppk(&key, "fuzz");
        let _ = key.to_openssh(ssh_key::LineEnding::LF);
    }
});
