//! The metadata server of a supervisor: binds its VPC router's metadata port on the VPC's
//! bridge and answers each connection under [`pool`]'s limits. When the
//! bridge is made anew (its interface index changes), the server binds again.

use std::io::BufReader;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn};

use super::http::{self, Request, Response};
use super::pool::{self, Conn, RateLog, Stopped, LIMITS};
use super::token::{TokenKey, MAX_TTL_SECS};
use super::tree::{Extra, InstanceData, VERSIONS};
use crate::error::Ec2Error;
use crate::instances::record::Instance;
use crate::store::{now_unix, Store};

const TOKEN_PATH: &str = "/latest/api/token";
const TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
/// Lines a minute the server may write to the supervisor's log.
const LOG_LINES_PER_MINUTE: u32 = 30;

/// One server: the store it answers from (one connection for the server's life, not one
/// per request; requests take turns on it, each a few milliseconds), the token key and
/// its log.
struct Service {
    store: Mutex<Store>,
    key: TokenKey,
    log: Arc<RateLog>,
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
    let started = std::thread::Builder::new()
        .name("metadata".into())
        .spawn(move || {
            if let Err(e) = serve(state_dir, region, &id) {
                eprintln!("ec2lab supervisor {id}: metadata service: {e}");
            }
        });
    if let Err(e) = started {
        eprintln!("ec2lab supervisor {instance_id}: cannot start the metadata service: {e}");
    }
}

fn serve(state_dir: PathBuf, region: String, id: &str) -> Result<(), Ec2Error> {
    let store = Store::open(&state_dir, &region)?;
    let key = TokenKey::load_or_create(store.root())?;
    let svc = Arc::new(Service {
        store: Mutex::new(store),
        key,
        log: Arc::new(RateLog::new(
            format!("ec2lab supervisor {id}: metadata: "),
            LOG_LINES_PER_MINUTE,
        )),
    });
    loop {
        let Some((bridge, listener)) = svc.listen(id)? else {
            return Ok(()); // no network, no metadata service
        };
        let index = nix::net::if_::if_nametoindex(bridge.as_str()).ok();
        let keep = || nix::net::if_::if_nametoindex(bridge.as_str()).ok() == index;
        let (s, b) = (Arc::clone(&svc), bridge.clone());
        match pool::run(&listener, LIMITS, &svc.log, keep, move |c| s.handle(c, &b)) {
            Stopped::Stale => continue,
            Stopped::NoWorkers => {
                return Err(Ec2Error::internal(
                    "no worker thread could be started (the host is out of threads or memory)",
                ))
            }
        }
    }
}

/// A listening socket on `at` that takes only connections that came in on `bridge`
/// (SO_BINDTODEVICE), shared by every supervisor of the VPC (SO_REUSEPORT: the kernel
/// spreads connections over them; any of them can answer any instance of the VPC).
fn bind_on(bridge: &str, at: SocketAddrV4) -> std::io::Result<TcpListener> {
    let fd: OwnedFd = socket::socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    socket::setsockopt(&fd, sockopt::ReusePort, &true)?;
    socket::setsockopt(
        &fd,
        sockopt::BindToDevice,
        &std::ffi::OsString::from(bridge),
    )?;
    socket::bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(at))?;
    socket::listen(&fd, socket::Backlog::new(128).expect("small backlog"))?;
    let l = TcpListener::from(fd);
    pool::listener_tick(&l)?;
    Ok(l)
}

impl Service {
    /// Binds the metadata port of the instance's VPC, once its bridge is there and is
    /// this state root's; `None` when the instance has no network interface.
    fn listen(&self, id: &str) -> Result<Option<(String, TcpListener)>, Ec2Error> {
        loop {
            let (bridge, at, ours) = {
                let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
                let c = store.conn();
                let Some(eni) = crate::net::eni::Eni::of_instance(c, id)? else {
                    return Ok(None);
                };
                let vpc = crate::net::vpc::Vpc::get(c, &eni.vpc_id)?;
                let at = crate::net::metadata_endpoint(c, &eni.vpc_id)?;
                // A bridge of the same name that another state root made (a copied
                // state directory) is not ours to answer on.
                let ours = crate::net::host::alias(&vpc.bridge)
                    == crate::net::owner(&store).alias(&vpc.vpc_id);
                (vpc.bridge, at, ours)
            };
            if ours {
                if let Ok(l) = bind_on(&bridge, at) {
                    return Ok(Some((bridge, l)));
                }
            }
            // The bridge and its router address appear when the supervisor plumbs the
            // network for the VMM, a moment after this thread starts.
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn handle(&self, mut conn: Conn, bridge: &str) {
        let IpAddr::V4(peer) = conn.peer else { return };
        let Some(req) = http::read_request(&mut BufReader::new(&conn)) else {
            return;
        };
        conn.request_read();
        let started = Instant::now();
        let resp = self.answer(&req, bridge, peer);
        if let Some(ttl) = resp.ttl {
            // EC2's HttpPutResponseHopLimit: the answer's packets die after that many
            // hops (a container behind the instance's own bridge or NAT is one more).
            let _ = conn.stream.set_ttl(ttl);
        }
        let sent = resp.write_to(&mut &conn, req.method == "HEAD");
        // Refusals, failures and slow answers go to the supervisor's log: the guest only
        // sees a status line.
        let took = started.elapsed();
        if resp.status >= 400 || sent.is_err() || took > Duration::from_secs(1) {
            self.log.line(format_args!(
                "{peer} {} {} -> {} in {} ms{}",
                req.method.escape_debug(),
                req.path.escape_debug(),
                resp.status,
                took.as_millis(),
                sent.err()
                    .map(|e| format!(" (not sent: {e})"))
                    .unwrap_or_default()
            ));
        }
    }

    fn answer(&self, req: &Request, bridge: &str, peer: Ipv4Addr) -> Response {
        // A thread that panicked while holding the store left it intact (every read is
        // its own statement): carry on with it.
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let inst = match super::caller(&store, bridge, peer) {
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
        r.ttl = Some(
            inst.metadata_options
                .http_put_response_hop_limit
                .clamp(1, 64) as u32,
        );
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
    )
    .with_spot(crate::instances::spot::notice(
        store.conn(),
        &inst.instance_id,
    )?))
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
    fn supervisors_of_a_bridge_share_its_port() {
        let at = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let a = bind_on("lo", at).unwrap();
        let port = match a.local_addr().unwrap() {
            std::net::SocketAddr::V4(v) => v.port(),
            _ => unreachable!(),
        };
        let b = bind_on("lo", SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
        assert!(
            b.is_ok(),
            "SO_REUSEPORT lets a second supervisor bind: {b:?}"
        );
        assert!(
            bind_on("no-such-dev0", SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_err(),
            "a listener is bound to its bridge, which must exist"
        );
    }
}
