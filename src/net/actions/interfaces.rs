//! The network-interface actions of the interface itself: CreateNetworkInterface and
//! DescribeNetworkInterfaces. A change is one transaction of the records ([`eni`]), then
//! the host's network follows ([`net::sync`]). The actions that also touch an instance
//! (attach, detach, delete, modify) are the instances' (`instances::network`).

use crate::ec2::filters;
use crate::ec2::pages::{self, Limits, PageRequest};
use crate::ec2::shapes::network::{
    CreateNetworkInterfaceRequest, CreateNetworkInterfaceResult, DescribeNetworkInterfacesRequest,
    DescribeNetworkInterfacesResult,
};
use crate::ec2::tags;
use crate::error::Ec2Error;
use crate::net;
use crate::net::eni::{self, Eni, NewEni};
use crate::net::groups;
use crate::net::vpc::Subnet;
use crate::store::Store;

/// DescribeNetworkInterfaces: the named interfaces (each must exist) or all, through the
/// filters.
pub fn describe_network_interfaces(
    store: &Store,
    req: &DescribeNetworkInterfacesRequest,
) -> Result<DescribeNetworkInterfacesResult, Ec2Error> {
    let c = store.conn();
    pages::refuse_ids_with_max_results(
        "networkInterfaceIdSet",
        !req.network_interface_ids.is_empty(),
        req.max_results,
    )?;
    for id in &req.network_interface_ids {
        Eni::get(c, id)?;
    }
    let named = Eni::all(c)?
        .iter()
        .filter(|e| {
            req.network_interface_ids.is_empty() || req.network_interface_ids.contains(&e.eni_id)
        })
        .map(|e| e.to_shape(c))
        .collect();
    let (network_interfaces, next_token) = pages::page(
        "DescribeNetworkInterfaces",
        filters::retain(named, &req.filters)?,
        |e| e.network_interface_id.clone(),
        PageRequest::new(req.max_results, &req.next_token),
        Limits::between(5, 1000),
    )?;
    Ok(DescribeNetworkInterfacesResult {
        network_interfaces,
        next_token,
    })
}

/// CreateNetworkInterface, with its tags, in one transaction: available until attached.
/// Then the host's network follows.
pub fn create_network_interface(
    store: &mut Store,
    req: &CreateNetworkInterfaceRequest,
) -> Result<CreateNetworkInterfaceResult, Ec2Error> {
    let private_ip = match &req.private_ip_address {
        Some(ip) => Some(ip.parse().map_err(|_| {
            Ec2Error::invalid_parameter(format!(
                "Value ({ip}) for parameter privateIpAddress is invalid: give an IPv4 address such as 10.0.1.10"
            ))
        })?),
        None => None,
    };
    Ec2Error::check_id(&req.subnet_id, "subnet", "Subnet")?;
    let tags = tags::for_resource(
        &req.tag_specifications,
        &["network-interface"],
        "network-interface",
    )?;
    let e = store.write(|tx| -> Result<Eni, Ec2Error> {
        let subnet = Subnet::get(tx, &req.subnet_id)?;
        let groups = groups::for_interface(tx, &subnet.vpc_id, &subnet.subnet_id, &req.groups)?;
        eni::create(
            tx,
            &subnet,
            &NewEni {
                groups: &groups,
                description: req.description.as_deref().unwrap_or(""),
                private_ip,
                tags: &tags,
                ..Default::default()
            },
        )
    })?;
    net::sync(store)?;
    Ok(CreateNetworkInterfaceResult {
        network_interface: e.to_shape(store.conn()),
    })
}
