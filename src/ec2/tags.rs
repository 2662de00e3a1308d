//! Tags: the `Tag` shape, `TagSpecification`s of create verbs, EC2's rules for keys and
//! values, and the JSON column each resource's table keeps them in.

use serde::{Deserialize, Serialize};

use crate::error::Ec2Error;

/// One tag (`Key=…,Value=…`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    /// The key: 1 to 128 characters, not starting with `aws:`.
    pub key: String,
    /// The value: up to 256 characters, may be empty.
    pub value: String,
}

impl Tag {
    /// A tag from a key and a value.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// The tags to put on new resources of one type (`--tag-specifications`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagSpecification {
    /// The type of resource the tags are for, such as `instance` or `volume`.
    pub resource_type: String,
    /// The tags.
    pub tags: Vec<Tag>,
}

/// EC2's limit on tags per resource.
pub const MAX_TAGS: usize = 50;

/// Checks keys and values as EC2 does.
pub fn validate(tags: &[Tag]) -> Result<(), Ec2Error> {
    for t in tags {
        if t.key.is_empty() || t.key.starts_with("aws:") {
            return Err(Ec2Error::invalid_parameter(
                "Tag keys must be non-empty and must not start with 'aws:'",
            ));
        }
        if t.key.chars().count() > 128 || t.value.chars().count() > 256 {
            return Err(Ec2Error::invalid_parameter(format!(
                "The tag '{}' is too long: keys may have 128 characters and values 256",
                t.key
            )));
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(Ec2Error::new(
            "TagLimitExceeded",
            format!(
                "A resource may have at most {MAX_TAGS} tags; {} were given",
                tags.len()
            ),
        ));
    }
    Ok(())
}

/// The tags that `specs` give resources of `resource_type`, checked. A specification for a
/// type the verb does not create is refused, as EC2 refuses it.
pub fn for_resource(
    specs: &[TagSpecification],
    resource_types: &[&str],
    resource_type: &str,
) -> Result<Vec<Tag>, Ec2Error> {
    let mut out = Vec::new();
    for s in specs {
        if !resource_types.contains(&s.resource_type.as_str()) {
            return Err(Ec2Error::invalid_parameter(format!(
                "'{}' is not a valid taggable resource type for this operation; use {}",
                s.resource_type,
                resource_types.join(" or ")
            )));
        }
        if s.resource_type == resource_type {
            merge(&mut out, &s.tags);
        }
    }
    validate(&out)?;
    Ok(out)
}

/// Adds or overwrites tags by key, keeping the order they were first set in.
pub fn merge(tags: &mut Vec<Tag>, new: &[Tag]) {
    for n in new {
        match tags.iter_mut().find(|t| t.key == n.key) {
            Some(t) => t.value.clone_from(&n.value),
            None => tags.push(n.clone()),
        }
    }
}

/// Removes tags as `DeleteTags` does: a tag with an empty value removes the key whatever its
/// value; with a value, only when the value matches.
pub fn remove(tags: &mut Vec<Tag>, gone: &[Tag]) {
    tags.retain(|t| {
        !gone
            .iter()
            .any(|g| g.key == t.key && (g.value.is_empty() || g.value == t.value))
    });
}

/// The value of `key`, if the resource has it.
pub fn get<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

/// Reads the JSON `tags` column of a resource's row (`[{"Key":…,"Value":…}]`, or the older
/// `[["key","value"]]`).
pub fn from_column(text: &str) -> Vec<Tag> {
    if let Ok(tags) = serde_json::from_str::<Vec<Tag>>(text) {
        return tags;
    }
    serde_json::from_str::<Vec<(String, String)>>(text)
        .map(|pairs| pairs.into_iter().map(|(k, v)| Tag::new(k, v)).collect())
        .unwrap_or_default()
}

/// The JSON `tags` column for these tags.
pub fn to_column(tags: &[Tag]) -> String {
    serde_json::to_string(tags).expect("tags serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specifications_pick_the_resource_type_and_refuse_others() {
        let specs = vec![
            TagSpecification {
                resource_type: "instance".into(),
                tags: vec![Tag::new("Name", "web")],
            },
            TagSpecification {
                resource_type: "volume".into(),
                tags: vec![Tag::new("Name", "disk")],
            },
        ];
        let t = for_resource(&specs, &["instance", "volume"], "volume").unwrap();
        assert_eq!(t, vec![Tag::new("Name", "disk")]);
        let e = for_resource(&specs, &["instance"], "instance").unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
    }

    #[test]
    fn keys_are_checked() {
        assert!(validate(&[Tag::new("aws:x", "1")]).is_err());
        assert!(validate(&[Tag::new("", "1")]).is_err());
        assert!(validate(&[Tag::new("k".repeat(129), "")]).is_err());
        let many: Vec<Tag> = (0..51).map(|i| Tag::new(format!("k{i}"), "")).collect();
        assert_eq!(validate(&many).unwrap_err().code, "TagLimitExceeded");
    }

    #[test]
    fn merge_and_remove_follow_create_tags_and_delete_tags() {
        let mut t = vec![Tag::new("a", "1"), Tag::new("b", "2")];
        merge(&mut t, &[Tag::new("a", "9"), Tag::new("c", "3")]);
        assert_eq!(
            t,
            vec![Tag::new("a", "9"), Tag::new("b", "2"), Tag::new("c", "3")]
        );
        remove(&mut t, &[Tag::new("a", "1"), Tag::new("b", "")]);
        assert_eq!(t, vec![Tag::new("a", "9"), Tag::new("c", "3")]);
        assert_eq!(get(&t, "c"), Some("3"));
    }

    #[test]
    fn the_column_reads_both_formats() {
        let t = vec![Tag::new("Name", "web")];
        assert_eq!(from_column(&to_column(&t)), t);
        assert_eq!(from_column(r#"[["Name","web"]]"#), t);
        assert!(from_column("[]").is_empty());
    }
}
