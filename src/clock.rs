//! Wall-clock time as AWS writes it: now, ISO 8601 UTC with milliseconds
//! (`2026-12-03T15:40:00.000Z`), and ISO 8601 or epoch seconds read back, for every part
//! (the store's records, the API's codecs, SigV4's dates, CloudWatch's and SNS's times).
//! Dates are proleptic Gregorian (Howard Hinnant's algorithms).

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// ISO 8601 UTC with milliseconds, as EC2 prints times (`2026-11-27T21:40:00.000Z`).
pub fn iso8601_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    iso8601(now.as_secs() as i64, now.subsec_millis())
}

/// `secs.millis` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`, the form EC2 prints times in.
pub fn iso8601(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Milliseconds since the epoch as ISO 8601 with milliseconds.
pub fn iso_ms(ms: i64) -> String {
    iso8601(ms.div_euclid(1000), ms.rem_euclid(1000) as u32)
}

/// ISO 8601 (`2026-12-03`, `2026-12-03T15:40`, `2026-12-03T15:40:00.5Z`, `…+09:00`,
/// `…-0500`; no zone means UTC, as the aws CLI reads it) or epoch seconds (with a fraction
/// or not), as milliseconds since the epoch.
pub fn parse_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return secs_to_ms(secs);
    }
    parse_iso(t)
}

/// Epoch seconds as milliseconds, if finite and within ±3 million years.
pub fn secs_to_ms(secs: f64) -> Option<i64> {
    if secs.is_finite() && secs.abs() < 1e14 {
        Some((secs * 1000.0).round() as i64)
    } else {
        None
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
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

fn parse_iso(t: &str) -> Option<i64> {
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
        // `get`, not slicing: four bytes of a client's text need not be four characters.
        let (hh, mm) = match z.len() {
            2 => (num(&z)?, 0),
            4 => (num(z.get(..2)?)?, num(z.get(2..)?)?),
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
    Some(secs * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzz/aws_query_json: a zone of four bytes that are not four characters
    /// panicked slicing inside a character (a `PutMetricData` timestamp could end
    /// `ec2lab serve`, which aborts on panic).
    #[test]
    fn a_zone_that_is_not_ascii_is_refused() {
        assert_eq!(parse_ms("2026-01-01T00:00+\u{fffd},"), None);
        assert_eq!(parse_ms("2026-01-01T00:00-1\u{e9}"), None);
        assert_eq!(
            parse_ms("2026-01-01T01:00+0100"),
            parse_ms("2026-01-01T00:00Z")
        );
    }
}
