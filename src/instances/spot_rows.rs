//! The `spot_requests` rows a launch writes: the request a spot launch makes
//! ([`record_launch`]) or fulfils ([`record_fulfilment`]), the RunInstances request each
//! launches from (`launch`, for the monitor daemon's relaunches) and every instance each
//! launched (`launched`, so that an instance a persistent request replaced still names
//! its request).

use rusqlite::{params, Connection, OptionalExtension};

use super::record::Instance;
use super::spot::{save, status, Market};
use crate::clock::{iso_ms, now_ms};
use crate::ec2::shapes::instances::RunInstancesRequest;
use crate::ec2::shapes::market::{LaunchSpecification, SpotInstanceRequest};
use crate::error::Ec2Error;
use crate::ids;

/// Records the spot request an instance of a spot launch fulfils, in the launch's
/// transaction (before the instance can run, so its usage is metered as spot).
pub fn record_launch(
    tx: &Connection,
    inst: &Instance,
    market: &Market,
    zone: &str,
    launch: &RunInstancesRequest,
) -> Result<String, Ec2Error> {
    let id = ids::new_id("sir");
    let now = now_ms();
    let r = SpotInstanceRequest {
        spot_instance_request_id: id.clone(),
        spot_price: format!("{:.6}", market.max_price),
        r#type: if market.persistent {
            "persistent"
        } else {
            "one-time"
        }
        .into(),
        state: "active".into(),
        status: status("fulfilled", "Your spot request is fulfilled."),
        instance_id: Some(inst.instance_id.clone()),
        launch_specification: LaunchSpecification {
            image_id: inst.image_id.clone(),
            instance_type: inst.instance_type.clone(),
            key_name: inst.key_name.clone(),
            subnet_id: inst.subnet_id.clone(),
        },
        create_time: iso_ms(now),
        product_description: "Linux/UNIX".into(),
        launched_availability_zone: Some(zone.into()),
        valid_until: market.valid_until.clone(),
        instance_interruption_behavior: market.behavior.name().into(),
        tags: Vec::new(),
    };
    let json = serde_json::to_string(&r).map_err(|e| Ec2Error::internal(e.to_string()))?;
    tx.execute(
        "INSERT INTO spot_requests (request_id, instance_id, request, create_ms, launch, launched)
         VALUES (?1, ?2, ?3, ?4, ?5, json_array(?2))",
        params![id, inst.instance_id, json, now, launch_json(launch)?],
    )?;
    Ok(id)
}

/// The RunInstances request a spot request launches from, one instance at a time, as the
/// `launch` column keeps it (a persistent request launches it again).
pub fn launch_json(launch: &RunInstancesRequest) -> Result<String, Ec2Error> {
    let mut one = launch.clone();
    (one.min_count, one.max_count) = (1, 1);
    serde_json::to_string(&one).map_err(|e| Ec2Error::internal(e.to_string()))
}

/// The RunInstances request `request_id` launches from: the one it recorded, or (for a
/// store older than the `launch` column) one made from its LaunchSpecification.
pub fn launch_of(c: &Connection, r: &SpotInstanceRequest) -> Result<RunInstancesRequest, Ec2Error> {
    let json: Option<String> = c
        .query_row(
            "SELECT launch FROM spot_requests WHERE request_id = ?1",
            [&r.spot_instance_request_id],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    if let Some(json) = json {
        return serde_json::from_str(&json)
            .map_err(|e| Ec2Error::internal(format!("a spot request's launch: {e}")));
    }
    let s = &r.launch_specification;
    Ok(RunInstancesRequest {
        image_id: s.image_id.clone(),
        instance_type: Some(s.instance_type.clone()),
        key_name: s.key_name.clone(),
        subnet_id: s.subnet_id.clone(),
        min_count: 1,
        max_count: 1,
        instance_market_options: Some(crate::ec2::shapes::market::InstanceMarketOptionsRequest {
            market_type: Some("spot".into()),
            spot_options: Some(crate::ec2::shapes::market::SpotMarketOptions {
                max_price: Some(r.spot_price.clone()).filter(|p| !p.is_empty()),
                spot_instance_type: Some(r.r#type.clone()),
                valid_until: r.valid_until.clone(),
                instance_interruption_behavior: Some(r.instance_interruption_behavior.clone()),
            }),
        }),
        ..Default::default()
    })
}

/// Records that `inst`, launched now, fulfils the open request `request_id`: in the
/// launch's transaction, as [`record_launch`] does for a request the launch makes.
pub fn record_fulfilment(
    tx: &Connection,
    inst: &Instance,
    request_id: &str,
    zone: &str,
) -> Result<(), Ec2Error> {
    let json: String = tx.query_row(
        "SELECT request FROM spot_requests WHERE request_id = ?1",
        [request_id],
        |r| r.get(0),
    )?;
    let mut r: SpotInstanceRequest = serde_json::from_str(&json)
        .map_err(|e| Ec2Error::internal(format!("a spot request record: {e}")))?;
    r.state = "active".into();
    r.status = status("fulfilled", "Your spot request is fulfilled.");
    r.instance_id = Some(inst.instance_id.clone());
    r.launched_availability_zone = Some(zone.into());
    save(tx, &r)?;
    tx.execute(
        "UPDATE spot_requests SET notice_ms = NULL, action_ms = NULL, rebalance_ms = NULL,
                launched = json_insert(launched, '$[#]', ?2)
         WHERE request_id = ?1",
        params![request_id, inst.instance_id],
    )?;
    Ok(())
}

/// The spot request that launched `instance_id`, whether or not it is still the request's
/// current instance (a persistent request moves on to the instance it relaunches).
pub fn request_of(c: &Connection, instance_id: &str) -> Result<Option<String>, Ec2Error> {
    Ok(c.query_row(
        "SELECT request_id FROM spot_requests
         WHERE instance_id = ?1 OR EXISTS (SELECT 1 FROM json_each(launched) WHERE value = ?1)",
        [instance_id],
        |r| r.get(0),
    )
    .optional()?)
}
