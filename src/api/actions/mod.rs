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

mod describe;
mod groups;
mod images;
mod instances;
mod keys;
mod region;

/// A handler that decodes `$req`, calls the service with the tidied store (housekeeping
/// first, as every CLI verb) and the request, and encodes what it returns (`()` for the
/// actions that answer `<return>true</return>`).
macro_rules! action {
    ($(#[$doc:meta])* $name:ident, $req:ty, |$store:ident, $r:ident| $call:expr) => {
        $(#[$doc])*
        pub fn $name(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
            let $r: $req = from_request(req)?;
            #[allow(unused_mut)]
            let mut $store = ctx.tidy_store()?;
            to_result(&$call)
        }
    };
}

// Tags on every resource, and the VPC and EBS actions.
mod ebs;
mod launch_templates;
mod market;
mod tags;
mod vpcs;

pub use region::regions;

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::ec2::members;
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
    ("DescribeInstances", describe::describe_instances),
    ("DescribeInstanceTypes", describe::describe_instance_types),
    ("DescribeImages", describe::describe_images),
    ("DescribeKeyPairs", describe::describe_key_pairs),
    ("DescribeVolumes", describe::describe_volumes),
    ("DescribeSnapshots", describe::describe_snapshots),
    ("DescribeVpcs", describe::describe_vpcs),
    ("DescribeSubnets", describe::describe_subnets),
    ("DescribeSecurityGroups", describe::describe_security_groups),
    (
        "DescribeNetworkInterfaces",
        describe::describe_network_interfaces,
    ),
    ("DescribeAddresses", describe::describe_addresses),
    // Tags on every resource.
    ("CreateTags", tags::create_tags),
    ("DeleteTags", tags::delete_tags),
    ("DescribeTags", tags::describe_tags),
    // VPCs, subnets, network interfaces, Elastic IPs.
    ("CreateVpc", vpcs::create_vpc),
    ("DeleteVpc", vpcs::delete_vpc),
    ("CreateSubnet", vpcs::create_subnet),
    ("DeleteSubnet", vpcs::delete_subnet),
    ("CreateNetworkInterface", vpcs::create_network_interface),
    ("DeleteNetworkInterface", vpcs::delete_network_interface),
    ("AttachNetworkInterface", vpcs::attach_network_interface),
    ("DetachNetworkInterface", vpcs::detach_network_interface),
    (
        "ModifyNetworkInterfaceAttribute",
        vpcs::modify_network_interface_attribute,
    ),
    ("AllocateAddress", vpcs::allocate_address),
    ("AssociateAddress", vpcs::associate_address),
    ("DisassociateAddress", vpcs::disassociate_address),
    ("ReleaseAddress", vpcs::release_address),
    // EBS volumes and snapshots.
    ("CreateVolume", ebs::create_volume),
    ("DeleteVolume", ebs::delete_volume),
    ("ModifyVolume", ebs::modify_volume),
    ("AttachVolume", ebs::attach_volume),
    ("DetachVolume", ebs::detach_volume),
    ("CreateSnapshot", ebs::create_snapshot),
    ("DeleteSnapshot", ebs::delete_snapshot),
    // Instances, images, key pairs and security groups.
    ("RunInstances", instances::run_instances),
    ("StartInstances", instances::start_instances),
    ("StopInstances", instances::stop_instances),
    ("RebootInstances", instances::reboot_instances),
    ("TerminateInstances", instances::terminate_instances),
    ("GetConsoleOutput", instances::get_console_output),
    ("MonitorInstances", instances::monitor_instances),
    ("UnmonitorInstances", instances::unmonitor_instances),
    (
        "ModifyInstanceMetadataOptions",
        instances::modify_instance_metadata_options,
    ),
    (
        "ModifyInstanceMaintenanceOptions",
        instances::modify_instance_maintenance_options,
    ),
    (
        "DescribeInstanceStatus",
        instances::describe_instance_status,
    ),
    (
        "DescribeInstanceAttribute",
        instances::describe_instance_attribute,
    ),
    (
        "ModifyInstanceAttribute",
        instances::modify_instance_attribute,
    ),
    ("CreateImage", images::create_image),
    ("CopyImage", images::copy_image),
    ("DeregisterImage", images::deregister_image),
    ("RegisterImage", images::register_image),
    ("CreateKeyPair", keys::create_key_pair),
    ("ImportKeyPair", keys::import_key_pair),
    ("DeleteKeyPair", keys::delete_key_pair),
    ("CreateSecurityGroup", groups::create_security_group),
    ("DeleteSecurityGroup", groups::delete_security_group),
    ("AuthorizeSecurityGroupIngress", groups::authorize_ingress),
    ("AuthorizeSecurityGroupEgress", groups::authorize_egress),
    ("RevokeSecurityGroupIngress", groups::revoke_ingress),
    ("RevokeSecurityGroupEgress", groups::revoke_egress),
    // Purchase options: spot instances and Reserved Instances.
    ("RequestSpotInstances", market::request_spot_instances),
    (
        "DescribeSpotInstanceRequests",
        market::describe_spot_instance_requests,
    ),
    (
        "CancelSpotInstanceRequests",
        market::cancel_spot_instance_requests,
    ),
    (
        "DescribeSpotPriceHistory",
        market::describe_spot_price_history,
    ),
    (
        "DescribeReservedInstancesOfferings",
        market::describe_reserved_instances_offerings,
    ),
    (
        "PurchaseReservedInstancesOffering",
        market::purchase_reserved_instances_offering,
    ),
    (
        "DescribeReservedInstances",
        market::describe_reserved_instances,
    ),
    // Launch templates.
    (
        "CreateLaunchTemplate",
        launch_templates::create_launch_template,
    ),
    (
        "CreateLaunchTemplateVersion",
        launch_templates::create_launch_template_version,
    ),
    (
        "DescribeLaunchTemplates",
        launch_templates::describe_launch_templates,
    ),
    (
        "DescribeLaunchTemplateVersions",
        launch_templates::describe_launch_template_versions,
    ),
    (
        "ModifyLaunchTemplate",
        launch_templates::modify_launch_template,
    ),
    (
        "DeleteLaunchTemplate",
        launch_templates::delete_launch_template,
    ),
];

/// The handler of `action`, if ec2lab serves it.
pub fn handler(action: &str) -> Option<Handler> {
    ACTIONS
        .iter()
        .find(|(name, _)| *name == action)
        .map(|(_, h)| *h)
}

/// Members a request may carry that ec2lab takes and has no use for: `DryRun` (answered
/// before the handler) and idempotency tokens (botocore sends one with every
/// `RunInstances`).
const IGNORED: &[&str] = &["DryRun", "ClientToken"];

/// The typed request from the decoded JSON: [`members::decode`] with the members every
/// request may carry and ec2lab ignores.
pub fn from_request<T: DeserializeOwned + Serialize>(req: Value) -> Result<T, Ec2Error> {
    members::decode(req, "", IGNORED)
}

/// The JSON of a typed result.
pub fn to_result<T: Serialize>(result: &T) -> Result<Value, Ec2Error> {
    serde_json::to_value(result).map_err(|e| Ec2Error::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::model::Model;

    #[derive(Default, serde::Deserialize, Serialize)]
    #[serde(rename_all = "PascalCase", default)]
    struct Req {
        names: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        inner: Option<Inner>,
    }

    #[derive(Default, serde::Deserialize, Serialize)]
    #[serde(rename_all = "PascalCase", default)]
    struct Inner {
        size: i64,
    }

    #[test]
    fn members_the_shape_lacks_are_unsupported() {
        use serde_json::json;
        let ok: Req =
            from_request(json!({"Names": ["a"], "DryRun": false, "ClientToken": "t"})).unwrap();
        assert_eq!(ok.names, ["a"]);
        let e = from_request::<Req>(json!({"Names": ["a"], "Ipv6AddressCount": 1}))
            .err()
            .unwrap();
        assert_eq!(e.code, "Unsupported");
        assert_eq!(
            e.message,
            "The parameter Ipv6AddressCount is not supported by ec2lab"
        );
        let _: Req = from_request(json!({"Inner": {"Size": 1, "Encrypted": false}})).unwrap();
        let e = from_request::<Req>(json!({"Inner": {"Size": 1, "Encrypted": true}}))
            .err()
            .unwrap();
        assert!(e.message.contains("Inner.Encrypted"), "{e}");
        let e = from_request::<Req>(json!({"Names": "not-a-list"}))
            .err()
            .unwrap();
        assert_eq!(e.code, "InvalidParameterValue");
    }

    #[test]
    fn every_served_action_is_in_the_model() {
        let m = Model::get();
        for (name, _) in ACTIONS {
            assert!(m.operations.contains_key(*name), "{name}");
        }
    }
}
