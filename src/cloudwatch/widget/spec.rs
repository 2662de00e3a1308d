//! The `MetricWidget` JSON document, read and checked the way CloudWatch documents it.
//! Anything wrong is `InvalidParameterValue` naming the field (`MetricWidget.metrics[1][2]`).
//! Members CloudWatch's console adds to a widget's source that change nothing in a static
//! image (`liveData`, `region`, `sparkline`, ...) are accepted and ignored.

use serde_json::{Map, Value};

use super::annotations::{parse_annotations, Horizontal, Vertical};
use super::json::*;
use super::query::MetricQuery;
use super::times::{parse_time, parse_timezone};
use crate::cloudwatch::Dimension;
use crate::error::Ec2Error;

/// The most metrics one widget may graph.
pub const MAX_METRICS: usize = 100;
/// The largest `width` and `height`, in pixels.
pub const MAX_SIZE: u32 = 2000;
/// The most dimensions a metric can have.
const MAX_DIMENSIONS: usize = 30;

/// How the widget shows its metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Lines over time (`timeSeries`, the default).
    TimeSeries,
    /// The latest value of each metric, as large numbers (`singleValue`).
    SingleValue,
}

/// Where the legend goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegendPosition {
    /// Below the graph (the default).
    Bottom,
    /// To the right of the graph.
    Right,
    /// No legend.
    Hidden,
}

/// The limits and label of one y axis.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Axis {
    /// The lowest value shown; automatic when absent.
    pub min: Option<f64>,
    /// The highest value shown; automatic when absent.
    pub max: Option<f64>,
    /// The axis's title.
    pub label: Option<String>,
}

/// A checked widget: everything the drawing needs, defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Widget {
    /// The visible metrics, in the widget's order, each as the query for its data.
    pub metrics: Vec<MetricQuery>,
    /// How they are shown.
    pub view: View,
    /// Whether the lines are stacked.
    pub stacked: bool,
    /// The graph's title.
    pub title: Option<String>,
    /// The image's width in pixels.
    pub width: u32,
    /// The image's height in pixels.
    pub height: u32,
    /// The start of the time range, milliseconds since the epoch.
    pub start_ms: i64,
    /// The end of the time range, milliseconds since the epoch.
    pub end_ms: i64,
    /// The left y axis.
    pub left: Axis,
    /// The right y axis.
    pub right: Axis,
    /// Horizontal annotations (visible ones only).
    pub horizontal: Vec<Horizontal>,
    /// Vertical annotations (visible ones only).
    pub vertical: Vec<Vertical>,
    /// Where the legend goes.
    pub legend: LegendPosition,
    /// The time zone the time axis is labelled in, minutes east of UTC.
    pub timezone_min: i32,
    /// The `dark` theme.
    pub dark: bool,
}

/// CloudWatch's statistics: the five simple ones, percentiles (`p99`, `p99.9`), and the
/// extended ones with their arguments (`TM(10%:90%)`, `IQM`).
pub fn valid_stat(stat: &str) -> bool {
    if matches!(
        stat,
        "SampleCount" | "Average" | "Sum" | "Minimum" | "Maximum" | "IQM"
    ) {
        return true;
    }
    if let Some(p) = stat.strip_prefix('p') {
        return !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && p.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v));
    }
    // Shorthands: tm99, wm99, tc99, ts99 (the mean, count or sum of the lowest 99%).
    if let Some(p) = ["tm", "wm", "tc", "ts"]
        .iter()
        .find_map(|f| stat.strip_prefix(f))
    {
        if p.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v)) && !p.starts_with('+') {
            return true;
        }
    }
    let upper = stat.to_ascii_uppercase();
    ["TM", "TC", "TS", "WM", "PR"].iter().any(|f| {
        upper
            .strip_prefix(f)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
            .is_some_and(|args| {
                !args.is_empty()
                    && args
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b".:%".contains(&b))
            })
    })
}

fn check_stat(stat: &str, path: &str) -> Result<(), Ec2Error> {
    if valid_stat(stat) {
        Ok(())
    } else {
        Err(invalid(format!(
            "The parameter {path} must be a CloudWatch statistic (SampleCount, Average, Sum, Minimum, Maximum, p99, ...); '{stat}' is not one"
        )))
    }
}

/// A period CloudWatch takes: 1, 5, 10, 30 (high resolution) or a multiple of 60 seconds.
fn get_period(obj: &Map<String, Value>, path: &str) -> Result<Option<u32>, Ec2Error> {
    let Some(v) = obj.get("period").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match v.as_u64().and_then(|p| u32::try_from(p).ok()) {
        Some(p) if matches!(p, 1 | 5 | 10 | 30) || (p > 0 && p % 60 == 0) => Ok(Some(p)),
        _ => Err(invalid(format!(
            "The parameter {} must be 1, 5, 10, 30 or a multiple of 60 seconds (it is {v})",
            at(path, "period")
        ))),
    }
}

impl Widget {
    /// The widget in `json`, with relative times counted back from `now_ms`.
    pub fn parse(json: &str, now_ms: i64) -> Result<Widget, Ec2Error> {
        const P: &str = "MetricWidget";
        let value: Value = serde_json::from_str(json)
            .map_err(|e| invalid(format!("The parameter MetricWidget is not valid JSON: {e}")))?;
        let Value::Object(obj) = value else {
            return Err(invalid(
                "The parameter MetricWidget must be a JSON object such as {\"metrics\": [[\"AWS/EC2\", \"CPUUtilization\"]]}".into(),
            ));
        };

        let view = match get_str(&obj, "view", P)? {
            None | Some("timeSeries") => View::TimeSeries,
            Some("singleValue") => View::SingleValue,
            Some(other @ ("bar" | "pie" | "gauge" | "table")) => {
                return Err(invalid(format!(
                    "The parameter MetricWidget.view '{other}' is not supported by ec2lab; use timeSeries or singleValue"
                )))
            }
            Some(other) => {
                return Err(invalid(format!(
                    "The parameter MetricWidget.view must be timeSeries, bar, pie or singleValue (it is '{other}')"
                )))
            }
        };
        let width = get_int(&obj, "width", P, 1..=u64::from(MAX_SIZE))?.unwrap_or(600) as u32;
        let height = get_int(&obj, "height", P, 1..=u64::from(MAX_SIZE))?.unwrap_or(400) as u32;
        let period = get_period(&obj, P)?.unwrap_or(300);
        let stat = get_str(&obj, "stat", P)?.unwrap_or("Average");
        check_stat(stat, &at(P, "stat"))?;
        let time_of = |key: &str, default: &str| -> Result<i64, Ec2Error> {
            let s = get_str(&obj, key, P)?.unwrap_or(default);
            parse_time(s, now_ms).map_err(|e| invalid(format!("The parameter {}: {e}", at(P, key))))
        };
        let start_ms = time_of("start", "-PT3H")?;
        let end_ms = time_of("end", "-PT0H")?;
        if start_ms >= end_ms {
            return Err(invalid(
                "The parameter MetricWidget.start must be before MetricWidget.end".into(),
            ));
        }
        let timezone_min = match get_str(&obj, "timezone", P)? {
            None => 0,
            Some(tz) => parse_timezone(tz)
                .map_err(|e| invalid(format!("The parameter MetricWidget.timezone: {e}")))?,
        };
        let legend = match get_object(&obj, "legend", P)? {
            None => LegendPosition::Bottom,
            Some(l) => match get_str(l, "position", "MetricWidget.legend")? {
                None | Some("bottom") => LegendPosition::Bottom,
                Some("right") => LegendPosition::Right,
                Some("hidden") => LegendPosition::Hidden,
                Some(other) => {
                    return Err(invalid(format!(
                        "The parameter MetricWidget.legend.position must be bottom, right or hidden (it is '{other}')"
                    )))
                }
            },
        };
        let dark = match get_str(&obj, "theme", P)? {
            None | Some("light") => false,
            Some("dark") => true,
            Some(other) => {
                return Err(invalid(format!(
                    "The parameter MetricWidget.theme must be light or dark (it is '{other}')"
                )))
            }
        };
        let (left, right) = match get_object(&obj, "yAxis", P)? {
            None => (Axis::default(), Axis::default()),
            Some(y) => (
                parse_axis(y, "left", "MetricWidget.yAxis")?,
                parse_axis(y, "right", "MetricWidget.yAxis")?,
            ),
        };
        let (horizontal, vertical) = match get_object(&obj, "annotations", P)? {
            None => (Vec::new(), Vec::new()),
            Some(a) => parse_annotations(a, now_ms)?,
        };
        let defaults = Defaults {
            stat,
            period,
            start_ms,
            end_ms,
        };
        let metrics = parse_metrics(obj.get("metrics"), &defaults)?;

        Ok(Widget {
            metrics,
            view,
            stacked: get_bool(&obj, "stacked", P)?.unwrap_or(false),
            title: get_str(&obj, "title", P)?.map(str::to_string),
            width,
            height,
            start_ms,
            end_ms,
            left,
            right,
            horizontal,
            vertical,
            legend,
            timezone_min,
            dark,
        })
    }
}

fn parse_axis(y: &Map<String, Value>, side: &str, path: &str) -> Result<Axis, Ec2Error> {
    let Some(a) = get_object(y, side, path)? else {
        return Ok(Axis::default());
    };
    let path = at(path, side);
    let axis = Axis {
        min: get_f64(a, "min", &path)?,
        max: get_f64(a, "max", &path)?,
        label: get_str(a, "label", &path)?.map(str::to_string),
    };
    if let (Some(lo), Some(hi)) = (axis.min, axis.max) {
        if lo >= hi {
            return Err(invalid(format!(
                "The parameter {path}.min ({lo}) must be less than {path}.max ({hi})"
            )));
        }
    }
    Ok(axis)
}

/// The widget-wide settings each metric starts from.
struct Defaults<'a> {
    stat: &'a str,
    period: u32,
    start_ms: i64,
    end_ms: i64,
}

/// The `metrics` rows: `[Namespace, MetricName, DimName, DimValue, ..., {options}]`, where
/// `"."` repeats the previous row's entry at the same place.
fn parse_metrics(value: Option<&Value>, d: &Defaults<'_>) -> Result<Vec<MetricQuery>, Ec2Error> {
    let rows = match value {
        None | Some(Value::Null) => return Err(Ec2Error::missing_parameter("MetricWidget.metrics")),
        Some(Value::Array(rows)) => rows,
        Some(_) => {
            return Err(invalid(
                "The parameter MetricWidget.metrics must be an array of metric arrays such as [\"AWS/EC2\", \"CPUUtilization\", \"InstanceId\", \"i-0123456789abcdef0\"]".into(),
            ))
        }
    };
    if rows.is_empty() || rows.len() > MAX_METRICS {
        return Err(invalid(format!(
            "The parameter MetricWidget.metrics must hold 1 to {MAX_METRICS} metrics (it holds {})",
            rows.len()
        )));
    }
    let mut previous: Vec<String> = Vec::new();
    let mut queries = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let path = format!("MetricWidget.metrics[{i}]");
        let Value::Array(items) = row else {
            return Err(invalid(format!("The parameter {path} must be an array")));
        };
        let (names, options) = match items.split_last() {
            Some((Value::Object(o), rest)) => (rest, Some(o)),
            _ => (&items[..], None),
        };
        if names.is_empty() {
            if options.is_some_and(|o| o.contains_key("expression")) {
                return Err(invalid(format!(
                    "The parameter {path} is a metric math expression; ec2lab graphs metrics only, not expressions"
                )));
            }
            return Err(invalid(format!(
                "The parameter {path} must start with a namespace and a metric name"
            )));
        }
        let mut resolved = Vec::with_capacity(names.len());
        for (j, item) in names.iter().enumerate() {
            let Value::String(s) = item else {
                return Err(invalid(format!(
                    "The parameter {path}[{j}] must be a string (only the last entry may be an options object)"
                )));
            };
            if s == "." {
                let Some(prev) = previous.get(j) else {
                    return Err(invalid(format!(
                        "The parameter {path}[{j}] is \".\", but no earlier metric has an entry there to repeat"
                    )));
                };
                resolved.push(prev.clone());
            } else if s.is_empty() {
                return Err(invalid(format!(
                    "The parameter {path}[{j}] must not be empty"
                )));
            } else {
                resolved.push(s.clone());
            }
        }
        if resolved.len() < 2 {
            return Err(invalid(format!(
                "The parameter {path} must give a namespace and a metric name"
            )));
        }
        if resolved.len() % 2 != 0 {
            return Err(invalid(format!(
                "The parameter {path} has a dimension name ('{}') without a value",
                resolved[resolved.len() - 1]
            )));
        }
        if (resolved.len() - 2) / 2 > MAX_DIMENSIONS {
            return Err(invalid(format!(
                "The parameter {path} has more than {MAX_DIMENSIONS} dimensions"
            )));
        }
        previous = resolved.clone();

        let empty = Map::new();
        let o = options.unwrap_or(&empty);
        if o.contains_key("expression") {
            return Err(invalid(format!(
                "The parameter {path} has an expression; ec2lab graphs metrics only, not metric math expressions"
            )));
        }
        let stat = match get_str(o, "stat", &path)? {
            Some(s) => {
                check_stat(s, &at(&path, "stat"))?;
                s
            }
            None => d.stat,
        };
        let period_s = get_period(o, &path)?.unwrap_or(d.period);
        let label = get_str(o, "label", &path)?.map(str::to_string);
        let color = get_color(o, "color", &path)?;
        let y_axis = get_y_axis(o, &path)?;
        let visible = get_bool(o, "visible", &path)?.unwrap_or(true);
        if !visible {
            continue;
        }
        let mut dimensions: Vec<Dimension> = resolved[2..]
            .chunks(2)
            .map(|p| Dimension::new(p[0].clone(), p[1].clone()))
            .collect();
        dimensions.sort();
        queries.push(MetricQuery {
            namespace: resolved[0].clone(),
            metric_name: resolved[1].clone(),
            dimensions,
            stat: stat.to_string(),
            period_s,
            start_ms: d.start_ms,
            end_ms: d.end_ms,
            label: label.unwrap_or_default(),
            color,
            y_axis,
        });
    }
    auto_labels(&mut queries);
    Ok(queries)
}

/// Labels for the metrics the widget left unlabelled: the metric name, plus the dimension
/// values when another metric has the same name (so each legend entry says which it is).
fn auto_labels(queries: &mut [MetricQuery]) {
    let names: Vec<(String, String)> = queries
        .iter()
        .map(|q| (q.namespace.clone(), q.metric_name.clone()))
        .collect();
    for (i, q) in queries.iter_mut().enumerate() {
        if !q.label.is_empty() {
            continue;
        }
        let shared = names
            .iter()
            .enumerate()
            .any(|(j, n)| j != i && *n == names[i]);
        q.label = if shared && !q.dimensions.is_empty() {
            let values: Vec<&str> = q.dimensions.iter().map(|d| d.value.as_str()).collect();
            format!("{} {}", q.metric_name, values.join(" "))
        } else {
            q.metric_name.clone()
        };
    }
}
