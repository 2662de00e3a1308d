//! CloudWatch in ec2lab: metrics (from the VMMs' own counters and from `PutMetricData`),
//! alarms that act, and dashboards. A service beside `instances/`: the front ends (`cli/`,
//! `api/`) call it; it never calls them.
//!
//! - [`sample`]: the one data-point type that collection, the metric store and alarms share.
//! - [`shapes`]: the typed requests and results of CloudWatch's actions (botocore's names).
//! - [`metrics`]: the metric store (`cloudwatch.db`, retention tiers and roll-ups) and the
//!   metric actions.
//! - [`alarms`]: metric alarms in the region's store, their history, and their evaluation.
//! - [`dashboards`]: dashboards in the region's store.
//! - [`operations`]: the operations by name (request JSON in, result JSON out), which the
//!   API's table and `ec2lab cloudwatch` both call.
//! - [`widget_image`]: `GetMetricWidgetImage`: the widget renderer fed from the metric store.
//! - [`paging`]: CloudWatch's `NextToken`.
//! - [`widget`]: `GetMetricWidgetImage`'s renderer: a `MetricWidget` JSON in, a PNG out.
//! - [`collect`]: VMM counter readings to `AWS/EC2` and `AWS/EBS` samples, status checks.
//! - [`daemon`]: the per-region monitor process that collects every 10 s.
//! - [`extension`]: what a service above (Auto Scaling) adds to the daemon.
//! - [`live`]: rates straight from the VMMs, now (`ec2lab top`).

pub mod actions_runner;
pub mod alarms;
pub mod collect;
pub mod daemon;
pub mod dashboards;
pub mod extension;
pub mod live;
pub mod metrics;
pub mod operations;
pub mod paging;
pub mod sample;
pub mod shapes;
pub mod widget;
pub mod widget_image;

pub use metrics::MetricStore;
pub use sample::{Dimension, Sample, StatSet};

pub use crate::clock::now_ms;

/// The account ec2lab answers as (EC2's `OwnerId` too).
pub const ACCOUNT_ID: &str = crate::ids::OWNER_ID;
