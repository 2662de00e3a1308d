//! Tags on any resource: CreateTags, DeleteTags and DescribeTags.

use serde::{Deserialize, Serialize};

use super::{Filter, Tag};

/// CreateTags' input: every tag goes on every resource, or none does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateTagsRequest {
    /// The resources' ids (`i-…`, `vol-…`, `sg-…`, …).
    pub resources: Vec<String>,
    /// The tags: a key overwrites the tag of that key, if there is one.
    pub tags: Vec<Tag>,
}

/// DeleteTags' input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteTagsRequest {
    /// The resources' ids.
    pub resources: Vec<String>,
    /// The tags to remove; none: every tag of the resources.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagToDelete>,
}

/// One tag of DeleteTags: without a value it goes whatever its value; with one (the empty
/// string too), only if the value matches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagToDelete {
    /// The key.
    pub key: String,
    /// The value it must have to go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// DescribeTags' input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeTagsRequest {
    /// Filters: `key`, `value`, `resource-id`, `resource-type`, `tag:<key>`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// A page of at most this many tags (5 to 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// The previous page's `NextToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribeTags' output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTagsResult {
    /// The tags, by resource id and key.
    pub tags: Vec<TagDescription>,
    /// The next page's token, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One tag of one resource.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagDescription {
    /// The tag's key.
    pub key: String,
    /// The resource's id.
    pub resource_id: String,
    /// The resource's type: `instance`, `image`, `volume`, `snapshot`, `vpc`, `subnet`,
    /// `security-group`, `network-interface`, `elastic-ip` or `key-pair`.
    pub resource_type: String,
    /// The tag's value.
    pub value: String,
}
