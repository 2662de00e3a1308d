//! The messages between the metadata worker and its supervisor: what an unprivileged
//! (perhaps compromised) worker sends the root supervisor, and the replies back. Any
//! bytes must decode or be refused whole, and what decodes must encode to the same bytes.
#![no_main]

use ec2lab::metadata::ipc::{Query, Reply};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(q) = Query::decode(data) {
        let again = q.encode().expect("a decoded query encodes");
        assert_eq!(again, data, "a query's encoding is its only one");
        assert_eq!(Query::decode(&again), Some(q));
    }
    if let Some(r) = Reply::decode(data) {
        let again = r.encode().expect("a decoded reply encodes");
        assert_eq!(again, data, "a reply's encoding is its only one");
        assert_eq!(Reply::decode(&again), Some(r));
    }
});
