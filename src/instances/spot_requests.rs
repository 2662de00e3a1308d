//! EC2's spot actions that launch nothing: DescribeSpotInstanceRequests,
//! CancelSpotInstanceRequests, DescribeSpotPriceHistory; and what DescribeInstances shows
//! of a spot instance (`InstanceLifecycle`, `SpotInstanceRequestId`). The ones that launch
//! (RequestSpotInstances, fulfilling open requests) are in `spot_launch`, above `run`.

use rusqlite::Connection;

use super::spot::{self, status};
use crate::clock::{iso_ms, parse_ms};
use crate::ec2::filters::{self, Filterable};
use crate::ec2::shapes::instances as shapes;
use crate::ec2::shapes::market::*;
use crate::ec2::tags::Tag;
use crate::error::Ec2Error;
use crate::store::Store;

/// Adds a spot instance's lifecycle and request to its described shape.
pub fn describe_into(c: &Connection, shape: &mut shapes::Instance) -> Result<(), Ec2Error> {
    if let Some(request_id) = super::spot_rows::request_of(c, &shape.instance_id)? {
        shape.instance_lifecycle = Some("spot".into());
        shape.spot_instance_request_id = Some(request_id);
    }
    Ok(())
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
