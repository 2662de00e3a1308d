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
    check_keys(tags)?;
    check_count(tags.len(), "")
}

/// Checks each key and value as EC2 does (what a request may ask for, before it is
/// merged into a resource's tags).
pub fn check_keys(tags: &[Tag]) -> Result<(), Ec2Error> {
    for t in tags {
        if t.key.is_empty() {
            return Err(Ec2Error::invalid_parameter("Tag keys must not be empty"));
        }
        check_not_reserved(&t.key)?;
        if t.key.chars().count() > 128 || t.value.chars().count() > 256 {
            return Err(Ec2Error::invalid_parameter(format!(
                "The tag '{}' is too long: keys may have 128 characters and values 256",
                t.key
            )));
        }
    }
    Ok(())
}

/// EC2's refusal of a key in the `aws:` namespace, which only AWS sets (Auto Scaling's
/// `aws:autoscaling:groupName`, for one): `InvalidParameterValue` with EC2's words, as the
/// aws CLI shows them ("An error occurred (InvalidParameterValue) when calling the
/// CreateTags operation: Tag keys starting with 'aws:' are reserved for internal use").
/// CreateTags, DeleteTags and every TagSpecifications check it.
pub fn check_not_reserved(key: &str) -> Result<(), Ec2Error> {
    if key.starts_with("aws:") {
        return Err(Ec2Error::invalid_parameter(
            "Tag keys starting with 'aws:' are reserved for internal use",
        ));
    }
    Ok(())
}

/// `TagLimitExceeded` when a resource (named in the message, if given) would have more
/// than [`MAX_TAGS`] tags.
pub fn check_count(count: usize, resource_id: &str) -> Result<(), Ec2Error> {
    if count <= MAX_TAGS {
        return Ok(());
    }
    let whose = if resource_id.is_empty() {
        String::new()
    } else {
        format!(" ({resource_id} would have {count})")
    };
    Err(Ec2Error::new(
        "TagLimitExceeded",
        format!(
            "The maximum number of tags for a resource has been reached: at most {MAX_TAGS} per resource{whose}"
        ),
    ))
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

/// Removes tags as `DeleteTags` does: a key without a value removes the tag whatever its
/// value; with a value (the empty string too), only when the value matches.
pub fn remove(tags: &mut Vec<Tag>, gone: &[(String, Option<String>)]) {
    tags.retain(|t| {
        !gone
            .iter()
            .any(|(k, v)| *k == t.key && v.as_ref().is_none_or(|v| *v == t.value))
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
        assert!(check_count(50, "vol-1").is_ok());
        let e = check_count(51, "vol-1").unwrap_err();
        assert!(
            e.code == "TagLimitExceeded" && e.message.contains("vol-1"),
            "{e}"
        );
    }

    #[test]
    fn merge_and_remove_follow_create_tags_and_delete_tags() {
        let mut t = vec![Tag::new("a", "1"), Tag::new("b", "2")];
        merge(&mut t, &[Tag::new("a", "9"), Tag::new("c", "3")]);
        assert_eq!(
            t,
            vec![Tag::new("a", "9"), Tag::new("b", "2"), Tag::new("c", "3")]
        );
        let gone = |k: &str, v: Option<&str>| (k.to_string(), v.map(String::from));
        // A value that does not match, and the empty value that does not match "2": kept.
        remove(&mut t, &[gone("a", Some("1")), gone("b", Some(""))]);
        assert_eq!(t.len(), 3);
        remove(&mut t, &[gone("b", None), gone("c", Some("3"))]);
        assert_eq!(t, vec![Tag::new("a", "9")]);
        let mut e = vec![Tag::new("e", "")];
        remove(&mut e, &[gone("e", Some(""))]);
        assert!(e.is_empty());
        assert_eq!(get(&t, "a"), Some("9"));
    }

    #[test]
    fn the_column_reads_both_formats() {
        let t = vec![Tag::new("Name", "web")];
        assert_eq!(from_column(&to_column(&t)), t);
        assert_eq!(from_column(r#"[["Name","web"]]"#), t);
        assert!(from_column("[]").is_empty());
    }
}
