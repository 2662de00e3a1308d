//! The instance metadata service (IMDS): what a guest reads at
//! `http://169.254.169.254/` (its id, addresses, public key, user data), IMDSv1 and v2.
//!
//! Every instance's supervisor runs a server on its VPC router's address
//! (`<gateway>:8775`, where the firewall DNATs 169.254.169.254:80 to), bound to the VPC's
//! bridge (SO_BINDTODEVICE): the supervisors of one VPC share it (SO_REUSEPORT), and no
//! server ever sees a connection that came in on another bridge, so two regions or state
//! directories whose VPCs have the same addresses can never answer each other's guests.
//! The caller is known by the pair (bridge it came in on, its source IP): the bridge
//! table's anti-spoofing rules guarantee that source address belongs to the caller's own
//! interface, so an instance can only ever read its own metadata. The server's limits
//! (workers, connections per caller, deadline) are in [`pool`]; the firewall limits the
//! connections each caller may open to it.
//!
//! Guest bytes are never parsed by root: the supervisor binds the port and answers
//! ([`server`], [`answer`]), but accepting connections and reading their HTTP is the job
//! of a worker process it starts ([`worker`]), chrooted to an empty directory, as its own
//! unprivileged user without capabilities, which passes each request on as a typed,
//! bounded message ([`ipc`]).

pub mod answer;
pub mod filter;
pub mod http;
pub mod ipc;
pub mod pool;
pub mod server;
pub mod token;
pub mod tree;
pub mod worker;

use std::net::Ipv4Addr;

use crate::error::Ec2Error;
use crate::instances::record::Instance;
use crate::net::eni::Eni;
use crate::store::Store;

/// The instance whose interface has address `peer` in the VPC whose bridge is `bridge`.
pub fn caller(store: &Store, bridge: &str, peer: Ipv4Addr) -> Result<Option<Instance>, Ec2Error> {
    let c = store.conn();
    for eni in Eni::all(c)? {
        let Some(id) = eni.instance_id.as_deref() else {
            continue;
        };
        if eni.private_ip != peer {
            continue;
        }
        if crate::net::vpc::Vpc::get(c, &eni.vpc_id)?.bridge == bridge {
            return Instance::load(c, id);
        }
    }
    Ok(None)
}
