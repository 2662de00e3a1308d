//! Reserved Instances as billing constructs: the records of what was bought.

use rusqlite::Connection;

use super::cost::Reservation;
use crate::error::Ec2Error;

/// Every Reserved Instance bought in the region, oldest first.
pub fn reservations(c: &Connection) -> Result<Vec<Reservation>, Ec2Error> {
    let mut stmt = c.prepare(
        "SELECT reserved_id, instance_type, count, start_ms, duration_s, fixed_price, usage_price
         FROM reserved_instances ORDER BY start_ms, reserved_id",
    )?;
    let rows = stmt.query_map([], |r| {
        let start_ms: i64 = r.get(3)?;
        let duration_s: i64 = r.get(4)?;
        Ok(Reservation {
            id: r.get(0)?,
            instance_type: r.get(1)?,
            count: r.get(2)?,
            start_ms,
            end_ms: start_ms + duration_s * 1000,
            fixed_price: r.get(5)?,
            usage_price: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
