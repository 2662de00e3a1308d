//! The model's `timestamp` type. Clients send it two ways: AWS JSON 1.0 (botocore's `json`
//! protocol) as epoch seconds, a JSON number that may have a fraction; the Query protocol
//! (and ec2lab's CLI) as ISO 8601 text. [`Timestamp`] reads both (and epoch seconds as
//! text), and writes ISO 8601 UTC with milliseconds, which botocore's parsers take in
//! either protocol.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, milliseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the epoch.
    pub fn ms(self) -> i64 {
        self.0
    }

    /// ISO 8601 UTC with milliseconds: `2026-12-03T15:40:00.000Z`.
    pub fn iso(self) -> String {
        crate::store::iso8601(self.0.div_euclid(1000), self.0.rem_euclid(1000) as u32)
    }

    /// The time in CloudWatch's alarm-message form: `2026-12-03T15:40:00.000+0000`.
    pub fn alarm_form(self) -> String {
        let iso = self.iso();
        format!("{}+0000", &iso[..iso.len() - 1])
    }

    /// Parses ISO 8601 (`2026-12-03`, `2026-12-03T15:40`, `2026-12-03T15:40:00.5Z`,
    /// `…+09:00`; no zone means UTC, as the aws CLI reads it) or epoch seconds.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let t = text.trim();
        if let Ok(secs) = t.parse::<f64>() {
            return from_secs(secs);
        }
        parse_iso(t)
    }
}

fn from_secs(secs: f64) -> Option<Timestamp> {
    if secs.is_finite() && secs.abs() < 1e14 {
        Some(Timestamp((secs * 1000.0).round() as i64))
    } else {
        None
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_iso(t: &str) -> Option<Timestamp> {
    let (date, rest) = match t.find(['T', 't', ' ']) {
        Some(i) => (&t[..i], &t[i + 1..]),
        None => (t, ""),
    };
    let mut dp = date.split('-');
    let (y, m, d) = (num(dp.next()?)?, num(dp.next()?)?, num(dp.next()?)?);
    if dp.next().is_some() || date.len() != 10 || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // The zone: Z, ±HH:MM, ±HHMM or ±HH; none is UTC.
    let (clock, offset_min) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0i64)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (c, z) = (&rest[..i], &rest[i + 1..]);
        let sign = if rest.as_bytes()[i] == b'-' { -1 } else { 1 };
        let z = z.replace(':', "");
        let (hh, mm) = match z.len() {
            2 => (num(&z)?, 0),
            4 => (num(&z[..2])?, num(&z[2..])?),
            _ => return None,
        };
        (c, sign * (hh as i64 * 60 + mm as i64))
    } else {
        (rest, 0)
    };
    let (mut hh, mut mi, mut ss, mut ms) = (0u32, 0u32, 0u32, 0i64);
    if !clock.is_empty() {
        let (hms, frac) = match clock.split_once('.') {
            Some((a, f)) => (a, Some(f)),
            None => (clock, None),
        };
        let mut p = hms.split(':');
        hh = num(p.next()?)?;
        mi = num(p.next()?)?;
        ss = p.next().map(num).unwrap_or(Some(0))?;
        if p.next().is_some() || hh > 23 || mi > 59 || ss > 60 {
            return None;
        }
        if let Some(f) = frac {
            num(f)?;
            let digits: String = f.chars().chain("000".chars()).take(3).collect();
            ms = digits.parse().ok()?;
        }
    }
    let days = days_from_civil(y as i64, m, d);
    let secs = days * 86_400 + hh as i64 * 3600 + mi as i64 * 60 + ss as i64 - offset_min * 60;
    Some(Timestamp(secs * 1000 + ms))
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.iso())
    }
}

struct TsVisitor;

impl Visitor<'_> for TsVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a timestamp: ISO 8601 text or epoch seconds")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
        Timestamp::parse(v).ok_or_else(|| E::custom(format!("'{v}' is not a valid timestamp")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
        from_secs(v as f64).ok_or_else(|| E::custom("timestamp out of range"))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        from_secs(v as f64).ok_or_else(|| E::custom("timestamp out of range"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
        from_secs(v).ok_or_else(|| E::custom("timestamp out of range"))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        d.deserialize_any(TsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_protocols_forms() {
        let want = Timestamp(1_796_312_400_000); // 2026-12-03T15:40:00Z
        for json in [
            r#""2026-12-03T15:40:00Z""#,
            r#""2026-12-03T15:40:00.000Z""#,
            r#""2026-12-03T15:40""#,
            r#""2026-12-03T16:40:00+01:00""#,
            r#""2026-12-03T10:40:00-0500""#,
            "1796312400",
            "1796312400.0",
            r#""1796312400""#,
        ] {
            let t: Timestamp = serde_json::from_str(json).unwrap();
            assert_eq!(t, want, "{json}");
        }
        let t: Timestamp = serde_json::from_str("1796312400.25").unwrap();
        assert_eq!(t.0, 1_796_312_400_250);
        let t: Timestamp = serde_json::from_str(r#""2026-12-03""#).unwrap();
        assert_eq!(t.0, 1_796_256_000_000);
        assert_eq!(
            serde_json::to_string(&want).unwrap(),
            r#""2026-12-03T15:40:00.000Z""#
        );
        assert_eq!(want.alarm_form(), "2026-12-03T15:40:00.000+0000");
        for bad in [
            r#""yesterday""#,
            r#""2026-13-01""#,
            r#""2026-12-03T25:00""#,
            "true",
        ] {
            assert!(serde_json::from_str::<Timestamp>(bad).is_err(), "{bad}");
        }
        // Leap day and years before the epoch round-trip through the printer.
        for ms in [951_782_400_000i64, -86_400_000, 0] {
            assert_eq!(Timestamp::parse(&Timestamp(ms).iso()), Some(Timestamp(ms)));
        }
    }
}
