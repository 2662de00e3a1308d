//! What the firewall is rendered from: the host's VPCs, network interfaces, security
//! groups, public addresses and metadata service, as plain data (serializable, so a
//! ruleset can be logged or compared).

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::net::cidr::Ipv4Cidr;

/// Packet mark bit set by the inet egress chain on everything it filtered;
/// the bridge forward chain drops tap-to-tap IPv4 without it. Outside the
/// bits Kubernetes (0xc000) and Tailscale (0xff0000) use; it stays set on
/// packets instances send, so host fwmark routing rules must ignore it.
pub const SEEN_MARK: u32 = 0x1000_0000;

/// Everything the firewall needs to know about the host's VPCs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ruleset {
    /// The VPCs, one bridge each.
    pub vpcs: Vec<VpcNet>,
    /// The network interfaces, one tap each.
    pub enis: Vec<EniNet>,
    /// The security groups the interfaces use.
    pub groups: Vec<SecurityGroup>,
    /// Public addresses, NATed to their interfaces' private ones.
    pub public_ips: Vec<PublicIp>,
    /// Where 169.254.169.254 is sent, if anywhere.
    pub metadata: Option<MetadataService>,
}

/// One VPC: a Linux bridge carrying the gateway address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcNet {
    /// The VPC's id (`vpc-…`).
    pub vpc_id: String,
    /// Bridge interface name, e.g. `ec2br-1a2b3c4d` (at most 15 bytes).
    pub bridge: String,
    /// The VPC's addresses; no two VPCs on one host overlap.
    pub cidr: Ipv4Cidr,
    /// Address of the bridge itself; instances route through it.
    pub gateway: Ipv4Addr,
}

/// One network interface: a tap enslaved to its VPC's bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EniNet {
    /// The interface's id (`eni-…`).
    pub eni_id: String,
    /// Its tap on the host.
    pub tap: String,
    /// The VPC whose bridge the tap is on.
    pub vpc_id: String,
    /// The only source MAC its frames may carry.
    pub mac: [u8; 6],
    /// Its private address: the only source address it may send from.
    pub ip: Ipv4Addr,
    /// Security group ids.
    pub groups: Vec<String>,
}

/// A security group: the union of the groups of an interface decides what reaches it
/// and what it may send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    /// The group's id (`sg-…`).
    pub group_id: String,
    /// The VPC the group belongs to; only its interfaces may use it.
    pub vpc_id: String,
    /// What may reach the group's members.
    pub ingress: Vec<Rule>,
    /// What the group's members may send.
    pub egress: Vec<Rule>,
}

/// One permission. Peers are `cidrs` plus the members of `source_groups`
/// (for egress rules these are destinations); with both empty it matches
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Which traffic the rule is about.
    pub protocol: Protocol,
    /// Inclusive port range; `None` means all ports (required for Icmp/All).
    pub ports: Option<(u16, u16)>,
    /// Peers by address.
    pub cidrs: Vec<Ipv4Cidr>,
    /// Peers by group: the current members of these groups.
    pub source_groups: Vec<String>,
}

/// The protocols a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP, optionally limited to a port range.
    Tcp,
    /// UDP, optionally limited to a port range.
    Udp,
    /// ICMP, all types.
    Icmp,
    /// Every protocol (EC2's `-1`).
    All,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
            Protocol::All => "all",
        })
    }
}

/// A public address of an interface (automatic or Elastic IP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicIp {
    /// The public address, outside every VPC.
    pub public: Ipv4Addr,
    /// The interface it is NATed to.
    pub eni_id: String,
}

/// The instance metadata service as guests reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataService {
    /// Address guests use, normally 169.254.169.254 (port 80).
    pub addr: Ipv4Addr,
    /// Port the host-side service listens on at each VPC gateway.
    pub port: u16,
}

/// `02:00:00:00:00:01`, as nft and `ip` write MAC addresses.
pub(super) fn fmt_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ruleset_round_trips_through_json() {
        let rs = super::super::sample::sample();
        let back: Ruleset = serde_json::from_str(&serde_json::to_string(&rs).unwrap()).unwrap();
        assert_eq!(back, rs);
    }
}
