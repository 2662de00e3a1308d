//! A metric data point as every part of CloudWatch passes it around: the collector makes
//! them from VMM counters, `PutMetricData` from the request, the metric store keeps them,
//! alarms and graphs read them back.

use serde::{Deserialize, Serialize};

/// One dimension of a metric (`InstanceId=i-0123...`), as CloudWatch names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    /// The dimension's name, e.g. `InstanceId`.
    pub name: String,
    /// Its value, e.g. `i-0123456789abcdef0`.
    pub value: String,
}

impl Dimension {
    /// A dimension from its name and value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Dimension {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A statistic set: what CloudWatch keeps of the values that fell into one data point.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatSet {
    /// How many values.
    pub sample_count: f64,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub minimum: f64,
    /// The largest.
    pub maximum: f64,
}

impl StatSet {
    /// The statistic set of a single value.
    pub fn one(value: f64) -> Self {
        StatSet {
            sample_count: 1.0,
            sum: value,
            minimum: value,
            maximum: value,
        }
    }

    /// Both sets as one.
    pub fn merge(self, other: StatSet) -> Self {
        StatSet {
            sample_count: self.sample_count + other.sample_count,
            sum: self.sum + other.sum,
            minimum: self.minimum.min(other.minimum),
            maximum: self.maximum.max(other.maximum),
        }
    }

    /// `Sum / SampleCount`, CloudWatch's `Average`.
    pub fn average(&self) -> f64 {
        if self.sample_count == 0.0 {
            0.0
        } else {
            self.sum / self.sample_count
        }
    }
}

/// One data point of one metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// `AWS/EC2`, `AWS/EBS` or a custom namespace.
    pub namespace: String,
    /// `CPUUtilization`, `NetworkIn`, ...
    pub metric_name: String,
    /// The dimensions, sorted by name (a metric is namespace, name and this exact set).
    pub dimensions: Vec<Dimension>,
    /// The data point's time, milliseconds since the epoch (UTC).
    pub timestamp_ms: i64,
    /// 1 for a high-resolution data point (kept at one-second granularity for 3 hours),
    /// 60 for a standard one.
    pub storage_resolution: u32,
    /// CloudWatch's unit name (`Percent`, `Bytes`, `Count`, `Seconds`, `None`, ...).
    pub unit: String,
    /// The values.
    pub stats: StatSet,
}

impl Sample {
    /// A data point with its dimensions put in CloudWatch's order (sorted by name).
    pub fn new(
        namespace: &str,
        metric_name: &str,
        mut dimensions: Vec<Dimension>,
        timestamp_ms: i64,
        unit: &str,
        stats: StatSet,
    ) -> Self {
        dimensions.sort();
        Sample {
            namespace: namespace.to_string(),
            metric_name: metric_name.to_string(),
            dimensions,
            timestamp_ms,
            storage_resolution: 60,
            unit: unit.to_string(),
            stats,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_sets_keep_count_sum_and_extremes() {
        let s = StatSet::one(2.0).merge(StatSet::one(6.0));
        assert_eq!(s.sample_count, 2.0);
        assert_eq!(s.sum, 8.0);
        assert_eq!((s.minimum, s.maximum), (2.0, 6.0));
        assert_eq!(s.average(), 4.0);
    }

    #[test]
    fn dimensions_are_sorted_by_name() {
        let s = Sample::new(
            "AWS/EC2",
            "CPUUtilization",
            vec![
                Dimension::new("InstanceType", "t2.micro"),
                Dimension::new("InstanceId", "i-1"),
            ],
            0,
            "Percent",
            StatSet::one(1.0),
        );
        assert_eq!(s.dimensions[0].name, "InstanceId");
    }
}
