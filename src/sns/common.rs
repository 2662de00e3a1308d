//! What the SNS modules share: ARNs and names, ids and tokens, times, SNS's errors, paging,
//! and where `ec2lab serve` is reached (the base of SNS's links).

use std::path::Path;

use rand_core::{OsRng, RngCore};

use crate::error::Ec2Error;
use crate::store::Store;

/// The file in the state directory where `ec2lab serve` records its endpoint
/// (`http://ADDR`): the base of the `SubscribeURL`s and `UnsubscribeURL`s in SNS's messages.
pub const ENDPOINT_FILE: &str = "serve-endpoint";

/// `ec2lab serve`'s default address, for links made while it has recorded none.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8773";

/// The endpoint the links in SNS's messages point at: what `ec2lab serve` recorded, else
/// its default address.
pub fn endpoint(state_dir: &Path) -> String {
    std::fs::read_to_string(state_dir.join(ENDPOINT_FILE))
        .ok()
        .map(|s| s.trim().trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string())
}

/// The state directory a region's store lives in.
pub(crate) fn state_dir(store: &Store) -> &Path {
    store.root().parent().unwrap_or(store.root())
}

/// SNS's `InvalidParameter`, worded as SNS words it.
pub fn invalid(what: impl std::fmt::Display) -> Ec2Error {
    Ec2Error::new("InvalidParameter", format!("Invalid parameter: {what}"))
}

/// SNS's `NotFound`.
pub fn not_found(what: &str) -> Ec2Error {
    Ec2Error::new("NotFound", format!("{what} does not exist"))
}

pub use crate::ids::uuid;

/// A confirmation token: 64 random bytes in hex, as long as SNS's.
pub fn token() -> String {
    let mut b = [0u8; 64];
    OsRng.fill_bytes(&mut b);
    hex(&b)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub use crate::clock::{iso_ms, now_ms};

/// A topic's ARN in this region.
pub fn topic_arn(store: &Store, name: &str) -> String {
    format!(
        "arn:aws:sns:{}:{}:{name}",
        store.region(),
        crate::ids::OWNER_ID
    )
}

/// The topic name of `arn`, if it is a well-formed topic ARN of this region and account.
/// Malformed is `InvalidParameter`; another region's or account's is `NotFound`.
pub fn topic_name<'a>(store: &Store, arn: &'a str, param: &str) -> Result<&'a str, Ec2Error> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ["arn", "aws", "sns", region, account, name] = parts.as_slice() else {
        return Err(invalid(format!(
            "{param} Reason: An ARN must have the form arn:aws:sns:REGION:ACCOUNT:TOPIC"
        )));
    };
    if !valid_name(name) {
        return Err(invalid(format!(
            "{param} Reason: the topic name is not valid"
        )));
    }
    if *region != store.region() || *account != crate::ids::OWNER_ID {
        return Err(not_found("Topic"));
    }
    Ok(name)
}

/// One page of `items` from `token` (an offset this module gave out), 100 to a page as SNS.
pub(crate) fn page<T>(
    items: Vec<T>,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), Ec2Error> {
    const PAGE: usize = 100;
    let start = match token {
        None | Some("") => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|&s| s <= items.len())
            .ok_or_else(|| invalid("NextToken"))?,
    };
    let end = (start + PAGE).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
    ))
}

/// SNS's rule for topic names: 1 to 256 letters, digits, `-` and `_`.
pub fn valid_name(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
