//! EC2's spot actions: RequestSpotInstances, DescribeSpotInstanceRequests,
//! CancelSpotInstanceRequests, DescribeSpotPriceHistory; fulfilling stopped persistent
//! requests again (from housekeeping); and what DescribeInstances shows
//! of a spot instance (`InstanceLifecycle`, `SpotInstanceRequestId`).

use rusqlite::{params, Connection};

use super::spot::{self, status};
use super::spot_price::{price_at, region_prices};
use crate::clock::{iso_ms, now_ms, parse_ms};
use crate::ec2::filters::{self, Filterable};
use crate::ec2::shapes::instances::{self as shapes, RunInstancesRequest};
use crate::ec2::shapes::market::*;
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::ids;
use crate::store::Store;

/// Adds a spot instance's lifecycle and request to its described shape.
pub fn describe_into(c: &Connection, shape: &mut shapes::Instance) -> Result<(), Ec2Error> {
    if let Some(row) = spot::of_instance(c, &shape.instance_id)? {
        shape.instance_lifecycle = Some("spot".into());
        shape.spot_instance_request_id = Some(row.request.spot_instance_request_id);
    }
    Ok(())
}

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
    let made = match super::run_instances(store, &run) {
        Ok(reservation) => reservation
            .instances
            .iter()
            .map(|i| i.instance_id.clone())
            .collect::<Vec<_>>(),
        Err(e) if e.code == "InsufficientInstanceCapacity" || e.code == "SpotMaxPriceTooLow" => {
            return open_requests(store, req, spec, count, &tags, &e);
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
    spec: &RequestSpotLaunchSpecification,
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
                    image_id: spec.image_id.clone(),
                    instance_type: spec
                        .instance_type
                        .clone()
                        .unwrap_or_else(|| super::DEFAULT_INSTANCE_TYPE.into()),
                    key_name: spec.key_name.clone(),
                    subnet_id: spec.subnet_id.clone(),
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
                "INSERT INTO spot_requests (request_id, request, create_ms, tags)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    r.spot_instance_request_id,
                    json,
                    now,
                    tags::to_column(&r.tags)
                ],
            )?;
            out.push(r);
        }
        Ok(())
    })?;
    Ok(RequestSpotInstancesResult {
        spot_instance_requests: out,
    })
}

/// A spot request as the filters see it.
struct Listed(SpotInstanceRequest);

impl Filterable for Listed {
    const FILTERS: &'static [&'static str] = &[
        "spot-instance-request-id",
        "state",
        "status-code",
        "instance-id",
        "type",
        "launch.instance-type",
        "launch.image-id",
        "instance-interruption-behavior",
        "product-description",
        "spot-price",
    ];

    fn filter_values(&self, name: &str) -> Vec<String> {
        let r = &self.0;
        let one = |s: &str| vec![s.to_string()];
        match name {
            "spot-instance-request-id" => one(&r.spot_instance_request_id),
            "state" => one(&r.state),
            "status-code" => one(&r.status.code),
            "instance-id" => r.instance_id.iter().cloned().collect(),
            "type" => one(&r.r#type),
            "launch.instance-type" => one(&r.launch_specification.instance_type),
            "launch.image-id" => one(&r.launch_specification.image_id),
            "instance-interruption-behavior" => one(&r.instance_interruption_behavior),
            "product-description" => one(&r.product_description),
            "spot-price" => one(&r.spot_price),
            _ => Vec::new(),
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.0.tags
    }
}

fn check_ids(ids: &[String]) -> Result<(), Ec2Error> {
    for id in ids {
        let hex = id.strip_prefix("sir-").unwrap_or_default();
        if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Ec2Error::new(
                "InvalidSpotInstanceRequestID.Malformed",
                format!("Invalid id: \"{id}\" (expecting \"sir-...\")"),
            ));
        }
    }
    Ok(())
}

fn selected(c: &Connection, ids: &[String]) -> Result<Vec<SpotInstanceRequest>, Ec2Error> {
    check_ids(ids)?;
    let all: Vec<SpotInstanceRequest> = spot::all(c)?.into_iter().map(|r| r.request).collect();
    for id in ids {
        if !all.iter().any(|r| &r.spot_instance_request_id == id) {
            return Err(Ec2Error::new(
                "InvalidSpotInstanceRequestID.NotFound",
                format!("The spot instance request ID '{id}' does not exist"),
            ));
        }
    }
    Ok(all
        .into_iter()
        .filter(|r| ids.is_empty() || ids.contains(&r.spot_instance_request_id))
        .collect())
}

/// `DescribeSpotInstanceRequests`.
pub fn describe_spot_instance_requests(
    store: &Store,
    req: &DescribeSpotInstanceRequestsRequest,
) -> Result<DescribeSpotInstanceRequestsResult, Ec2Error> {
    let rows = selected(store.conn(), &req.spot_instance_request_ids)?
        .into_iter()
        .map(Listed)
        .collect();
    Ok(DescribeSpotInstanceRequestsResult {
        spot_instance_requests: filters::retain(rows, &req.filters)?
            .into_iter()
            .map(|l| l.0)
            .collect(),
    })
}

/// `CancelSpotInstanceRequests`: the requests are cancelled; their instances keep running,
/// as on EC2 (terminate them yourself).
pub fn cancel_spot_instance_requests(
    store: &mut Store,
    req: &CancelSpotInstanceRequestsRequest,
) -> Result<CancelSpotInstanceRequestsResult, Ec2Error> {
    if req.spot_instance_request_ids.is_empty() {
        return Err(Ec2Error::missing_parameter("SpotInstanceRequestId"));
    }
    let wanted = selected(store.conn(), &req.spot_instance_request_ids)?;
    let mut out = Vec::new();
    store.write(|tx| -> Result<(), Ec2Error> {
        for mut r in wanted {
            if matches!(r.state.as_str(), "open" | "active" | "disabled") {
                let running = match &r.instance_id {
                    Some(id) => super::record::Instance::get(tx, id)?.state.has_vmm(),
                    None => false,
                };
                r.state = "cancelled".into();
                r.status = if running {
                    status(
                        "request-canceled-and-instance-running",
                        "Spot Instance request is canceled by user, but the instance is still running.",
                    )
                } else {
                    status(
                        "canceled-before-fulfillment",
                        "Your Spot request was canceled before it was fulfilled.",
                    )
                };
                spot::save(tx, &r)?;
            }
            out.push(CancelledSpotInstanceRequest {
                spot_instance_request_id: r.spot_instance_request_id.clone(),
                state: r.state.clone(),
            });
        }
        Ok(())
    })?;
    Ok(CancelSpotInstanceRequestsResult {
        cancelled_spot_instance_requests: out,
    })
}

/// `DescribeSpotPriceHistory`: each type's price changes in the period (and the price in
/// effect at its start), newest first.
pub fn describe_spot_price_history(
    store: &mut Store,
    req: &DescribeSpotPriceHistoryRequest,
) -> Result<DescribeSpotPriceHistoryResult, Ec2Error> {
    let time = |t: &Option<String>, what: &str| -> Result<Option<i64>, Ec2Error> {
        t.as_deref()
            .map(|t| {
                parse_ms(t).ok_or_else(|| {
                    Ec2Error::invalid_parameter(format!("Invalid value '{t}' for {what}"))
                })
            })
            .transpose()
    };
    let start = time(&req.start_time, "StartTime")?;
    let end = time(&req.end_time, "EndTime")?.unwrap_or(i64::MAX);
    if start.is_some_and(|s| s > end) {
        return Err(Ec2Error::invalid_parameter(
            "The StartTime must be before the EndTime",
        ));
    }
    for t in &req.instance_types {
        if super::types::find(t).is_none() {
            return Err(Ec2Error::invalid_parameter(format!(
                "Invalid value '{t}' for InstanceType; see describe-instance-types"
            )));
        }
    }
    super::spot_price::record_prices(store)?;
    let zone = format!("{}a", store.region());
    let zone_ok = req.availability_zone.as_deref().is_none_or(|z| z == zone);
    let product_ok = req.product_descriptions.is_empty()
        || req
            .product_descriptions
            .iter()
            .any(|p| p == "Linux/UNIX" || p == "Linux/UNIX (Amazon VPC)");
    let mut out = Vec::new();
    if zone_ok && product_ok {
        for (ty, points) in crate::billing::spot_history(store.conn())? {
            if !req.instance_types.is_empty() && !req.instance_types.contains(&ty) {
                continue;
            }
            // The price in effect at the start, then every change up to the end.
            let first = start.map_or(0, |s| points.iter().rposition(|p| p.0 <= s).unwrap_or(0));
            for &(ts, price) in points[first..].iter().filter(|p| p.0 <= end) {
                out.push(SpotPrice {
                    availability_zone: zone.clone(),
                    instance_type: ty.clone(),
                    product_description: "Linux/UNIX".into(),
                    spot_price: format!("{price:.6}"),
                    timestamp: iso_ms(ts),
                });
            }
        }
    }
    out.sort_by(|a, b| {
        b.timestamp
            .cmp(&a.timestamp)
            .then(a.instance_type.cmp(&b.instance_type))
    });
    if let Some(n) = req.max_results {
        out.truncate(n.max(0) as usize);
    }
    Ok(DescribeSpotPriceHistoryResult {
        spot_price_history: out,
    })
}

/// Persistent requests whose instance an interruption stopped (`disabled`) are fulfilled
/// again once the host has the memory and the price is within their maximum, as EC2 does:
/// the instance starts. Run by housekeeping, before every command and API request.
pub fn fulfil(store: &mut Store) -> Result<(), Ec2Error> {
    for mut row in spot::disabled(store.conn())? {
        let Some(id) = row.request.instance_id.clone() else {
            continue;
        };
        let inst = super::record::Instance::get(store.conn(), &id)?;
        let Some(ty) = super::types::find(&inst.instance_type) else {
            continue;
        };
        if inst.state != super::State::Stopped {
            continue;
        }
        let (budget, used) = super::capacity::capacity(store)?;
        if used + ty.mem_mib > budget {
            continue;
        }
        let after = ((used + ty.mem_mib) as f64 / budget.max(1) as f64).clamp(0.0, 1.0);
        let max: f64 = row.request.spot_price.parse().unwrap_or(f64::MAX);
        if price_at(&region_prices(store)?, ty.name, after)? > max {
            continue;
        }
        row.request.state = "active".into();
        row.request.status = status("fulfilled", "Your spot request is fulfilled.");
        store.write(|tx| -> Result<(), Ec2Error> {
            spot::save(tx, &row.request)?;
            tx.execute(
                "UPDATE spot_requests SET notice_ms = NULL, action_ms = NULL, rebalance_ms = NULL
                 WHERE request_id = ?1",
                [&row.request.spot_instance_request_id],
            )?;
            Ok(())
        })?;
        super::start_instances(
            store,
            &crate::ec2::shapes::instances::StartInstancesRequest {
                instance_ids: vec![id],
            },
        )?;
    }
    Ok(())
}
