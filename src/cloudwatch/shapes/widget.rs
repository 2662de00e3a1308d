//! `GetMetricWidgetImage`'s shapes.

use serde::{Deserialize, Serialize};

/// `GetMetricWidgetImage` input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetMetricWidgetImageInput {
    /// The `MetricWidget` JSON document (metrics, period, stat, start, end, size, ...).
    pub metric_widget: String,
    /// `png` (the default; the only format ec2lab draws).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
}

/// `GetMetricWidgetImage` output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetMetricWidgetImageOutput {
    /// The PNG image, base64 (the model's `blob`, as both wire protocols carry it).
    pub metric_widget_image: String,
}
