//! What the metadata worker (unprivileged, speaks HTTP with guests) and its supervisor
//! (root, answers from the store) say to each other over a `SOCK_SEQPACKET` socket pair:
//! one [`Query`] per parsed request, one [`Reply`] per query. Both are a few typed,
//! length-bounded fields in a fixed order, so the supervisor never parses anything a
//! guest wrote beyond copying bounded strings; a message that does not decode exactly is
//! refused whole.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::sys::socket::{self, sockopt, AddressFamily, MsgFlags, SockFlag, SockType};

/// The header asking for (and answering with) a token's time to live.
pub const TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
/// The header carrying an IMDSv2 session token.
pub const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
/// The header a proxy adds; a request that has it never gets a token.
pub const FORWARDED_HEADER: &str = "X-Forwarded-For";

/// A string field's most bytes: a whole HTTP request head (`http::MAX_HEAD`).
pub const MAX_FIELD: usize = 16 * 1024;
/// A reply body's most bytes: the largest answer is the user data (16 KiB, EC2's limit).
pub const MAX_BODY: usize = 64 * 1024;
/// The largest query: its fixed part and four strings (which, coming from one request
/// head, are together far smaller).
pub const MAX_QUERY: usize = 16 + 4 * (3 + MAX_FIELD);
/// The largest reply.
pub const MAX_REPLY: usize = 16 + (3 + MAX_FIELD) + 4 + MAX_BODY;

/// One request, as much of it as the answer depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Tells a late reply (to a request given up on) from the one awaited.
    pub seq: u32,
    /// The caller's address, as the worker accepted it.
    pub peer: Ipv4Addr,
    /// `GET`, `PUT`, ...
    pub method: String,
    /// The path, without query string.
    pub path: String,
    /// The [`TOKEN_HEADER`]'s value.
    pub token: Option<String>,
    /// The [`TTL_HEADER`]'s value.
    pub ttl: Option<String>,
    /// Whether the request has a [`FORWARDED_HEADER`].
    pub forwarded: bool,
}

/// The answer to one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The query's.
    pub seq: u32,
    /// The HTTP status.
    pub status: u16,
    /// The IP time-to-live of the answer's packets (the hop limit), if not the default.
    pub hop_limit: Option<u32>,
    /// The [`TTL_HEADER`] to send with a token.
    pub token_ttl: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Query {
    /// The message's bytes; `None` if a field is longer than [`MAX_FIELD`].
    pub fn encode(&self) -> Option<Vec<u8>> {
        let mut w = Vec::with_capacity(64 + self.path.len());
        w.extend_from_slice(&self.seq.to_be_bytes());
        w.extend_from_slice(&self.peer.octets());
        w.push(u8::from(self.forwarded));
        put_str(&mut w, Some(&self.method))?;
        put_str(&mut w, Some(&self.path))?;
        put_str(&mut w, self.token.as_deref())?;
        put_str(&mut w, self.ttl.as_deref())?;
        Some(w)
    }

    /// The query in `b`, if `b` is exactly one well-formed query.
    pub fn decode(b: &[u8]) -> Option<Query> {
        let mut r = Reader(b);
        let seq = r.u32()?;
        let peer = Ipv4Addr::from(r.u32()?);
        let forwarded = match r.u8()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        let q = Query {
            seq,
            peer,
            forwarded,
            method: r.str()??,
            path: r.str()??,
            token: r.str()?,
            ttl: r.str()?,
        };
        r.0.is_empty().then_some(q)
    }
}

impl Reply {
    /// The message's bytes; `None` if the body or the TTL is too long.
    pub fn encode(&self) -> Option<Vec<u8>> {
        if self.body.len() > MAX_BODY {
            return None;
        }
        let mut w = Vec::with_capacity(32 + self.body.len());
        w.extend_from_slice(&self.seq.to_be_bytes());
        w.extend_from_slice(&self.status.to_be_bytes());
        match self.hop_limit {
            Some(h) => {
                w.push(1);
                w.extend_from_slice(&h.to_be_bytes());
            }
            None => w.extend_from_slice(&[0; 5]),
        }
        put_str(&mut w, self.token_ttl.as_deref())?;
        w.extend_from_slice(&(self.body.len() as u32).to_be_bytes());
        w.extend_from_slice(&self.body);
        Some(w)
    }

    /// The reply in `b`, if `b` is exactly one well-formed reply.
    pub fn decode(b: &[u8]) -> Option<Reply> {
        let mut r = Reader(b);
        let seq = r.u32()?;
        let status = u16::from_be_bytes(r.take(2)?.try_into().ok()?);
        let has_hop = r.u8()?;
        let hop = r.u32()?;
        let hop_limit = match has_hop {
            // One encoding per reply: an absent hop limit is all zeros.
            0 if hop == 0 => None,
            1 => Some(hop),
            _ => return None,
        };
        let token_ttl = r.str()?;
        let len = r.u32()? as usize;
        if len > MAX_BODY {
            return None;
        }
        let body = r.take(len)?.to_vec();
        r.0.is_empty().then_some(Reply {
            seq,
            status,
            hop_limit,
            token_ttl,
            body,
        })
    }
}

/// An optional string: a presence byte, a length, the bytes.
fn put_str(w: &mut Vec<u8>, s: Option<&str>) -> Option<()> {
    match s {
        None => w.extend_from_slice(&[0, 0, 0]),
        Some(s) if s.len() <= MAX_FIELD => {
            w.push(1);
            w.extend_from_slice(&(s.len() as u16).to_be_bytes());
            w.extend_from_slice(s.as_bytes());
        }
        Some(_) => return None,
    }
    Some(())
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    /// `Some(None)`: absent; `None`: malformed.
    fn str(&mut self) -> Option<Option<String>> {
        let present = self.u8()?;
        let len = u16::from_be_bytes(self.take(2)?.try_into().ok()?) as usize;
        match present {
            0 if len == 0 => Some(None),
            1 if len <= MAX_FIELD => Some(Some(String::from_utf8(self.take(len)?.to_vec()).ok()?)),
            _ => None,
        }
    }
}

/// A connected pair of message sockets, closed on exec.
pub fn channel() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?)
}

/// Sends one message (never raising SIGPIPE when the other end is gone).
pub fn send(fd: &OwnedFd, msg: &[u8]) -> io::Result<()> {
    socket::send(fd.as_raw_fd(), msg, MsgFlags::MSG_NOSIGNAL)?;
    Ok(())
}

/// [`send`], with `conn` passed along (SCM_RIGHTS): a query carries the guest's own
/// connection, so the supervisor learns the caller from the socket, not from the worker.
pub fn send_with_fd(fd: &OwnedFd, msg: &[u8], conn: std::os::fd::RawFd) -> io::Result<()> {
    crate::fdpass::send(fd.as_raw_fd(), msg, conn, MsgFlags::MSG_NOSIGNAL)?;
    Ok(())
}

/// [`recv`] of a message sent by [`send_with_fd`]: the message and the descriptor that
/// came with it, if one did (any more are closed).
pub fn recv_with_fd(fd: &OwnedFd, max: usize) -> io::Result<Option<(Vec<u8>, Option<OwnedFd>)>> {
    socket::setsockopt(
        fd,
        sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(0, 0),
    )?;
    let mut buf = vec![0u8; max + 1];
    let (n, passed) = crate::fdpass::recv(fd.as_raw_fd(), &mut buf, MsgFlags::MSG_TRUNC)?;
    if n == 0 && passed.is_none() {
        return Ok(None);
    }
    Ok(Some((within(buf, n, max)?, passed)))
}

/// Receives one message of at most `max` bytes: `Ok(None)` when the other end closed, an
/// error when the message was longer (it is dropped whole) or `timeout` passed.
pub fn recv(fd: &OwnedFd, max: usize, timeout: Option<Duration>) -> io::Result<Option<Vec<u8>>> {
    let t = timeout
        .map(|t| nix::sys::time::TimeVal::new(t.as_secs() as i64, t.subsec_micros().max(1) as i64))
        .unwrap_or_else(|| nix::sys::time::TimeVal::new(0, 0));
    socket::setsockopt(fd, sockopt::ReceiveTimeout, &t)?;
    let mut buf = vec![0u8; max + 1];
    let n = socket::recv(fd.as_raw_fd(), &mut buf, MsgFlags::MSG_TRUNC)?;
    if n == 0 {
        return Ok(None);
    }
    within(buf, n, max).map(Some)
}

/// The `n` bytes received into `buf`, unless the message (of `n` bytes, MSG_TRUNC) was
/// longer than `max`: then it is refused whole.
fn within(mut buf: Vec<u8>, n: usize, max: usize) -> io::Result<Vec<u8>> {
    if n > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a message of {n} bytes, more than {max}"),
        ));
    }
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> Query {
        Query {
            seq: 7,
            peer: Ipv4Addr::new(172, 31, 0, 5),
            method: "PUT".into(),
            path: "/latest/api/token".into(),
            token: None,
            ttl: Some("21600".into()),
            forwarded: true,
        }
    }

    #[test]
    fn messages_round_trip() {
        let q = query();
        assert_eq!(Query::decode(&q.encode().unwrap()), Some(q));
        let r = Reply {
            seq: 9,
            status: 200,
            hop_limit: Some(2),
            token_ttl: Some("60".into()),
            body: b"token".to_vec(),
        };
        assert_eq!(Reply::decode(&r.encode().unwrap()), Some(r));
    }

    #[test]
    fn malformed_messages_are_refused_whole() {
        let b = query().encode().unwrap();
        for cut in 0..b.len() {
            assert_eq!(Query::decode(&b[..cut]), None, "cut at {cut}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(Query::decode(&longer), None, "trailing bytes");
        let mut bad_flag = b.clone();
        bad_flag[8] = 2;
        assert_eq!(Query::decode(&bad_flag), None);
        let big = Reply {
            seq: 1,
            status: 200,
            hop_limit: None,
            token_ttl: None,
            body: vec![0; MAX_BODY + 1],
        };
        assert_eq!(big.encode(), None);
        let q = Query {
            path: "a".repeat(MAX_FIELD + 1),
            ..query()
        };
        assert_eq!(q.encode(), None);
    }

    #[test]
    fn a_channel_carries_messages_and_says_when_closed() {
        let (a, b) = channel().unwrap();
        send(&a, b"one").unwrap();
        assert_eq!(recv(&b, 16, None).unwrap().as_deref(), Some(&b"one"[..]));
        send(&a, &[1; 32]).unwrap();
        assert!(recv(&b, 16, None).is_err(), "too long");
        let t = std::time::Instant::now();
        assert!(recv(&b, 16, Some(Duration::from_millis(50))).is_err());
        assert!(t.elapsed() >= Duration::from_millis(40));
        drop(a);
        assert_eq!(recv(&b, 16, None).unwrap(), None);
    }
}
