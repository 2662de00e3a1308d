//! The metric actions' shapes: PutMetricData, GetMetricStatistics, GetMetricData,
//! ListMetrics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Dimension, Metric, MetricDataQuery, Timestamp};

/// `PutMetricData` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutMetricDataInput {
    /// The custom namespace (not starting with `AWS/`).
    pub namespace: String,
    /// The data, up to 1,000 metrics.
    pub metric_data: Vec<MetricDatum>,
}

/// One metric's data in `PutMetricData`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MetricDatum {
    /// The metric's name.
    pub metric_name: String,
    /// Its dimensions (up to 30).
    pub dimensions: Vec<Dimension>,
    /// When; now if absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// One value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// A statistic set instead of values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic_values: Option<StatisticSet>,
    /// Many values (up to 150), each `Counts[i]` times (1 when `Counts` is absent).
    pub values: Vec<f64>,
    /// How often each of `Values` occurred.
    pub counts: Vec<f64>,
    /// The unit; `None` if absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// 1 (high resolution) or 60 (standard, the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_resolution: Option<i64>,
}

/// `StatisticValues` of a datum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StatisticSet {
    /// How many values.
    pub sample_count: f64,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub minimum: f64,
    /// The largest.
    pub maximum: f64,
}

/// `GetMetricStatistics` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetMetricStatisticsInput {
    /// The metric's namespace.
    pub namespace: String,
    /// The metric's name.
    pub metric_name: String,
    /// The metric's exact dimensions.
    pub dimensions: Vec<Dimension>,
    /// First time, inclusive (rounded down as CloudWatch rounds it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// Last time, exclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// Seconds per data point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
    /// `SampleCount`, `Average`, `Sum`, `Minimum`, `Maximum`.
    pub statistics: Vec<String>,
    /// Percentiles, `p0.0` to `p100`.
    pub extended_statistics: Vec<String>,
    /// Only data points of this unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// `GetMetricStatistics` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetMetricStatisticsOutput {
    /// The metric's name.
    pub label: String,
    /// The data points, oldest first.
    pub datapoints: Vec<Datapoint>,
}

/// One data point of `GetMetricStatistics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Datapoint {
    /// The start of its period.
    pub timestamp: Timestamp,
    /// When asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_count: Option<f64>,
    /// When asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,
    /// When asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    /// When asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    /// When asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    /// The data's unit.
    pub unit: String,
    /// The percentiles asked for.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extended_statistics: BTreeMap<String, f64>,
}

/// `GetMetricData` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetMetricDataInput {
    /// The queries (up to 500).
    pub metric_data_queries: Vec<MetricDataQuery>,
    /// First time, inclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// Last time, exclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// The previous answer's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// `TimestampDescending` (default) or `TimestampAscending`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_by: Option<String>,
    /// Data points per answer (default 100,800).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_datapoints: Option<i64>,
}

/// `GetMetricData` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetMetricDataOutput {
    /// One result per query that returns data.
    pub metric_data_results: Vec<MetricDataResult>,
    /// Where the next answer starts, when data points are left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Messages about the whole request.
    pub messages: Vec<MessageData>,
}

/// One query's series.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MetricDataResult {
    /// The query's id.
    pub id: String,
    /// The query's label.
    pub label: String,
    /// The data points' times, in `ScanBy` order.
    pub timestamps: Vec<Timestamp>,
    /// Their values.
    pub values: Vec<f64>,
    /// `Complete` or `PartialData` (more in the next answer).
    pub status_code: String,
    /// Messages about this series.
    pub messages: Vec<MessageData>,
}

/// A message in `GetMetricData`'s answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MessageData {
    /// Its code.
    pub code: String,
    /// Its text.
    pub value: String,
}

/// `ListMetrics` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListMetricsInput {
    /// Only this namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Only this name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    /// Only metrics with these dimensions (any value when `Value` is absent).
    pub dimensions: Vec<DimensionFilter>,
    /// The previous answer's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// `PT3H`: only metrics with data in the past three hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recently_active: Option<String>,
}

/// A dimension filter of `ListMetrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DimensionFilter {
    /// The dimension's name.
    pub name: String,
    /// Its value; any when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `ListMetrics` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListMetricsOutput {
    /// The metrics (up to 500 per answer).
    pub metrics: Vec<Metric>,
    /// Where the next answer starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}
