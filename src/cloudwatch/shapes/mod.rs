//! Typed requests and results of CloudWatch's actions, named and shaped as in botocore's
//! CloudWatch model (`GetMetricStatisticsInput` → `GetMetricStatisticsOutput`, …). Members
//! serialize under the model's member names (PascalCase); optional members that are absent
//! are left out. Timestamps are [`Timestamp`]: read from either wire protocol's form.

pub mod alarms;
pub mod dashboards;
pub mod metrics;
pub mod time;

use serde::{Deserialize, Serialize};

pub use super::sample::Dimension;
pub use time::Timestamp;

/// A metric: namespace, name and the exact set of its dimensions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Metric {
    /// `AWS/EC2`, `AWS/EBS` or a custom namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `CPUUtilization`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    /// Its dimensions.
    pub dimensions: Vec<Dimension>,
}

/// A metric, a period and a statistic: one series of data points.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MetricStat {
    /// The metric.
    pub metric: Metric,
    /// Seconds per data point.
    pub period: i64,
    /// `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount` or a percentile `pNN`.
    pub stat: String,
    /// Only data points of this unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// One query of `GetMetricData` (or of a metric-math alarm's `Metrics`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MetricDataQuery {
    /// The query's id: starts with a lowercase letter; letters, digits and `_`.
    pub id: String,
    /// The metric, period and statistic to return.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<MetricStat>,
    /// A metric math expression (ec2lab refuses them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// The series' label; the metric's name when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Whether the series is in the answer (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_data: Option<bool>,
    /// The period of an expression's series.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
}

/// A tag on an alarm or a dashboard.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}
