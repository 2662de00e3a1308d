//! The numbers behind the graph: each axis's range, the time axis's marks, compact axis
//! numbers, stacking, and clipping a line to the plot.

use super::query::YAxisSide;
use super::spec::{Axis, Widget};

/// The y range of one axis: the widget's `min`/`max` where given, else the data and the
/// visible horizontal annotations (CloudWatch scales so that those show), from 0 when
/// nothing is negative.
pub fn y_range(axis: &Axis, values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let lo = axis.min.unwrap_or(if lo >= 0.0 { 0.0 } else { lo });
    let mut hi = match axis.max {
        Some(max) => max,
        None if hi.is_finite() => hi + (hi - lo).abs() * 0.05,
        None => lo + 1.0, // no data: an empty graph from 0 to 1
    };
    if hi <= lo {
        hi = lo + if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
    }
    (lo, hi)
}

/// The points drawn for each metric: stacked ones are added onto the metrics before them
/// on the same axis. Each entry: `(time, lower, upper)`.
pub fn stacked_points(widget: &Widget, series: &[Vec<(i64, f64)>]) -> Vec<Vec<(i64, f64, f64)>> {
    let mut bases: [std::collections::HashMap<i64, f64>; 2] = Default::default();
    widget
        .metrics
        .iter()
        .zip(series)
        .map(|(m, points)| {
            let base = &mut bases[usize::from(m.y_axis == YAxisSide::Right)];
            points
                .iter()
                .map(|&(t, v)| {
                    if widget.stacked {
                        let below = base.entry(t).or_insert(0.0);
                        let lower = *below;
                        *below += v;
                        (t, lower, lower + v)
                    } else {
                        (t, 0.0, v)
                    }
                })
                .collect()
        })
        .collect()
}

/// The times the x axis marks: round times in the widget's time zone (every 5 minutes,
/// 30 minutes, 1 hour, ...), at most `max` of them.
pub fn time_ticks(start_ms: i64, end_ms: i64, offset_min: i32, max: i64) -> Vec<i64> {
    const MIN: i64 = 60_000;
    const STEPS: [i64; 16] = [
        MIN,
        2 * MIN,
        5 * MIN,
        10 * MIN,
        15 * MIN,
        30 * MIN,
        60 * MIN,
        2 * 60 * MIN,
        3 * 60 * MIN,
        6 * 60 * MIN,
        12 * 60 * MIN,
        1440 * MIN,
        2 * 1440 * MIN,
        7 * 1440 * MIN,
        14 * 1440 * MIN,
        30 * 1440 * MIN,
    ];
    let span = end_ms - start_ms;
    let max = max.max(1);
    let step = STEPS
        .into_iter()
        .find(|s| span / s <= max)
        .unwrap_or(span / max + 1);
    let offset = i64::from(offset_min) * MIN;
    // The first multiple of `step` in local time at or after the start.
    let first = (start_ms + offset).div_euclid(step) * step - offset;
    let first = if first < start_ms {
        first + step
    } else {
        first
    };
    (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= end_ms)
        .collect()
}

/// The compact number an axis shows: `950`, `1.5k`, `2.25M`, `0.125`.
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e12 {
        (v / 1e12, "T")
    } else if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let mut s = format!("{scaled:.3}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    if s == "-0" {
        s = "0".into();
    }
    s + suffix
}

/// The part of the segment `a`-`b` inside the box, in data coordinates (Liang-Barsky).
pub fn clip(a: (f64, f64), b: (f64, f64), x: (f64, f64), y: (f64, f64)) -> Option<[(f64, f64); 2]> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x.0),
        (dx, x.1 - a.0),
        (-dy, a.1 - y.0),
        (dy, y.1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1).then_some([
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(950.0), "950");
        assert_eq!(short_number(0.125), "0.125");
        assert_eq!(short_number(15_000.0), "15k");
        assert_eq!(short_number(2_250_000.0), "2.25M");
        assert_eq!(short_number(-3e9), "-3G");
    }

    #[test]
    fn time_ticks_are_round_times_in_the_time_zone() {
        const H: i64 = 3_600_000;
        // 2018-04-25T09:00:00Z .. 12:00:00Z, 10:50 is not a mark; every 30 minutes is.
        let start = 1_524_646_800_000;
        let ticks = time_ticks(start - 10 * 60_000, start + 3 * H, 0, 6);
        assert_eq!(ticks.first(), Some(&start));
        assert!(ticks.windows(2).all(|w| w[1] - w[0] == H / 2), "{ticks:?}");
        assert_eq!(ticks.len(), 7);
        // In +0130 the half hours of UTC are full hours and vice versa: still round.
        let local = time_ticks(start, start + 3 * H, 90, 6);
        assert!(local.iter().all(|t| (t + 90 * 60_000) % (H / 2) == 0));
    }

    #[test]
    fn clipping_keeps_the_inside_of_a_segment() {
        let bx = (0.0, 10.0);
        assert_eq!(
            clip((-5.0, 5.0), (5.0, 5.0), bx, bx),
            Some([(0.0, 5.0), (5.0, 5.0)])
        );
        assert_eq!(
            clip((0.0, 0.0), (10.0, 20.0), bx, bx),
            Some([(0.0, 0.0), (5.0, 10.0)])
        );
        assert_eq!(clip((0.0, 11.0), (10.0, 12.0), bx, bx), None);
    }

    #[test]
    fn y_ranges_start_at_zero_and_honour_limits() {
        let auto = Axis::default();
        assert_eq!(y_range(&auto, [10.0, 50.0].into_iter()), (0.0, 52.5));
        assert_eq!(y_range(&auto, std::iter::empty()), (0.0, 1.0));
        let (lo, _) = y_range(&auto, [-10.0, 10.0].into_iter());
        assert_eq!(lo, -10.0);
        let fixed = Axis {
            min: Some(0.0),
            max: Some(100.0),
            label: None,
        };
        assert_eq!(y_range(&fixed, [500.0].into_iter()), (0.0, 100.0));
    }
}
