//! VPCs and subnets. Each VPC is a Linux bridge on the host; each of its subnets puts its
//! router address (the subnet's first host address, as in AWS) on that bridge. A default
//! VPC (172.31.0.0/16) with a default subnet exists from the first run, as on AWS
//! (housekeeping makes it). These are the records; the actions on them
//! (`net::actions::vpcs`) make every change one transaction, then bring the host's
//! network in step (`net::sync`), whichever front end asked.

use std::net::Ipv4Addr;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::cidr::Ipv4Cidr;
use crate::ec2::shapes::network as shapes;
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::ids::{self, OWNER_ID};
use crate::store::Store;

/// The default VPC's range, as on AWS.
pub const DEFAULT_VPC_CIDR: &str = "172.31.0.0/16";
/// The default subnet's range, as on AWS.
pub const DEFAULT_SUBNET_CIDR: &str = "172.31.0.0/20";
/// Another CIDR for the default VPC of a new state root.
pub const DEFAULT_VPC_ENV: &str = "EC2LAB_DEFAULT_VPC_CIDR";

/// A `vpcs` row.
#[derive(Clone, Debug, PartialEq)]
pub struct Vpc {
    /// `vpc-…`.
    pub vpc_id: String,
    /// Its range.
    pub cidr: Ipv4Cidr,
    /// Whether it is the region's default VPC.
    pub is_default: bool,
    /// The host's Linux bridge for it.
    pub bridge: String,
    /// Its tags.
    pub tags: Vec<Tag>,
}

/// A `subnets` row.
#[derive(Clone, Debug, PartialEq)]
pub struct Subnet {
    /// `subnet-…`.
    pub subnet_id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its range.
    pub cidr: Ipv4Cidr,
    /// Its zone.
    pub availability_zone: String,
    /// Whether it is the zone's default subnet.
    pub is_default: bool,
    /// Whether instances launched here get a public address by default.
    pub map_public_ip: bool,
    /// Its tags.
    pub tags: Vec<Tag>,
}

fn cidr_col(r: &Row, col: &str) -> rusqlite::Result<Ipv4Cidr> {
    let s: String = r.get(col)?;
    s.parse().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, "bad cidr".into())
    })
}

impl Subnet {
    /// The subnet's router: its first host address, on the VPC's bridge.
    pub fn gateway(&self) -> Ipv4Addr {
        self.cidr.nth(1)
    }

    fn from_row(r: &Row) -> rusqlite::Result<Subnet> {
        Ok(Subnet {
            subnet_id: r.get("subnet_id")?,
            vpc_id: r.get("vpc_id")?,
            cidr: cidr_col(r, "cidr")?,
            availability_zone: r.get("availability_zone")?,
            is_default: r.get("is_default")?,
            map_public_ip: r.get("map_public_ip")?,
            tags: tags::from_column(&r.get::<_, String>("tags")?),
        })
    }

    /// Every subnet, by VPC and range.
    pub fn all(c: &Connection) -> Result<Vec<Subnet>, Ec2Error> {
        let mut stmt = c.prepare("SELECT * FROM subnets ORDER BY vpc_id, cidr")?;
        let rows = stmt.query_map([], Subnet::from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The subnet `id`, or EC2's error for a malformed or unknown id.
    pub fn get(c: &Connection, id: &str) -> Result<Subnet, Ec2Error> {
        Ec2Error::check_id(id, "subnet", "Subnet")?;
        c.query_row(
            "SELECT * FROM subnets WHERE subnet_id = ?1",
            [id],
            Subnet::from_row,
        )
        .optional()?
        .ok_or_else(|| {
            Ec2Error::new(
                "InvalidSubnetID.NotFound",
                format!("The subnet ID '{id}' does not exist"),
            )
        })
    }

    /// The default subnet.
    pub fn default(c: &Connection) -> Result<Subnet, Ec2Error> {
        c.query_row(
            "SELECT * FROM subnets WHERE is_default = 1 ORDER BY subnet_id LIMIT 1",
            [],
            Subnet::from_row,
        )
        .optional()?
        .ok_or_else(|| Ec2Error::new("MissingInput", "No default subnet: give --subnet-id"))
    }

    /// The subnet as EC2 shows it.
    pub fn to_shape(&self) -> shapes::Subnet {
        shapes::Subnet {
            subnet_id: self.subnet_id.clone(),
            vpc_id: self.vpc_id.clone(),
            cidr_block: self.cidr.to_string(),
            availability_zone: self.availability_zone.clone(),
            default_for_az: self.is_default,
            map_public_ip_on_launch: self.map_public_ip,
            state: "available".into(),
            owner_id: OWNER_ID.into(),
            // AWS reserves the first four and the last address of every subnet.
            available_ip_address_count: self.cidr.size().saturating_sub(5),
            tags: self.tags.clone(),
        }
    }
}

impl Vpc {
    fn from_row(r: &Row) -> rusqlite::Result<Vpc> {
        Ok(Vpc {
            vpc_id: r.get("vpc_id")?,
            cidr: cidr_col(r, "cidr")?,
            is_default: r.get("is_default")?,
            bridge: r.get("bridge")?,
            tags: tags::from_column(&r.get::<_, String>("tags")?),
        })
    }

    /// Every VPC, by id.
    pub fn all(c: &Connection) -> Result<Vec<Vpc>, Ec2Error> {
        let mut stmt = c.prepare("SELECT * FROM vpcs ORDER BY vpc_id")?;
        let rows = stmt.query_map([], Vpc::from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The VPC `id`, or EC2's error for a malformed or unknown id.
    pub fn get(c: &Connection, id: &str) -> Result<Vpc, Ec2Error> {
        Ec2Error::check_id(id, "vpc", "Vpc")?;
        c.query_row("SELECT * FROM vpcs WHERE vpc_id = ?1", [id], Vpc::from_row)
            .optional()?
            .ok_or_else(|| {
                Ec2Error::new(
                    "InvalidVpcID.NotFound",
                    format!("The vpc ID '{id}' does not exist"),
                )
            })
    }

    /// The VPC as EC2 shows it.
    pub fn to_shape(&self) -> shapes::Vpc {
        shapes::Vpc {
            vpc_id: self.vpc_id.clone(),
            cidr_block: self.cidr.to_string(),
            is_default: self.is_default,
            state: "available".into(),
            owner_id: OWNER_ID.into(),
            instance_tenancy: "default".into(),
            tags: self.tags.clone(),
            ec2lab_info: shapes::VpcLabInfo {
                bridge: self.bridge.clone(),
            },
        }
    }
}

fn parse_cidr(s: &str, code: &'static str) -> Result<Ipv4Cidr, Ec2Error> {
    s.parse()
        .map_err(|e| Ec2Error::new(code, format!("The CIDR '{s}' is invalid: {e}")))
}

/// Records a VPC (and its security group "default"); VPCs may not overlap one another,
/// because all their bridges share the host's routing table.
pub(super) fn insert_vpc(
    c: &Connection,
    cidr: &str,
    is_default: bool,
    tags: &[Tag],
) -> Result<Vpc, Ec2Error> {
    let cidr = parse_cidr(cidr, "InvalidVpc.Range")?;
    if !(16..=28).contains(&cidr.prefix) {
        return Err(Ec2Error::new(
            "InvalidVpc.Range",
            format!("The CIDR '{cidr}' is invalid: the prefix must be between /16 and /28"),
        ));
    }
    if let Some(other) = Vpc::all(c)?.iter().find(|v| v.cidr.overlaps(&cidr)) {
        return Err(Ec2Error::new(
            "InvalidVpc.Range",
            format!(
                "The CIDR '{cidr}' overlaps {} ({}): ec2lab's VPCs share the host's routing table, so they must not overlap",
                other.vpc_id, other.cidr
            ),
        ));
    }
    let vpc_id = ids::new_id("vpc");
    let vpc = Vpc {
        bridge: format!("ec2br{}", &vpc_id[4..14]),
        vpc_id,
        cidr,
        is_default,
        tags: tags.to_vec(),
    };
    c.execute(
        "INSERT INTO vpcs (vpc_id, cidr, is_default, bridge, tags) VALUES (?1,?2,?3,?4,?5)",
        params![
            vpc.vpc_id,
            vpc.cidr.to_string(),
            vpc.is_default,
            vpc.bridge,
            tags::to_column(&vpc.tags)
        ],
    )?;
    super::groups::create(
        c,
        &vpc.vpc_id,
        "default",
        "default VPC security group",
        true,
    )?;
    Ok(vpc)
}

/// Records a subnet of a VPC.
pub(super) fn insert_subnet(
    c: &Connection,
    vpc_id: &str,
    cidr: &str,
    az: &str,
    is_default: bool,
    tags: &[Tag],
) -> Result<Subnet, Ec2Error> {
    let vpc = Vpc::get(c, vpc_id)?;
    let cidr = parse_cidr(cidr, "InvalidSubnet.Range")?;
    if !(16..=28).contains(&cidr.prefix)
        || !vpc.cidr.contains(cidr.addr)
        || cidr.prefix < vpc.cidr.prefix
    {
        return Err(Ec2Error::new(
            "InvalidSubnet.Range",
            format!(
                "The CIDR '{cidr}' is invalid: it must lie in {} and be /16 to /28",
                vpc.cidr
            ),
        ));
    }
    if let Some(other) = Subnet::all(c)?
        .iter()
        .find(|s| s.vpc_id == vpc_id && s.cidr.overlaps(&cidr))
    {
        return Err(Ec2Error::new(
            "InvalidSubnet.Conflict",
            format!(
                "The CIDR '{cidr}' conflicts with another subnet ({}, {})",
                other.subnet_id, other.cidr
            ),
        ));
    }
    let subnet = Subnet {
        subnet_id: ids::new_id("subnet"),
        vpc_id: vpc_id.into(),
        cidr,
        availability_zone: az.into(),
        is_default,
        map_public_ip: is_default,
        tags: tags.to_vec(),
    };
    c.execute(
        "INSERT INTO subnets (subnet_id, vpc_id, cidr, availability_zone, is_default, map_public_ip, tags)
         VALUES (?1,?2,?3,?4,?5,?6,?7)",
        params![
            subnet.subnet_id,
            subnet.vpc_id,
            subnet.cidr.to_string(),
            subnet.availability_zone,
            subnet.is_default,
            subnet.map_public_ip,
            tags::to_column(&subnet.tags)
        ],
    )?;
    Ok(subnet)
}

/// The default VPC's CIDR and its default subnet's: 172.31.0.0/16 and its first /20, as
/// on AWS, or those of [`DEFAULT_VPC_ENV`] (all of it when smaller than a /20). State
/// directories whose instances run at the same time need VPCs that do not overlap (see
/// `net::conflict`).
fn default_cidrs(v: &str) -> Result<(String, String), Ec2Error> {
    if v.is_empty() {
        return Ok((DEFAULT_VPC_CIDR.into(), DEFAULT_SUBNET_CIDR.into()));
    }
    let cidr = parse_cidr(v, "InvalidVpc.Range")
        .map_err(|e| Ec2Error::new(e.code, format!("{DEFAULT_VPC_ENV}: {}", e.message)))?;
    let subnet = Ipv4Cidr {
        addr: cidr.addr,
        prefix: cidr.prefix.max(20),
    };
    Ok((cidr.to_string(), subnet.to_string()))
}

fn has_default(c: &Connection) -> Result<bool, Ec2Error> {
    Ok(
        c.query_row("SELECT 1 FROM vpcs WHERE is_default = 1", [], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

/// The default VPC and subnet, made on first use. Every command's housekeeping calls it:
/// once they exist it costs one read, not a write lock.
pub fn ensure_default(store: &mut Store) -> Result<(), Ec2Error> {
    if has_default(store.conn())? {
        return Ok(());
    }
    let az = format!("{}a", store.region());
    store.write(|tx| -> Result<(), Ec2Error> {
        // Another process may have made them meanwhile: the transaction decides.
        if !has_default(tx)? {
            let (vpc_cidr, subnet_cidr) =
                default_cidrs(&std::env::var(DEFAULT_VPC_ENV).unwrap_or_default())?;
            let vpc = insert_vpc(tx, &vpc_cidr, true, &[])?;
            insert_subnet(tx, &vpc.vpc_id, &subnet_cidr, &az, true, &[])?;
        }
        Ok(())
    })
}

fn in_use(c: &Connection, sql: &str, id: &str) -> Result<bool, Ec2Error> {
    Ok(c.query_row(sql, [id], |_| Ok(())).optional()?.is_some())
}

/// Deletes a subnet that no network interface is in.
pub(super) fn remove_subnet(c: &Connection, id: &str) -> Result<(), Ec2Error> {
    Subnet::get(c, id)?;
    if in_use(c, "SELECT 1 FROM enis WHERE subnet_id = ?1", id)? {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!(
                "The subnet '{id}' has dependencies (network interfaces) and cannot be deleted."
            ),
        ));
    }
    c.execute("DELETE FROM subnets WHERE subnet_id = ?1", [id])?;
    Ok(())
}

/// Deletes a VPC that has no subnets, with its security groups.
pub(super) fn remove_vpc(c: &Connection, id: &str) -> Result<(), Ec2Error> {
    Vpc::get(c, id)?;
    if in_use(c, "SELECT 1 FROM subnets WHERE vpc_id = ?1", id)? {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!("The vpc '{id}' has dependencies (subnets) and cannot be deleted."),
        ));
    }
    c.execute("DELETE FROM security_groups WHERE vpc_id = ?1", [id])?;
    c.execute("DELETE FROM vpcs WHERE vpc_id = ?1", [id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_vpc_is_awss_unless_chosen() {
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            default_cidrs("").unwrap(),
            pair(DEFAULT_VPC_CIDR, DEFAULT_SUBNET_CIDR)
        );
        assert_eq!(
            default_cidrs("10.1.0.0/16").unwrap(),
            pair("10.1.0.0/16", "10.1.0.0/20")
        );
        assert_eq!(
            default_cidrs("10.1.2.0/24").unwrap(),
            pair("10.1.2.0/24", "10.1.2.0/24")
        );
        let e = default_cidrs("10.1.2.3/16").unwrap_err();
        assert!(
            e.code == "InvalidVpc.Range" && e.message.starts_with(DEFAULT_VPC_ENV),
            "{e}"
        );
    }
}
