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
        crate::clock::iso_ms(self.0)
    }

    /// The time in CloudWatch's alarm-message form: `2026-12-03T15:40:00.000+0000`.
    pub fn alarm_form(self) -> String {
        let iso = self.iso();
        format!("{}+0000", &iso[..iso.len() - 1])
    }

    /// Parses ISO 8601 (`2026-12-03`, `2026-12-03T15:40`, `2026-12-03T15:40:00.5Z`,
    /// `…+09:00`; no zone means UTC, as the aws CLI reads it) or epoch seconds.
    pub fn parse(text: &str) -> Option<Timestamp> {
        crate::clock::parse_ms(text).map(Timestamp)
    }
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
        crate::clock::secs_to_ms(v as f64)
            .map(Timestamp)
            .ok_or_else(|| E::custom("timestamp out of range"))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        crate::clock::secs_to_ms(v as f64)
            .map(Timestamp)
            .ok_or_else(|| E::custom("timestamp out of range"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
        crate::clock::secs_to_ms(v)
            .map(Timestamp)
            .ok_or_else(|| E::custom("timestamp out of range"))
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
