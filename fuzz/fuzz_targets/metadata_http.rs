//! The metadata service's input from guests: the HTTP request head (read through buffers
//! of any size, as a slow guest's packets arrive), its headers, the session token a guest
//! presents, and the path it asks for in the instance's tree.
#![no_main]

use std::io::BufReader;
use std::sync::OnceLock;

use ec2lab::ec2::shapes::instances::Instance;
use ec2lab::metadata::http::read_request;
use ec2lab::metadata::token::TokenKey;
use ec2lab::metadata::tree::{Extra, InstanceData};

fn key() -> &'static TokenKey {
    static KEY: OnceLock<TokenKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ec2lab-fuzz-imds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let key = TokenKey::load_or_create(&dir).expect("a token key");
        // The key stays in memory; leave nothing behind.
        let _ = std::fs::remove_dir_all(&dir);
        key
    })
}

fn tree() -> &'static InstanceData {
    static TREE: OnceLock<InstanceData> = OnceLock::new();
    TREE.get_or_init(|| {
        let inst = Instance {
            instance_id: "i-0123456789abcdef0".into(),
            ..Instance::default()
        };
        let cidr = |_: &str| Some("172.31.0.0/16".to_string());
        InstanceData::new(
            &inst,
            Extra {
                region: "us-east-1",
                reservation_id: "r-0123456789abcdef0",
                key: Some(("k".into(), "ssh-ed25519 AAAA k".into())),
                user_data: Some(b"#!/bin/sh\necho hi\n".to_vec()),
                cidr_of: &cidr,
            },
        )
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&cap, raw)) = data.split_first() else {
        return;
    };
    let mut reader = BufReader::with_capacity(usize::from(cap) + 1, raw);
    let Some(req) = read_request(&mut reader) else {
        return;
    };
    if let Some(token) = req.header("x-aws-ec2-metadata-token") {
        let _ = key().check(token, "i-0123456789abcdef0", 1_000_000);
    }
    let _ = req.header("X-aws-ec2-metadata-token-ttl-seconds");
    if let Some(rest) = req.path.strip_prefix('/') {
        let path = rest.split_once('/').map_or("", |(_, p)| p);
        let mut out = Vec::new();
        let _ = tree().get(path).write_to(&mut out, req.method == "HEAD");
    }
});
