//! Metric alarms: one metric, one statistic over a period, compared with a threshold for
//! N periods, M of which must breach (`DatapointsToAlarm`), with CloudWatch's treatment
//! of missing data. Alarms, their history and pending state changes live in the region's
//! store (`cw_*` tables); the data comes from the [`MetricStore`](super::MetricStore).
//!
//! - [`actions`]: the alarm actions (PutMetricAlarm, DescribeAlarms, …, SetAlarmState).
//! - [`evaluate`](mod@evaluate): [`evaluate()`] as CloudWatch evaluates, returning the
//!   [`AlarmTransition`]s whose actions the caller runs.
//! - [`record`]: the rows, the history and the alarm ARNs.
//! - [`message`]: CloudWatch's JSON: the SNS alarm message, history data, reason data.
//! - [`arns`]: the action ARNs alarms take.
//! - [`validate`]: PutMetricAlarm's checks.

pub mod actions;
pub mod arns;
pub mod evaluate;
pub mod message;
pub mod record;
pub mod validate;

pub use actions::*;
pub use arns::AlarmAction;
pub use evaluate::evaluate;
pub use record::AlarmTransition;

#[cfg(test)]
mod tests;
