//! The renderer end to end: widget JSON in, queries out to `fetch`, a PNG back that is
//! decoded and whose pixels are checked where the lines must be.

use super::annotations::Fill;
use super::spec::{LegendPosition, View, Widget};
use super::*;
use crate::cloudwatch::Dimension;

/// 2018-04-25T12:00:00Z.
const NOW: i64 = 1_524_657_600_000;

/// Writes a test's image to `$EC2LAB_WIDGET_PNG_DIR/<name>.png` when that is set, for a
/// person to look at.
fn keep(name: &str, png_bytes: &[u8]) {
    if let Ok(dir) = std::env::var("EC2LAB_WIDGET_PNG_DIR") {
        std::fs::write(format!("{dir}/{name}.png"), png_bytes).unwrap();
    }
}

/// A decoded RGB image.
struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Image {
    fn decode(png_bytes: &[u8]) -> Image {
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().expect("PNG header");
        let mut rgb = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut rgb).expect("PNG data");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        rgb.truncate(info.buffer_size());
        Image {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// How many pixels of row `y` are exactly `color`.
    fn count_in_row(&self, y: u32, color: [u8; 3]) -> u32 {
        (0..self.width)
            .filter(|&x| self.pixel(x, y) == color)
            .count() as u32
    }

    /// The rows where at least `min` pixels are exactly `color`.
    fn rows_with(&self, color: [u8; 3], min: u32) -> Vec<u32> {
        (0..self.height)
            .filter(|&y| self.count_in_row(y, color) >= min)
            .collect()
    }

    /// The middle of the rows where `color` runs across at least half the image.
    fn line_row(&self, color: [u8; 3]) -> f64 {
        let rows = self.rows_with(color, self.width / 2);
        assert!(!rows.is_empty(), "no horizontal line of colour {color:?}");
        assert!(
            rows.last().unwrap() - rows[0] <= 3,
            "colour {color:?} runs across rows {rows:?}, not one line"
        );
        f64::from(rows[0] + rows.last().unwrap()) / 2.0
    }

    /// Pixels that are neither the background nor `except`, inside a box.
    fn drawn_in(&self, x: std::ops::Range<u32>, y: std::ops::Range<u32>) -> usize {
        y.flat_map(|yy| x.clone().map(move |xx| (xx, yy)))
            .filter(|&(xx, yy)| self.pixel(xx, yy) != [255, 255, 255])
            .count()
    }
}

/// A fetch that answers every query with `points` and records the queries.
fn recording(
    points: Vec<(i64, f64)>,
    seen: &mut Vec<MetricQuery>,
) -> impl FnMut(&MetricQuery) -> Result<Vec<(i64, f64)>, Ec2Error> + '_ {
    move |q: &MetricQuery| {
        seen.push(q.clone());
        Ok(points.clone())
    }
}

/// One point a minute over the last three hours, all at `value`.
fn flat(value: f64) -> Vec<(i64, f64)> {
    (0..180)
        .map(|i| (NOW - 3 * 3_600_000 + i * 60_000, value))
        .collect()
}

#[test]
fn draws_the_line_between_its_thresholds_where_the_values_say() {
    let widget = r##"{
        "metrics": [["AWS/EC2", "CPUUtilization", "InstanceId", "i-0123456789abcdef0",
                     {"color": "#0000ff", "period": 60}]],
        "width": 640, "height": 360,
        "yAxis": {"left": {"min": 0, "max": 100}},
        "legend": {"position": "hidden"},
        "annotations": {"horizontal": [
            {"value": 80, "label": "CPU > 80", "color": "#ff0000"},
            {"value": 20, "color": "#00ff00"}
        ]}
    }"##;
    let mut seen = Vec::new();
    let png_bytes = render_at(widget, NOW, &mut recording(flat(50.0), &mut seen)).unwrap();
    keep("thresholds", &png_bytes);
    let img = Image::decode(&png_bytes);
    assert_eq!((img.width, img.height), (640, 360));

    let red = img.line_row([255, 0, 0]);
    let green = img.line_row([0, 255, 0]);
    let blue = img.line_row([0, 0, 255]);
    // Higher values are higher up, and 50 lies halfway between 20 and 80.
    assert!(
        red < blue && blue < green,
        "rows: 80 at {red}, 50 at {blue}, 20 at {green}"
    );
    let halfway = (red + green) / 2.0;
    assert!(
        (blue - halfway).abs() <= 2.0,
        "the line for 50 is on row {blue}, not halfway ({halfway}) between 80 and 20"
    );
    // 0..100 fills most of the 360 rows: 60 units take more than 3 rows each.
    assert!(
        (green - red) / 60.0 > 3.0,
        "rows: 80 at {red}, 20 at {green}"
    );

    assert_eq!(seen.len(), 1);
    let q = &seen[0];
    assert_eq!(q.namespace, "AWS/EC2");
    assert_eq!(q.metric_name, "CPUUtilization");
    assert_eq!(
        q.dimensions,
        vec![Dimension::new("InstanceId", "i-0123456789abcdef0")]
    );
    assert_eq!(q.stat, "Average");
    assert_eq!(q.period_s, 60);
    assert_eq!((q.start_ms, q.end_ms), (NOW - 3 * 3_600_000, NOW));
    assert_eq!(q.color, Some([0, 0, 255]));
    assert_eq!(q.label, "CPUUtilization");
}

#[test]
fn a_rising_line_rises_and_the_threshold_fill_shades_above() {
    // Values from 0 to 100 across the range: the left end is low, the right end high.
    let points: Vec<(i64, f64)> = (0..=100)
        .map(|i| (NOW - 3 * 3_600_000 + i * 108_000, i as f64))
        .collect();
    let widget = r##"{
        "metrics": [["Custom", "Load", {"color": "#0000ff"}]],
        "yAxis": {"left": {"min": 0, "max": 100}},
        "legend": {"position": "hidden"},
        "annotations": {"horizontal": [{"value": 50, "color": "#ff0000", "fill": "above"}]}
    }"##;
    let png_bytes = render_at(widget, NOW, &mut |_: &MetricQuery| Ok(points.clone())).unwrap();
    keep("rising", &png_bytes);
    let img = Image::decode(&png_bytes);
    assert_eq!((img.width, img.height), (600, 400));
    let blue_at = |x: u32| {
        (0..img.height)
            .filter(|&y| img.pixel(x, y) == [0, 0, 255])
            .collect::<Vec<_>>()
    };
    let blues: Vec<(u32, u32)> = (0..img.width)
        .filter_map(|x| blue_at(x).first().map(|&y| (x, y)))
        .collect();
    assert!(blues.len() > 300, "the line should cross most of the width");
    let (first, last) = (blues[0], blues[blues.len() - 1]);
    assert!(
        first.1 > last.1 + 200,
        "line from {first:?} to {last:?} does not rise"
    );
    let threshold = img.line_row([255, 0, 0]);
    // Above the threshold the background is shaded red; below it stays white.
    let x = img.width / 2 + 40;
    let above = img.pixel(x, threshold as u32 - 20);
    let below = img.pixel(x, threshold as u32 + 20);
    assert_eq!(below, [255, 255, 255], "below the threshold is not shaded");
    assert!(
        above[0] == 255 && above[1] < 255 && above[1] == above[2],
        "above the threshold should be shaded pale red, is {above:?}"
    );
}

#[test]
fn titles_and_legends_are_written_with_the_embedded_font() {
    let widget = r##"{"metrics": [["AWS/EC2", "CPUUtilization"]], "title": "CPU of my instance",
                     "width": 400, "height": 300}"##;
    let plain = r##"{"metrics": [["AWS/EC2", "CPUUtilization"]], "width": 400, "height": 300,
                     "legend": {"position": "hidden"}}"##;
    let fetch = &mut |_: &MetricQuery| Ok(Vec::new());
    let titled_png = render_at(widget, NOW, fetch).unwrap();
    keep("titled", &titled_png);
    let titled = Image::decode(&titled_png);
    let bare = Image::decode(&render_at(plain, NOW, fetch).unwrap());
    assert!(titled.drawn_in(60..200, 0..22) > 100, "no title text drawn");
    assert_eq!(
        bare.drawn_in(60..200, 0..7),
        0,
        "the untitled image has a title"
    );
    // The legend (bottom, default) names the metric: text pixels in the bottom strip, and
    // the time axis's labels stay above it (the 10:00 mark lies near x = 160).
    assert!(titled.drawn_in(20..120, 280..300) > 50, "no legend drawn");
    assert_eq!(
        titled.drawn_in(130..200, 280..300),
        0,
        "axis labels run into the legend"
    );
    assert!(
        titled.drawn_in(130..200, 250..278) > 20,
        "no time axis labels"
    );
}

#[test]
fn every_size_from_one_pixel_to_the_limit_is_drawn() {
    for (w, h) in [(1, 1), (50, 30), (2000, 2000), (2000, 10)] {
        let widget = format!(
            r#"{{"metrics": [["A", "B"]], "width": {w}, "height": {h}, "title": "t",
                 "annotations": {{"horizontal": [{{"value": 3, "label": "x"}}]}}}}"#
        );
        let img =
            Image::decode(&render_at(&widget, NOW, &mut |_: &MetricQuery| Ok(flat(7.0))).unwrap());
        assert_eq!((img.width, img.height), (w, h));
    }
}

#[test]
fn stacked_right_axis_vertical_annotations_and_dark_theme_draw() {
    let widget = r##"{
        "metrics": [
            ["AWS/EC2", "NetworkIn", "InstanceId", "i-1", {"color": "#0000ff"}],
            [".", ".", ".", "i-2", {"color": "#00ff00"}],
            [".", "NetworkOut", ".", "i-1", {"yAxis": "right", "label": "out"}]
        ],
        "stacked": true, "theme": "dark", "legend": {"position": "right"},
        "timezone": "+0130", "stat": "Sum",
        "yAxis": {"left": {"label": "Bytes"}, "right": {"min": 0, "max": 10}},
        "annotations": {
            "horizontal": [[{"value": 30, "label": "band"}, {"value": 40}]],
            "vertical": [{"value": "2018-04-25T11:00:00Z", "label": "deploy", "fill": "after"}]
        }
    }"##;
    let mut seen = Vec::new();
    let png_bytes = render_at(widget, NOW, &mut recording(flat(5.0), &mut seen)).unwrap();
    keep("stacked", &png_bytes);
    let img = Image::decode(&png_bytes);
    assert_eq!((img.width, img.height), (600, 400));
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[1].dimensions,
        vec![Dimension::new("InstanceId", "i-2")]
    );
    assert_eq!(seen[2].metric_name, "NetworkOut");
    assert_eq!(seen[2].y_axis, YAxisSide::Right);
    assert!(seen.iter().all(|q| q.stat == "Sum"));
    assert_eq!(seen[0].label, "NetworkIn i-1");
    assert_eq!(seen[2].label, "out");
    // Stacked: the second metric's line (5 + 5) lies above the first's (5).
    let blue = img.line_row([0, 0, 255]);
    let green = img.line_row([0, 255, 0]);
    assert!(
        green < blue,
        "stacked line at row {green} is not above the first at {blue}"
    );
    assert_eq!(img.pixel(0, 0), [0x23, 0x2f, 0x3e], "dark background");
}

#[test]
fn single_value_view_draws_the_latest_values() {
    let widget = r#"{"metrics": [["AWS/EC2", "CPUUtilization"]], "view": "singleValue",
                     "width": 300, "height": 150}"#;
    let png_bytes = render_at(widget, NOW, &mut |_: &MetricQuery| Ok(flat(42.0))).unwrap();
    keep("single", &png_bytes);
    let img = Image::decode(&png_bytes);
    assert_eq!((img.width, img.height), (300, 150));
    assert!(img.drawn_in(16..200, 26..100) > 100, "no value drawn");
    assert_eq!(
        img.drawn_in(0..300, 120..150),
        0,
        "a single value has no legend"
    );
}

#[test]
fn short_form_rows_repeat_the_previous_entries() {
    let w = Widget::parse(
        r#"{"metrics": [
            ["AWS/EC2", "DiskReadBytes", "InstanceId", "i-01234567890123456"],
            [".", ".", ".", "i-abc"],
            [".", ".", ".", "i-123", {"stat": "p99", "period": 10}],
            [".", "DiskWriteBytes", ".", ".", {"visible": false}],
            ["AWS/EBS", "VolumeReadOps", "VolumeId", "vol-1", {"label": "reads"}]
        ], "period": 3600, "start": "-P7D", "end": "2018-04-25T06:00:00Z"}"#,
        NOW,
    )
    .unwrap();
    let m = &w.metrics;
    assert_eq!(m.len(), 4, "the hidden metric is not drawn or fetched");
    assert_eq!(m[1].dimensions, vec![Dimension::new("InstanceId", "i-abc")]);
    assert_eq!(m[2].dimensions, vec![Dimension::new("InstanceId", "i-123")]);
    assert_eq!((m[0].period_s, m[0].stat.as_str()), (3600, "Average"));
    assert_eq!((m[2].period_s, m[2].stat.as_str()), (10, "p99"));
    assert_eq!(m[3].namespace, "AWS/EBS");
    assert_eq!(m[3].label, "reads");
    assert_eq!(m[0].label, "DiskReadBytes i-01234567890123456");
    assert_eq!(w.start_ms, NOW - 7 * 86_400_000);
    assert_eq!(w.end_ms, NOW - 6 * 3_600_000);
    assert!(m
        .iter()
        .all(|q| q.start_ms == w.start_ms && q.end_ms == w.end_ms));
    assert_eq!((w.width, w.height), (600, 400));
    assert_eq!(w.view, View::TimeSeries);
    assert_eq!(w.legend, LegendPosition::Bottom);
}

#[test]
fn dimensions_are_sorted_and_annotations_parsed() {
    let w = Widget::parse(
        r##"{"metrics": [["N", "M", "Zone", "a", "Host", "b"]],
            "annotations": {"horizontal": [
                {"value": 80, "fill": "below", "yAxis": "right", "color": "#9467bd"},
                {"value": 1, "visible": false}
            ]}}"##,
        NOW,
    )
    .unwrap();
    assert_eq!(
        w.metrics[0].dimensions,
        vec![Dimension::new("Host", "b"), Dimension::new("Zone", "a")]
    );
    assert_eq!(w.horizontal.len(), 1);
    let h = &w.horizontal[0];
    assert_eq!(
        (h.value, h.fill, h.y_axis),
        (80.0, Fill::BelowOrBefore, YAxisSide::Right)
    );
    assert_eq!(h.color, Some([0x94, 0x67, 0xbd]));
}

#[test]
fn bad_widgets_get_invalid_parameter_value_naming_the_field() {
    let cases: &[(&str, &str)] = &[
        ("not json", "not valid JSON"),
        ("[1]", "JSON object"),
        (r#"{"metrics": []}"#, "MetricWidget.metrics"),
        (r#"{"metrics": [["AWS/EC2"]]}"#, "MetricWidget.metrics[0]"),
        (
            r#"{"metrics": [[".", "CPU"]]}"#,
            "MetricWidget.metrics[0][0]",
        ),
        (
            r#"{"metrics": [["A", "B", "InstanceId"]]}"#,
            "without a value",
        ),
        (r#"{"metrics": [["A", 5]]}"#, "MetricWidget.metrics[0][1]"),
        (
            r#"{"metrics": [["A", "B"]], "width": 2001}"#,
            "MetricWidget.width",
        ),
        (
            r#"{"metrics": [["A", "B"]], "height": 0}"#,
            "MetricWidget.height",
        ),
        (
            r#"{"metrics": [["A", "B"]], "period": 45}"#,
            "MetricWidget.period",
        ),
        (
            r#"{"metrics": [["A", "B", {"period": 90}]]}"#,
            "MetricWidget.metrics[0].period",
        ),
        (
            r#"{"metrics": [["A", "B"]], "stat": "Median"}"#,
            "MetricWidget.stat",
        ),
        (
            r#"{"metrics": [["A", "B", {"color": "red"}]]}"#,
            "MetricWidget.metrics[0].color",
        ),
        (
            r#"{"metrics": [["A", "B", {"yAxis": "top"}]]}"#,
            "MetricWidget.metrics[0].yAxis",
        ),
        (r#"{"metrics": [[{"expression": "m1*2"}]]}"#, "expression"),
        (
            r#"{"metrics": [["A", "B"]], "start": "-PT3X"}"#,
            "MetricWidget.start",
        ),
        (
            r#"{"metrics": [["A", "B"]], "start": "-PT1H", "end": "-PT2H"}"#,
            "before",
        ),
        (
            r#"{"metrics": [["A", "B"]], "timezone": "UTC"}"#,
            "MetricWidget.timezone",
        ),
        (
            r#"{"metrics": [["A", "B"]], "view": "bar"}"#,
            "MetricWidget.view",
        ),
        (
            r#"{"metrics": [["A", "B"]], "view": "radar"}"#,
            "MetricWidget.view",
        ),
        (
            r#"{"metrics": [["A", "B"]], "legend": {"position": "top"}}"#,
            "legend.position",
        ),
        (
            r#"{"metrics": [["A", "B"]], "yAxis": {"left": {"min": 5, "max": 1}}}"#,
            "yAxis.left.min",
        ),
        (
            r#"{"metrics": [["A", "B"]], "annotations": {"horizontal": [{"label": "x"}]}}"#,
            "annotations.horizontal[0].value",
        ),
        (
            r#"{"metrics": [["A", "B"]], "annotations": {"horizontal": [{"value": 1, "fill": "left"}]}}"#,
            "annotations.horizontal[0].fill",
        ),
        (
            r#"{"metrics": [["A", "B"]], "annotations": {"vertical": [{"value": "soon"}]}}"#,
            "annotations.vertical[0].value",
        ),
        (
            r#"{"metrics": [["A", "B"]], "stacked": "yes"}"#,
            "MetricWidget.stacked",
        ),
    ];
    for (json, names) in cases {
        let mut called = false;
        let err = render_at(json, NOW, &mut |_: &MetricQuery| {
            called = true;
            Ok(Vec::new())
        })
        .expect_err(json);
        assert_eq!(err.code, "InvalidParameterValue", "{json}: {err}");
        assert!(
            err.message.contains(names),
            "{json}: '{}' does not name {names}",
            err.message
        );
        assert!(!called, "{json}: fetched before the widget was checked");
    }
    let err = render_at("{}", NOW, &mut |_: &MetricQuery| Ok(Vec::new())).unwrap_err();
    assert_eq!(err.code, "MissingParameter");
    let too_many = format!(
        r#"{{"metrics": [{}]}}"#,
        vec![r#"["A", "B"]"#; 101].join(",")
    );
    let err = render_at(&too_many, NOW, &mut |_: &MetricQuery| Ok(Vec::new())).unwrap_err();
    assert_eq!(err.code, "InvalidParameterValue");
}

#[test]
fn a_fetch_error_is_the_render_error() {
    let err = render_at(
        r#"{"metrics": [["A", "B", {"stat": "p99"}]]}"#,
        NOW,
        &mut |q: &MetricQuery| {
            Err(Ec2Error::invalid_parameter(format!(
                "cannot compute {}",
                q.stat
            )))
        },
    )
    .unwrap_err();
    assert_eq!(err.message, "cannot compute p99");
}

#[test]
fn statistics_as_cloudwatch_names_them() {
    for ok in [
        "Average",
        "SampleCount",
        "p99",
        "p99.9",
        "p0",
        "TM(10%:90%)",
        "tm99",
        "IQM",
        "PR(:300)",
    ] {
        assert!(spec::valid_stat(ok), "{ok}");
    }
    for bad in ["average", "p", "p101", "TM", "TM()", "Median", "pp9"] {
        assert!(!spec::valid_stat(bad), "{bad}");
    }
}
