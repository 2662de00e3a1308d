//! The alarm actions' shapes: PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric,
//! DescribeAlarmHistory, DeleteAlarms, SetAlarmState, Enable/DisableAlarmActions.

use serde::{Deserialize, Serialize};

use super::{Dimension, Tag, Timestamp};

/// `PutMetricAlarm` input (a single-metric alarm; `Metrics` math alarms are not supported).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutMetricAlarmInput {
    /// Unique in the region.
    pub alarm_name: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
    /// Whether actions run on state changes (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions_enabled: Option<bool>,
    /// Actions on a change to `OK`.
    #[serde(rename = "OKActions")]
    pub ok_actions: Vec<String>,
    /// Actions on a change to `ALARM`.
    pub alarm_actions: Vec<String>,
    /// Actions on a change to `INSUFFICIENT_DATA`.
    pub insufficient_data_actions: Vec<String>,
    /// The metric's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    /// The metric's namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `SampleCount`, `Average`, `Sum`, `Minimum` or `Maximum`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// A percentile `pNN` instead of `Statistic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_statistic: Option<String>,
    /// The metric's dimensions.
    pub dimensions: Vec<Dimension>,
    /// Seconds per data point: 10, 30 or a multiple of 60.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
    /// Only data points of this unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// N: the periods looked at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation_periods: Option<i64>,
    /// M: breaching periods of those N that make `ALARM` (default N).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<i64>,
    /// The value compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// `GreaterThanOrEqualToThreshold`, `GreaterThanThreshold`, `LessThanThreshold`,
    /// `LessThanOrEqualToThreshold`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison_operator: Option<String>,
    /// `missing` (default), `ignore`, `breaching`, `notBreaching`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<String>,
    /// `evaluate` or `ignore` (percentile alarms only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluate_low_sample_count_percentile: Option<String>,
    /// Tags for a new alarm.
    pub tags: Vec<Tag>,
}

/// A metric alarm as `DescribeAlarms` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MetricAlarm {
    /// Its name.
    pub alarm_name: String,
    /// `arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME`.
    pub alarm_arn: String,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
    /// When its configuration last changed.
    pub alarm_configuration_updated_timestamp: Timestamp,
    /// Whether actions run.
    pub actions_enabled: bool,
    /// Actions on a change to `OK`.
    #[serde(rename = "OKActions")]
    pub ok_actions: Vec<String>,
    /// Actions on a change to `ALARM`.
    pub alarm_actions: Vec<String>,
    /// Actions on a change to `INSUFFICIENT_DATA`.
    pub insufficient_data_actions: Vec<String>,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state_value: String,
    /// Why, for a person.
    pub state_reason: String,
    /// Why, as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason_data: Option<String>,
    /// When the state was last evaluated or set.
    pub state_updated_timestamp: Timestamp,
    /// The metric's name.
    pub metric_name: String,
    /// The metric's namespace.
    pub namespace: String,
    /// The statistic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// The percentile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_statistic: Option<String>,
    /// The metric's dimensions.
    pub dimensions: Vec<Dimension>,
    /// Seconds per data point.
    pub period: i64,
    /// The unit, if the alarm names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// N.
    pub evaluation_periods: i64,
    /// M, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<i64>,
    /// The threshold.
    pub threshold: f64,
    /// The comparison.
    pub comparison_operator: String,
    /// The missing-data treatment, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<String>,
    /// For percentile alarms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluate_low_sample_count_percentile: Option<String>,
    /// When the state value last changed.
    pub state_transitioned_timestamp: Timestamp,
}

/// `DescribeAlarms` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeAlarmsInput {
    /// Only these alarms (up to 100).
    pub alarm_names: Vec<String>,
    /// Only alarms whose name starts so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_name_prefix: Option<String>,
    /// `MetricAlarm` and/or `CompositeAlarm` (default `MetricAlarm`).
    pub alarm_types: Vec<String>,
    /// Only alarms in this state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_value: Option<String>,
    /// Only alarms with an action starting so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_prefix: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_records: Option<i64>,
    /// The previous answer's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `DescribeAlarms` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeAlarmsOutput {
    /// Composite alarms (ec2lab has none; present so clients see an empty list).
    pub composite_alarms: Vec<serde_json::Value>,
    /// The metric alarms, by name.
    pub metric_alarms: Vec<MetricAlarm>,
    /// Where the next answer starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `DescribeAlarmsForMetric` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeAlarmsForMetricInput {
    /// The metric's name.
    pub metric_name: String,
    /// The metric's namespace.
    pub namespace: String,
    /// Only alarms on this statistic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// Only alarms on this percentile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_statistic: Option<String>,
    /// The metric's exact dimensions.
    pub dimensions: Vec<Dimension>,
    /// Only alarms with this period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
    /// Only alarms with this unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// `DescribeAlarmsForMetric` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeAlarmsForMetricOutput {
    /// The alarms, by name.
    pub metric_alarms: Vec<MetricAlarm>,
}

/// `DescribeAlarmHistory` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeAlarmHistoryInput {
    /// Only this alarm's history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_name: Option<String>,
    /// `MetricAlarm` and/or `CompositeAlarm`.
    pub alarm_types: Vec<String>,
    /// `ConfigurationUpdate`, `StateUpdate` or `Action`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_item_type: Option<String>,
    /// From this time, inclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<Timestamp>,
    /// To this time, inclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<Timestamp>,
    /// Page size, 1 to 100 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_records: Option<i64>,
    /// The previous answer's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// `TimestampDescending` (default) or `TimestampAscending`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_by: Option<String>,
}

/// `DescribeAlarmHistory` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeAlarmHistoryOutput {
    /// The items.
    pub alarm_history_items: Vec<AlarmHistoryItem>,
    /// Where the next answer starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One entry of an alarm's history.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AlarmHistoryItem {
    /// The alarm.
    pub alarm_name: String,
    /// `MetricAlarm`.
    pub alarm_type: String,
    /// When.
    pub timestamp: Timestamp,
    /// `ConfigurationUpdate`, `StateUpdate` or `Action`.
    pub history_item_type: String,
    /// One line for a person.
    pub history_summary: String,
    /// CloudWatch's JSON of the change.
    pub history_data: String,
}

/// `DeleteAlarms` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteAlarmsInput {
    /// The alarms (up to 100).
    pub alarm_names: Vec<String>,
}

/// `SetAlarmState` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SetAlarmStateInput {
    /// The alarm.
    pub alarm_name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state_value: String,
    /// Why, for a person.
    pub state_reason: String,
    /// Why, as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason_data: Option<String>,
}

/// `EnableAlarmActions` and `DisableAlarmActions` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AlarmNamesInput {
    /// The alarms (up to 100).
    pub alarm_names: Vec<String>,
}

/// `EnableAlarmActions` input.
pub type EnableAlarmActionsInput = AlarmNamesInput;
/// `DisableAlarmActions` input.
pub type DisableAlarmActionsInput = AlarmNamesInput;
