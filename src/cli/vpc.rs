//! The VPC verbs: VPCs, subnets, security groups, network interfaces, shaped like
//! `aws ec2`'s. Every change is one transaction, then one atomic nftables update.

use clap::Args;
use serde_json::{json, Value};

use super::ctx::{Ctx, Failure};
use crate::error::Ec2Error;
use crate::instances::{network, record::Instance};
use crate::net::addresses;
use crate::net::eni::{self, Eni};
use crate::net::groups::{self, Direction, Permission, SecurityGroup};
use crate::net::vpc::{self, Subnet, Vpc};
use crate::store::Store;

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab create-vpc --cidr-block 10.0.0.0/16\n\n\
  A VPC is a Linux bridge on this host. Prefixes /16 to /28. ec2lab's VPCs share the\n\
  host's routing table, so their ranges must not overlap."
)]
/// Create a VPC.
pub struct CreateVpc {
    #[arg(long)]
    pub cidr_block: String,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ec2lab create-subnet --vpc-id vpc-… --cidr-block 10.0.1.0/24")]
/// Create a subnet in a VPC.
pub struct CreateSubnet {
    #[arg(long)]
    pub vpc_id: String,
    #[arg(long)]
    pub cidr_block: String,
    #[arg(long)]
    pub availability_zone: Option<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ec2lab delete-subnet --subnet-id subnet-…")]
/// Delete a subnet (it must have no network interfaces).
pub struct DeleteSubnet {
    #[arg(long)]
    pub subnet_id: String,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ec2lab delete-vpc --vpc-id vpc-…")]
/// Delete a VPC (it must have no subnets).
pub struct DeleteVpc {
    #[arg(long)]
    pub vpc_id: String,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab create-security-group --group-name web --description 'web servers' --vpc-id vpc-…\n\n\
  A new group allows all outbound traffic and no inbound traffic."
)]
/// Create a security group.
pub struct CreateSecurityGroup {
    #[arg(long)]
    pub group_name: String,
    #[arg(long)]
    pub description: String,
    /// Default: the default VPC.
    #[arg(long)]
    pub vpc_id: Option<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab authorize-security-group-ingress --group-id sg-… --protocol tcp --port 80 --cidr 0.0.0.0/0\n  \
  ec2lab authorize-security-group-ingress --group-id sg-… --protocol tcp --port 8000-8100 --source-group sg-…\n  \
  ec2lab authorize-security-group-ingress --group-id sg-… --protocol icmp --port -1 --cidr 10.0.0.0/8\n\n\
  Rules are stateful (replies pass) and apply to running instances at once.")]
/// Add a rule to a security group (the same flags revoke it).
pub struct RuleArgs {
    #[arg(long)]
    pub group_id: String,
    /// tcp, udp, icmp, or -1 (all).
    #[arg(long, allow_hyphen_values = true)]
    pub protocol: String,
    /// A port, a range (8000-8100), or -1 for all.
    #[arg(long, allow_hyphen_values = true)]
    pub port: Option<String>,
    #[arg(long)]
    pub cidr: Option<String>,
    #[arg(long)]
    pub source_group: Option<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ec2lab describe-security-groups --group-ids sg-…")]
/// Describe security groups.
pub struct DescribeSecurityGroups {
    #[arg(long, num_args = 1..)]
    pub group_ids: Vec<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab delete-security-group --group-id sg-…\n\n\
  A group in use by an interface, or named by another group's rule, cannot be deleted\n\
  (DependencyViolation)."
)]
/// Delete a security group.
pub struct DeleteSecurityGroup {
    #[arg(long)]
    pub group_id: String,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab modify-instance-attribute --instance-id i-… --groups sg-1 sg-2\n\n\
  Replaces the security groups of the instance's interface; takes effect at once."
)]
/// Change an instance's security groups.
pub struct ModifyInstanceAttribute {
    #[arg(long)]
    pub instance_id: String,
    #[arg(long, num_args = 1.., required = true)]
    pub groups: Vec<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab associate-address --allocation-id eipalloc-… --instance-id i-…\n\n\
  The Elastic IP replaces the instance's automatic public address and stays with it across\n\
  stop and start."
)]
/// Associate an Elastic IP with an instance.
pub struct AssociateAddress {
    #[arg(long)]
    pub allocation_id: String,
    #[arg(long)]
    pub instance_id: String,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ec2lab disassociate-address --association-id eipassoc-…")]
/// Take an Elastic IP off its instance (the address stays allocated).
pub struct DisassociateAddress {
    #[arg(long)]
    pub association_id: String,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ec2lab release-address --allocation-id eipalloc-…")]
/// Give an Elastic IP back (it must not be associated).
pub struct ReleaseAddress {
    #[arg(long)]
    pub allocation_id: String,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab describe-network-interfaces\n  \
  ec2lab describe-network-interfaces --network-interface-ids eni-…")]
/// Describe network interfaces: their addresses, groups, attachment and host tap.
pub struct DescribeNetworkInterfaces {
    #[arg(long, num_args = 1..)]
    pub network_interface_ids: Vec<String>,
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
    #[arg(long)]
    pub subnet_id: String,
    #[arg(long)]
    pub description: Option<String>,
    #[arg(long, num_args = 1..)]
    pub groups: Vec<String>,
    #[arg(long)]
    pub private_ip_address: Option<String>,
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
    #[arg(long)]
    pub network_interface_id: String,
    #[arg(long)]
    pub instance_id: String,
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
    #[arg(long)]
    pub network_interface_id: String,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  \
  ec2lab modify-network-interface-attribute --network-interface-id eni-… --groups sg-1 sg-2\n\n\
  Replaces the interface's security groups; takes effect at once, also on a running instance.")]
/// Change a network interface's security groups.
pub struct ModifyNetworkInterfaceAttribute {
    #[arg(long)]
    pub network_interface_id: String,
    #[arg(long, num_args = 1.., required = true)]
    pub groups: Vec<String>,
}

fn store(ctx: &Ctx) -> Result<Store, Failure> {
    let mut s = ctx.tidy_store()?;
    vpc::ensure_default(&mut s)?;
    Ok(s)
}

/// Firewall and bridges follow the store after every change.
fn synced(s: &Store, v: Value) -> Result<Value, Failure> {
    crate::net::sync(s)?;
    Ok(v)
}

pub fn create_vpc(ctx: &Ctx, a: CreateVpc) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    let v = s.write(|tx| vpc::create_vpc(tx, &a.cidr_block, false))?;
    synced(&s, json!({"Vpc": v.describe()}))
}

pub fn describe_vpcs(ctx: &Ctx) -> Result<Value, Failure> {
    let s = store(ctx)?;
    let v: Vec<Value> = Vpc::all(s.conn())?.iter().map(Vpc::describe).collect();
    Ok(json!({"Vpcs": v}))
}

pub fn delete_vpc(ctx: &Ctx, a: DeleteVpc) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    let v = Vpc::get(s.conn(), &a.vpc_id)?;
    s.write(|tx| vpc::delete_vpc(tx, &a.vpc_id))?;
    crate::net::host::delete_link(&v.bridge);
    synced(&s, Value::Null)
}

pub fn create_subnet(ctx: &Ctx, a: CreateSubnet) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    let az = a
        .availability_zone
        .unwrap_or_else(|| format!("{}a", ctx.region));
    let sn = s.write(|tx| vpc::create_subnet(tx, &a.vpc_id, &a.cidr_block, &az, false))?;
    synced(&s, json!({"Subnet": sn.describe()}))
}

pub fn describe_subnets(ctx: &Ctx) -> Result<Value, Failure> {
    let s = store(ctx)?;
    let v: Vec<Value> = Subnet::all(s.conn())?
        .iter()
        .map(Subnet::describe)
        .collect();
    Ok(json!({"Subnets": v}))
}

pub fn delete_subnet(ctx: &Ctx, a: DeleteSubnet) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    s.write(|tx| vpc::delete_subnet(tx, &a.subnet_id))?;
    synced(&s, Value::Null)
}

pub fn create_security_group(ctx: &Ctx, a: CreateSecurityGroup) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    let vpc_id = match a.vpc_id {
        Some(v) => Vpc::get(s.conn(), &v)?.vpc_id,
        None => Subnet::default(s.conn())?.vpc_id,
    };
    let g = s.write(|tx| groups::create(tx, &vpc_id, &a.group_name, &a.description, false))?;
    synced(&s, json!({"GroupId": g.group_id}))
}

pub fn describe_security_groups(ctx: &Ctx, a: DescribeSecurityGroups) -> Result<Value, Failure> {
    let s = store(ctx)?;
    for g in &a.group_ids {
        SecurityGroup::get(s.conn(), g)?;
    }
    let v: Vec<Value> = SecurityGroup::all(s.conn())?
        .iter()
        .filter(|g| a.group_ids.is_empty() || a.group_ids.contains(&g.group_id))
        .map(SecurityGroup::describe)
        .collect();
    Ok(json!({"SecurityGroups": v}))
}

pub fn delete_security_group(ctx: &Ctx, a: DeleteSecurityGroup) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    s.write(|tx| groups::delete(tx, &a.group_id))?;
    synced(&s, Value::Null)
}

pub fn change_rule(ctx: &Ctx, a: RuleArgs, dir: Direction, grant: bool) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    let (from_port, to_port) = match &a.port {
        Some(p) => groups::parse_ports(p)?,
        None => (None, None),
    };
    let p = Permission {
        protocol: a.protocol,
        from_port,
        to_port,
        cidrs: a.cidr.into_iter().collect(),
        groups: a.source_group.into_iter().collect(),
    };
    s.write(|tx| {
        if grant {
            groups::authorize(tx, &a.group_id, dir, p)
        } else {
            groups::revoke(tx, &a.group_id, dir, p)
        }
    })?;
    synced(&s, json!({"Return": true}))
}

pub fn describe_network_interfaces(
    ctx: &Ctx,
    a: DescribeNetworkInterfaces,
) -> Result<Value, Failure> {
    let s = store(ctx)?;
    let c = s.conn();
    for id in &a.network_interface_ids {
        Eni::get(c, id)?;
    }
    let v: Vec<Value> = Eni::all(c)?
        .iter()
        .filter(|e| {
            a.network_interface_ids.is_empty() || a.network_interface_ids.contains(&e.eni_id)
        })
        .map(|e| e.describe(c))
        .collect();
    Ok(json!({"NetworkInterfaces": v}))
}

pub fn create_network_interface(ctx: &Ctx, a: CreateNetworkInterface) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    let private_ip = match &a.private_ip_address {
        Some(ip) => Some(ip.parse().map_err(|_| {
            Ec2Error::invalid_parameter(format!(
                "Value ({ip}) for parameter privateIpAddress is invalid: give an IPv4 address such as 10.0.1.10"
            ))
        })?),
        None => None,
    };
    Ec2Error::check_id(&a.subnet_id, "subnet", "Subnet")?;
    let e = s.write(|tx| -> Result<Eni, Ec2Error> {
        let subnet = Subnet::get(tx, &a.subnet_id)?;
        let groups = network::groups_for(tx, &subnet, &a.groups)?;
        eni::create(
            tx,
            &subnet,
            &eni::NewEni {
                groups: &groups,
                description: a.description.as_deref().unwrap_or(""),
                private_ip,
                ..Default::default()
            },
        )
    })?;
    let v = json!({"NetworkInterface": e.describe(s.conn())});
    synced(&s, v)
}

pub fn attach_network_interface(ctx: &Ctx, a: AttachNetworkInterface) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    let id = network::attach(
        &mut s,
        &a.network_interface_id,
        &a.instance_id,
        a.device_index,
    )?;
    Ok(json!({"AttachmentId": id, "NetworkCardIndex": 0}))
}

pub fn detach_network_interface(ctx: &Ctx, a: DetachNetworkInterface) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    network::detach(&mut s, &a.attachment_id)?;
    Ok(Value::Null)
}

pub fn delete_network_interface(ctx: &Ctx, a: NetworkInterfaceId) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    network::delete(&mut s, &a.network_interface_id)?;
    Ok(Value::Null)
}

pub fn modify_network_interface_attribute(
    ctx: &Ctx,
    a: ModifyNetworkInterfaceAttribute,
) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    network::set_eni_groups(&mut s, &a.network_interface_id, &a.groups)?;
    Ok(Value::Null)
}

pub fn modify_instance_attribute(ctx: &Ctx, a: ModifyInstanceAttribute) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    let inst = Instance::get(s.conn(), &a.instance_id)?;
    network::set_groups(&mut s, &inst, &a.groups)?;
    Ok(Value::Null)
}

pub fn network_teardown(ctx: &Ctx) -> Result<Value, Failure> {
    let s = ctx.store()?;
    crate::net::teardown(&s).map_err(Failure::Service)?;
    Ok(Value::Null)
}

pub fn allocate_address(ctx: &Ctx) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    let a = s.write(|tx| addresses::allocate(tx))?;
    Ok(
        json!({"AllocationId": a.allocation_id, "PublicIp": a.public_ip.to_string(),
              "Domain": "vpc", "PublicIpv4Pool": "amazon"}),
    )
}

pub fn associate_address(ctx: &Ctx, a: AssociateAddress) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    Instance::get(s.conn(), &a.instance_id)?;
    let id = s.write(|tx| addresses::associate(tx, &a.allocation_id, &a.instance_id))?;
    synced(&s, json!({"AssociationId": id}))
}

pub fn disassociate_address(ctx: &Ctx, a: DisassociateAddress) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    s.write(|tx| addresses::disassociate(tx, &a.association_id))?;
    synced(&s, Value::Null)
}

pub fn release_address(ctx: &Ctx, a: ReleaseAddress) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    s.write(|tx| addresses::release(tx, &a.allocation_id))?;
    Ok(Value::Null)
}

pub fn describe_addresses(ctx: &Ctx) -> Result<Value, Failure> {
    let s = store(ctx)?;
    let v: Vec<Value> = addresses::Address::all(s.conn())?
        .iter()
        .map(|a| a.describe(s.conn()))
        .collect();
    Ok(json!({"Addresses": v}))
}
