//! Regions, zones and account attributes: answered from the state directory itself, no
//! core change needed. ec2lab's regions are its state roots; each has one zone.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{from_request, to_result, ApiCtx};
use crate::ec2::filters::{self, Filter, Filterable};
use crate::ec2::tags::Tag;
use crate::error::Ec2Error;

/// The regions of a state directory: every root that has a store, plus `default` (the
/// region `ec2lab serve` was started for, made on its first use).
pub fn regions(state_dir: &std::path::Path, default: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(state_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("ec2lab.db").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    if !out.iter().any(|r| r == default) {
        out.push(default.to_string());
    }
    out.sort();
    out
}

/// A region's one availability zone: the name `net::vpc::ensure_default` gives the
/// default subnet and `storage::volumes` accepts.
pub fn zone_of(region: &str) -> String {
    format!("{region}a")
}

#[derive(Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
struct DescribeRegionsRequest {
    region_names: Vec<String>,
    /// Every region is enabled here: the answer is the same either way.
    #[serde(skip_serializing_if = "Option::is_none")]
    all_regions: Option<bool>,
    filters: Vec<Filter>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Region {
    region_name: String,
    endpoint: String,
    opt_in_status: &'static str,
}

impl Filterable for Region {
    const FILTERS: &'static [&'static str] = &["region-name", "endpoint", "opt-in-status"];
    fn filter_values(&self, name: &str) -> Vec<String> {
        vec![match name {
            "region-name" => self.region_name.clone(),
            "endpoint" => self.endpoint.clone(),
            _ => self.opt_in_status.to_string(),
        }]
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

/// `DescribeRegions`: the state roots, each at this server's endpoint.
pub fn describe_regions(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: DescribeRegionsRequest = from_request(req)?;
    for r in &req.region_names {
        if !ctx.regions.contains(r) {
            return Err(Ec2Error::invalid_parameter(format!("Invalid region: {r}")));
        }
    }
    let all = ctx
        .regions
        .iter()
        .filter(|r| req.region_names.is_empty() || req.region_names.contains(r))
        .map(|r| Region {
            region_name: r.clone(),
            endpoint: ctx.endpoint.clone(),
            opt_in_status: "opt-in-not-required",
        })
        .collect();
    let regions = filters::retain(all, &req.filters)?;
    to_result(&serde_json::json!({ "Regions": regions }))
}

#[derive(Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
struct DescribeAvailabilityZonesRequest {
    zone_names: Vec<String>,
    zone_ids: Vec<String>,
    filters: Vec<Filter>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AvailabilityZone {
    opt_in_status: &'static str,
    region_name: String,
    zone_name: String,
    zone_id: String,
    group_name: String,
    network_border_group: String,
    zone_type: &'static str,
    state: &'static str,
}

impl Filterable for AvailabilityZone {
    const FILTERS: &'static [&'static str] = &[
        "zone-name",
        "zone-id",
        "region-name",
        "state",
        "zone-type",
        "group-name",
        "opt-in-status",
    ];
    fn filter_values(&self, name: &str) -> Vec<String> {
        vec![match name {
            "zone-name" => self.zone_name.clone(),
            "zone-id" => self.zone_id.clone(),
            "region-name" => self.region_name.clone(),
            "state" => self.state.to_string(),
            "zone-type" => self.zone_type.to_string(),
            "group-name" => self.group_name.clone(),
            _ => self.opt_in_status.to_string(),
        }]
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

/// `DescribeAvailabilityZones`: the request region's one zone.
pub fn describe_availability_zones(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: DescribeAvailabilityZonesRequest = from_request(req)?;
    let zone = AvailabilityZone {
        opt_in_status: "opt-in-not-required",
        region_name: ctx.region.clone(),
        zone_name: zone_of(&ctx.region),
        zone_id: format!("{}-az1", ctx.region),
        group_name: ctx.region.clone(),
        network_border_group: ctx.region.clone(),
        zone_type: "availability-zone",
        state: "available",
    };
    for z in &req.zone_names {
        if *z != zone.zone_name {
            return Err(Ec2Error::invalid_parameter(format!(
                "Invalid availability zone: [{z}]"
            )));
        }
    }
    for z in &req.zone_ids {
        if *z != zone.zone_id {
            return Err(Ec2Error::invalid_parameter(format!(
                "Invalid availability zone: [{z}]"
            )));
        }
    }
    let zones = filters::retain(vec![zone], &req.filters)?;
    to_result(&serde_json::json!({ "AvailabilityZones": zones }))
}

#[derive(Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
struct DescribeAccountAttributesRequest {
    attribute_names: Vec<String>,
}

/// `DescribeAccountAttributes`: the platform (VPC only) and the region's default VPC.
pub fn describe_account_attributes(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: DescribeAccountAttributesRequest = from_request(req)?;
    let mut store = ctx.store()?;
    crate::net::vpc::ensure_default(&mut store)?;
    let default_vpc = crate::net::vpc::Subnet::default(store.conn())?.vpc_id;
    let all = [
        ("supported-platforms", "VPC".to_string()),
        ("default-vpc", default_vpc),
    ];
    for name in &req.attribute_names {
        if !all.iter().any(|(n, _)| n == name) {
            return Err(Ec2Error::invalid_parameter(format!(
                "Invalid attribute name: {name}; ec2lab has {}",
                all.map(|(n, _)| n).join(", ")
            )));
        }
    }
    let attrs: Vec<Value> = all
        .iter()
        .filter(|(n, _)| req.attribute_names.is_empty() || req.attribute_names.iter().any(|a| a == n))
        .map(|(n, v)| {
            serde_json::json!({"AttributeName": n, "AttributeValues": [{"AttributeValue": v}]})
        })
        .collect();
    to_result(&serde_json::json!({ "AccountAttributes": attrs }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(dir: &std::path::Path) -> ApiCtx {
        ApiCtx {
            state_dir: dir.into(),
            region: "lab-1".into(),
            regions: vec!["lab-1".into(), "lab-2".into()],
            endpoint: "127.0.0.1:8773".into(),
        }
    }

    #[test]
    fn regions_are_state_roots() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lab-2")).unwrap();
        std::fs::write(dir.path().join("lab-2/ec2lab.db"), "").unwrap();
        std::fs::create_dir_all(dir.path().join("not-a-region")).unwrap();
        assert_eq!(regions(dir.path(), "lab-1"), ["lab-1", "lab-2"]);

        let c = ctx(dir.path());
        let v = describe_regions(&c, json!({})).unwrap();
        assert_eq!(v["Regions"].as_array().unwrap().len(), 2);
        let v = describe_regions(
            &c,
            json!({"Filters": [{"Name": "region-name", "Values": ["*-2"]}]}),
        )
        .unwrap();
        assert_eq!(v["Regions"][0]["RegionName"], "lab-2");
        let e = describe_regions(&c, json!({"RegionNames": ["us-east-1"]})).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
    }

    #[test]
    fn one_zone_per_region() {
        let dir = tempfile::tempdir().unwrap();
        let c = ctx(dir.path());
        let v = describe_availability_zones(&c, json!({})).unwrap();
        assert_eq!(v["AvailabilityZones"][0]["ZoneName"], "lab-1a");
        assert_eq!(v["AvailabilityZones"][0]["State"], "available");
        let e = describe_availability_zones(&c, json!({"ZoneNames": ["lab-1b"]})).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
    }
}
