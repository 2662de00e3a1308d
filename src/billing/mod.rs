//! Billing: what each instance, volume, snapshot and public address costs, by EC2's rules.
//!
//! - [`usage`]: the usage records the store's triggers keep as states change;
//! - [`prices`]: the price table (data with its date and source, overridable);
//! - [`cost`]: EC2's rules (per-second instances with a one-minute minimum, GiB-months,
//!   Reserved Instances hour by hour) to line items;
//! - [`explorer`] and [`shapes`]: Cost Explorer's `GetCostAndUsage`;
//! - [`reserved`]: Reserved Instance offerings, purchases and their records;
//! - [`savings`]: Compute Savings Plans: offerings, purchases and their records;
//! - [`operations`]: Cost Explorer's and Savings Plans' operations by name, for the API,
//!   `ec2lab ce` and `ec2lab savingsplans`;
//! - [`summary`]: `ec2lab billing`, the bill of a period per resource.

pub mod cost;
pub mod explorer;
pub mod operations;
pub mod prices;
pub mod reserved;
pub mod savings;
pub mod shapes;
pub mod summary;
pub mod usage;

use rusqlite::Connection;

use crate::error::Ec2Error;

/// The spot price history of every instance type, oldest first.
pub fn spot_history(c: &Connection) -> Result<cost::SpotHistory, Ec2Error> {
    let mut stmt =
        c.prepare("SELECT instance_type, ts_ms, price FROM spot_prices ORDER BY ts_ms, rowid")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, f64>(2)?,
        ))
    })?;
    let mut out = cost::SpotHistory::new();
    for row in rows {
        let (ty, ts, price) = row?;
        out.entry(ty).or_default().push((ts, price));
    }
    Ok(out)
}
