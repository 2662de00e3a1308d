//! Alarm evaluation as CloudWatch does it.
//!
//! Each evaluation looks at the evaluation range: the N + 2 most recent whole periods
//! (N = `EvaluationPeriods`) ending at or before now, one value per period (the alarm's
//! statistic), or none. Then, as CloudWatch documents it:
//! - at least N periods have data: the N most recent of them are judged; `ALARM` if at
//!   least M (`DatapointsToAlarm`) breach, else `OK`. Missing data plays no part.
//! - no period has data: `missing` → `INSUFFICIENT_DATA`, `ignore` → the state stays,
//!   `breaching` → `ALARM`, `notBreaching` → `OK`.
//! - some, fewer than N: every real point is judged, and N minus their count missing
//!   points are filled in as the treatment says: `breaching` fills breaching points,
//!   `notBreaching` non-breaching ones; `missing` judges the real points alone (`ALARM`
//!   if at least min(M, count) breach); `ignore` does the same, except that it keeps the
//!   state where only that smaller window would alarm.
//!
//! A new alarm starts in `INSUFFICIENT_DATA`. A change of state is recorded in the history
//! and returned as an [`AlarmTransition`] with the actions of the new state's list, if the
//! alarm's actions are enabled.

use super::arns::{self, AlarmAction};
use super::message;
use super::record::{self, AlarmTransition};
use crate::cloudwatch::metrics::{series, MetricStore};
use crate::cloudwatch::shapes::alarms::MetricAlarm;
use crate::cloudwatch::shapes::{Metric, MetricStat, Timestamp};
use crate::error::Ec2Error;
use crate::store::Store;

/// Whether `v` breaches `threshold` under `op`.
pub fn breaches(op: &str, v: f64, threshold: f64) -> bool {
    match op {
        "GreaterThanOrEqualToThreshold" => v >= threshold,
        "GreaterThanThreshold" => v > threshold,
        "LessThanThreshold" => v < threshold,
        "LessThanOrEqualToThreshold" => v <= threshold,
        _ => false,
    }
}

/// The outcome of judging an evaluation range.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    /// The new state; None keeps the current one.
    pub state: Option<&'static str>,
    /// The real data points judged (time, value), most recent first.
    pub judged: Vec<(i64, f64)>,
    /// How many of them breach.
    pub breaching: usize,
    /// How many missing points were filled in.
    pub filled: usize,
}

/// Judges an evaluation range (`range`: oldest first, one slot per period, None where
/// the period has no data), as the module documentation says.
pub fn judge(
    range: &[(i64, Option<f64>)],
    n: usize,
    m: usize,
    op: &str,
    threshold: f64,
    treat_missing: &str,
) -> Judgement {
    let real: Vec<(i64, f64)> = range
        .iter()
        .rev()
        .filter_map(|(t, v)| v.map(|v| (*t, v)))
        .collect();
    let judged: Vec<(i64, f64)> = real.iter().take(n).copied().collect();
    let breaching = judged
        .iter()
        .filter(|(_, v)| breaches(op, *v, threshold))
        .count();
    let verdict = |b: usize, need: usize| if b >= need { "ALARM" } else { "OK" };
    let filled = n.saturating_sub(judged.len());
    let state = if judged.len() >= n {
        Some(verdict(breaching, m))
    } else if judged.is_empty() {
        match treat_missing {
            "ignore" => None,
            "breaching" => Some("ALARM"),
            "notBreaching" => Some("OK"),
            _ => Some("INSUFFICIENT_DATA"),
        }
    } else {
        match treat_missing {
            "breaching" => Some(verdict(breaching + filled, m)),
            "notBreaching" => Some(verdict(breaching, m)),
            "ignore" => match verdict(breaching, m.min(judged.len())) {
                "ALARM" if breaching < m => None,
                s => Some(s),
            },
            _ => Some(verdict(breaching, m.min(judged.len()))),
        }
    };
    Judgement {
        state,
        judged,
        breaching,
        filled,
    }
}

fn op_words(op: &str) -> &'static str {
    match op {
        "GreaterThanOrEqualToThreshold" => "greater than or equal to",
        "GreaterThanThreshold" => "greater than",
        "LessThanThreshold" => "less than",
        "LessThanOrEqualToThreshold" => "less than or equal to",
        _ => "compared with",
    }
}

/// `(03/12/26 15:40:00)`: the date form of CloudWatch's state reasons.
fn reason_time(ms: i64) -> String {
    let iso = Timestamp(ms).iso(); // 2026-12-03T15:40:00.000Z
    format!(
        "{}/{}/{} {}",
        &iso[8..10],
        &iso[5..7],
        &iso[2..4],
        &iso[11..19]
    )
}

fn plural(k: usize) -> (&'static str, &'static str) {
    if k == 1 {
        ("datapoint", "was")
    } else {
        ("datapoints", "were")
    }
}

/// CloudWatch's state reason for a judgement.
pub fn reason(alarm: &MetricAlarm, j: &Judgement, state: &str, treat: &str) -> String {
    let n = alarm.evaluation_periods as usize;
    let m = alarm
        .datapoints_to_alarm
        .unwrap_or(alarm.evaluation_periods) as usize;
    if j.judged.is_empty() {
        let (dp, was) = plural(n);
        return match state {
            "INSUFFICIENT_DATA" => format!("Insufficient Data: {n} {dp} {was} unknown."),
            _ => format!(
                "Threshold Crossed: no datapoints were received for {n} period{} and {n} missing {dp} {was} treated as [{}].",
                if n == 1 { "" } else { "s" },
                if treat == "breaching" { "Breaching" } else { "NonBreaching" }
            ),
        };
    }
    let shown: Vec<(i64, f64)> = if state == "ALARM" {
        j.judged
            .iter()
            .filter(|(_, v)| breaches(&alarm.comparison_operator, *v, alarm.threshold))
            .copied()
            .collect()
    } else {
        j.judged.clone()
    };
    let list = shown
        .iter()
        .map(|(t, v)| format!("{v:?} ({})", reason_time(*t)))
        .collect::<Vec<_>>()
        .join(", ");
    let (dp, was) = plural(shown.len());
    let not = if state == "ALARM" { "" } else { "not " };
    let count = if n > 1 && m < n {
        format!("{} out of the last {n} {}", shown.len(), plural(n).0)
    } else {
        format!("{} {dp}", shown.len())
    };
    let mut text = format!(
        "Threshold Crossed: {count} [{list}] {was} {not}{} the threshold ({:?}).",
        op_words(&alarm.comparison_operator),
        alarm.threshold
    );
    if m < n && state == "ALARM" {
        text.push_str(&format!(
            " (minimum {m} {} for OK -> ALARM transition).",
            plural(m).0
        ));
        text = text.replace(". (minimum", " (minimum");
    }
    if j.filled > 0 && matches!(treat, "breaching" | "notBreaching") {
        text.push_str(&format!(
            " {} missing {} treated as [{}].",
            j.filled,
            plural(j.filled).0,
            if treat == "breaching" {
                "Breaching"
            } else {
                "NonBreaching"
            }
        ));
    }
    text
}

/// CloudWatch's `StateReasonData` for a judgement.
pub fn reason_data(alarm: &MetricAlarm, j: &Judgement, start_ms: i64, now: i64) -> String {
    let mut doc = serde_json::json!({
        "version": "1.0",
        "queryDate": Timestamp(now).alarm_form(),
        "startDate": Timestamp(start_ms).alarm_form(),
        "period": alarm.period,
        "recentDatapoints": j.judged.iter().rev().map(|p| p.1).collect::<Vec<_>>(),
        "threshold": alarm.threshold,
        "evaluatedDatapoints": j.judged.iter().map(|(t, v)| serde_json::json!({
            "timestamp": Timestamp(*t).alarm_form(), "value": v
        })).collect::<Vec<_>>(),
    });
    match (&alarm.statistic, &alarm.extended_statistic) {
        (_, Some(p)) => doc["extendedStatistic"] = p.clone().into(),
        (Some(s), _) => doc["statistic"] = s.clone().into(),
        _ => {}
    }
    if let Some(u) = &alarm.unit {
        doc["unit"] = u.clone().into();
    }
    doc.to_string()
}

/// The actions of `alarm` for a change into `state` (none while actions are disabled).
pub fn actions_for(alarm: &MetricAlarm, state: &str, region: &str) -> Vec<AlarmAction> {
    if !alarm.actions_enabled {
        return Vec::new();
    }
    let list = match state {
        "ALARM" => &alarm.alarm_actions,
        "OK" => &alarm.ok_actions,
        _ => &alarm.insufficient_data_actions,
    };
    let instance = alarm
        .dimensions
        .iter()
        .find(|d| d.name == "InstanceId")
        .map(|d| d.value.as_str());
    list.iter()
        .filter_map(|arn| arns::action(arn, region, instance))
        .collect()
}

/// Moves `alarm` into `state` (in the transaction `conn`): the row, the history item, and
/// the transition with its actions.
pub fn transition(
    conn: &rusqlite::Connection,
    alarm: &mut MetricAlarm,
    region: &str,
    state: &str,
    reason: String,
    reason_data: Option<String>,
    now: i64,
) -> Result<AlarmTransition, Ec2Error> {
    let old_state = alarm.state_value.clone();
    let old_reason = alarm.state_reason.clone();
    alarm.state_value = state.into();
    alarm.state_reason = reason.clone();
    alarm.state_reason_data = reason_data.clone();
    alarm.state_updated_timestamp = Timestamp(now);
    alarm.state_transitioned_timestamp = Timestamp(now);
    record::save(conn, alarm, None)?;
    // Its Auto Scaling actions run with this change; the next time a period on.
    record::set_invoked(conn, &alarm.alarm_name, now)?;
    record::add_history(
        conn,
        &alarm.alarm_name,
        now,
        "StateUpdate",
        &format!("Alarm updated from {old_state} to {state}"),
        &message::state_history(
            &old_state,
            &old_reason,
            state,
            &reason,
            reason_data.as_deref(),
        ),
    )?;
    Ok(AlarmTransition {
        alarm_name: alarm.alarm_name.clone(),
        alarm_arn: alarm.alarm_arn.clone(),
        old_state: old_state.clone(),
        new_state: state.into(),
        reason,
        reason_data,
        timestamp_ms: now,
        actions: actions_for(alarm, state, region),
        subject: message::subject(state, &alarm.alarm_name, region),
        message: message::alarm_message(alarm, region, &old_state, now),
    })
}

/// An alarm that stays in a state invokes that state's Auto Scaling actions again once
/// per period, as CloudWatch does ("Except for Auto Scaling actions, the actions happen
/// only on state transitions, and are not performed again if the condition persists":
/// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html), so
/// that a group under sustained load keeps growing. The SNS and EC2 actions run on the
/// change only. `cw_alarms.invoked_ms` keeps the last invocation; the repeat goes to the
/// outbox as an `ALARM -> ALARM` change carrying only the Auto Scaling actions.
fn repeat_scaling(
    conn: &rusqlite::Connection,
    alarm: &MetricAlarm,
    region: &str,
    now: i64,
) -> Result<Option<AlarmTransition>, Ec2Error> {
    let state = alarm.state_value.as_str();
    let actions: Vec<AlarmAction> = actions_for(alarm, state, region)
        .into_iter()
        .filter(|a| matches!(a, AlarmAction::AutoScaling { .. }))
        .collect();
    if actions.is_empty() {
        return Ok(None);
    }
    let last = record::invoked_ms(conn, &alarm.alarm_name)?
        .unwrap_or(alarm.state_transitioned_timestamp.0);
    if now - last < alarm.period.max(1) * 1000 {
        return Ok(None);
    }
    record::set_invoked(conn, &alarm.alarm_name, now)?;
    Ok(Some(AlarmTransition {
        alarm_name: alarm.alarm_name.clone(),
        alarm_arn: alarm.alarm_arn.clone(),
        old_state: state.into(),
        new_state: state.into(),
        reason: alarm.state_reason.clone(),
        reason_data: alarm.state_reason_data.clone(),
        timestamp_ms: now,
        actions,
        subject: message::subject(state, &alarm.alarm_name, region),
        message: message::alarm_message(alarm, region, state, now),
    }))
}

/// How many periods an evaluation looks back: N plus two, so that a late or missing
/// most recent point does not make the alarm judge on fewer than N points.
pub fn evaluation_range(n: i64) -> i64 {
    n + 2
}

/// Evaluates every alarm as of `now_ms` and returns the state changes, those queued by
/// `SetAlarmState` since the last evaluation first; the same transaction puts them in the
/// outbox ([`record::outbox`]) whose actions the monitor runs. Also drops history past 30
/// days.
pub fn evaluate(
    store: &mut Store,
    metrics: &MetricStore,
    now_ms: i64,
) -> Result<Vec<AlarmTransition>, Ec2Error> {
    let region = store.region().to_string();
    store.write(|tx| {
        let mut out = record::take_pending(tx)?;
        for mut alarm in record::all(tx)? {
            let period_ms = alarm.period.max(1) * 1000;
            let end = now_ms.div_euclid(period_ms) * period_ms;
            let start = end - evaluation_range(alarm.evaluation_periods) * period_ms;
            let stat = MetricStat {
                metric: Metric {
                    namespace: Some(alarm.namespace.clone()),
                    metric_name: Some(alarm.metric_name.clone()),
                    dimensions: alarm.dimensions.clone(),
                },
                period: alarm.period,
                stat: alarm
                    .extended_statistic
                    .clone()
                    .or_else(|| alarm.statistic.clone())
                    .unwrap_or_else(|| "Average".into()),
                unit: alarm.unit.clone(),
            };
            let points = series(metrics, &stat, start, end)?;
            let range: Vec<(i64, Option<f64>)> = (0..evaluation_range(alarm.evaluation_periods))
                .map(|k| {
                    let t = start + k * period_ms;
                    (t, points.iter().find(|p| p.0 == t).map(|p| p.1))
                })
                .collect();
            let treat = alarm
                .treat_missing_data
                .clone()
                .unwrap_or_else(|| "missing".into());
            let n = alarm.evaluation_periods as usize;
            let m = alarm
                .datapoints_to_alarm
                .unwrap_or(alarm.evaluation_periods) as usize;
            let j = judge(
                &range,
                n,
                m,
                &alarm.comparison_operator,
                alarm.threshold,
                &treat,
            );
            // No change (or no judgement yet): the alarm stays in its state, and its Auto
            // Scaling actions may be due again.
            let Some(state) = j.state.filter(|s| *s != alarm.state_value) else {
                out.extend(repeat_scaling(tx, &alarm, &region, now_ms)?);
                continue;
            };
            let why = reason(&alarm, &j, state, &treat);
            let data = reason_data(&alarm, &j, start, now_ms);
            out.push(transition(
                tx,
                &mut alarm,
                &region,
                state,
                why,
                Some(data),
                now_ms,
            )?);
        }
        record::expire_history(tx, now_ms)?;
        record::push_outbox(tx, &out)?;
        Ok(out)
    })
}
