//! The VPC verbs: VPCs, subnets, network interfaces and addresses, shaped like `aws ec2`'s
//! (the security group verbs are in `groups`). Every change is one transaction, then one
//! atomic nftables update; the services do both (the API calls the same ones), the verbs
//! parse flags and print.

use clap::Args;
use serde_json::Value;

use super::ctx::{filters_from, tag_specifications, to_json, Ctx, Failure};
use crate::ec2::shapes::network::{
    AllocateAddressRequest, AssociateAddressRequest, AttachNetworkInterfaceRequest,
    CreateNetworkInterfaceRequest, CreateSubnetRequest, CreateVpcRequest,
    DeleteNetworkInterfaceRequest, DeleteSubnetRequest, DeleteVpcRequest, DescribeAddressesRequest,
    DescribeNetworkInterfacesRequest, DescribeSubnetsRequest, DescribeVpcsRequest,
    DetachNetworkInterfaceRequest, DisassociateAddressRequest,
    ModifyNetworkInterfaceAttributeRequest, ReleaseAddressRequest,
};
use crate::instances::network;
use crate::net::actions::{addresses, interfaces, vpcs};
use crate::store::Store;

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab create-vpc --cidr-block 10.0.0.0/16\n\n\
  A VPC is a Linux bridge on this host. Prefixes /16 to /28. ec2lab's VPCs share the\n\
  host's routing table, so their ranges must not overlap."
)]
/// Create a VPC.
pub struct CreateVpc {
    /// The VPC's range, /16 to /28.
    #[arg(long)]
    pub cidr_block: String,
    /// Tags, e.g. 'ResourceType=vpc,Tags=[{Key=Name,Value=lab}]'.
    #[arg(long, num_args = 1..)]
    pub tag_specifications: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  ec2lab describe-vpcs\n  \
  ec2lab describe-vpcs --filters Name=is-default,Values=true")]
/// Describe VPCs (a default VPC exists from the first run).
pub struct DescribeVpcs {
    /// Only these VPCs.
    #[arg(long, num_args = 1..)]
    pub vpc_ids: Vec<String>,
    /// Filters: Name=vpc-id|cidr|is-default|state|owner-id,Values=…
    #[arg(long, num_args = 1..)]
    pub filters: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  ec2lab describe-subnets\n  \
  ec2lab describe-subnets --filters Name=vpc-id,Values=vpc-…")]
/// Describe subnets.
pub struct DescribeSubnets {
    /// Only these subnets.
    #[arg(long, num_args = 1..)]
    pub subnet_ids: Vec<String>,
    /// Filters: Name=subnet-id|vpc-id|cidr-block|availability-zone|default-for-az|…,Values=…
    #[arg(long, num_args = 1..)]
    pub filters: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  ec2lab describe-addresses\n  \
  ec2lab describe-addresses --filters Name=instance-id,Values=i-…")]
/// Describe Elastic IP addresses.
pub struct DescribeAddresses {
    /// Only these addresses.
    #[arg(long, num_args = 1..)]
    pub public_ips: Vec<String>,
    /// Only these allocations.
    #[arg(long, num_args = 1..)]
    pub allocation_ids: Vec<String>,
    /// Filters: Name=allocation-id|association-id|public-ip|instance-id|…,Values=…
    #[arg(long, num_args = 1..)]
    pub filters: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ec2lab create-subnet --vpc-id vpc-… --cidr-block 10.0.1.0/24")]
/// Create a subnet in a VPC.
pub struct CreateSubnet {
    /// The VPC.
    #[arg(long)]
    pub vpc_id: String,
    /// The subnet's range, inside the VPC's.
    #[arg(long)]
    pub cidr_block: String,
    /// Default: the region's zone.
    #[arg(long)]
    pub availability_zone: Option<String>,
    /// Tags, e.g. 'ResourceType=subnet,Tags=[{Key=Name,Value=web}]'.
    #[arg(long, num_args = 1..)]
    pub tag_specifications: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ec2lab delete-subnet --subnet-id subnet-…")]
/// Delete a subnet (it must have no network interfaces).
pub struct DeleteSubnet {
    /// The subnet.
    #[arg(long)]
    pub subnet_id: String,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ec2lab delete-vpc --vpc-id vpc-…")]
/// Delete a VPC (it must have no subnets).
pub struct DeleteVpc {
    /// The VPC.
    #[arg(long)]
    pub vpc_id: String,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  ec2lab allocate-address\n  \
  ec2lab allocate-address --tag-specifications 'ResourceType=elastic-ip,Tags=[{Key=Name,Value=web}]'")]
/// Allocate an Elastic IP address.
pub struct AllocateAddress {
    /// Only vpc (the default).
    #[arg(long)]
    pub domain: Option<String>,
    /// Tags, e.g. 'ResourceType=elastic-ip,Tags=[{Key=Name,Value=web}]'.
    #[arg(long, num_args = 1..)]
    pub tag_specifications: Vec<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab associate-address --allocation-id eipalloc-… --instance-id i-…\n\n\
  The Elastic IP replaces the instance's automatic public address and stays with it across\n\
  stop and start."
)]
/// Associate an Elastic IP with an instance.
pub struct AssociateAddress {
    /// The address.
    #[arg(long)]
    pub allocation_id: String,
    /// The instance.
    #[arg(long)]
    pub instance_id: String,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ec2lab disassociate-address --association-id eipassoc-…")]
/// Take an Elastic IP off its instance (the address stays allocated).
pub struct DisassociateAddress {
    /// The association.
    #[arg(long)]
    pub association_id: String,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ec2lab release-address --allocation-id eipalloc-…")]
/// Give an Elastic IP back (it must not be associated).
pub struct ReleaseAddress {
    /// The address.
    #[arg(long)]
    pub allocation_id: String,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab describe-network-interfaces\n  \
  ec2lab describe-network-interfaces --network-interface-ids eni-…")]
/// Describe network interfaces: their addresses, groups, attachment and host tap.
pub struct DescribeNetworkInterfaces {
    /// Only these interfaces.
    #[arg(long, num_args = 1..)]
    pub network_interface_ids: Vec<String>,
    /// Filters: Name=network-interface-id|subnet-id|vpc-id|status|group-id|
    /// attachment.instance-id|private-ip-address|association.public-ip|…,Values=…
    #[arg(long, num_args = 1..)]
    pub filters: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab create-network-interface --subnet-id subnet-… --description backend --groups sg-1 sg-2\n  \
  ec2lab create-network-interface --subnet-id subnet-… --private-ip-address 172.31.16.10\n\n\
  The interface is \"available\" until attach-network-interface puts it on a stopped instance.\n\
  Without --groups it gets the VPC's default group; without --private-ip-address the first\n\
  free address of the subnet (the first four and the last are reserved, as on AWS).")]
/// Create a network interface (an ENI) in a subnet.
pub struct CreateNetworkInterface {
    /// The subnet.
    #[arg(long)]
    pub subnet_id: String,
    /// Free text.
    #[arg(long)]
    pub description: Option<String>,
    /// Its groups (default: the VPC's default group).
    #[arg(long, num_args = 1..)]
    pub groups: Vec<String>,
    /// Its address (default: the subnet's first free one).
    #[arg(long)]
    pub private_ip_address: Option<String>,
    /// Tags, e.g. 'ResourceType=network-interface,Tags=[{Key=Name,Value=backend}]'.
    #[arg(long, num_args = 1..)]
    pub tag_specifications: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  \
  ec2lab stop-instances --instance-ids i-…; ec2lab wait instance-stopped --instance-ids i-…\n  \
  ec2lab attach-network-interface --network-interface-id eni-… --instance-id i-… --device-index 1\n  \
  ec2lab start-instances --instance-ids i-…      # the guest has eth1 with the interface's address\n\n\
  ec2lab has no network hot-plug: the instance must be stopped (IncorrectInstanceState\n\
  otherwise). The interface must be in the instance's VPC and availability zone. Device\n\
  index N is ethN in the guest; the guest image's rc.d hook configures it at boot. As on AWS,\n\
  an instance with more than one interface gets no automatic public address at start.")]
/// Attach a network interface to a stopped instance; returns the AttachmentId.
pub struct AttachNetworkInterface {
    /// The available interface.
    #[arg(long)]
    pub network_interface_id: String,
    /// The stopped instance.
    #[arg(long)]
    pub instance_id: String,
    /// ethN in the guest.
    #[arg(long)]
    pub device_index: i64,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  \
  ec2lab detach-network-interface --attachment-id eni-attach-…\n\n\
  The instance must be stopped (no hot-unplug; --force does not change that). The primary\n\
  interface (device index 0) cannot be detached.")]
/// Detach a network interface from a stopped instance.
pub struct DetachNetworkInterface {
    /// The attachment (Attachment.AttachmentId).
    #[arg(long)]
    pub attachment_id: String,
    /// Accepted for compatibility: ec2lab detaches only from stopped instances anyway.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab delete-network-interface --network-interface-id eni-…\n\n\
  An attached interface cannot be deleted (InvalidNetworkInterface.InUse): detach it first."
)]
/// Delete a network interface that is not attached.
pub struct NetworkInterfaceId {
    /// The interface.
    #[arg(long)]
    pub network_interface_id: String,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  \
  ec2lab modify-network-interface-attribute --network-interface-id eni-… --groups sg-1 sg-2\n\n\
  Replaces the interface's security groups; takes effect at once, also on a running instance.")]
/// Change a network interface's security groups.
pub struct ModifyNetworkInterfaceAttribute {
    /// The interface.
    #[arg(long)]
    pub network_interface_id: String,
    /// Its new groups.
    #[arg(long, num_args = 1.., required = true)]
    pub groups: Vec<String>,
}

fn store(ctx: &Ctx) -> Result<Store, Failure> {
    Ok(ctx.tidy_store()?)
}

/// `create-vpc`.
pub fn create_vpc(ctx: &Ctx, a: CreateVpc) -> Result<Value, Failure> {
    let req = CreateVpcRequest {
        cidr_block: a.cidr_block,
        tag_specifications: tag_specifications(&a.tag_specifications)?,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&vpcs::create_vpc(&mut store(ctx)?, &req)?)
}

/// `describe-vpcs`.
pub fn describe_vpcs(ctx: &Ctx, a: DescribeVpcs) -> Result<Value, Failure> {
    let req = DescribeVpcsRequest {
        filters: filters_from(&a.filters)?,
        vpc_ids: a.vpc_ids,
        ..Default::default()
    };
    ctx.answer_dry_run(&req)?;
    to_json(&vpcs::describe_vpcs(&store(ctx)?, &req)?)
}

/// `delete-vpc`.
pub fn delete_vpc(ctx: &Ctx, a: DeleteVpc) -> Result<Value, Failure> {
    let req = DeleteVpcRequest { vpc_id: a.vpc_id };
    ctx.answer_dry_run(&req)?;
    vpcs::delete_vpc(&mut store(ctx)?, &req)?;
    Ok(Value::Null)
}

/// `create-subnet`.
pub fn create_subnet(ctx: &Ctx, a: CreateSubnet) -> Result<Value, Failure> {
    let req = CreateSubnetRequest {
        vpc_id: a.vpc_id,
        cidr_block: a.cidr_block,
        availability_zone: a.availability_zone,
        tag_specifications: tag_specifications(&a.tag_specifications)?,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&vpcs::create_subnet(&mut store(ctx)?, &req)?)
}

/// `describe-subnets`.
pub fn describe_subnets(ctx: &Ctx, a: DescribeSubnets) -> Result<Value, Failure> {
    let req = DescribeSubnetsRequest {
        filters: filters_from(&a.filters)?,
        subnet_ids: a.subnet_ids,
        ..Default::default()
    };
    ctx.answer_dry_run(&req)?;
    to_json(&vpcs::describe_subnets(&store(ctx)?, &req)?)
}

/// `delete-subnet`.
pub fn delete_subnet(ctx: &Ctx, a: DeleteSubnet) -> Result<Value, Failure> {
    let req = DeleteSubnetRequest {
        subnet_id: a.subnet_id,
    };
    ctx.answer_dry_run(&req)?;
    vpcs::delete_subnet(&mut store(ctx)?, &req)?;
    Ok(Value::Null)
}

/// `describe-network-interfaces`.
pub fn describe_network_interfaces(
    ctx: &Ctx,
    a: DescribeNetworkInterfaces,
) -> Result<Value, Failure> {
    let req = DescribeNetworkInterfacesRequest {
        filters: filters_from(&a.filters)?,
        network_interface_ids: a.network_interface_ids,
        ..Default::default()
    };
    ctx.answer_dry_run(&req)?;
    to_json(&interfaces::describe_network_interfaces(
        &store(ctx)?,
        &req,
    )?)
}

/// `create-network-interface`.
pub fn create_network_interface(ctx: &Ctx, a: CreateNetworkInterface) -> Result<Value, Failure> {
    let req = CreateNetworkInterfaceRequest {
        subnet_id: a.subnet_id,
        description: a.description,
        groups: a.groups,
        private_ip_address: a.private_ip_address,
        tag_specifications: tag_specifications(&a.tag_specifications)?,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&interfaces::create_network_interface(
        &mut store(ctx)?,
        &req,
    )?)
}

/// `attach-network-interface`.
pub fn attach_network_interface(ctx: &Ctx, a: AttachNetworkInterface) -> Result<Value, Failure> {
    let req = AttachNetworkInterfaceRequest {
        network_interface_id: a.network_interface_id,
        instance_id: a.instance_id,
        device_index: a.device_index,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&network::attach_network_interface(&mut store(ctx)?, &req)?)
}

/// `detach-network-interface`.
pub fn detach_network_interface(ctx: &Ctx, a: DetachNetworkInterface) -> Result<Value, Failure> {
    let req = DetachNetworkInterfaceRequest {
        attachment_id: a.attachment_id,
        force: a.force,
    };
    ctx.answer_dry_run(&req)?;
    network::detach_network_interface(&mut store(ctx)?, &req)?;
    Ok(Value::Null)
}

/// `delete-network-interface`.
pub fn delete_network_interface(ctx: &Ctx, a: NetworkInterfaceId) -> Result<Value, Failure> {
    let req = DeleteNetworkInterfaceRequest {
        network_interface_id: a.network_interface_id,
    };
    ctx.answer_dry_run(&req)?;
    network::delete_network_interface(&mut store(ctx)?, &req)?;
    Ok(Value::Null)
}

/// `modify-network-interface-attribute`.
pub fn modify_network_interface_attribute(
    ctx: &Ctx,
    a: ModifyNetworkInterfaceAttribute,
) -> Result<Value, Failure> {
    let req = ModifyNetworkInterfaceAttributeRequest {
        network_interface_id: a.network_interface_id,
        groups: a.groups,
    };
    ctx.answer_dry_run(&req)?;
    network::modify_network_interface_attribute(&mut store(ctx)?, &req)?;
    Ok(Value::Null)
}

/// `network-teardown`: the state root's host network, and the cgroups its instances'
/// VMMs ran in (those whose VMMs were killed rather than ended; a group with a live VMM
/// in it stays).
pub fn network_teardown(ctx: &Ctx) -> Result<Value, Failure> {
    let s = ctx.store()?;
    crate::net::teardown(&s).map_err(Failure::Service)?;
    crate::instances::cgroup::remove_all(&s).map_err(Failure::Service)?;
    Ok(Value::Null)
}

/// `allocate-address`.
pub fn allocate_address(ctx: &Ctx, a: AllocateAddress) -> Result<Value, Failure> {
    let req = AllocateAddressRequest {
        domain: a.domain,
        tag_specifications: tag_specifications(&a.tag_specifications)?,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&addresses::allocate_address(&mut store(ctx)?, &req)?)
}

/// `associate-address`.
pub fn associate_address(ctx: &Ctx, a: AssociateAddress) -> Result<Value, Failure> {
    let req = AssociateAddressRequest {
        allocation_id: a.allocation_id,
        instance_id: a.instance_id,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&addresses::associate_address(&mut store(ctx)?, &req)?)
}

/// `disassociate-address`.
pub fn disassociate_address(ctx: &Ctx, a: DisassociateAddress) -> Result<Value, Failure> {
    let req = DisassociateAddressRequest {
        association_id: a.association_id,
    };
    ctx.answer_dry_run(&req)?;
    addresses::disassociate_address(&mut store(ctx)?, &req)?;
    Ok(Value::Null)
}

/// `release-address`.
pub fn release_address(ctx: &Ctx, a: ReleaseAddress) -> Result<Value, Failure> {
    let req = ReleaseAddressRequest {
        allocation_id: a.allocation_id,
    };
    ctx.answer_dry_run(&req)?;
    addresses::release_address(&mut store(ctx)?, &req)?;
    Ok(Value::Null)
}

/// `describe-addresses`.
pub fn describe_addresses(ctx: &Ctx, a: DescribeAddresses) -> Result<Value, Failure> {
    let req = DescribeAddressesRequest {
        filters: filters_from(&a.filters)?,
        public_ips: a.public_ips,
        allocation_ids: a.allocation_ids,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&addresses::describe_addresses(&store(ctx)?, &req)?)
}
