//! CloudWatch's `NextToken` paging: EC2's scheme ([`crate::ec2::pages`]: a page starts
//! after the key the previous one ended on, the token names the action), with
//! CloudWatch's code for a token it did not hand out, `InvalidNextToken`.

use crate::ec2::pages::{self, Limits, PageRequest};
use crate::error::Ec2Error;

/// One page of `items` in `key` order after `next_token`, `size` items at most (every
/// item when None), and the token of the next page when more are left.
pub fn page<T>(
    scope: &str,
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    size: Option<i64>,
    next_token: &Option<String>,
) -> Result<(Vec<T>, Option<String>), Ec2Error> {
    pages::page(
        scope,
        items,
        key,
        PageRequest::new(size, next_token),
        Limits::capped(1, i64::MAX),
    )
    .map_err(|e| {
        if e.code == "InvalidPaginationToken" {
            Ec2Error::new(
                "InvalidNextToken",
                format!(
                    "The NextToken is not valid for {scope}: pass the NextToken of the previous answer unchanged"
                ),
            )
        } else {
            e
        }
    })
}

/// `MaxRecords` of the alarm actions: 1 to 100, `default` when absent.
pub fn max_records(n: Option<i64>, default: i64) -> Result<i64, Ec2Error> {
    match n {
        None => Ok(default),
        Some(n) if (1..=100).contains(&n) => Ok(n),
        Some(n) => Err(crate::cloudwatch::metrics::validate::validation(format!(
            "1 validation error detected: Value '{n}' at 'maxRecords' failed to satisfy constraint: Member must have value between 1 and 100"
        ))),
    }
}
