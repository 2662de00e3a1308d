//! The spot price: it follows how full the host is, and every change is recorded
//! (`spot_prices`: `describe-spot-price-history`, and what billing charges spot time at).

use rusqlite::{params, OptionalExtension};

use crate::billing::prices::{Prices, RegionPrices};
use crate::clock::now_ms;
use crate::error::Ec2Error;
use crate::store::Store;

/// The region's prices (the built-in table with the user's overrides).
pub fn region_prices(store: &Store) -> Result<RegionPrices, Ec2Error> {
    let prices = Prices::load(store.root().parent().unwrap_or(store.root()))?;
    Ok(prices.region(store.region()).clone())
}

/// How full the host is, 0 to 1 (memory held by instances with a VMM over the budget).
pub fn utilization(store: &Store) -> Result<f64, Ec2Error> {
    let (budget, used) = super::capacity::capacity(store)?;
    Ok(if budget == 0 {
        1.0
    } else {
        (used as f64 / budget as f64).clamp(0.0, 1.0)
    })
}

/// The spot price of `ty` at a utilization: from `floor` of on-demand on an empty host to
/// `ceiling` on a full one, rising with the square of how full it is; to the millionth.
pub fn price_at(prices: &RegionPrices, ty: &str, util: f64) -> Result<f64, Ec2Error> {
    let od = prices.on_demand(ty)?;
    let share = prices.spot.floor + (prices.spot.ceiling - prices.spot.floor) * util * util;
    Ok((od * share * 1e6).round() / 1e6)
}

/// The spot price of `ty` now.
pub fn current_price(store: &Store, ty: &str) -> Result<f64, Ec2Error> {
    price_at(&region_prices(store)?, ty, utilization(store)?)
}

/// Records each type's spot price where it changed since the last record.
pub fn record_prices(store: &mut Store) -> Result<(), Ec2Error> {
    let prices = region_prices(store)?;
    let util = utilization(store)?;
    let now = now_ms();
    store.write(|tx| -> Result<(), Ec2Error> {
        for ty in super::types::TYPES {
            let Ok(p) = price_at(&prices, ty.name, util) else {
                continue;
            };
            let last: Option<f64> = tx
                .query_row(
                    "SELECT price FROM spot_prices WHERE instance_type = ?1
                     ORDER BY ts_ms DESC, rowid DESC LIMIT 1",
                    [ty.name],
                    |r| r.get(0),
                )
                .optional()?;
            if last != Some(p) {
                tx.execute(
                    "INSERT INTO spot_prices (instance_type, ts_ms, price) VALUES (?1, ?2, ?3)",
                    params![ty.name, now, p],
                )?;
            }
        }
        Ok(())
    })
}
