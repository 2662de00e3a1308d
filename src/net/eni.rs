//! Elastic network interfaces: a host tap device on the VPC's bridge, a stable MAC, a
//! private address from the subnet (never handed out twice: a unique index in the store),
//! the security groups, and optionally a public address.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{json, Value};

use super::firewall::Ipv4Cidr;
use super::vpc::{nth, size, Subnet};
use crate::error::Ec2Error;
use crate::ids::{self, OWNER_ID};

/// Public addresses come from a range reserved for benchmarks (RFC 2544): never on the
/// internet, reachable here only through ec2lab's NAT rules.
pub const PUBLIC_POOL: &str = "198.18.0.0/16";

#[derive(Clone, Debug, PartialEq)]
pub struct Eni {
    pub eni_id: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub mac: String,
    pub private_ip: Ipv4Addr,
    pub tap: String,
    pub groups: Vec<String>,
    pub instance_id: Option<String>,
    pub public_ip: Option<Ipv4Addr>,
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
        })
    }

    pub fn all(c: &Connection) -> Result<Vec<Eni>, Ec2Error> {
        let mut stmt = c.prepare("SELECT * FROM enis ORDER BY eni_id")?;
        let rows = stmt.query_map([], Eni::from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub fn of_instance(c: &Connection, instance_id: &str) -> Result<Option<Eni>, Ec2Error> {
        Ok(c.query_row(
            "SELECT * FROM enis WHERE instance_id = ?1",
            [instance_id],
            Eni::from_row,
        )
        .optional()?)
    }

    pub fn mac_bytes(&self) -> [u8; 6] {
        let mut out = [0u8; 6];
        for (o, p) in out.iter_mut().zip(self.mac.split(':')) {
            *o = u8::from_str_radix(p, 16).unwrap_or(0);
        }
        out
    }

    pub fn describe(&self, subnet: Option<&Subnet>) -> Value {
        let mut v = json!({
            "NetworkInterfaceId": self.eni_id,
            "SubnetId": self.subnet_id,
            "VpcId": self.vpc_id,
            "MacAddress": self.mac,
            "PrivateIpAddress": self.private_ip.to_string(),
            "Groups": self.groups.iter().map(|g| json!({"GroupId": g})).collect::<Vec<_>>(),
            "Status": if self.instance_id.is_some() { "in-use" } else { "available" },
            "InterfaceType": "interface",
            "OwnerId": OWNER_ID,
            "SourceDestCheck": true,
            "Ec2LabInfo": {"Tap": self.tap},
        });
        if let Some(s) = subnet {
            v["AvailabilityZone"] = json!(s.availability_zone);
        }
        if let Some(i) = &self.instance_id {
            v["Attachment"] = json!({"InstanceId": i, "DeviceIndex": 0, "Status": "attached",
                                     "DeleteOnTermination": true});
        }
        if let Some(p) = self.public_ip {
            v["Association"] = json!({"PublicIp": p.to_string(), "IpOwnerId": "amazon"});
        }
        v
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
    (4..size(&subnet.cidr).saturating_sub(1))
        .map(|n| nth(&subnet.cidr, n))
        .find(|ip| !used.contains(ip))
        .ok_or_else(|| {
            Ec2Error::new(
                "InsufficientFreeAddressesInSubnet",
                format!("The subnet {} has no free addresses left", subnet.subnet_id),
            )
        })
}

pub fn free_public(c: &Connection) -> Result<Ipv4Addr, Ec2Error> {
    let pool: Ipv4Cidr = PUBLIC_POOL.parse().expect("valid pool");
    let mut used = used_ips(c, "public_ip")?;
    // Elastic IPs are the account's even while not associated.
    let mut stmt = c.prepare("SELECT public_ip FROM addresses")?;
    used.extend(
        stmt.query_map([], |r| r.get::<_, String>(0))?
            .filter_map(|r| r.ok()?.parse::<Ipv4Addr>().ok()),
    );
    (2..size(&pool) - 1)
        .map(|n| nth(&pool, n))
        .find(|ip| !used.contains(ip))
        .ok_or_else(|| Ec2Error::new("AddressLimitExceeded", "No public addresses left"))
}

/// Creates an interface in `subnet`, for `instance_id` when given.
pub fn create(
    c: &Connection,
    subnet: &Subnet,
    groups: &[String],
    public: bool,
    instance_id: Option<&str>,
) -> Result<Eni, Ec2Error> {
    let eni_id = ids::new_id("eni");
    let private_ip = free_private(c, subnet)?;
    let public_ip = if public { Some(free_public(c)?) } else { None };
    let mac = crate::vmm::config::mac_for(&eni_id);
    let eni = Eni {
        tap: format!("ec2t{}", &eni_id[4..14]),
        mac: mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        eni_id,
        subnet_id: subnet.subnet_id.clone(),
        vpc_id: subnet.vpc_id.clone(),
        private_ip,
        groups: groups.to_vec(),
        instance_id: instance_id.map(String::from),
        public_ip,
    };
    c.execute(
        "INSERT INTO enis (eni_id, subnet_id, vpc_id, mac, private_ip, tap, groups, instance_id, public_ip)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
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
        ],
    )?;
    Ok(eni)
}

pub fn set_groups(c: &Connection, eni_id: &str, groups: &[String]) -> Result<(), Ec2Error> {
    c.execute(
        "UPDATE enis SET groups = ?2 WHERE eni_id = ?1",
        params![eni_id, serde_json::to_string(groups).unwrap_or_default()],
    )?;
    Ok(())
}

/// Deletes the interface record: its private and public addresses are free again.
pub fn release(c: &Connection, eni_id: &str) -> Result<(), Ec2Error> {
    super::addresses::forget_eni(c, eni_id)?;
    c.execute("DELETE FROM enis WHERE eni_id = ?1", [eni_id])?;
    Ok(())
}
