//! A group's metrics: as EC2 does, each of its instances' `AWS/EC2` samples is also
//! published under the dimension `AutoScalingGroupName` alone, so that CloudWatch's
//! statistics over the group (the `Average` of `CPUUtilization`, which target tracking's
//! `ASGAverageCPUUtilization` watches) come from the metric store's own aggregation: the
//! samples of one period from several instances merge into one statistic set.

use std::collections::HashMap;
use std::path::Path;

use crate::cloudwatch::daemon::SampleSink;
use crate::cloudwatch::{Dimension, MetricStore, Sample};
use crate::error::Ec2Error;
use crate::store::Store;

/// The dimension name.
pub const GROUP_DIMENSION: &str = "AutoScalingGroupName";

/// Each instance's group, from the store.
pub fn membership(store: &Store) -> Result<HashMap<String, String>, Ec2Error> {
    let mut st = store
        .conn()
        .prepare("SELECT instance_id, group_name FROM asg_instances")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The group samples of `samples`: those of instances in a group, under the group's
/// dimension instead of `InstanceId` (only per-instance `AWS/EC2` samples).
pub fn group_samples(samples: &[Sample], groups: &HashMap<String, String>) -> Vec<Sample> {
    samples
        .iter()
        .filter(|s| s.namespace == "AWS/EC2" && s.dimensions.len() == 1)
        .filter_map(|s| {
            let d = &s.dimensions[0];
            if d.name != "InstanceId" {
                return None;
            }
            let group = groups.get(&d.value)?;
            let mut g = s.clone();
            g.dimensions = vec![Dimension {
                name: GROUP_DIMENSION.into(),
                value: group.clone(),
            }];
            Some(g)
        })
        .collect()
}

/// The monitor's sink: the caller's sink, and the group samples into the metric store.
pub struct GroupMetrics<S: ?Sized> {
    store: Option<Store>,
    metrics: Option<MetricStore>,
    inner: Box<S>,
}

impl<S: SampleSink + ?Sized> GroupMetrics<S> {
    /// Wraps `inner` for the region's groups. Opening the stores is retried at each put if
    /// it fails now.
    pub fn new(state_dir: &Path, region: &str, inner: Box<S>) -> Self {
        let store = Store::open(state_dir, region).ok();
        let metrics = store
            .as_ref()
            .and_then(|s| MetricStore::open(s.root()).ok());
        GroupMetrics {
            store,
            metrics,
            inner,
        }
    }
}

impl<S: SampleSink + ?Sized> SampleSink for GroupMetrics<S> {
    fn put(&mut self, samples: &[Sample]) -> Result<(), Ec2Error> {
        self.inner.put(samples)?;
        let (Some(store), Some(metrics)) = (&self.store, &mut self.metrics) else {
            return Ok(());
        };
        let groups = membership(store)?;
        if groups.is_empty() {
            return Ok(());
        }
        let extra = group_samples(samples, &groups);
        if extra.is_empty() {
            return Ok(());
        }
        metrics.put(&extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch::StatSet;

    #[test]
    fn instance_samples_are_published_under_their_group() {
        let s = |id: &str, v: f64| {
            Sample::new(
                "AWS/EC2",
                "CPUUtilization",
                vec![Dimension {
                    name: "InstanceId".into(),
                    value: id.into(),
                }],
                1000,
                "Percent",
                StatSet::one(v),
            )
        };
        let groups = HashMap::from([("i-1".to_string(), "web".to_string())]);
        let out = group_samples(&[s("i-1", 50.0), s("i-2", 10.0)], &groups);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].dimensions[0].name, GROUP_DIMENSION);
        assert_eq!(out[0].dimensions[0].value, "web");
        assert_eq!(out[0].metric_name, "CPUUtilization");
    }
}
