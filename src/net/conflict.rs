//! One host, one routing table: two VPCs whose CIDRs overlap cannot both have running
//! instances, whichever state directories or regions they belong to. The replies to one's
//! instances (the metadata service's among them) would be routed out of the other's
//! bridge. Running them side by side would take a routing table, connection marks and a
//! device-bound metadata listener per bridge, and public addresses unique across state
//! directories; so `run-instances` and `start-instances` refuse instead, and say who holds
//! the addresses. Idle VPCs never conflict: their bridges are down (see `host`).

use std::collections::HashSet;
use std::net::Ipv4Addr;

use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;

use super::cidr::Ipv4Cidr;
use super::owner;
use super::vpc::Vpc;
use crate::error::Ec2Error;
use crate::store::Store;

/// An up host interface whose address overlaps the VPC.
struct Clash {
    link: String,
    addr: Ipv4Addr,
    prefix: u8,
}

/// Refuses when an up interface that is not one of this state root's bridges has an
/// address in `vpc_id`'s CIDR: another state root's VPC with running instances, a bridge
/// an older ec2lab left up, or a network of the host itself.
pub fn check(store: &Store, vpc_id: &str) -> Result<(), Ec2Error> {
    let c = store.conn();
    let vpc = Vpc::get(c, vpc_id)?;
    let own: HashSet<String> = Vpc::all(c)?.into_iter().map(|v| v.bridge).collect();
    let addrs = getifaddrs().map_err(|e| {
        Ec2Error::internal(format!(
            "cannot list the host's addresses (getifaddrs): {e}"
        ))
    })?;
    for a in addrs {
        if own.contains(&a.interface_name) || !a.flags.contains(InterfaceFlags::IFF_UP) {
            continue;
        }
        let v4 = |s: Option<&nix::sys::socket::SockaddrStorage>| {
            s.and_then(|s| s.as_sockaddr_in()).map(|s| s.ip())
        };
        let (Some(addr), Some(mask)) = (v4(a.address.as_ref()), v4(a.netmask.as_ref())) else {
            continue;
        };
        let prefix = u32::from(mask).count_ones() as u8;
        let Ok(net) = Ipv4Cidr::new(Ipv4Addr::from(u32::from(addr) & u32::from(mask)), prefix)
        else {
            continue;
        };
        if net.overlaps(&vpc.cidr) {
            let clash = Clash {
                link: a.interface_name,
                addr,
                prefix,
            };
            return Err(Ec2Error::new("Unsupported", message(&vpc, &clash)));
        }
    }
    Ok(())
}

fn message(vpc: &Vpc, clash: &Clash) -> String {
    let Clash { link, addr, prefix } = clash;
    let mine = format!(
        "The VPC {} ({}, bridge {})",
        vpc.vpc_id, vpc.cidr, vpc.bridge
    );
    let instead = "or launch into a VPC whose CIDR overlaps no other (create-vpc, create-subnet, \
                   run-instances --subnet-id; EC2LAB_DEFAULT_VPC_CIDR chooses the default VPC \
                   of a new state directory)";
    let owner = owner::of_link(link).and_then(|o| {
        let root = o.root.or_else(|| owner::registered().remove(&o.table))?;
        Some((o.resource, root))
    });
    let Some((other_vpc, root)) = owner else {
        return format!(
            "{mine} overlaps {addr}/{prefix} on the host interface {link}, which is up and \
             belongs to no ec2lab state directory (an older ec2lab made it, or something else \
             did): the host has one routing table, so replies to this VPC's instances would \
             be routed there. If nothing uses {link}, remove it (ip link del {link}); {instead}"
        );
    };
    let state_dir = root.parent().unwrap_or(&root).display().to_string();
    let region = root
        .file_name()
        .map(|r| r.to_string_lossy().into_owned())
        .unwrap_or_default();
    let gone = if owner::alive(&root) {
        ""
    } else {
        " (that state directory no longer exists, but a VMM still uses the bridge)"
    };
    format!(
        "{mine} overlaps the VPC {other_vpc} of state directory {state_dir}, region {region} \
         (bridge {link}, {addr}/{prefix}), which has running instances{gone}: the host has \
         one routing table, so replies to the instances of one VPC, the metadata service's \
         too, would be routed out of the other's bridge. Stop or terminate the instances of \
         {other_vpc} (ec2lab --state-dir {state_dir} --region {region} describe-instances), \
         {instead}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_interface_is_named_with_what_to_do() {
        let vpc = Vpc {
            vpc_id: "vpc-0123456789abcdef0".into(),
            cidr: "10.9.0.0/16".parse().unwrap(),
            is_default: false,
            bridge: "ec2br0123456789".into(),
            tags: vec![],
        };
        let m = message(
            &vpc,
            &Clash {
                link: "ec2lab-no-such-link".into(),
                addr: Ipv4Addr::new(10, 9, 0, 1),
                prefix: 20,
            },
        );
        assert!(
            m.starts_with("The VPC vpc-0123456789abcdef0 (10.9.0.0/16, bridge ec2br0123456789) overlaps 10.9.0.1/20 on the host interface ec2lab-no-such-link"),
            "{m}"
        );
        assert!(m.contains("ip link del ec2lab-no-such-link"), "{m}");
    }
}
