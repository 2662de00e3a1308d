//! The widget drawn: plotters' bitmap backend paints an RGB buffer the widget's size
//! (title, graph with its axes and annotations, legend), and `png` encodes it.
//!
//! Text uses DejaVu Sans from the `dejavu` crate, registered with plotters once; nothing
//! looks for fonts on the host. DejaVu's fonts are free to use and redistribute under the
//! Bitstream Vera Fonts licence (with DejaVu's changes in the public domain).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

use super::annotations::Fill;
use super::query::YAxisSide;
use super::scale::{clip, short_number, stacked_points, time_ticks, y_range};
use super::spec::{Axis, LegendPosition, View, Widget};
use super::times::axis_label;
use crate::error::Ec2Error;

/// CloudWatch's line colours, in the order it gives them to metrics without a `color`.
const PALETTE: [[u8; 3]; 10] = [
    [0x1f, 0x77, 0xb4],
    [0xff, 0x7f, 0x0e],
    [0x2c, 0xa0, 0x2c],
    [0xd6, 0x27, 0x28],
    [0x94, 0x67, 0xbd],
    [0x8c, 0x56, 0x4b],
    [0xe3, 0x77, 0xc2],
    [0x7f, 0x7f, 0x7f],
    [0xbc, 0xbd, 0x22],
    [0x17, 0xbe, 0xcf],
];
/// An annotation without a `color`: red, as an alarm's threshold line is drawn.
const ANNOTATION_COLOR: [u8; 3] = [0xd6, 0x27, 0x28];
/// The family name the embedded font is registered under.
const FONT: &str = "sans-serif";

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Colours of the light or dark theme.
struct Theme {
    background: RGBColor,
    text: RGBColor,
    grid: RGBColor,
    axis: RGBColor,
}

impl Theme {
    fn of(dark: bool) -> Theme {
        if dark {
            Theme {
                background: RGBColor(0x23, 0x2f, 0x3e),
                text: RGBColor(0xd1, 0xd5, 0xdb),
                grid: RGBColor(0x3b, 0x48, 0x59),
                axis: RGBColor(0x8d, 0x99, 0xa8),
            }
        } else {
            Theme {
                background: RGBColor(0xff, 0xff, 0xff),
                text: RGBColor(0x44, 0x44, 0x44),
                grid: RGBColor(0xe9, 0xeb, 0xed),
                axis: RGBColor(0x87, 0x87, 0x87),
            }
        }
    }
}

fn rgb(c: [u8; 3]) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// Registers the embedded font with plotters, once per process.
fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The font is compiled in and known to parse; the tests draw text with it, so a
        // failure here could only mean a broken build, and text would simply be missing.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

fn failed<E: std::fmt::Debug>(e: E) -> Ec2Error {
    Ec2Error::internal(format!("drawing the metric widget failed: {e:?}"))
}

/// The widget as a PNG; `series[i]` holds the points of `widget.metrics[i]`, sorted by time.
pub fn draw(widget: &Widget, series: &[Vec<(i64, f64)>]) -> Result<Vec<u8>, Ec2Error> {
    ensure_font();
    let (w, h) = (widget.width, widget.height);
    let mut buffer = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        let theme = Theme::of(widget.dark);
        root.fill(&theme.background).map_err(failed)?;
        let colors = line_colors(widget);
        // Below ~120x80 there is no room for words: the graph takes the whole image.
        let roomy = w >= 120 && h >= 80;
        let mut area = root.clone();
        if let (true, Some(title)) = (roomy, &widget.title) {
            let (top, rest) = area.split_vertically(24);
            top.draw_text(title, &text_style(&theme, 15), (8, 4))
                .map_err(failed)?;
            area = rest;
        }
        // A single value is shown under its own label: no legend.
        let legend = widget.legend != LegendPosition::Hidden && widget.view == View::TimeSeries;
        if roomy && legend {
            area = draw_legend(&area, widget, &colors, &theme)?;
        }
        match widget.view {
            View::TimeSeries => draw_chart(&area, widget, series, &colors, &theme, roomy)?,
            View::SingleValue => draw_single_values(&area, widget, series, &colors, &theme)?,
        }
        root.present().map_err(failed)?;
    }
    encode_png(&buffer, w, h)
}

/// Each metric's colour: its own `color`, else the next of the palette.
fn line_colors(widget: &Widget) -> Vec<RGBColor> {
    let mut next = 0;
    widget
        .metrics
        .iter()
        .map(|m| match m.color {
            Some(c) => rgb(c),
            None => {
                next += 1;
                rgb(PALETTE[(next - 1) % PALETTE.len()])
            }
        })
        .collect()
}

fn text_style(theme: &Theme, size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&theme.text)
}

/// Draws the legend at the bottom or right of `area` and returns what is left for the graph.
fn draw_legend<'a>(
    area: &Area<'a>,
    widget: &Widget,
    colors: &[RGBColor],
    theme: &Theme,
) -> Result<Area<'a>, Ec2Error> {
    let style = text_style(theme, 12);
    let (aw, ah) = area.dim_in_pixel();
    let entry_width = |label: &str| -> u32 {
        let (tw, _) = area.estimate_text_size(label, &style).unwrap_or((0, 0));
        tw + 26
    };
    const ROW: u32 = 18;
    // Positions of each entry, relative to the legend's own area.
    let mut placed = Vec::with_capacity(widget.metrics.len());
    let (legend, rest) = if widget.legend == LegendPosition::Right {
        let wanted = widget
            .metrics
            .iter()
            .map(|m| entry_width(&m.label))
            .max()
            .unwrap_or(0)
            + 8;
        let lw = wanted.min(aw / 3);
        for i in 0..widget.metrics.len() {
            placed.push((4, 8 + i as u32 * ROW));
        }
        let (rest, legend) = area.split_horizontally(aw - lw);
        (legend, rest)
    } else {
        let (mut x, mut y) = (8u32, 4u32);
        for m in &widget.metrics {
            let ew = entry_width(&m.label);
            if x > 8 && x + ew > aw {
                x = 8;
                y += ROW;
            }
            placed.push((x, y));
            x += ew + 8;
        }
        let lh = (y + ROW + 2).min(ah / 3);
        let (rest, legend) = area.split_vertically(ah - lh);
        (legend, rest)
    };
    let (lw, lh) = legend.dim_in_pixel();
    for ((m, color), (x, y)) in widget.metrics.iter().zip(colors).zip(placed) {
        if y + ROW > lh + 4 || x >= lw {
            break; // no room left: CloudWatch also cuts a long legend short
        }
        let (x, y) = (x as i32, y as i32);
        legend
            .draw(&Rectangle::new(
                [(x, y + 2), (x + 11, y + 13)],
                color.filled(),
            ))
            .map_err(failed)?;
        legend
            .draw_text(&m.label, &style, (x + 16, y + 1))
            .map_err(failed)?;
    }
    Ok(rest)
}

/// The two passes over the metrics.
#[derive(Clone, Copy)]
enum Pass {
    Bands,
    Lines,
}

type Shapes<'a> = Vec<DynElement<'static, BitMapBackend<'a>, (f64, f64)>>;

/// A stacked metric's band, between the metrics below it and its own top.
fn band_shape<'a>(pts: &[(i64, f64, f64)], y: (f64, f64), color: RGBColor) -> Shapes<'a> {
    if pts.len() < 2 {
        return Vec::new();
    }
    let clamp = |v: f64| v.clamp(y.0, y.1);
    let mut outline: Vec<(f64, f64)> = pts
        .iter()
        .map(|&(t, _, hi)| (t as f64, clamp(hi)))
        .collect();
    outline.extend(pts.iter().rev().map(|&(t, lo, _)| (t as f64, clamp(lo))));
    vec![Polygon::new(outline, color.mix(0.35).filled()).into_dyn()]
}

/// A metric's line through its points, clipped to the graph; a lone point is a dot.
fn line_shapes<'a>(
    pts: &[(i64, f64, f64)],
    x: (f64, f64),
    y: (f64, f64),
    color: RGBColor,
) -> Shapes<'a> {
    let mut shapes: Shapes<'a> = Vec::new();
    let style = color.stroke_width(2);
    for pair in pts.windows(2) {
        let (a, b) = ((pair[0].0 as f64, pair[0].2), (pair[1].0 as f64, pair[1].2));
        if let Some(seg) = clip(a, b, x, y) {
            shapes.push(PathElement::new(seg.to_vec(), style).into_dyn());
        }
    }
    if let [only] = pts {
        if (y.0..=y.1).contains(&only.2) {
            shapes.push(Circle::new((only.0 as f64, only.2), 3, color.filled()).into_dyn());
        }
    }
    shapes
}

/// The graph: axes, grid, annotations and one line (or stacked band) per metric.
fn draw_chart(
    area: &Area<'_>,
    widget: &Widget,
    series: &[Vec<(i64, f64)>],
    colors: &[RGBColor],
    theme: &Theme,
    roomy: bool,
) -> Result<(), Ec2Error> {
    let points = stacked_points(widget, series);
    let on = |side: YAxisSide| {
        let data = widget
            .metrics
            .iter()
            .zip(&points)
            .filter(move |(m, _)| m.y_axis == side)
            .flat_map(|(_, p)| p.iter().flat_map(|&(_, lo, hi)| [lo, hi]));
        let notes = widget
            .horizontal
            .iter()
            .filter(move |a| a.y_axis == side)
            .flat_map(|a| std::iter::once(a.value).chain(a.band_to));
        data.chain(notes)
    };
    let (ly0, ly1) = y_range(&widget.left, on(YAxisSide::Left));
    let (ry0, ry1) = y_range(&widget.right, on(YAxisSide::Right));
    let has_right = widget.metrics.iter().any(|m| m.y_axis == YAxisSide::Right)
        || widget
            .horizontal
            .iter()
            .any(|a| a.y_axis == YAxisSide::Right);
    let (x0, x1) = (widget.start_ms as f64, widget.end_ms as f64);

    let mut builder = ChartBuilder::on(area);
    if roomy {
        let y_label = |a: &Axis| if a.label.is_some() { 64 } else { 48 };
        builder
            .margin_top(8)
            .margin_left(4)
            .margin_right(if has_right { 4 } else { 16 })
            .x_label_area_size(22)
            .y_label_area_size(y_label(&widget.left));
        if has_right {
            builder.right_y_label_area_size(y_label(&widget.right));
        }
    }
    let mut chart = builder
        .build_cartesian_2d(x0..x1, ly0..ly1)
        .map_err(failed)?
        .set_secondary_coord(x0..x1, ry0..ry1);

    // Shading first, so that grid, lines and labels stay visible over it.
    for v in &widget.vertical {
        let color = rgb(v.color.unwrap_or(ANNOTATION_COLOR));
        let (a, b) = match (v.band_to_ms, v.fill) {
            (Some(to), _) => (v.at_ms.min(to) as f64, v.at_ms.max(to) as f64),
            (None, Fill::AboveOrAfter) => (v.at_ms as f64, x1),
            (None, Fill::BelowOrBefore) => (x0, v.at_ms as f64),
            (None, Fill::None) => continue,
        };
        let (a, b) = (a.clamp(x0, x1), b.clamp(x0, x1));
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(a, ly0), (b, ly1)],
                color.mix(0.15).filled(),
            )))
            .map_err(failed)?;
    }
    for note in &widget.horizontal {
        let color = rgb(note.color.unwrap_or(ANNOTATION_COLOR));
        let (lo, hi) = if note.y_axis == YAxisSide::Right {
            (ry0, ry1)
        } else {
            (ly0, ly1)
        };
        let (a, b) = match (note.band_to, note.fill) {
            (Some(to), _) => (note.value.min(to), note.value.max(to)),
            (None, Fill::AboveOrAfter) => (note.value, hi),
            (None, Fill::BelowOrBefore) => (lo, note.value),
            (None, Fill::None) => continue,
        };
        let rect = Rectangle::new(
            [(x0, a.clamp(lo, hi)), (x1, b.clamp(lo, hi))],
            color.mix(0.15).filled(),
        );
        if note.y_axis == YAxisSide::Right {
            chart.draw_secondary_series(std::iter::once(rect))
        } else {
            chart.draw_series(std::iter::once(rect))
        }
        .map_err(failed)?;
    }

    let y_fmt = |y: &f64| short_number(*y);
    let labels = text_style(theme, 11);
    let mut mesh = chart.configure_mesh();
    // The time axis's marks are drawn below (plotters would put them at uneven times).
    mesh.x_labels(0)
        .y_labels(if roomy {
            (widget.height / 50).max(2) as usize
        } else {
            0
        })
        .y_label_formatter(&y_fmt)
        .disable_x_mesh()
        .max_light_lines(0)
        .bold_line_style(theme.grid)
        .axis_style(theme.axis)
        .label_style(labels.clone())
        .axis_desc_style(labels.clone());
    if let Some(label) = &widget.left.label {
        mesh.y_desc(label.as_str());
    }
    mesh.draw().map_err(failed)?;
    if roomy {
        let span = widget.end_ms - widget.start_ms;
        let tz = widget.timezone_min;
        let max = i64::from(widget.width / 100).max(2);
        for t in time_ticks(widget.start_ms, widget.end_ms, tz, max) {
            let (px, py) = local(area, chart.backend_coord(&(t as f64, ly0)));
            root_line(area, (px, py), (px, py + 4), theme.axis)?;
            let text = axis_label(t, tz, span);
            let style = labels.clone().pos(Pos::new(HPos::Center, VPos::Top));
            // A label that would run off the image is left out (its tick stays).
            let (tw, _) = area.estimate_text_size(&text, &style).unwrap_or((0, 0));
            let half = (tw / 2) as i32;
            if px - half >= 0 && px + half < area.dim_in_pixel().0 as i32 {
                area.draw_text(&text, &style, (px, py + 6))
                    .map_err(failed)?;
            }
        }
    }
    if has_right {
        let mut axes = chart.configure_secondary_axes();
        axes.y_labels(if roomy {
            (widget.height / 50).max(2) as usize
        } else {
            0
        })
        .y_label_formatter(&y_fmt)
        .axis_style(theme.axis)
        .label_style(labels.clone())
        .axis_desc_style(labels.clone());
        if let Some(label) = &widget.right.label {
            axes.y_desc(label.as_str());
        }
        axes.draw().map_err(failed)?;
    }

    // Stacked bands first, then every line over them, so no band hides a line.
    for pass in [Pass::Bands, Pass::Lines] {
        for ((m, pts), color) in widget.metrics.iter().zip(&points).zip(colors) {
            let y = if m.y_axis == YAxisSide::Right {
                (ry0, ry1)
            } else {
                (ly0, ly1)
            };
            let shapes = match pass {
                Pass::Bands if widget.stacked => band_shape(pts, y, *color),
                Pass::Bands => Vec::new(),
                Pass::Lines => line_shapes(pts, (x0, x1), y, *color),
            };
            if m.y_axis == YAxisSide::Right {
                chart.draw_secondary_series(shapes)
            } else {
                chart.draw_series(shapes)
            }
            .map_err(failed)?;
        }
    }

    // Annotation lines last, so a threshold shows even where a metric's line crosses it.
    for v in &widget.vertical {
        let color = rgb(v.color.unwrap_or(ANNOTATION_COLOR));
        for at in std::iter::once(v.at_ms).chain(v.band_to_ms) {
            let at = at as f64;
            if (x0..=x1).contains(&at) {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(at, ly0), (at, ly1)],
                        color.stroke_width(2),
                    )))
                    .map_err(failed)?;
            }
        }
        if let (true, Some(label)) = (roomy, &v.label) {
            let (px, py) = local(area, chart.backend_coord(&(v.at_ms as f64, ly1)));
            area.draw_text(
                label,
                &text_style(theme, 11).color(&color),
                (px + 4, py + 2),
            )
            .map_err(failed)?;
        }
    }
    for note in &widget.horizontal {
        let color = rgb(note.color.unwrap_or(ANNOTATION_COLOR));
        let right = note.y_axis == YAxisSide::Right;
        let (lo, hi) = if right { (ry0, ry1) } else { (ly0, ly1) };
        for value in std::iter::once(note.value).chain(note.band_to) {
            if !(lo..=hi).contains(&value) {
                continue;
            }
            let line = PathElement::new(vec![(x0, value), (x1, value)], color.stroke_width(2));
            if right {
                chart.draw_secondary_series(std::iter::once(line))
            } else {
                chart.draw_series(std::iter::once(line))
            }
            .map_err(failed)?;
        }
        if let (true, Some(label)) = (roomy, &note.label) {
            let value = note.value.clamp(lo, hi);
            let (px, py) = if right {
                local(area, chart.borrow_secondary().backend_coord(&(x0, value)))
            } else {
                local(area, chart.backend_coord(&(x0, value)))
            };
            let style = text_style(theme, 11).color(&color);
            // 19 px up puts the text just above the line (ab_glyph draws a little low).
            area.draw_text(label, &style, (px + 4, py - 19))
                .map_err(failed)?;
        }
    }
    Ok(())
}

/// A point of the whole image in `area`'s own pixels (the chart answers in the image's).
fn local(area: &Area<'_>, (x, y): (i32, i32)) -> (i32, i32) {
    let (bx, by) = area.get_base_pixel();
    (x - bx, y - by)
}

/// A one-pixel line in `area`'s own pixels.
fn root_line(
    area: &Area<'_>,
    a: (i32, i32),
    b: (i32, i32),
    color: RGBColor,
) -> Result<(), Ec2Error> {
    area.draw(&PathElement::new(vec![a, b], color))
        .map_err(failed)
}

/// `singleValue`: each metric's latest value as a large number under its label.
fn draw_single_values(
    area: &Area<'_>,
    widget: &Widget,
    series: &[Vec<(i64, f64)>],
    colors: &[RGBColor],
    theme: &Theme,
) -> Result<(), Ec2Error> {
    let n = widget.metrics.len().max(1);
    let columns = n.min(4);
    let rows = n.div_ceil(columns);
    let cells = area.split_evenly((rows, columns));
    for (i, (m, cell)) in widget.metrics.iter().zip(&cells).enumerate() {
        let (cw, ch) = cell.dim_in_pixel();
        let value = series[i].last().map(|&(_, v)| short_number(v));
        let value = value.as_deref().unwrap_or("--");
        let big = (ch / 3).clamp(10, 48);
        cell.draw(&Rectangle::new(
            [(8, 10), (11, 10 + big as i32 + 16)],
            colors[i].filled(),
        ))
        .map_err(failed)?;
        cell.draw_text(&m.label, &text_style(theme, 12), (16, 8))
            .map_err(failed)?;
        if cw > 24 {
            cell.draw_text(value, &text_style(theme, big), (16, 26))
                .map_err(failed)?;
        }
    }
    Ok(())
}

/// An RGB buffer as a PNG file.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, Ec2Error> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(failed)?;
    writer.write_image_data(rgb).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(out)
}
