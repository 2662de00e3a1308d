//! Scaling activities: what a group did and why, in Auto Scaling's words
//! (`Launching a new EC2 instance: i-…`, `Terminating EC2 instance: i-…`), kept for six
//! weeks as Auto Scaling keeps them, and DescribeScalingActivities.

use rusqlite::{params, Transaction};

use super::groups::Group;
use super::shapes::{ActivitiesType, Activity, DescribeScalingActivitiesType};
use super::validation;
use crate::clock::{iso8601_now, now_ms};
use crate::error::Ec2Error;
use crate::store::Store;

/// How long activities are kept: six weeks.
const KEEP_MS: i64 = 42 * 24 * 3_600_000;

/// What an activity starts as.
pub struct NewActivity<'a> {
    /// The description.
    pub description: String,
    /// The cause.
    pub cause: &'a str,
    /// `InProgress`, `Successful` or `Failed`.
    pub status_code: &'a str,
    /// Why it failed.
    pub status_message: Option<String>,
    /// The subnet and zone, as Auto Scaling's `Details` JSON.
    pub subnet: Option<&'a str>,
    /// The zone.
    pub zone: String,
}

/// Records an activity of `g`; returns its id.
pub fn record(tx: &Transaction<'_>, g: &Group, a: NewActivity<'_>) -> Result<String, Ec2Error> {
    let id = crate::ids::uuid();
    let now = iso8601_now();
    let done = a.status_code != "InProgress";
    let mut details = serde_json::json!({ "Availability Zone": a.zone });
    if let Some(s) = a.subnet {
        details["Subnet ID"] = serde_json::Value::String(s.into());
    }
    let activity = Activity {
        activity_id: id.clone(),
        auto_scaling_group_name: g.name.clone(),
        description: a.description,
        cause: a.cause.to_string(),
        start_time: now.clone(),
        end_time: done.then(|| now.clone()),
        status_code: a.status_code.into(),
        status_message: a.status_message,
        progress: if done { 100 } else { 0 },
        details: Some(details.to_string()),
        auto_scaling_group_arn: Some(g.arn.clone()),
    };
    let text = serde_json::to_string(&activity).map_err(|e| Ec2Error::internal(e.to_string()))?;
    let now_ms = now_ms();
    tx.execute(
        "INSERT INTO asg_activities (activity_id, group_name, start_ms, activity) VALUES (?1, ?2, ?3, ?4)",
        params![id, g.name, now_ms, text],
    )?;
    tx.execute(
        "DELETE FROM asg_activities WHERE start_ms < ?1",
        [now_ms - KEEP_MS],
    )?;
    Ok(id)
}

/// Ends the activity in progress whose description is `description` (a termination that
/// has finished).
pub fn finish(tx: &Transaction<'_>, group: &str, description: &str) -> Result<(), Ec2Error> {
    let mut st = tx.prepare(
        "SELECT activity_id, activity FROM asg_activities WHERE group_name = ?1 ORDER BY start_ms DESC",
    )?;
    let rows: Vec<(String, String)> = st
        .query_map([group], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, text) in rows {
        let Ok(mut a) = serde_json::from_str::<Activity>(&text) else {
            continue;
        };
        if a.description == description && a.status_code == "InProgress" {
            a.status_code = "Successful".into();
            a.progress = 100;
            a.end_time = Some(iso8601_now());
            let text = serde_json::to_string(&a).map_err(|e| Ec2Error::internal(e.to_string()))?;
            tx.execute(
                "UPDATE asg_activities SET activity = ?2 WHERE activity_id = ?1",
                params![id, text],
            )?;
            break;
        }
    }
    Ok(())
}

/// `DescribeScalingActivities`: newest first, at most `MaxRecords` (1 to 100, default 100).
pub fn describe_scaling_activities(
    store: &Store,
    req: &DescribeScalingActivitiesType,
) -> Result<ActivitiesType, Ec2Error> {
    let max = req.max_records.unwrap_or(100);
    if !(1..=100).contains(&max) {
        return Err(validation(format!(
            "1 validation error detected: Value '{max}' at 'maxRecords' failed to satisfy constraint: Member must have value between 1 and 100"
        )));
    }
    let live = Group::names(store.conn())?;
    if let Some(g) = &req.auto_scaling_group_name {
        if !live.contains(g) && req.include_deleted_groups != Some(true) {
            // Auto Scaling answers an empty list for a group it does not know.
            return Ok(ActivitiesType::default());
        }
    }
    let mut st = store.conn().prepare(
        "SELECT group_name, activity FROM asg_activities ORDER BY start_ms DESC, rowid DESC",
    )?;
    let rows: Vec<(String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (group, text) in rows {
        if req
            .auto_scaling_group_name
            .as_ref()
            .is_some_and(|g| *g != group)
        {
            continue;
        }
        if req.include_deleted_groups != Some(true) && !live.contains(&group) {
            continue;
        }
        let a: Activity = serde_json::from_str(&text)
            .map_err(|e| Ec2Error::internal(format!("activity: {e}")))?;
        if !req.activity_ids.is_empty() && !req.activity_ids.contains(&a.activity_id) {
            continue;
        }
        out.push(a);
        if out.len() as i64 >= max {
            break;
        }
    }
    Ok(ActivitiesType { activities: out })
}
