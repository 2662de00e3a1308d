//! EC2's `Filter` lists: values within a filter are alternatives, filters must all match,
//! and values may use `*` and `?`. Every describe verb filters through this module.

use serde::{Deserialize, Serialize};

use super::tags::Tag;
use crate::error::Ec2Error;

/// One `Filter` of a describe request (`Name=…,Values=…`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Filter {
    /// The filter's name, such as `instance-state-name` or `tag:Name`.
    pub name: String,
    /// The values, any of which may match; each may use `*` and `?`.
    pub values: Vec<String>,
}

impl Filter {
    /// A filter from a name and its values.
    pub fn new(name: impl Into<String>, values: &[&str]) -> Self {
        Filter {
            name: name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }
}

/// EC2 filter values may use `*` (any run) and `?` (one character).
pub fn glob(pattern: &str, text: &str) -> bool {
    fn m(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], t) || (!t.is_empty() && m(p, &t[1..])),
            (Some(b'?'), Some(_)) => m(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &t[1..]),
            _ => false,
        }
    }
    m(pattern.as_bytes(), text.as_bytes())
}

/// A resource that a describe verb can filter.
pub trait Filterable {
    /// The filter names this resource knows, besides `tag:<key>`, `tag-key` and `tag-value`.
    const FILTERS: &'static [&'static str];

    /// The values of the known filter `name` for this resource: empty when it has none.
    /// Only called with a name from [`Self::FILTERS`].
    fn filter_values(&self, name: &str) -> Vec<String>;

    /// The resource's tags.
    fn tags(&self) -> &[Tag];
}

/// Refuses a filter name the resource does not know, as EC2 does.
pub fn check<T: Filterable>(filters: &[Filter]) -> Result<(), Ec2Error> {
    for f in filters {
        let known = T::FILTERS.contains(&f.name.as_str())
            || matches!(f.name.as_str(), "tag-key" | "tag-value")
            || f.name.strip_prefix("tag:").is_some_and(|k| !k.is_empty());
        if !known {
            return Err(Ec2Error::invalid_parameter(format!(
                "The filter '{}' is invalid; ec2lab knows {}, tag:<key>, tag-key and tag-value",
                f.name,
                T::FILTERS.join(", ")
            )));
        }
    }
    Ok(())
}

/// Whether `item` passes every filter. Call [`check`] first: unknown names match nothing.
pub fn matches<T: Filterable>(item: &T, filters: &[Filter]) -> bool {
    filters.iter().all(|f| {
        let any = |v: &str| f.values.iter().any(|p| glob(p, v));
        match f.name.as_str() {
            "tag-key" => item.tags().iter().any(|t| any(&t.key)),
            "tag-value" => item.tags().iter().any(|t| any(&t.value)),
            name => match name.strip_prefix("tag:") {
                Some(key) => item.tags().iter().any(|t| t.key == key && any(&t.value)),
                None => item.filter_values(name).iter().any(|v| any(v)),
            },
        }
    })
}

/// Checks the filters, then keeps the items that pass them.
pub fn retain<T: Filterable>(items: Vec<T>, filters: &[Filter]) -> Result<Vec<T>, Ec2Error> {
    check::<T>(filters)?;
    Ok(items.into_iter().filter(|i| matches(i, filters)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing {
        state: &'static str,
        tags: Vec<Tag>,
    }

    impl Filterable for Thing {
        const FILTERS: &'static [&'static str] = &["state"];
        fn filter_values(&self, name: &str) -> Vec<String> {
            match name {
                "state" => vec![self.state.into()],
                _ => vec![],
            }
        }
        fn tags(&self) -> &[Tag] {
            &self.tags
        }
    }

    fn things() -> Vec<Thing> {
        vec![
            Thing {
                state: "running",
                tags: vec![Tag::new("Name", "web-1")],
            },
            Thing {
                state: "stopped",
                tags: vec![Tag::new("env", "lab")],
            },
        ]
    }

    #[test]
    fn glob_matches_like_ec2() {
        assert!(glob("web*", "web-1"));
        assert!(glob("w?b", "web"));
        assert!(!glob("w?b", "wb"));
        assert!(glob("*", ""));
        assert!(!glob("web", "web-1"));
    }

    #[test]
    fn values_are_alternatives_and_filters_all_apply() {
        let f = [Filter::new("state", &["running", "stopped"])];
        assert_eq!(retain(things(), &f).unwrap().len(), 2);
        let f = [
            Filter::new("state", &["running", "stopped"]),
            Filter::new("tag:Name", &["web*"]),
        ];
        let kept = retain(things(), &f).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].state, "running");
        assert_eq!(
            retain(things(), &[Filter::new("tag-key", &["env"])])
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            retain(things(), &[Filter::new("tag-value", &["l*"])])
                .unwrap()
                .len(),
            1
        );
        assert!(retain(things(), &[Filter::new("tag:Name", &["lab"])])
            .unwrap()
            .is_empty());
    }

    #[test]
    fn unknown_filter_is_invalid_parameter_value() {
        let e = retain(things(), &[Filter::new("colour", &["x"])])
            .err()
            .unwrap();
        assert_eq!(e.code, "InvalidParameterValue");
        assert!(
            e.message.contains("'colour'") && e.message.contains("state"),
            "{}",
            e.message
        );
        assert!(retain(things(), &[Filter::new("tag:", &["x"])]).is_err());
    }
}
