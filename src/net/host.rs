//! The host side of VPCs: bridges with the subnets' router addresses, taps plugged into
//! them, and IP forwarding. Done with `ip` (iproute2), idempotently.

use std::process::Command;

use crate::error::Ec2Error;

fn ip(args: &[&str]) -> Result<(), Ec2Error> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| Ec2Error::internal(format!("cannot run `ip` (install iproute2): {e}")))?;
    // Two ec2lab processes may plumb the same bridge at once: "already there" is success.
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || err.contains("File exists") || err.contains("already assigned") {
        return Ok(());
    }
    Err(Ec2Error::internal(format!(
        "`ip {}` failed: {}; ec2lab needs root for host networking",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

fn link_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// The bridge of a VPC, up, with each subnet's router address (`a.b.c.1/prefix`).
pub fn ensure_bridge(bridge: &str, gateways: &[String]) -> Result<(), Ec2Error> {
    if !link_exists(bridge) {
        ip(&["link", "add", bridge, "type", "bridge"])?;
    }
    let have = Command::new("ip")
        .args(["-o", "-4", "addr", "show", "dev", bridge])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for gw in gateways {
        if !have.contains(&format!("inet {gw} ")) {
            ip(&["addr", "add", gw, "dev", bridge])?;
        }
    }
    ip(&["link", "set", bridge, "up"])?;
    // Bridged traffic between instances must pass the inet table's stateful rules; the
    // firewall drops it otherwise (fail closed).
    super::firewall::enable_bridge_conntrack(None, bridge)
        .map_err(|e| Ec2Error::internal(e.to_string()))?;
    // Instances reach the outside (and NAT works) only if the host routes.
    let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1");
    // Another state root (a region, a test) may have a VPC with the same CIDR on its own
    // bridge. A bridge with no running instance has no carrier: its routes must not
    // capture replies meant for the bridge whose instances run.
    let _ = std::fs::write(
        "/proc/sys/net/ipv4/conf/all/ignore_routes_with_linkdown",
        "1",
    );
    Ok(())
}

/// A persistent tap on `bridge`, up. The VMM opens it by name.
pub fn ensure_tap(tap: &str, bridge: &str) -> Result<(), Ec2Error> {
    if !link_exists(tap) {
        ip(&["tuntap", "add", "dev", tap, "mode", "tap", "vnet_hdr"])?;
    }
    ip(&["link", "set", tap, "master", bridge])?;
    ip(&["link", "set", tap, "up"])
}

pub fn delete_link(name: &str) {
    if link_exists(name) {
        let _ = ip(&["link", "del", name]);
    }
}
