//! EC2's pagination (`MaxResults` and `NextToken`), one scheme for every describe action.
//!
//! Each action's items have a key that orders them (an id, or a creation time and an id);
//! a page is the items after the key the previous page ended on, in key order. The token
//! is that key with the action's name, base64url-encoded: opaque to clients, the same for
//! the same position (stable), and refused by any other action. Because a page starts
//! *after a key* rather than at an offset, items created or deleted between two requests
//! never make another item repeat or go missing.

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::error::Ec2Error;

/// EC2's bounds on one action's `MaxResults`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The smallest value taken.
    pub min: i64,
    /// The largest page.
    pub max: i64,
    /// Values above `max` give pages of `max` (DescribeVolumes, DescribeSnapshots) rather
    /// than `InvalidParameterValue`.
    pub cap: bool,
}

impl Limits {
    /// `min` to `max`; anything else is `InvalidParameterValue`.
    pub const fn between(min: i64, max: i64) -> Limits {
        Limits {
            min,
            max,
            cap: false,
        }
    }

    /// At least `min`; above `max` the page holds `max` items.
    pub const fn capped(min: i64, max: i64) -> Limits {
        Limits {
            min,
            max,
            cap: true,
        }
    }
}

/// What a request asks of the pages: its `MaxResults` and `NextToken`.
#[derive(Clone, Copy, Debug, Default)]
pub struct PageRequest<'a> {
    /// `MaxResults`: None for every item (after the token).
    pub max_results: Option<i64>,
    /// `NextToken` from the previous page.
    pub next_token: Option<&'a str>,
}

impl<'a> PageRequest<'a> {
    /// The request's two members.
    pub fn new(max_results: Option<i64>, next_token: &'a Option<String>) -> Self {
        PageRequest {
            max_results,
            next_token: next_token.as_deref().filter(|t| !t.is_empty()),
        }
    }
}

/// `InvalidParameterCombination` when a request names items by id (`ids_given`) and also
/// asks for pages, which EC2 refuses for some actions (DescribeInstances, DescribeVolumes,
/// DescribeSnapshots, DescribeNetworkInterfaces). `ids_param` is the wire name EC2 uses in
/// the message, such as `instancesSet`.
pub fn refuse_ids_with_max_results(
    ids_param: &str,
    ids_given: bool,
    max_results: Option<i64>,
) -> Result<(), Ec2Error> {
    if ids_given && max_results.is_some() {
        return Err(Ec2Error::new(
            "InvalidParameterCombination",
            format!(
                "The parameter {ids_param} cannot be used with the parameter maxResults: name the items, or page through them all"
            ),
        ));
    }
    Ok(())
}

fn encode(scope: &str, key: &str) -> String {
    Base64UrlUnpadded::encode_string(format!("{scope}\n{key}").as_bytes())
}

fn decode(scope: &str, token: &str) -> Result<String, Ec2Error> {
    let bad = || {
        Ec2Error::new(
            "InvalidPaginationToken",
            format!(
                "The pagination token '{token}' is not valid for {scope}: pass the NextToken of the previous {scope} answer unchanged"
            ),
        )
    };
    let bytes = Base64UrlUnpadded::decode_vec(token).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    match text.split_once('\n') {
        Some((s, key)) if s == scope => Ok(key.to_string()),
        _ => Err(bad()),
    }
}

/// One page of `items` for the action `scope` (its name, e.g. `DescribeVolumes`): the
/// items in the order of `key`, after the request's token, at most `MaxResults` of them,
/// and the token of the next page when more are left. Without `MaxResults` every item
/// after the token is returned, and no token.
pub fn page<T>(
    scope: &str,
    mut items: Vec<T>,
    key: impl Fn(&T) -> String,
    req: PageRequest,
    limits: Limits,
) -> Result<(Vec<T>, Option<String>), Ec2Error> {
    let size = match req.max_results {
        None => None,
        Some(n) if n < limits.min || (n > limits.max && !limits.cap) => {
            return Err(Ec2Error::invalid_parameter(format!(
                "Value ( {n} ) for parameter maxResults is invalid. Parameter must be between {} and {}.",
                limits.min, limits.max
            )))
        }
        Some(n) => Some(n.min(limits.max) as usize),
    };
    let after = req.next_token.map(|t| decode(scope, t)).transpose()?;
    let mut keyed: Vec<(String, T)> = items.drain(..).map(|i| (key(&i), i)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(after) = &after {
        keyed.retain(|(k, _)| k > after);
    }
    let next = match size {
        Some(n) if keyed.len() > n => {
            keyed.truncate(n);
            keyed.last().map(|(k, _)| encode(scope, k))
        }
        _ => None,
    };
    Ok((keyed.into_iter().map(|(_, i)| i).collect(), next))
}

/// A key that sorts as its parts do, one after the other (parts may hold any text but NUL).
pub fn key(parts: &[&str]) -> String {
    parts.join("\0")
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits::between(5, 1000);

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("vol-{i:03}")).collect()
    }

    fn all_pages(items: &[String], max: i64) -> Vec<String> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) = page(
                "DescribeVolumes",
                items.to_vec(),
                |s| s.clone(),
                PageRequest::new(Some(max), &token),
                L,
            )
            .unwrap();
            assert!(page.len() <= max as usize);
            out.extend(page);
            match next {
                Some(t) => token = Some(t),
                None => return out,
            }
        }
    }

    #[test]
    fn pages_return_every_item_once_in_key_order() {
        let mut items = ids(25);
        items.reverse();
        let got = all_pages(&items, 5);
        assert_eq!(got, ids(25));
        assert_eq!(all_pages(&ids(10), 5), ids(10));
        assert_eq!(all_pages(&ids(3), 5), ids(3));
        assert!(all_pages(&[], 5).is_empty());
        // Without MaxResults: everything, no token.
        let (all, next) = page("X", ids(7), |s| s.clone(), PageRequest::default(), L).unwrap();
        assert_eq!((all.len(), next), (7, None));
    }

    #[test]
    fn tokens_are_stable_and_survive_changes_between_pages() {
        let items = ids(12);
        let first = |items: Vec<String>| {
            page(
                "DescribeVolumes",
                items,
                |s| s.clone(),
                PageRequest::new(Some(5), &None),
                L,
            )
            .unwrap()
        };
        let (p1, t1) = first(items.clone());
        assert_eq!(
            first(items.clone()).1,
            t1,
            "the same position, the same token"
        );
        // The last item of page 1 is deleted and a new first item appears: page 2 still
        // starts right after page 1.
        let mut changed: Vec<String> = items.iter().filter(|i| *i != &p1[4]).cloned().collect();
        changed.push("vol-".into());
        let (p2, _) = page(
            "DescribeVolumes",
            changed,
            |s| s.clone(),
            PageRequest::new(Some(5), &t1),
            L,
        )
        .unwrap();
        assert_eq!(p2, ids(10)[5..10]);
    }

    #[test]
    fn bounds_and_tokens_are_checked() {
        let bad = |max: i64, limits: Limits| {
            page(
                "X",
                ids(3),
                |s| s.clone(),
                PageRequest::new(Some(max), &None),
                limits,
            )
            .err()
            .map(|e| e.code.to_string())
        };
        assert_eq!(bad(4, L).as_deref(), Some("InvalidParameterValue"));
        assert_eq!(bad(1001, L).as_deref(), Some("InvalidParameterValue"));
        assert_eq!(bad(5, L), None);
        // Capped: above the largest page is fine, the page is the largest.
        assert_eq!(bad(1000, Limits::capped(5, 500)), None);
        let (p, t) = page(
            "X",
            ids(600),
            |s| s.clone(),
            PageRequest::new(Some(1000), &None),
            Limits::capped(5, 500),
        )
        .unwrap();
        assert_eq!(p.len(), 500);
        assert!(t.is_some());
        // A token of another action, or none at all.
        let (_, t) = page(
            "A",
            ids(9),
            |s| s.clone(),
            PageRequest::new(Some(5), &None),
            L,
        )
        .unwrap();
        let e = page("B", ids(9), |s| s.clone(), PageRequest::new(Some(5), &t), L).unwrap_err();
        assert_eq!(e.code, "InvalidPaginationToken");
        let junk = Some("!!".to_string());
        let e = page("A", ids(9), |s| s.clone(), PageRequest::new(None, &junk), L).unwrap_err();
        assert_eq!(e.code, "InvalidPaginationToken");
        assert!(refuse_ids_with_max_results("volumeSet", true, Some(5)).is_err());
        assert!(refuse_ids_with_max_results("volumeSet", true, None).is_ok());
        assert!(refuse_ids_with_max_results("volumeSet", false, Some(5)).is_ok());
    }

    #[test]
    fn keys_sort_by_their_parts() {
        assert!(key(&["2026-01-01", "b"]) < key(&["2026-01-01x", "a"]));
        assert!(key(&["a", "b"]) < key(&["a", "c"]));
    }
}
