//! The describe actions: each decodes its typed request, asks the service the CLI asks, and
//! returns the typed result. They change nothing but housekeeping (as every CLI verb does).

use serde_json::Value;

use super::{from_request, to_result, ApiCtx};
use crate::error::Ec2Error;

/// A handler that decodes `$req`, calls `$service` with the tidied store and the request,
/// and encodes the result.
macro_rules! describe {
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

use crate::ec2::shapes::{images, instances, keys, network, storage};

/// `DescribeInstances`. The service runs housekeeping itself (as the CLI's verb relies
/// on), so the store is opened without it: once per request, not twice.
pub fn describe_instances(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let r: instances::DescribeInstancesRequest = from_request(req)?;
    to_result(&crate::instances::describe_instances(
        &mut ctx.store()?,
        &r,
    )?)
}
describe!(
    /// `DescribeInstanceTypes`.
    describe_instance_types, instances::DescribeInstanceTypesRequest,
    |_s, r| crate::instances::types::describe_instance_types(&r)?
);
describe!(
    /// `DescribeImages`.
    describe_images, images::DescribeImagesRequest,
    |s, r| crate::images::describe_images(&mut s, &r)?
);
describe!(
    /// `DescribeKeyPairs`.
    describe_key_pairs, keys::DescribeKeyPairsRequest,
    |s, r| crate::keypairs::describe_key_pairs(&s, &r)?
);
describe!(
    /// `DescribeVolumes`.
    describe_volumes, storage::DescribeVolumesRequest,
    |s, r| crate::storage::ebs::describe_volumes(&s, &r)?
);
describe!(
    /// `DescribeSnapshots`.
    describe_snapshots, storage::DescribeSnapshotsRequest,
    |s, r| crate::storage::ebs::describe_snapshots(&s, &r)?
);
describe!(
    /// `DescribeVpcs`.
    describe_vpcs, network::DescribeVpcsRequest,
    |s, r| crate::net::actions::vpcs::describe_vpcs(&s, &r)?
);
describe!(
    /// `DescribeSubnets`.
    describe_subnets, network::DescribeSubnetsRequest,
    |s, r| crate::net::actions::vpcs::describe_subnets(&s, &r)?
);
describe!(
    /// `DescribeSecurityGroups`.
    describe_security_groups, network::DescribeSecurityGroupsRequest,
    |s, r| crate::net::actions::groups::describe_security_groups(&mut s, &r)?
);
describe!(
    /// `DescribeNetworkInterfaces`.
    describe_network_interfaces, network::DescribeNetworkInterfacesRequest,
    |s, r| crate::net::actions::interfaces::describe_network_interfaces(&s, &r)?
);
describe!(
    /// `DescribeAddresses`.
    describe_addresses, network::DescribeAddressesRequest,
    |s, r| crate::net::actions::addresses::describe_addresses(&s, &r)?
);
