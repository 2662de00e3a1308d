//! Usage records: what was metered and when. The store's triggers (`billing_*` in
//! `store.rs`) open a record when a metered state begins (an instance enters `running`, a
//! volume or snapshot is made, an Elastic IP is left unassociated, a public IPv4 address is
//! put on an interface) and close it when the state ends, in the same transaction as the
//! change; nothing here guesses from "now" except how far an open record has run.

use rusqlite::{params, Connection};

use crate::error::Ec2Error;

/// What a record meters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An instance's running time (usage type: the instance type).
    Instance,
    /// An EBS volume's provisioned GiB (usage type: the volume type).
    Volume,
    /// A snapshot's stored bytes.
    Snapshot,
    /// An Elastic IP allocated and not associated.
    AddressIdle,
    /// A public IPv4 address on an interface.
    AddressInUse,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "instance" => Kind::Instance,
            "volume" => Kind::Volume,
            "snapshot" => Kind::Snapshot,
            "address-idle" => Kind::AddressIdle,
            "address-in-use" => Kind::AddressInUse,
            _ => return None,
        })
    }
}

/// How an instance's time was bought.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purchase {
    /// On-demand (what a Reserved Instance may cover).
    OnDemand,
    /// Spot, at the spot price in effect.
    Spot,
}

/// One usage record.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The instance, volume, snapshot, allocation id or public address.
    pub resource_id: String,
    /// What it meters.
    pub kind: Kind,
    /// The instance type or volume type (empty for the others).
    pub usage_type: String,
    /// On-demand or spot.
    pub purchase: Purchase,
    /// GiB for volumes, bytes for snapshots, 1 for the others.
    pub quantity: f64,
    /// When it began (ms since the epoch).
    pub start_ms: i64,
    /// When it ended; `None` while it goes on.
    pub end_ms: Option<i64>,
}

/// The records that overlap `[from_ms, to_ms)`.
pub fn overlapping(c: &Connection, from_ms: i64, to_ms: i64) -> Result<Vec<Record>, Ec2Error> {
    let mut stmt = c.prepare(
        "SELECT resource_id, kind, usage_type, purchase, quantity, start_ms, end_ms
         FROM billing_usage
         WHERE start_ms < ?2 AND (end_ms IS NULL OR end_ms + 60000 > ?1)
         ORDER BY start_ms, id",
    )?;
    let rows = stmt.query_map(params![from_ms, to_ms], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, f64>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, Option<i64>>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (resource_id, kind, usage_type, purchase, quantity, start_ms, end_ms) = row?;
        let Some(kind) = Kind::parse(&kind) else {
            continue;
        };
        out.push(Record {
            resource_id,
            kind,
            usage_type,
            purchase: if purchase == "Spot" {
                Purchase::Spot
            } else {
                Purchase::OnDemand
            },
            quantity,
            start_ms,
            end_ms,
        });
    }
    Ok(out)
}

/// Every record of one resource, oldest first (for tests and `ec2lab billing`).
pub fn of_resource(c: &Connection, resource_id: &str) -> Result<Vec<Record>, Ec2Error> {
    Ok(overlapping(c, i64::MIN / 2, i64::MAX / 2)?
        .into_iter()
        .filter(|r| r.resource_id == resource_id)
        .collect())
}
