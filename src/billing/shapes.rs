//! Cost Explorer's typed request and result of `GetCostAndUsage` (botocore's `ce` model,
//! API 2017-10-25), members under the model's names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `DateInterval`: `Start` inclusive, `End` exclusive (`YYYY-MM-DD`, or with a time for
/// `HOURLY`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DateInterval {
    /// The first day (or hour).
    pub start: String,
    /// The day (or hour) after the last.
    pub end: String,
}

/// `DimensionValues` of a filter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DimensionValues {
    /// The dimension (`INSTANCE_TYPE`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The values that match.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// `EQUALS` (the default) only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_options: Vec<String>,
}

/// `Expression`: a filter on dimensions, with `And`, `Or`, `Not`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Expression {
    /// All of these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub and: Vec<Expression>,
    /// Any of these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub or: Vec<Expression>,
    /// Not this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not: Option<Box<Expression>>,
    /// A dimension's values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<DimensionValues>,
}

/// `GroupDefinition`: `Type=DIMENSION,Key=INSTANCE_TYPE`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GroupDefinition {
    /// `DIMENSION` (`TAG` and `COST_CATEGORY` are not kept by ec2lab).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// The dimension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `GetCostAndUsageRequest`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCostAndUsageRequest {
    /// The period.
    pub time_period: DateInterval,
    /// `DAILY`, `MONTHLY` or `HOURLY`.
    pub granularity: String,
    /// What to count only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Expression>,
    /// `UnblendedCost`, `AmortizedCost`, `UsageQuantity`, ...
    pub metrics: Vec<String>,
    /// Up to two groupings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<GroupDefinition>,
    /// The page after a previous answer's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// `MetricValue`: an amount as text, and its unit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricValue {
    /// The amount, as Cost Explorer writes it (a decimal string).
    pub amount: String,
    /// `USD`, `Hrs`, `N/A`.
    pub unit: String,
}

/// `Group`: the group's keys and its metrics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Group {
    /// One value per group definition.
    pub keys: Vec<String>,
    /// Metric name to value.
    pub metrics: BTreeMap<String, MetricValue>,
}

/// `ResultByTime`: one bucket.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResultByTime {
    /// The bucket.
    pub time_period: DateInterval,
    /// Ungrouped totals (empty when grouped, as Cost Explorer answers).
    pub total: BTreeMap<String, MetricValue>,
    /// The groups.
    pub groups: Vec<Group>,
    /// Whether the bucket is not over yet.
    pub estimated: bool,
}

/// `GetCostAndUsageResponse`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCostAndUsageResponse {
    /// The groupings asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_definitions: Vec<GroupDefinition>,
    /// One per bucket.
    pub results_by_time: Vec<ResultByTime>,
    /// Dimension values' attributes (none here).
    pub dimension_value_attributes: Vec<serde_json::Value>,
}
