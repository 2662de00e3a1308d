//! The host side of VPCs: bridges with the subnets' router addresses and br_netfilter,
//! taps plugged into them, and IP forwarding. Done with `ip` (iproute2), idempotently;
//! what is already so is read from /sys first, so an unchanged host costs no `ip` run.

use std::path::Path;
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

fn sys(name: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(Path::new("/sys/class/net").join(name).join(file))
        .ok()
        .map(|s| s.trim_end_matches('\n').to_string())
}

/// What makes `name` no valid Linux interface name, if anything. The firewall puts
/// interface names into nft string literals, so it allows only the safe characters.
pub fn ifname_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
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
    }
}

/// Whether a link of that name exists.
pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Administratively up (IFF_UP), whatever its carrier.
pub fn is_up(name: &str) -> bool {
    sys(name, "flags")
        .and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok())
        .is_some_and(|f| f & 1 != 0)
}

/// The link's alias (`ip link set … alias`), empty when it has none.
pub fn alias(name: &str) -> String {
    sys(name, "ifalias").unwrap_or_default()
}

/// A tap with carrier is held open by a process (a VMM).
pub fn in_use(tap: &str) -> bool {
    sys(tap, "carrier").as_deref() == Some("1")
}

fn set_alias(name: &str, owner: &str) -> Result<(), Ec2Error> {
    if alias(name) == owner {
        return Ok(());
    }
    ip(&["link", "set", "dev", name, "alias", owner])
}

/// The bridge of a VPC, with each subnet's router address (`a.b.c.1/prefix`) and its
/// owner record as alias. `up` only while an instance of the VPC runs: an idle bridge is
/// kept down, so it holds no route. Another state root (a region, a test) may have a VPC
/// with the same CIDR on its own bridge, and a bridge with no port has carrier: up, it
/// would capture the replies meant for the bridge whose instances run.
pub fn ensure_bridge(
    bridge: &str,
    gateways: &[String],
    owner: &str,
    up: bool,
) -> Result<(), Ec2Error> {
    if !link_exists(bridge) {
        ip(&["link", "add", bridge, "type", "bridge"])?;
    }
    set_alias(bridge, owner)?;
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
    // Bridged traffic between instances must pass the inet table's stateful rules; the
    // firewall drops it otherwise (fail closed).
    if sys(bridge, "bridge/nf_call_iptables").as_deref() != Some("1") {
        enable_bridge_conntrack(None, bridge)?;
    }
    match (up, is_up(bridge)) {
        (true, false) => ip(&["link", "set", bridge, "up"])?,
        (false, true) => ip(&["link", "set", bridge, "down"])?,
        _ => {}
    }
    if up {
        // Instances reach the outside (and NAT works) only if the host routes.
        let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1");
        // A bridge whose taps all lost their carrier (VMMs gone) must not keep its routes.
        let _ = std::fs::write(
            "/proc/sys/net/ipv4/conf/all/ignore_routes_with_linkdown",
            "1",
        );
    }
    Ok(())
}

/// Turns on br_netfilter for one VPC bridge (in the network namespace `netns`, or the
/// host's), which gives its frames IPv4 conntrack and NAT (see `net::firewall`); the
/// firewall's bridge chains drop all tap-to-tap IPv4 on a bridge without it.
pub fn enable_bridge_conntrack(netns: Option<&str>, bridge: &str) -> Result<(), Ec2Error> {
    if let Some(reason) = ifname_problem(bridge) {
        return Err(Ec2Error::internal(format!(
            "invalid bridge name {bridge:?}: {reason}"
        )));
    }
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
    let fail = |detail: String| {
        Ec2Error::internal(format!(
            "cannot enable br_netfilter on bridge {bridge:?} (`{shown}`): {detail}; create the bridge first, run as root, and check that iproute2 is installed"
        ))
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

/// Takes a bridge down (its routes go with it); nothing if it is down or absent.
pub fn set_down(bridge: &str) -> Result<(), Ec2Error> {
    if is_up(bridge) {
        ip(&["link", "set", bridge, "down"])?;
    }
    Ok(())
}

/// A persistent tap on `bridge`, up, with its owner record as alias. The VMM opens it by
/// name.
pub fn ensure_tap(tap: &str, bridge: &str, owner: &str) -> Result<(), Ec2Error> {
    if !link_exists(tap) {
        ip(&["tuntap", "add", "dev", tap, "mode", "tap", "vnet_hdr"])?;
    }
    set_alias(tap, owner)?;
    ip(&["link", "set", tap, "master", bridge])?;
    ip(&["link", "set", tap, "up"])
}

/// Deletes a link if it exists, as well as it can: a failure is not reported.
pub fn delete_link(name: &str) {
    if link_exists(name) {
        let _ = ip(&["link", "del", name]);
    }
}

/// Deletes links in one `ip` run (`-force`: on past any that fail), saying why it failed.
pub fn delete_links(names: &[String]) -> Result<(), Ec2Error> {
    if names.is_empty() {
        return Ok(());
    }
    let script: String = names.iter().map(|n| format!("link del {n}\n")).collect();
    let run = || -> std::io::Result<std::process::Output> {
        let mut child = Command::new("ip")
            .args(["-force", "-batch", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            std::io::Write::write_all(&mut stdin, script.as_bytes())?;
        }
        child.wait_with_output()
    };
    let out = run()
        .map_err(|e| Ec2Error::internal(format!("cannot run `ip` (install iproute2): {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    Err(Ec2Error::internal(format!(
        "`ip -batch` deleting {} failed: {}; run as root",
        names.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// Every link whose name starts with `prefix`.
pub fn links_named(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}
