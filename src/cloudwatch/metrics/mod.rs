//! Metrics: the store of data points ([`store`]), CloudWatch's parameter rules
//! ([`validate`]) and the metric actions ([`actions`]: PutMetricData,
//! GetMetricStatistics, GetMetricData, ListMetrics).

pub mod actions;
pub mod store;
pub mod validate;

pub use actions::*;
pub use store::{MetricStore, StoredMetric};

#[cfg(test)]
mod tests;
