//! The dispatch table: an action name to its handler. A handler takes the request decoded
//! into a JSON object of the model's member names and gives back the result the same way;
//! the codec does the wire on both sides.
//!
//! Wiring a core action once its typed shapes exist is three lines in a handler:
//!
//! ```ignore
//! fn run_instances(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
//!     let req: RunInstancesRequest = from_request(req)?;
//!     let result = crate::instances::run_instances(&mut ctx.tidy_store()?, &req)?;
//!     to_result(&result)
//! }
//! ```
//!
//! and one line in [`ACTIONS`]. The service makes each change in one store transaction.

mod legacy;
mod region;

pub use region::regions;

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::Ec2Error;
use crate::store::Store;

/// What a handler knows of the request besides its parameters.
#[derive(Clone, Debug)]
pub struct ApiCtx {
    /// ec2lab's state directory.
    pub state_dir: PathBuf,
    /// The region the request was signed for: the state root it acts on.
    pub region: String,
    /// Every region this ec2lab has.
    pub regions: Vec<String>,
    /// The endpoint the client used (`host:port`), for `DescribeRegions`.
    pub endpoint: String,
}

impl ApiCtx {
    /// The request's region store, opened for this request.
    pub fn store(&self) -> Result<Store, Ec2Error> {
        Ok(Store::open(&self.state_dir, &self.region)?)
    }

    /// The store after housekeeping (expired records gone, supervisors and the host's
    /// network in step), as the CLI's verbs use it.
    pub fn tidy_store(&self) -> Result<Store, Ec2Error> {
        let mut store = self.store()?;
        crate::instances::housekeeping(&mut store)?;
        Ok(store)
    }
}

/// A handler: decoded request in, result out, both keyed by the model's member names.
pub type Handler = fn(&ApiCtx, Value) -> Result<Value, Ec2Error>;

/// Every action `ec2lab serve` answers, and its handler. Actions of the model that are not
/// here answer `InvalidAction` until their core function is wired.
pub const ACTIONS: &[(&str, Handler)] = &[
    ("DescribeRegions", region::describe_regions),
    (
        "DescribeAvailabilityZones",
        region::describe_availability_zones,
    ),
    (
        "DescribeAccountAttributes",
        region::describe_account_attributes,
    ),
    ("DescribeInstances", legacy::describe_instances),
    ("DescribeInstanceTypes", legacy::describe_instance_types),
];

/// The handler of `action`, if ec2lab serves it.
pub fn handler(action: &str) -> Option<Handler> {
    ACTIONS
        .iter()
        .find(|(name, _)| *name == action)
        .map(|(_, h)| *h)
}

/// The typed request from the decoded JSON: a shape `serde` refuses is EC2's
/// `InvalidParameterValue`.
pub fn from_request<T: DeserializeOwned>(req: Value) -> Result<T, Ec2Error> {
    serde_json::from_value(req).map_err(|e| Ec2Error::invalid_parameter(e.to_string()))
}

/// The JSON of a typed result.
pub fn to_result<T: Serialize>(result: &T) -> Result<Value, Ec2Error> {
    serde_json::to_value(result).map_err(|e| Ec2Error::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::model::Model;

    #[test]
    fn every_served_action_is_in_the_model() {
        let m = Model::get();
        for (name, _) in ACTIONS {
            assert!(m.operations.contains_key(*name), "{name}");
        }
    }
}
