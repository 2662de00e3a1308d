//! Serving the metadata port under limits no guest can outgrow: a fixed set of worker
//! threads behind a bounded queue, at most a few connections per caller still sending
//! their request (waiting or being read), one deadline for
//! the whole request (not per read, so a guest trickling bytes cannot hold a worker), a
//! growing pause when `accept` fails (out of descriptors), and a log that cannot flood.
//! What goes beyond a limit is closed at once: the guest sees a reset, the host spends
//! nothing on it.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::mpsc::{sync_channel, Receiver, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How much one server may take on.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Worker threads, made once at start.
    pub workers: usize,
    /// Accepted connections waiting for a worker; more are closed.
    pub queue: usize,
    /// Connections of one caller (source address) queued or having their request read.
    pub per_caller: usize,
    /// From accept to the last byte of the answer.
    pub deadline: Duration,
}

/// The metadata service's limits. A caller's slow connections hold at most `per_caller`
/// of the `workers`, for at most `deadline` each, so other callers always find a worker.
pub const LIMITS: Limits = Limits {
    workers: 16,
    queue: 64,
    per_caller: 4,
    deadline: Duration::from_secs(2),
};

const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// One accepted connection, handed to the handler with the time it must be done by.
/// Counts against its caller's share while the request is being read (the part the caller
/// can drag out): until [`Conn::request_read`] or until dropped.
pub struct Conn {
    /// The connection.
    pub stream: TcpStream,
    /// The caller's address.
    pub peer: IpAddr,
    /// When the whole exchange must be over.
    pub deadline: Instant,
    share: Option<Share>,
}

impl Conn {
    /// The request is in: the caller's share is free for its next connection. (What is
    /// left, answering and writing, is the server's own work, bounded by the deadline; a
    /// caller that asks one request after another must never find its share taken by
    /// connections whose answers it has already read.)
    pub fn request_read(&mut self) {
        self.share = None;
    }

    /// Time left before the deadline; `None` once it has passed.
    pub fn left(&self) -> Option<Duration> {
        self.deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }
}

/// Reads and writes on a connection under its deadline: each call gets only the time
/// that is left, so the deadline bounds the whole request, however it is trickled.
impl Read for &Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.left().ok_or(std::io::ErrorKind::TimedOut)?;
        self.stream.set_read_timeout(Some(left))?;
        (&self.stream).read(buf)
    }
}

impl Write for &Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let left = self.left().ok_or(std::io::ErrorKind::TimedOut)?;
        self.stream.set_write_timeout(Some(left))?;
        (&self.stream).write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The connections each caller holds now.
#[derive(Default, Clone)]
struct Callers(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One caller's slot, given back on drop.
struct Share {
    callers: Callers,
    peer: IpAddr,
}

impl Callers {
    fn admit(&self, peer: IpAddr, max: usize) -> Option<Share> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(peer).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Share {
            callers: self.clone(),
            peer,
        })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut m = self.callers.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.peer);
            }
        }
    }
}

/// A log that writes at most `per_minute` lines a minute and then says how many it
/// left out, so a guest cannot fill the supervisor's log.
pub struct RateLog {
    prefix: String,
    per_minute: u32,
    state: Mutex<(Instant, u32, u64)>,
}

impl RateLog {
    /// Lines start with `prefix`.
    pub fn new(prefix: impl Into<String>, per_minute: u32) -> RateLog {
        RateLog {
            prefix: prefix.into(),
            per_minute,
            state: Mutex::new((Instant::now(), 0, 0)),
        }
    }

    /// Whether a line may be written at `now`, and how many were left out before it.
    fn admit(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(s.0) >= Duration::from_secs(60) {
            *s = (now, 0, s.2);
        }
        if s.1 >= self.per_minute {
            s.2 += 1;
            return None;
        }
        s.1 += 1;
        Some(std::mem::take(&mut s.2))
    }

    /// Writes `msg` to stderr unless this minute's lines are used up.
    pub fn line(&self, msg: impl std::fmt::Display) {
        match self.admit(Instant::now()) {
            Some(0) => eprintln!("{}{msg}", self.prefix),
            Some(n) => eprintln!("{}({n} lines left out) {msg}", self.prefix),
            None => {}
        }
    }
}

/// Why [`run`] returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// `keep` said the listener is no longer the right one (its device went away).
    Stale,
    /// Not one worker thread could be made.
    NoWorkers,
}

/// Accepts connections on `listener` and has `handler` answer them on `limits.workers`
/// threads, until `keep` (asked about once a second) returns false. The listener must
/// have a receive timeout of about a second (see [`listener_tick`]) for `keep` to be asked.
pub fn run<H>(
    listener: &TcpListener,
    limits: Limits,
    log: &Arc<RateLog>,
    keep: impl Fn() -> bool,
    handler: H,
) -> Stopped
where
    H: Fn(Conn) + Send + Sync + 'static,
{
    let (tx, rx) = sync_channel::<Conn>(limits.queue);
    let rx = Arc::new(Mutex::new(rx));
    let handler = Arc::new(handler);
    let mut workers = 0;
    for i in 0..limits.workers {
        let (rx, handler) = (Arc::clone(&rx), Arc::clone(&handler));
        // A thread that cannot be made is a smaller pool, not a dead supervisor.
        match std::thread::Builder::new()
            .name(format!("metadata-{i}"))
            .spawn(move || work(&rx, &*handler))
        {
            Ok(_) => workers += 1,
            Err(e) => log.line(format_args!("cannot start a worker thread: {e}")),
        }
    }
    if workers == 0 {
        return Stopped::NoWorkers;
    }
    let callers = Callers::default();
    let mut backoff = BACKOFF_MIN;
    loop {
        let (stream, peer) = match listener.accept() {
            Ok((s, a)) => (s, a.ip()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if !keep() {
                    return Stopped::Stale;
                }
                continue;
            }
            Err(e) => {
                // EMFILE, ENOBUFS, ...: retrying at once would spin; wait longer each time.
                log.line(format_args!("accept failed: {e}; retrying in {backoff:?}"));
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        backoff = BACKOFF_MIN;
        let Some(share) = callers.admit(peer, limits.per_caller) else {
            log.line(format_args!(
                "{peer}: more than {} connections at once; closed one",
                limits.per_caller
            ));
            continue;
        };
        let conn = Conn {
            stream,
            peer,
            deadline: Instant::now() + limits.deadline,
            share: Some(share),
        };
        if let Err(TrySendError::Full(c)) = tx.try_send(conn) {
            log.line(format_args!("{}: every worker is busy; closed", c.peer));
        }
    }
}

fn work<H: Fn(Conn)>(rx: &Mutex<Receiver<Conn>>, handler: &H) {
    loop {
        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        match next {
            Ok(conn) if conn.left().is_some() => handler(conn),
            Ok(_) => {} // waited out its deadline in the queue
            Err(_) => return,
        }
    }
}

/// Gives `listener` the receive timeout [`run`] needs to look at `keep` now and then.
pub fn listener_tick(listener: &TcpListener) -> std::io::Result<()> {
    let t = nix::sys::time::TimeVal::new(1, 0);
    nix::sys::socket::setsockopt(listener, nix::sys::socket::sockopt::ReceiveTimeout, &t)
        .map_err(std::io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddr};

    #[test]
    fn a_caller_gets_only_its_share() {
        let c = Callers::default();
        let a: IpAddr = Ipv4Addr::new(10, 0, 0, 1).into();
        let b: IpAddr = Ipv4Addr::new(10, 0, 0, 2).into();
        let held: Vec<_> = (0..3).map(|_| c.admit(a, 3).unwrap()).collect();
        assert!(c.admit(a, 3).is_none(), "a fourth connection of a");
        let other = c.admit(b, 3);
        assert!(other.is_some(), "b has its own share");
        drop(held);
        let again = c.admit(a, 3);
        assert!(again.is_some(), "shares come back when closed");
        drop(other);
        assert_eq!(c.0.lock().unwrap().len(), 1, "only a's new share is left");
    }

    #[test]
    fn the_log_is_rate_limited() {
        let log = RateLog::new("", 3);
        let t = Instant::now();
        assert_eq!(log.admit(t), Some(0));
        assert_eq!(log.admit(t), Some(0));
        assert_eq!(log.admit(t), Some(0));
        for _ in 0..100 {
            assert_eq!(log.admit(t), None);
        }
        // A minute later it writes again and says how much it left out.
        let later = t + Duration::from_secs(61);
        assert_eq!(log.admit(later), Some(100));
        assert_eq!(log.admit(later), Some(0));
    }

    /// A server with `limits` on 127.0.0.1 whose handler reads a line and echoes it.
    fn echo_server(limits: Limits) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        listener_tick(&l).unwrap();
        let at = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let log = Arc::new(RateLog::new("test: ", 5));
            run(
                &l,
                limits,
                &log,
                || true,
                |conn: Conn| {
                    let mut line = String::new();
                    let mut r = std::io::BufReader::new(&conn);
                    if std::io::BufRead::read_line(&mut r, &mut line).is_ok() {
                        let _ = (&conn).write_all(line.as_bytes());
                    }
                },
            )
        });
        at
    }

    fn ask(at: SocketAddr, from: Ipv4Addr) -> std::io::Result<String> {
        use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrIn};
        use std::os::fd::AsRawFd;
        let SocketAddr::V4(to) = at else {
            unreachable!("bound to 127.0.0.1")
        };
        let sock = socket::socket(
            AddressFamily::Inet,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        socket::bind(
            sock.as_raw_fd(),
            &SockaddrIn::from(std::net::SocketAddrV4::new(from, 0)),
        )?;
        socket::connect(sock.as_raw_fd(), &SockaddrIn::from(to))?;
        let s = std::net::TcpStream::from(sock);
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        (&s).write_all(b"hello\n")?;
        let mut out = String::new();
        (&s).read_to_string(&mut out)?;
        Ok(out)
    }

    /// 2,000 connections from one caller that never finish their request: another caller
    /// is still answered at once, and the slow ones are closed by their deadline.
    #[test]
    fn slow_callers_cannot_starve_others() {
        let limits = Limits {
            deadline: Duration::from_millis(1500),
            ..LIMITS
        };
        let at = echo_server(limits);
        let slow: Vec<_> = (0..2000)
            .filter_map(|_| {
                let s = std::net::TcpStream::connect(at).ok()?;
                // Half a request, then nothing.
                (&s).write_all(b"hel").ok()?;
                Some(s)
            })
            .collect();
        assert!(slow.len() > 1000, "only {} connected", slow.len());
        for _ in 0..20 {
            let t = Instant::now();
            let got = ask(at, Ipv4Addr::new(127, 0, 0, 2)).unwrap();
            assert_eq!(got, "hello\n");
            assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        }
        // Every slow connection is closed by now or soon: by the share limit at once, or
        // by the deadline.
        std::thread::sleep(limits.deadline + Duration::from_millis(500));
        let open = slow
            .iter()
            .filter(|s| {
                s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
                let r = (&**s).read(&mut [0u8; 16]);
                matches!(r, Err(ref e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
            })
            .count();
        assert_eq!(open, 0, "connections outlived the deadline");
    }
}
