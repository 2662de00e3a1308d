//! The spot actions that launch instances: RequestSpotInstances, and fulfilling open
//! requests, which the monitor daemon does every tick. Above `run` and `change`, which it
//! calls, so that `describe` (which reads spot requests) stays below them.

use rusqlite::params;

use super::spot::{self, status};
use super::spot_price::{price_at, region_prices};
use super::state::State;
use crate::clock::{iso_ms, now_ms};
use crate::ec2::shapes::instances::RunInstancesRequest;
use crate::ec2::shapes::market::*;
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::ids;
use crate::store::Store;

/// `RequestSpotInstances`: one request per instance, fulfilled at once when the host has the
/// memory and the price is under the maximum; otherwise the requests stay `open` with
/// EC2's status (`capacity-not-available`, `price-too-low`).
pub fn request_spot_instances(
    store: &mut Store,
    req: &RequestSpotInstancesRequest,
) -> Result<RequestSpotInstancesResult, Ec2Error> {
    let Some(spec) = &req.launch_specification else {
        return Err(Ec2Error::missing_parameter("LaunchSpecification"));
    };
    let count = req.instance_count.unwrap_or(1);
    if !(1..=20).contains(&count) {
        return Err(Ec2Error::invalid_parameter(format!(
            "Value ({count}) for parameter InstanceCount is invalid: from 1 to 20"
        )));
    }
    let tags = tags::for_resource(
        &req.tag_specifications,
        &["spot-instances-request"],
        "spot-instances-request",
    )?;
    let run = RunInstancesRequest {
        image_id: spec.image_id.clone(),
        instance_type: spec.instance_type.clone(),
        min_count: count,
        max_count: count,
        key_name: spec.key_name.clone(),
        security_group_ids: spec.security_group_ids.clone(),
        subnet_id: spec.subnet_id.clone(),
        user_data: spec.user_data.clone(),
        block_device_mappings: spec.block_device_mappings.clone(),
        network_interfaces: spec.network_interfaces.clone(),
        monitoring: spec.monitoring.clone(),
        instance_market_options: Some(InstanceMarketOptionsRequest {
            market_type: Some("spot".into()),
            spot_options: Some(SpotMarketOptions {
                max_price: req.spot_price.clone(),
                spot_instance_type: req.r#type.clone(),
                valid_until: req.valid_until.clone(),
                instance_interruption_behavior: req.instance_interruption_behavior.clone(),
            }),
        }),
        ..Default::default()
    };
    let made = match super::run::run_instances(store, &run) {
        Ok(reservation) => reservation
            .instances
            .iter()
            .map(|i| i.instance_id.clone())
            .collect::<Vec<_>>(),
        Err(e) if e.code == "InsufficientInstanceCapacity" || e.code == "SpotMaxPriceTooLow" => {
            return open_requests(store, req, &run, count, &tags, &e);
        }
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    store.write(|tx| -> Result<(), Ec2Error> {
        for id in &made {
            let Some(mut row) = spot::of_instance(tx, id)? else {
                continue;
            };
            row.request.tags = tags.clone();
            spot::save(tx, &row.request)?;
            out.push(row.request);
        }
        Ok(())
    })?;
    Ok(RequestSpotInstancesResult {
        spot_instance_requests: out,
    })
}

/// Requests that could not be fulfilled now: `open`, with the reason as their status.
fn open_requests(
    store: &mut Store,
    req: &RequestSpotInstancesRequest,
    run: &RunInstancesRequest,
    count: i64,
    tags: &[Tag],
    why: &Ec2Error,
) -> Result<RequestSpotInstancesResult, Ec2Error> {
    let (code, message) = if why.code == "SpotMaxPriceTooLow" {
        ("price-too-low", why.message.clone())
    } else {
        (
            "capacity-not-available",
            "There is no capacity available for the instance type at this time.".to_string(),
        )
    };
    let now = now_ms();
    let mut out = Vec::new();
    store.write(|tx| -> Result<(), Ec2Error> {
        for _ in 0..count {
            let r = SpotInstanceRequest {
                spot_instance_request_id: ids::new_id("sir"),
                spot_price: req.spot_price.clone().unwrap_or_default(),
                r#type: req.r#type.clone().unwrap_or_else(|| "one-time".into()),
                state: "open".into(),
                status: status(code, &message),
                instance_id: None,
                launch_specification: LaunchSpecification {
                    image_id: run.image_id.clone(),
                    instance_type: run
                        .instance_type
                        .clone()
                        .unwrap_or_else(|| super::types::DEFAULT_INSTANCE_TYPE.into()),
                    key_name: run.key_name.clone(),
                    subnet_id: run.subnet_id.clone(),
                },
                create_time: iso_ms(now),
                product_description: "Linux/UNIX".into(),
                launched_availability_zone: None,
                valid_until: req.valid_until.clone(),
                instance_interruption_behavior: req
                    .instance_interruption_behavior
                    .clone()
                    .unwrap_or_else(|| "terminate".into()),
                tags: tags.to_vec(),
            };
            let json = serde_json::to_string(&r).map_err(|e| Ec2Error::internal(e.to_string()))?;
            tx.execute(
                "INSERT INTO spot_requests (request_id, request, create_ms, tags, launch)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    r.spot_instance_request_id,
                    json,
                    now,
                    tags::to_column(&r.tags),
                    super::spot_rows::launch_json(run)?
                ],
            )?;
            out.push(r);
        }
        Ok(())
    })?;
    // The monitor daemon fulfils them when there is room ([`fulfil`]).
    super::monitor_daemon::ensure(store)?;
    Ok(RequestSpotInstancesResult {
        spot_instance_requests: out,
    })
}

/// What the monitor daemon does for spot requests every tick (and so whether or not any
/// command runs), as EC2 does
/// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-request-status.html):
/// - an active request whose instance the user terminated is `instance-terminated-by-user`:
///   closed if one-time; a persistent one opens again and launches anew;
/// - one whose instance the user stopped is `disabled` (`instance-stopped-by-user`) until
///   the user starts it again;
/// - an open or interruption-disabled request past its `ValidUntil` is closed,
///   `schedule-expired`;
/// - an open request launches when the host has the memory and the price is within its
///   maximum (else it stays open, `capacity-not-available` or `price-too-low`); one that
///   can never launch (its AMI or key pair gone, say) is closed, `bad-parameters`;
/// - a persistent request disabled by an interruption starts its instance again when
///   there is room.
///
/// Returns the problems, for the daemon's log.
pub fn fulfil(store: &mut Store) -> Vec<String> {
    let rows = match spot::all(store.conn()) {
        Ok(r) => r,
        Err(e) => return vec![format!("cannot read the spot requests: {e}")],
    };
    let mut problems = Vec::new();
    for row in rows {
        let id = row.request.spot_instance_request_id.clone();
        if let Err(e) = fulfil_one(store, row) {
            problems.push(format!("spot request {id}: {e}"));
        }
    }
    problems
}

/// Whether a spot request still needs the monitor daemon: one that is open, or waits for
/// room after an interruption, or whose instance may end (what the daemon watches for).
pub fn pending(store: &Store) -> bool {
    spot::all(store.conn()).map_or(true, |rows| {
        rows.iter().any(|r| match r.request.state.as_str() {
            "open" | "active" => true,
            "disabled" => r.request.status.code != "instance-stopped-by-user",
            _ => false,
        })
    })
}

fn set(
    store: &mut Store,
    r: &SpotInstanceRequest,
    state: &str,
    code: &str,
    message: &str,
) -> Result<(), Ec2Error> {
    if r.state == state && r.status.code == code {
        return Ok(()); // unchanged: its status keeps its time
    }
    let mut r = r.clone();
    r.state = state.into();
    r.status = status(code, message);
    store.write(|tx| spot::save(tx, &r))
}

fn fulfil_one(store: &mut Store, row: spot::Row) -> Result<(), Ec2Error> {
    let r = row.request;
    let persistent = r.r#type == "persistent";
    // Gone from the store (an hour after its termination) counts as terminated.
    let inst = r
        .instance_id
        .as_ref()
        .map(|id| super::record::Instance::get(store.conn(), id).ok());
    let inst_state = inst.as_ref().map(|i| i.as_ref().map(|i| i.state));
    let ended = |s: &Option<Option<State>>| {
        matches!(
            s,
            Some(None) | Some(Some(State::ShuttingDown | State::Terminated))
        )
    };
    match r.state.as_str() {
        "active" if ended(&inst_state) => {
            // An interruption sets its own status before the instance ends; what ends an
            // active request's instance otherwise is the user.
            let (state, msg) = if persistent {
                ("open", "Your Spot Instance was terminated by you; the persistent request will launch another.")
            } else {
                ("closed", "Your Spot Instance was terminated by you.")
            };
            set(store, &r, state, "instance-terminated-by-user", msg)
        }
        "active" if matches!(inst_state, Some(Some(State::Stopping | State::Stopped))) => {
            // Not an interruption (that makes the request `disabled` itself): the user's stop.
            set(
                store,
                &r,
                "disabled",
                "instance-stopped-by-user",
                "Your Spot Instance was stopped by you; the request opens again when you start it.",
            )
        }
        "disabled"
            if r.status.code == "instance-stopped-by-user"
                && matches!(inst_state, Some(Some(State::Pending | State::Running))) =>
        {
            set(
                store,
                &r,
                "active",
                "fulfilled",
                "Your spot request is fulfilled.",
            )
        }
        "disabled" if ended(&inst_state) => set(
            store,
            &r,
            "open",
            "instance-terminated-by-user",
            "Your Spot Instance was terminated by you; the persistent request will launch another.",
        ),
        "open" | "disabled" if expired(&r) => set(
            store,
            &r,
            "closed",
            "schedule-expired",
            "The Spot request expired because it was not fulfilled before the specified end date.",
        ),
        "open" => launch_open(store, &r),
        "disabled" if r.status.code != "instance-stopped-by-user" => restart(store, r, inst_state),
        _ => Ok(()),
    }
}

fn expired(r: &SpotInstanceRequest) -> bool {
    r.valid_until
        .as_deref()
        .and_then(crate::clock::parse_ms)
        .is_some_and(|until| now_ms() >= until)
}

/// An open request's launch, recorded under it; the outcome is its status.
fn launch_open(store: &mut Store, r: &SpotInstanceRequest) -> Result<(), Ec2Error> {
    let req = super::spot_rows::launch_of(store.conn(), r)?;
    let origin = super::run::Origin {
        spot_request: Some(r.spot_instance_request_id.clone()),
        ..Default::default()
    };
    match super::run::launch(store, &req, &origin) {
        Ok(_) => Ok(()),
        Err(e) if e.code == "InsufficientInstanceCapacity" => set(
            store,
            r,
            "open",
            "capacity-not-available",
            "There is no capacity available for the instance type at this time.",
        ),
        Err(e) if e.code == "SpotMaxPriceTooLow" => {
            set(store, r, "open", "price-too-low", &e.message)
        }
        // Trouble on this side (the store, the disk) may pass: the next tick tries again.
        Err(e) if e.code == "InternalError" => Err(e),
        Err(e) => set(
            store,
            r,
            "closed",
            "bad-parameters",
            &format!(
                "One or more parameters for your Spot request are not valid: {}: {}",
                e.code, e.message
            ),
        ),
    }
}

/// A persistent request whose instance an interruption stopped starts it again when the
/// host has the memory and the price is within its maximum, as EC2 does.
fn restart(
    store: &mut Store,
    mut r: SpotInstanceRequest,
    inst_state: Option<Option<State>>,
) -> Result<(), Ec2Error> {
    let Some(id) = r.instance_id.clone() else {
        return Ok(());
    };
    if inst_state != Some(Some(State::Stopped)) {
        return Ok(());
    }
    let inst = super::record::Instance::get(store.conn(), &id)?;
    let Some(ty) = super::types::find(&inst.instance_type) else {
        return Ok(());
    };
    let (budget, used) = super::capacity::capacity(store)?;
    if used + ty.mem_mib > budget {
        return Ok(());
    }
    let after = ((used + ty.mem_mib) as f64 / budget.max(1) as f64).clamp(0.0, 1.0);
    let max: f64 = r.spot_price.parse().unwrap_or(f64::MAX);
    if price_at(&region_prices(store)?, ty.name, after)? > max {
        return Ok(());
    }
    r.state = "active".into();
    r.status = status("fulfilled", "Your spot request is fulfilled.");
    store.write(|tx| -> Result<(), Ec2Error> {
        spot::save(tx, &r)?;
        tx.execute(
            "UPDATE spot_requests SET notice_ms = NULL, action_ms = NULL, rebalance_ms = NULL
             WHERE request_id = ?1",
            [&r.spot_instance_request_id],
        )?;
        Ok(())
    })?;
    super::change::start_instances(
        store,
        &crate::ec2::shapes::instances::StartInstancesRequest {
            instance_ids: vec![id],
        },
    )?;
    Ok(())
}
