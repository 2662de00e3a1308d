//! Elastic network interfaces: a host tap device on the VPC's bridge, a stable MAC, a
//! private address from the subnet (never handed out twice: a unique index in the store),
//! the security groups, and optionally a public address.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::cidr::Ipv4Cidr;
use super::groups::SecurityGroup;
use super::vpc::Subnet;
use crate::ec2::shapes::network::{
    self as shapes, GroupIdentifier, NetworkInterfaceAssociation, NetworkInterfaceAttachment,
    NetworkInterfacePrivateIpAddress,
};
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::ids::{self, OWNER_ID};

/// Public addresses come from a range reserved for benchmarks (RFC 2544): never on the
/// internet, reachable here only through ec2lab's NAT rules.
pub const PUBLIC_POOL: &str = "198.18.0.0/16";

/// An `enis` row.
#[derive(Clone, Debug, PartialEq)]
pub struct Eni {
    /// `eni-…`.
    pub eni_id: String,
    /// Its subnet.
    pub subnet_id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its MAC, `aa:bb:…`.
    pub mac: String,
    /// Its private address.
    pub private_ip: Ipv4Addr,
    /// The host's tap device for it.
    pub tap: String,
    /// Its security groups.
    pub groups: Vec<String>,
    /// Its instance, when attached.
    pub instance_id: Option<String>,
    /// Its public address (automatic or Elastic).
    pub public_ip: Option<Ipv4Addr>,
    /// Free text.
    pub description: String,
    /// Where it sits on its instance (0: the primary interface, eth0 in the guest).
    pub device_index: Option<i64>,
    /// `eni-attach-…`, when attached.
    pub attachment_id: Option<String>,
    /// When it was attached (ISO 8601).
    pub attach_time: Option<String>,
    /// Whether terminating its instance deletes it.
    pub delete_on_termination: bool,
    /// The interface gets an automatic public address whenever its instance starts
    /// (the primary interface of an instance launched with one), as on AWS.
    pub auto_public: bool,
    /// Its tags.
    pub tags: Vec<Tag>,
}

/// What `create` needs besides the subnet.
#[derive(Default)]
pub struct NewEni<'a> {
    /// Its security groups, already checked.
    pub groups: &'a [String],
    /// Free text.
    pub description: &'a str,
    /// None: the first free address of the subnet.
    pub private_ip: Option<Ipv4Addr>,
    /// An automatic public address now and at every start.
    pub public: bool,
    /// Attached as the primary interface (device index 0) of this instance.
    pub instance_id: Option<&'a str>,
    /// Its tags, already checked.
    pub tags: &'a [Tag],
}

fn ip_col(r: &Row, col: &str) -> rusqlite::Result<Option<Ipv4Addr>> {
    Ok(r.get::<_, Option<String>>(col)?
        .and_then(|s| s.parse().ok()))
}

impl Eni {
    fn from_row(r: &Row) -> rusqlite::Result<Eni> {
        Ok(Eni {
            eni_id: r.get("eni_id")?,
            subnet_id: r.get("subnet_id")?,
            vpc_id: r.get("vpc_id")?,
            mac: r.get("mac")?,
            private_ip: ip_col(r, "private_ip")?.unwrap_or(Ipv4Addr::UNSPECIFIED),
            tap: r.get("tap")?,
            groups: serde_json::from_str(&r.get::<_, String>("groups")?).unwrap_or_default(),
            instance_id: r.get("instance_id")?,
            public_ip: ip_col(r, "public_ip")?,
            description: r.get("description")?,
            device_index: r.get("device_index")?,
            attachment_id: r.get("attachment_id")?,
            attach_time: r.get("attach_time")?,
            delete_on_termination: r.get("delete_on_termination")?,
            auto_public: r.get("auto_public")?,
            tags: tags::from_column(&r.get::<_, String>("tags")?),
        })
    }

    /// The interface `eni_id`, or EC2's error for a malformed or unknown id.
    pub fn get(c: &Connection, eni_id: &str) -> Result<Eni, Ec2Error> {
        Ec2Error::check_id(eni_id, "eni", "NetworkInterface")?;
        c.query_row(
            "SELECT * FROM enis WHERE eni_id = ?1",
            [eni_id],
            Eni::from_row,
        )
        .optional()?
        .ok_or_else(|| {
            Ec2Error::new(
                "InvalidNetworkInterfaceID.NotFound",
                format!("The networkInterface ID '{eni_id}' does not exist"),
            )
        })
    }

    /// The attached interface whose attachment is `attachment_id`.
    pub fn by_attachment(c: &Connection, attachment_id: &str) -> Result<Eni, Ec2Error> {
        c.query_row(
            "SELECT * FROM enis WHERE attachment_id = ?1 AND instance_id IS NOT NULL",
            [attachment_id],
            Eni::from_row,
        )
        .optional()?
        .ok_or_else(|| {
            Ec2Error::new(
                "InvalidAttachmentID.NotFound",
                format!("The attachment ID '{attachment_id}' does not exist; describe-network-interfaces shows each interface's Attachment.AttachmentId"),
            )
        })
    }

    /// Every interface of an instance, primary first (the guest's eth0, eth1, …).
    pub fn attached_to(c: &Connection, instance_id: &str) -> Result<Vec<Eni>, Ec2Error> {
        let mut stmt =
            c.prepare("SELECT * FROM enis WHERE instance_id = ?1 ORDER BY device_index")?;
        let rows = stmt.query_map([instance_id], Eni::from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The interfaces of each of `instance_ids`, primary first, in one query
    /// (`DescribeInstances` of many instances); an instance without any has no entry.
    pub fn attached_to_each(
        c: &Connection,
        instance_ids: &[&str],
    ) -> Result<HashMap<String, Vec<Eni>>, Ec2Error> {
        let mut stmt = c.prepare_cached(
            "SELECT * FROM enis WHERE instance_id IN (SELECT value FROM json_each(?1))
             ORDER BY device_index",
        )?;
        let ids = serde_json::to_string(instance_ids).unwrap_or_default();
        let mut out: HashMap<String, Vec<Eni>> = HashMap::new();
        for e in stmt.query_map([ids], Eni::from_row)? {
            let e = e?;
            if let Some(id) = &e.instance_id {
                out.entry(id.clone()).or_default().push(e);
            }
        }
        Ok(out)
    }

    /// Every interface, by id.
    pub fn all(c: &Connection) -> Result<Vec<Eni>, Ec2Error> {
        let mut stmt = c.prepare("SELECT * FROM enis ORDER BY eni_id")?;
        let rows = stmt.query_map([], Eni::from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The instance's primary interface (device index 0).
    pub fn of_instance(c: &Connection, instance_id: &str) -> Result<Option<Eni>, Ec2Error> {
        Ok(Self::attached_to(c, instance_id)?.into_iter().next())
    }

    /// The MAC as bytes.
    pub fn mac_bytes(&self) -> [u8; 6] {
        let mut out = [0u8; 6];
        for (o, p) in out.iter_mut().zip(self.mac.split(':')) {
            *o = u8::from_str_radix(p, 16).unwrap_or(0);
        }
        out
    }

    /// The interface as EC2 shows it; group names and the zone are looked up in `c`.
    pub fn to_shape(&self, c: &Connection) -> shapes::NetworkInterface {
        let groups = self
            .groups
            .iter()
            .map(|g| GroupIdentifier {
                group_id: g.clone(),
                group_name: SecurityGroup::get(c, g)
                    .map(|s| s.group_name)
                    .unwrap_or_default(),
            })
            .collect();
        let association = self.public_ip.map(|p| NetworkInterfaceAssociation {
            public_ip: p.to_string(),
            ip_owner_id: "amazon".into(),
        });
        shapes::NetworkInterface {
            network_interface_id: self.eni_id.clone(),
            subnet_id: self.subnet_id.clone(),
            vpc_id: self.vpc_id.clone(),
            availability_zone: Subnet::get(c, &self.subnet_id)
                .ok()
                .map(|s| s.availability_zone),
            description: self.description.clone(),
            mac_address: self.mac.clone(),
            private_ip_address: self.private_ip.to_string(),
            private_ip_addresses: vec![NetworkInterfacePrivateIpAddress {
                primary: true,
                private_ip_address: self.private_ip.to_string(),
                association: association.clone(),
            }],
            groups,
            status: if self.instance_id.is_some() {
                "in-use"
            } else {
                "available"
            }
            .into(),
            interface_type: "interface".into(),
            owner_id: OWNER_ID.into(),
            requester_managed: false,
            source_dest_check: true,
            attachment: self
                .instance_id
                .as_ref()
                .map(|i| NetworkInterfaceAttachment {
                    attachment_id: self.attachment_id.clone(),
                    instance_id: i.clone(),
                    instance_owner_id: OWNER_ID.into(),
                    device_index: self.device_index,
                    network_card_index: 0,
                    status: "attached".into(),
                    attach_time: self.attach_time.clone(),
                    delete_on_termination: self.delete_on_termination,
                }),
            association,
            tag_set: self.tags.clone(),
            ec2lab_info: shapes::NetworkInterfaceLabInfo {
                tap: self.tap.clone(),
            },
        }
    }
}

fn used_ips(c: &Connection, col: &str) -> Result<HashSet<Ipv4Addr>, Ec2Error> {
    let mut stmt = c.prepare(&format!("SELECT {col} FROM enis WHERE {col} IS NOT NULL"))?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.filter_map(|r| r.ok()?.parse().ok()).collect())
}

/// The first free private address: AWS keeps the first four and the last for itself.
fn free_private(c: &Connection, subnet: &Subnet) -> Result<Ipv4Addr, Ec2Error> {
    let used = used_ips(c, "private_ip")?;
    (4..subnet.cidr.size().saturating_sub(1))
        .map(|n| subnet.cidr.nth(n))
        .find(|ip| !used.contains(ip))
        .ok_or_else(|| {
            Ec2Error::new(
                "InsufficientFreeAddressesInSubnet",
                format!("The subnet {} has no free addresses left", subnet.subnet_id),
            )
        })
}

/// Checks an address asked for with `--private-ip-address`.
fn wanted_private(c: &Connection, subnet: &Subnet, ip: Ipv4Addr) -> Result<Ipv4Addr, Ec2Error> {
    if !subnet.cidr.contains(ip) {
        return Err(Ec2Error::invalid_parameter(format!(
            "Address {ip} does not fall within the subnet's address range ({} is {})",
            subnet.subnet_id, subnet.cidr
        )));
    }
    let n = u32::from(ip) - u32::from(subnet.cidr.addr);
    if n < 4 || n + 1 == subnet.cidr.size() {
        return Err(Ec2Error::invalid_parameter(format!(
            "Address {ip} is in subnet's reserved address range: the first four and the last address of {} are AWS's",
            subnet.cidr
        )));
    }
    if used_ips(c, "private_ip")?.contains(&ip) {
        return Err(Ec2Error::new(
            "InvalidIPAddress.InUse",
            format!("Address {ip} is in use; pick another or leave --private-ip-address out"),
        ));
    }
    Ok(ip)
}

/// A free public address from the pool, at a random place.
pub fn free_public(c: &Connection) -> Result<Ipv4Addr, Ec2Error> {
    let pool: Ipv4Cidr = PUBLIC_POOL.parse().expect("valid pool");
    let mut used = used_ips(c, "public_ip")?;
    // Elastic IPs are the account's even while not associated.
    let mut stmt = c.prepare("SELECT public_ip FROM addresses")?;
    used.extend(
        stmt.query_map([], |r| r.get::<_, String>(0))?
            .filter_map(|r| r.ok()?.parse::<Ipv4Addr>().ok()),
    );
    // From a random place in the pool, as AWS hands them out: an instance that stops and
    // starts gets a different address, not the one it just gave back.
    let usable = pool.size() - 3;
    let start = ids::random_u32() % usable;
    (0..usable)
        .map(|k| pool.nth(2 + (start + k) % usable))
        .find(|ip| !used.contains(ip))
        .ok_or_else(|| Ec2Error::new("AddressLimitExceeded", "No public addresses left"))
}

/// Creates an interface in `subnet`; attached as the primary interface of
/// `new.instance_id` when given.
pub fn create(c: &Connection, subnet: &Subnet, new: &NewEni) -> Result<Eni, Ec2Error> {
    let eni_id = ids::new_id("eni");
    let private_ip = match new.private_ip {
        Some(ip) => wanted_private(c, subnet, ip)?,
        None => free_private(c, subnet)?,
    };
    let public_ip = if new.public {
        Some(free_public(c)?)
    } else {
        None
    };
    let mac = crate::vmm::config::mac_for(&eni_id);
    let attached = new.instance_id.is_some();
    let eni = Eni {
        tap: format!("ec2t{}", &eni_id[4..14]),
        mac: mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        subnet_id: subnet.subnet_id.clone(),
        vpc_id: subnet.vpc_id.clone(),
        private_ip,
        groups: new.groups.to_vec(),
        instance_id: new.instance_id.map(String::from),
        public_ip,
        description: new.description.into(),
        device_index: attached.then_some(0),
        attachment_id: attached.then(new_attachment_id),
        attach_time: attached.then(crate::store::iso8601_now),
        delete_on_termination: attached,
        auto_public: new.public,
        tags: new.tags.to_vec(),
        eni_id,
    };
    c.execute(
        "INSERT INTO enis (eni_id, subnet_id, vpc_id, mac, private_ip, tap, groups, instance_id,
           public_ip, description, device_index, attachment_id, attach_time,
           delete_on_termination, auto_public, tags)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)",
        params![
            eni.eni_id,
            eni.subnet_id,
            eni.vpc_id,
            eni.mac,
            eni.private_ip.to_string(),
            eni.tap,
            serde_json::to_string(&eni.groups).unwrap_or_default(),
            eni.instance_id,
            eni.public_ip.map(|p| p.to_string()),
            eni.description,
            eni.device_index,
            eni.attachment_id,
            eni.attach_time,
            eni.delete_on_termination,
            eni.auto_public,
            tags::to_column(&eni.tags),
        ],
    )?;
    Ok(eni)
}

/// A fresh attachment id: `eni-attach-` and 17 hex digits.
fn new_attachment_id() -> String {
    ids::new_id("eni-attach")
}

/// Records the interface on `instance_id` at `device_index` (the caller checked the
/// instance); the unique index on (instance, device index) backs the check.
pub fn attach(
    c: &Connection,
    eni_id: &str,
    instance_id: &str,
    device_index: i64,
) -> Result<String, Ec2Error> {
    let id = new_attachment_id();
    c.execute(
        "UPDATE enis SET instance_id = ?2, device_index = ?3, attachment_id = ?4,
           attach_time = ?5, delete_on_termination = 0 WHERE eni_id = ?1",
        params![
            eni_id,
            instance_id,
            device_index,
            id,
            crate::store::iso8601_now()
        ],
    )?;
    Ok(id)
}

/// Takes the interface off its instance. An automatic public address goes with it; an
/// Elastic IP stays associated with the interface, as on AWS.
pub fn detach(c: &Connection, eni_id: &str) -> Result<(), Ec2Error> {
    c.execute(
        "UPDATE enis SET instance_id = NULL, device_index = NULL, attachment_id = NULL,
           attach_time = NULL, delete_on_termination = 0, auto_public = 0,
           public_ip = CASE WHEN public_ip IN (SELECT public_ip FROM addresses) THEN public_ip END
         WHERE eni_id = ?1",
        [eni_id],
    )?;
    Ok(())
}

/// At stop: automatic public addresses go back to the pool (Elastic IPs stay).
pub fn release_auto_public(c: &Connection, instance_id: &str) -> Result<(), Ec2Error> {
    c.execute(
        "UPDATE enis SET public_ip = NULL WHERE instance_id = ?1
           AND public_ip NOT IN (SELECT public_ip FROM addresses)",
        [instance_id],
    )?;
    Ok(())
}

/// At start: a fresh automatic public address for the primary interface, when it was
/// launched with one and has no Elastic IP. As on AWS, an instance with more than one
/// interface gets none.
pub fn assign_auto_public(c: &Connection, instance_id: &str) -> Result<(), Ec2Error> {
    let enis = Eni::attached_to(c, instance_id)?;
    if let [e] = enis.as_slice() {
        if e.auto_public && e.public_ip.is_none() {
            c.execute(
                "UPDATE enis SET public_ip = ?2 WHERE eni_id = ?1",
                params![e.eni_id, free_public(c)?.to_string()],
            )?;
        }
    }
    Ok(())
}

/// Replaces the interface's security groups.
pub fn set_groups(c: &Connection, eni_id: &str, groups: &[String]) -> Result<(), Ec2Error> {
    c.execute(
        "UPDATE enis SET groups = ?2 WHERE eni_id = ?1",
        params![eni_id, serde_json::to_string(groups).unwrap_or_default()],
    )?;
    Ok(())
}

/// Deletes the interface record: its private and public addresses are free again. An
/// Elastic IP associated with it stays allocated to the account, unassociated.
pub fn release(c: &Connection, eni_id: &str) -> Result<(), Ec2Error> {
    c.execute(
        "UPDATE addresses SET association_id = NULL, eni_id = NULL WHERE eni_id = ?1",
        [eni_id],
    )?;
    c.execute("DELETE FROM enis WHERE eni_id = ?1", [eni_id])?;
    Ok(())
}
