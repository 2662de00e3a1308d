//! Just enough HTTP/1.x for the metadata service: one request per connection (the
//! response says `Connection: close`), headers only (IMDS requests have no body worth
//! reading), bounded sizes so a misbehaving guest cannot make the host allocate freely.

use std::io::{BufRead, Write};

/// Request line plus headers; beyond this the request is refused.
const MAX_HEAD: usize = 16 * 1024;

/// One parsed HTTP request: what the router needs from it.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `PUT`, ... as sent.
    pub method: String,
    /// The path without query string.
    pub path: String,
    /// Header names and values in the order received.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// A header's value; names compare case-insensitively, as HTTP says.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request head. `None`: the peer closed, or sent something that is not HTTP.
pub fn read_request(r: &mut impl BufRead) -> Option<Request> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = std::io::Read::take(&mut *r, (MAX_HEAD - head.len()) as u64)
            .read_until(b'\n', &mut line)
            .ok()?;
        if n == 0 || !line.ends_with(b"\n") {
            return None; // closed, or the head is too long
        }
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        head.extend_from_slice(&line);
    }
    let text = String::from_utf8(head).ok()?;
    let mut lines = text.lines();
    let mut parts = lines.next()?.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?;
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let path = target.split('?').next().unwrap_or("/").to_string();
    let headers = lines
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    Some(Request {
        method,
        path,
        headers,
    })
}

/// An answer to write back on the connection.
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body, sent as `text/plain`.
    pub body: Vec<u8>,
    /// Headers besides the standard ones (e.g. the token TTL).
    pub extra_headers: Vec<(&'static str, String)>,
    /// The IP time-to-live of the answer's packets, when it is not the host's default.
    pub ttl: Option<u32>,
}

impl Response {
    /// A 200 with `body`.
    pub fn ok(body: impl Into<Vec<u8>>) -> Response {
        Response {
            status: 200,
            body: body.into(),
            extra_headers: vec![],
            ttl: None,
        }
    }

    /// An error with the HTML-ish body AWS's service sends, so clients that print it show
    /// something readable.
    pub fn error(status: u16) -> Response {
        let reason = reason(status);
        Response {
            status,
            body: format!(
                "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<html><head><title>{status} - {reason}</title></head>\
                 <body><h1>{status} - {reason}</h1></body></html>\n"
            )
            .into_bytes(),
            extra_headers: vec![],
            ttl: None,
        }
    }

    /// Writes the status line, headers and (unless `head_only`, for HEAD) the body.
    pub fn write_to(&self, w: &mut impl Write, head_only: bool) -> std::io::Result<()> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nServer: EC2ws\r\nConnection: close\r\n",
            self.status,
            reason(self.status),
            self.body.len()
        );
        for (k, v) in &self.extra_headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !head_only {
            bytes.extend_from_slice(&self.body);
        }
        w.write_all(&bytes)?;
        w.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_token_request() {
        let raw = b"PUT /latest/api/token?x=1 HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n";
        let r = read_request(&mut &raw[..]).unwrap();
        assert_eq!(r.method, "PUT");
        assert_eq!(r.path, "/latest/api/token");
        assert_eq!(
            r.header("x-AWS-ec2-metadata-token-ttl-seconds"),
            Some("21600")
        );
        assert_eq!(r.header("X-Forwarded-For"), None);
    }

    #[test]
    fn refuses_what_is_not_http() {
        assert!(read_request(&mut &b"hello\r\n\r\n"[..]).is_none());
        assert!(
            read_request(&mut &b"GET / HTTP/1.0\r\n"[..]).is_none(),
            "no end"
        );
        let huge = format!("GET / HTTP/1.0\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(read_request(&mut huge.as_bytes()).is_none());
    }

    #[test]
    fn writes_a_response() {
        let mut out = Vec::new();
        Response::ok("i-1").write_to(&mut out, false).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(s.contains("Content-Length: 3\r\n"));
        assert!(s.ends_with("\r\n\r\ni-1"));
    }
}
