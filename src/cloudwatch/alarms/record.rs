//! Alarm rows in the region's store: the `MetricAlarm` shape as JSON (configuration and
//! state in one), the history, and state changes waiting for the next evaluation to hand
//! out their actions.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::arns::AlarmAction;

use crate::cloudwatch::shapes::alarms::{AlarmHistoryItem, MetricAlarm};
use crate::cloudwatch::shapes::{Tag, Timestamp};
use crate::cloudwatch::ACCOUNT_ID;
use crate::error::Ec2Error;

/// A change of an alarm's state, and what to do about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlarmTransition {
    /// The alarm.
    pub alarm_name: String,
    /// Its ARN.
    pub alarm_arn: String,
    /// The state before.
    pub old_state: String,
    /// The state now.
    pub new_state: String,
    /// Why, for a person.
    pub reason: String,
    /// Why, as CloudWatch's JSON.
    pub reason_data: Option<String>,
    /// When (ms).
    pub timestamp_ms: i64,
    /// The actions to run (empty when the alarm's actions are disabled).
    pub actions: Vec<AlarmAction>,
    /// The SNS subject: `ALARM: "name" in REGION`.
    pub subject: String,
    /// CloudWatch's alarm message JSON, the body to publish to SNS topics.
    pub message: String,
}

/// How long CloudWatch keeps alarm history: 30 days.
pub const HISTORY_MS: i64 = 30 * 24 * 3_600_000;

/// `arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME`.
pub fn alarm_arn(region: &str, name: &str) -> String {
    format!("arn:aws:cloudwatch:{region}:{ACCOUNT_ID}:alarm:{name}")
}

fn json_err(e: serde_json::Error) -> Ec2Error {
    Ec2Error::internal(format!("an alarm record could not be read: {e}"))
}

/// The alarm `name`, if it exists.
pub fn load(conn: &Connection, name: &str) -> Result<Option<MetricAlarm>, Ec2Error> {
    let text: Option<String> = conn
        .query_row(
            "SELECT alarm FROM cw_alarms WHERE alarm_name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?;
    text.map(|t| serde_json::from_str(&t).map_err(json_err))
        .transpose()
}

/// Every alarm, by name.
pub fn all(conn: &Connection) -> Result<Vec<MetricAlarm>, Ec2Error> {
    let mut stmt = conn.prepare("SELECT alarm FROM cw_alarms ORDER BY alarm_name")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(serde_json::from_str(&row?).map_err(json_err)?);
    }
    Ok(out)
}

/// How many alarms there are.
pub fn count(conn: &Connection) -> Result<i64, Ec2Error> {
    Ok(conn.query_row("SELECT COUNT(*) FROM cw_alarms", [], |r| r.get(0))?)
}

/// Writes `alarm` (a new one with `tags`; an existing one keeps its tags when None).
pub fn save(conn: &Connection, alarm: &MetricAlarm, tags: Option<&[Tag]>) -> Result<(), Ec2Error> {
    let text = serde_json::to_string(alarm).map_err(json_err)?;
    match tags {
        Some(tags) => {
            let tags = serde_json::to_string(tags).map_err(json_err)?;
            conn.execute(
                "INSERT INTO cw_alarms (alarm_name, alarm, tags) VALUES (?1, ?2, ?3)
                 ON CONFLICT (alarm_name) DO UPDATE SET alarm = excluded.alarm",
                params![alarm.alarm_name, text, tags],
            )?;
        }
        None => {
            conn.execute(
                "UPDATE cw_alarms SET alarm = ?2 WHERE alarm_name = ?1",
                params![alarm.alarm_name, text],
            )?;
        }
    }
    Ok(())
}

/// When the alarm last invoked its Auto Scaling actions (None: not since it was made).
pub fn invoked_ms(conn: &Connection, name: &str) -> Result<Option<i64>, Ec2Error> {
    Ok(conn
        .query_row(
            "SELECT invoked_ms FROM cw_alarms WHERE alarm_name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// Records that the alarm invoked its Auto Scaling actions at `ms`.
pub fn set_invoked(conn: &Connection, name: &str, ms: i64) -> Result<(), Ec2Error> {
    conn.execute(
        "UPDATE cw_alarms SET invoked_ms = ?2 WHERE alarm_name = ?1",
        params![name, ms],
    )?;
    Ok(())
}

/// Deletes the alarm `name`.
pub fn delete(conn: &Connection, name: &str) -> Result<(), Ec2Error> {
    conn.execute("DELETE FROM cw_alarms WHERE alarm_name = ?1", [name])?;
    Ok(())
}

/// Adds a history item.
pub fn add_history(
    conn: &Connection,
    name: &str,
    ts_ms: i64,
    item_type: &str,
    summary: &str,
    data: &str,
) -> Result<(), Ec2Error> {
    conn.execute(
        "INSERT INTO cw_alarm_history (alarm_name, ts_ms, item_type, summary, data)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, ts_ms, item_type, summary, data],
    )?;
    Ok(())
}

/// A history item and its row id (which orders items of the same millisecond).
#[derive(Clone, Debug)]
pub struct HistoryRow {
    /// The row's id.
    pub id: i64,
    /// The item.
    pub item: AlarmHistoryItem,
}

/// The history of `name` (every alarm when None) in [from, to], oldest first.
pub fn history(
    conn: &Connection,
    name: Option<&str>,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<HistoryRow>, Ec2Error> {
    let mut stmt = conn.prepare(
        "SELECT id, alarm_name, ts_ms, item_type, summary, data FROM cw_alarm_history
         WHERE (?1 IS NULL OR alarm_name = ?1) AND ts_ms >= ?2 AND ts_ms <= ?3
         ORDER BY ts_ms, id",
    )?;
    let rows = stmt.query_map(params![name, from_ms, to_ms], |r| {
        Ok(HistoryRow {
            id: r.get(0)?,
            item: AlarmHistoryItem {
                alarm_name: r.get(1)?,
                alarm_type: "MetricAlarm".into(),
                timestamp: Timestamp(r.get(2)?),
                history_item_type: r.get(3)?,
                history_summary: r.get(4)?,
                history_data: r.get(5)?,
            },
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Drops history older than 30 days.
pub fn expire_history(conn: &Connection, now_ms: i64) -> Result<(), Ec2Error> {
    conn.execute(
        "DELETE FROM cw_alarm_history WHERE ts_ms < ?1",
        [now_ms - HISTORY_MS],
    )?;
    Ok(())
}

/// Queues a state change whose actions the next evaluation hands out.
pub fn push_pending(conn: &Connection, t: &AlarmTransition) -> Result<(), Ec2Error> {
    let text = serde_json::to_string(t).map_err(json_err)?;
    conn.execute(
        "INSERT INTO cw_alarm_pending (transition) VALUES (?1)",
        [text],
    )?;
    Ok(())
}

/// Takes every queued state change, oldest first.
pub fn take_pending(conn: &Connection) -> Result<Vec<AlarmTransition>, Ec2Error> {
    let mut stmt = conn.prepare("SELECT transition FROM cw_alarm_pending ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(serde_json::from_str(&row?).map_err(json_err)?);
    }
    conn.execute("DELETE FROM cw_alarm_pending", [])?;
    Ok(out)
}

/// Records state changes whose actions are to run (in the transaction that made them).
pub fn push_outbox(conn: &Connection, ts: &[AlarmTransition]) -> Result<(), Ec2Error> {
    for t in ts {
        let text = serde_json::to_string(t).map_err(json_err)?;
        conn.execute(
            "INSERT INTO cw_alarm_outbox (transition) VALUES (?1)",
            [text],
        )?;
    }
    Ok(())
}

/// State changes whose actions have not run yet, oldest first, with their row ids.
pub fn outbox(conn: &Connection) -> Result<Vec<(i64, AlarmTransition)>, Ec2Error> {
    let mut stmt = conn.prepare("SELECT id, transition FROM cw_alarm_outbox ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, text) = row?;
        out.push((id, serde_json::from_str(&text).map_err(json_err)?));
    }
    Ok(out)
}

/// The actions of outbox row `id` ran.
pub fn outbox_done(conn: &Connection, id: i64) -> Result<(), Ec2Error> {
    conn.execute("DELETE FROM cw_alarm_outbox WHERE id = ?1", [id])?;
    Ok(())
}
