//! Basic monitoring: the 10-second values of one period (5 minutes for EC2's metrics,
//! 1 minute for status checks and EBS) gathered into one statistic set, published once
//! the period is over.

use std::collections::BTreeMap;

use crate::cloudwatch::{Dimension, Sample, StatSet};

/// What identifies one accumulating data point.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    namespace: String,
    metric: String,
    dimensions: Vec<Dimension>,
    period_start_ms: i64,
    period_ms: i64,
}

/// Data points still collecting values.
#[derive(Debug, Default)]
pub struct Periods {
    open: BTreeMap<Key, (String, StatSet)>,
}

impl Periods {
    /// Adds the value `sample` carries (taken at its timestamp) to its period of
    /// `period_s` seconds. Values of one metric and dimensions from several instances (an
    /// `InstanceType` aggregate) share one data point, as in CloudWatch.
    pub fn add(&mut self, sample: Sample, period_s: u32) {
        let period_ms = i64::from(period_s) * 1000;
        let key = Key {
            namespace: sample.namespace,
            metric: sample.metric_name,
            dimensions: sample.dimensions,
            period_start_ms: sample.timestamp_ms.div_euclid(period_ms) * period_ms,
            period_ms,
        };
        self.open
            .entry(key)
            .and_modify(|(_, s)| *s = s.merge(sample.stats))
            .or_insert((sample.unit, sample.stats));
    }

    /// The data points of every period that ended by `now_ms`, stamped with the period's
    /// start as CloudWatch stamps them, at standard (60 s) resolution.
    pub fn due(&mut self, now_ms: i64) -> Vec<Sample> {
        let done: Vec<Key> = self
            .open
            .keys()
            .filter(|k| k.period_start_ms + k.period_ms <= now_ms)
            .cloned()
            .collect();
        done.into_iter()
            .filter_map(|k| {
                let (unit, stats) = self.open.remove(&k)?;
                Some(Sample {
                    namespace: k.namespace,
                    metric_name: k.metric,
                    dimensions: k.dimensions,
                    timestamp_ms: k.period_start_ms,
                    storage_resolution: 60,
                    unit,
                    stats,
                })
            })
            .collect()
    }

    /// How many data points are collecting.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ts: i64, v: f64) -> Sample {
        Sample::new(
            "AWS/EC2",
            "CPUUtilization",
            vec![Dimension::new("InstanceId", "i-1")],
            ts,
            "Percent",
            StatSet::one(v),
        )
    }

    #[test]
    fn a_period_becomes_one_point_when_it_ends() {
        let mut p = Periods::default();
        for (i, v) in [10.0, 30.0, 20.0].into_iter().enumerate() {
            p.add(s(600_000 + i as i64 * 10_000, v), 300);
        }
        p.add(s(900_000, 99.0), 300);
        assert!(p.due(899_999).is_empty());
        let out = p.due(900_000);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].timestamp_ms, 600_000);
        assert_eq!(out[0].storage_resolution, 60);
        assert_eq!(
            out[0].stats,
            StatSet {
                sample_count: 3.0,
                sum: 60.0,
                minimum: 10.0,
                maximum: 30.0
            }
        );
        assert_eq!(p.len(), 1, "the next period keeps collecting");
    }
}
