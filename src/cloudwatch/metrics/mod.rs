//! Metrics: the store of data points ([`store`]), CloudWatch's parameter rules
//! ([`validate`]) and the metric actions ([`put`]: PutMetricData; [`actions`]:
//! GetMetricStatistics, GetMetricData, ListMetrics).

pub mod actions;
pub mod put;
pub mod store;
pub mod validate;

pub use actions::*;
pub use put::*;
pub use store::{MetricStore, StoredMetric};

#[cfg(test)]
mod tests;
