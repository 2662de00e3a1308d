//! A small ruleset, shared by the unit tests of validation and rendering and by
//! `tests/firewall_netns.rs`, which sends real traffic through it.

use std::net::Ipv4Addr;

use super::model::*;
use crate::net::cidr::Ipv4Cidr;

/// A CIDR from text (panics on a bad one: test data).
pub fn cidr(s: &str) -> Ipv4Cidr {
    s.parse().unwrap()
}

/// An address from text (panics on a bad one: test data).
pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// A TCP rule for ports `from..=to` from CIDRs and groups.
pub fn tcp(from: u16, to: u16, cidrs: &[&str], groups: &[&str]) -> Rule {
    Rule {
        protocol: Protocol::Tcp,
        ports: Some((from, to)),
        cidrs: cidrs.iter().map(|c| cidr(c)).collect(),
        source_groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

/// A rule for all traffic to or from the CIDRs.
pub fn all_to(cidrs: &[&str]) -> Rule {
    Rule {
        protocol: Protocol::All,
        ports: None,
        cidrs: cidrs.iter().map(|c| cidr(c)).collect(),
        source_groups: vec![],
    }
}

fn vpc(id: &str, bridge: &str, net: &str, gw: &str) -> VpcNet {
    VpcNet {
        vpc_id: id.into(),
        bridge: bridge.into(),
        cidr: cidr(net),
        gateway: ip(gw),
    }
}

fn eni(id: &str, tap: &str, vpc: &str, last: u8, addr: &str, groups: &[&str]) -> EniNet {
    EniNet {
        eni_id: id.into(),
        tap: tap.into(),
        vpc_id: vpc.into(),
        mac: [2, 0, 0, 0, 0, last],
        ip: ip(addr),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

fn sg(id: &str, vpc: &str, ingress: Vec<Rule>, egress: Vec<Rule>) -> SecurityGroup {
    SecurityGroup {
        group_id: id.into(),
        vpc_id: vpc.into(),
        ingress,
        egress,
    }
}

/// Two VPCs; vm1 (web, public IP) and vm2 (client) in the first, vm3 in
/// the second. vm1 accepts tcp/80 from the client group and from the
/// "internet" host 198.51.100.2.
pub fn sample() -> Ruleset {
    Ruleset {
        vpcs: vec![
            vpc("vpc-1", "ec2br-one", "10.10.0.0/16", "10.10.0.1"),
            vpc("vpc-2", "ec2br-two", "10.20.0.0/16", "10.20.0.1"),
        ],
        enis: vec![
            eni("eni-1", "tap-e1", "vpc-1", 1, "10.10.0.11", &["sg-web"]),
            eni("eni-2", "tap-e2", "vpc-1", 2, "10.10.0.12", &["sg-client"]),
            eni("eni-3", "tap-e3", "vpc-2", 3, "10.20.0.13", &["sg-open"]),
        ],
        groups: vec![
            sg(
                "sg-web",
                "vpc-1",
                vec![
                    tcp(80, 80, &[], &["sg-client"]),
                    tcp(80, 80, &["198.51.100.2/32"], &[]),
                ],
                vec![all_to(&["0.0.0.0/0"])],
            ),
            sg("sg-client", "vpc-1", vec![], vec![all_to(&["0.0.0.0/0"])]),
            sg(
                "sg-open",
                "vpc-2",
                vec![all_to(&["0.0.0.0/0"])],
                vec![all_to(&["0.0.0.0/0"])],
            ),
        ],
        public_ips: vec![PublicIp {
            public: ip("203.0.113.11"),
            eni_id: "eni-1".into(),
        }],
        metadata: Some(MetadataService {
            addr: ip("169.254.169.254"),
            port: 8775,
        }),
    }
}
