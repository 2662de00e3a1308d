//! The instance metadata service (IMDS): what a guest reads at
//! `http://169.254.169.254/` (its id, addresses, public key, user data), IMDSv1 and v2.
//!
//! Every instance's supervisor runs a server thread on its VPC router's address
//! (`<gateway>:8775`, where the firewall DNATs 169.254.169.254:80 to), all of them on one
//! port with SO_REUSEPORT: whichever server accepts a connection answers it from the
//! store. The caller is known by the pair (router address it reached, its source IP):
//! the bridge table's anti-spoofing rules guarantee that source address belongs to the
//! caller's own interface, so an instance can only ever read its own metadata.

pub mod http;
pub mod server;
pub mod token;
pub mod tree;

use std::net::Ipv4Addr;

use crate::error::Ec2Error;
use crate::instances::record::Instance;
use crate::net::eni::Eni;
use crate::store::Store;

/// The instance whose interface has address `peer` in the VPC whose router is `local`.
pub fn caller(
    store: &Store,
    local: Ipv4Addr,
    peer: Ipv4Addr,
) -> Result<Option<Instance>, Ec2Error> {
    let c = store.conn();
    for eni in Eni::all(c)? {
        let Some(id) = eni.instance_id.as_deref() else {
            continue;
        };
        if eni.private_ip != peer {
            continue;
        }
        if crate::net::metadata_endpoint(c, &eni.vpc_id)?.ip() == &local {
            return Instance::load(c, id);
        }
    }
    Ok(None)
}
