//! How an error becomes text for a user: the error and its chain of causes. Shared by the
//! EC2 side and the VMM, so it imports nothing from either.

use std::error::Error;

/// An error followed by each of its causes, `": "`-separated, on one line: how an error
/// becomes text for a user. A cause whose text the message already holds is not repeated.
pub fn chain(err: &dyn Error) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[test]
    fn chains_name_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot open the disk")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other("no such file"));
        assert_eq!(chain(&e), "cannot open the disk: no such file");
        // A message that still quotes its source does not get it twice.
        #[derive(Debug, thiserror::Error)]
        #[error("cannot open the disk: {0}")]
        struct Quoting(#[source] std::io::Error);
        let e = Quoting(std::io::Error::other("no such file"));
        assert_eq!(chain(&e), "cannot open the disk: no such file");
    }
}
