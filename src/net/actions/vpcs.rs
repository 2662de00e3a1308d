//! The VPC and subnet actions as every front end calls them: CreateVpc, DescribeVpcs,
//! DeleteVpc, CreateSubnet, DescribeSubnets and DeleteSubnet. Every change is one
//! transaction of the records ([`vpc`]), then the host's network is brought in step
//! ([`net::sync`]), whichever front end asked.

use crate::ec2::filters;
use crate::ec2::pages::{self, Limits, PageRequest};
use crate::ec2::shapes::network::{
    CreateSubnetRequest, CreateSubnetResult, CreateVpcRequest, CreateVpcResult,
    DeleteSubnetRequest, DeleteVpcRequest, DescribeSubnetsRequest, DescribeSubnetsResult,
    DescribeVpcsRequest, DescribeVpcsResult,
};
use crate::ec2::tags;
use crate::error::Ec2Error;
use crate::net::vpc::{self, Subnet, Vpc};
use crate::net::{self, host};
use crate::store::Store;

/// EC2's bounds on DescribeVpcs' and DescribeSubnets' `MaxResults`.
const PAGE_LIMITS: Limits = Limits::between(5, 1000);

/// DescribeVpcs: the named VPCs (each must exist) or all, through the filters.
pub fn describe_vpcs(
    store: &Store,
    req: &DescribeVpcsRequest,
) -> Result<DescribeVpcsResult, Ec2Error> {
    let c = store.conn();
    for id in &req.vpc_ids {
        Vpc::get(c, id)?;
    }
    let named = Vpc::all(c)?
        .iter()
        .filter(|v| req.vpc_ids.is_empty() || req.vpc_ids.contains(&v.vpc_id))
        .map(Vpc::to_shape)
        .collect();
    let (vpcs, next_token) = pages::page(
        "DescribeVpcs",
        filters::retain(named, &req.filters)?,
        |v| v.vpc_id.clone(),
        PageRequest::new(req.max_results, &req.next_token),
        PAGE_LIMITS,
    )?;
    Ok(DescribeVpcsResult { vpcs, next_token })
}

/// DescribeSubnets: the named subnets (each must exist) or all, through the filters.
pub fn describe_subnets(
    store: &Store,
    req: &DescribeSubnetsRequest,
) -> Result<DescribeSubnetsResult, Ec2Error> {
    let c = store.conn();
    for id in &req.subnet_ids {
        Subnet::get(c, id)?;
    }
    let named = Subnet::all(c)?
        .iter()
        .filter(|s| req.subnet_ids.is_empty() || req.subnet_ids.contains(&s.subnet_id))
        .map(Subnet::to_shape)
        .collect();
    let (subnets, next_token) = pages::page(
        "DescribeSubnets",
        filters::retain(named, &req.filters)?,
        // The order of `Subnet::all`: by VPC, then range (as text).
        |s| pages::key(&[&s.vpc_id, &s.cidr_block, &s.subnet_id]),
        PageRequest::new(req.max_results, &req.next_token),
        PAGE_LIMITS,
    )?;
    Ok(DescribeSubnetsResult {
        subnets,
        next_token,
    })
}

/// CreateVpc, with its tags and its group "default", in one transaction; then the host's
/// network follows.
pub fn create_vpc(store: &mut Store, req: &CreateVpcRequest) -> Result<CreateVpcResult, Ec2Error> {
    let tags = tags::for_resource(&req.tag_specifications, &["vpc"], "vpc")?;
    let vpc = store.write(|tx| vpc::insert_vpc(tx, &req.cidr_block, false, &tags))?;
    net::sync(store)?;
    Ok(CreateVpcResult {
        vpc: vpc.to_shape(),
    })
}

/// CreateSubnet, with its tags, in one transaction, in the region's zone unless the request
/// names one; then the host's network follows.
pub fn create_subnet(
    store: &mut Store,
    req: &CreateSubnetRequest,
) -> Result<CreateSubnetResult, Ec2Error> {
    let tags = tags::for_resource(&req.tag_specifications, &["subnet"], "subnet")?;
    Ec2Error::check_id(&req.vpc_id, "vpc", "Vpc")?;
    let az = match &req.availability_zone {
        Some(az) => az.clone(),
        None => format!("{}a", store.region()),
    };
    let subnet = store
        .write(|tx| vpc::insert_subnet(tx, &req.vpc_id, &req.cidr_block, &az, false, &tags))?;
    net::sync(store)?;
    Ok(CreateSubnetResult {
        subnet: subnet.to_shape(),
    })
}

/// DeleteSubnet: a subnet without network interfaces goes; then the host's network
/// follows.
pub fn delete_subnet(store: &mut Store, req: &DeleteSubnetRequest) -> Result<(), Ec2Error> {
    Ec2Error::check_id(&req.subnet_id, "subnet", "Subnet")?;
    store.write(|tx| vpc::remove_subnet(tx, &req.subnet_id))?;
    net::sync(store)
}

/// DeleteVpc: a VPC without subnets goes, with its groups; its bridge is taken down and
/// the host's network follows.
pub fn delete_vpc(store: &mut Store, req: &DeleteVpcRequest) -> Result<(), Ec2Error> {
    Ec2Error::check_id(&req.vpc_id, "vpc", "Vpc")?;
    let vpc = store.write(|tx| {
        let vpc = Vpc::get(tx, &req.vpc_id)?;
        vpc::remove_vpc(tx, &req.vpc_id)?;
        Ok::<_, Ec2Error>(vpc)
    })?;
    host::delete_link(&vpc.bridge);
    net::sync(store)
}
