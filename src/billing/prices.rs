//! The price table: data, not code (`prices.json` beside this file, with its date and
//! source), per region, with the user's overrides merged over it
//! (`<state-dir>/prices.json`, or the file `EC2LAB_PRICES` names).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::error::Ec2Error;

/// The built-in table.
const BUILT_IN: &str = include_str!("prices.json");

/// The environment variable naming a price file that overrides the built-in entries.
pub const PRICES_ENV: &str = "EC2LAB_PRICES";

/// One region's prices, in USD.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegionPrices {
    /// What the region's usage types start with (`USW2-`; nothing for us-east-1).
    pub usage_type_prefix: String,
    /// On-demand Linux price per hour, by instance type.
    pub instances: BTreeMap<String, f64>,
    /// EBS storage per provisioned GiB-month, by volume type.
    pub ebs_gib_month: BTreeMap<String, f64>,
    /// Snapshot storage per stored GiB-month.
    pub snapshot_gib_month: f64,
    /// A public IPv4 address per hour, in use or idle.
    pub public_ipv4_hour: f64,
    /// The spot price's range as shares of the on-demand price.
    pub spot: SpotRange,
    /// Reserved Instances: effective rate as a share of on-demand, by term and payment.
    pub reserved: Reserved,
    /// Compute Savings Plans: their rate as a share of on-demand, by term and payment.
    pub savings_plans: Reserved,
}

/// The spot price's range: `floor` of on-demand on an idle host, `ceiling` on a full one.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(default)]
pub struct SpotRange {
    /// Share of on-demand with the host empty.
    pub floor: f64,
    /// Share of on-demand with the host full.
    pub ceiling: f64,
}

impl Default for SpotRange {
    fn default() -> Self {
        SpotRange {
            floor: 0.3,
            ceiling: 1.0,
        }
    }
}

/// Reserved Instance (or Savings Plans) rates.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Reserved {
    /// One-year terms: payment option to effective share of on-demand.
    #[serde(rename = "1yr")]
    pub one_year: BTreeMap<String, f64>,
    /// Three-year terms.
    #[serde(rename = "3yr")]
    pub three_year: BTreeMap<String, f64>,
    /// Of a Partial Upfront RI's effective cost, the share paid up front.
    pub partial_upfront_share: f64,
}

/// The whole table.
#[derive(Clone, Debug, Deserialize)]
pub struct Prices {
    /// The currency (`USD`).
    pub currency: String,
    /// When the prices were read.
    pub date: String,
    /// Where they were read.
    pub source: String,
    /// The region whose prices ec2lab's own regions (`lab-1`) use.
    pub default_region: String,
    /// Prices by region.
    pub regions: BTreeMap<String, RegionPrices>,
}

impl Prices {
    /// The built-in table with the user's overrides for the state directory.
    pub fn load(state_dir: &Path) -> Result<Prices, Ec2Error> {
        let mut table: Value = serde_json::from_str(BUILT_IN)
            .map_err(|e| Ec2Error::internal(format!("the built-in price table: {e}")))?;
        let file = std::env::var_os(PRICES_ENV)
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| state_dir.join("prices.json"));
        if let Ok(text) = std::fs::read_to_string(&file) {
            let over: Value = serde_json::from_str(&text).map_err(|e| {
                Ec2Error::invalid_parameter(format!(
                    "The price file {} is not JSON ({e}); fix it or remove it",
                    file.display()
                ))
            })?;
            merge(&mut table, over);
        }
        serde_json::from_value(table).map_err(|e| {
            Ec2Error::invalid_parameter(format!(
                "The price table with {} merged over it is not valid: {e}",
                file.display()
            ))
        })
    }

    /// The prices of `region`: its own, or the default region's.
    pub fn region(&self, region: &str) -> &RegionPrices {
        self.regions
            .get(region)
            .or_else(|| self.regions.get(&self.default_region))
            .expect("the table has its default region")
    }
}

impl RegionPrices {
    /// The on-demand price per hour of `instance_type`, or `InvalidParameterValue`.
    pub fn on_demand(&self, instance_type: &str) -> Result<f64, Ec2Error> {
        self.instances.get(instance_type).copied().ok_or_else(|| {
            Ec2Error::invalid_parameter(format!(
                "The price table has no price for {instance_type}; add it to the prices file"
            ))
        })
    }

    /// The price per GiB-month of a volume type (an unknown type costs as gp2).
    pub fn ebs(&self, volume_type: &str) -> f64 {
        self.ebs_gib_month
            .get(volume_type)
            .or_else(|| self.ebs_gib_month.get("gp2"))
            .copied()
            .unwrap_or(0.0)
    }
}

/// `over`'s entries replace `base`'s, objects merged member by member.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_table_has_every_instance_type() {
        let p = Prices::load(Path::new("/nonexistent")).unwrap();
        let r = p.region("lab-1");
        for t in crate::instances::types::TYPES {
            assert!(r.on_demand(t.name).unwrap() > 0.0, "{}", t.name);
        }
        assert_eq!(r.on_demand("t2.micro").unwrap(), 0.0116);
        assert!(!p.date.is_empty() && p.source.starts_with("https://"));
    }

    #[test]
    fn overrides_merge_entry_by_entry() {
        let dir = std::env::temp_dir().join(format!("ec2lab-prices-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("prices.json"),
            r#"{"regions":{"us-east-1":{"instances":{"t2.micro":1.5}}}}"#,
        )
        .unwrap();
        let p = Prices::load(&dir).unwrap();
        assert_eq!(p.region("lab-1").on_demand("t2.micro").unwrap(), 1.5);
        assert_eq!(p.region("lab-1").on_demand("t2.nano").unwrap(), 0.0058);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
