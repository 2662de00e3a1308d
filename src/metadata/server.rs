//! The metadata server thread of a supervisor: binds its VPC router's metadata port and
//! answers each connection on a thread of its own (a guest that never finishes its
//! request holds only that thread, for at most [`IO_TIMEOUT`]).

use std::io::BufReader;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn};

use super::http::{self, Request, Response};
use super::token::{TokenKey, MAX_TTL_SECS};
use super::tree::{Extra, InstanceData, VERSIONS};
use crate::instances::record::Instance;
use crate::store::{now_unix, Store};

const IO_TIMEOUT: Duration = Duration::from_secs(5);
const TOKEN_PATH: &str = "/latest/api/token";
const TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";

/// One server: the store it answers from (one connection for the server's life, not one
/// per request; requests take turns on it, each a few milliseconds) and the token key.
struct Service {
    store: Mutex<Store>,
    key: TokenKey,
}

/// Starts the metadata server for `instance_id`'s VPC in a background thread of the
/// calling (supervisor) process. Returns at once; the thread lives as long as the process.
/// An instance without a network interface gets no server.
pub fn spawn(state_dir: &Path, region: &str, instance_id: &str) {
    let (state_dir, region, id) = (
        state_dir.to_path_buf(),
        region.to_string(),
        instance_id.to_string(),
    );
    std::thread::spawn(move || {
        if let Err(e) = serve(state_dir, region, &id) {
            eprintln!("ec2lab supervisor {id}: metadata service: {e}");
        }
    });
}

fn serve(state_dir: PathBuf, region: String, id: &str) -> Result<(), crate::error::Ec2Error> {
    let store = Store::open(&state_dir, &region)?;
    let key = TokenKey::load_or_create(store.root())?;
    let listener = loop {
        let Some(eni) = crate::net::eni::Eni::of_instance(store.conn(), id)? else {
            return Ok(()); // no network, no metadata service
        };
        let at = crate::net::metadata_endpoint(store.conn(), &eni.vpc_id)?;
        match bind_shared(at) {
            Ok(l) => break l,
            // The router address appears when the supervisor plumbs the network for the
            // VMM, a moment after this thread starts.
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    };
    let svc = Arc::new(Service {
        store: Mutex::new(store),
        key,
    });
    for conn in listener.incoming().flatten() {
        let svc = Arc::clone(&svc);
        std::thread::spawn(move || svc.handle(conn));
    }
    Ok(())
}

/// A listening socket that every supervisor of the VPC binds at once (SO_REUSEPORT: the
/// kernel spreads connections over them; any of them can answer any instance).
fn bind_shared(at: SocketAddrV4) -> std::io::Result<TcpListener> {
    let fd: OwnedFd = socket::socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    socket::setsockopt(&fd, sockopt::ReusePort, &true)?;
    socket::bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(at))?;
    socket::listen(&fd, socket::Backlog::new(64).expect("small backlog"))?;
    Ok(TcpListener::from(fd))
}

impl Service {
    fn handle(&self, conn: TcpStream) {
        let _ = conn.set_read_timeout(Some(IO_TIMEOUT));
        let _ = conn.set_write_timeout(Some(IO_TIMEOUT));
        let (Ok(SocketAddr::V4(local)), Ok(SocketAddr::V4(peer))) =
            (conn.local_addr(), conn.peer_addr())
        else {
            return;
        };
        let Ok(mut w) = conn.try_clone() else { return };
        let Some(req) = http::read_request(&mut BufReader::new(conn)) else {
            return;
        };
        let started = std::time::Instant::now();
        let resp = self.answer(&req, *local.ip(), *peer.ip());
        let sent = resp.write_to(&mut w, req.method == "HEAD");
        // Refusals, failures and slow answers go to the supervisor's log: the guest only
        // sees a status line.
        let took = started.elapsed();
        if resp.status >= 400 || sent.is_err() || took > Duration::from_secs(1) {
            eprintln!(
                "metadata: {peer} {} {} -> {} in {} ms{}",
                req.method,
                req.path,
                resp.status,
                took.as_millis(),
                sent.err()
                    .map(|e| format!(" (not sent: {e})"))
                    .unwrap_or_default()
            );
        }
    }

    fn answer(&self, req: &Request, local: Ipv4Addr, peer: Ipv4Addr) -> Response {
        // A thread that panicked while holding the store left it intact (every read is
        // its own statement): carry on with it.
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let inst = match super::caller(&store, local, peer) {
            Ok(Some(i)) => i,
            Ok(None) => return Response::error(403), // not an instance of this VPC
            Err(_) => return Response::error(500),
        };
        if inst.metadata_options.http_endpoint == "disabled" {
            return Response::error(403);
        }
        let now = now_unix() as u64;
        if req.path == TOKEN_PATH {
            return self.token(req, &inst, now);
        }
        if !matches!(req.method.as_str(), "GET" | "HEAD") {
            return Response::error(405);
        }
        match req.header(TOKEN_HEADER) {
            Some(t) if !self.key.check(t, &inst.instance_id, now) => return Response::error(401),
            None if inst.metadata_options.http_tokens == "required" => return Response::error(401),
            _ => {}
        }
        let path = req.path.trim_start_matches('/');
        if path.is_empty() {
            return Response::ok(VERSIONS.join("\n"));
        }
        let (version, rest) = path.split_once('/').unwrap_or((path, ""));
        if !VERSIONS.contains(&version) && !is_date(version) {
            return Response::error(404);
        }
        match data_for(&store, &inst) {
            Ok(d) => d.get(rest),
            Err(_) => Response::error(500),
        }
    }

    /// `PUT /latest/api/token`: a session token for the caller, as IMDSv2 hands out.
    fn token(&self, req: &Request, inst: &Instance, now: u64) -> Response {
        if req.method != "PUT" {
            return Response::error(405);
        }
        // As on AWS: a request that came through a proxy never gets a token.
        if req.header("X-Forwarded-For").is_some() {
            return Response::error(403);
        }
        let ttl = req.header(TTL_HEADER).and_then(|t| t.parse::<u64>().ok());
        let Some(ttl) = ttl.filter(|t| (1..=MAX_TTL_SECS).contains(t)) else {
            return Response::error(400);
        };
        let mut r = Response::ok(self.key.issue(&inst.instance_id, now, ttl));
        r.extra_headers.push((TTL_HEADER, ttl.to_string()));
        r
    }
}

/// `YYYY-MM-DD`: EC2 answers every dated API version with the same tree.
fn is_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

fn data_for(store: &Store, inst: &Instance) -> Result<InstanceData, crate::error::Ec2Error> {
    let d = crate::instances::describe::instance(store, inst)?;
    let key = inst.key_name.clone().zip(inst.public_key.clone());
    let c = store.conn();
    let cidr_of = |id: &str| -> Option<String> {
        if id.starts_with("vpc-") {
            crate::net::vpc::Vpc::get(c, id)
                .ok()
                .map(|v| v.cidr.to_string())
        } else {
            crate::net::vpc::Subnet::get(c, id)
                .ok()
                .map(|s| s.cidr.to_string())
        }
    };
    Ok(InstanceData::new(
        &d,
        Extra {
            region: store.region(),
            reservation_id: &inst.reservation_id,
            key,
            user_data: inst.user_data.clone(),
            cidr_of: &cidr_of,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_versions() {
        assert!(is_date("2009-04-04"));
        assert!(!is_date("2009-04-4x"));
        assert!(!is_date("latest"));
    }

    #[test]
    fn two_listeners_share_a_port() {
        let at = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let a = bind_shared(at).unwrap();
        let port = match a.local_addr().unwrap() {
            SocketAddr::V4(v) => v.port(),
            _ => unreachable!(),
        };
        let b = bind_shared(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
        assert!(
            b.is_ok(),
            "SO_REUSEPORT lets a second supervisor bind: {b:?}"
        );
    }
}
