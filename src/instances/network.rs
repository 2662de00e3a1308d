//! An instance's network: its primary interface (created at launch, released at
//! terminate), the host tap the VMM uses, and the address the guest kernel configures
//! from its command line.

use serde_json::{json, Value};

use super::record::Instance;
use crate::error::Ec2Error;
use crate::net::eni::Eni;
use crate::net::groups::SecurityGroup;
use crate::net::vpc::{self, Subnet, Vpc};
use crate::net::{self, host};
use crate::store::Store;

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
    let groups = if group_ids.is_empty() {
        vec![SecurityGroup::default_of(c, &subnet.vpc_id)?.group_id]
    } else {
        for g in group_ids {
            let sg = SecurityGroup::get(c, g)?;
            if sg.vpc_id != subnet.vpc_id {
                return Err(Ec2Error::invalid_parameter(format!(
                    "Security group {g} and subnet {} belong to different networks",
                    subnet.subnet_id
                )));
            }
        }
        group_ids.to_vec()
    };
    Ok((subnet, groups))
}

/// AWS's private host name for an address: `ip-172-31-0-4`.
fn hostname(eni: &Eni) -> String {
    format!("ip-{}", eni.private_ip.to_string().replace('.', "-"))
}

/// The network fields of `describe-instances`, for an instance with an interface.
pub fn describe(store: &Store, inst: &Instance) -> Result<Option<Value>, Ec2Error> {
    let c = store.conn();
    let Some(eni) = Eni::of_instance(c, &inst.instance_id)? else {
        return Ok(None);
    };
    let subnet = Subnet::get(c, &eni.subnet_id).ok();
    let groups: Vec<Value> = eni
        .groups
        .iter()
        .map(|g| {
            let name = SecurityGroup::get(c, g)
                .map(|s| s.group_name)
                .unwrap_or_default();
            json!({"GroupId": g, "GroupName": name})
        })
        .collect();
    let region = store.region();
    let mut v = json!({
        "PrivateIpAddress": eni.private_ip.to_string(),
        "PrivateDnsName": format!("{}.{region}.compute.internal", hostname(&eni)),
        "SubnetId": eni.subnet_id,
        "VpcId": eni.vpc_id,
        "SecurityGroups": groups,
        "NetworkInterfaces": [eni.describe(subnet.as_ref())],
        "SourceDestCheck": true,
    });
    if let Some(p) = eni.public_ip {
        v["PublicIpAddress"] = json!(p.to_string());
        v["PublicDnsName"] = json!(format!(
            "ec2-{}.{region}.compute.ec2lab",
            p.to_string().replace('.', "-")
        ));
    }
    Ok(Some(v))
}

/// Plumbs the host side (bridge, tap, firewall) and returns the VMM arguments that give
/// the guest its interface and address.
pub fn vmm_args(store: &Store, inst: &Instance) -> Result<Vec<String>, Ec2Error> {
    let c = store.conn();
    let Some(eni) = Eni::of_instance(c, &inst.instance_id)? else {
        return Ok(vec![]);
    };
    let subnet = Subnet::get(c, &eni.subnet_id)?;
    let vpc = Vpc::get(c, &eni.vpc_id)?;
    net::sync(store)?;
    host::ensure_tap(&eni.tap, &vpc.bridge)?;
    // The kernel's own configuration (IP_PNP): no DHCP client, no extra process.
    let ip = format!(
        "ip={}::{}:{}:{}:eth0:off",
        eni.private_ip,
        subnet.gateway(),
        vpc::netmask(&subnet.cidr),
        hostname(&eni)
    );
    Ok(vec![
        "--net".into(),
        format!("tap={},mac={}", eni.tap, eni.mac),
        "--append".into(),
        ip,
    ])
}

/// At terminate: the interface goes, with its addresses and tap, and the firewall forgets it.
pub fn release(store: &mut Store, inst: &Instance) -> Result<(), Ec2Error> {
    let Some(eni) = Eni::of_instance(store.conn(), &inst.instance_id)? else {
        return Ok(());
    };
    store.write(|tx| crate::net::eni::release(tx, &eni.eni_id))?;
    host::delete_link(&eni.tap);
    net::sync(store)
}

/// `modify-instance-attribute --groups`: takes effect on the running instance at once.
pub fn set_groups(store: &mut Store, inst: &Instance, groups: &[String]) -> Result<(), Ec2Error> {
    let eni = Eni::of_instance(store.conn(), &inst.instance_id)?.ok_or_else(|| {
        Ec2Error::internal(format!("{} has no network interface", inst.instance_id))
    })?;
    store.write(|tx| -> Result<(), Ec2Error> {
        for g in groups {
            let sg = SecurityGroup::get(tx, g)?;
            if sg.vpc_id != eni.vpc_id {
                return Err(Ec2Error::invalid_parameter(format!(
                    "Security group {g} is not in the instance's VPC {}",
                    eni.vpc_id
                )));
            }
        }
        crate::net::eni::set_groups(tx, &eni.eni_id, groups)
    })?;
    net::sync(store)
}
