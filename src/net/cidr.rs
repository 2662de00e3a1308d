//! IPv4 networks in CIDR notation and the little arithmetic `net/` does on them: which
//! addresses a network holds, its n-th address, its size and netmask, and whether two
//! networks overlap.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An IPv4 network in CIDR notation; (de)serialized as `"10.0.0.0/16"`. Host bits are
/// never set (see [`Ipv4Cidr::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Cidr {
    /// The network address.
    pub addr: Ipv4Addr,
    /// The prefix length, 0 to 32.
    pub prefix: u8,
}

/// A string or an address and prefix that is no IPv4 network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIDR {input:?}: {reason}")]
pub struct CidrError {
    /// What was given, as written.
    pub input: String,
    /// What is wrong with it, and what to write instead.
    pub reason: String,
}

impl Ipv4Cidr {
    /// Builds a CIDR, rejecting prefixes over 32 and set host bits.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, CidrError> {
        let bad = |reason: String| CidrError {
            input: format!("{addr}/{prefix}"),
            reason,
        };
        if prefix > 32 {
            return Err(bad("the prefix length must be 0..=32".into()));
        }
        let c = Ipv4Cidr { addr, prefix };
        if u32::from(addr) & !c.mask() != 0 {
            return Err(bad(format!(
                "host bits are set; did you mean {}/{prefix}?",
                Ipv4Addr::from(u32::from(addr) & c.mask())
            )));
        }
        Ok(c)
    }

    fn mask(&self) -> u32 {
        // A shift by 32 would overflow: /0 has no network bits.
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0)
    }

    /// The netmask, e.g. 255.255.240.0 for a /20.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask())
    }

    /// How many addresses the network holds (network and broadcast addresses included);
    /// saturates at `u32::MAX` for 0.0.0.0/0.
    pub fn size(&self) -> u32 {
        1u32.checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(u32::MAX)
    }

    /// Address `n` of the network (0 is the network address itself).
    pub fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) + n)
    }

    /// True if `ip` lies in the network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr) & self.mask()
    }

    /// True if the two networks share at least one address. CIDR blocks
    /// either nest or are disjoint, so one must contain the other's base.
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// The networks of `cidrs` that no other one covers, sorted: they are disjoint,
    /// because CIDR blocks either nest or are disjoint, and cover the same addresses.
    pub fn disjoint(cidrs: &[Ipv4Cidr]) -> Vec<Ipv4Cidr> {
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
}

impl FromStr for Ipv4Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| CidrError {
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
        // Reported as written, not in its normalized form.
        Ipv4Cidr::new(addr, prefix).map_err(|e| bad(&e.reason))
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl TryFrom<String> for Ipv4Cidr {
    type Error = CidrError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Ipv4Cidr> for String {
    fn from(c: Ipv4Cidr) -> String {
        c.to_string()
    }
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

    #[test]
    fn parse_display_contains_overlaps() {
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
            assert_eq!(e.input, bad, "{e}");
        }
        assert!("10.0.0.1/16"
            .parse::<Ipv4Cidr>()
            .unwrap_err()
            .to_string()
            .contains("did you mean 10.0.0.0/16"));
        // Serialized as a string, validated when deserialized.
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"10.0.0.0/16\"");
        assert!(serde_json::from_str::<Ipv4Cidr>("\"10.0.0.1/8\"").is_err());
    }

    #[test]
    fn arithmetic() {
        let c = cidr("172.31.0.0/20");
        assert_eq!(c.netmask(), ip("255.255.240.0"));
        assert_eq!(c.size(), 4096);
        assert_eq!(c.nth(1), ip("172.31.0.1"));
        assert_eq!(cidr("1.2.3.4/32").netmask(), ip("255.255.255.255"));
        assert_eq!(cidr("1.2.3.4/32").size(), 1);
        assert_eq!(cidr("0.0.0.0/0").netmask(), ip("0.0.0.0"));
        assert_eq!(cidr("0.0.0.0/0").size(), u32::MAX);
    }

    #[test]
    fn nested_networks_collapse() {
        // nft rejects overlapping intervals in one set.
        assert_eq!(
            Ipv4Cidr::disjoint(&[
                cidr("10.0.0.0/8"),
                cidr("10.1.0.0/16"),
                cidr("192.168.0.0/16"),
                cidr("10.0.0.0/8"),
            ]),
            vec![cidr("10.0.0.0/8"), cidr("192.168.0.0/16")]
        );
    }
}
