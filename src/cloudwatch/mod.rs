//! CloudWatch in ec2lab: metrics (from the VMMs' own counters and from `PutMetricData`),
//! alarms that act, and dashboards. A service beside `instances/`: the front ends (`cli/`,
//! `api/`) call it; it never calls them.
//!
//! - [`sample`]: the one data-point type that collection, the metric store and alarms share.
//! - [`widget`]: `GetMetricWidgetImage`'s renderer: a `MetricWidget` JSON in, a PNG out.
//! - [`collect`]: VMM counter readings to `AWS/EC2` and `AWS/EBS` samples, status checks.
//! - [`daemon`]: the per-region monitor process that collects every 10 s.

pub mod collect;
pub mod daemon;
pub mod sample;
pub mod widget;

pub use sample::{Dimension, Sample, StatSet};
