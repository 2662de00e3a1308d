//! CloudWatch in ec2lab: metrics (from the VMMs' own counters and from `PutMetricData`),
//! alarms that act, and dashboards. A service beside `instances/`: the front ends (`cli/`,
//! `api/`) call it; it never calls them.
//!
//! - [`sample`]: the one data-point type that collection, the metric store and alarms share.
//! - [`collect`]: VMM counter readings to `AWS/EC2` and `AWS/EBS` samples, status checks.
//! - [`daemon`]: the per-region monitor process that collects every 10 s.
//! - [`live`]: rates straight from the VMMs, now (`ec2lab top`).

pub mod collect;
pub mod daemon;
pub mod live;
pub mod sample;

pub use sample::{Dimension, Sample, StatSet};
