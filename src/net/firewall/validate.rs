//! What [`render`](fn@super::render) relies on: unique names and addresses, interface and
//! table names that are safe in an nft script, VPCs that do not overlap, interfaces and
//! groups that refer to what exists, in the right VPC.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::Ipv4Addr;

use super::model::{fmt_mac, Protocol, Rule, Ruleset};
use crate::net::cidr::Ipv4Cidr;
use crate::net::host;

/// A ruleset (or table name) the firewall cannot be built from; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum RulesetError {
    /// A rule whose ports do not fit its protocol.
    #[error("security group {group}: invalid {direction} rule ({protocol}): {reason}")]
    InvalidRule {
        /// The group with the rule.
        group: String,
        /// `ingress` or `egress`.
        direction: &'static str,
        /// The rule's protocol.
        protocol: Protocol,
        /// What is wrong.
        reason: String,
    },
    /// A reference to a security group that is not in the ruleset.
    #[error("{referrer} references unknown security group {group:?}; create the group first or remove the reference")]
    UnknownGroup {
        /// The missing group.
        group: String,
        /// Who refers to it.
        referrer: String,
    },
    /// A reference to a VPC that is not in the ruleset.
    #[error("{referrer} references unknown VPC {vpc:?}; create the VPC first")]
    UnknownVpc {
        /// The missing VPC.
        vpc: String,
        /// Who refers to it.
        referrer: String,
    },
    /// A public address for an interface that is not in the ruleset.
    #[error("public IP {public} is associated with unknown ENI {eni:?}; disassociate it or attach the ENI first")]
    UnknownEni {
        /// The public address.
        public: Ipv4Addr,
        /// The missing interface.
        eni: String,
    },
    /// An interface using a group of another VPC.
    #[error("ENI {eni} is in VPC {eni_vpc} but security group {group} belongs to VPC {group_vpc}; use a group of the ENI's VPC")]
    GroupVpcMismatch {
        /// The interface.
        eni: String,
        /// Its VPC.
        eni_vpc: String,
        /// The group.
        group: String,
        /// The group's VPC.
        group_vpc: String,
    },
    /// An interface address outside its VPC or on its gateway.
    #[error("ENI {eni}: IP {ip} is not usable in VPC {vpc} ({cidr}): {reason}; pick a free address inside the VPC CIDR")]
    EniAddress {
        /// The interface.
        eni: String,
        /// Its address.
        ip: Ipv4Addr,
        /// Its VPC.
        vpc: String,
        /// The VPC's CIDR.
        cidr: Ipv4Cidr,
        /// What is wrong.
        reason: &'static str,
    },
    /// A VPC gateway outside its VPC.
    #[error(
        "VPC {vpc}: gateway {gateway} is outside its CIDR {cidr}; use an address inside the CIDR"
    )]
    GatewayOutsideVpc {
        /// The VPC.
        vpc: String,
        /// Its gateway.
        gateway: Ipv4Addr,
        /// Its CIDR.
        cidr: Ipv4Cidr,
    },
    /// Two VPCs that share addresses.
    #[error("VPC CIDRs overlap: {a} ({a_cidr}) and {b} ({b_cidr}); VPCs on one host need disjoint CIDRs")]
    OverlappingVpcs {
        /// One VPC.
        a: String,
        /// Its CIDR.
        a_cidr: Ipv4Cidr,
        /// The other.
        b: String,
        /// Its CIDR.
        b_cidr: Ipv4Cidr,
    },
    /// A public (or metadata) address inside a VPC.
    #[error("public IP {public}: {reason}")]
    PublicIp {
        /// The address.
        public: Ipv4Addr,
        /// What is wrong.
        reason: String,
    },
    /// A name, id or address that appears twice.
    #[error("duplicate {what} {value:?}; each must be unique")]
    Duplicate {
        /// What kind of value.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// A name, id or MAC that cannot be used.
    #[error("invalid {what} {name:?}: {reason}")]
    InvalidName {
        /// What kind of name.
        what: &'static str,
        /// The name.
        name: String,
        /// What is wrong, and what to use instead.
        reason: &'static str,
    },
}

/// The name of one ruleset's two nftables tables (`table inet <name>` and
/// `table bridge <name>`). Rendering and removal touch only the tables of the name they
/// are given, so several rulesets (state roots) share a host. Checked when made, because
/// it goes into nft scripts as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName(String);

impl TableName {
    /// nft's limit (NFT_NAME_MAXLEN, with the terminating NUL).
    const MAX: usize = 255;

    /// A table name: an ASCII letter, then ASCII letters, digits and `_`.
    pub fn new(name: &str) -> Result<TableName, RulesetError> {
        let mut bytes = name.bytes();
        let ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && name.len() <= Self::MAX;
        if !ok {
            return Err(RulesetError::InvalidName {
                what: "table name",
                name: name.to_string(),
                reason: "use an ASCII letter, then up to 254 ASCII letters, digits and '_'",
            });
        }
        Ok(TableName(name.to_string()))
    }

    /// The name as nft writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Interface names go into nft string literals and must be valid Linux
/// interface names.
fn check_ifname(what: &'static str, name: &str) -> Result<(), RulesetError> {
    match host::ifname_problem(name) {
        Some(reason) => Err(RulesetError::InvalidName {
            what,
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

fn check_id(what: &'static str, id: &str) -> Result<(), RulesetError> {
    if id.is_empty() || id.chars().any(|c| c.is_control() || c == '"') {
        return Err(RulesetError::InvalidName {
            what,
            name: id.to_string(),
            reason: "ids must be non-empty without quotes or control characters",
        });
    }
    Ok(())
}

fn unique<'a>(
    what: &'static str,
    values: impl IntoIterator<Item = &'a str>,
) -> Result<(), RulesetError> {
    let mut seen = HashSet::new();
    for v in values {
        if !seen.insert(v) {
            return Err(RulesetError::Duplicate {
                what,
                value: v.to_string(),
            });
        }
    }
    Ok(())
}

fn check_rule(group: &str, direction: &'static str, rule: &Rule) -> Result<(), RulesetError> {
    let bad = |reason: String| RulesetError::InvalidRule {
        group: group.to_string(),
        direction,
        protocol: rule.protocol,
        reason,
    };
    match (rule.protocol, rule.ports) {
        (Protocol::Icmp | Protocol::All, Some(_)) => {
            return Err(bad(
                "port ranges apply only to tcp and udp; leave ports empty".into(),
            ))
        }
        (_, Some((from, to))) if from > to => {
            return Err(bad(format!(
                "port range {from}-{to} is reversed; write it as {to}-{from}"
            )))
        }
        _ => {}
    }
    Ok(())
}

/// Checks that no two things share a name or an address.
fn check_unique(rs: &Ruleset) -> Result<(), RulesetError> {
    unique("VPC id", rs.vpcs.iter().map(|v| v.vpc_id.as_str()))?;
    unique("bridge name", rs.vpcs.iter().map(|v| v.bridge.as_str()))?;
    unique("ENI id", rs.enis.iter().map(|e| e.eni_id.as_str()))?;
    unique(
        "tap name",
        rs.enis
            .iter()
            .map(|e| e.tap.as_str())
            .chain(rs.vpcs.iter().map(|v| v.bridge.as_str())),
    )?;
    unique(
        "security group id",
        rs.groups.iter().map(|g| g.group_id.as_str()),
    )?;
    let ips: Vec<String> = rs.enis.iter().map(|e| e.ip.to_string()).collect();
    unique("ENI IP", ips.iter().map(String::as_str))?;
    let macs: Vec<String> = rs.enis.iter().map(|e| fmt_mac(&e.mac)).collect();
    unique("ENI MAC", macs.iter().map(String::as_str))?;
    let pubs: Vec<String> = rs.public_ips.iter().map(|p| p.public.to_string()).collect();
    unique("public IP", pubs.iter().map(String::as_str))?;
    unique(
        "public IP association for ENI",
        rs.public_ips.iter().map(|p| p.eni_id.as_str()),
    )
}

/// Checks the ruleset for everything [`render`](fn@super::render) relies on.
pub fn validate(rs: &Ruleset) -> Result<(), RulesetError> {
    check_unique(rs)?;

    let mut vpcs = HashMap::new();
    for (i, v) in rs.vpcs.iter().enumerate() {
        check_id("VPC id", &v.vpc_id)?;
        check_ifname("bridge name", &v.bridge)?;
        if !v.cidr.contains(v.gateway) {
            return Err(RulesetError::GatewayOutsideVpc {
                vpc: v.vpc_id.clone(),
                gateway: v.gateway,
                cidr: v.cidr,
            });
        }
        for w in &rs.vpcs[..i] {
            if v.cidr.overlaps(&w.cidr) {
                return Err(RulesetError::OverlappingVpcs {
                    a: w.vpc_id.clone(),
                    a_cidr: w.cidr,
                    b: v.vpc_id.clone(),
                    b_cidr: v.cidr,
                });
            }
        }
        vpcs.insert(v.vpc_id.as_str(), v);
    }

    let mut groups = HashMap::new();
    for g in &rs.groups {
        check_id("security group id", &g.group_id)?;
        if !vpcs.contains_key(g.vpc_id.as_str()) {
            return Err(RulesetError::UnknownVpc {
                vpc: g.vpc_id.clone(),
                referrer: format!("security group {}", g.group_id),
            });
        }
        groups.insert(g.group_id.as_str(), g);
    }
    for g in &rs.groups {
        for (direction, rules) in [("ingress", &g.ingress), ("egress", &g.egress)] {
            for r in rules {
                check_rule(&g.group_id, direction, r)?;
                for sg in &r.source_groups {
                    if !groups.contains_key(sg.as_str()) {
                        return Err(RulesetError::UnknownGroup {
                            group: sg.clone(),
                            referrer: format!("a {direction} rule of {}", g.group_id),
                        });
                    }
                }
            }
        }
    }

    for e in &rs.enis {
        check_id("ENI id", &e.eni_id)?;
        check_ifname("tap name", &e.tap)?;
        let vpc = vpcs
            .get(e.vpc_id.as_str())
            .ok_or_else(|| RulesetError::UnknownVpc {
                vpc: e.vpc_id.clone(),
                referrer: format!("ENI {}", e.eni_id),
            })?;
        let addr_err = |reason| RulesetError::EniAddress {
            eni: e.eni_id.clone(),
            ip: e.ip,
            vpc: vpc.vpc_id.clone(),
            cidr: vpc.cidr,
            reason,
        };
        if !vpc.cidr.contains(e.ip) {
            return Err(addr_err("it is outside the VPC CIDR"));
        }
        if e.ip == vpc.gateway {
            return Err(addr_err("it is the VPC gateway address"));
        }
        if e.mac[0] & 1 != 0 {
            return Err(RulesetError::InvalidName {
                what: "ENI MAC",
                name: fmt_mac(&e.mac),
                reason: "a multicast MAC cannot be an interface address; clear the low bit of the first byte",
            });
        }
        for gid in &e.groups {
            let g = groups
                .get(gid.as_str())
                .ok_or_else(|| RulesetError::UnknownGroup {
                    group: gid.clone(),
                    referrer: format!("ENI {}", e.eni_id),
                })?;
            if g.vpc_id != e.vpc_id {
                return Err(RulesetError::GroupVpcMismatch {
                    eni: e.eni_id.clone(),
                    eni_vpc: e.vpc_id.clone(),
                    group: gid.clone(),
                    group_vpc: g.vpc_id.clone(),
                });
            }
        }
    }

    for p in &rs.public_ips {
        if !rs.enis.iter().any(|e| e.eni_id == p.eni_id) {
            return Err(RulesetError::UnknownEni {
                public: p.public,
                eni: p.eni_id.clone(),
            });
        }
        if let Some(v) = rs.vpcs.iter().find(|v| v.cidr.contains(p.public)) {
            return Err(RulesetError::PublicIp {
                public: p.public,
                reason: format!(
                    "it lies inside VPC {} ({}); public IPs must be outside every VPC CIDR",
                    v.vpc_id, v.cidr
                ),
            });
        }
    }
    if let Some(m) = &rs.metadata {
        if let Some(v) = rs.vpcs.iter().find(|v| v.cidr.contains(m.addr)) {
            return Err(RulesetError::PublicIp {
                public: m.addr,
                reason: format!(
                    "the metadata address lies inside VPC {} ({}); use 169.254.169.254",
                    v.vpc_id, v.cidr
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::sample::{cidr, ip, sample};
    use super::*;

    #[test]
    fn validation_errors() {
        let check = |f: &dyn Fn(&mut Ruleset), want: &str| {
            let mut rs = sample();
            f(&mut rs);
            let e = validate(&rs).unwrap_err().to_string();
            assert!(e.contains(want), "expected {want:?} in {e:?}");
        };
        check(
            &|rs| rs.groups[0].ingress[0].ports = Some((90, 80)),
            "reversed",
        );
        check(
            &|rs| rs.groups[2].ingress[0].ports = Some((1, 2)),
            "only to tcp and udp",
        );
        check(
            &|rs| {
                rs.groups[0].ingress[0].protocol = Protocol::Icmp;
            },
            "only to tcp and udp",
        );
        check(
            &|rs| rs.groups[0].ingress[0].source_groups = vec!["sg-nope".into()],
            "unknown security group \"sg-nope\"",
        );
        check(
            &|rs| rs.enis[0].groups.push("sg-gone".into()),
            "unknown security group \"sg-gone\"",
        );
        check(
            &|rs| rs.enis[0].groups.push("sg-open".into()),
            "belongs to VPC vpc-2",
        );
        check(
            &|rs| rs.enis[0].ip = ip("10.11.0.5"),
            "outside the VPC CIDR",
        );
        check(&|rs| rs.enis[0].ip = ip("10.10.0.1"), "gateway address");
        check(
            &|rs| rs.vpcs[1].cidr = cidr("10.0.0.0/8"),
            "VPC CIDRs overlap",
        );
        check(&|rs| rs.enis[1].ip = ip("10.10.0.11"), "duplicate ENI IP");
        check(&|rs| rs.enis[1].tap = "tap-e1".into(), "duplicate tap name");
        check(
            &|rs| rs.enis[1].tap = "tap-with-a-long-name".into(),
            "at most 15 bytes",
        );
        check(&|rs| rs.enis[1].tap = "tap\"x".into(), "ASCII letters");
        check(&|rs| rs.vpcs[0].vpc_id = "vpc-2".into(), "duplicate VPC id");
        check(&|rs| rs.enis[0].vpc_id = "vpc-9".into(), "unknown VPC");
        check(
            &|rs| rs.public_ips[0].eni_id = "eni-9".into(),
            "unknown ENI",
        );
        check(
            &|rs| rs.public_ips[0].public = ip("10.20.1.1"),
            "inside VPC vpc-2",
        );
        check(&|rs| rs.enis[0].mac[0] = 1, "multicast MAC");
        validate(&sample()).unwrap();
        validate(&Ruleset::default()).unwrap();
    }

    #[test]
    fn table_names_are_checked() {
        for good in ["ec2lab", "ec2lab_0123abcd", "a"] {
            assert_eq!(TableName::new(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "0abc",
            "ec2lab 1",
            "x;flush ruleset",
            "ec2lab-1",
            "t\"x",
        ] {
            let e = TableName::new(bad).unwrap_err().to_string();
            assert!(e.contains("invalid table name"), "{bad:?}: {e}");
        }
        assert!(TableName::new(&"t".repeat(256)).is_err());
    }
}
