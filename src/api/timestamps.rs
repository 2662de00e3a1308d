//! Timestamps on the wire: the Query protocols send ISO 8601 text, AWS JSON sends epoch
//! seconds. Handlers see one form, ISO 8601 with milliseconds (`2026-12-03T15:00:00.000Z`),
//! and may answer with that text or with epoch seconds (a JSON number).

use serde_json::{Number, Value};

/// `text` (ISO 8601 / RFC 3339, `Z` or an offset, optional fraction; or epoch seconds) as
/// milliseconds since the epoch.
pub fn parse_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return secs.is_finite().then(|| (secs * 1000.0).round() as i64);
    }
    let b = t.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let ms: String = frac[..digits]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        millis = ms.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_s = match rest {
        "Z" | "z" | "" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let hh: i64 = o[1..3].parse().ok()?;
            let mm: i64 = o[4..6].parse().ok()?;
            let v = hh * 3600 + mm * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + s - offset_s) * 1000) + millis)
}

/// Milliseconds since the epoch as ISO 8601 with milliseconds.
pub fn iso_ms(ms: i64) -> String {
    crate::store::iso8601(ms.div_euclid(1000), ms.rem_euclid(1000) as u32)
}

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

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
