//! Renders an operation's result the way `aws --output json|text|table` (AWS CLI v2) does,
//! so scripts written against the real CLI parse ec2lab's output unchanged.
//!
//! Scalars are printed the way the Python CLI stringifies them (`True`, `False`, `None`,
//! `1.0`), because that is what existing `--output text` consumers expect.

use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Width used for `--output table` when the terminal width is unknown; the AWS CLI uses
/// the same fallback when stdout is not a terminal.
pub const DEFAULT_TABLE_WIDTH: usize = 80;

/// The `--output` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// JSON, as the aws CLI prints it.
    #[default]
    Json,
    /// Boxed tables.
    Table,
    /// Tab-separated text.
    Text,
}

/// Returned by `OutputFormat::from_str` for anything but `json`, `table` or `text`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid output format '{0}', valid choices are: json | table | text")]
pub struct UnknownOutputFormat(pub String);

impl FromStr for OutputFormat {
    type Err = UnknownOutputFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Case-sensitive, like the AWS CLI's argparse choices.
        match s {
            "json" => Ok(Self::Json),
            "table" => Ok(Self::Table),
            "text" => Ok(Self::Text),
            other => Err(UnknownOutputFormat(other.to_string())),
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Json => "json",
            Self::Table => "table",
            Self::Text => "text",
        })
    }
}

/// Renders `value` in `format`; `title` (the operation name, e.g. "DescribeInstances")
/// heads the table. Tables assume an 80-column terminal, as the AWS CLI does when piped.
pub fn render(value: &Value, format: OutputFormat, title: &str) -> String {
    render_with_width(value, format, title, DEFAULT_TABLE_WIDTH)
}

/// Like [`render`], but with the terminal width tables should fit: sections wider than
/// this are turned into vertical key/value tables, as the AWS CLI does.
pub fn render_with_width(
    value: &Value,
    format: OutputFormat,
    title: &str,
    terminal_width: usize,
) -> String {
    // An operation without output (null, or an empty object once metadata is dropped)
    // prints nothing in every format.
    if value.is_null() || value.as_object().is_some_and(Map::is_empty) {
        return String::new();
    }
    match format {
        OutputFormat::Json => render_json(value),
        OutputFormat::Text => render_text(value),
        OutputFormat::Table => render_table(value, title, terminal_width),
    }
}

/// Pretty JSON with 4-space indentation and raw (unescaped) non-ASCII, plus a newline.
pub fn render_json(value: &Value) -> String {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    // Serializing a Value into memory cannot fail; fall back to nothing rather than panic.
    if value.serialize(&mut ser).is_err() {
        return String::new();
    }
    let mut out = String::from_utf8_lossy(&buf).into_owned();
    out.push('\n');
    out
}

/// AWS CLI `text` format: one tab-separated line per object, prefixed by its key in
/// upper case; nested objects and lists follow on their own lines.
pub fn render_text(value: &Value) -> String {
    let mut out = String::new();
    text_any(value, None, None, &mut out);
    out
}

/// AWS CLI `table` format for a given terminal width.
pub fn render_table(value: &Value, title: &str, terminal_width: usize) -> String {
    let mut table = Table::default();
    if !table.build(Some(title), value, 0) {
        return String::new();
    }
    table.render(terminal_width)
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// Python truthiness: the table formatter skips "empty" values entirely.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// A value as Python's `str()` prints it, which is what the AWS CLI writes in text and
/// table cells.
fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => py_float(f),
            _ => n.to_string(),
        },
        // Only reached for a key that is scalar in one list element and nested in another.
        Value::Array(_) | Value::Object(_) => serde_json::to_string(v).unwrap_or_default(),
    }
}

/// Python's `repr(float)`: shortest round-trip digits, always a decimal point, and
/// exponent notation outside 1e-4..1e16.
fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if f != 0.0 && !(-4..16).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let plain = format!("{f}");
    if plain.contains('.') {
        plain
    } else {
        format!("{plain}.0")
    }
}

fn sorted_entries(m: &Map<String, Value>) -> Vec<(&String, &Value)> {
    // Sorted explicitly: serde_json's map is only ordered without `preserve_order`.
    let mut entries: Vec<_> = m.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

// ---------------------------------------------------------------- text

fn text_any(v: &Value, ident: Option<&str>, scalar_keys: Option<&[String]>, out: &mut String) {
    match v {
        Value::Object(m) => text_object(m, ident, scalar_keys, out),
        Value::Array(items) => text_array(items, ident, out),
        _ => {
            out.push_str(&py_str(v));
            out.push('\n');
        }
    }
}

fn text_array(items: &[Value], ident: Option<&str>, out: &mut String) {
    if items.is_empty() {
        return;
    }
    if items.iter().any(Value::is_object) {
        // Every element prints the same columns, so rows line up even when some
        // elements lack a key.
        let keys: Vec<String> = items
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|m| m.iter().filter(|(_, v)| is_scalar(v)).map(|(k, _)| k))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for item in items {
            text_any(item, ident, Some(&keys), out);
        }
    } else if items.iter().any(Value::is_array) {
        let (scalars, nested): (Vec<&Value>, Vec<&Value>) =
            items.iter().partition(|v| is_scalar(v));
        if !scalars.is_empty() {
            text_scalar_list(&scalars, ident, out);
        }
        for item in nested {
            text_any(item, ident, None, out);
        }
    } else {
        let all: Vec<&Value> = items.iter().collect();
        text_scalar_list(&all, ident, out);
    }
}

fn text_scalar_list(items: &[&Value], ident: Option<&str>, out: &mut String) {
    match ident {
        // A named list prints one line per element.
        Some(id) => {
            let id = id.to_uppercase();
            for item in items {
                out.push_str(&id);
                out.push('\t');
                out.push_str(&py_str(item));
                out.push('\n');
            }
        }
        // A bare list (e.g. from --query) prints on one line.
        None => {
            let cells: Vec<String> = items.iter().map(|v| py_str(v)).collect();
            out.push_str(&cells.join("\t"));
            out.push('\n');
        }
    }
}

fn text_object(
    m: &Map<String, Value>,
    ident: Option<&str>,
    scalar_keys: Option<&[String]>,
    out: &mut String,
) {
    let mut fields = Vec::new();
    let mut nested = Vec::new();
    match scalar_keys {
        None => {
            for (k, v) in sorted_entries(m) {
                if is_scalar(v) {
                    fields.push(py_str(v));
                } else {
                    nested.push((k, v));
                }
            }
        }
        Some(keys) => {
            for k in keys {
                fields.push(m.get(k).map(py_str).unwrap_or_default());
            }
            for (k, v) in sorted_entries(m) {
                if !keys.contains(k) {
                    nested.push((k, v));
                }
            }
        }
    }
    if !fields.is_empty() {
        if let Some(id) = ident {
            out.push_str(&id.to_uppercase());
            out.push('\t');
        }
        out.push_str(&fields.join("\t"));
        out.push('\n');
    }
    for (k, v) in nested {
        text_any(v, Some(k), None, out);
    }
}

// ---------------------------------------------------------------- table

/// One titled block of the table: optional header row plus rows, indented by nesting.
#[derive(Debug, Default)]
struct Section {
    title: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    indent: usize,
    max_widths: Vec<usize>,
}

impl Section {
    fn new(title: &str, indent: usize) -> Self {
        Self {
            title: title.to_string(),
            indent,
            ..Self::default()
        }
    }

    fn add_header(&mut self, headers: Vec<String>) {
        self.update_widths(&headers);
        self.headers = headers;
    }

    fn add_row(&mut self, row: Vec<String>) {
        self.update_widths(&row);
        self.rows.push(row);
    }

    fn update_widths(&mut self, cells: &[String]) {
        if self.max_widths.is_empty() {
            self.max_widths = cells.iter().map(|c| text_width(c)).collect();
            return;
        }
        for (i, cell) in cells.iter().enumerate() {
            let w = text_width(cell);
            match self.max_widths.get_mut(i) {
                Some(max) => *max = (*max).max(w),
                None => self.max_widths.push(w),
            }
        }
    }

    /// Width this section needs: each column padded by 4, plus borders and the `|`
    /// gutters of its nesting level on both sides.
    fn total_width(&self) -> usize {
        let outer = 2 + 2 * self.indent;
        let columns: usize = self.max_widths.iter().map(|w| w + 4).sum::<usize>() + outer;
        columns.max(text_width(&self.title) + outer)
    }

    /// Column widths (padding included) stretched to fill exactly `max_width`.
    fn column_widths(&self, max_width: usize) -> Vec<usize> {
        if self.max_widths.is_empty() {
            return Vec::new();
        }
        let unscaled: Vec<usize> = self.max_widths.iter().map(|w| w + 4).collect();
        let scale = max_width as f64 / unscaled.iter().sum::<usize>() as f64;
        // Python's round() rounds halves to even; matching it keeps widths identical.
        let mut scaled: Vec<i64> = unscaled
            .iter()
            .map(|&w| (scale * w as f64).round_ties_even() as i64)
            .collect();
        let mut off_by = scaled.iter().sum::<i64>() - max_width as i64;
        // Rounding can leave us a few columns off: shave from the left, pad from the right.
        while off_by != 0 {
            if off_by > 0 {
                for w in scaled.iter_mut() {
                    *w -= 1;
                    off_by -= 1;
                    if off_by == 0 {
                        break;
                    }
                }
            } else {
                for w in scaled.iter_mut().rev() {
                    *w += 1;
                    off_by += 1;
                    if off_by == 0 {
                        break;
                    }
                }
            }
        }
        scaled.into_iter().map(|w| w.max(0) as usize).collect()
    }
}

#[derive(Debug, Default)]
struct Table {
    sections: Vec<Section>,
}

impl Table {
    fn new_section(&mut self, title: &str, indent: usize) {
        self.sections.push(Section::new(title, indent));
    }

    fn current(&mut self) -> &mut Section {
        if self.sections.is_empty() {
            self.sections.push(Section::default());
        }
        let last = self.sections.len() - 1;
        &mut self.sections[last]
    }

    /// Adds `value` under `title`; false when there was nothing to show.
    fn build(&mut self, title: Option<&str>, value: &Value, indent: usize) -> bool {
        if !truthy(value) {
            return false;
        }
        if let Some(t) = title {
            self.new_section(t, indent);
        }
        match value {
            Value::Array(items) if items[0].is_object() => {
                self.section_from_list(items, indent, title);
            }
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Array(inner) if inner.iter().all(is_scalar) => {
                            self.current().add_row(inner.iter().map(py_str).collect());
                        }
                        // The AWS CLI iterates an object here, which yields its keys.
                        Value::Object(m) => {
                            self.current().add_row(m.keys().cloned().collect());
                        }
                        Value::Array(_) => {
                            self.build(None, item, 0);
                        }
                        scalar => self.current().add_row(vec![py_str(scalar)]),
                    }
                }
            }
            Value::Object(m) => self.section_from_object(m, indent),
            _ => {}
        }
        true
    }

    fn section_from_object(&mut self, m: &Map<String, Value>, indent: usize) {
        let (headers, nested) = split_keys(std::iter::once(m));
        if headers.len() == 1 {
            // A lone scalar reads better as "key | value" than as a one-column table.
            let value = py_str(&m[&headers[0]]);
            self.current().add_row(vec![headers[0].clone(), value]);
        } else if !headers.is_empty() {
            let row = headers.iter().map(|h| py_str(&m[h])).collect();
            let section = self.current();
            section.add_header(headers);
            section.add_row(row);
        }
        for key in nested {
            self.build(Some(&key), &m[&key], indent + 1);
        }
    }

    fn section_from_list(&mut self, items: &[Value], indent: usize, title: Option<&str>) {
        let objects: Vec<&Map<String, Value>> = items.iter().filter_map(Value::as_object).collect();
        let (headers, nested) = split_keys(objects.iter().copied());
        self.current().add_header(headers.clone());
        for (i, obj) in objects.iter().enumerate() {
            // Elements with nested data each get their own section so the nested
            // sub-tables sit right under the row they belong to.
            if i > 0 && !nested.is_empty() {
                self.new_section(title.unwrap_or(""), indent);
                self.current().add_header(headers.clone());
            }
            let row = headers
                .iter()
                .map(|h| obj.get(h).map(py_str).unwrap_or_default())
                .collect();
            self.current().add_row(row);
            for key in &nested {
                if let Some(v) = obj.get(key) {
                    self.build(Some(key), v, indent + 1);
                }
            }
        }
    }

    fn render(mut self, terminal_width: usize) -> String {
        let mut max_width = self.max_width();
        if max_width > terminal_width {
            self.make_vertical();
            max_width = self.max_width();
        }
        let mut out = "-".repeat(max_width);
        out.push('\n');
        for section in &self.sections {
            render_section(section, max_width, &mut out);
        }
        out
    }

    fn max_width(&self) -> usize {
        self.sections
            .iter()
            .map(Section::total_width)
            .max()
            .unwrap_or(0)
    }

    /// Turns every single-row section into "header | value" rows, which is how the AWS
    /// CLI fits wide records into a narrow terminal.
    fn make_vertical(&mut self) {
        for section in &mut self.sections {
            if section.rows.len() == 1 && !section.headers.is_empty() {
                let mut vertical = Section::new(&section.title, section.indent);
                for (h, v) in section.headers.iter().zip(&section.rows[0]) {
                    vertical.add_row(vec![h.clone(), v.clone()]);
                }
                *section = vertical;
            }
        }
    }
}

/// Sorted scalar keys and sorted nested keys across `maps`.
fn split_keys<'a>(
    maps: impl Iterator<Item = &'a Map<String, Value>>,
) -> (Vec<String>, Vec<String>) {
    let mut scalars = BTreeSet::new();
    let mut nested = BTreeSet::new();
    for m in maps {
        for (k, v) in m {
            if is_scalar(v) {
                scalars.insert(k.clone());
            } else {
                nested.insert(k.clone());
            }
        }
    }
    (scalars.into_iter().collect(), nested.into_iter().collect())
}

fn render_section(section: &Section, max_width: usize, out: &mut String) {
    let gutter = "|".repeat(section.indent);
    let width = max_width.saturating_sub(section.indent * 2);
    let mut line = |content: String| {
        out.push_str(&gutter);
        out.push_str(&content);
        out.push_str(&gutter);
        out.push('\n');
    };
    if !section.title.is_empty() {
        line(center_text(&section.title, width, "|", "|"));
        if section.headers.is_empty() && section.rows.is_empty() {
            line(format!("+{}+", "-".repeat(width.saturating_sub(2))));
        }
    }
    if !section.headers.is_empty() {
        let widths = section.column_widths(width);
        line(line_break(&widths));
        let mut cells = String::new();
        for (i, (w, h)) in widths.iter().zip(&section.headers).enumerate() {
            let left = if i == 0 { "|" } else { "" };
            cells.push_str(&center_text(h, *w, left, "|"));
        }
        line(cells);
    }
    if section.rows.is_empty() {
        return;
    }
    let widths = section.column_widths(width);
    if widths.is_empty() {
        return;
    }
    line(line_break(&widths));
    for row in &section.rows {
        let mut cells = String::new();
        for (i, (w, v)) in widths.iter().zip(row).enumerate() {
            let left = if i == 0 { "|" } else { "" };
            cells.push_str(&align_left(v, *w, left, "|"));
        }
        line(cells);
    }
    line(line_break(&widths));
}

/// `+-----+------+` for the given column widths (each width includes its right edge).
fn line_break(widths: &[usize]) -> String {
    let mut s = String::new();
    for (i, w) in widths.iter().enumerate() {
        if i == 0 {
            s.push('+');
            s.push_str(&"-".repeat(w.saturating_sub(2)));
        } else {
            s.push_str(&"-".repeat(w.saturating_sub(1)));
        }
        s.push('+');
    }
    s
}

fn spaces(n: i64) -> String {
    " ".repeat(n.max(0) as usize)
}

/// Centers `text` in a cell of `length` columns including its edges, biased left the
/// same way the AWS CLI is.
fn center_text(text: &str, length: usize, left: &str, right: &str) -> String {
    let (length, text_len) = (length as i64, text_width(text) as i64);
    let start = length / 2 - text_len / 2 - 1;
    let so_far = left.len() as i64 + start + text_len;
    let right_pad = length - right.len() as i64 - so_far;
    format!("{left}{}{text}{}{right}", spaces(start), spaces(right_pad))
}

/// Left-aligns `text` with two spaces of padding when it fits.
fn align_left(text: &str, length: usize, left: &str, right: &str) -> String {
    let (length, text_len) = (length as i64, text_width(text) as i64);
    let edges = (left.len() + right.len()) as i64;
    let pad = if length - (text_len + 2 + edges) >= 0 {
        2
    } else {
        0
    };
    let fill = length - (left.len() as i64 + pad + text_len) - right.len() as i64;
    format!("{left}{}{text}{}{right}", spaces(pad), spaces(fill))
}

/// Display columns of `s`: East Asian wide and fullwidth characters take two.
fn text_width(s: &str) -> usize {
    s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn describe_instances() -> Value {
        json!({
            "Reservations": [{
                "Groups": [],
                "Instances": [{
                    "AmiLaunchIndex": 0,
                    "EbsOptimized": false,
                    "ImageId": "ami-0abcdef1234567890",
                    "InstanceId": "i-1234567890abcdef0",
                    "InstanceType": "t3.micro",
                    "LaunchTime": "2026-11-27T21:00:00+00:00",
                    "Placement": {"AvailabilityZone": "us-east-1a", "Tenancy": "default"},
                    "PrivateIpAddress": "10.0.0.5",
                    "SecurityGroups": [{"GroupId": "sg-0123", "GroupName": "default"}],
                    "State": {"Code": 16, "Name": "running"},
                    "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "env", "Value": "lab"}]
                }],
                "OwnerId": "123456789012",
                "ReservationId": "r-0abc1234def567890"
            }]
        })
    }

    fn starting_instances() -> Value {
        json!({
            "StartingInstances": [{
                "CurrentState": {"Code": 0, "Name": "pending"},
                "InstanceId": "i-1234567890abcdef0",
                "PreviousState": {"Code": 80, "Name": "stopped"}
            }]
        })
    }

    #[test]
    fn format_from_str_and_default() {
        assert_eq!("json".parse::<OutputFormat>(), Ok(OutputFormat::Json));
        assert_eq!("table".parse::<OutputFormat>(), Ok(OutputFormat::Table));
        assert_eq!("text".parse::<OutputFormat>(), Ok(OutputFormat::Text));
        assert_eq!(OutputFormat::default(), OutputFormat::Json);
        assert_eq!(OutputFormat::Table.to_string(), "table");
        let err = "yaml".parse::<OutputFormat>().unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid output format 'yaml', valid choices are: json | table | text"
        );
        assert!("JSON".parse::<OutputFormat>().is_err());
    }

    #[test]
    fn json_is_pretty_with_four_spaces() {
        let out = render(&starting_instances(), OutputFormat::Json, "StartInstances");
        let expected = r#"{
    "StartingInstances": [
        {
            "CurrentState": {
                "Code": 0,
                "Name": "pending"
            },
            "InstanceId": "i-1234567890abcdef0",
            "PreviousState": {
                "Code": 80,
                "Name": "stopped"
            }
        }
    ]
}
"#;
        assert_eq!(out, expected);
    }

    #[test]
    fn json_keeps_empty_containers_and_unicode() {
        let v = json!({"Reservations": [], "Tags": [{"Key": "Name", "Value": "héllo"}], "X": {}});
        let out = render(&v, OutputFormat::Json, "Op");
        assert_eq!(
            out,
            "{\n    \"Reservations\": [],\n    \"Tags\": [\n        {\n            \"Key\": \"Name\",\n            \"Value\": \"héllo\"\n        }\n    ],\n    \"X\": {}\n}\n"
        );
    }

    #[test]
    fn no_output_renders_nothing() {
        for format in [OutputFormat::Json, OutputFormat::Text, OutputFormat::Table] {
            assert_eq!(render(&Value::Null, format, "Op"), "");
            assert_eq!(render(&json!({}), format, "Op"), "");
        }
    }

    #[test]
    fn json_scalars() {
        assert_eq!(render(&json!("i-1"), OutputFormat::Json, "Op"), "\"i-1\"\n");
        assert_eq!(render(&json!(true), OutputFormat::Json, "Op"), "true\n");
        assert_eq!(render(&json!([]), OutputFormat::Json, "Op"), "[]\n");
    }

    #[test]
    fn text_describe_instances() {
        let out = render(
            &describe_instances(),
            OutputFormat::Text,
            "DescribeInstances",
        );
        let expected = "RESERVATIONS\t123456789012\tr-0abc1234def567890\n\
            INSTANCES\t0\tFalse\tami-0abcdef1234567890\ti-1234567890abcdef0\tt3.micro\t2026-11-27T21:00:00+00:00\t10.0.0.5\n\
            PLACEMENT\tus-east-1a\tdefault\n\
            SECURITYGROUPS\tsg-0123\tdefault\n\
            STATE\t16\trunning\n\
            TAGS\tName\tweb\n\
            TAGS\tenv\tlab\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn text_start_instances() {
        let out = render(&starting_instances(), OutputFormat::Text, "StartInstances");
        assert_eq!(
            out,
            "STARTINGINSTANCES\ti-1234567890abcdef0\n\
             CURRENTSTATE\t0\tpending\n\
             PREVIOUSSTATE\t80\tstopped\n"
        );
    }

    #[test]
    fn text_fills_missing_keys_with_empty_columns() {
        let v = json!({"Images": [
            {"ImageId": "ami-1", "Name": "al2023", "Public": true},
            {"ImageId": "ami-2", "Public": false}
        ]});
        assert_eq!(
            render(&v, OutputFormat::Text, "DescribeImages"),
            "IMAGES\tami-1\tal2023\tTrue\nIMAGES\tami-2\t\tFalse\n"
        );
    }

    #[test]
    fn text_scalar_lists_and_top_level_scalars() {
        let v = json!({"InstanceIds": ["i-1", "i-2"], "NextToken": "tok"});
        assert_eq!(
            render(&v, OutputFormat::Text, "Op"),
            "tok\nINSTANCEIDS\ti-1\nINSTANCEIDS\ti-2\n"
        );
        assert_eq!(
            render(&json!(["a", "b", 3]), OutputFormat::Text, "Op"),
            "a\tb\t3\n"
        );
        assert_eq!(
            render(&json!("running"), OutputFormat::Text, "Op"),
            "running\n"
        );
        assert_eq!(render(&json!(16), OutputFormat::Text, "Op"), "16\n");
        assert_eq!(
            render(
                &json!([["i-1", "running"], ["i-2", "stopped"]]),
                OutputFormat::Text,
                "Op"
            ),
            "i-1\trunning\ni-2\tstopped\n"
        );
    }

    #[test]
    fn text_prints_python_style_scalars() {
        let v = json!({"A": null, "B": 2.5, "C": 1.0, "D": true});
        assert_eq!(
            render(&v, OutputFormat::Text, "Op"),
            "None\t2.5\t1.0\tTrue\n"
        );
        assert_eq!(py_float(1e16), "1e+16");
        assert_eq!(py_float(0.00001), "1e-05");
        assert_eq!(py_float(0.0001), "0.0001");
        assert_eq!(py_float(-3.0), "-3.0");
    }

    #[test]
    fn table_matches_aws_layout_exactly() {
        // The shape and expected output come from the AWS CLI user guide's
        // `describe-volumes --query ... --output table` example.
        let v = json!([
            {"AZ": "us-west-2a", "ID": "vol-e11a5288", "InstanceId": "i-a071c394", "Size": 30},
            {"AZ": "us-west-2a", "ID": "vol-2e410a47", "InstanceId": "i-4b41a37c", "Size": 8}
        ]);
        let expected = "\
------------------------------------------------------
|                   DescribeVolumes                  |
+------------+----------------+--------------+-------+
|     AZ     |      ID        | InstanceId   | Size  |
+------------+----------------+--------------+-------+
|  us-west-2a|  vol-e11a5288  |  i-a071c394  |  30   |
|  us-west-2a|  vol-2e410a47  |  i-4b41a37c  |  8    |
+------------+----------------+--------------+-------+
";
        assert_eq!(render(&v, OutputFormat::Table, "DescribeVolumes"), expected);
    }

    #[test]
    fn table_start_instances_nests_state_sections() {
        let out = render(&starting_instances(), OutputFormat::Table, "StartInstances");
        let expected = "\
---------------------------
|     StartInstances      |
+-------------------------+
||   StartingInstances   ||
|+-----------------------+|
||      InstanceId       ||
|+-----------------------+|
||  i-1234567890abcdef0  ||
|+-----------------------+|
|||    CurrentState     |||
||+--------+------------+||
|||  Code  |   Name     |||
||+--------+------------+||
|||  0     |  pending   |||
||+--------+------------+||
|||    PreviousState    |||
||+--------+------------+||
|||  Code  |   Name     |||
||+--------+------------+||
|||  80    |  stopped   |||
||+--------+------------+||
";
        assert_eq!(out, expected);
    }

    #[test]
    fn table_describe_instances_structure() {
        let out = render(
            &describe_instances(),
            OutputFormat::Table,
            "DescribeInstances",
        );
        let lines: Vec<&str> = out.lines().collect();
        let width = lines[0].len();
        assert!(lines[0].chars().all(|c| c == '-'));
        assert!(width <= DEFAULT_TABLE_WIDTH, "{out}");
        // Every line spans the full width.
        assert!(lines.iter().all(|l| l.chars().count() == width), "{out}");
        assert!(
            lines[1].starts_with('|')
                && lines[1].trim_matches(|c| c == '|' || c == ' ') == "DescribeInstances"
        );
        // Too wide for 80 columns, so single-row sections turn vertical: "key | value".
        let row = |key: &str| {
            lines
                .iter()
                .find(|l| l.contains(&format!("  {key} ")))
                .copied()
        };
        let instance_id = row("InstanceId").expect("InstanceId row");
        assert!(instance_id.starts_with("|||  InstanceId"));
        assert!(instance_id.contains("|  i-1234567890abcdef0"));
        assert!(row("ReservationId")
            .unwrap()
            .contains("r-0abc1234def567890"));
        assert!(row("EbsOptimized").unwrap().contains("|  False"));
        // Nested sections are titled and indented one level deeper than their parent.
        let title = |t: &str| {
            lines
                .iter()
                .position(|l| l.trim_matches(|c| c == '|' || c == ' ') == t)
        };
        let reservations = title("Reservations").unwrap();
        let instances = title("Instances").unwrap();
        let state = title("State").unwrap();
        assert!(reservations < instances && instances < state);
        assert!(lines[instances].starts_with("||| "));
        assert!(lines[state].starts_with("|||| "));
        // Tags keep the list-of-objects shape: a header row and one row per tag.
        let tags = title("Tags").unwrap();
        assert!(lines[tags + 2].contains("Key") && lines[tags + 2].contains("Value"));
        assert!(lines[tags + 4].contains("|  Name ") && lines[tags + 4].contains("|  web "));
        assert!(lines[tags + 5].contains("|  env ") && lines[tags + 5].contains("|  lab "));
        // Empty lists (Groups) are skipped entirely.
        assert!(title("Groups").is_none());
    }

    #[test]
    fn table_wide_terminal_keeps_horizontal_rows() {
        let out = render_with_width(
            &describe_instances(),
            OutputFormat::Table,
            "DescribeInstances",
            400,
        );
        let header = out
            .lines()
            .find(|l| l.contains("AmiLaunchIndex"))
            .expect("header row");
        assert!(header.contains("InstanceId") && header.contains("InstanceType"));
        let row = out
            .lines()
            .find(|l| l.contains("i-1234567890abcdef0"))
            .unwrap();
        assert!(row.contains("t3.micro") && row.contains("10.0.0.5"));
    }

    #[test]
    fn table_instance_types_one_row_per_object() {
        let v = json!({"InstanceTypes": [
            {"InstanceType": "t3.micro", "CurrentGeneration": true,
             "VCpuInfo": {"DefaultVCpus": 2}, "MemoryInfo": {"SizeInMiB": 1024}},
            {"InstanceType": "t3.small", "CurrentGeneration": true,
             "VCpuInfo": {"DefaultVCpus": 2}, "MemoryInfo": {"SizeInMiB": 2048}}
        ]});
        let out = render(&v, OutputFormat::Table, "DescribeInstanceTypes");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[1].contains("DescribeInstanceTypes"));
        // Nested data means each element gets its own InstanceTypes section.
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains(" InstanceTypes "))
                .count(),
            2
        );
        // Single-key objects print as "key | value".
        assert!(lines
            .iter()
            .any(|l| l.contains("|  SizeInMiB ") && l.contains("|  2048 ")));
        assert!(lines
            .iter()
            .any(|l| l.contains("|  DefaultVCpus ") && l.contains("|  2 ")));
    }

    #[test]
    fn table_images_list_shares_one_header() {
        let v = json!({"Images": [
            {"ImageId": "ami-1", "Name": "al2023", "State": "available"},
            {"ImageId": "ami-2", "Name": "ubuntu", "State": "available"}
        ]});
        let out = render(&v, OutputFormat::Table, "DescribeImages");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[1].contains("DescribeImages"));
        assert!(lines[3].contains(" Images "));
        let header = lines[5];
        assert!(header.contains("ImageId") && header.contains("Name") && header.contains("State"));
        assert!(lines[7].contains("|  ami-1 ") && lines[7].contains("|  al2023 "));
        assert!(lines[8].contains("|  ami-2 ") && lines[8].contains("|  ubuntu "));
        assert_eq!(lines.len(), 10);
    }

    #[test]
    fn table_scalar_and_scalar_list() {
        assert_eq!(
            render(&json!("running"), OutputFormat::Table, "Op"),
            "----\n|Op|\n+--+\n"
        );
        let out = render(&json!(["i-1", "i-2"]), OutputFormat::Table, "StopInstances");
        assert!(out.contains("|  i-1 ") && out.contains("|  i-2 "));
    }

    #[test]
    fn helpers_match_python() {
        assert_eq!(center_text("AZ", 14, "|", "|"), "|     AZ     |");
        assert_eq!(align_left("us-west-2a", 14, "|", "|"), "|  us-west-2a|");
        assert_eq!(align_left("toolong", 5, "", "|"), "toolong|");
        assert_eq!(text_width("日本"), 4);
        assert_eq!(line_break(&[5, 4]), "+---+---+");
    }
}
