//! The Elastic IP actions as every front end calls them: AllocateAddress,
//! AssociateAddress, DisassociateAddress, ReleaseAddress and DescribeAddresses. A change
//! of an association is one transaction of the records ([`addresses`]), then the host's
//! NAT rules follow ([`net::sync`]).

use crate::ec2::filters;
use crate::ec2::shapes::network::{
    AllocateAddressRequest, AllocateAddressResult, AssociateAddressRequest, AssociateAddressResult,
    DescribeAddressesRequest, DescribeAddressesResult, DisassociateAddressRequest,
    ReleaseAddressRequest,
};
use crate::ec2::tags;
use crate::error::Ec2Error;
use crate::net;
use crate::net::addresses::{self, Address};
use crate::store::Store;

/// DescribeAddresses: the named addresses (each must exist) or all, through the filters.
pub fn describe_addresses(
    store: &Store,
    req: &DescribeAddressesRequest,
) -> Result<DescribeAddressesResult, Ec2Error> {
    let c = store.conn();
    let all = Address::all(c)?;
    for id in &req.allocation_ids {
        Address::get(c, id)?;
    }
    for ip in &req.public_ips {
        if !all.iter().any(|a| a.public_ip.to_string() == *ip) {
            return Err(Ec2Error::new(
                "InvalidAddress.NotFound",
                format!("Address '{ip}' not found; describe-addresses lists the account's"),
            ));
        }
    }
    let named = all
        .iter()
        .filter(|a| req.allocation_ids.is_empty() || req.allocation_ids.contains(&a.allocation_id))
        .filter(|a| req.public_ips.is_empty() || req.public_ips.contains(&a.public_ip.to_string()))
        .map(|a| a.to_shape(c))
        .collect();
    Ok(DescribeAddressesResult {
        addresses: filters::retain(named, &req.filters)?,
    })
}

/// AllocateAddress, with its tags, in one transaction.
pub fn allocate_address(
    store: &mut Store,
    req: &AllocateAddressRequest,
) -> Result<AllocateAddressResult, Ec2Error> {
    if let Some(d) = req.domain.as_deref().filter(|d| *d != "vpc") {
        return Err(Ec2Error::invalid_parameter(format!(
            "Value ({d}) for parameter domain is invalid: the only domain is vpc"
        )));
    }
    let tags = tags::for_resource(&req.tag_specifications, &["elastic-ip"], "elastic-ip")?;
    let a = store.write(|tx| addresses::allocate(tx, &tags))?;
    Ok(AllocateAddressResult {
        allocation_id: a.allocation_id,
        public_ip: a.public_ip.to_string(),
        domain: "vpc".into(),
        public_ipv4_pool: "amazon".into(),
    })
}

/// AssociateAddress, in one transaction; then the host's network follows.
pub fn associate_address(
    store: &mut Store,
    req: &AssociateAddressRequest,
) -> Result<AssociateAddressResult, Ec2Error> {
    if req.allocation_id.is_empty() {
        return Err(Ec2Error::missing_parameter("AllocationId"));
    }
    if req.instance_id.is_empty() {
        return Err(Ec2Error::missing_parameter("InstanceId"));
    }
    let association_id =
        store.write(|tx| addresses::associate(tx, &req.allocation_id, &req.instance_id))?;
    net::sync(store)?;
    Ok(AssociateAddressResult { association_id })
}

/// DisassociateAddress, in one transaction; then the host's network follows.
pub fn disassociate_address(
    store: &mut Store,
    req: &DisassociateAddressRequest,
) -> Result<(), Ec2Error> {
    store.write(|tx| addresses::disassociate(tx, &req.association_id))?;
    net::sync(store)
}

/// ReleaseAddress, in one transaction.
pub fn release_address(store: &mut Store, req: &ReleaseAddressRequest) -> Result<(), Ec2Error> {
    store.write(|tx| addresses::release(tx, &req.allocation_id))
}
