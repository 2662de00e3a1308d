//! An instance's network: its network interfaces (the primary one created at launch,
//! others attached while it is stopped), the host taps the VMM uses, the addresses the
//! guest configures at boot, and the automatic public address that changes at every
//! stop and start.

use super::record::Instance;
use super::state::State;
use crate::ec2::shapes::instances as shapes;
use crate::ec2::shapes::network::{
    AttachNetworkInterfaceRequest, AttachNetworkInterfaceResult, DeleteNetworkInterfaceRequest,
    DetachNetworkInterfaceRequest, ModifyNetworkInterfaceAttributeRequest,
};
use crate::error::Ec2Error;
use crate::net::eni::{self, Eni};
use crate::net::groups::{self, SecurityGroup};
use crate::net::vpc::{self, Subnet, Vpc};
use crate::net::{self, host};
use crate::store::Store;
use crate::vmm::config::{parse_mac, NetConfig};

/// The subnet and groups an instance launches into (defaults as on AWS).
pub fn placement(
    store: &mut Store,
    subnet_id: Option<&str>,
    group_ids: &[String],
) -> Result<(Subnet, Vec<String>), Ec2Error> {
    vpc::ensure_default(store)?;
    let c = store.conn();
    let subnet = match subnet_id {
        Some(id) => Subnet::get(c, id)?,
        None => Subnet::default(c)?,
    };
    let groups = groups::for_interface(c, &subnet.vpc_id, &subnet.subnet_id, group_ids)?;
    Ok((subnet, groups))
}

/// AWS's private host name for an address: `ip-172-31-0-4`.
fn hostname(eni: &Eni) -> String {
    format!("ip-{}", eni.private_ip.to_string().replace('.', "-"))
}

/// Fills in the network members of `shape` (addresses, names, groups, interfaces) for an
/// instance with an interface; one without keeps the record's subnet and groups.
pub fn describe_into(
    store: &Store,
    inst: &Instance,
    shape: &mut shapes::Instance,
) -> Result<(), Ec2Error> {
    let enis = Eni::attached_to(store.conn(), &inst.instance_id)?;
    describe_with(store, &enis, shape);
    Ok(())
}

/// [`describe_into`] from the instance's interfaces, read already (primary first).
pub fn describe_with(store: &Store, enis: &[Eni], shape: &mut shapes::Instance) {
    let c = store.conn();
    let Some(eni) = enis.first() else {
        return;
    };
    // The instance's groups: those of all its interfaces.
    let mut group_ids: Vec<&String> = Vec::new();
    for g in enis.iter().flat_map(|e| &e.groups) {
        if !group_ids.contains(&g) {
            group_ids.push(g);
        }
    }
    let region = store.region();
    shape.private_ip_address = Some(eni.private_ip.to_string());
    shape.private_dns_name = Some(format!("{}.{region}.compute.internal", hostname(eni)));
    shape.subnet_id = Some(eni.subnet_id.clone());
    shape.vpc_id = Some(eni.vpc_id.clone());
    shape.security_groups = group_ids.iter().map(|g| group_identifier(c, g)).collect();
    shape.network_interfaces = enis.iter().map(|e| e.to_shape(c).into()).collect();
    shape.source_dest_check = Some(true);
    if let Some(p) = eni.public_ip {
        shape.public_ip_address = Some(p.to_string());
        shape.public_dns_name = Some(format!(
            "ec2-{}.{region}.compute.ec2lab",
            p.to_string().replace('.', "-")
        ));
    }
}

/// A group by id, with its name (empty if it is gone).
fn group_identifier(c: &rusqlite::Connection, id: &str) -> shapes::GroupIdentifier {
    shapes::GroupIdentifier {
        group_id: id.into(),
        group_name: Some(
            SecurityGroup::get(c, id)
                .map(|s| s.group_name)
                .unwrap_or_default(),
        ),
    }
}

/// What the VMM is given for an instance's interfaces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestNics {
    /// One virtio-net device per interface, in device-index order.
    pub nets: Vec<NetConfig>,
    /// The kernel switches that give the guest its addresses.
    pub switches: Vec<String>,
}

/// Plumbs the host side (bridge, taps, firewall) and returns the interfaces and
/// addresses the VMM gives the guest.
pub fn vmm_nics(store: &Store, inst: &Instance) -> Result<GuestNics, Ec2Error> {
    let c = store.conn();
    let enis = Eni::attached_to(c, &inst.instance_id)?;
    if enis.is_empty() {
        return Ok(GuestNics::default());
    }
    net::sync(store)?;
    let owner = net::owner(store);
    let mut nics = GuestNics::default();
    // The VMM puts the interfaces on the guest's bus in this order, so the guest kernel
    // names them eth0, eth1, … by device index.
    for (n, eni) in enis.iter().enumerate() {
        let subnet = Subnet::get(c, &eni.subnet_id)?;
        let vpc = Vpc::get(c, &eni.vpc_id)?;
        host::ensure_tap(&eni.tap, &vpc.bridge, &owner.alias(&eni.eni_id))?;
        let mac = parse_mac(&eni.mac).ok_or_else(|| {
            Ec2Error::internal(format!(
                "{} has the malformed MAC address {:?} in the store",
                eni.eni_id, eni.mac
            ))
        })?;
        nics.nets.push(NetConfig {
            tap: eni.tap.clone(),
            mac,
        });
        nics.switches.push(if n == 0 {
            // The kernel's own configuration (IP_PNP): no DHCP client, no extra process.
            // It configures one interface only, with the default route.
            format!(
                "ip={}::{}:{}:{}:eth0:off",
                eni.private_ip,
                subnet.gateway(),
                subnet.cidr.netmask(),
                hostname(eni)
            )
        } else {
            // The others: the guest image's rc.d hook (50-ec2lab-net.sh) applies these
            // with one busybox ifconfig each.
            format!("ec2lab.eth{n}={}/{}", eni.private_ip, subnet.cidr.netmask())
        });
    }
    Ok(nics)
}

/// Before a stopped instance starts: none of its VPCs may overlap one with running
/// instances elsewhere on the host (`net::conflict`).
pub fn check_overlaps(store: &Store, instance_id: &str) -> Result<(), Ec2Error> {
    for eni in Eni::attached_to(store.conn(), instance_id)? {
        net::check_overlaps(store, &eni.vpc_id)?;
    }
    Ok(())
}

/// At terminate: interfaces made with the instance go, with their addresses and taps;
/// attached ones (DeleteOnTermination false) are detached and stay, as on AWS.
pub fn release(store: &mut Store, inst: &Instance) -> Result<(), Ec2Error> {
    let enis = Eni::attached_to(store.conn(), &inst.instance_id)?;
    if enis.is_empty() {
        return Ok(());
    }
    store.write(|tx| -> Result<(), Ec2Error> {
        for e in &enis {
            if e.delete_on_termination {
                eni::release(tx, &e.eni_id)?;
            } else {
                eni::detach(tx, &e.eni_id)?;
            }
        }
        Ok(())
    })?;
    for e in &enis {
        host::delete_link(&e.tap);
    }
    net::sync(store)
}

/// At stop: the automatic public address goes back to the pool (it changes at every stop
/// and start, as on AWS); an Elastic IP stays.
pub fn on_stopped(store: &mut Store, inst: &Instance) -> Result<(), Ec2Error> {
    if Eni::attached_to(store.conn(), &inst.instance_id)?.is_empty() {
        return Ok(());
    }
    store.write(|tx| eni::release_auto_public(tx, &inst.instance_id))?;
    net::sync(store)
}

/// `modify-instance-attribute --groups`: takes effect on the running instance at once.
pub fn set_groups(store: &mut Store, inst: &Instance, groups: &[String]) -> Result<(), Ec2Error> {
    let enis = Eni::attached_to(store.conn(), &inst.instance_id)?;
    let eni = match enis.as_slice() {
        [] => {
            return Err(Ec2Error::internal(format!(
                "{} has no network interface",
                inst.instance_id
            )))
        }
        [e] => e,
        _ => {
            return Err(Ec2Error::new(
                "InvalidInstanceID",
                format!(
                    "There are multiple interfaces attached to instance '{}'. Please specify an interface ID for the operation instead: modify-network-interface-attribute --network-interface-id eni-… --groups …",
                    inst.instance_id
                ),
            ))
        }
    };
    set_eni_groups(store, &eni.eni_id, groups)
}

/// `modify-network-interface-attribute --groups`: takes effect at once.
pub fn set_eni_groups(store: &mut Store, eni_id: &str, groups: &[String]) -> Result<(), Ec2Error> {
    store.write(|tx| -> Result<(), Ec2Error> {
        let eni = Eni::get(tx, eni_id)?;
        let subnet = Subnet::get(tx, &eni.subnet_id)?;
        groups::for_interface(tx, &subnet.vpc_id, &subnet.subnet_id, groups)?;
        eni::set_groups(tx, eni_id, groups)
    })?;
    net::sync(store)
}

/// How many interfaces an instance type takes (AWS's limits for these sizes).
fn max_interfaces(instance_type: &str) -> i64 {
    let size = instance_type.split('.').nth(1).unwrap_or("");
    match size {
        "nano" | "micro" => 2,
        "small" | "medium" | "large" => 3,
        _ => 4,
    }
}

/// A new instance type must take every interface the instance has (AWS's limits by size).
pub fn check_interface_count(
    store: &Store,
    inst: &Instance,
    instance_type: &str,
) -> Result<(), Ec2Error> {
    let highest = Eni::attached_to(store.conn(), &inst.instance_id)?
        .iter()
        .filter_map(|e| e.device_index)
        .max();
    match highest {
        Some(i) if i >= max_interfaces(instance_type) => Err(Ec2Error::invalid_parameter(format!(
            "{instance_type} takes {} network interfaces; {} has one at device index {i}: detach it first",
            max_interfaces(instance_type),
            inst.instance_id
        ))),
        _ => Ok(()),
    }
}

/// `attach-network-interface`. ec2lab's VMM has no network hot-plug, so the instance
/// must be stopped; the guest sees the interface at its next start.
pub fn attach(
    store: &mut Store,
    eni_id: &str,
    instance_id: &str,
    device_index: i64,
) -> Result<String, Ec2Error> {
    Ec2Error::check_id(instance_id, "i", "Instance")?;
    store.write(|tx| -> Result<String, Ec2Error> {
        let e = Eni::get(tx, eni_id)?;
        let inst = Instance::get(tx, instance_id)?;
        if let Some(other) = &e.instance_id {
            return Err(Ec2Error::new(
                "InvalidNetworkInterface.InUse",
                format!(
                    "Interface: [{eni_id}] in use: it is attached to {other}; detach-network-interface first"
                ),
            ));
        }
        if matches!(inst.state, State::ShuttingDown | State::Terminated) {
            return Err(Ec2Error::incorrect_state(
                instance_id,
                inst.state.name(),
                "attached to",
            ));
        }
        if inst.state != State::Stopped {
            return Err(Ec2Error::new(
                "IncorrectInstanceState",
                format!(
                    "The instance '{instance_id}' is {}: ec2lab cannot add a network interface to a running guest (no hot-plug). Stop the instance (stop-instances), attach, then start it; the guest sees the interface at boot",
                    inst.state.name()
                ),
            ));
        }
        let current = Eni::attached_to(tx, instance_id)?;
        let Some(primary) = current.first() else {
            return Err(Ec2Error::invalid_parameter(format!(
                "The instance '{instance_id}' has no network (launched with EC2LAB_NETWORKING=off)"
            )));
        };
        if primary.vpc_id != e.vpc_id {
            return Err(Ec2Error::new(
                "InvalidParameterCombination",
                format!(
                    "The network interface {eni_id} is in {} and the instance {instance_id} in {}: they must be in the same VPC",
                    e.vpc_id, primary.vpc_id
                ),
            ));
        }
        let az_of = |s: &str| Subnet::get(tx, s).map(|s| s.availability_zone);
        let (eni_az, inst_az) = (az_of(&e.subnet_id)?, az_of(&primary.subnet_id)?);
        if eni_az != inst_az {
            return Err(Ec2Error::new(
                "InvalidParameterCombination",
                format!(
                    "You may not attach a network interface to an instance if they are not in the same availability zone ({eni_id} is in {eni_az}, {instance_id} in {inst_az})"
                ),
            ));
        }
        let max = max_interfaces(&inst.instance_type);
        if !(1..max).contains(&device_index) {
            return Err(Ec2Error::invalid_parameter(format!(
                "Invalid value '{device_index}' for deviceIndex: {} takes device indexes 1 to {} (0 is the primary interface)",
                inst.instance_type,
                max - 1
            )));
        }
        if current.iter().any(|c| c.device_index == Some(device_index)) {
            return Err(Ec2Error::invalid_parameter(format!(
                "Instance '{instance_id}' already has an interface attached at device index '{device_index}'."
            )));
        }
        if current.len() as i64 >= max {
            return Err(Ec2Error::new(
                "AttachmentLimitExceeded",
                format!(
                    "Interface count {} exceeds the limit for {}",
                    current.len() + 1,
                    inst.instance_type
                ),
            ));
        }
        eni::attach(tx, eni_id, instance_id, device_index)
    })
}

/// `detach-network-interface`: from a stopped instance only (no hot-unplug).
pub fn detach(store: &mut Store, attachment_id: &str) -> Result<(), Ec2Error> {
    let e = store.write(|tx| -> Result<Eni, Ec2Error> {
        let e = Eni::by_attachment(tx, attachment_id)?;
        let instance_id = e.instance_id.clone().unwrap_or_default();
        if e.device_index == Some(0) {
            return Err(Ec2Error::new(
                "OperationNotPermitted",
                format!(
                    "The network interface at device index 0 cannot be detached ({} is {instance_id}'s primary interface)",
                    e.eni_id
                ),
            ));
        }
        let inst = Instance::get(tx, &instance_id)?;
        if inst.state != State::Stopped {
            return Err(Ec2Error::new(
                "IncorrectInstanceState",
                format!(
                    "The instance '{instance_id}' is {}: ec2lab cannot take a network interface from a running guest (no hot-unplug, also with --force). Stop the instance first",
                    inst.state.name()
                ),
            ));
        }
        eni::detach(tx, &e.eni_id)?;
        Ok(e)
    })?;
    host::delete_link(&e.tap);
    net::sync(store)
}

/// `delete-network-interface`: only when it is not attached.
pub fn delete(store: &mut Store, eni_id: &str) -> Result<(), Ec2Error> {
    let e = store.write(|tx| -> Result<Eni, Ec2Error> {
        let e = Eni::get(tx, eni_id)?;
        if let Some(i) = &e.instance_id {
            return Err(Ec2Error::new(
                "InvalidNetworkInterface.InUse",
                format!(
                    "The network interface '{eni_id}' is currently in use by {i}; detach it first"
                ),
            ));
        }
        eni::release(tx, eni_id)?;
        Ok(e)
    })?;
    host::delete_link(&e.tap);
    net::sync(store)
}

/// AttachNetworkInterface, for every front end: see [`attach`].
pub fn attach_network_interface(
    store: &mut Store,
    req: &AttachNetworkInterfaceRequest,
) -> Result<AttachNetworkInterfaceResult, Ec2Error> {
    let attachment_id = attach(
        store,
        &req.network_interface_id,
        &req.instance_id,
        req.device_index,
    )?;
    Ok(AttachNetworkInterfaceResult {
        attachment_id,
        network_card_index: 0,
    })
}

/// DetachNetworkInterface, for every front end: see [`detach`]. `Force` changes nothing:
/// the instance must be stopped either way.
pub fn detach_network_interface(
    store: &mut Store,
    req: &DetachNetworkInterfaceRequest,
) -> Result<(), Ec2Error> {
    if req.attachment_id.is_empty() {
        return Err(Ec2Error::missing_parameter("AttachmentId"));
    }
    detach(store, &req.attachment_id)
}

/// DeleteNetworkInterface, for every front end: see [`delete`].
pub fn delete_network_interface(
    store: &mut Store,
    req: &DeleteNetworkInterfaceRequest,
) -> Result<(), Ec2Error> {
    delete(store, &req.network_interface_id)
}

/// ModifyNetworkInterfaceAttribute, for every front end: ec2lab changes the groups (see
/// [`set_eni_groups`]).
pub fn modify_network_interface_attribute(
    store: &mut Store,
    req: &ModifyNetworkInterfaceAttributeRequest,
) -> Result<(), Ec2Error> {
    if req.groups.is_empty() {
        return Err(Ec2Error::missing_parameter(
            "SecurityGroupId (the interface's new groups: the attribute ec2lab changes)",
        ));
    }
    set_eni_groups(store, &req.network_interface_id, &req.groups)
}
