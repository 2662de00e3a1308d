//! Security groups, anti-spoofing, VPC isolation and NAT for ec2lab, rendered
//! as one nftables transaction.
//!
//! # Design
//!
//! Two tables are owned by ec2lab and nothing else is ever touched:
//!
//! * `table bridge ec2lab` filters every frame that enters or leaves an ENI
//!   tap. Instance-to-instance traffic inside a VPC is bridged and never
//!   reaches the IP hooks on its own, so this is the only place that sees it.
//!   - `forward` (tap -> tap): anti-spoofing of the sender, egress rules of
//!     the sending ENI, ingress rules of the receiving ENI.
//!   - `input` (tap -> host: the gateway, metadata, and everything routed to
//!     the outside): anti-spoofing, metadata allowance, egress rules.
//!   - `output` (host -> tap: the host itself and everything routed in from
//!     outside, including DNATed public-IP traffic): ingress rules.
//!
//!   Per ENI there are three regular chains (`<eni>_spoof`, `<eni>_out`,
//!   `<eni>_in`), dispatched through verdict maps keyed by tap name.
//!   Egress chains `return` on a match (so the receiver's ingress chain still
//!   runs for tap -> tap traffic) and drop otherwise; ingress chains accept on
//!   a match and drop otherwise. Source-group rules use one named set of
//!   member IPs per group (`sg_<id>_m`).
//!
//! * `table inet ec2lab` does what needs routing: VPC isolation (forward),
//!   public-IP DNAT (prerouting for packets from outside, output for the
//!   host's own packets), metadata DNAT (prerouting), SNAT to the public IP
//!   and masquerade for everything else leaving a VPC (postrouting).
//!
//! # Conntrack on bridges (prerequisite)
//!
//! Security groups are stateful, so the bridge chains use `ct state`. The
//! bridge family has no conntrack of its own unless the kernel has
//! `nf_conntrack_bridge` (CONFIG_NF_CONNTRACK_BRIDGE; ec2lab's reference
//! kernel does not). ec2lab therefore relies on br_netfilter, which runs the
//! IPv4 conntrack/NAT hooks for bridged frames, and must be switched on per
//! VPC bridge: `ip link set dev <bridge> type bridge nf_call_iptables 1`
//! (see [`enable_bridge_conntrack`]). Without it every IPv4 frame on the
//! bridge is seen as `ct state invalid` and dropped: the firewall fails
//! closed rather than open. Side effect of br_netfilter: bridged IPv4 also
//! traverses the host's other `ip`/`inet` forward chains, so a host whose
//! forward policy is drop (e.g. Docker's) must accept the ec2lab bridges.
//!
//! # Routing assumptions
//!
//! Public IPs are configured on no interface and need no route on the host:
//! DNAT happens in prerouting/output, i.e. before the routing decision, and
//! the private address is routed through the VPC bridge's connected route.
//! For the host's own `curl http://<public>/` the kernel needs *some* route
//! to pick a source address before the output hook runs (a default route is
//! enough). Hosts other than this one reach public IPs only if their router
//! sends those addresses to this host. Forwarding (`net.ipv4.ip_forward=1`)
//! is required for instances to reach the outside.
//!
//! Only IPv4 is supported: any non-IPv4, non-ARP frame from or to a tap is
//! dropped.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Name of both ec2lab tables (`inet` and `bridge` families).
pub const TABLE: &str = "ec2lab";

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
/// (egress), `verdict` is `accept` (ingress) or `return` (egress).
fn rule_lines(
    rule: &Rule,
    peer: &str,
    verdict: &str,
    group_sets: &HashMap<&str, String>,
    out: &mut Vec<String>,
) {
    let proto = proto_match(rule);
    let cidrs = disjoint(&rule.cidrs);
    if let Some(set) = nft_set(cidrs.iter().map(|c| c.to_string())) {
        out.push(format!("{proto}ip {peer} {set} {verdict}"));
    }
    for sg in &rule.source_groups {
        // Validated: every referenced group has a set.
        if let Some(set) = group_sets.get(sg.as_str()) {
            out.push(format!("{proto}ip {peer} @{set} {verdict}"));
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
    let vpcs: HashMap<&str, &VpcNet> = rs.vpcs.iter().map(|v| (v.vpc_id.as_str(), v)).collect();
    let bridges = nft_set(quoted(rs.vpcs.iter().map(|v| v.bridge.as_str())));
    let taps = nft_set(quoted(rs.enis.iter().map(|e| e.tap.as_str())));

    let mut s = String::new();
    s.push_str("# Generated by ec2lab; replaced as a whole on every change.\n");
    for family in ["bridge", "inet"] {
        // Declaring first makes the delete succeed when the table is absent.
        s.push_str(&format!(
            "table {family} {TABLE} {{}}\ndelete table {family} {TABLE}\n"
        ));
    }

    // --- bridge table -----------------------------------------------------
    s.push_str(&format!("\ntable bridge {TABLE} {{\n"));
    set_decl(&mut s, "bridges", "ifname", bridges.clone());
    set_decl(&mut s, "taps", "ifname", taps);
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

    let mut spoof_map = Vec::new();
    let mut egress_map = Vec::new();
    let mut ingress_map = Vec::new();
    for e in &rs.enis {
        let base = namer.name("eni", &e.eni_id);
        let mac = fmt_mac(&e.mac);
        chain(
            &mut s,
            &format!("{base}_spoof"),
            &[
                format!("ether saddr != {mac} drop"),
                format!("arp saddr ether != {mac} drop"),
                format!("arp saddr ip != {} drop", e.ip),
                format!("ip saddr != {} drop", e.ip),
            ],
        );
        let mut egress = Vec::new();
        let mut ingress = Vec::new();
        for gid in &e.groups {
            let g = groups[gid.as_str()];
            for r in &g.egress {
                rule_lines(r, "daddr", "return", &group_sets, &mut egress);
            }
            for r in &g.ingress {
                rule_lines(r, "saddr", "accept", &group_sets, &mut ingress);
            }
        }
        egress.push("drop".into());
        ingress.push("drop".into());
        chain(&mut s, &format!("{base}_out"), &egress);
        chain(&mut s, &format!("{base}_in"), &ingress);
        spoof_map.push(format!("\"{}\" : jump {base}_spoof", e.tap));
        egress_map.push(format!("\"{}\" : jump {base}_out", e.tap));
        ingress_map.push(format!("\"{}\" : jump {base}_in", e.tap));
    }
    for (name, elems) in [
        ("spoof", spoof_map),
        ("egress", egress_map),
        ("ingress", ingress_map),
    ] {
        match nft_set(elems) {
            Some(e) => s.push_str(&format!(
                "\tmap {name} {{\n\t\ttype ifname : verdict\n\t\telements = {e}\n\t}}\n"
            )),
            None => s.push_str(&format!(
                "\tmap {name} {{\n\t\ttype ifname : verdict\n\t}}\n"
            )),
        }
    }

    // Common prologue of frames coming from a tap: other bridges on the host
    // are not ours; unknown ports on our bridges get nothing; the sender must
    // not spoof; only IPv4 and ARP exist here; then conntrack.
    let from_tap = [
        "iifname != @taps drop",
        "iifname vmap @spoof",
        "ether type arp accept",
        "ether type != ip drop",
        "ct state invalid drop",
    ];
    let mut fwd: Vec<String> = vec![
        "type filter hook forward priority 0; policy accept;".into(),
        "meta ibrname != @bridges accept".into(),
    ];
    fwd.extend(from_tap.iter().map(|l| l.to_string()));
    fwd.extend([
        "oifname != @taps drop".to_string(),
        "ct state established,related accept".into(),
        "iifname vmap @egress".into(),
        "oifname vmap @ingress".into(),
    ]);
    chain(&mut s, "forward", &fwd);

    let mut input: Vec<String> = vec![
        "type filter hook input priority 0; policy accept;".into(),
        "meta ibrname != @bridges accept".into(),
    ];
    input.extend(from_tap.iter().map(|l| l.to_string()));
    if let Some(m) = &rs.metadata {
        // DNAT already happened (br_netfilter runs prerouting first), so
        // match the original destination; allowed whatever the groups say.
        input.push(format!(
            "ct original ip daddr {} meta l4proto tcp ct original proto-dst 80 accept",
            m.addr
        ));
    }
    input.extend([
        "ct state established,related accept".to_string(),
        "iifname vmap @egress".into(),
    ]);
    chain(&mut s, "input", &input);

    chain(
        &mut s,
        "output",
        &[
            "type filter hook output priority 0; policy accept;".into(),
            "meta obrname != @bridges accept".into(),
            "oifname != @taps drop".into(),
            "ether type arp accept".into(),
            "ether type != ip drop".into(),
            "ct state invalid drop".into(),
            "ct state established,related accept".into(),
            "oifname vmap @ingress".into(),
        ],
    );
    s.push_str("}\n");

    // --- inet table -------------------------------------------------------
    s.push_str(&format!("\ntable inet {TABLE} {{\n"));
    set_decl(&mut s, "bridges", "ifname", bridges);
    let mut fwd = vec!["type filter hook forward priority 0; policy accept;".to_string()];
    for v in &rs.vpcs {
        fwd.push(format!(
            "iifname \"{b}\" oifname != \"{b}\" oifname @bridges drop",
            b = v.bridge
        ));
    }
    // Private addresses are not reachable from outside, only public IPs.
    fwd.push("oifname @bridges iifname != @bridges ct state new ct status dnat accept".into());
    fwd.push("oifname @bridges iifname != @bridges ct state new drop".into());
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
    chain(&mut s, "prerouting", &pre);
    let mut out = vec!["type nat hook output priority -100; policy accept;".to_string()];
    out.extend(dnat);
    chain(&mut s, "output", &out);
    let mut post = vec!["type nat hook postrouting priority srcnat; policy accept;".to_string()];
    post.extend(snat);
    for v in &rs.vpcs {
        post.push(format!(
            "ip saddr {} oifname != \"{}\" masquerade",
            v.cidr, v.bridge
        ));
    }
    chain(&mut s, "postrouting", &post);
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
    let out = cmd.output().map_err(|source| FirewallError::Spawn {
        cmd: shown.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(FirewallError::Nft {
            cmd: shown,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Sorted view used by tests and callers that want deterministic listings.
pub fn group_members(rs: &Ruleset) -> BTreeMap<String, Vec<Ipv4Addr>> {
    let mut m: BTreeMap<String, Vec<Ipv4Addr>> = BTreeMap::new();
    for g in &rs.groups {
        m.entry(g.group_id.clone()).or_default();
    }
    for e in &rs.enis {
        for g in &e.groups {
            m.entry(g.clone()).or_default().push(e.ip);
        }
    }
    m
}
