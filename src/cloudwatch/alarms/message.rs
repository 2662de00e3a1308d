//! CloudWatch's JSON documents about alarms: the alarm message SNS delivers, the
//! `HistoryData` of history items, and `StateReasonData`.

use serde_json::{json, Map, Value};

use crate::cloudwatch::shapes::alarms::MetricAlarm;
use crate::cloudwatch::shapes::Timestamp;
use crate::cloudwatch::ACCOUNT_ID;

/// The SNS subject of a state change: `ALARM: "name" in lab-1`.
pub fn subject(new_state: &str, name: &str, region: &str) -> String {
    let s = format!("{new_state}: \"{name}\" in {region}");
    // SNS subjects are at most 100 characters.
    s.chars().take(100).collect()
}

/// The alarm message CloudWatch publishes to SNS on a state change (the body an email
/// or HTTP subscriber receives).
pub fn alarm_message(alarm: &MetricAlarm, region: &str, old_state: &str, change_ms: i64) -> String {
    let (statistic_type, statistic) = match (&alarm.statistic, &alarm.extended_statistic) {
        (_, Some(p)) => ("ExtendedStatistic", p.clone()),
        (Some(s), None) => ("Statistic", s.to_uppercase()),
        (None, None) => ("Statistic", String::new()),
    };
    let dims: Vec<Value> = alarm
        .dimensions
        .iter()
        .map(|d| json!({"value": d.value, "name": d.name}))
        .collect();
    let msg = json!({
        "AlarmName": alarm.alarm_name,
        "AlarmDescription": alarm.alarm_description,
        "AWSAccountId": ACCOUNT_ID,
        "AlarmConfigurationUpdatedTimestamp": alarm.alarm_configuration_updated_timestamp.alarm_form(),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": Timestamp(change_ms).alarm_form(),
        "Region": region,
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "OKActions": alarm.ok_actions,
        "AlarmActions": alarm.alarm_actions,
        "InsufficientDataActions": alarm.insufficient_data_actions,
        "Trigger": {
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "StatisticType": statistic_type,
            "Statistic": statistic,
            "Unit": alarm.unit,
            "Dimensions": dims,
            "Period": alarm.period,
            "EvaluationPeriods": alarm.evaluation_periods,
            "DatapointsToAlarm": alarm.datapoints_to_alarm.unwrap_or(alarm.evaluation_periods),
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": alarm.threshold,
            "TreatMissingData": alarm.treat_missing_data.clone().unwrap_or_default(),
            "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile.clone().unwrap_or_default(),
        }
    });
    msg.to_string()
}

/// The alarm's configuration as history data shows it: camelCase member names.
pub fn alarm_config(alarm: &MetricAlarm) -> Value {
    let v = serde_json::to_value(alarm).unwrap_or(Value::Null);
    let Value::Object(m) = v else { return v };
    let mut out = Map::new();
    for (k, v) in m {
        let key = match k.as_str() {
            "OKActions" => "okactions".to_string(),
            _ => {
                let mut c = k.chars();
                c.next()
                    .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
                    .unwrap_or_default()
            }
        };
        // History data leaves the state out: it records configuration.
        if !key.starts_with("state") {
            out.insert(key, v);
        }
    }
    Value::Object(out)
}

/// `HistoryData` of a `ConfigurationUpdate` item: `kind` is `Create`, `Update` or
/// `Delete`.
pub fn config_history(kind: &str, alarm: &MetricAlarm, before: Option<&MetricAlarm>) -> String {
    let member = match kind {
        "Create" => "createdAlarm",
        "Delete" => "deletedAlarm",
        _ => "updatedAlarm",
    };
    let mut doc = json!({"version": "1.0", "type": kind, member: alarm_config(alarm)});
    if let Some(before) = before {
        // The fields that changed, with their values before.
        let (old, new) = (alarm_config(before), alarm_config(alarm));
        let mut changed = Map::new();
        if let (Value::Object(o), Value::Object(n)) = (&old, &new) {
            for (k, v) in o {
                if n.get(k) != Some(v) {
                    changed.insert(k.clone(), v.clone());
                }
            }
        }
        doc["originalUpdatedFields"] = Value::Object(changed);
    }
    doc.to_string()
}

/// `HistoryData` of a `StateUpdate` item.
pub fn state_history(
    old_state: &str,
    old_reason: &str,
    new_state: &str,
    new_reason: &str,
    new_reason_data: Option<&str>,
) -> String {
    let mut new = json!({"stateValue": new_state, "stateReason": new_reason});
    if let Some(d) = new_reason_data {
        new["stateReasonData"] = serde_json::from_str(d).unwrap_or(Value::String(d.into()));
    }
    json!({
        "version": "1.0",
        "oldState": {"stateValue": old_state, "stateReason": old_reason},
        "newState": new,
    })
    .to_string()
}

/// `HistoryData` of an `Action` item.
pub fn action_history(
    action_arn: &str,
    succeeded: bool,
    state_update_ms: i64,
    detail: &str,
) -> String {
    let mut doc = json!({
        "actionState": if succeeded { "Succeeded" } else { "Failed" },
        "stateUpdateTimestamp": state_update_ms,
    });
    if action_arn.starts_with("arn:aws:sns:") {
        doc["notificationResource"] = json!(action_arn);
        doc["publishedMessage"] = json!(detail);
    } else {
        doc["actionResource"] = json!(action_arn);
        doc["actionResult"] = json!(detail);
    }
    doc.to_string()
}
