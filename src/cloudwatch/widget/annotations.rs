//! The widget's `annotations`: horizontal lines at values (an alarm's threshold) and
//! vertical lines at times, each alone or as a band of two.

use serde_json::{Map, Value};

use super::json::{get_bool, get_color, get_f64, get_str, get_y_axis, invalid};
use super::query::YAxisSide;
use super::times::parse_time;
use crate::error::Ec2Error;

/// Which side of an annotation is shaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// No shading.
    None,
    /// Above a horizontal line, or after a vertical one.
    AboveOrAfter,
    /// Below a horizontal line, or before a vertical one.
    BelowOrBefore,
}

/// A horizontal annotation: a line at a value (an alarm's threshold), or a band between two.
#[derive(Clone, Debug, PartialEq)]
pub struct Horizontal {
    /// The line's value.
    pub value: f64,
    /// The band's other edge, for a band annotation.
    pub band_to: Option<f64>,
    /// The text shown beside the line.
    pub label: Option<String>,
    /// The colour of the line and its shading.
    pub color: Option<[u8; 3]>,
    /// Which side is shaded (a band is always shaded between its edges).
    pub fill: Fill,
    /// The axis `value` is read against.
    pub y_axis: YAxisSide,
}

/// A vertical annotation: a line at a time, or a band between two.
#[derive(Clone, Debug, PartialEq)]
pub struct Vertical {
    /// The line's time, milliseconds since the epoch.
    pub at_ms: i64,
    /// The band's other edge, for a band annotation.
    pub band_to_ms: Option<i64>,
    /// The text shown beside the line.
    pub label: Option<String>,
    /// The colour of the line and its shading.
    pub color: Option<[u8; 3]>,
    /// Which side is shaded.
    pub fill: Fill,
}

/// `annotations.horizontal` and `annotations.vertical`: single lines as objects, bands as
/// pairs of objects. Hidden ones (`"visible": false`) are left out.
pub fn parse_annotations(
    a: &Map<String, Value>,
    now_ms: i64,
) -> Result<(Vec<Horizontal>, Vec<Vertical>), Ec2Error> {
    let mut horizontal = Vec::new();
    for (first, second, path) in annotation_items(a, "horizontal")? {
        let value = get_f64(first, "value", &path)?
            .ok_or_else(|| invalid(format!("The parameter {path}.value is required (a number)")))?;
        let band_to = match second {
            Some(s) => Some(get_f64(s, "value", &format!("{path}[1]"))?.ok_or_else(|| {
                invalid(format!(
                    "The parameter {path}[1].value is required (a number)"
                ))
            })?),
            None => None,
        };
        let fill = match (band_to, get_str(first, "fill", &path)?) {
            (Some(_), _) | (None, None | Some("none")) => Fill::None,
            (None, Some("above")) => Fill::AboveOrAfter,
            (None, Some("below")) => Fill::BelowOrBefore,
            (None, Some(other)) => {
                return Err(invalid(format!(
                    "The parameter {path}.fill must be above, below or none (it is '{other}')"
                )))
            }
        };
        let h = Horizontal {
            value,
            band_to,
            label: get_str(first, "label", &path)?.map(str::to_string),
            color: get_color(first, "color", &path)?,
            fill,
            y_axis: get_y_axis(first, &path)?,
        };
        if get_bool(first, "visible", &path)?.unwrap_or(true) {
            horizontal.push(h);
        }
    }
    let mut vertical = Vec::new();
    for (first, second, path) in annotation_items(a, "vertical")? {
        let time_at = |o: &Map<String, Value>, p: &str| -> Result<i64, Ec2Error> {
            let s = get_str(o, "value", p)?.ok_or_else(|| {
                invalid(format!(
                    "The parameter {p}.value is required (a time such as 2018-08-28T15:25:26Z)"
                ))
            })?;
            parse_time(s, now_ms).map_err(|e| invalid(format!("The parameter {p}.value: {e}")))
        };
        let at_ms = time_at(first, &path)?;
        let band_to_ms = second
            .map(|s| time_at(s, &format!("{path}[1]")))
            .transpose()?;
        let fill = match (band_to_ms, get_str(first, "fill", &path)?) {
            (Some(_), _) | (None, None | Some("none")) => Fill::None,
            (None, Some("after")) => Fill::AboveOrAfter,
            (None, Some("before")) => Fill::BelowOrBefore,
            (None, Some(other)) => {
                return Err(invalid(format!(
                    "The parameter {path}.fill must be before, after or none (it is '{other}')"
                )))
            }
        };
        let v = Vertical {
            at_ms,
            band_to_ms,
            label: get_str(first, "label", &path)?.map(str::to_string),
            color: get_color(first, "color", &path)?,
            fill,
        };
        if get_bool(first, "visible", &path)?.unwrap_or(true) {
            vertical.push(v);
        }
    }
    Ok((horizontal, vertical))
}

type AnnotationItem<'a> = (
    &'a Map<String, Value>,
    Option<&'a Map<String, Value>>,
    String,
);

/// The entries of one annotations array: an object, or a band's two objects, with its path.
fn annotation_items<'a>(
    a: &'a Map<String, Value>,
    key: &str,
) -> Result<Vec<AnnotationItem<'a>>, Ec2Error> {
    let list = match a.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(invalid(format!(
                "The parameter MetricWidget.annotations.{key} must be an array"
            )))
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let path = format!("MetricWidget.annotations.{key}[{i}]");
        match item {
            Value::Object(o) => out.push((o, None, path)),
            Value::Array(pair) => match pair.as_slice() {
                [Value::Object(a), Value::Object(b)] => out.push((a, Some(b), path)),
                _ => {
                    return Err(invalid(format!(
                        "The parameter {path} must be an annotation object, or a band of two"
                    )))
                }
            },
            _ => {
                return Err(invalid(format!(
                    "The parameter {path} must be an annotation object, or a band of two"
                )))
            }
        }
    }
    Ok(out)
}
