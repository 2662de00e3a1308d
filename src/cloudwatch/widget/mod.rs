//! CloudWatch's `GetMetricWidgetImage`: a `MetricWidget` JSON document in, a PNG graph out.
//!
//! The widget is read as CloudWatch documents it ("GetMetricWidgetImage: Metric Widget
//! Structure and Syntax"): the `metrics` rows in their short form, `period`, `stat`,
//! `start`/`end`, `yAxis`, `annotations`, `legend`, `timezone` and the rest. The renderer
//! never opens a store: the caller hands it a `fetch` function that answers one
//! [`MetricQuery`] with that metric's data points, so the service (which owns the metric
//! store) decides where the numbers come from.
//!
//! - [`spec`]: the widget JSON, parsed and checked (`InvalidParameterValue` names the field).
//! - [`annotations`]: horizontal (threshold) and vertical annotation lines and bands.
//! - [`times`]: the widget's times: ISO 8601 durations (`-PT3H`), absolute times, `timezone`.
//! - [`draw`]: the graph, drawn with plotters into an RGB buffer and encoded as PNG.
//! - [`scale`]: the numbers behind it: axis ranges, time marks, stacking, clipping.

pub mod annotations;
pub mod draw;
pub mod scale;
pub mod spec;
pub mod times;

#[cfg(test)]
mod tests;

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

/// The PNG image of the widget `widget_json`, with relative times taken from the clock.
pub fn render(widget_json: &str, fetch: &mut Fetch<'_>) -> Result<Vec<u8>, Ec2Error> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    render_at(widget_json, now_ms, fetch)
}

/// The PNG image of the widget `widget_json` as it looks at `now_ms` (relative `start` and
/// `end` count back from it).
pub fn render_at(
    widget_json: &str,
    now_ms: i64,
    fetch: &mut Fetch<'_>,
) -> Result<Vec<u8>, Ec2Error> {
    let widget = spec::Widget::parse(widget_json, now_ms)?;
    let mut series = Vec::with_capacity(widget.metrics.len());
    for query in &widget.metrics {
        let mut points = fetch(query)?;
        points.retain(|(t, v)| *t >= query.start_ms && *t < query.end_ms && v.is_finite());
        points.sort_by_key(|(t, _)| *t);
        series.push(points);
    }
    draw::draw(&widget, &series)
}
