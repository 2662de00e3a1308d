//! Timestamps on the wire: the Query protocols send ISO 8601 text, AWS JSON sends epoch
//! seconds. Handlers see one form, ISO 8601 with milliseconds (`2026-12-03T15:00:00.000Z`),
//! and may answer with that text or with epoch seconds (a JSON number).

use serde_json::{Number, Value};

pub use crate::clock::{iso_ms, parse_ms};

/// A timestamp a handler gave (ISO text or epoch seconds) as milliseconds.
pub fn value_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_f64().map(|s| (s * 1000.0).round() as i64),
        Value::String(s) => parse_ms(s),
        _ => None,
    }
}

/// Milliseconds as AWS JSON's epoch seconds (a whole number when it is one).
pub fn epoch_seconds(ms: i64) -> Value {
    if ms % 1000 == 0 {
        Value::Number((ms / 1000).into())
    } else {
        Number::from_f64(ms as f64 / 1000.0).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_and_epoch_forms() {
        let ms = parse_ms("2026-12-03T15:41:31Z").unwrap();
        assert_eq!(ms, 1_796_312_491_000);
        assert_eq!(iso_ms(ms), "2026-12-03T15:41:31.000Z");
        assert_eq!(parse_ms("2026-12-03T15:41:31.123456Z"), Some(ms + 123));
        assert_eq!(parse_ms("2026-12-03T16:41:31+01:00"), Some(ms));
        assert_eq!(parse_ms("1796312491.5"), Some(ms + 500));
        assert_eq!(epoch_seconds(ms + 500), serde_json::json!(1_796_312_491.5));
        assert_eq!(epoch_seconds(ms), serde_json::json!(1_796_312_491));
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "yesterday",
            "2026-12-03T15:41:31Q",
        ] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }
}
