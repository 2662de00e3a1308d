//! The host's capacity for instances: the memory it has for them (`EC2LAB_HOST_CAPACITY_MIB`
//! overrides it), what running instances hold (their RAM, and an instance store kept in
//! memory), and EC2's `InsufficientInstanceCapacity` when a launch does not fit.

use super::record::Instance;
use super::types;
use crate::error::Ec2Error;
use crate::storage::instance_store;
use crate::store::Store;

/// Host memory ec2lab leaves to the host itself when placing instances.
const HOST_RESERVE_MIB: u64 = 1024;

/// Overrides the memory (MiB) the host has for instances, so that a test or a lesson can
/// make the host small and watch spot instances make room.
pub const HOST_CAPACITY_ENV: &str = "EC2LAB_HOST_CAPACITY_MIB";

/// Memory the host has for instances, and what running ones already hold.
pub fn capacity(store: &Store) -> Result<(u64, u64), Ec2Error> {
    let in_ram = instance_store::in_memory();
    let used: u64 = Instance::all(store.conn())?
        .iter()
        .filter(|i| i.state.has_vmm())
        .map(|i| {
            let store_gb = types::find(&i.instance_type).map_or(0, |t| t.instance_store_gb);
            i.mem_mib + store_mib(store_gb, in_ram)
        })
        .sum();
    if let Some(mib) = std::env::var(HOST_CAPACITY_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Ok((mib, used));
    }
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kib| kib / 1024)
        .unwrap_or(0);
    Ok((total.saturating_sub(HOST_RESERVE_MIB), used))
}

/// Host memory an instance store of `gb` takes when the stores live in memory (tmpfs):
/// all of it, since a guest may fill it.
fn store_mib(gb: u64, in_ram: bool) -> u64 {
    if in_ram {
        (gb * 1_000_000_000).div_ceil(1 << 20)
    } else {
        0
    }
}

/// Host memory one instance of `ty` holds: its RAM and an instance store kept in memory.
pub fn footprint_mib(ty: &types::InstanceType) -> u64 {
    ty.mem_mib + store_mib(ty.instance_store_gb, instance_store::in_memory())
}

/// `InsufficientInstanceCapacity` unless `count` instances of `ty` fit in what is free.
pub fn check_capacity(store: &Store, ty: &types::InstanceType, count: u32) -> Result<(), Ec2Error> {
    let (budget, used) = capacity(store)?;
    let need = footprint_mib(ty) * u64::from(count);
    if used + need > budget {
        return Err(Ec2Error::new(
            "InsufficientInstanceCapacity",
            format!(
                "We currently do not have sufficient {} capacity: {count} instance(s) need {need} MiB \
                 of memory (their RAM, and their instance store when it is kept in memory); this \
                 host has {budget} MiB for instances and {used} MiB of it is in use. Choose a \
                 smaller instance type or stop instances",
                ty.name
            ),
        ));
    }
    Ok(())
}
