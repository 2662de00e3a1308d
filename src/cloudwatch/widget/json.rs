//! Reading the widget's JSON values, each with CloudWatch's `InvalidParameterValue` naming
//! the path of a wrong one (`MetricWidget.metrics[0].period`).

use serde_json::{Map, Value};

use super::query::YAxisSide;
use crate::error::Ec2Error;

pub(super) fn invalid(message: String) -> Ec2Error {
    Ec2Error::invalid_parameter(message)
}

/// `MetricWidget.a.b`-style paths for error messages.
pub(super) fn at(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

pub(super) fn get_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, Ec2Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!(
            "The parameter {} must be a string",
            at(path, key)
        ))),
    }
}

pub(super) fn get_bool(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<bool>, Ec2Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(format!(
            "The parameter {} must be true or false",
            at(path, key)
        ))),
    }
}

pub(super) fn get_f64(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<f64>, Ec2Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(invalid(format!(
            "The parameter {} must be a number",
            at(path, key)
        ))),
    }
}

pub(super) fn get_object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, Ec2Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(invalid(format!(
            "The parameter {} must be an object",
            at(path, key)
        ))),
    }
}

/// An integer member within `range`, or an error naming it and the range.
pub(super) fn get_int(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, Ec2Error> {
    let Some(v) = obj.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match v.as_u64().filter(|n| range.contains(n)) {
        Some(n) => Ok(Some(n)),
        None => Err(invalid(format!(
            "The parameter {} must be an integer from {} to {} (it is {v})",
            at(path, key),
            range.start(),
            range.end()
        ))),
    }
}

/// `#rrggbb` as RGB.
pub(super) fn parse_color(s: &str, path: &str) -> Result<[u8; 3], Ec2Error> {
    let hex = s
        .strip_prefix('#')
        .filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    let Some(hex) = hex else {
        return Err(invalid(format!(
            "The parameter {path} must be a six-digit HTML hex colour such as #1f77b4 (it is '{s}')"
        )));
    };
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
    Ok([byte(0), byte(2), byte(4)])
}

pub(super) fn get_color(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<[u8; 3]>, Ec2Error> {
    get_str(obj, key, path)?
        .map(|s| parse_color(s, &at(path, key)))
        .transpose()
}

pub(super) fn get_y_axis(obj: &Map<String, Value>, path: &str) -> Result<YAxisSide, Ec2Error> {
    match get_str(obj, "yAxis", path)? {
        None | Some("left") => Ok(YAxisSide::Left),
        Some("right") => Ok(YAxisSide::Right),
        Some(other) => Err(invalid(format!(
            "The parameter {} must be left or right (it is '{other}')",
            at(path, "yAxis")
        ))),
    }
}
