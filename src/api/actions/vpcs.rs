//! The VPC actions: VPCs, subnets, network interfaces and Elastic IPs. Each calls the
//! service the CLI's verb calls, which makes its change in one transaction and brings the
//! host's network in step.

use serde_json::Value;

use super::{from_request, to_result, ApiCtx};
use crate::ec2::shapes::network::{
    AllocateAddressRequest, AssociateAddressRequest, AttachNetworkInterfaceRequest,
    CreateNetworkInterfaceRequest, CreateSubnetRequest, CreateVpcRequest,
    DeleteNetworkInterfaceRequest, DeleteSubnetRequest, DeleteVpcRequest,
    DetachNetworkInterfaceRequest, DisassociateAddressRequest,
    ModifyNetworkInterfaceAttributeRequest, ReleaseAddressRequest,
};
use crate::error::Ec2Error;
use crate::instances::network;
use crate::net::actions::{addresses, interfaces, vpcs};

action!(
    /// `CreateVpc`.
    create_vpc, CreateVpcRequest,
    |s, r| vpcs::create_vpc(&mut s, &r)?
);
action!(
    /// `DeleteVpc`.
    delete_vpc, DeleteVpcRequest,
    |s, r| vpcs::delete_vpc(&mut s, &r)?
);
action!(
    /// `CreateSubnet`.
    create_subnet, CreateSubnetRequest,
    |s, r| vpcs::create_subnet(&mut s, &r)?
);
action!(
    /// `DeleteSubnet`.
    delete_subnet, DeleteSubnetRequest,
    |s, r| vpcs::delete_subnet(&mut s, &r)?
);
action!(
    /// `CreateNetworkInterface`.
    create_network_interface, CreateNetworkInterfaceRequest,
    |s, r| interfaces::create_network_interface(&mut s, &r)?
);
action!(
    /// `DeleteNetworkInterface`.
    delete_network_interface, DeleteNetworkInterfaceRequest,
    |s, r| network::delete_network_interface(&mut s, &r)?
);
action!(
    /// `AttachNetworkInterface`.
    attach_network_interface, AttachNetworkInterfaceRequest,
    |s, r| network::attach_network_interface(&mut s, &r)?
);
action!(
    /// `DetachNetworkInterface`.
    detach_network_interface, DetachNetworkInterfaceRequest,
    |s, r| network::detach_network_interface(&mut s, &r)?
);
action!(
    /// `ModifyNetworkInterfaceAttribute` (the groups).
    modify_network_interface_attribute, ModifyNetworkInterfaceAttributeRequest,
    |s, r| network::modify_network_interface_attribute(&mut s, &r)?
);
action!(
    /// `AllocateAddress`.
    allocate_address, AllocateAddressRequest,
    |s, r| addresses::allocate_address(&mut s, &r)?
);
action!(
    /// `AssociateAddress`.
    associate_address, AssociateAddressRequest,
    |s, r| addresses::associate_address(&mut s, &r)?
);
action!(
    /// `DisassociateAddress`.
    disassociate_address, DisassociateAddressRequest,
    |s, r| addresses::disassociate_address(&mut s, &r)?
);
action!(
    /// `ReleaseAddress`.
    release_address, ReleaseAddressRequest,
    |s, r| addresses::release_address(&mut s, &r)?
);
