//! A minimal HTTP/1.1 client: enough for the instance metadata service (one request per
//! connection, `Connection: close`, bodies by Content-Length, chunked or until EOF).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response: the status code and the (de-chunked) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The bytes of one request without a body (PUT gets `Content-Length: 0`, as curl sends).
pub fn build_request(method: &str, host: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ec2lab-agent/{}\r\nAccept: */*\r\nConnection: close\r\n",
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if method != "GET" && method != "HEAD" {
        r.push_str("Content-Length: 0\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses a response from the bytes read so far. `Ok(None)`: not complete yet, read more.
/// With `eof`, the connection has been closed, so a body without a length ends here.
pub fn parse_response(raw: &[u8], eof: bool) -> Result<Option<Response>, String> {
    parse_response_to(raw, eof, false)
}

/// A response head: the status line, the header fields, where the body starts.
pub type Head = (String, Vec<(String, String)>, usize);

/// The response head: the status line, the header fields in order, and where the body
/// starts. None while the blank line after the headers has not arrived.
pub fn parse_head(raw: &[u8]) -> Option<Head> {
    let head_end = find(raw, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect();
    Some((status_line, headers, head_end + 4))
}

/// [`parse_response`]; `head_request`: the answer to a HEAD, which has no body whatever
/// its Content-Length says.
pub fn parse_response_to(
    raw: &[u8],
    eof: bool,
    head_request: bool,
) -> Result<Option<Response>, String> {
    let Some(head_end) = find(raw, b"\r\n\r\n") else {
        if eof {
            return Err(format!(
                "connection closed after {} bytes, before the end of the headers",
                raw.len()
            ));
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| "headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1.x status line: {status_line:?}"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| format!("bad status line: {status_line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("bad header line: {line:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| format!("bad Content-Length: {value:?}"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let body = &raw[head_end + 4..];
    // 1xx, 204 and 304 have no body by definition.
    if head_request || status < 200 || status == 204 || status == 304 {
        return Ok(Some(Response {
            status,
            body: Vec::new(),
        }));
    }
    if chunked {
        return match dechunk(body)? {
            Some(b) => Ok(Some(Response { status, body: b })),
            None if eof => Err("connection closed inside a chunked body".into()),
            None => Ok(None),
        };
    }
    match length {
        Some(n) if body.len() >= n => Ok(Some(Response {
            status,
            body: body[..n].to_vec(),
        })),
        Some(n) if eof => Err(format!(
            "connection closed after {} of {n} body bytes",
            body.len()
        )),
        Some(_) => Ok(None),
        None if eof => Ok(Some(Response {
            status,
            body: body.to_vec(),
        })),
        None => Ok(None),
    }
}

/// Decodes a chunked body; `Ok(None)` while the last (zero-size) chunk is still missing.
fn dechunk(mut b: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = find(b, b"\r\n") else {
            return Ok(None);
        };
        let size_field = std::str::from_utf8(&b[..eol]).map_err(|_| "bad chunk size")?;
        let size_hex = size_field.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {size_field:?}"))?;
        b = &b[eol + 2..];
        if size == 0 {
            // Trailers may follow; the body itself is complete.
            return Ok(Some(out));
        }
        if b.len() < size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&b[..size]);
        if &b[size..size + 2] != b"\r\n" {
            return Err("chunk not followed by CRLF".into());
        }
        b = &b[size + 2..];
    }
}

/// One request on a new connection: `connect_timeout` for the TCP connect, `io_timeout` for
/// each read and write. Errors are strings ready for a log line.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    connect_timeout: Duration,
    io_timeout: Duration,
) -> Result<Response, String> {
    let mut s = match addr {
        SocketAddr::V4(a) => crate::sys::connect_bound(a, connect_timeout),
        SocketAddr::V6(_) => TcpStream::connect_timeout(&addr, connect_timeout),
    }
    .map_err(|e| format!("connect to {addr}: {e}"))?;
    s.set_read_timeout(Some(io_timeout))
        .and_then(|_| s.set_write_timeout(Some(io_timeout)))
        .map_err(|e| format!("socket timeouts: {e}"))?;
    let host = if addr.port() == 80 {
        addr.ip().to_string()
    } else {
        addr.to_string()
    };
    s.write_all(&build_request(method, &host, path, headers))
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s
            .read(&mut buf)
            .map_err(|e| format!("read from {addr}: {e}"))?;
        raw.extend_from_slice(&buf[..n]);
        if let Some(r) = parse_response(&raw, n == 0)? {
            return Ok(r);
        }
        if raw.len() > 1 << 20 {
            // User data is at most 16 KiB on EC2; anything this big is not a metadata reply.
            return Err(format!("response from {addr} larger than 1 MiB"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes() {
        let r = build_request(
            "PUT",
            "169.254.169.254",
            "/latest/api/token",
            &[("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
        );
        let r = String::from_utf8(r).unwrap();
        assert!(r.starts_with("PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n"));
        assert!(r.contains("\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n"));
        assert!(r.contains("\r\nContent-Length: 0\r\n"));
        assert!(r.ends_with("\r\n\r\n"));
        let g = String::from_utf8(build_request("GET", "h", "/x", &[])).unwrap();
        assert!(!g.contains("Content-Length"));
    }

    #[test]
    fn content_length_body() {
        let raw = b"HTTP/1.0 200 OK\r\nServer: x\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(
            parse_response(raw, false).unwrap(),
            Some(Response {
                status: 200,
                body: b"hello".to_vec()
            })
        );
        // Incomplete: more to read, or an error once the peer has closed.
        assert_eq!(parse_response(&raw[..raw.len() - 1], false).unwrap(), None);
        assert!(parse_response(&raw[..raw.len() - 1], true).is_err());
        assert_eq!(parse_response(&raw[..10], false).unwrap(), None);
        assert!(parse_response(&raw[..10], true).is_err());
    }

    #[test]
    fn body_until_eof_and_case_insensitive_headers() {
        let raw = b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\n\r\nnope";
        assert_eq!(parse_response(raw, false).unwrap(), None);
        let r = parse_response(raw, true).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"nope"[..]));
        let raw = b"HTTP/1.1 401 Unauthorized\r\nCONTENT-LENGTH: 0\r\n\r\n";
        assert_eq!(parse_response(raw, false).unwrap().unwrap().status, 401);
    }

    #[test]
    fn chunked_body() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n";
        let r = parse_response(raw, false).unwrap().unwrap();
        assert_eq!(r.body, b"Wikipedia");
        assert_eq!(parse_response(&raw[..raw.len() - 7], false).unwrap(), None);
        assert!(parse_response(&raw[..raw.len() - 7], true).is_err());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_response(b"SSH-2.0-dropbear\r\n\r\n", false).is_err());
        assert!(parse_response(b"HTTP/1.1 abc OK\r\n\r\n", false).is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false).is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", false).is_err());
    }

    #[test]
    fn real_socket_round_trip() {
        use std::net::TcpListener;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while find(&req, b"\r\n\r\n").is_none() {
                let n = c.read(&mut buf).unwrap();
                req.extend_from_slice(&buf[..n]);
            }
            c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
            String::from_utf8(req).unwrap()
        });
        let r = request(
            addr,
            "GET",
            "/latest/meta-data/instance-id",
            &[("X-aws-ec2-metadata-token", "tok")],
            Duration::from_secs(2),
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(r.body, b"ok");
        let req = t.join().unwrap();
        assert!(req.starts_with("GET /latest/meta-data/instance-id HTTP/1.1\r\n"));
        assert!(req.contains(&format!("Host: {addr}\r\n")));
        assert!(req.contains("X-aws-ec2-metadata-token: tok\r\n"));
    }
}
