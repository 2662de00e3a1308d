//! The firewall with real nftables and real traffic, in throwaway network namespaces:
//! a host namespace with the VPC bridges, one namespace per instance (a veth as its
//! tap), and an "internet" namespace behind an uplink. Skipped without root, `ip netns`,
//! nft or python3. The unit tests next to the code check the script's text; these check
//! what the kernel makes of it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use ec2lab::net::firewall::sample::{cidr, sample, tcp};
use ec2lab::net::firewall::{render, EniNet, Nft, Protocol, Rule, Ruleset, TableName, NFT_ENV};
use ec2lab::net::host::enable_bridge_conntrack;

/// Inside their own namespaces the tables may have the short name.
const TABLE: &str = "ec2lab";

fn table() -> TableName {
    TableName::new(TABLE).unwrap()
}

fn fmt_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn rendered(rs: &Ruleset) -> String {
    render(rs, &table()).unwrap()
}

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
    Nft::netns(&h).apply(other).unwrap();
    let script = rendered(&sample());
    Nft::netns(&h).check(&script).unwrap();
    assert!(list(&h, &["tables"]).contains("inet other"));
    assert!(
        !list(&h, &["tables"]).contains("ec2lab"),
        "check mode changed nothing"
    );
    Nft::netns(&h).apply(&script).unwrap();
    let first = list(&h, &["ruleset"]);
    Nft::netns(&h).apply(&script).unwrap();
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
    Nft::netns(&h).apply(&rendered(&small)).unwrap();
    assert!(!list(&h, &["ruleset"]).contains("eni_2"));
    // A failing transaction changes nothing.
    let bad = format!(
        "{}\nadd rule inet ec2lab forward bogus\n",
        rendered(&sample())
    );
    let e = Nft::netns(&h).apply(&bad).unwrap_err().to_string();
    assert!(e.contains("bogus") && e.contains("root"), "{e}");
    assert!(!list(&h, &["ruleset"]).contains("eni_2"));
    // An empty ruleset loads too.
    Nft::netns(&h)
        .apply(&rendered(&Ruleset::default()))
        .unwrap();
    Nft::netns(&h).remove(&[&table()]).unwrap();
    Nft::netns(&h).remove(&[&table()]).unwrap();
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
        (&h, 2222),
    ] {
        lab.server(ns, port);
    }
    let (vm1, vm2, vm3, h, ext) = (&vm1[..], &vm2[..], &vm3[..], &h[..], &ext[..]);
    let ok = |peer: &str| Some(peer.to_string());

    Nft::netns(h).apply(&rendered(&rs)).unwrap();
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
    // The host itself: only the metadata service and ICMP echo to the router. A host
    // service on another port is out of reach, on the router address and on the host's
    // other addresses alike, although the host listens on all of them and vm1 may send
    // anything.
    blocked_by(h, "inet", "host_input", &["counter packets"], || {
        connect(vm1, "10.10.0.1", 2222, None)
    });
    blocked_by(h, "inet", "host_input", &["counter packets"], || {
        connect(vm3, "198.51.100.1", 2222, None)
    });
    blocked_by(h, "inet", "host_input", &["counter packets"], || {
        connect(vm1, "10.10.0.1", 80, None)
    });
    assert_eq!(
        connect(h, "10.10.0.1", 2222, None),
        ok("10.10.0.1"),
        "the host's own use"
    );
    assert!(ping(vm1, "10.10.0.1"), "the router answers ping");
    assert!(ping(vm3, "10.20.0.1"), "the router answers ping");
    assert!(
        !ping(vm1, "198.51.100.1"),
        "the host's other addresses do not"
    );
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
    Nft::netns(h).apply(&rendered(&rs2)).unwrap();
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
    Nft::netns(h).remove(&[&table()]).unwrap();
    assert_eq!(connect(vm1, "10.10.0.12", 80, None), ok("10.10.0.11"));
}
