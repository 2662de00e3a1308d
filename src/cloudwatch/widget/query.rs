//! What the renderer asks its caller for: one metric's query, and the `fetch` that answers.

use crate::cloudwatch::Dimension;
use crate::error::Ec2Error;

/// Which y axis a metric or an annotation is drawn against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum YAxisSide {
    /// The left axis (CloudWatch's default).
    #[default]
    Left,
    /// The right axis.
    Right,
}

/// One metric the graph needs: what the renderer asks `fetch` for.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricQuery {
    /// The metric's namespace, e.g. `AWS/EC2`.
    pub namespace: String,
    /// The metric's name, e.g. `CPUUtilization`.
    pub metric_name: String,
    /// Its dimensions, sorted by name (CloudWatch's identity of a metric).
    pub dimensions: Vec<Dimension>,
    /// The statistic to graph: `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount` or an
    /// extended one (`p99`, ...) as written in the widget; `fetch` refuses what it cannot
    /// compute.
    pub stat: String,
    /// The period of one data point, in seconds (1, 5, 10, 30 or a multiple of 60).
    pub period_s: u32,
    /// The start of the graph's time range, milliseconds since the epoch (inclusive).
    pub start_ms: i64,
    /// The end of the graph's time range, milliseconds since the epoch (exclusive).
    pub end_ms: i64,
    /// The label the legend shows: the widget's `label`, or one made from the metric.
    pub label: String,
    /// The line's colour, when the widget gives one (`#rrggbb`).
    pub color: Option<[u8; 3]>,
    /// The axis the metric is drawn against.
    pub y_axis: YAxisSide,
}

/// What `render` calls for each visible metric: its data points as `(timestamp_ms, value)`,
/// one per period that has data, in any order.
pub type Fetch<'a> = dyn FnMut(&MetricQuery) -> Result<Vec<(i64, f64)>, Ec2Error> + 'a;
