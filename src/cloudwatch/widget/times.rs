//! The widget's times: `start`/`end` as ISO 8601 durations back from now (`-PT3H`, `-P7D`)
//! or absolute times (`2018-04-25T12:00:00.000Z`), and `timezone` (`+0130`).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `start` or `end` in milliseconds since the epoch, or why it cannot be read.
pub fn parse_time(value: &str, now_ms: i64) -> Result<i64, String> {
    if value.starts_with('-') || value.starts_with('P') {
        let (negative, body) = match value.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        let ms = parse_duration_ms(body).ok_or_else(|| {
            format!("'{value}' is not an ISO 8601 duration such as -PT3H or -P7D")
        })?;
        if !negative && ms != 0 {
            return Err(format!(
                "'{value}' lies in the future; a relative time counts back from now, e.g. -{value}"
            ));
        }
        return Ok(now_ms - ms);
    }
    let t = OffsetDateTime::parse(value, &Rfc3339).map_err(|_| {
        format!("'{value}' is neither an ISO 8601 time such as 2018-04-25T12:00:00.000Z nor a duration such as -PT3H")
    })?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// An ISO 8601 duration without its sign (`PT3H`, `P1DT12H`, `PT90S`, `P2W`) in
/// milliseconds. Years count 365 days and months 30, as a graph's range needs no more.
fn parse_duration_ms(s: &str) -> Option<i64> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    const SEC: f64 = 1000.0;
    let date_units: &[(char, f64)] = &[
        ('Y', 365.0 * 86_400.0 * SEC),
        ('M', 30.0 * 86_400.0 * SEC),
        ('W', 7.0 * 86_400.0 * SEC),
        ('D', 86_400.0 * SEC),
    ];
    let time_units: &[(char, f64)] = &[('H', 3600.0 * SEC), ('M', 60.0 * SEC), ('S', SEC)];
    let mut total = sum_units(date, date_units)?;
    if let Some(t) = time {
        if t.is_empty() {
            return None;
        }
        total += sum_units(t, time_units)?;
    } else if date.is_empty() {
        return None;
    }
    (total.is_finite() && total < 1e15).then_some(total.round() as i64)
}

/// The sum of `<number><unit>` parts, units in the order `units` lists them, each at most once.
fn sum_units(s: &str, units: &[(char, f64)]) -> Option<f64> {
    let mut total = 0.0;
    let mut next_unit = 0;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() || c == '.' || c == ',' {
            number.push(if c == ',' { '.' } else { c });
            continue;
        }
        let at = units[next_unit..].iter().position(|(u, _)| *u == c)? + next_unit;
        let n: f64 = number.parse().ok()?;
        total += n * units[at].1;
        number.clear();
        next_unit = at + 1;
    }
    number.is_empty().then_some(total)
}

/// The `timezone` (`+HHMM` or `-HHMM`) as an offset from UTC in minutes.
pub fn parse_timezone(value: &str) -> Result<i32, String> {
    let bad = || {
        format!("'{value}' is not a time zone offset such as +0000, +0130 or -0800 (+ or - and four digits)")
    };
    let b = value.as_bytes();
    if b.len() != 5 || !b[1..].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err(bad()),
    };
    let hours: i32 = value[1..3].parse().map_err(|_| bad())?;
    let minutes: i32 = value[3..5].parse().map_err(|_| bad())?;
    if hours > 23 || minutes > 59 {
        return Err(bad());
    }
    Ok(sign * (hours * 60 + minutes))
}

/// A point in time as the graph's axis shows it, in the widget's time zone: `HH:MM`, or
/// `MM/DD` plus `HH:MM` when the graph spans days.
pub fn axis_label(ms: i64, offset_min: i32, span_ms: i64) -> String {
    let secs = ms.div_euclid(1000) + i64::from(offset_min) * 60;
    let Ok(t) = OffsetDateTime::from_unix_timestamp(secs) else {
        return String::new();
    };
    if span_ms > 2 * 86_400_000 {
        format!("{:02}/{:02}", u8::from(t.month()), t.day())
    } else if span_ms > 86_400_000 {
        format!(
            "{:02}/{:02} {:02}:{:02}",
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        )
    } else {
        format!("{:02}:{:02}", t.hour(), t.minute())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn relative_durations_count_back_from_now() {
        assert_eq!(parse_time("-PT3H", NOW), Ok(NOW - 3 * 3_600_000));
        assert_eq!(parse_time("-PT0H", NOW), Ok(NOW));
        assert_eq!(parse_time("-P1D", NOW), Ok(NOW - 86_400_000));
        assert_eq!(parse_time("-P1DT12H", NOW), Ok(NOW - 36 * 3_600_000));
        assert_eq!(parse_time("-PT15M", NOW), Ok(NOW - 900_000));
        assert_eq!(parse_time("-PT90S", NOW), Ok(NOW - 90_000));
        assert_eq!(parse_time("-P2W", NOW), Ok(NOW - 14 * 86_400_000));
        assert_eq!(parse_time("-PT1.5H", NOW), Ok(NOW - 5_400_000));
    }

    #[test]
    fn malformed_durations_are_refused() {
        for bad in [
            "-P", "-PT", "-PT3", "-PTH", "-P3H", "-PT3H2H", "-PT2M3H", "-PT3X", "PT3H",
        ] {
            assert!(parse_time(bad, NOW).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn absolute_times_are_rfc3339() {
        assert_eq!(
            parse_time("2018-04-25T12:00:00.000Z", NOW),
            Ok(1_524_657_600_000)
        );
        assert_eq!(
            parse_time("2018-04-25T12:00:00Z", NOW),
            Ok(1_524_657_600_000)
        );
        assert_eq!(
            parse_time("2018-04-25T13:30:00+01:30", NOW),
            Ok(1_524_657_600_000)
        );
        assert!(parse_time("2018-04-25", NOW).is_err());
        assert!(parse_time("yesterday", NOW).is_err());
    }

    #[test]
    fn timezones() {
        assert_eq!(parse_timezone("+0000"), Ok(0));
        assert_eq!(parse_timezone("+0130"), Ok(90));
        assert_eq!(parse_timezone("-0800"), Ok(-480));
        for bad in ["0100", "+1", "+01:00", "+2400", "+0060", "UTC"] {
            assert!(parse_timezone(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn axis_labels_follow_the_time_zone() {
        // 2018-04-25T12:00:00Z
        let t = 1_524_657_600_000;
        assert_eq!(axis_label(t, 0, 3_600_000), "12:00");
        assert_eq!(axis_label(t, 90, 3_600_000), "13:30");
        assert_eq!(axis_label(t, -480, 3_600_000), "04:00");
        assert_eq!(axis_label(t, 0, 7 * 86_400_000), "04/25");
    }
}
