//! The alarm actions: PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric,
//! DescribeAlarmHistory, DeleteAlarms, SetAlarmState, EnableAlarmActions,
//! DisableAlarmActions, each change one store transaction with its history item.

use super::evaluate::transition;
use super::message;
use super::record;
use super::validate::{alarm_name, checked_alarm, enum_error, missing, MAX_ALARMS};
use crate::cloudwatch::metrics::validate::{self, validation};
use crate::cloudwatch::now_ms;
use crate::cloudwatch::paging;
use crate::cloudwatch::shapes::alarms::*;
use crate::cloudwatch::shapes::Timestamp;
use crate::error::Ec2Error;
use crate::store::Store;

/// `PutMetricAlarm`: creates the alarm in `INSUFFICIENT_DATA`, or replaces an existing
/// alarm's whole configuration and keeps its state (as CloudWatch does). The caller
/// starts the evaluating daemon ([`crate::cloudwatch::operations::call`] does, through
/// `instances::monitor_daemon::ensure`).
pub fn put_metric_alarm(store: &mut Store, req: &PutMetricAlarmInput) -> Result<(), Ec2Error> {
    put_metric_alarm_at(store, req, now_ms())
}

/// `PutMetricAlarm` as of `now`.
pub fn put_metric_alarm_at(
    store: &mut Store,
    req: &PutMetricAlarmInput,
    now: i64,
) -> Result<(), Ec2Error> {
    let region = store.region().to_string();
    let mut alarm = checked_alarm(req, &region, now)?;
    store.write(|tx| {
        let before = record::load(tx, &alarm.alarm_name)?;
        match &before {
            Some(old) => {
                alarm.state_value = old.state_value.clone();
                alarm.state_reason = old.state_reason.clone();
                alarm.state_reason_data = old.state_reason_data.clone();
                alarm.state_updated_timestamp = old.state_updated_timestamp;
                alarm.state_transitioned_timestamp = old.state_transitioned_timestamp;
                record::save(tx, &alarm, None)?;
                record::add_history(
                    tx,
                    &alarm.alarm_name,
                    now,
                    "ConfigurationUpdate",
                    &format!("Alarm \"{}\" updated", alarm.alarm_name),
                    &message::config_history("Update", &alarm, Some(old)),
                )?;
            }
            None => {
                if record::count(tx)? >= MAX_ALARMS {
                    return Err(Ec2Error::new(
                        "LimitExceeded",
                        format!("The maximum number of alarms ({MAX_ALARMS}) has been reached: delete alarms you no longer need."),
                    ));
                }
                let tags: Vec<_> = req.tags.clone();
                record::save(tx, &alarm, Some(&tags))?;
                record::add_history(
                    tx,
                    &alarm.alarm_name,
                    now,
                    "ConfigurationUpdate",
                    &format!("Alarm \"{}\" created", alarm.alarm_name),
                    &message::config_history("Create", &alarm, None),
                )?;
            }
        }
        Ok(())
    })
}

fn alarm_types(types: &[String]) -> Result<bool, Ec2Error> {
    for t in types {
        if !["MetricAlarm", "CompositeAlarm", "LogAlarm"].contains(&t.as_str()) {
            return Err(enum_error(
                t,
                "alarmTypes",
                &["CompositeAlarm", "MetricAlarm", "LogAlarm"],
            ));
        }
    }
    Ok(types.is_empty() || types.iter().any(|t| t == "MetricAlarm"))
}

/// `DescribeAlarms` (metric alarms; ec2lab has no composite alarms).
pub fn describe_alarms(
    store: &Store,
    req: &DescribeAlarmsInput,
) -> Result<DescribeAlarmsOutput, Ec2Error> {
    if req.alarm_names.len() > 100 {
        return Err(validation(
            "1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to 100",
        ));
    }
    if !req.alarm_names.is_empty() && req.alarm_name_prefix.is_some() {
        return Err(Ec2Error::new(
            "InvalidParameterCombination",
            "AlarmNames and AlarmNamePrefix cannot be specified together: give one or the other",
        ));
    }
    if let Some(s) = &req.state_value {
        check_state(s)?;
    }
    let size = paging::max_records(req.max_records, 50)?;
    let metric = alarm_types(&req.alarm_types)?;
    let alarms: Vec<MetricAlarm> = if metric {
        record::all(store.conn())?
    } else {
        Vec::new()
    };
    let listed: Vec<MetricAlarm> = alarms
        .into_iter()
        .filter(|a| req.alarm_names.is_empty() || req.alarm_names.contains(&a.alarm_name))
        .filter(|a| {
            req.alarm_name_prefix
                .as_ref()
                .is_none_or(|p| a.alarm_name.starts_with(p.as_str()))
        })
        .filter(|a| req.state_value.as_ref().is_none_or(|s| *s == a.state_value))
        .filter(|a| {
            req.action_prefix.as_ref().is_none_or(|p| {
                a.alarm_actions
                    .iter()
                    .chain(&a.ok_actions)
                    .chain(&a.insufficient_data_actions)
                    .any(|x| x.starts_with(p.as_str()))
            })
        })
        .collect();
    let (page, next_token) = paging::page(
        "DescribeAlarms",
        listed,
        |a| a.alarm_name.clone(),
        Some(size),
        &req.next_token,
    )?;
    Ok(DescribeAlarmsOutput {
        composite_alarms: Vec::new(),
        metric_alarms: page,
        next_token,
    })
}

/// `DescribeAlarmsForMetric`: the alarms on exactly this metric (and statistic, period and
/// unit when given).
pub fn describe_alarms_for_metric(
    store: &Store,
    req: &DescribeAlarmsForMetricInput,
) -> Result<DescribeAlarmsForMetricOutput, Ec2Error> {
    validate::namespace("Namespace", &req.namespace)?;
    validate::metric_name("MetricName", &req.metric_name)?;
    validate::dimensions("Dimensions", &req.dimensions)?;
    if let Some(s) = &req.statistic {
        if !validate::STATISTICS.contains(&s.as_str()) {
            return Err(enum_error(s, "statistic", validate::STATISTICS));
        }
    }
    let mut dims = req.dimensions.clone();
    dims.sort();
    let alarms = record::all(store.conn())?
        .into_iter()
        .filter(|a| a.namespace == req.namespace && a.metric_name == req.metric_name)
        .filter(|a| a.dimensions == dims)
        .filter(|a| req.statistic.is_none() || a.statistic == req.statistic)
        .filter(|a| {
            req.extended_statistic.is_none() || a.extended_statistic == req.extended_statistic
        })
        .filter(|a| req.period.is_none_or(|p| p == a.period))
        .filter(|a| req.unit.is_none() || a.unit == req.unit)
        .collect();
    Ok(DescribeAlarmsForMetricOutput {
        metric_alarms: alarms,
    })
}

/// `DescribeAlarmHistory`: newest first unless `ScanBy` says otherwise.
pub fn describe_alarm_history(
    store: &Store,
    req: &DescribeAlarmHistoryInput,
) -> Result<DescribeAlarmHistoryOutput, Ec2Error> {
    let types = ["ConfigurationUpdate", "StateUpdate", "Action"];
    if let Some(t) = &req.history_item_type {
        if !types.contains(&t.as_str()) {
            return Err(enum_error(
                t,
                "historyItemType",
                &[
                    "ConfigurationUpdate",
                    "StateUpdate",
                    "Action",
                    "AlarmContributorStateUpdate",
                    "AlarmContributorAction",
                ],
            ));
        }
    }
    let descending = match req.scan_by.as_deref() {
        None | Some("TimestampDescending") => true,
        Some("TimestampAscending") => false,
        Some(other) => {
            return Err(enum_error(
                other,
                "scanBy",
                &["TimestampDescending", "TimestampAscending"],
            ))
        }
    };
    let size = paging::max_records(req.max_records, 100)?;
    let from = req.start_date.map(|t| t.ms()).unwrap_or(i64::MIN);
    let to = req.end_date.map(|t| t.ms()).unwrap_or(i64::MAX);
    if from > to {
        return Err(Ec2Error::invalid_parameter(
            "The parameter StartDate must be before the parameter EndDate.",
        ));
    }
    let metric = alarm_types(&req.alarm_types)?;
    let rows = if metric {
        record::history(store.conn(), req.alarm_name.as_deref(), from, to)?
    } else {
        Vec::new()
    };
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| {
            req.history_item_type
                .as_ref()
                .is_none_or(|t| *t == r.item.history_item_type)
        })
        .collect();
    // Keys sort in the order asked for: time and id, inverted when descending.
    let key = |r: &record::HistoryRow| {
        let (t, id) = (r.item.timestamp.ms(), r.id);
        if descending {
            format!("{:020}{:020}", i64::MAX - t, i64::MAX - id)
        } else {
            format!("{:020}{:020}", t.saturating_sub(i64::MIN / 2), id)
        }
    };
    let (page, next_token) = paging::page(
        "DescribeAlarmHistory",
        rows,
        key,
        Some(size),
        &req.next_token,
    )?;
    Ok(DescribeAlarmHistoryOutput {
        alarm_history_items: page.into_iter().map(|r| r.item).collect(),
        next_token,
    })
}

/// `DeleteAlarms`: every named alarm must exist, or none is deleted (`ResourceNotFound`).
pub fn delete_alarms(store: &mut Store, req: &DeleteAlarmsInput) -> Result<(), Ec2Error> {
    delete_alarms_at(store, req, now_ms())
}

/// `DeleteAlarms` as of `now`.
pub fn delete_alarms_at(
    store: &mut Store,
    req: &DeleteAlarmsInput,
    now: i64,
) -> Result<(), Ec2Error> {
    if req.alarm_names.is_empty() {
        return Err(missing("AlarmNames"));
    }
    if req.alarm_names.len() > 100 {
        return Err(validation(
            "1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to 100",
        ));
    }
    store.write(|tx| {
        let mut found = Vec::new();
        for name in &req.alarm_names {
            match record::load(tx, name)? {
                Some(a) => found.push(a),
                None => {
                    return Err(Ec2Error::new(
                        "ResourceNotFound",
                        format!("Alarm {name} does not exist: nothing was deleted"),
                    ))
                }
            }
        }
        for a in found {
            record::delete(tx, &a.alarm_name)?;
            record::add_history(
                tx,
                &a.alarm_name,
                now,
                "ConfigurationUpdate",
                &format!("Alarm \"{}\" deleted", a.alarm_name),
                &message::config_history("Delete", &a, None),
            )?;
        }
        Ok(())
    })
}

fn check_state(s: &str) -> Result<(), Ec2Error> {
    let states = ["OK", "ALARM", "INSUFFICIENT_DATA"];
    if states.contains(&s) {
        Ok(())
    } else {
        Err(enum_error(s, "stateValue", &states))
    }
}

/// `SetAlarmState`: sets the state for testing; its actions run as a real change's would
/// (the next [`evaluate`](super::evaluate()) returns the change), and the next evaluation
/// returns the alarm to the state its data says.
pub fn set_alarm_state(store: &mut Store, req: &SetAlarmStateInput) -> Result<(), Ec2Error> {
    set_alarm_state_at(store, req, now_ms())
}

/// `SetAlarmState` as of `now`.
pub fn set_alarm_state_at(
    store: &mut Store,
    req: &SetAlarmStateInput,
    now: i64,
) -> Result<(), Ec2Error> {
    alarm_name(&req.alarm_name, "alarmName")?;
    check_state(&req.state_value)?;
    if req.state_reason.len() > 1023 {
        return Err(validation(
            "1 validation error detected: Value at 'stateReason' failed to satisfy constraint: Member must have length less than or equal to 1023",
        ));
    }
    if let Some(d) = &req.state_reason_data {
        if serde_json::from_str::<serde_json::Value>(d).is_err() {
            return Err(Ec2Error::new(
                "InvalidFormat",
                "StateReasonData is not valid JSON: pass a JSON document",
            ));
        }
    }
    let region = store.region().to_string();
    store.write(|tx| {
        let mut alarm = record::load(tx, &req.alarm_name)?.ok_or_else(|| {
            Ec2Error::new(
                "ResourceNotFound",
                format!("Alarm {} does not exist", req.alarm_name),
            )
        })?;
        if alarm.state_value == req.state_value {
            return Ok(());
        }
        let t = transition(
            tx,
            &mut alarm,
            &region,
            &req.state_value,
            req.state_reason.clone(),
            req.state_reason_data.clone(),
            now,
        )?;
        record::push_pending(tx, &t)
    })
}

fn set_actions_enabled(store: &mut Store, names: &[String], enabled: bool) -> Result<(), Ec2Error> {
    if names.is_empty() {
        return Err(missing("AlarmNames"));
    }
    if names.len() > 100 {
        return Err(validation(
            "1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to 100",
        ));
    }
    let now = now_ms();
    store.write(|tx| {
        // Names that do not exist are passed over, as CloudWatch does.
        for name in names {
            let Some(mut a) = record::load(tx, name)? else {
                continue;
            };
            if a.actions_enabled == enabled {
                continue;
            }
            let before = a.clone();
            a.actions_enabled = enabled;
            a.alarm_configuration_updated_timestamp = Timestamp(now);
            record::save(tx, &a, None)?;
            record::add_history(
                tx,
                name,
                now,
                "ConfigurationUpdate",
                &format!("Alarm \"{name}\" updated"),
                &message::config_history("Update", &a, Some(&before)),
            )?;
        }
        Ok(())
    })
}

/// `EnableAlarmActions`.
pub fn enable_alarm_actions(
    store: &mut Store,
    req: &EnableAlarmActionsInput,
) -> Result<(), Ec2Error> {
    set_actions_enabled(store, &req.alarm_names, true)
}

/// `DisableAlarmActions`.
pub fn disable_alarm_actions(
    store: &mut Store,
    req: &DisableAlarmActionsInput,
) -> Result<(), Ec2Error> {
    set_actions_enabled(store, &req.alarm_names, false)
}

/// Records that an action of a transition ran (`Action` history item); the caller that
/// runs actions (the daemon) calls it for each action after running it.
pub fn record_action(
    store: &mut Store,
    transition: &super::AlarmTransition,
    action_arn: &str,
    succeeded: bool,
    detail: &str,
) -> Result<(), Ec2Error> {
    let now = now_ms();
    let summary = if succeeded {
        format!("Successfully executed action {action_arn}")
    } else {
        format!("Failed to execute action {action_arn}. Received error: \"{detail}\"")
    };
    let summary: String = summary.chars().take(255).collect();
    let data = message::action_history(action_arn, succeeded, transition.timestamp_ms, detail);
    store
        .write(|tx| record::add_history(tx, &transition.alarm_name, now, "Action", &summary, &data))
}
