//! Scaling policies: PutScalingPolicy (SimpleScaling, StepScaling, TargetTrackingScaling
//! on `ASGAverageCPUUtilization`, which makes its two CloudWatch alarms as Auto Scaling
//! does), DescribePolicies, DeletePolicy, ExecutePolicy, and what a policy does when an
//! alarm that names its ARN changes state (run by the monitor daemon).

use rusqlite::{params, Connection, OptionalExtension};

use super::groups::{self, Group};
use super::shapes::*;
use super::{policy_arn, validation};
use crate::clock::{iso8601_now, now_ms};
use crate::cloudwatch::alarms::{self as cw, AlarmTransition};
use crate::cloudwatch::shapes::alarms::{
    DeleteAlarmsInput, DescribeAlarmsInput, PutMetricAlarmInput,
};
use crate::cloudwatch::Dimension;
use crate::error::Ec2Error;
use crate::store::Store;

/// The one predefined metric ec2lab tracks.
pub const ASG_AVERAGE_CPU: &str = "ASGAverageCPUUtilization";
const ADJUSTMENT_TYPES: &[&str] = &[
    "ChangeInCapacity",
    "ExactCapacity",
    "PercentChangeInCapacity",
];

fn load(c: &Connection, arn: &str) -> Result<Option<ScalingPolicy>, Ec2Error> {
    let text: Option<String> = c
        .query_row(
            "SELECT policy FROM asg_policies WHERE policy_arn = ?1",
            [arn],
            |r| r.get(0),
        )
        .optional()?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| Ec2Error::internal(format!("policy: {e}"))))
        .transpose()
}

fn all(c: &Connection) -> Result<Vec<ScalingPolicy>, Ec2Error> {
    let mut st = c.prepare("SELECT policy FROM asg_policies ORDER BY group_name, policy_name")?;
    let rows: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    rows.iter()
        .map(|t| serde_json::from_str(t).map_err(|e| Ec2Error::internal(format!("policy: {e}"))))
        .collect()
}

/// The policy a name (with its group) or an ARN names.
fn find(c: &Connection, group: Option<&str>, name: &str) -> Result<ScalingPolicy, Ec2Error> {
    let found = if name.starts_with("arn:") {
        load(c, name)?
    } else {
        let g = group.ok_or_else(|| {
            validation("AutoScalingGroupName is required when PolicyName is not an ARN")
        })?;
        Group::get(c, g)?;
        all(c)?
            .into_iter()
            .find(|p| p.auto_scaling_group_name == g && p.policy_name == name)
    };
    found.ok_or_else(|| validation(format!("No scaling policy found for name or ARN {name}")))
}

/// The alarms target tracking made for the group's policies.
pub fn group_alarm_names(c: &Connection, group: &str) -> Result<Vec<String>, Ec2Error> {
    Ok(all(c)?
        .into_iter()
        .filter(|p| p.auto_scaling_group_name == group && p.policy_type == "TargetTrackingScaling")
        .flat_map(|p| p.alarms.into_iter().map(|a| a.alarm_name))
        .collect())
}

/// Deletes CloudWatch alarms (target tracking's, when their policy or group goes).
pub fn delete_alarms(store: &mut Store, names: Vec<String>) -> Result<(), Ec2Error> {
    if names.is_empty() {
        return Ok(());
    }
    cw::delete_alarms(store, &DeleteAlarmsInput { alarm_names: names })
}

fn check(req: &PutScalingPolicyType, kind: &str) -> Result<(), Ec2Error> {
    let tt = req.target_tracking_configuration.is_some();
    match kind {
        "SimpleScaling" | "StepScaling" => {
            let adj = req.adjustment_type.as_deref().ok_or_else(|| {
                validation(format!("AdjustmentType is required for policy type {kind}"))
            })?;
            if !ADJUSTMENT_TYPES.contains(&adj) {
                return Err(validation(format!(
                    "Invalid adjustment type {adj}: use ChangeInCapacity, ExactCapacity or PercentChangeInCapacity"
                )));
            }
            if tt {
                return Err(validation(format!(
                    "TargetTrackingConfiguration is not allowed for policy type {kind}"
                )));
            }
            if kind == "SimpleScaling" && req.scaling_adjustment.is_none() {
                return Err(validation(
                    "ScalingAdjustment is required for policy type SimpleScaling",
                ));
            }
            if kind == "SimpleScaling" && !req.step_adjustments.is_empty() {
                return Err(validation(
                    "StepAdjustments are not allowed for policy type SimpleScaling",
                ));
            }
            if kind == "StepScaling" && req.step_adjustments.is_empty() {
                return Err(validation(
                    "StepAdjustments are required for policy type StepScaling",
                ));
            }
            if kind == "StepScaling" && req.scaling_adjustment.is_some() {
                return Err(validation(
                    "ScalingAdjustment is not allowed for policy type StepScaling",
                ));
            }
        }
        "TargetTrackingScaling" => {
            let Some(c) = &req.target_tracking_configuration else {
                return Err(validation(
                    "TargetTrackingConfiguration is required for policy type TargetTrackingScaling",
                ));
            };
            if req.adjustment_type.is_some()
                || req.scaling_adjustment.is_some()
                || !req.step_adjustments.is_empty()
            {
                return Err(validation(
                    "AdjustmentType, ScalingAdjustment and StepAdjustments are not allowed for policy type TargetTrackingScaling",
                ));
            }
            let metric = c
                .predefined_metric_specification
                .as_ref()
                .map(|m| m.predefined_metric_type.as_str());
            if metric != Some(ASG_AVERAGE_CPU) {
                return Err(validation(format!(
                    "ec2lab tracks the predefined metric {ASG_AVERAGE_CPU} only; got {}",
                    metric.unwrap_or("no PredefinedMetricSpecification")
                )));
            }
            if c.target_value.is_nan() || c.target_value <= 0.0 {
                return Err(validation("TargetValue must be greater than 0"));
            }
        }
        other => {
            return Err(validation(format!(
            "Invalid policy type {other}: use SimpleScaling, StepScaling or TargetTrackingScaling"
        )))
        }
    }
    Ok(())
}

/// Target tracking's alarms, named and shaped as Auto Scaling makes them: `AlarmHigh`
/// (3 minutes of the group's average CPU above the target) and, unless scale-in is off,
/// `AlarmLow` (15 minutes below 90 % of it), both acting on the policy.
fn target_alarms(
    store: &mut Store,
    group: &str,
    arn: &str,
    c: &TargetTrackingConfiguration,
) -> Result<Vec<Alarm>, Ec2Error> {
    let uuid = crate::ids::uuid();
    let mut out = Vec::new();
    let mut specs = vec![("AlarmHigh", c.target_value, "GreaterThanThreshold", 3)];
    if c.disable_scale_in != Some(true) {
        specs.push(("AlarmLow", c.target_value * 0.9, "LessThanThreshold", 15));
    }
    for (which, threshold, op, periods) in specs {
        let name = format!("TargetTracking-{group}-{which}-{uuid}");
        cw::put_metric_alarm(
            store,
            &PutMetricAlarmInput {
                alarm_name: name.clone(),
                alarm_description: Some(format!(
                    "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {arn}."
                )),
                actions_enabled: Some(true),
                alarm_actions: vec![arn.to_string()],
                metric_name: Some("CPUUtilization".into()),
                namespace: Some("AWS/EC2".into()),
                statistic: Some("Average".into()),
                dimensions: vec![Dimension::new(super::metrics::GROUP_DIMENSION, group)],
                period: Some(60),
                evaluation_periods: Some(periods),
                datapoints_to_alarm: Some(periods),
                threshold: Some(threshold),
                comparison_operator: Some(op.into()),
                unit: Some("Percent".into()),
                ..Default::default()
            },
        )?;
        out.push(Alarm {
            alarm_arn: cw::record::alarm_arn(store.region(), &name),
            alarm_name: name,
        });
    }
    Ok(out)
}

/// `PutScalingPolicy`: a new policy, or the named one replaced (its ARN stays).
pub fn put_scaling_policy(
    store: &mut Store,
    req: &PutScalingPolicyType,
) -> Result<PolicyARNType, Ec2Error> {
    let g = Group::get(store.conn(), &req.auto_scaling_group_name)?;
    let kind = req
        .policy_type
        .clone()
        .unwrap_or_else(|| "SimpleScaling".into());
    check(req, &kind)?;
    if req.policy_name.is_empty() || req.policy_name.len() > 255 {
        return Err(validation("PolicyName must be 1 to 255 characters"));
    }
    let old = all(store.conn())?
        .into_iter()
        .find(|p| p.auto_scaling_group_name == g.name && p.policy_name == req.policy_name);
    let arn = match &old {
        Some(p) => p.policy_arn.clone(),
        None => policy_arn(
            store.region(),
            &crate::ids::uuid(),
            &g.name,
            &req.policy_name,
        ),
    };
    if let Some(p) = &old {
        if p.policy_type == "TargetTrackingScaling" {
            delete_alarms(
                store,
                p.alarms.iter().map(|a| a.alarm_name.clone()).collect(),
            )?;
        }
    }
    let alarms = match &req.target_tracking_configuration {
        Some(c) => target_alarms(store, &g.name, &arn, c)?,
        None => Vec::new(),
    };
    let policy = ScalingPolicy {
        auto_scaling_group_name: g.name.clone(),
        policy_name: req.policy_name.clone(),
        policy_arn: arn.clone(),
        policy_type: kind,
        adjustment_type: req.adjustment_type.clone(),
        min_adjustment_magnitude: req.min_adjustment_magnitude,
        scaling_adjustment: req.scaling_adjustment,
        cooldown: req.cooldown,
        step_adjustments: req.step_adjustments.clone(),
        metric_aggregation_type: req.metric_aggregation_type.clone(),
        estimated_instance_warmup: req.estimated_instance_warmup,
        alarms: alarms.clone(),
        target_tracking_configuration: req.target_tracking_configuration.clone(),
        enabled: req.enabled.unwrap_or(true),
    };
    let text = serde_json::to_string(&policy).map_err(|e| Ec2Error::internal(e.to_string()))?;
    store.write(|tx| {
        tx.execute(
            "INSERT INTO asg_policies (policy_arn, group_name, policy_name, policy) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (policy_arn) DO UPDATE SET policy = ?4",
            params![arn, g.name, req.policy_name, text],
        )?;
        Ok::<_, Ec2Error>(())
    })?;
    Ok(PolicyARNType {
        policy_arn: arn,
        alarms,
    })
}

/// `DescribePolicies`. A policy's `Alarms` are target tracking's own, or the alarms whose
/// actions name its ARN.
pub fn describe_policies(
    store: &Store,
    req: &DescribePoliciesType,
) -> Result<PoliciesType, Ec2Error> {
    if let Some(g) = &req.auto_scaling_group_name {
        Group::get(store.conn(), g)?;
    }
    let cw_alarms = cw::describe_alarms(store, &DescribeAlarmsInput::default())?.metric_alarms;
    let mut out = Vec::new();
    for mut p in all(store.conn())? {
        if req
            .auto_scaling_group_name
            .as_ref()
            .is_some_and(|g| *g != p.auto_scaling_group_name)
        {
            continue;
        }
        if !req.policy_names.is_empty()
            && !req.policy_names.contains(&p.policy_name)
            && !req.policy_names.contains(&p.policy_arn)
        {
            continue;
        }
        if !req.policy_types.is_empty() && !req.policy_types.contains(&p.policy_type) {
            continue;
        }
        if p.policy_type != "TargetTrackingScaling" {
            p.alarms = cw_alarms
                .iter()
                .filter(|a| {
                    a.alarm_actions.contains(&p.policy_arn)
                        || a.ok_actions.contains(&p.policy_arn)
                        || a.insufficient_data_actions.contains(&p.policy_arn)
                })
                .map(|a| Alarm {
                    alarm_name: a.alarm_name.clone(),
                    alarm_arn: a.alarm_arn.clone(),
                })
                .collect();
        }
        out.push(p);
    }
    Ok(PoliciesType {
        scaling_policies: out,
    })
}

/// `DeletePolicy`: the policy, and target tracking's alarms with it.
pub fn delete_policy(store: &mut Store, req: &DeletePolicyType) -> Result<(), Ec2Error> {
    let p = find(
        store.conn(),
        req.auto_scaling_group_name.as_deref(),
        &req.policy_name,
    )?;
    store.write(|tx| {
        tx.execute(
            "DELETE FROM asg_policies WHERE policy_arn = ?1",
            [&p.policy_arn],
        )?;
        Ok::<_, Ec2Error>(())
    })?;
    if p.policy_type == "TargetTrackingScaling" {
        delete_alarms(store, p.alarms.into_iter().map(|a| a.alarm_name).collect())?;
    }
    Ok(())
}

/// The capacity `adjustment` of `kind` makes of `current`.
fn adjusted(kind: &str, current: i64, adjustment: i64, min_magnitude: Option<i64>) -> i64 {
    match kind {
        "ExactCapacity" => adjustment,
        "PercentChangeInCapacity" => {
            let mut change = (current as f64 * adjustment as f64 / 100.0).trunc() as i64;
            if change == 0 && adjustment != 0 {
                change = adjustment.signum();
            }
            if let Some(m) = min_magnitude {
                if change.abs() < m {
                    change = m * change.signum();
                }
            }
            current + change
        }
        _ => current + adjustment,
    }
}

/// The step of a step policy for a metric `breach` above (or below) the threshold.
fn step_for(p: &ScalingPolicy, breach: f64) -> Option<i64> {
    p.step_adjustments
        .iter()
        .find(|s| {
            s.metric_interval_lower_bound.is_none_or(|lo| breach >= lo)
                && s.metric_interval_upper_bound.is_none_or(|hi| breach < hi)
        })
        .map(|s| s.scaling_adjustment)
}

/// Changes the group's desired capacity as the policy says (within its bounds); `false`
/// when the cooldown held it back.
fn apply(
    store: &mut Store,
    p: &ScalingPolicy,
    new_capacity: impl FnOnce(i64) -> i64,
    why: &str,
    honor_cooldown: bool,
) -> Result<bool, Ec2Error> {
    let changed = store.write(|tx| {
        let (mut g, deleting) = Group::find(tx, &p.auto_scaling_group_name)?.ok_or_else(|| {
            validation(format!("The group {} is gone", p.auto_scaling_group_name))
        })?;
        if deleting {
            return Ok(false);
        }
        let cooldown = p.cooldown.unwrap_or(g.cooldown);
        if honor_cooldown && now_ms() < g.last_scaling_ms + cooldown * 1000 {
            return Ok(false);
        }
        let old = g.desired;
        let new = new_capacity(old).clamp(g.min, g.max);
        if new == old {
            return Ok(true);
        }
        let cause = format!(
            "At {} {why} changing the desired capacity from {old} to {new}.",
            iso8601_now()
        );
        groups::set_desired(tx, &mut g, new, cause)?;
        Ok::<_, Ec2Error>(true)
    })?;
    Ok(changed)
}

/// `ExecutePolicy`: a simple or step policy now (step policies need `MetricValue` and
/// `BreachThreshold`; target tracking cannot be executed, as in Auto Scaling).
pub fn execute_policy(store: &mut Store, req: &ExecutePolicyType) -> Result<(), Ec2Error> {
    let p = find(
        store.conn(),
        req.auto_scaling_group_name.as_deref(),
        &req.policy_name,
    )?;
    let why = format!("a user request executed policy {}", p.policy_name);
    let honor = req.honor_cooldown == Some(true);
    let kind = p.adjustment_type.clone().unwrap_or_default();
    let done = match p.policy_type.as_str() {
        "SimpleScaling" => {
            let adj = p.scaling_adjustment.unwrap_or(0);
            apply(
                store,
                &p,
                |c| adjusted(&kind, c, adj, p.min_adjustment_magnitude),
                &why,
                honor,
            )?
        }
        "StepScaling" => {
            let (Some(v), Some(t)) = (req.metric_value, req.breach_threshold) else {
                return Err(validation(
                    "MetricValue and BreachThreshold are required to execute a StepScaling policy",
                ));
            };
            let Some(adj) = step_for(&p, v - t) else {
                return Err(validation(format!(
                    "No step adjustment of policy {} covers the metric value {v} with threshold {t}",
                    p.policy_name
                )));
            };
            apply(
                store,
                &p,
                |c| adjusted(&kind, c, adj, p.min_adjustment_magnitude),
                &why,
                honor,
            )?
        }
        _ => {
            return Err(validation(
                "ExecutePolicy is not supported for a target tracking scaling policy.",
            ))
        }
    };
    if !done {
        return Err(Ec2Error::new(
            "ScalingActivityInProgress",
            format!(
                "The group {} is in its cooldown; try again later or leave out --honor-cooldown.",
                p.auto_scaling_group_name
            ),
        ));
    }
    Ok(())
}

/// The metric value and threshold of an alarm's state change, from its reason data.
fn metric_of(t: &AlarmTransition) -> Option<(f64, f64)> {
    let d: serde_json::Value = serde_json::from_str(t.reason_data.as_deref()?).ok()?;
    let v = d["recentDatapoints"].as_array()?.first()?.as_f64()?;
    Some((v, d["threshold"].as_f64()?))
}

/// What the policy `arn` does when an alarm that names it changes state to `t`. Simple and
/// step policies wait out their cooldown; target tracking scales out on its `AlarmHigh`
/// (to current × metric ÷ target, at least one more) and in by one on its `AlarmLow`.
pub fn on_alarm(store: &mut Store, arn: &str, t: &AlarmTransition) -> Result<(), Ec2Error> {
    let p = load(store.conn(), arn)?
        .ok_or_else(|| validation(format!("The scaling policy {arn} no longer exists")))?;
    if !p.enabled {
        return Ok(());
    }
    let why = format!(
        "a monitor alarm {} in state {} triggered policy {}",
        t.alarm_name, t.new_state, p.policy_name
    );
    let kind = p.adjustment_type.clone().unwrap_or_default();
    match p.policy_type.as_str() {
        "SimpleScaling" => {
            let adj = p.scaling_adjustment.unwrap_or(0);
            apply(
                store,
                &p,
                |c| adjusted(&kind, c, adj, p.min_adjustment_magnitude),
                &why,
                true,
            )?;
        }
        "StepScaling" => {
            let Some((v, th)) = metric_of(t) else {
                return Err(validation(format!(
                    "alarm {} carries no data point for step policy {}",
                    t.alarm_name, p.policy_name
                )));
            };
            if let Some(adj) = step_for(&p, v - th) {
                apply(
                    store,
                    &p,
                    |c| adjusted(&kind, c, adj, p.min_adjustment_magnitude),
                    &why,
                    true,
                )?;
            }
        }
        _ => {
            if t.new_state != "ALARM" {
                return Ok(());
            }
            let target = p
                .target_tracking_configuration
                .as_ref()
                .map(|c| c.target_value)
                .unwrap_or(1.0);
            let disable_in = p
                .target_tracking_configuration
                .as_ref()
                .and_then(|c| c.disable_scale_in)
                == Some(true);
            let metric = metric_of(t).map(|(v, _)| v);
            if t.alarm_name.contains("-AlarmHigh-") {
                apply(
                    store,
                    &p,
                    |c| {
                        let want = metric.map_or(c + 1, |m| (c as f64 * m / target).ceil() as i64);
                        want.max(c + 1)
                    },
                    &why,
                    false,
                )?;
            } else if t.alarm_name.contains("-AlarmLow-") && !disable_in {
                apply(store, &p, |c| c - 1, &why, false)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjustments_as_auto_scaling_computes_them() {
        assert_eq!(adjusted("ChangeInCapacity", 2, 1, None), 3);
        assert_eq!(adjusted("ChangeInCapacity", 2, -1, None), 1);
        assert_eq!(adjusted("ExactCapacity", 2, 5, None), 5);
        // 10 % of 3 is 0.3: at least one instance.
        assert_eq!(adjusted("PercentChangeInCapacity", 3, 10, None), 4);
        assert_eq!(adjusted("PercentChangeInCapacity", 10, 50, None), 15);
        assert_eq!(adjusted("PercentChangeInCapacity", 10, 10, Some(2)), 12);
        let p = ScalingPolicy {
            step_adjustments: vec![
                StepAdjustment {
                    metric_interval_lower_bound: Some(0.0),
                    metric_interval_upper_bound: Some(20.0),
                    scaling_adjustment: 1,
                },
                StepAdjustment {
                    metric_interval_lower_bound: Some(20.0),
                    metric_interval_upper_bound: None,
                    scaling_adjustment: 3,
                },
            ],
            ..Default::default()
        };
        assert_eq!(step_for(&p, 5.0), Some(1));
        assert_eq!(step_for(&p, 20.0), Some(3));
        assert_eq!(step_for(&p, -1.0), None);
    }
}
