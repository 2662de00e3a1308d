//! Core actions wired through today's `serde_json::Value` results, before their typed
//! shapes land (issue 11). Each is to be switched to `from_request::<…Request>` and the
//! typed service function; the handler signature stays.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{from_request, ApiCtx};
use crate::ec2::filters::Filter;
use crate::error::Ec2Error;
use crate::instances::{self, types};

#[derive(Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
struct DescribeInstancesRequest {
    instance_ids: Vec<String>,
    filters: Vec<Filter>,
}

/// `DescribeInstances`. To switch: `DescribeInstancesRequest` and the typed
/// `instances::describe_instances` (pagination comes with it).
pub fn describe_instances(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: DescribeInstancesRequest = from_request(req)?;
    let filters: Vec<instances::Filter> = req
        .filters
        .into_iter()
        .map(|f| instances::Filter {
            name: f.name,
            values: f.values,
        })
        .collect();
    instances::describe_instances(&mut ctx.store()?, &req.instance_ids, &filters)
}

#[derive(Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
struct DescribeInstanceTypesRequest {
    instance_types: Vec<String>,
}

/// `DescribeInstanceTypes`. To switch: `DescribeInstanceTypesRequest` and a typed service
/// function (today the listing lives in the CLI).
pub fn describe_instance_types(_ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: DescribeInstanceTypesRequest = from_request(req)?;
    let mut out = Vec::new();
    if req.instance_types.is_empty() {
        out.extend(types::TYPES.iter().map(|t| t.describe()));
    }
    for name in &req.instance_types {
        let t = types::find(name).ok_or_else(|| {
            Ec2Error::invalid_parameter(format!(
                "The following supplied instance types do not exist: [{name}]"
            ))
        })?;
        out.push(t.describe());
    }
    Ok(json!({ "InstanceTypes": out }))
}
