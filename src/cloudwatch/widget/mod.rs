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
pub mod json;
pub mod query;
pub mod scale;
pub mod spec;
pub mod times;

#[cfg(test)]
mod tests;

use crate::error::Ec2Error;
pub use query::{Fetch, MetricQuery, YAxisSide};

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
