//! Security groups, anti-spoofing, VPC isolation and NAT for ec2lab, rendered
//! as one nftables transaction ([`render`], then [`apply`]).
//!
//! # Design
//!
//! Two tables are owned by ec2lab; nothing else is ever touched.
//!
//! `table bridge ec2lab` is stateless layer-2 hygiene on the bridge ports:
//! * `forward` (tap -> tap) and `input` (tap -> host) jump, via the verdict
//!   map `spoof` keyed by tap name, to `<eni>_spoof`: the source MAC must be
//!   the ENI's, only IPv4 and ARP may pass, ARP sender MAC/IP and IPv4 source
//!   must be the ENI's. Ports that are not known taps are not checked (the
//!   kernel may lack `meta ibrname`, so other bridges cannot be told apart);
//!   only ENI taps may be enslaved to VPC bridges.
//! * `forward` also drops tap-to-tap IPv4 that the inet table did not see
//!   (no [`SEEN_MARK`]), see "Prerequisite" below.
//! * `output` (host -> tap): only IPv4 and ARP.
//!
//! `table inet ec2lab` holds everything stateful:
//! * `vpc_egress` (prerouting, priority mangle: after conntrack, before
//!   DNAT) sees every packet an instance sends, whether bridged to another
//!   instance, for the host, or routed out. Established/related pass, the
//!   metadata address passes, otherwise the verdict map `egress` (source IP
//!   -> `<eni>_out`) applies the union of the ENI's groups' egress rules;
//!   no match drops.
//! * `vpc_ingress` (postrouting, priority 200 i.e. after SNAT, output device
//!   a VPC bridge) sees every packet towards an instance: bridged, routed in
//!   (after public-IP DNAT) or sent by the host. Map `ingress` (destination
//!   IP -> `<eni>_in`) applies the ingress rules; no match drops.
//! * Source-group rules use one set of member IPs per group (`sg_<id>_m`).
//!   IP addresses identify ENIs because the bridge table stops spoofing and
//!   VPC CIDRs may not overlap.
//! * `forward`: instances are reachable from other VPCs and from non-VPC
//!   interfaces only through public IPs (DNATed connections); private
//!   addresses only from their own VPC and from the host itself.
//! * `nat_prerouting`: metadata `addr:80` -> `<gateway>:<port>` per bridge,
//!   public -> private; `nat_output`: public -> private for the host's own
//!   connections; `nat_postrouting`: private -> public SNAT for ENIs with a
//!   public IP, masquerade for the rest of each VPC CIDR, except towards the
//!   VPC's own bridge.
//!
//! # Prerequisite: br_netfilter on every VPC bridge
//!
//! Stateful filtering needs conntrack. The bridge family has none unless the
//! kernel has `nf_conntrack_bridge` (CONFIG_NF_CONNTRACK_BRIDGE; ec2lab's
//! reference kernel lacks it, and then any `ct` expression in a bridge table
//! fails to load with "Protocol error"). So filtering happens in the inet
//! family, which bridged frames reach only through br_netfilter, enabled per
//! bridge with `ip link set dev <bridge> type bridge nf_call_iptables 1`
//! ([`enable_bridge_conntrack`]). Without it, instance-to-instance IPv4 is
//! dropped (fail closed); routed traffic is filtered either way. Side
//! effect: bridged IPv4 also traverses the host's other ip/inet forward
//! chains, so a host whose forward policy is drop (e.g. with Docker) must
//! accept traffic in and out of the ec2lab bridges.
//!
//! # Routing assumptions
//!
//! Public IPs are configured on no interface and need no route on the host:
//! DNAT happens in prerouting/output, before the routing decision, and the
//! private address is reached through the VPC bridge's connected route. For
//! the host's own `curl http://<public>/` the kernel needs *some* route to
//! the public address (a default route is enough) to pick a source address
//! before the output hook runs. Other machines reach public IPs only if their
//! router sends those addresses to this host. Instances reach the outside
//! only with `net.ipv4.ip_forward=1`.
//!
//! Traffic from another VPC to a public IP is masqueraded to the target
//! VPC's gateway address (or SNATed to the sender's public IP), so that is
//! the source the target's ingress rules see.
//!
//! Only IPv4 is supported; other frames from or to taps are dropped.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Name of both ec2lab tables (`inet` and `bridge` families).
pub const TABLE: &str = "ec2lab";

/// Packet mark bit set by the inet egress chain on everything it filtered;
/// the bridge forward chain drops tap-to-tap IPv4 without it. Outside the
/// bits Kubernetes (0xc000) and Tailscale (0xff0000) use; it stays set on
/// packets instances send, so host fwmark routing rules must ignore it.
pub const SEEN_MARK: u32 = 0x1000_0000;

/// Environment variable that overrides the `nft` binary.
pub const NFT_ENV: &str = "EC2LAB_NFT";

/// Everything the firewall needs to know about the host's VPCs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ruleset {
    pub vpcs: Vec<VpcNet>,
    pub enis: Vec<EniNet>,
    pub groups: Vec<SecurityGroup>,
    pub public_ips: Vec<PublicIp>,
    pub metadata: Option<MetadataService>,
}

/// One VPC: a Linux bridge carrying the gateway address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcNet {
    pub vpc_id: String,
    /// Bridge interface name, e.g. `ec2br-1a2b3c4d` (at most 15 bytes).
    pub bridge: String,
    pub cidr: Ipv4Cidr,
    /// Address of the bridge itself; instances route through it.
    pub gateway: Ipv4Addr,
}

/// One network interface: a tap enslaved to its VPC's bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EniNet {
    pub eni_id: String,
    pub tap: String,
    pub vpc_id: String,
    pub mac: [u8; 6],
    pub ip: Ipv4Addr,
    /// Security group ids.
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub group_id: String,
    pub vpc_id: String,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
}

/// One permission. Peers are `cidrs` plus the members of `source_groups`
/// (for egress rules these are destinations); with both empty it matches
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub protocol: Protocol,
    /// Inclusive port range; `None` means all ports (required for Icmp/All).
    pub ports: Option<(u16, u16)>,
    pub cidrs: Vec<Ipv4Cidr>,
    pub source_groups: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicIp {
    pub public: Ipv4Addr,
    pub eni_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataService {
    /// Address guests use, normally 169.254.169.254 (port 80).
    pub addr: Ipv4Addr,
    /// Port the host-side service listens on at each VPC gateway.
    pub port: u16,
}

/// An IPv4 network in CIDR notation; (de)serialized as `"10.0.0.0/16"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// Builds a CIDR, rejecting prefixes over 32 and set host bits.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, FirewallError> {
        let bad = |reason: &str| FirewallError::InvalidCidr {
            input: format!("{addr}/{prefix}"),
            reason: reason.to_string(),
        };
        if prefix > 32 {
            return Err(bad("the prefix length must be 0..=32"));
        }
        let c = Ipv4Cidr { addr, prefix };
        if u32::from(addr) & !c.mask() != 0 {
            return Err(bad(&format!(
                "host bits are set; did you mean {}/{prefix}?",
                Ipv4Addr::from(u32::from(addr) & c.mask())
            )));
        }
        Ok(c)
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr) & self.mask()
    }

    /// True if the two networks share at least one address. CIDR blocks
    /// either nest or are disjoint, so one must contain the other's base.
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = FirewallError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| FirewallError::InvalidCidr {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| bad("expected a.b.c.d/len, e.g. 10.0.0.0/16"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| bad("the address is not a dotted-quad IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| bad("the prefix length must be a number 0..=32"))?;
        Ipv4Cidr::new(addr, prefix).map_err(|e| match e {
            FirewallError::InvalidCidr { reason, .. } => bad(&reason),
            other => other,
        })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl TryFrom<String> for Ipv4Cidr {
    type Error = FirewallError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Ipv4Cidr> for String {
    fn from(c: Ipv4Cidr) -> String {
        c.to_string()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("invalid CIDR {input:?}: {reason}")]
    InvalidCidr { input: String, reason: String },
    #[error("security group {group}: invalid {direction} rule ({protocol}): {reason}")]
    InvalidRule {
        group: String,
        direction: &'static str,
        protocol: Protocol,
        reason: String,
    },
    #[error("{referrer} references unknown security group {group:?}; create the group first or remove the reference")]
    UnknownGroup { group: String, referrer: String },
    #[error("{referrer} references unknown VPC {vpc:?}; create the VPC first")]
    UnknownVpc { vpc: String, referrer: String },
    #[error("public IP {public} is associated with unknown ENI {eni:?}; disassociate it or attach the ENI first")]
    UnknownEni { public: Ipv4Addr, eni: String },
    #[error("ENI {eni} is in VPC {eni_vpc} but security group {group} belongs to VPC {group_vpc}; use a group of the ENI's VPC")]
    GroupVpcMismatch {
        eni: String,
        eni_vpc: String,
        group: String,
        group_vpc: String,
    },
    #[error("ENI {eni}: IP {ip} is not usable in VPC {vpc} ({cidr}): {reason}; pick a free address inside the VPC CIDR")]
    EniAddress {
        eni: String,
        ip: Ipv4Addr,
        vpc: String,
        cidr: Ipv4Cidr,
        reason: &'static str,
    },
    #[error(
        "VPC {vpc}: gateway {gateway} is outside its CIDR {cidr}; use an address inside the CIDR"
    )]
    GatewayOutsideVpc {
        vpc: String,
        gateway: Ipv4Addr,
        cidr: Ipv4Cidr,
    },
    #[error("VPC CIDRs overlap: {a} ({a_cidr}) and {b} ({b_cidr}); VPCs on one host need disjoint CIDRs")]
    OverlappingVpcs {
        a: String,
        a_cidr: Ipv4Cidr,
        b: String,
        b_cidr: Ipv4Cidr,
    },
    #[error("public IP {public}: {reason}")]
    PublicIp { public: Ipv4Addr, reason: String },
    #[error("duplicate {what} {value:?}; each must be unique")]
    Duplicate { what: &'static str, value: String },
    #[error("invalid {what} {name:?}: {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        reason: &'static str,
    },
    #[error("cannot run `{cmd}`: {source}; is the nftables package installed (apt-get install nftables)? set {NFT_ENV} to the nft binary if it is elsewhere")]
    Spawn {
        cmd: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{cmd}` failed ({status}): {stderr}; nothing was changed (the transaction is atomic). Are you root (CAP_NET_ADMIN)? Is the kernel built with nf_tables?")]
    Nft {
        cmd: String,
        status: String,
        stderr: String,
    },
    #[error("cannot enable br_netfilter on bridge {bridge:?} (`{cmd}`): {detail}; create the bridge first, run as root, and check that iproute2 is installed")]
    BridgeSetup {
        bridge: String,
        cmd: String,
        detail: String,
    },
}

// ---------------------------------------------------------------------------
// Validation

/// Interface names go into nft string literals and must be valid Linux
/// interface names.
fn check_ifname(what: &'static str, name: &str) -> Result<(), FirewallError> {
    let reason = if name.is_empty() {
        Some("must not be empty")
    } else if name.len() > 15 {
        Some("Linux interface names are at most 15 bytes")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        Some("use only ASCII letters, digits, '-', '_' and '.'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(FirewallError::InvalidName {
            what,
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

fn check_id(what: &'static str, id: &str) -> Result<(), FirewallError> {
    if id.is_empty() || id.chars().any(|c| c.is_control() || c == '"') {
        return Err(FirewallError::InvalidName {
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
) -> Result<(), FirewallError> {
    let mut seen = HashSet::new();
    for v in values {
        if !seen.insert(v) {
            return Err(FirewallError::Duplicate {
                what,
                value: v.to_string(),
            });
        }
    }
    Ok(())
}

fn check_rule(group: &str, direction: &'static str, rule: &Rule) -> Result<(), FirewallError> {
    let bad = |reason: String| FirewallError::InvalidRule {
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

/// Checks the ruleset for everything [`render`] relies on.
pub fn validate(rs: &Ruleset) -> Result<(), FirewallError> {
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
    )?;

    let mut vpcs = HashMap::new();
    for (i, v) in rs.vpcs.iter().enumerate() {
        check_id("VPC id", &v.vpc_id)?;
        check_ifname("bridge name", &v.bridge)?;
        if !v.cidr.contains(v.gateway) {
            return Err(FirewallError::GatewayOutsideVpc {
                vpc: v.vpc_id.clone(),
                gateway: v.gateway,
                cidr: v.cidr,
            });
        }
        for w in &rs.vpcs[..i] {
            if v.cidr.overlaps(&w.cidr) {
                return Err(FirewallError::OverlappingVpcs {
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
            return Err(FirewallError::UnknownVpc {
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
                        return Err(FirewallError::UnknownGroup {
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
            .ok_or_else(|| FirewallError::UnknownVpc {
                vpc: e.vpc_id.clone(),
                referrer: format!("ENI {}", e.eni_id),
            })?;
        let addr_err = |reason| FirewallError::EniAddress {
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
            return Err(FirewallError::InvalidName {
                what: "ENI MAC",
                name: fmt_mac(&e.mac),
                reason: "a multicast MAC cannot be an interface address; clear the low bit of the first byte",
            });
        }
        for gid in &e.groups {
            let g = groups
                .get(gid.as_str())
                .ok_or_else(|| FirewallError::UnknownGroup {
                    group: gid.clone(),
                    referrer: format!("ENI {}", e.eni_id),
                })?;
            if g.vpc_id != e.vpc_id {
                return Err(FirewallError::GroupVpcMismatch {
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
            return Err(FirewallError::UnknownEni {
                public: p.public,
                eni: p.eni_id.clone(),
            });
        }
        if let Some(v) = rs.vpcs.iter().find(|v| v.cidr.contains(p.public)) {
            return Err(FirewallError::PublicIp {
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
            return Err(FirewallError::PublicIp {
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

// ---------------------------------------------------------------------------
// Rendering

fn fmt_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Hands out nft object names derived from ids: `<prefix>_<sanitized id>`,
/// kept well under the 32-byte chain name limit of older kernels (suffixes
/// such as `_spoof` are added later) and made unique if sanitizing collides.
#[derive(Default)]
struct Namer {
    used: HashSet<String>,
}

impl Namer {
    fn name(&mut self, prefix: &str, id: &str) -> String {
        let strip = format!("{prefix}-");
        let body = id.strip_prefix(strip.as_str()).unwrap_or(id);
        let mut clean: String = body
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(18)
            .collect();
        if clean.is_empty() {
            clean.push('x');
        }
        let mut name = format!("{prefix}_{clean}");
        let mut n = 1;
        while !self.used.insert(name.clone()) {
            name = format!("{prefix}_{clean}_{n}");
            n += 1;
        }
        name
    }
}

/// `{ a, b }` for nft, or `None` when empty (nft rejects empty anonymous sets).
fn nft_set<I: IntoIterator<Item = String>>(items: I) -> Option<String> {
    let v: Vec<String> = items.into_iter().collect();
    (!v.is_empty()).then(|| format!("{{ {} }}", v.join(", ")))
}

fn quoted<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    names.into_iter().map(|n| format!("\"{n}\"")).collect()
}

/// Drops CIDRs covered by another one: nft refuses overlapping intervals in
/// one set, and CIDRs either nest or are disjoint, so this leaves a disjoint
/// list.
fn disjoint(cidrs: &[Ipv4Cidr]) -> Vec<Ipv4Cidr> {
    let mut v: Vec<Ipv4Cidr> = cidrs.to_vec();
    v.sort_by_key(|c| c.prefix);
    v.dedup();
    let mut out: Vec<Ipv4Cidr> = Vec::new();
    for c in v {
        if !out.iter().any(|o| o.contains(c.addr)) {
            out.push(c);
        }
    }
    out.sort();
    out
}

fn proto_match(rule: &Rule) -> String {
    match (rule.protocol, rule.ports) {
        (Protocol::All, _) => String::new(),
        (Protocol::Icmp, _) => "meta l4proto icmp ".into(),
        (p, None) => format!("meta l4proto {p} "),
        (p, Some((a, b))) if a == b => format!("{p} dport {a} "),
        (p, Some((a, b))) => format!("{p} dport {a}-{b} "),
    }
}

/// nft rules for one SG rule; `peer` is `saddr` (ingress) or `daddr`
/// (egress).
fn rule_lines(rule: &Rule, peer: &str, group_sets: &HashMap<&str, String>, out: &mut Vec<String>) {
    let proto = proto_match(rule);
    let cidrs = disjoint(&rule.cidrs);
    if let Some(set) = nft_set(cidrs.iter().map(|c| c.to_string())) {
        out.push(format!("{proto}ip {peer} {set} accept"));
    }
    for sg in &rule.source_groups {
        // Validated: every referenced group has a set.
        if let Some(set) = group_sets.get(sg.as_str()) {
            out.push(format!("{proto}ip {peer} @{set} accept"));
        }
    }
}

fn chain(out: &mut String, name: &str, lines: &[String]) {
    out.push_str(&format!("\tchain {name} {{\n"));
    for l in lines {
        out.push_str(&format!("\t\t{l}\n"));
    }
    out.push_str("\t}\n");
}

fn map_decl(out: &mut String, name: &str, ty: &str, elems: Option<String>) {
    out.push_str(&format!("\tmap {name} {{\n\t\ttype {ty}\n"));
    if let Some(e) = elems {
        out.push_str(&format!("\t\telements = {e}\n"));
    }
    out.push_str("\t}\n");
}

fn set_decl(out: &mut String, name: &str, ty: &str, elems: Option<String>) {
    match elems {
        Some(e) => out.push_str(&format!(
            "\tset {name} {{\n\t\ttype {ty}\n\t\telements = {e}\n\t}}\n"
        )),
        None => out.push_str(&format!("\tset {name} {{\n\t\ttype {ty}\n\t}}\n")),
    }
}

/// Renders the whole ec2lab firewall as one `nft -f` transaction that
/// replaces ec2lab's two tables (creating them if absent) and touches
/// nothing else.
pub fn render(rs: &Ruleset) -> Result<String, FirewallError> {
    validate(rs)?;
    let mut namer = Namer::default();
    let groups: HashMap<&str, &SecurityGroup> =
        rs.groups.iter().map(|g| (g.group_id.as_str(), g)).collect();
    let group_sets: HashMap<&str, String> = rs
        .groups
        .iter()
        .map(|g| {
            (
                g.group_id.as_str(),
                format!("{}_m", namer.name("sg", &g.group_id)),
            )
        })
        .collect();
    let eni_names: Vec<String> = rs
        .enis
        .iter()
        .map(|e| namer.name("eni", &e.eni_id))
        .collect();
    let vpcs: HashMap<&str, &VpcNet> = rs.vpcs.iter().map(|v| (v.vpc_id.as_str(), v)).collect();
    let mark = format!("0x{SEEN_MARK:08x}");

    let mut s = String::new();
    s.push_str("# Generated by ec2lab; replaced as a whole on every change.\n");
    for family in ["bridge", "inet"] {
        // Declaring first makes the delete succeed when the table is absent.
        s.push_str(&format!(
            "table {family} {TABLE} {{}}\ndelete table {family} {TABLE}\n"
        ));
    }

    // --- bridge table: stateless layer-2 anti-spoofing --------------------
    s.push_str(&format!("\ntable bridge {TABLE} {{\n"));
    set_decl(
        &mut s,
        "taps",
        "ifname",
        nft_set(quoted(rs.enis.iter().map(|e| e.tap.as_str()))),
    );
    let mut spoof_map = Vec::new();
    for (e, base) in rs.enis.iter().zip(&eni_names) {
        let mac = fmt_mac(&e.mac);
        chain(
            &mut s,
            &format!("{base}_spoof"),
            &[
                format!("ether saddr != {mac} counter drop"),
                // IPv4 only: IPv6 and anything else cannot be validated.
                "ether type != { ip, arp } counter drop".into(),
                format!("arp saddr ether != {mac} counter drop"),
                format!("arp saddr ip != {} counter drop", e.ip),
                format!("ip saddr != {} counter drop", e.ip),
            ],
        );
        spoof_map.push(format!("\"{}\" : jump {base}_spoof", e.tap));
    }
    map_decl(&mut s, "spoof", "ifname : verdict", nft_set(spoof_map));
    // Frames entering the bridge from a tap. Ports that are no known tap are
    // left alone: this kernel cannot match the bridge a port belongs to
    // (no NFT_BRIDGE_META), so other bridges, and other ec2lab state roots
    // with their own tables, must not be affected.
    let mut fwd = vec![
        "type filter hook forward priority 0; policy accept;".to_string(),
        "iifname vmap @spoof".into(),
    ];
    // Tap-to-tap IPv4 is filtered by the inet table only if br_netfilter is
    // on for the bridge; its prerouting chain marks what it saw. Unmarked
    // means unfiltered, so drop (fail closed).
    fwd.push(format!(
        "iifname @taps ether type ip meta mark & {mark} != {mark} counter drop"
    ));
    chain(&mut s, "forward", &fwd);
    chain(
        &mut s,
        "input",
        &[
            "type filter hook input priority 0; policy accept;".into(),
            "iifname vmap @spoof".into(),
        ],
    );
    chain(
        &mut s,
        "output",
        &[
            "type filter hook output priority 0; policy accept;".into(),
            "oifname @taps ether type != { ip, arp } counter drop".into(),
        ],
    );
    s.push_str("}\n");

    // --- inet table: stateful security groups, isolation, NAT -------------
    s.push_str(&format!("\ntable inet {TABLE} {{\n"));
    set_decl(
        &mut s,
        "bridges",
        "ifname",
        nft_set(quoted(rs.vpcs.iter().map(|v| v.bridge.as_str()))),
    );
    let mut sg_sorted: Vec<&SecurityGroup> = rs.groups.iter().collect();
    sg_sorted.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    for g in &sg_sorted {
        let members = rs
            .enis
            .iter()
            .filter(|e| e.groups.contains(&g.group_id))
            .map(|e| e.ip.to_string());
        set_decl(
            &mut s,
            &group_sets[g.group_id.as_str()],
            "ipv4_addr",
            nft_set(members),
        );
    }
    let mut egress_map = Vec::new();
    let mut ingress_map = Vec::new();
    for (e, base) in rs.enis.iter().zip(&eni_names) {
        let mut egress = Vec::new();
        let mut ingress = Vec::new();
        for gid in &e.groups {
            let g = groups[gid.as_str()];
            for r in &g.egress {
                rule_lines(r, "daddr", &group_sets, &mut egress);
            }
            for r in &g.ingress {
                rule_lines(r, "saddr", &group_sets, &mut ingress);
            }
        }
        egress.push("counter drop".into());
        ingress.push("counter drop".into());
        chain(&mut s, &format!("{base}_out"), &egress);
        chain(&mut s, &format!("{base}_in"), &ingress);
        egress_map.push(format!("{} : jump {base}_out", e.ip));
        ingress_map.push(format!("{} : jump {base}_in", e.ip));
    }
    map_decl(&mut s, "egress", "ipv4_addr : verdict", nft_set(egress_map));
    map_decl(
        &mut s,
        "ingress",
        "ipv4_addr : verdict",
        nft_set(ingress_map),
    );

    // Egress: everything an instance sends enters the IP stack here (bridged
    // frames via br_netfilter, routed ones via the bridge device). Priority
    // mangle: after conntrack, before DNAT, so rules see the destination the
    // guest chose (169.254.169.254, a public IP).
    let mut pre = vec![
        "type filter hook prerouting priority mangle; policy accept;".to_string(),
        "iifname != @bridges accept".into(),
        format!("meta mark set meta mark | {mark}"),
        "ct state invalid counter drop".into(),
        "ct state established,related accept".into(),
    ];
    if let Some(m) = &rs.metadata {
        pre.push(format!("ip daddr {} tcp dport 80 accept", m.addr));
    }
    pre.extend(["ip saddr vmap @egress".to_string(), "counter drop".into()]);
    chain(&mut s, "vpc_egress", &pre);
    // Ingress: everything that leaves through a VPC bridge (bridged, routed
    // from outside after DNAT, or sent by the host) passes postrouting with
    // the bridge as output device; the destination is the private IP.
    // Priority 200, after srcnat: rules see the source the instance will see.
    chain(
        &mut s,
        "vpc_ingress",
        &[
            "type filter hook postrouting priority 200; policy accept;".into(),
            "oifname != @bridges accept".into(),
            "ct state invalid counter drop".into(),
            "ct state established,related accept".into(),
            "ip daddr vmap @ingress".into(),
            "counter drop".into(),
        ],
    );

    // Public IPs are reachable from anywhere, other VPCs included (security
    // groups still apply); replies share the connection's dnat status.
    let mut fwd = vec![
        "type filter hook forward priority 0; policy accept;".to_string(),
        "oifname @bridges ct status dnat accept".into(),
    ];
    for v in &rs.vpcs {
        fwd.push(format!(
            "iifname \"{b}\" oifname != \"{b}\" oifname @bridges counter drop",
            b = v.bridge
        ));
    }
    // From outside, only public IPs (DNAT) reach instances, not private IPs.
    fwd.push("oifname @bridges iifname != @bridges ct state new counter drop".into());
    chain(&mut s, "forward", &fwd);

    let eni_by_id: HashMap<&str, &EniNet> =
        rs.enis.iter().map(|e| (e.eni_id.as_str(), e)).collect();
    let mut dnat = Vec::new();
    let mut snat = Vec::new();
    for p in &rs.public_ips {
        let e = eni_by_id[p.eni_id.as_str()];
        let bridge = &vpcs[e.vpc_id.as_str()].bridge;
        dnat.push(format!("ip daddr {} dnat ip to {}", p.public, e.ip));
        snat.push(format!(
            "ip saddr {} oifname != \"{bridge}\" snat ip to {}",
            e.ip, p.public
        ));
    }
    let mut pre = vec!["type nat hook prerouting priority dstnat; policy accept;".to_string()];
    if let Some(m) = &rs.metadata {
        for v in &rs.vpcs {
            pre.push(format!(
                "iifname \"{}\" ip daddr {} tcp dport 80 dnat ip to {}:{}",
                v.bridge, m.addr, v.gateway, m.port
            ));
        }
    }
    pre.extend(dnat.iter().cloned());
    chain(&mut s, "nat_prerouting", &pre);
    // The host's own connections to public IPs: DNAT in output reroutes.
    let mut out = vec!["type nat hook output priority -100; policy accept;".to_string()];
    out.extend(dnat);
    chain(&mut s, "nat_output", &out);
    let mut post = vec!["type nat hook postrouting priority srcnat; policy accept;".to_string()];
    post.extend(snat);
    for v in &rs.vpcs {
        post.push(format!(
            "ip saddr {} oifname != \"{}\" masquerade",
            v.cidr, v.bridge
        ));
    }
    chain(&mut s, "nat_postrouting", &post);
    s.push_str("}\n");
    Ok(s)
}

// ---------------------------------------------------------------------------
// Applying

fn nft_command(netns: Option<&str>) -> Command {
    let nft = std::env::var(NFT_ENV).unwrap_or_else(|_| "nft".to_string());
    match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, &nft]);
            c
        }
        None => Command::new(nft),
    }
}

fn run_nft(netns: Option<&str>, args: &[&str], script: &str) -> Result<(), FirewallError> {
    let mut cmd = nft_command(netns);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = format!("{cmd:?}");
    let mut child = cmd.spawn().map_err(|source| FirewallError::Spawn {
        cmd: shown.clone(),
        source,
    })?;
    // Scripts are small; nft reads all of stdin before replying.
    let write = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(script.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|source| FirewallError::Spawn {
            cmd: shown.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(FirewallError::Nft {
            cmd: shown,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    if let Some(Err(source)) = write {
        return Err(FirewallError::Spawn { cmd: shown, source });
    }
    Ok(())
}

/// Loads `script` (from [`render`]) in the host's network namespace as one
/// atomic transaction.
pub fn apply(script: &str) -> Result<(), FirewallError> {
    apply_in(None, script)
}

/// Like [`apply`], inside network namespace `netns` (`ip netns exec`).
pub fn apply_in(netns: Option<&str>, script: &str) -> Result<(), FirewallError> {
    run_nft(netns, &["-f", "-"], script)
}

/// Parses and checks `script` against the kernel without changing anything
/// (`nft -c`).
pub fn check_in(netns: Option<&str>, script: &str) -> Result<(), FirewallError> {
    run_nft(netns, &["-c", "-f", "-"], script)
}

/// Script deleting ec2lab's tables (and only those); fine if they are absent.
pub fn removal_script() -> String {
    ["bridge", "inet"]
        .iter()
        .map(|f| format!("table {f} {TABLE} {{}}\ndelete table {f} {TABLE}\n"))
        .collect()
}

/// Deletes ec2lab's tables from the host's network namespace.
pub fn remove_all() -> Result<(), FirewallError> {
    remove_all_in(None)
}

pub fn remove_all_in(netns: Option<&str>) -> Result<(), FirewallError> {
    apply_in(netns, &removal_script())
}

/// Turns on br_netfilter for one VPC bridge, which gives its frames IPv4
/// conntrack and NAT (see the module docs); the bridge chains drop all IPv4
/// on a bridge without it.
pub fn enable_bridge_conntrack(netns: Option<&str>, bridge: &str) -> Result<(), FirewallError> {
    check_ifname("bridge name", bridge)?;
    let mut cmd = Command::new("ip");
    if let Some(ns) = netns {
        cmd.args(["-n", ns]);
    }
    cmd.args([
        "link",
        "set",
        "dev",
        bridge,
        "type",
        "bridge",
        "nf_call_iptables",
        "1",
    ]);
    let shown = format!("{cmd:?}");
    let fail = |detail: String| FirewallError::BridgeSetup {
        bridge: bridge.to_string(),
        cmd: shown.clone(),
        detail,
    };
    let out = cmd.output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        return Err(fail(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn tcp(from: u16, to: u16, cidrs: &[&str], groups: &[&str]) -> Rule {
        Rule {
            protocol: Protocol::Tcp,
            ports: Some((from, to)),
            cidrs: cidrs.iter().map(|c| cidr(c)).collect(),
            source_groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn all_to(cidrs: &[&str]) -> Rule {
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
    fn sample() -> Ruleset {
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

    #[test]
    fn cidr_parse_display_contains_overlaps() {
        let c = cidr("10.0.0.0/16");
        assert_eq!(c.to_string(), "10.0.0.0/16");
        assert!(c.contains(ip("10.0.255.1")));
        assert!(!c.contains(ip("10.1.0.0")));
        assert!(c.overlaps(&cidr("10.0.3.0/24")));
        assert!(cidr("10.0.3.0/24").overlaps(&c));
        assert!(!c.overlaps(&cidr("10.1.0.0/16")));
        assert!(cidr("0.0.0.0/0").contains(ip("255.255.255.255")));
        assert!(cidr("1.2.3.4/32").contains(ip("1.2.3.4")));
        for bad in [
            "10.0.0.0/33",
            "300.1.1.1/8",
            "10.0.0.1/16",
            "10.0.0.0",
            "10.0.0.0/x",
            "",
        ] {
            let e = bad.parse::<Ipv4Cidr>().unwrap_err();
            assert!(matches!(e, FirewallError::InvalidCidr { .. }), "{bad}: {e}");
        }
        assert!("10.0.0.1/16"
            .parse::<Ipv4Cidr>()
            .unwrap_err()
            .to_string()
            .contains("did you mean 10.0.0.0/16"));
        // Serialized as a string, validated when deserialized.
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"10.0.0.0/16\"");
        assert!(serde_json::from_str::<Ipv4Cidr>("\"10.0.0.1/8\"").is_err());
        let rs = sample();
        let back: Ruleset = serde_json::from_str(&serde_json::to_string(&rs).unwrap()).unwrap();
        assert_eq!(back, rs);
    }

    #[test]
    fn validation_errors() {
        let check = |f: &dyn Fn(&mut Ruleset), want: &str| {
            let mut rs = sample();
            f(&mut rs);
            let e = render(&rs).unwrap_err().to_string();
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
    }

    #[test]
    fn render_shape() {
        let script = render(&sample()).unwrap();
        // Idempotent replace of our own tables only.
        assert!(script.starts_with(
            "# Generated by ec2lab; replaced as a whole on every change.\n\
             table bridge ec2lab {}\ndelete table bridge ec2lab\n\
             table inet ec2lab {}\ndelete table inet ec2lab\n"
        ));
        assert!(!script.contains("flush ruleset"));
        for needle in [
            "set sg_web_m {\n\t\ttype ipv4_addr\n\t\telements = { 10.10.0.11 }",
            "tcp dport 80 ip saddr @sg_client_m accept",
            "tcp dport 80 ip saddr { 198.51.100.2/32 } accept",
            "ether saddr != 02:00:00:00:00:01 counter drop",
            "arp saddr ip != 10.10.0.11 counter drop",
            "ip saddr != 10.10.0.11 counter drop",
            "10.10.0.11 : jump eni_1_in",
            "iifname \"ec2br-one\" ip daddr 169.254.169.254 tcp dport 80 dnat ip to 10.10.0.1:8775",
            "ip daddr 203.0.113.11 dnat ip to 10.10.0.11",
            "ip saddr 10.10.0.11 oifname != \"ec2br-one\" snat ip to 203.0.113.11",
            "ip saddr 10.20.0.0/16 oifname != \"ec2br-two\" masquerade",
            "iifname \"ec2br-one\" oifname != \"ec2br-one\" oifname @bridges counter drop",
        ] {
            assert!(script.contains(needle), "missing {needle:?} in\n{script}");
        }
        // A rule with no peers matches nothing; an empty egress list denies.
        let mut rs = sample();
        rs.groups[1].egress = vec![all_to(&[])];
        let script = render(&rs).unwrap();
        let out = script.split("chain eni_2_out {").nth(1).unwrap();
        assert!(out.trim_start().starts_with("counter drop\n"), "{out}");
        // Nested CIDRs are merged (nft rejects overlapping set intervals).
        assert_eq!(
            disjoint(&[
                cidr("10.0.0.0/8"),
                cidr("10.1.0.0/16"),
                cidr("192.168.0.0/16")
            ]),
            vec![cidr("10.0.0.0/8"), cidr("192.168.0.0/16")]
        );
        // An empty ruleset still renders (empty sets/maps, no rules).
        render(&Ruleset::default()).unwrap();
    }

    #[test]
    fn names_are_sanitized_and_unique() {
        let mut n = Namer::default();
        assert_eq!(n.name("eni", "eni-0123abcd"), "eni_0123abcd");
        assert_eq!(n.name("eni", "eni.0123abcd"), "eni_eni_0123abcd");
        assert_eq!(n.name("eni", "eni-0123abcd"), "eni_0123abcd_1");
        let long = n.name("sg", "sg-0123456789abcdef0123456789");
        assert!(long.len() <= 21, "{long}");
        assert_eq!(n.name("sg", "sg-"), "sg_x");
    }

    // ---------------------------------------------------------------------
    // Real nftables inside throwaway network namespaces.

    use std::io::{BufRead, BufReader};
    use std::process::Child;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Network namespaces and processes of one test; removed on drop, also
    /// when the test panics.
    struct Lab {
        prefix: String,
        namespaces: Vec<String>,
        children: Vec<Child>,
    }

    impl Lab {
        /// None (test skipped) unless we can create namespaces and run nft.
        fn new() -> Option<Lab> {
            static N: AtomicUsize = AtomicUsize::new(0);
            let prefix = format!(
                "fw{}x{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            );
            let lab = Lab {
                prefix,
                namespaces: vec![],
                children: vec![],
            };
            let probe = Command::new("ip")
                .args(["netns", "add", &format!("{}probe", lab.prefix)])
                .output();
            let ok = matches!(probe, Ok(ref o) if o.status.success());
            let _ = Command::new("ip")
                .args(["netns", "del", &format!("{}probe", lab.prefix)])
                .output();
            let nft = Command::new(std::env::var(NFT_ENV).unwrap_or_else(|_| "nft".into()))
                .arg("--version")
                .output();
            if !ok || !matches!(nft, Ok(ref o) if o.status.success()) {
                eprintln!("SKIPPED: needs root, `ip netns` and nft");
                return None;
            }
            Some(lab)
        }

        fn ns(&mut self, name: &str) -> String {
            let full = format!("{}{name}", self.prefix);
            sh(&format!("ip netns add {full}"));
            self.namespaces.push(full.clone());
            sh(&format!("ip -n {full} link set lo up"));
            full
        }

        /// Starts a TCP server in `ns` that sends each client its address.
        fn server(&mut self, ns: &str, port: u16) {
            let mut child = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    ns,
                    "python3",
                    "-c",
                    SERVER,
                    &port.to_string(),
                ])
                .stdout(Stdio::piped())
                .spawn()
                .expect("python3");
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            self.children.push(child);
            assert_eq!(line.trim(), "ready", "server {ns}:{port} did not start");
        }
    }

    impl Drop for Lab {
        fn drop(&mut self) {
            for c in &mut self.children {
                let _ = c.kill();
                let _ = c.wait();
            }
            for ns in self.namespaces.iter().rev() {
                let _ = Command::new("ip").args(["netns", "del", ns]).output();
            }
        }
    }

    const SERVER: &str = "
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1])))
s.listen(64)
print('ready', flush=True)
while True:
    c, a = s.accept()
    c.sendall(a[0].encode())
    c.close()
";

    const CLIENT: &str = "
import socket, sys
s = socket.socket()
s.settimeout(1.0)
if len(sys.argv) > 3:
    s.bind((sys.argv[3], 0))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print(s.recv(100).decode())
except Exception as e:
    print('failed:', e, file=sys.stderr)
    sys.exit(1)
";

    /// Runs a whitespace-separated command line; panics if it fails.
    fn sh(cmd: &str) {
        let args: Vec<&str> = cmd.split_whitespace().collect();
        let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Connects from `ns` (optionally from address `src`); returns the peer
    /// address the server saw, or None if the connection failed.
    fn connect(ns: &str, dst: &str, port: u16, src: Option<&str>) -> Option<String> {
        let port = port.to_string();
        let mut args = vec![
            "5", "ip", "netns", "exec", ns, "python3", "-c", CLIENT, dst, &port,
        ];
        args.extend(src);
        let out = Command::new("timeout").args(args).output().unwrap();
        eprintln!(
            "connect {ns} -> {dst}:{port} {src:?}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn ping(ns: &str, dst: &str) -> bool {
        Command::new("timeout")
            .args(["5", "ip", "netns", "exec", ns, "ping", "-c1", "-W1", dst])
            .output()
            .unwrap()
            .status
            .success()
    }

    fn list(ns: &str, what: &[&str]) -> String {
        let mut args = vec!["netns", "exec", ns, "nft", "list"];
        args.extend(what);
        let out = Command::new("ip").args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Packets counted so far by the rule of `<family> ec2lab <chain>` whose
    /// listing starts with `rule`; proves which rule dropped a connection.
    fn counted(ns: &str, family: &str, chain: &str, rule: &str) -> u64 {
        let text = list(ns, &["chain", family, TABLE, chain]);
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(rule))
            .unwrap_or_else(|| panic!("no rule {rule:?} in\n{text}"));
        let after = line.split("counter packets ").nth(1).expect("a counter");
        after.split(' ').next().unwrap().parse().unwrap()
    }

    /// Asserts that `f` fails to connect and that one of the given rules
    /// (listing prefixes) counted it.
    fn blocked_by(
        ns: &str,
        family: &str,
        chain: &str,
        rules: &[&str],
        f: impl FnOnce() -> Option<String>,
    ) {
        let sum = || -> u64 { rules.iter().map(|r| counted(ns, family, chain, r)).sum() };
        let before = sum();
        assert_eq!(f(), None, "expected {family} {chain} {rules:?} to block");
        assert!(
            sum() > before,
            "blocked, but not by {family} {chain} {rules:?}"
        );
    }

    #[test]
    fn loads_into_nft_idempotently_and_leaves_other_tables() {
        let Some(mut lab) = Lab::new() else { return };
        let h = lab.ns("h");
        let other = "table inet other {\n\tchain keep {\n\t\ttype filter hook input priority 0; policy accept;\n\t}\n}\n";
        apply_in(Some(&h), other).unwrap();
        let script = render(&sample()).unwrap();
        check_in(Some(&h), &script).unwrap();
        assert!(list(&h, &["tables"]).contains("inet other"));
        assert!(
            !list(&h, &["tables"]).contains("ec2lab"),
            "check mode changed nothing"
        );
        apply_in(Some(&h), &script).unwrap();
        let first = list(&h, &["ruleset"]);
        apply_in(Some(&h), &script).unwrap();
        assert_eq!(list(&h, &["ruleset"]), first, "re-applying is a no-op");
        let inet = list(&h, &["table", "inet", "ec2lab"]);
        for chain in [
            "chain vpc_egress",
            "chain vpc_ingress",
            "chain forward",
            "chain nat_prerouting",
            "chain nat_output",
            "chain nat_postrouting",
            "chain eni_1_in",
            "chain eni_1_out",
            "set sg_web_m",
            "map egress",
        ] {
            assert!(inet.contains(chain), "{chain} missing:\n{inet}");
        }
        let bridge = list(&h, &["table", "bridge", "ec2lab"]);
        for chain in [
            "chain forward",
            "chain input",
            "chain output",
            "chain eni_3_spoof",
        ] {
            assert!(bridge.contains(chain), "{chain} missing:\n{bridge}");
        }
        // A smaller ruleset replaces the bigger one completely.
        let mut small = sample();
        small.enis.truncate(1);
        small.public_ips.clear();
        apply_in(Some(&h), &render(&small).unwrap()).unwrap();
        assert!(!list(&h, &["ruleset"]).contains("eni_2"));
        // A failing transaction changes nothing.
        let bad = format!(
            "{}\nadd rule inet ec2lab forward bogus\n",
            render(&sample()).unwrap()
        );
        let e = apply_in(Some(&h), &bad).unwrap_err().to_string();
        assert!(e.contains("bogus") && e.contains("root"), "{e}");
        assert!(!list(&h, &["ruleset"]).contains("eni_2"));
        // An empty ruleset loads too.
        apply_in(Some(&h), &render(&Ruleset::default()).unwrap()).unwrap();
        remove_all_in(Some(&h)).unwrap();
        remove_all_in(Some(&h)).unwrap();
        let tables = list(&h, &["tables"]);
        assert!(!tables.contains("ec2lab"), "{tables}");
        assert!(list(&h, &["table", "inet", "other"]).contains("chain keep"));
    }

    /// Wires an instance: veth `tap` in the host namespace on `bridge`, its
    /// peer `eth0` in a new namespace with the ENI's MAC and IP.
    fn vm(lab: &mut Lab, h: &str, e: &EniNet, bridge: &str, prefix: u8, gw: &str) -> String {
        let ns = lab.ns(&e.eni_id.replace("eni-", "vm"));
        sh(&format!(
            "ip -n {h} link add {} type veth peer name eth0 netns {ns}",
            e.tap
        ));
        sh(&format!("ip -n {h} link set {} master {bridge} up", e.tap));
        sh(&format!(
            "ip -n {ns} link set eth0 address {} up",
            fmt_mac(&e.mac)
        ));
        sh(&format!("ip -n {ns} addr add {}/{prefix} dev eth0", e.ip));
        sh(&format!("ip -n {ns} route add default via {gw}"));
        ns
    }

    #[test]
    fn traffic_obeys_security_groups() {
        let Some(mut lab) = Lab::new() else { return };
        let rs = sample();
        let h = lab.ns("h");
        let ext = lab.ns("ext");
        sh(&format!(
            "ip netns exec {h} sysctl -qw net.ipv4.ip_forward=1"
        ));
        for v in &rs.vpcs {
            sh(&format!("ip -n {h} link add {} type bridge", v.bridge));
            sh(&format!(
                "ip -n {h} addr add {}/{} dev {}",
                v.gateway, v.cidr.prefix, v.bridge
            ));
            sh(&format!("ip -n {h} link set {} up", v.bridge));
            enable_bridge_conntrack(Some(&h), &v.bridge).unwrap();
        }
        // "Internet": ext at 198.51.100.2 behind the host's uplink.
        sh(&format!(
            "ip -n {h} link add uplink type veth peer name eth0 netns {ext}"
        ));
        sh(&format!("ip -n {h} addr add 198.51.100.1/24 dev uplink"));
        sh(&format!("ip -n {h} link set uplink up"));
        sh(&format!("ip -n {h} route add default via 198.51.100.2"));
        sh(&format!("ip -n {ext} addr add 198.51.100.2/24 dev eth0"));
        sh(&format!("ip -n {ext} link set eth0 up"));
        sh(&format!("ip -n {ext} route add default via 198.51.100.1"));
        let vm1 = vm(&mut lab, &h, &rs.enis[0], "ec2br-one", 16, "10.10.0.1");
        let vm2 = vm(&mut lab, &h, &rs.enis[1], "ec2br-one", 16, "10.10.0.1");
        let vm3 = vm(&mut lab, &h, &rs.enis[2], "ec2br-two", 16, "10.20.0.1");
        for (ns, port) in [
            (&vm1, 80),
            (&vm1, 8080),
            (&vm2, 80),
            (&vm3, 80),
            (&ext, 80),
            (&h, 8775),
        ] {
            lab.server(ns, port);
        }
        let (vm1, vm2, vm3, h, ext) = (&vm1[..], &vm2[..], &vm3[..], &h[..], &ext[..]);
        let ok = |peer: &str| Some(peer.to_string());

        apply_in(Some(h), &render(&rs).unwrap()).unwrap();
        // Same VPC, bridged: allowed by source group; replies pass vm2's
        // deny-all ingress because the firewall is stateful.
        assert_eq!(connect(vm2, "10.10.0.11", 80, None), ok("10.10.0.12"));
        blocked_by(h, "inet", "eni_1_in", &["counter packets"], || {
            connect(vm2, "10.10.0.11", 8080, None)
        });
        blocked_by(h, "inet", "eni_2_in", &["counter packets"], || {
            connect(vm1, "10.10.0.12", 80, None)
        });
        assert!(!ping(vm2, "10.10.0.11"), "no icmp rule yet");
        // The host is not in any allowed source.
        blocked_by(h, "inet", "eni_1_in", &["counter packets"], || {
            connect(h, "10.10.0.11", 80, None)
        });
        blocked_by(h, "inet", "eni_1_in", &["counter packets"], || {
            connect(h, "203.0.113.11", 80, None)
        });
        // Internet -> public IP (DNAT), allowed by cidr; private IPs are
        // unreachable from outside even though the cidr would allow them.
        assert_eq!(connect(ext, "203.0.113.11", 80, None), ok("198.51.100.2"));
        sh(&format!(
            "ip -n {ext} route add 10.0.0.0/8 via 198.51.100.1"
        ));
        blocked_by(
            h,
            "inet",
            "forward",
            &["oifname @bridges iifname != @bridges ct state new counter"],
            || connect(ext, "10.10.0.11", 80, None),
        );
        // Outbound: SNAT to the public IP, masquerade without one.
        assert_eq!(connect(vm1, "198.51.100.2", 80, None), ok("203.0.113.11"));
        assert_eq!(connect(vm2, "198.51.100.2", 80, None), ok("198.51.100.1"));
        assert_eq!(connect(vm3, "198.51.100.2", 80, None), ok("198.51.100.1"));
        // Metadata reaches the host service at the VPC gateway.
        assert_eq!(connect(vm1, "169.254.169.254", 80, None), ok("10.10.0.11"));
        assert_eq!(connect(vm3, "169.254.169.254", 80, None), ok("10.20.0.13"));
        // VPC isolation, although vm3 accepts everything and vm1 may send
        // anything.
        blocked_by(h, "inet", "forward", &["iifname \"ec2br-one\""], || {
            connect(vm1, "10.20.0.13", 80, None)
        });
        blocked_by(h, "inet", "forward", &["iifname \"ec2br-two\""], || {
            connect(vm3, "10.10.0.11", 80, None)
        });

        // Open the host and port 8080, drop all of vm1's egress rules.
        let mut rs2 = rs.clone();
        let web = &mut rs2.groups[0];
        web.ingress
            .push(tcp(80, 80, &["198.51.100.1/32", "10.10.0.1/32"], &[]));
        web.ingress.push(tcp(8000, 8080, &["10.10.0.0/16"], &[]));
        web.egress.clear();
        web.ingress.push(Rule {
            protocol: Protocol::Icmp,
            ports: None,
            cidrs: vec![cidr("10.10.0.0/16")],
            source_groups: vec![],
        });
        apply_in(Some(h), &render(&rs2).unwrap()).unwrap();
        assert_eq!(connect(h, "10.10.0.11", 80, None), ok("10.10.0.1"));
        // Echo replies pass although vm1 may not send anything (stateful).
        assert!(ping(vm2, "10.10.0.11"), "icmp allowed now");
        // Hairpin: vm2 reaches vm1 through vm1's public IP, as itself.
        assert_eq!(connect(vm2, "203.0.113.11", 80, None), ok("10.10.0.12"));
        // Another VPC reaches a public IP (masqueraded to the gateway of
        // vm1's VPC, which this version of the group allows).
        assert_eq!(connect(vm3, "203.0.113.11", 80, None), ok("10.10.0.1"));
        assert_eq!(
            connect(h, "203.0.113.11", 80, None),
            ok("198.51.100.1"),
            "host -> public"
        );
        assert_eq!(connect(vm2, "10.10.0.11", 8080, None), ok("10.10.0.12"));
        blocked_by(h, "inet", "eni_1_out", &["counter packets"], || {
            connect(vm1, "198.51.100.2", 80, None)
        });
        blocked_by(h, "inet", "eni_1_out", &["counter packets"], || {
            connect(vm1, "10.10.0.1", 8775, None)
        });
        assert_eq!(
            connect(vm1, "169.254.169.254", 80, None),
            ok("10.10.0.11"),
            "metadata"
        );
        // Spoofing: another IP, then another MAC; both blocked although
        // 10.10.0.0/16 may reach 8080.
        sh(&format!("ip -n {vm2} addr add 10.10.0.99/16 dev eth0"));
        blocked_by(h, "inet", "vpc_egress", &["counter packets"], || {
            connect(vm2, "10.10.0.11", 8080, Some("10.10.0.99"))
        });
        sh(&format!("ip -n {vm2} addr del 10.10.0.99/16 dev eth0"));
        sh(&format!(
            "ip -n {vm2} link set eth0 address 02:00:00:00:00:99"
        ));
        blocked_by(
            h,
            "bridge",
            "eni_2_spoof",
            &["ether saddr != 02:00:00:00:00:02"],
            || connect(vm2, "10.10.0.11", 8080, None),
        );
        sh(&format!(
            "ip -n {vm2} link set eth0 address 02:00:00:00:00:02"
        ));
        assert_eq!(connect(vm2, "10.10.0.11", 8080, None), ok("10.10.0.12"));

        // Without br_netfilter the bridge fails closed for tap-to-tap IPv4.
        sh(&format!(
            "ip netns exec {h} sysctl -qw net.bridge.bridge-nf-call-iptables=0"
        ));
        sh(&format!(
            "ip -n {h} link set ec2br-one type bridge nf_call_iptables 0"
        ));
        blocked_by(
            h,
            "bridge",
            "forward",
            &["iifname @taps ether type ip meta mark"],
            || connect(vm2, "10.10.0.11", 8080, None),
        );
        enable_bridge_conntrack(Some(h), "ec2br-one").unwrap();
        assert_eq!(connect(vm2, "10.10.0.11", 8080, None), ok("10.10.0.12"));

        // Removing the firewall opens everything again.
        remove_all_in(Some(h)).unwrap();
        assert_eq!(connect(vm1, "10.10.0.12", 80, None), ok("10.10.0.11"));
    }
}
