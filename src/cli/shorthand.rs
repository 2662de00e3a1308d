//! AWS CLI parameter syntax: shorthand (`Name=x,Values=a,b`), JSON for any complex
//! parameter, and `file://` / `fileb://` references.
//!
//! The grammar and its quirks follow the AWS CLI v2 shorthand parser, so command lines
//! copied from AWS docs parse the same way. Values stay strings: the AWS CLI converts types
//! from the operation's model afterwards, and so must the caller (see [`as_bool`],
//! [`as_i64`], [`as_list`]).

use serde_json::{Map, Value};
use std::path::PathBuf;

/// What went wrong while reading a parameter value.
#[derive(Debug, thiserror::Error)]
pub enum ShorthandError {
    /// The shorthand did not follow the grammar; `index` is the 0-based character offset.
    #[error("Expected: '{expected}', received: '{actual}' for input:\n{}", error_location(.input, *.index))]
    Syntax {
        /// The text that was parsed.
        input: String,
        /// What the grammar wanted at `index`.
        expected: String,
        /// What it found instead.
        actual: String,
        /// 0-based character offset of the error in `input`.
        index: usize,
    },
    /// A top-level key appeared twice, usually a `,` typed where a space was meant.
    #[error(
        "Second instance of key \"{key}\" encountered for input:\n{}\nThis is often because there is a preceding \",\" instead of a space.",
        error_location(.input, *.index)
    )]
    DuplicateKey {
        /// The repeated key.
        key: String,
        /// The text that was parsed.
        input: String,
        /// 0-based character offset of the second occurrence.
        index: usize,
    },
    /// Input starting with `{` or `[` was not valid JSON.
    #[error("Invalid JSON: {message}\nJSON received: {input}")]
    InvalidJson {
        /// The text that was parsed.
        input: String,
        /// What the JSON parser said.
        message: String,
    },
    /// A `file://` or `fileb://` reference could not be read.
    #[error("Unable to load paramfile {uri}")]
    ParamFile {
        /// The reference as given, e.g. `file://setup.sh`.
        uri: String,
        /// Why the file could not be read.
        #[source]
        source: std::io::Error,
    },
    /// A `file://` reference held bytes that are not UTF-8 text.
    #[error("Unable to load paramfile {uri}, text contents could not be decoded. If this is a binary file, please use the fileb:// prefix instead of the file:// prefix.")]
    NotUtf8 {
        /// The reference as given.
        uri: String,
    },
    /// Any of the above, attributed to a command-line parameter.
    #[error("Error parsing parameter '{name}'")]
    Param {
        /// The parameter, with its leading `--`.
        name: String,
        /// What was wrong with its value.
        #[source]
        inner: Box<ShorthandError>,
    },
}

impl ShorthandError {
    /// Attributes the error to parameter `name` (e.g. `--filters`; `--` is added if missing).
    pub fn with_param(self, name: &str) -> Self {
        let name = if name.starts_with("--") {
            name.to_string()
        } else {
            format!("--{name}")
        };
        let inner = match self {
            Self::Param { inner, .. } => inner,
            other => Box::new(other),
        };
        Self::Param { name, inner }
    }

    /// 0-based character offset of a syntax error in its input, if the error has one.
    pub fn position(&self) -> Option<usize> {
        match self {
            Self::Syntax { index, .. } | Self::DuplicateKey { index, .. } => Some(*index),
            Self::Param { inner, .. } => inner.position(),
            _ => None,
        }
    }
}

/// The input, with a caret under `index` on the line where the error is.
fn error_location(input: &str, index: usize) -> String {
    let chars: Vec<char> = input.chars().collect();
    let index = index.min(chars.len());
    let before = &chars[..index];
    let column = match before.iter().rposition(|&c| c == '\n') {
        Some(nl) => index - nl - 1,
        None => index,
    };
    // The caret goes right below the offending line, before any later lines.
    let split = chars[index..]
        .iter()
        .position(|&c| c == '\n')
        .map_or(chars.len(), |p| index + p);
    let consumed: String = chars[..split].iter().collect();
    let remaining: String = chars[split..].iter().collect();
    format!("{consumed}\n{}^{remaining}", " ".repeat(column))
}

/// A parameter's value after `file://`/`fileb://` resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// A literal or a `file://` reference: UTF-8 text.
    Text(String),
    /// A `fileb://` reference: the file's bytes as they are.
    Bytes(Vec<u8>),
}

impl ParamValue {
    /// The value's bytes, whichever kind it is.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Self::Text(s) => s.into_bytes(),
            Self::Bytes(b) => b,
        }
    }

    /// The text, when the value is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            Self::Bytes(_) => None,
        }
    }
}

/// Parses one complex parameter value: JSON when it starts with `{` or `[`, otherwise
/// shorthand, which always yields an object.
pub fn parse(input: &str) -> Result<Value, ShorthandError> {
    let trimmed = input.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return serde_json::from_str(input).map_err(|e| ShorthandError::InvalidJson {
            input: input.to_string(),
            message: e.to_string(),
        });
    }
    Parser::new(input).parameter()
}

/// [`parse`], with errors attributed to parameter `name` ("Error parsing parameter ...").
pub fn parse_param(name: &str, input: &str) -> Result<Value, ShorthandError> {
    parse(input).map_err(|e| e.with_param(name))
}

/// Parses a list parameter given as several arguments (`--filters A=1 B=2`); JSON arrays
/// among them are flattened, so a single JSON array argument yields its elements.
pub fn parse_list(inputs: &[String]) -> Result<Vec<Value>, ShorthandError> {
    let mut out = Vec::new();
    for input in inputs {
        match parse(input)? {
            Value::Array(items) => out.extend(items),
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Resolves `file://path` (UTF-8 text) and `fileb://path` (raw bytes); anything else is
/// the literal string. As in the AWS CLI, `~` and `$VARS` in the path are expanded.
pub fn load_param(value: &str) -> Result<ParamValue, ShorthandError> {
    let read = |path: &str| {
        std::fs::read(expand_path(path)).map_err(|source| ShorthandError::ParamFile {
            uri: value.to_string(),
            source,
        })
    };
    if let Some(path) = value.strip_prefix("fileb://") {
        return read(path).map(ParamValue::Bytes);
    }
    if let Some(path) = value.strip_prefix("file://") {
        let bytes = read(path)?;
        return String::from_utf8(bytes).map(ParamValue::Text).map_err(|_| {
            ShorthandError::NotUtf8 {
                uri: value.to_string(),
            }
        });
    }
    Ok(ParamValue::Text(value.to_string()))
}

/// `~` / `~/...` to $HOME, then `$VAR` / `${VAR}` to their values; unknown variables stay
/// as written, like Python's `os.path.expanduser` + `expandvars`.
fn expand_path(path: &str) -> PathBuf {
    let home = std::env::var("HOME").ok();
    let path = match (path.strip_prefix('~'), &home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => path.to_string(),
    };
    let mut out = String::new();
    let mut rest = path.as_str();
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match std::env::var(name) {
            Ok(val) if !name.is_empty() => out.push_str(&val),
            _ => out.push_str(&rest[pos..pos + 1 + consumed]),
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    PathBuf::from(out)
}

/// A boolean given as JSON `true`/`false` or the strings "true"/"false" (any case).
pub fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// An integer given as a JSON number (integral) or a decimal string.
pub fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < i64::MAX as f64)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A list-typed member: shorthand `Values=running` yields a plain string, which the AWS
/// CLI wraps into a one-element list; null/missing is empty.
pub fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

type PResult<T> = Result<T, ShorthandError>;

/// Recursive-descent parser over characters, so error offsets count characters.
struct Parser<'a> {
    input: &'a str,
    chars: Vec<char>,
    pos: usize,
}

/// Characters that can start an unquoted value.
fn is_start_char(c: char) -> bool {
    matches!(c, '!' | '#'..='&' | '('..='+' | '-'..='<' | '>'..='Z' | '\\'..='z' | '|'..)
}

/// Characters that can continue a value after `Key=`: `=`, `[` and `{` are fine here,
/// but `,`, `]` and `}` end it.
fn is_first_follow(c: char) -> bool {
    c.is_whitespace() || matches!(c, '!' | '#'..='&' | '('..='+' | '-'..='\\' | '^'..='|' | '~'..)
}

/// Characters that can continue a later comma-separated value: no `=`, so that `b` in
/// `a=x,b=y` is recognised as the next key rather than a list element.
fn is_second_follow(c: char) -> bool {
    c.is_whitespace() || matches!(c, '!' | '#'..='&' | '('..='+' | '-'..='<' | '>'..)
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Self {
            input,
            chars: input.chars().collect(),
            pos: 0,
        }
    }

    fn cur(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eof(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn syntax(&self, expected: &str, actual: &str) -> ShorthandError {
        ShorthandError::Syntax {
            input: self.input.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
            index: self.pos,
        }
    }

    fn skip_ws(&mut self) {
        // Python's string.whitespace, which is what the AWS CLI skips between tokens.
        while matches!(self.cur(), Some(' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, ch: char, skip_ws: bool) -> PResult<()> {
        if skip_ws {
            self.skip_ws();
        }
        match self.cur() {
            None => return Err(self.syntax(&ch.to_string(), "EOF")),
            Some(c) if c != ch => return Err(self.syntax(&ch.to_string(), &c.to_string())),
            Some(_) => self.pos += 1,
        }
        if skip_ws {
            self.skip_ws();
        }
        Ok(())
    }

    // parameter = keyval *("," keyval)
    fn parameter(&mut self) -> PResult<Value> {
        let mut params = Map::new();
        let (key, value) = self.keyval()?;
        params.insert(key, value);
        let mut last = self.pos;
        while !self.eof() {
            self.expect(',', true)?;
            let (key, value) = self.keyval()?;
            if params.contains_key(&key) {
                return Err(ShorthandError::DuplicateKey {
                    key,
                    input: self.input.to_string(),
                    index: last + 1,
                });
            }
            params.insert(key, value);
            last = self.pos;
        }
        Ok(Value::Object(params))
    }

    // keyval = key "=" [values]
    fn keyval(&mut self) -> PResult<(String, Value)> {
        let key = self.key();
        self.expect('=', true)?;
        Ok((key, self.values()?))
    }

    fn key(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.cur() {
            if !(c.is_ascii_alphanumeric() || "-_.#/:".contains(c)) {
                break;
            }
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    // values = csv-list / explicit-list / hash-literal
    fn values(&mut self) -> PResult<Value> {
        match self.cur() {
            None => Ok(Value::String(String::new())),
            Some('[') => self.explicit_list(),
            Some('{') => self.hash_literal(),
            Some(_) => self.csv_value(),
        }
    }

    /// `a` or `a,b,c`. Later elements are tried one at a time; one that turns out to be
    /// the next `key=` is given back (by backtracking to its comma) to the caller.
    fn csv_value(&mut self) -> PResult<Value> {
        let first = self.first_value()?;
        self.skip_ws();
        if self.cur() != Some(',') {
            return Ok(Value::String(first));
        }
        self.expect(',', true)?;
        let mut list = vec![Value::String(first)];
        loop {
            match self.csv_element() {
                Ok((value, done)) => {
                    list.push(Value::String(value));
                    if done {
                        break;
                    }
                }
                Err(e) => {
                    if self.eof() {
                        return Err(e);
                    }
                    self.backtrack_to(',');
                    break;
                }
            }
        }
        if list.len() == 1 {
            return Ok(list.remove(0));
        }
        Ok(Value::Array(list))
    }

    /// One later list element and its trailing comma; true when input ended instead.
    fn csv_element(&mut self) -> PResult<(String, bool)> {
        let value = self.second_value()?;
        self.skip_ws();
        if self.eof() {
            return Ok((value, true));
        }
        self.expect(',', true)?;
        Ok((value, false))
    }

    fn backtrack_to(&mut self, ch: char) {
        while self.pos > 0 && self.cur() != Some(ch) {
            self.pos -= 1;
        }
    }

    // explicit-list = "[" [value *("," value)] "]"
    fn explicit_list(&mut self) -> PResult<Value> {
        self.expect('[', true)?;
        let mut values = Vec::new();
        while self.cur() != Some(']') {
            values.push(self.explicit_value()?);
            self.skip_ws();
            if self.cur() != Some(']') {
                self.expect(',', false)?;
                self.skip_ws();
            }
        }
        self.expect(']', false)?;
        Ok(Value::Array(values))
    }

    fn explicit_value(&mut self) -> PResult<Value> {
        match self.cur() {
            Some('[') => self.explicit_list(),
            Some('{') => self.hash_literal(),
            _ => self.first_value().map(Value::String),
        }
    }

    // hash-literal = "{" keyval *("," keyval) "}"
    fn hash_literal(&mut self) -> PResult<Value> {
        self.expect('{', true)?;
        let mut map = Map::new();
        while self.cur() != Some('}') {
            let key = self.key();
            self.expect('=', true)?;
            let value = self.explicit_value()?;
            self.skip_ws();
            if self.cur() != Some('}') {
                self.expect(',', false)?;
                self.skip_ws();
            }
            map.insert(key, value);
        }
        self.expect('}', false)?;
        Ok(Value::Object(map))
    }

    fn first_value(&mut self) -> PResult<String> {
        match self.cur() {
            Some(q @ ('\'' | '"')) => self.quoted(q),
            // An empty match is allowed here: `Key=` and `Key=,...` mean "".
            _ => Ok(self.word(is_first_follow).unwrap_or_default()),
        }
    }

    fn second_value(&mut self) -> PResult<String> {
        match self.cur() {
            Some(q @ ('\'' | '"')) => self.quoted(q),
            _ => self
                .word(is_second_follow)
                .ok_or_else(|| self.syntax("<second>", "<none>")),
        }
    }

    /// An unquoted value: a start character then `follow` characters, where `\,` is a
    /// literal comma. Trailing whitespace is dropped.
    fn word(&mut self, follow: fn(char) -> bool) -> Option<String> {
        let start = self.pos;
        let mut i = start;
        let mut first = true;
        loop {
            let allowed = if first { is_start_char } else { follow };
            match (self.chars.get(i), self.chars.get(i + 1)) {
                (Some('\\'), Some(',')) => i += 2,
                (Some(&c), _) if allowed(c) => i += 1,
                _ => break,
            }
            first = false;
        }
        if i == start {
            return None;
        }
        self.pos = i;
        let raw: String = self.chars[start..i].iter().collect();
        Some(raw.replace("\\,", ",").trim_end().to_string())
    }

    /// `'...'` or `"..."`, where `\q` is the quote and `\\` a backslash.
    fn quoted(&mut self, q: char) -> PResult<String> {
        let Some(end) = self.quoted_end(q) else {
            let name = if q == '\'' {
                "single quoted"
            } else {
                "double quoted"
            };
            return Err(self.syntax(&format!("<{name}>"), "<none>"));
        };
        let body: String = self.chars[self.pos + 1..end - 1].iter().collect();
        self.pos = end;
        Ok(body
            .replace(&format!("\\{q}"), &q.to_string())
            .replace("\\\\", "\\"))
    }

    /// Index just past the closing quote. Tries escapes first and falls back to
    /// treating a backslash literally, so `'a\'` still closes at its last quote, which
    /// is how the AWS CLI's quoted-string pattern behaves.
    fn quoted_end(&self, q: char) -> Option<usize> {
        let c = &self.chars;
        // Positions already known not to lead to a closing quote.
        let mut dead = vec![false; c.len() + 2];
        // (position, next alternative to try): 0 `\\`, 1 `\q`, 2 any non-quote, 3 close.
        let mut stack = vec![(self.pos + 1, 0u8)];
        while let Some(top) = stack.last_mut() {
            let (pos, alt) = *top;
            top.1 += 1;
            let next = match alt {
                0 if c.get(pos) == Some(&'\\') && c.get(pos + 1) == Some(&'\\') => Some(pos + 2),
                1 if c.get(pos) == Some(&'\\') && c.get(pos + 1) == Some(&q) => Some(pos + 2),
                2 if c.get(pos).is_some_and(|&ch| ch != q) => Some(pos + 1),
                3 if c.get(pos) == Some(&q) => return Some(pos + 1),
                0..=2 => None,
                _ => {
                    dead[pos] = true;
                    stack.pop();
                    None
                }
            };
            if let Some(n) = next {
                if !dead[n] {
                    stack.push((n, 0));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(input: &str) -> Value {
        parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
    }

    fn err(input: &str) -> String {
        match parse(input) {
            Ok(v) => panic!("{input:?} parsed as {v}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn key_value_pairs() {
        assert_eq!(
            ok("Key=Value,Key2=Value2"),
            json!({"Key": "Value", "Key2": "Value2"})
        );
        assert_eq!(ok("a=b"), json!({"a": "b"}));
    }

    #[test]
    fn bare_values_continue_previous_key_as_list() {
        assert_eq!(
            ok("Name=instance-state-name,Values=running,stopped"),
            json!({"Name": "instance-state-name", "Values": ["running", "stopped"]})
        );
        assert_eq!(
            ok("foo=a,b,c=d,e=f"),
            json!({"foo": ["a", "b"], "c": "d", "e": "f"})
        );
        assert_eq!(ok("Values=a,b,c"), json!({"Values": ["a", "b", "c"]}));
    }

    #[test]
    fn colons_slashes_and_equals_in_values() {
        assert_eq!(
            ok("Name=tag:Name,Values=web"),
            json!({"Name": "tag:Name", "Values": "web"})
        );
        assert_eq!(
            ok("DeviceName=/dev/sda1"),
            json!({"DeviceName": "/dev/sda1"})
        );
        assert_eq!(ok("Key=a=b"), json!({"Key": "a=b"}));
        assert_eq!(ok("Values=*web*,?x"), json!({"Values": ["*web*", "?x"]}));
    }

    #[test]
    fn keys_may_contain_map_characters() {
        assert_eq!(
            ok("tag:env=lab,a.b-c_d/e#f=1"),
            json!({"tag:env": "lab", "a.b-c_d/e#f": "1"})
        );
    }

    #[test]
    fn empty_values() {
        assert_eq!(ok("Values="), json!({"Values": ""}));
        assert_eq!(ok("Name=a,Values="), json!({"Name": "a", "Values": ""}));
        assert_eq!(ok("Values=,Name=x"), json!({"Values": "", "Name": "x"}));
        assert_eq!(ok("Values=[]"), json!({"Values": []}));
        assert_eq!(ok("Ebs={}"), json!({"Ebs": {}}));
    }

    #[test]
    fn explicit_lists() {
        assert_eq!(ok("Values=[a,b]"), json!({"Values": ["a", "b"]}));
        assert_eq!(ok("Values=[a]"), json!({"Values": ["a"]}));
        assert_eq!(
            ok("Values=[ a , b ],Name=x"),
            json!({"Values": ["a", "b"], "Name": "x"})
        );
        assert_eq!(
            ok("Values=[[a,b],[c],[]]"),
            json!({"Values": [["a", "b"], ["c"], []]})
        );
    }

    #[test]
    fn nested_structures() {
        assert_eq!(
            ok("DeviceName=/dev/sda1,Ebs={VolumeSize=8,DeleteOnTermination=true}"),
            json!({"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": "8", "DeleteOnTermination": "true"}})
        );
        assert_eq!(
            ok("A={B={C=[x,{D=y}]}}"),
            json!({"A": {"B": {"C": ["x", {"D": "y"}]}}})
        );
    }

    #[test]
    fn lists_of_structures() {
        assert_eq!(
            ok("Tags=[{Key=Name,Value=web},{Key=env,Value=lab}]"),
            json!({"Tags": [{"Key": "Name", "Value": "web"}, {"Key": "env", "Value": "lab"}]})
        );
        assert_eq!(
            ok("ResourceType=instance,Tags=[{Key=Name,Value=web}]"),
            json!({"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]})
        );
    }

    #[test]
    fn quoted_values_are_kept_whole() {
        assert_eq!(ok("Value='a,b'"), json!({"Value": "a,b"}));
        assert_eq!(ok("Value=\"a,b\""), json!({"Value": "a,b"}));
        assert_eq!(
            ok("Value='a b ',Key=k"),
            json!({"Value": "a b ", "Key": "k"})
        );
        assert_eq!(ok("Values=x,'y,z'"), json!({"Values": ["x", "y,z"]}));
        assert_eq!(
            ok("Values=['a,b',\"c]\"]"),
            json!({"Values": ["a,b", "c]"]})
        );
        assert_eq!(ok("Value='a=b{c}'"), json!({"Value": "a=b{c}"}));
    }

    #[test]
    fn backslash_escapes() {
        assert_eq!(ok(r"Value=a\,b"), json!({"Value": "a,b"}));
        assert_eq!(ok(r"Values=x,a\,b"), json!({"Values": ["x", "a,b"]}));
        assert_eq!(ok(r"Value='it\'s'"), json!({"Value": "it's"}));
        assert_eq!(ok(r#"Value="say \"hi\"""#), json!({"Value": "say \"hi\""}));
        assert_eq!(ok(r"Value='a\\b'"), json!({"Value": r"a\b"}));
        // A trailing backslash before the closing quote stays literal.
        assert_eq!(ok(r"Value='abc\'"), json!({"Value": r"abc\"}));
        assert_eq!(ok(r"Value=C:\path"), json!({"Value": r"C:\path"}));
    }

    #[test]
    fn whitespace_around_separators_is_ignored() {
        assert_eq!(
            ok("Name = x , Values = a , b"),
            json!({"Name": "x", "Values": ["a", "b"]})
        );
        assert_eq!(
            ok("Ebs={ VolumeSize = 8 , VolumeType = gp3 }"),
            json!({"Ebs": {"VolumeSize": "8", "VolumeType": "gp3"}})
        );
        assert_eq!(
            ok("Key=Name,Value=my web server"),
            json!({"Key": "Name", "Value": "my web server"})
        );
    }

    #[test]
    fn json_passes_through() {
        assert_eq!(
            ok(r#"{"Name":"instance-state-name","Values":["running"]}"#),
            json!({"Name": "instance-state-name", "Values": ["running"]})
        );
        assert_eq!(
            ok(r#"  [{"Key":"Name","Value":"web"}]"#),
            json!([{"Key": "Name", "Value": "web"}])
        );
        assert_eq!(
            ok(r#"{"VolumeSize": 8, "Encrypted": true}"#),
            json!({"VolumeSize": 8, "Encrypted": true})
        );
    }

    #[test]
    fn invalid_json_is_reported() {
        let msg = err(r#"{"Name": }"#);
        assert!(msg.starts_with("Invalid JSON: "), "{msg}");
        assert!(msg.ends_with("\nJSON received: {\"Name\": }"), "{msg}");
        assert!(matches!(
            parse("[x"),
            Err(ShorthandError::InvalidJson { .. })
        ));
    }

    #[test]
    fn unexpected_character_error_points_at_it() {
        let e = parse("Name=x]").unwrap_err();
        assert_eq!(e.position(), Some(6));
        assert_eq!(
            e.to_string(),
            "Expected: ',', received: ']' for input:\nName=x]\n      ^"
        );
        let e = e.with_param("--filters");
        // As printed: the parameter, then the error (its source).
        assert_eq!(
            crate::causes::chain(&e),
            "Error parsing parameter '--filters': Expected: ',', received: ']' for input:\nName=x]\n      ^"
        );
        assert_eq!(e.position(), Some(6));
    }

    #[test]
    fn missing_equals_and_eof_errors() {
        assert_eq!(
            err("Name"),
            "Expected: '=', received: 'EOF' for input:\nName\n    ^"
        );
        assert_eq!(
            err("running"),
            "Expected: '=', received: 'EOF' for input:\nrunning\n       ^"
        );
        assert_eq!(
            err("a='x"),
            "Expected: '<single quoted>', received: '<none>' for input:\na='x\n  ^"
        );
        assert_eq!(
            err("a=\"x"),
            "Expected: '<double quoted>', received: '<none>' for input:\na=\"x\n  ^"
        );
        assert_eq!(
            err("Tags=[a,b"),
            "Expected: ',', received: 'EOF' for input:\nTags=[a,b\n         ^"
        );
        assert_eq!(
            err("Tags=[{Key=a"),
            "Expected: ',', received: 'EOF' for input:\nTags=[{Key=a\n            ^"
        );
        assert_eq!(
            err("Ebs={Size}"),
            "Expected: '=', received: '}' for input:\nEbs={Size}\n         ^"
        );
        assert_eq!(
            err("a=b,c,"),
            "Expected: '<second>', received: '<none>' for input:\na=b,c,\n      ^"
        );
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let msg = err("Name=a,Values=b,Name=c");
        assert_eq!(
            msg,
            "Second instance of key \"Name\" encountered for input:\nName=a,Values=b,Name=c\n                ^\nThis is often because there is a preceding \",\" instead of a space."
        );
    }

    #[test]
    fn multiline_errors_point_at_the_right_line() {
        assert_eq!(
            err("a=b,\nc==d,\ne=f"),
            "Expected: ',', received: '=' for input:\na=b,\nc==d,\n  ^\ne=f"
        );
        assert_eq!(
            err("a=b,\nc=d]"),
            "Expected: ',', received: ']' for input:\na=b,\nc=d]\n   ^"
        );
    }

    #[test]
    fn parse_param_wraps_errors() {
        assert_eq!(
            parse_param("--filters", "Name=x").unwrap(),
            json!({"Name": "x"})
        );
        let msg = crate::causes::chain(&parse_param("filters", "Name").unwrap_err());
        assert!(
            msg.starts_with("Error parsing parameter '--filters': Expected: '='"),
            "{msg}"
        );
        // Re-attributing replaces the name rather than nesting prefixes.
        let e = parse_param("--a", "x").unwrap_err().with_param("--b");
        assert!(crate::causes::chain(&e).starts_with("Error parsing parameter '--b': Expected"));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn parse_list_parses_each_argument() {
        let args = vec![
            "Name=instance-state-name,Values=running,stopped".to_string(),
            "Name=tag:env,Values=lab".to_string(),
        ];
        assert_eq!(
            parse_list(&args).unwrap(),
            vec![
                json!({"Name": "instance-state-name", "Values": ["running", "stopped"]}),
                json!({"Name": "tag:env", "Values": "lab"}),
            ]
        );
        let json_arg =
            vec![r#"[{"Name":"a","Values":["b"]},{"Name":"c","Values":["d"]}]"#.to_string()];
        assert_eq!(
            parse_list(&json_arg).unwrap(),
            vec![
                json!({"Name": "a", "Values": ["b"]}),
                json!({"Name": "c", "Values": ["d"]})
            ]
        );
        assert!(parse_list(&[]).unwrap().is_empty());
        assert!(parse_list(&["Name=a".to_string(), "oops".to_string()]).is_err());
    }

    #[test]
    fn value_helpers_convert_strings() {
        assert_eq!(as_bool(&json!("true")), Some(true));
        assert_eq!(as_bool(&json!("FALSE")), Some(false));
        assert_eq!(as_bool(&json!(true)), Some(true));
        assert_eq!(as_bool(&json!("yes")), None);
        assert_eq!(as_bool(&json!(1)), None);
        assert_eq!(as_i64(&json!("8")), Some(8));
        assert_eq!(as_i64(&json!(" -3 ")), Some(-3));
        assert_eq!(as_i64(&json!(16)), Some(16));
        assert_eq!(as_i64(&json!(8.0)), Some(8));
        assert_eq!(as_i64(&json!(8.5)), None);
        assert_eq!(as_i64(&json!("eight")), None);
        assert_eq!(as_list(&json!("running")), vec![json!("running")]);
        assert_eq!(as_list(&json!(["a", "b"])), vec![json!("a"), json!("b")]);
        assert!(as_list(&Value::Null).is_empty());
        let v = ok("Ebs={VolumeSize=8,DeleteOnTermination=true}");
        assert_eq!(as_i64(&v["Ebs"]["VolumeSize"]), Some(8));
        assert_eq!(as_bool(&v["Ebs"]["DeleteOnTermination"]), Some(true));
    }

    fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "ec2lab-shorthand-{}-{nanos}-{name}",
            std::process::id()
        ));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn file_reads_text() {
        let path = temp_file("user-data.sh", b"#!/bin/sh\necho hi\n");
        let got = load_param(&format!("file://{}", path.display())).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(got, ParamValue::Text("#!/bin/sh\necho hi\n".to_string()));
        assert_eq!(got.as_text(), Some("#!/bin/sh\necho hi\n"));
        assert_eq!(got.into_bytes(), b"#!/bin/sh\necho hi\n".to_vec());
    }

    #[test]
    fn fileb_reads_bytes_and_file_rejects_binary() {
        let bytes = [0u8, 0xff, 0xfe, 0x80];
        let path = temp_file("blob.bin", &bytes);
        let got = load_param(&format!("fileb://{}", path.display())).unwrap();
        let text = load_param(&format!("file://{}", path.display()));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(got, ParamValue::Bytes(bytes.to_vec()));
        assert_eq!(got.as_text(), None);
        assert_eq!(got.into_bytes(), bytes.to_vec());
        let msg = text.unwrap_err().to_string();
        assert!(msg.contains("text contents could not be decoded"), "{msg}");
        assert!(msg.contains("fileb://"), "{msg}");
    }

    #[test]
    fn file_reference_to_json_then_parse() {
        let path = temp_file(
            "mappings.json",
            br#"[{"DeviceName":"/dev/sda1","Ebs":{"VolumeSize":8}}]"#,
        );
        let loaded = load_param(&format!("file://{}", path.display())).unwrap();
        std::fs::remove_file(&path).unwrap();
        let v = parse(loaded.as_text().unwrap()).unwrap();
        assert_eq!(
            v,
            json!([{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 8}}])
        );
    }

    #[test]
    fn missing_file_and_literals() {
        let uri = format!(
            "file://{}",
            std::env::temp_dir()
                .join("ec2lab-shorthand-does-not-exist")
                .display()
        );
        let e = load_param(&uri).unwrap_err();
        let msg = crate::causes::chain(&e.with_param("--user-data"));
        assert!(
            msg.starts_with(&format!(
                "Error parsing parameter '--user-data': Unable to load paramfile {uri}: "
            )),
            "{msg}"
        );
        assert_eq!(
            load_param("my-key").unwrap(),
            ParamValue::Text("my-key".to_string())
        );
        assert_eq!(load_param("").unwrap(), ParamValue::Text(String::new()));
        // Only the exact lower-case prefixes are file references.
        assert_eq!(
            load_param("FILE://x").unwrap(),
            ParamValue::Text("FILE://x".to_string())
        );
    }

    #[test]
    fn file_paths_expand_home_and_vars() {
        let home = std::env::var("HOME").unwrap_or_default();
        assert_eq!(expand_path("~/x"), PathBuf::from(format!("{home}/x")));
        assert_eq!(expand_path("~user/x"), PathBuf::from("~user/x"));
        assert_eq!(expand_path("${HOME}/y"), PathBuf::from(format!("{home}/y")));
        assert_eq!(
            expand_path("$EC2LAB_SURELY_UNSET_VAR/z"),
            PathBuf::from("$EC2LAB_SURELY_UNSET_VAR/z")
        );
        assert_eq!(expand_path("a$"), PathBuf::from("a$"));
    }
}
