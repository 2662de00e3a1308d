//! Typed requests and results of CloudWatch's actions, named and shaped as in botocore's
//! CloudWatch model (`GetMetricStatisticsInput` → `GetMetricStatisticsOutput`, …). Members
//! serialize under the model's member names (PascalCase); optional members that are absent
//! are left out. Timestamps are [`Timestamp`]: read from either wire protocol's form.

pub mod alarms;
pub mod dashboards;
pub mod metrics;
pub mod time;
pub mod widget;

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

#[cfg(test)]
mod tests {
    use super::alarms::PutMetricAlarmInput;
    use super::metrics::{GetMetricStatisticsInput, PutMetricDataInput};
    use super::*;
    use crate::ec2::members::decode;

    /// Request bodies as botocore 1.44's `json` serializer writes them (AWS JSON 1.0),
    /// decoded through the house member decoder: nothing dropped, timestamps read.
    #[test]
    fn botocore_json_request_bodies() {
        let put: PutMetricDataInput = decode(
            serde_json::from_str(r#"{"Namespace": "Lab/App", "MetricData": [{"MetricName": "Latency", "Timestamp": 1796256000, "Values": [1.0, 2.0], "Counts": [2.0, 1.0], "Unit": "Milliseconds", "StorageResolution": 1, "Dimensions": [{"Name": "Host", "Value": "h1"}]}]}"#).unwrap(),
            "",
            &[],
        )
        .unwrap();
        let d = &put.metric_data[0];
        assert_eq!(d.timestamp, Some(Timestamp(1_796_256_000_000)));
        assert_eq!(
            (d.values.len(), d.counts.len(), d.storage_resolution),
            (2, 2, Some(1))
        );
        assert_eq!(d.dimensions, vec![Dimension::new("Host", "h1")]);
        let gms: GetMetricStatisticsInput = decode(
            serde_json::from_str(r#"{"Namespace": "AWS/EC2", "MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": "i-1"}], "StartTime": 1796256000, "EndTime": 1796259600, "Period": 60, "Statistics": ["Average", "Maximum"]}"#).unwrap(),
            "",
            &[],
        )
        .unwrap();
        assert_eq!(gms.end_time, Some(Timestamp(1_796_259_600_000)));
        let alarm: PutMetricAlarmInput = decode(
            serde_json::from_str(r#"{"AlarmName": "cpu", "MetricName": "CPUUtilization", "Namespace": "AWS/EC2", "Statistic": "Average", "Period": 10, "EvaluationPeriods": 3, "Threshold": 80.0, "ComparisonOperator": "GreaterThanThreshold", "OKActions": ["arn:aws:sns:lab-1:111122223333:t"], "ActionsEnabled": false, "Dimensions": [{"Name": "InstanceId", "Value": "i-1"}]}"#).unwrap(),
            "",
            &[],
        )
        .unwrap();
        assert_eq!(alarm.ok_actions, ["arn:aws:sns:lab-1:111122223333:t"]);
        assert_eq!(alarm.actions_enabled, Some(false));
        // What ec2lab lacks is refused by name rather than dropped.
        let e = decode::<PutMetricAlarmInput>(
            serde_json::json!({"AlarmName": "m", "Metrics": [{"Id": "m1", "Expression": "SUM(METRICS())"}]}),
            "",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.code, "Unsupported");
        assert!(e.message.contains("Metrics"), "{e}");
    }
}
