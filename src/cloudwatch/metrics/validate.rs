//! CloudWatch's rules for the parameters the metric and alarm actions share: units,
//! statistics, periods, namespaces and dimensions, each refused with CloudWatch's code.

use crate::cloudwatch::Dimension;
use crate::error::Ec2Error;

/// The model's `StandardUnit` values.
pub const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The model's `Statistic` values.
pub const STATISTICS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

/// `InvalidParameterValue` naming the parameter and its value, as CloudWatch words it.
pub fn bad_value(param: &str, value: &str, why: &str) -> Ec2Error {
    Ec2Error::invalid_parameter(format!(
        "The value {value} for parameter {param} is not valid. {why}"
    ))
}

/// `ValidationError`: what the Query front of CloudWatch answers for a value outside the
/// model's constraints (enum values, lengths, minimums).
pub fn validation(message: impl Into<String>) -> Ec2Error {
    Ec2Error::new("ValidationError", message)
}

/// A unit from the model's list.
pub fn unit(param: &str, u: &str) -> Result<(), Ec2Error> {
    if UNITS.contains(&u) {
        Ok(())
    } else {
        Err(bad_value(
            param,
            u,
            &format!("It must be one of: {}.", UNITS.join(", ")),
        ))
    }
}

/// A percentile statistic `pNN` or `pNN.NN` (0 to 100): its fraction, or None if `s` is
/// not one.
pub fn percentile(s: &str) -> Option<f64> {
    let n = s.strip_prefix('p')?;
    if n.is_empty() || n.starts_with('.') || n.ends_with('.') {
        return None;
    }
    let (int, frac) = n.split_once('.').unwrap_or((n, ""));
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 2 {
        return None;
    }
    let v: f64 = n.parse().ok()?;
    (0.0..=100.0).contains(&v).then_some(v)
}

/// The namespace rules: 1 to 255 characters, not starting with `:`.
pub fn namespace(param: &str, ns: &str) -> Result<(), Ec2Error> {
    if ns.is_empty() {
        return Err(Ec2Error::missing_parameter(param));
    }
    if ns.len() > 255 || ns.starts_with(':') || ns.chars().any(|c| c.is_control()) {
        return Err(bad_value(
            param,
            ns,
            "A namespace is 1 to 255 printable characters and does not start with ':'.",
        ));
    }
    Ok(())
}

/// A metric name: 1 to 255 characters.
pub fn metric_name(param: &str, name: &str) -> Result<(), Ec2Error> {
    if name.is_empty() {
        return Err(Ec2Error::missing_parameter(param));
    }
    if name.len() > 255 {
        return Err(bad_value(
            param,
            name,
            "A metric name is 1 to 255 characters.",
        ));
    }
    Ok(())
}

/// Up to 30 dimensions, names 1-255 and values 1-1024 characters, no name twice.
pub fn dimensions(param: &str, dims: &[Dimension]) -> Result<(), Ec2Error> {
    if dims.len() > 30 {
        return Err(Ec2Error::invalid_parameter(format!(
            "The collection {param} must not have a size greater than 30."
        )));
    }
    for (i, d) in dims.iter().enumerate() {
        let at = format!("{param}.member.{}", i + 1);
        if d.name.is_empty() || d.name.len() > 255 {
            return Err(Ec2Error::invalid_parameter(format!(
                "The parameter {at}.Name must be 1 to 255 characters."
            )));
        }
        if d.value.is_empty() || d.value.len() > 1024 {
            return Err(Ec2Error::invalid_parameter(format!(
                "The parameter {at}.Value must be 1 to 1024 characters."
            )));
        }
        if dims[..i].iter().any(|o| o.name == d.name) {
            return Err(Ec2Error::new(
                "InvalidParameterCombination",
                format!(
                    "No metric may have more than one dimension named {}.",
                    d.name
                ),
            ));
        }
    }
    Ok(())
}

/// A query's period: 1, 5, 10, 30 or a multiple of 60 seconds (the short ones read
/// high-resolution data).
pub fn query_period(param: &str, period: i64) -> Result<u32, Ec2Error> {
    if period < 1 {
        return Err(Ec2Error::invalid_parameter(format!(
            "The parameter {param} must be greater than 0."
        )));
    }
    if period > 86_400 * 455 || !(matches!(period, 1 | 5 | 10 | 30) || period % 60 == 0) {
        return Err(Ec2Error::invalid_parameter(format!(
            "The parameter {param} must be 1, 5, 10, 30, or a multiple of 60."
        )));
    }
    Ok(period as u32)
}

/// An alarm's period: 10, 30 or a multiple of 60 seconds.
pub fn alarm_period(period: i64) -> Result<u32, Ec2Error> {
    if period < 1 {
        return Err(validation(format!(
            "1 validation error detected: Value '{period}' at 'period' failed to satisfy constraint: Member must have value greater than or equal to 1"
        )));
    }
    if !(matches!(period, 10 | 30) || period % 60 == 0) {
        return Err(validation(format!(
            "Period ({period}) must be 10, 30 or a multiple of 60 seconds."
        )));
    }
    Ok(period as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_periods() {
        assert_eq!(percentile("p99"), Some(99.0));
        assert_eq!(percentile("p99.9"), Some(99.9));
        assert_eq!(percentile("p0"), Some(0.0));
        assert_eq!(percentile("p100"), Some(100.0));
        for bad in ["p101", "p", "99", "p9.999", "tm99", "p.5", "P50", "p-1"] {
            assert_eq!(percentile(bad), None, "{bad}");
        }
        for ok in [1, 5, 10, 30, 60, 120, 3600] {
            assert!(query_period("Period", ok).is_ok(), "{ok}");
        }
        for bad in [0, -60, 2, 20, 45, 90] {
            let e = query_period("Period", bad).unwrap_err();
            assert_eq!(e.code, "InvalidParameterValue", "{bad}");
        }
        assert!(alarm_period(10).is_ok() && alarm_period(30).is_ok() && alarm_period(300).is_ok());
        for bad in [1, 5, 20, 45, 0] {
            assert_eq!(
                alarm_period(bad).unwrap_err().code,
                "ValidationError",
                "{bad}"
            );
        }
    }

    #[test]
    fn units_namespaces_dimensions() {
        assert!(unit("Unit", "Percent").is_ok());
        assert_eq!(
            unit("Unit", "percent").unwrap_err().code,
            "InvalidParameterValue"
        );
        assert_eq!(
            namespace("Namespace", "").unwrap_err().code,
            "MissingParameter"
        );
        assert!(namespace("Namespace", ":x").is_err());
        let d = |n: &str, v: &str| Dimension::new(n, v);
        assert!(dimensions("Dimensions", &[d("A", "1"), d("B", "2")]).is_ok());
        assert_eq!(
            dimensions("Dimensions", &[d("A", "1"), d("A", "2")])
                .unwrap_err()
                .code,
            "InvalidParameterCombination"
        );
        assert!(dimensions("Dimensions", &[d("A", "")]).is_err());
        let many: Vec<_> = (0..31).map(|i| d(&format!("n{i}"), "v")).collect();
        assert!(dimensions("Dimensions", &many).is_err());
    }
}
