//! Auto Scaling groups and their instances in the region's store, and the group actions:
//! CreateAutoScalingGroup, DescribeAutoScalingGroups, UpdateAutoScalingGroup,
//! SetDesiredCapacity, DeleteAutoScalingGroup, DescribeAutoScalingInstances. Each is one
//! store transaction; the monitor daemon's reconciler then launches or terminates
//! instances toward the desired capacity.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::shapes::*;
use super::{group_arn, validation};
use crate::clock::{iso8601_now, now_ms};
use crate::error::Ec2Error;
use crate::store::Store;

/// A group's settings (the `settings` column, JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Group {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The template its instances come from (the version as given: `$Latest`, `$Default`
    /// or a number, resolved at each launch).
    pub launch_template: LaunchTemplateSpecification,
    /// Minimum.
    pub min: i64,
    /// Maximum.
    pub max: i64,
    /// Desired capacity.
    pub desired: i64,
    /// Default cooldown, seconds.
    pub cooldown: i64,
    /// Health check grace period, seconds.
    pub grace: i64,
    /// Subnets of `VPCZoneIdentifier` (empty: the default subnet).
    pub subnets: Vec<String>,
    /// Termination policies.
    pub termination_policies: Vec<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// ISO 8601.
    pub created: String,
    /// When a scaling policy or SetDesiredCapacity last changed the capacity (ms).
    pub last_scaling_ms: i64,
    /// The next subnet to launch into (round robin over `subnets`).
    pub next_subnet: usize,
    /// Why the desired capacity last changed, the cause of the activities that follow.
    pub desired_cause: String,
    /// After a failed launch, when to try again (ms; 0: now).
    pub launch_retry_ms: i64,
}

/// One instance of a group.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The EC2 instance.
    pub instance_id: String,
    /// Its group.
    pub group_name: String,
    /// `Pending`, `InService`, `Terminating`.
    pub lifecycle: String,
    /// `Healthy`, `Unhealthy`.
    pub health: String,
    /// The template and version it was launched from.
    pub template: LaunchTemplateSpecification,
    /// When the group took it on (ms).
    pub added_ms: i64,
}

fn json<T: Serialize>(v: &T) -> Result<String, Ec2Error> {
    serde_json::to_string(v).map_err(|e| Ec2Error::internal(e.to_string()))
}

/// `ValidationError` for a group that does not exist, in Auto Scaling's words.
pub fn not_found(name: &str) -> Ec2Error {
    validation(format!(
        "AutoScalingGroup name not found - AutoScalingGroup '{name}' not found"
    ))
}

impl Group {
    /// The group and whether a forced delete is under way, if it exists.
    pub fn find(c: &Connection, name: &str) -> Result<Option<(Group, bool)>, Ec2Error> {
        let row = c
            .query_row(
                "SELECT settings, deleting FROM asg_groups WHERE name = ?1",
                [name],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)),
            )
            .optional()?;
        row.map(|(s, d)| {
            serde_json::from_str(&s)
                .map(|g| (g, d))
                .map_err(|e| Ec2Error::internal(format!("group {name}: {e}")))
        })
        .transpose()
    }

    /// The group, or Auto Scaling's `ValidationError` naming it.
    pub fn get(c: &Connection, name: &str) -> Result<Group, Ec2Error> {
        Group::find(c, name)?
            .map(|(g, _)| g)
            .ok_or_else(|| not_found(name))
    }

    /// Every group's name, oldest first.
    pub fn names(c: &Connection) -> Result<Vec<String>, Ec2Error> {
        let mut st = c.prepare("SELECT name FROM asg_groups ORDER BY created_ms, name")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Writes the settings.
    pub fn save(&self, tx: &Transaction<'_>) -> Result<(), Ec2Error> {
        tx.execute(
            "UPDATE asg_groups SET settings = ?2 WHERE name = ?1",
            params![self.name, json(self)?],
        )?;
        Ok(())
    }

    /// The zone its instances run in: the region's one.
    pub fn zone(region: &str) -> String {
        format!("{region}a")
    }
}

/// Whether any group exists (the monitor daemon stays while one does).
pub fn any(c: &Connection) -> Result<bool, Ec2Error> {
    Ok(c.query_row("SELECT EXISTS (SELECT 1 FROM asg_groups)", [], |r| r.get(0))?)
}

/// A group's instances, oldest first.
pub fn members(c: &Connection, group: &str) -> Result<Vec<Member>, Ec2Error> {
    let mut st = c.prepare(
        "SELECT instance_id, group_name, lifecycle, health, template, added_ms
         FROM asg_instances WHERE group_name = ?1 ORDER BY added_ms, instance_id",
    )?;
    let rows = st.query_map([group], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (instance_id, group_name, lifecycle, health, template, added_ms) = row?;
        out.push(Member {
            instance_id,
            group_name,
            lifecycle,
            health,
            template: serde_json::from_str(&template).unwrap_or_default(),
            added_ms,
        });
    }
    Ok(out)
}

/// Adds or updates a member.
pub fn put_member(tx: &Transaction<'_>, m: &Member) -> Result<(), Ec2Error> {
    tx.execute(
        "INSERT INTO asg_instances (instance_id, group_name, lifecycle, health, template, added_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (instance_id) DO UPDATE SET lifecycle = ?3, health = ?4",
        params![
            m.instance_id,
            m.group_name,
            m.lifecycle,
            m.health,
            json(&m.template)?,
            m.added_ms
        ],
    )?;
    Ok(())
}

/// Removes a member.
pub fn remove_member(tx: &Transaction<'_>, instance_id: &str) -> Result<(), Ec2Error> {
    tx.execute(
        "DELETE FROM asg_instances WHERE instance_id = ?1",
        [instance_id],
    )?;
    Ok(())
}

/// Removes the group and its policies (the alarms target tracking made go with them, as
/// the caller arranges).
pub fn remove_group(tx: &Transaction<'_>, name: &str) -> Result<(), Ec2Error> {
    tx.execute("DELETE FROM asg_instances WHERE group_name = ?1", [name])?;
    tx.execute("DELETE FROM asg_policies WHERE group_name = ?1", [name])?;
    tx.execute("DELETE FROM asg_groups WHERE name = ?1", [name])?;
    Ok(())
}

fn check_sizes(min: i64, max: i64, desired: i64) -> Result<(), Ec2Error> {
    if min < 0 || max < 0 {
        return Err(validation("MinSize and MaxSize must be 0 or more"));
    }
    if min > max {
        return Err(validation(format!(
            "Max bound, {max}, must be greater than or equal to min bound, {min}"
        )));
    }
    if desired < min || desired > max {
        return Err(validation(format!(
            "Desired capacity:{desired} must be between the specified min size:{min} and max size:{max}"
        )));
    }
    Ok(())
}

/// The template must exist (Auto Scaling checks it when the group is made or changed).
fn check_template(store: &Store, spec: &LaunchTemplateSpecification) -> Result<(), Ec2Error> {
    crate::launch_templates::resolve(store, spec)
        .map(drop)
        .map_err(|e| {
            validation(format!(
                "You must use a valid fully-formed launch template. {}",
                e.message
            ))
        })
}

fn check_zones(region: &str, zones: &[String]) -> Result<(), Ec2Error> {
    for z in zones {
        if *z != Group::zone(region) {
            return Err(validation(format!(
                "The availability zone {z} is not legally formatted or is not in this region (ec2lab's region {region} has one zone, {})",
                Group::zone(region)
            )));
        }
    }
    Ok(())
}

fn subnets(store: &Store, vpc_zone_identifier: Option<&str>) -> Result<Vec<String>, Ec2Error> {
    let Some(text) = vpc_zone_identifier else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for id in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        crate::net::vpc::Subnet::get(store.conn(), id)
            .map_err(|_| validation(format!("The subnet ID '{id}' does not exist")))?;
        out.push(id.to_string());
    }
    Ok(out)
}

fn check_health_type(t: Option<&str>) -> Result<String, Ec2Error> {
    match t.unwrap_or("EC2") {
        "EC2" => Ok("EC2".into()),
        other => Err(validation(format!(
            "Health check type {other} is not served by ec2lab (no load balancers here); use EC2"
        ))),
    }
}

fn check_termination_policies(p: &[String]) -> Result<(), Ec2Error> {
    for name in p {
        if !["Default", "NewestInstance", "OldestInstance"].contains(&name.as_str()) {
            return Err(validation(format!(
                "Termination policy {name} is not valid here: use Default, NewestInstance or OldestInstance"
            )));
        }
    }
    Ok(())
}

/// `CreateAutoScalingGroup`.
pub fn create_auto_scaling_group(
    store: &mut Store,
    req: &CreateAutoScalingGroupType,
) -> Result<(), Ec2Error> {
    let name = &req.auto_scaling_group_name;
    if name.is_empty() || name.len() > 255 || name.contains(':') {
        return Err(validation(format!(
            "Invalid AutoScalingGroupName {name:?}: 1 to 255 characters, without ':'"
        )));
    }
    let Some(template) = req.launch_template.clone() else {
        return Err(validation(
            "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter (ec2lab takes LaunchTemplate).",
        ));
    };
    let desired = req.desired_capacity.unwrap_or(req.min_size);
    check_sizes(req.min_size, req.max_size, desired)?;
    check_template(store, &template)?;
    check_zones(store.region(), &req.availability_zones)?;
    check_health_type(req.health_check_type.as_deref())?;
    check_termination_policies(&req.termination_policies)?;
    let subnets = subnets(store, req.vpc_zone_identifier.as_deref())?;
    for t in &req.tags {
        if t.key.is_empty() || t.key.starts_with("aws:") {
            return Err(validation(format!(
                "Invalid tag key {:?}: not empty, and not starting with aws:",
                t.key
            )));
        }
    }
    let now = iso8601_now();
    let group = Group {
        name: name.clone(),
        arn: group_arn(store.region(), &crate::ids::uuid(), name),
        launch_template: template,
        min: req.min_size,
        max: req.max_size,
        desired,
        cooldown: req.default_cooldown.unwrap_or(300),
        grace: req.health_check_grace_period.unwrap_or(0),
        subnets,
        termination_policies: if req.termination_policies.is_empty() {
            vec!["Default".into()]
        } else {
            req.termination_policies.clone()
        },
        tags: req
            .tags
            .iter()
            .map(|t| Tag {
                resource_id: Some(name.clone()),
                resource_type: Some("auto-scaling-group".into()),
                key: t.key.clone(),
                value: Some(t.value.clone().unwrap_or_default()),
                propagate_at_launch: Some(t.propagate_at_launch.unwrap_or(false)),
            })
            .collect(),
        created: now.clone(),
        last_scaling_ms: 0,
        next_subnet: 0,
        launch_retry_ms: 0,
        desired_cause: format!(
            "At {now} a user request created an AutoScalingGroup changing the desired capacity from 0 to {desired}."
        ),
    };
    store.write(|tx| {
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM asg_groups WHERE name = ?1)",
            [name],
            |r| r.get(0),
        )?;
        if taken {
            return Err(Ec2Error::new(
                "AlreadyExists",
                format!("AutoScalingGroup by this name already exists - A group with the name {name} already exists"),
            ));
        }
        tx.execute(
            "INSERT INTO asg_groups (name, settings, created_ms) VALUES (?1, ?2, ?3)",
            params![name, json(&group)?, now_ms()],
        )?;
        Ok(())
    })?;
    // The monitor daemon launches the instances, within one tick.
    crate::instances::monitor_daemon::ensure(store)
}

fn to_instance(store: &Store, m: &Member) -> Instance {
    let ty = crate::instances::record::Instance::get(store.conn(), &m.instance_id)
        .map(|i| i.instance_type)
        .unwrap_or_default();
    Instance {
        instance_id: m.instance_id.clone(),
        instance_type: ty,
        availability_zone: Group::zone(store.region()),
        lifecycle_state: m.lifecycle.clone(),
        health_status: m.health.clone(),
        launch_template: Some(m.template.clone()),
        protected_from_scale_in: false,
    }
}

/// The group as `DescribeAutoScalingGroups` shows it.
pub fn to_shape(
    store: &Store,
    g: &Group,
    deleting: bool,
    with_instances: bool,
) -> Result<AutoScalingGroup, Ec2Error> {
    let instances = if with_instances {
        members(store.conn(), &g.name)?
            .iter()
            .map(|m| to_instance(store, m))
            .collect()
    } else {
        Vec::new()
    };
    Ok(AutoScalingGroup {
        auto_scaling_group_name: g.name.clone(),
        auto_scaling_group_arn: g.arn.clone(),
        launch_template: Some(g.launch_template.clone()),
        min_size: g.min,
        max_size: g.max,
        desired_capacity: g.desired,
        default_cooldown: g.cooldown,
        availability_zones: vec![Group::zone(store.region())],
        health_check_type: "EC2".into(),
        health_check_grace_period: g.grace,
        instances,
        created_time: g.created.clone(),
        vpc_zone_identifier: (!g.subnets.is_empty()).then(|| g.subnets.join(",")),
        status: deleting.then(|| "Delete in progress".to_string()),
        tags: g.tags.clone(),
        termination_policies: g.termination_policies.clone(),
        new_instances_protected_from_scale_in: false,
    })
}

fn tag_matches(g: &Group, f: &Filter) -> Result<bool, Ec2Error> {
    let any = |pred: &dyn Fn(&Tag) -> bool| g.tags.iter().any(pred);
    Ok(match f.name.as_str() {
        "tag-key" => any(&|t| f.values.contains(&t.key)),
        "tag-value" => any(&|t| f.values.contains(&t.value.clone().unwrap_or_default())),
        n => match n.strip_prefix("tag:") {
            Some(k) => {
                any(&|t| t.key == k && f.values.contains(&t.value.clone().unwrap_or_default()))
            }
            None => {
                return Err(validation(format!(
                    "Filter {n} is not valid here: use tag-key, tag-value or tag:<key>"
                )))
            }
        },
    })
}

/// `DescribeAutoScalingGroups`: names that do not exist are left out.
pub fn describe_auto_scaling_groups(
    store: &Store,
    req: &AutoScalingGroupNamesType,
) -> Result<AutoScalingGroupsType, Ec2Error> {
    let mut out = Vec::new();
    for name in Group::names(store.conn())? {
        if !req.auto_scaling_group_names.is_empty() && !req.auto_scaling_group_names.contains(&name)
        {
            continue;
        }
        let Some((g, deleting)) = Group::find(store.conn(), &name)? else {
            continue;
        };
        let mut keep = true;
        for f in &req.filters {
            keep &= tag_matches(&g, f)?;
        }
        if keep {
            out.push(to_shape(
                store,
                &g,
                deleting,
                req.include_instances.unwrap_or(true),
            )?);
        }
    }
    Ok(AutoScalingGroupsType {
        auto_scaling_groups: out,
    })
}

/// `UpdateAutoScalingGroup`. A new minimum above the desired capacity (or maximum below
/// it) moves the desired capacity along when the request sets none, as Auto Scaling does.
pub fn update_auto_scaling_group(
    store: &mut Store,
    req: &UpdateAutoScalingGroupType,
) -> Result<(), Ec2Error> {
    if let Some(t) = &req.launch_template {
        check_template(store, t)?;
    }
    check_zones(store.region(), &req.availability_zones)?;
    check_health_type(req.health_check_type.as_deref())?;
    check_termination_policies(&req.termination_policies)?;
    let new_subnets = match &req.vpc_zone_identifier {
        Some(v) => Some(subnets(store, Some(v))?),
        None => None,
    };
    store.write(|tx| {
        let (mut g, deleting) = Group::find(tx, &req.auto_scaling_group_name)?
            .ok_or_else(|| not_found(&req.auto_scaling_group_name))?;
        if deleting {
            return Err(in_progress(&g.name));
        }
        let old = g.desired;
        g.min = req.min_size.unwrap_or(g.min);
        g.max = req.max_size.unwrap_or(g.max);
        g.desired = match req.desired_capacity {
            Some(d) => d,
            None => g.desired.clamp(g.min, g.max.max(g.min)),
        };
        check_sizes(g.min, g.max, g.desired)?;
        if let Some(t) = &req.launch_template {
            g.launch_template = t.clone();
        }
        g.cooldown = req.default_cooldown.unwrap_or(g.cooldown);
        g.grace = req.health_check_grace_period.unwrap_or(g.grace);
        if let Some(s) = new_subnets {
            g.subnets = s;
        }
        if !req.termination_policies.is_empty() {
            g.termination_policies = req.termination_policies.clone();
        }
        if g.desired != old {
            g.desired_cause = format!(
                "At {} a user request update of AutoScalingGroup constraints to min: {}, max: {}, desired: {} changing the desired capacity from {old} to {}.",
                iso8601_now(),
                g.min,
                g.max,
                g.desired,
                g.desired
            );
        }
        g.save(tx)
    })
}

/// `ScalingActivityInProgress`: the group is being deleted.
pub fn in_progress(name: &str) -> Ec2Error {
    Ec2Error::new(
        "ScalingActivityInProgress",
        format!(
            "The group {name} is being deleted (its instances are terminating); wait for it to go."
        ),
    )
}

/// `SetDesiredCapacity`, or a scaling policy's change: the new capacity within the
/// group's bounds, with the cause its activities will name.
pub fn set_desired(
    tx: &Transaction<'_>,
    g: &mut Group,
    desired: i64,
    cause: String,
) -> Result<(), Ec2Error> {
    g.desired = desired;
    g.desired_cause = cause;
    g.last_scaling_ms = now_ms();
    g.save(tx)
}

/// `SetDesiredCapacity`.
pub fn set_desired_capacity(
    store: &mut Store,
    req: &SetDesiredCapacityType,
) -> Result<(), Ec2Error> {
    store.write(|tx| {
        let (mut g, deleting) = Group::find(tx, &req.auto_scaling_group_name)?
            .ok_or_else(|| not_found(&req.auto_scaling_group_name))?;
        if deleting {
            return Err(in_progress(&g.name));
        }
        let d = req.desired_capacity;
        if d > g.max {
            return Err(validation(format!(
                "New SetDesiredCapacity value {d} is above max value {} for the AutoScalingGroup.",
                g.max
            )));
        }
        if d < g.min {
            return Err(validation(format!(
                "New SetDesiredCapacity value {d} is below min value {} for the AutoScalingGroup.",
                g.min
            )));
        }
        if req.honor_cooldown == Some(true) && now_ms() < g.last_scaling_ms + g.cooldown * 1000 {
            return Err(Ec2Error::new(
                "ScalingActivityInProgress",
                format!(
                    "The group {} is in its cooldown ({} s after the last scaling activity); try again later or leave out --honor-cooldown.",
                    g.name, g.cooldown
                ),
            ));
        }
        let cause = format!(
            "At {} a user request explicitly set group desired capacity changing the desired capacity from {} to {d}.",
            iso8601_now(),
            g.desired
        );
        set_desired(tx, &mut g, d, cause)
    })
}

/// `DescribeAutoScalingInstances`: every group's instances, or those named.
pub fn describe_auto_scaling_instances(
    store: &Store,
    req: &DescribeAutoScalingInstancesType,
) -> Result<AutoScalingInstancesType, Ec2Error> {
    let mut out = Vec::new();
    for name in Group::names(store.conn())? {
        for m in members(store.conn(), &name)? {
            if !req.instance_ids.is_empty() && !req.instance_ids.contains(&m.instance_id) {
                continue;
            }
            let i = to_instance(store, &m);
            out.push(AutoScalingInstanceDetails {
                instance_id: i.instance_id,
                instance_type: i.instance_type,
                auto_scaling_group_name: name.clone(),
                availability_zone: i.availability_zone,
                lifecycle_state: i.lifecycle_state,
                health_status: i.health_status.to_uppercase(),
                launch_template: i.launch_template,
                protected_from_scale_in: false,
            });
        }
    }
    Ok(AutoScalingInstancesType {
        auto_scaling_instances: out,
    })
}
