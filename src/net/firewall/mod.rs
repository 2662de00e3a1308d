//! Security groups, anti-spoofing, VPC isolation and NAT for ec2lab, rendered
//! as one nftables transaction ([`render()`], then [`Nft::apply`]).
//!
//! The parts: `model` (the [`Ruleset`] data), `validate` (what rendering relies on, and
//! [`TableName`]), `render` (the script), `apply` ([`Nft`], the one runner of `nft`). The bridges' br_netfilter switch is host set-up, in
//! [`host::enable_bridge_conntrack`](crate::net::host::enable_bridge_conntrack).
//!
//! # Design
//!
//! Each ruleset owns two tables of one name ([`TableName`], `ec2lab_<hash>` for a
//! state root); nothing else is ever touched.
//!
//! `table bridge <name>` is stateless layer-2 hygiene on the bridge ports:
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
//! `table inet <name>` holds everything stateful:
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
//! * `host_input`: what instances may reach on the host itself. Replies to the host's
//!   own connections, the metadata port on each VPC's router (at most
//!   [`METADATA_CONNS_PER_CALLER`] connections per bridge and source address, counted in
//!   the dynamic set `metadata_callers`) and ICMP echo to the VPC's own addresses; the
//!   rest is dropped.
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
//! ([`host::enable_bridge_conntrack`](crate::net::host::enable_bridge_conntrack)). Without it, instance-to-instance IPv4 is
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

mod apply;
mod model;
mod render;
pub mod sample;
mod validate;

pub use apply::{Nft, NftError, NFT_ENV};
pub use model::{
    EniNet, MetadataService, Protocol, PublicIp, Rule, Ruleset, SecurityGroup, VpcNet, SEEN_MARK,
};
pub use render::{render, METADATA_CONNS_PER_CALLER};
pub use validate::{validate, RulesetError, TableName};
