//! The reconciler: one pass over a group, run by the monitor daemon every tick. It checks
//! each instance's EC2 health (an instance that is not running, or whose system or
//! instance status check is impaired after the grace period, is unhealthy), terminates
//! and replaces unhealthy ones, then launches or terminates instances until the group has
//! its desired capacity, recording every step as a scaling activity.

use std::collections::HashMap;

use super::activities::{self, NewActivity};
use super::groups::{self, Group, Member};
use super::shapes::LaunchTemplateSpecification;
use crate::clock::iso8601_now;
use crate::ec2::shapes::instance_status::DescribeInstanceStatusRequest;
use crate::ec2::shapes::instances::{RunInstancesRequest, TerminateInstancesRequest};
use crate::ec2::shapes::TagSpecification;
use crate::error::Ec2Error;
use crate::instances::record::Instance as Ec2Instance;
use crate::store::Store;

/// The tag Auto Scaling puts on every instance it launches, with the group's name.
pub const GROUP_NAME_TAG: &str = "aws:autoscaling:groupName";

/// How long the group waits after a failed launch before it tries again.
const RETRY_LAUNCH_MS: i64 = 30_000;

/// Reconciles every group; returns the problems, for the daemon's log.
pub fn all_groups(store: &mut Store, now_ms: i64) -> Vec<String> {
    let names = match Group::names(store.conn()) {
        Ok(n) => n,
        Err(e) => return vec![format!("cannot list the Auto Scaling groups: {e}")],
    };
    names
        .iter()
        .filter_map(|n| {
            group(store, n, now_ms)
                .err()
                .map(|e| format!("Auto Scaling group {n}: {e}"))
        })
        .collect()
}

/// An instance's EC2 state and whether a status check says it is impaired.
struct Seen {
    state: &'static str,
    impaired: bool,
}

fn seen(store: &mut Store, ids: &[String]) -> Result<HashMap<String, Seen>, Ec2Error> {
    let mut out = HashMap::new();
    let mut running = Vec::new();
    for id in ids {
        match Ec2Instance::get(store.conn(), id) {
            Ok(i) => {
                let state = i.state.name();
                if state == "running" {
                    running.push(id.clone());
                }
                out.insert(
                    id.clone(),
                    Seen {
                        state,
                        impaired: false,
                    },
                );
            }
            Err(e) if e.code == "InvalidInstanceID.NotFound" => {}
            Err(e) => return Err(e),
        }
    }
    if !running.is_empty() {
        let status = crate::instances::describe_instance_status(
            store,
            &DescribeInstanceStatusRequest {
                instance_ids: running,
                include_all_instances: Some(true),
                ..Default::default()
            },
        )?;
        for s in status.instance_statuses {
            if let Some(x) = out.get_mut(&s.instance_id) {
                x.impaired =
                    s.system_status.status == "impaired" || s.instance_status.status == "impaired";
            }
        }
    }
    Ok(out)
}

fn describe_terminate(id: &str) -> String {
    format!("Terminating EC2 instance: {id}")
}

/// One pass over the group `name`.
pub fn group(store: &mut Store, name: &str, now_ms: i64) -> Result<(), Ec2Error> {
    let Some((mut g, deleting)) = Group::find(store.conn(), name)? else {
        return Ok(());
    };
    let zone = Group::zone(store.region());
    let members = groups::members(store.conn(), name)?;
    let ids: Vec<String> = members.iter().map(|m| m.instance_id.clone()).collect();
    let seen = seen(store, &ids)?;

    // Health: settle terminations that finished, mark the unhealthy.
    let mut unhealthy: Vec<(Member, &'static str)> = Vec::new();
    for m in &members {
        let s = seen.get(&m.instance_id);
        if m.lifecycle == "Terminating" {
            if s.is_none_or(|s| s.state == "terminated") {
                store.write(|tx| {
                    groups::remove_member(tx, &m.instance_id)?;
                    activities::finish(tx, name, &describe_terminate(&m.instance_id))
                })?;
            }
            continue;
        }
        let why = match s {
            None => Some("terminated or stopped"),
            Some(s) => match s.state {
                "pending" => None,
                "running" if s.impaired && now_ms - m.added_ms >= g.grace * 1000 => {
                    Some("status checks failure")
                }
                "running" => {
                    if m.lifecycle == "Pending" {
                        let mut m = m.clone();
                        m.lifecycle = "InService".into();
                        store.write(|tx| groups::put_member(tx, &m))?;
                    }
                    None
                }
                _ => Some("terminated or stopped"),
            },
        };
        if let Some(why) = why {
            unhealthy.push((m.clone(), why));
        }
    }
    for (m, why) in unhealthy {
        let cause = match why {
            "status checks failure" => format!(
                "At {} an instance was taken out of service in response to an EC2 instance status checks failure.",
                iso8601_now()
            ),
            _ => format!(
                "At {} an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped.",
                iso8601_now()
            ),
        };
        terminate(store, &g, &m, &cause, &zone)?;
    }

    // Capacity.
    let active: Vec<Member> = groups::members(store.conn(), name)?
        .into_iter()
        .filter(|m| m.lifecycle != "Terminating")
        .collect();
    let n = active.len() as i64;
    if n < g.desired && !deleting {
        if g.launch_retry_ms <= now_ms {
            for k in n..g.desired {
                let cause = format!(
                    "{}At {} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from {k} to {}.",
                    take_cause(&mut g),
                    iso8601_now(),
                    k + 1
                );
                if !launch(store, &mut g, &cause, &zone)? {
                    break;
                }
            }
        }
    } else if n > g.desired {
        let mut victims = active.clone();
        // Default and NewestInstance take the newest first; OldestInstance the oldest.
        if g.termination_policies.first().map(String::as_str) != Some("OldestInstance") {
            victims.reverse();
        }
        for (k, m) in victims.iter().take((n - g.desired) as usize).enumerate() {
            let from = n - k as i64;
            let cause = format!(
                "{}At {} an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from {from} to {}.",
                take_cause(&mut g),
                iso8601_now(),
                from - 1
            );
            terminate(store, &g, m, &cause, &zone)?;
        }
        store.write(|tx| g.save(tx))?;
    }
    if deleting && groups::members(store.conn(), name)?.is_empty() {
        store.write(|tx| groups::remove_group(tx, name))?;
    }
    Ok(())
}

/// The cause of the last change of desired capacity, once: the first activity it brings
/// names it, as Auto Scaling's causes do.
fn take_cause(g: &mut Group) -> String {
    let c = std::mem::take(&mut g.desired_cause);
    if c.is_empty() {
        c
    } else {
        format!("{c}  ")
    }
}

/// Terminates a member for `cause` (an instance already gone is only removed).
fn terminate(
    store: &mut Store,
    g: &Group,
    m: &Member,
    cause: &str,
    zone: &str,
) -> Result<(), Ec2Error> {
    let gone = crate::instances::terminate_instances(
        store,
        &TerminateInstancesRequest {
            instance_ids: vec![m.instance_id.clone()],
        },
    )
    .err()
    .is_some_and(|e| e.code == "InvalidInstanceID.NotFound");
    store.write(|tx| {
        activities::record(
            tx,
            g,
            NewActivity {
                description: describe_terminate(&m.instance_id),
                cause,
                status_code: if gone { "Successful" } else { "InProgress" },
                status_message: None,
                subnet: None,
                zone: zone.into(),
            },
        )?;
        if gone {
            groups::remove_member(tx, &m.instance_id)
        } else {
            let mut m = m.clone();
            m.lifecycle = "Terminating".into();
            m.health = "Unhealthy".into();
            groups::put_member(tx, &m)
        }
    })
}

/// Launches one instance into the group; false if it failed (recorded as a failed
/// activity, retried after [`RETRY_LAUNCH_MS`]).
fn launch(store: &mut Store, g: &mut Group, cause: &str, zone: &str) -> Result<bool, Ec2Error> {
    let subnet =
        (!g.subnets.is_empty()).then(|| g.subnets[g.next_subnet % g.subnets.len()].clone());
    let tags: Vec<crate::ec2::shapes::Tag> = g
        .tags
        .iter()
        .filter(|t| t.propagate_at_launch == Some(true))
        .map(|t| crate::ec2::shapes::Tag::new(t.key.clone(), t.value.clone().unwrap_or_default()))
        .collect();
    let attempt = crate::launch_templates::resolve(store, &g.launch_template).and_then(|v| {
        let spec = LaunchTemplateSpecification {
            launch_template_id: Some(v.launch_template_id.clone()),
            launch_template_name: Some(v.launch_template_name.clone()),
            version: Some(v.version_number.to_string()),
        };
        let req = RunInstancesRequest {
            min_count: 1,
            max_count: 1,
            subnet_id: subnet.clone(),
            tag_specifications: if tags.is_empty() {
                Vec::new()
            } else {
                vec![TagSpecification {
                    resource_type: "instance".into(),
                    tags: tags.clone(),
                }]
            },
            launch_template: Some(LaunchTemplateSpecification {
                launch_template_id: spec.launch_template_id.clone(),
                launch_template_name: None,
                version: spec.version.clone(),
            }),
            ..Default::default()
        };
        // As Auto Scaling does, the instance carries its group's name in a tag only AWS
        // may set.
        let origin = crate::instances::run::Origin {
            system_tags: vec![crate::ec2::shapes::Tag::new(GROUP_NAME_TAG, g.name.clone())],
            ..Default::default()
        };
        crate::instances::run::launch(store, &req, &origin).map(|r| (r, spec))
    });
    let now = crate::clock::now_ms();
    match attempt {
        Ok((reservation, spec)) => {
            let Some(inst) = reservation.instances.first() else {
                return Ok(false);
            };
            g.next_subnet += 1;
            g.launch_retry_ms = 0;
            store.write(|tx| {
                groups::put_member(
                    tx,
                    &Member {
                        instance_id: inst.instance_id.clone(),
                        group_name: g.name.clone(),
                        lifecycle: "Pending".into(),
                        health: "Healthy".into(),
                        template: spec.clone(),
                        added_ms: now,
                    },
                )?;
                activities::record(
                    tx,
                    g,
                    NewActivity {
                        description: format!("Launching a new EC2 instance: {}", inst.instance_id),
                        cause,
                        status_code: "Successful",
                        status_message: None,
                        subnet: subnet.as_deref(),
                        zone: zone.into(),
                    },
                )?;
                g.save(tx)
            })?;
            Ok(true)
        }
        Err(e) => {
            g.launch_retry_ms = now + RETRY_LAUNCH_MS;
            store.write(|tx| {
                activities::record(
                    tx,
                    g,
                    NewActivity {
                        description: "Launching a new EC2 instance.  Status Reason: the launch failed".into(),
                        cause,
                        status_code: "Failed",
                        status_message: Some(format!("{}: {}. Launching EC2 instance failed.", e.code, e.message)),
                        subnet: subnet.as_deref(),
                        zone: zone.into(),
                    },
                )?;
                g.save(tx)
            })?;
            Ok(false)
        }
    }
}
