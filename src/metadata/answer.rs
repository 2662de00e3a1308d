//! What the metadata service answers: the caller's instance is found by the bridge the
//! request came in on and its address; IMDSv1 and v2 (tokens, the hop limit of their
//! answers, `HttpTokens` and `HttpEndpoint`), the versions and the instance's tree. Runs
//! in the supervisor (root: the store and the token key are root's), on typed queries
//! the unprivileged worker made of the guest's HTTP ([`super::ipc`]).

use std::sync::Mutex;

use super::http::Response;
use super::ipc::{Query, TTL_HEADER};
use super::token::{TokenKey, MAX_TTL_SECS};
use super::tree::{Extra, InstanceData, VERSIONS};
use crate::instances::record::Instance;
use crate::store::{now_unix, Store};

const TOKEN_PATH: &str = "/latest/api/token";

/// What answers: the store (one connection for the server's life, not one per request;
/// requests take turns on it, each a few milliseconds) and the token key.
pub struct Service {
    /// The region's store.
    pub store: Mutex<Store>,
    /// Signs and checks IMDSv2 tokens.
    pub key: TokenKey,
}

impl Service {
    /// The answer to `q`, a request that came in on `bridge`.
    pub fn answer(&self, q: &Query, bridge: &str) -> Response {
        // A thread that panicked while holding the store left it intact (every read is
        // its own statement): carry on with it.
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let inst = match super::caller(&store, bridge, q.peer) {
            Ok(Some(i)) => i,
            Ok(None) => return Response::error(403), // not an instance of this VPC
            Err(_) => return Response::error(500),
        };
        if inst.metadata_options.http_endpoint == "disabled" {
            return Response::error(403);
        }
        let now = now_unix() as u64;
        if q.path == TOKEN_PATH {
            return self.token(q, &inst, now);
        }
        if !matches!(q.method.as_str(), "GET" | "HEAD") {
            return Response::error(405);
        }
        match q.token.as_deref() {
            Some(t) if !self.key.check(t, &inst.instance_id, now) => return Response::error(401),
            None if inst.metadata_options.http_tokens == "required" => return Response::error(401),
            _ => {}
        }
        let path = q.path.trim_start_matches('/');
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
    fn token(&self, q: &Query, inst: &Instance, now: u64) -> Response {
        if q.method != "PUT" {
            return Response::error(405);
        }
        // As on AWS: a request that came through a proxy never gets a token.
        if q.forwarded {
            return Response::error(403);
        }
        let ttl = q.ttl.as_deref().and_then(|t| t.parse::<u64>().ok());
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
}
