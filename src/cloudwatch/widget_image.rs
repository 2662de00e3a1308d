//! `GetMetricWidgetImage`: the widget renderer ([`super::widget`]) fed from the region's
//! metric store, its PNG returned base64 as the model's blob.

use base64ct::{Base64, Encoding};
use serde_json::Value;

use super::metrics::{self, validate, MetricStore};
use super::shapes::widget::{GetMetricWidgetImageInput, GetMetricWidgetImageOutput};
use super::shapes::{Metric, MetricStat};
use super::widget::{self, MetricQuery};
use crate::error::Ec2Error;

/// `GetMetricWidgetImage` for the widget's metrics in `region` (the request's region).
pub fn get_metric_widget_image(
    metrics: &MetricStore,
    region: &str,
    req: &GetMetricWidgetImageInput,
) -> Result<GetMetricWidgetImageOutput, Ec2Error> {
    if req.metric_widget.is_empty() {
        return Err(Ec2Error::new(
            "MissingParameter",
            "The parameter MetricWidget is required.",
        ));
    }
    match req.output_format.as_deref() {
        None | Some("png") => {}
        Some(other) => {
            return Err(validate::bad_value(
                "OutputFormat",
                other,
                "ec2lab draws png only (the image comes back base64 in MetricWidgetImage).",
            ))
        }
    }
    check_region(&req.metric_widget, region)?;
    let mut fetch = |q: &MetricQuery| fetch(metrics, q);
    let png = widget::render(&req.metric_widget, &mut fetch)?;
    Ok(GetMetricWidgetImageOutput {
        metric_widget_image: Base64::encode_string(&png),
    })
}

/// A widget naming another region than the request's is refused: its metrics live in that
/// region's store, which the request is not signed for.
fn check_region(widget_json: &str, region: &str) -> Result<(), Ec2Error> {
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(widget_json) else {
        // The renderer says what is wrong with it.
        return Ok(());
    };
    match doc.get("region") {
        None => Ok(()),
        Some(Value::String(r)) if r == region => Ok(()),
        Some(other) => Err(Ec2Error::invalid_parameter(format!(
            "The value {other} for parameter MetricWidget.region is not valid. The request is for region {region}: draw another region's metrics with a request signed for that region (--region)."
        ))),
    }
}

/// One metric's points, as `GetMetricData` would answer its `MetricStat`.
fn fetch(metrics: &MetricStore, q: &MetricQuery) -> Result<Vec<(i64, f64)>, Ec2Error> {
    if !validate::STATISTICS.contains(&q.stat.as_str()) && validate::percentile(&q.stat).is_none() {
        return Err(validate::bad_value(
            "MetricWidget.stat",
            &q.stat,
            "ec2lab graphs SampleCount, Average, Sum, Minimum, Maximum and percentiles pNN.",
        ));
    }
    let ms = MetricStat {
        metric: Metric {
            namespace: Some(q.namespace.clone()),
            metric_name: Some(q.metric_name.clone()),
            dimensions: q.dimensions.clone(),
        },
        period: q.period_s as i64,
        stat: q.stat.clone(),
        unit: None,
    };
    metrics::series(metrics, &ms, q.start_ms, q.end_ms)
}
