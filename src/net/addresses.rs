//! Elastic IP addresses: public addresses allocated to the account, associated with an
//! instance's interface and kept across stop and start, released only when asked. These are
//! the records; the actions (`net::actions::addresses`) make a change of an association one
//! transaction, then the host's NAT rules follow (`net::sync`).

use std::net::Ipv4Addr;

use rusqlite::{params, Connection, OptionalExtension};

use super::eni::{self, Eni};
use crate::ec2::shapes::network as shapes;
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::ids;

/// An `addresses` row.
#[derive(Clone, Debug, PartialEq)]
pub struct Address {
    /// `eipalloc-…`.
    pub allocation_id: String,
    /// The address.
    pub public_ip: Ipv4Addr,
    /// `eipassoc-…`, when associated.
    pub association_id: Option<String>,
    /// The interface it is on, when associated.
    pub eni_id: Option<String>,
    /// Its tags.
    pub tags: Vec<Tag>,
}

impl Address {
    /// Every address, by address.
    pub fn all(c: &Connection) -> Result<Vec<Address>, Ec2Error> {
        let mut stmt = c.prepare("SELECT * FROM addresses ORDER BY public_ip")?;
        let rows = stmt.query_map([], |r| {
            Ok(Address {
                allocation_id: r.get("allocation_id")?,
                public_ip: r
                    .get::<_, String>("public_ip")?
                    .parse()
                    .unwrap_or(Ipv4Addr::UNSPECIFIED),
                association_id: r.get("association_id")?,
                eni_id: r.get("eni_id")?,
                tags: tags::from_column(&r.get::<_, String>("tags")?),
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The address `allocation_id`, or EC2's not-found error.
    pub fn get(c: &Connection, allocation_id: &str) -> Result<Address, Ec2Error> {
        Ec2Error::check_id(allocation_id, "eipalloc", "Allocation")?;
        Self::all(c)?
            .into_iter()
            .find(|a| a.allocation_id == allocation_id)
            .ok_or_else(|| {
                Ec2Error::new(
                    "InvalidAllocationID.NotFound",
                    format!("The allocation ID '{allocation_id}' does not exist"),
                )
            })
    }

    /// The address as EC2 shows it; its interface's instance and private address are
    /// looked up in `c`.
    pub fn to_shape(&self, c: &Connection) -> shapes::Address {
        let eni = self.eni_id.as_ref().and_then(|id| {
            Eni::all(c)
                .ok()
                .and_then(|all| all.into_iter().find(|e| &e.eni_id == id))
        });
        shapes::Address {
            allocation_id: self.allocation_id.clone(),
            public_ip: self.public_ip.to_string(),
            domain: "vpc".into(),
            public_ipv4_pool: "amazon".into(),
            association_id: self.eni_id.as_ref().and(self.association_id.clone()),
            network_interface_id: self.eni_id.clone(),
            instance_id: eni.as_ref().and_then(|e| e.instance_id.clone()),
            private_ip_address: eni.map(|e| e.private_ip.to_string()),
            tags: self.tags.clone(),
        }
    }
}

/// Takes a free public address from the pool for the account.
pub fn allocate(c: &Connection, tags: &[Tag]) -> Result<Address, Ec2Error> {
    let taken: Vec<Ipv4Addr> = Address::all(c)?.iter().map(|a| a.public_ip).collect();
    let mut ip = eni::free_public(c)?;
    // Addresses allocated but not associated are not on any interface: skip them too.
    while taken.contains(&ip) {
        ip = Ipv4Addr::from(u32::from(ip) + 1);
    }
    let a = Address {
        allocation_id: ids::new_id("eipalloc"),
        public_ip: ip,
        association_id: None,
        eni_id: None,
        tags: tags.to_vec(),
    };
    c.execute(
        "INSERT INTO addresses (allocation_id, public_ip, tags) VALUES (?1, ?2, ?3)",
        params![
            a.allocation_id,
            a.public_ip.to_string(),
            tags::to_column(tags)
        ],
    )?;
    Ok(a)
}

/// Puts the address on the instance's interface, replacing its automatic public address.
pub fn associate(
    c: &Connection,
    allocation_id: &str,
    instance_id: &str,
) -> Result<String, Ec2Error> {
    let a = Address::get(c, allocation_id)?;
    Ec2Error::check_id(instance_id, "i", "Instance")?;
    // `net` sits below the instances: it asks their table directly.
    let known = c
        .query_row(
            "SELECT 1 FROM instances WHERE instance_id = ?1",
            [instance_id],
            |_| Ok(()),
        )
        .optional()?;
    if known.is_none() {
        return Err(Ec2Error::instance_not_found(instance_id));
    }
    let e = Eni::of_instance(c, instance_id)?.ok_or_else(|| {
        Ec2Error::new(
            "InvalidInstanceID",
            format!("The instance '{instance_id}' has no network interface"),
        )
    })?;
    if let Some(old) = &a.eni_id {
        c.execute("UPDATE enis SET public_ip = NULL WHERE eni_id = ?1", [old])?;
    }
    let association_id = ids::new_id("eipassoc");
    c.execute(
        "UPDATE addresses SET association_id = NULL, eni_id = NULL WHERE eni_id = ?1",
        [&e.eni_id],
    )?;
    c.execute(
        "UPDATE enis SET public_ip = ?2 WHERE eni_id = ?1",
        params![e.eni_id, a.public_ip.to_string()],
    )?;
    c.execute(
        "UPDATE addresses SET association_id = ?2, eni_id = ?3 WHERE allocation_id = ?1",
        params![allocation_id, association_id, e.eni_id],
    )?;
    Ok(association_id)
}

/// Takes the address off its interface; it stays allocated.
pub fn disassociate(c: &Connection, association_id: &str) -> Result<(), Ec2Error> {
    let a: Option<(String, String)> = c
        .query_row(
            "SELECT allocation_id, eni_id FROM addresses WHERE association_id = ?1",
            [association_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((allocation_id, eni_id)) = a else {
        return Err(Ec2Error::new(
            "InvalidAssociationID.NotFound",
            format!("The association ID '{association_id}' does not exist"),
        ));
    };
    c.execute(
        "UPDATE enis SET public_ip = NULL WHERE eni_id = ?1",
        [&eni_id],
    )?;
    c.execute(
        "UPDATE addresses SET association_id = NULL, eni_id = NULL WHERE allocation_id = ?1",
        [&allocation_id],
    )?;
    Ok(())
}

/// Gives an unassociated address back.
pub fn release(c: &Connection, allocation_id: &str) -> Result<(), Ec2Error> {
    let a = Address::get(c, allocation_id)?;
    if a.eni_id.is_some() {
        return Err(Ec2Error::new(
            "InvalidIPAddress.InUse",
            format!("Address {} is in use; disassociate it first", a.public_ip),
        ));
    }
    c.execute(
        "DELETE FROM addresses WHERE allocation_id = ?1",
        [allocation_id],
    )?;
    Ok(())
}
