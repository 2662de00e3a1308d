//! Networking on real guests (the quick-start AMI) with real traffic: an "internet"
//! network namespace routed through the host, security groups changed on running
//! instances (ingress and egress), source-group rules between instances, VPC isolation,
//! anti-spoofing, the firewall restored after its tables were deleted, and a second
//! network interface attached to a stopped instance that the guest configures at boot.
//!
//! One test, few boots (each takes ~35 s on the nested KVM here): instances A and B boot
//! together, B restarts once with its second interface, then C replaces B in another VPC.
//! Guest-side work is a handful of busybox processes, typed on the serial console.

mod common;
use common::*;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BOOT_TIMEOUT: Duration = Duration::from_secs(420);

/// Runs an ec2lab verb on the real guest images; returns (exit code, JSON, stderr).
fn ec2_raw(lab: &Lab, args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut c = lab.cmd(args);
    c.env("EC2LAB_GUEST_IMAGES", guest_images_dir())
        .env_remove("EC2LAB_WARM_CACHE");
    let out = run_with_timeout(c, BOOT_TIMEOUT.as_secs());
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null),
        stderr(&out),
    )
}

fn ec2(lab: &Lab, args: &[&str]) -> serde_json::Value {
    let (code, json, err) = ec2_raw(lab, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    json
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Logs the peer address of every connection, then closes it.
const LISTENER: &str = "
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1])))
s.listen(16)
print('ready', flush=True)
while True:
    c, a = s.accept()
    print(a[0], flush=True)
    c.close()
";

/// Prints connected, refused or timeout.
const PROBE: &str = "
import socket, sys
s = socket.socket()
s.settimeout(3)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print('connected')
except socket.timeout:
    print('timeout')
except ConnectionRefusedError:
    print('refused')
except OSError as e:
    print('error', e)
";

/// "The internet": a network namespace behind a veth pair, routed by the host
/// (198.51.100.2 there, 198.51.100.1 on the host), with a TCP listener on port 9000.
struct Internet {
    ns: String,
    veth: String,
    listener: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

const INET_ADDR: &str = "198.51.100.2";

impl Internet {
    fn new() -> Internet {
        let tag = std::process::id() % 100_000;
        let (ns, veth) = (format!("ec2inet{tag}"), format!("ec2vi{tag}"));
        let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        let _ = Command::new("ip").args(["link", "del", &veth]).output();
        sh(&["ip", "netns", "add", &ns]);
        sh(&[
            "ip", "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ]);
        sh(&["ip", "addr", "add", "198.51.100.1/24", "dev", &veth]);
        sh(&["ip", "link", "set", &veth, "up"]);
        let n = |args: &[&str]| {
            let mut v = vec!["ip", "-n", ns.as_str()];
            v.extend_from_slice(args);
            sh(&v);
        };
        n(&["addr", "add", "198.51.100.2/24", "dev", "eth0"]);
        n(&["link", "set", "eth0", "up"]);
        n(&["link", "set", "lo", "up"]);
        n(&["route", "add", "default", "via", "198.51.100.1"]);
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("listener.log");
        let listener = Command::new("ip")
            .args(["netns", "exec", &ns, "python3", "-c", LISTENER, "9000"])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let end = Instant::now() + Duration::from_secs(20);
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("ready")
        {
            assert!(
                Instant::now() < end,
                "the internet's listener did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Internet {
            ns,
            veth,
            listener,
            log,
            _dir: dir,
        }
    }

    /// A TCP connection from the internet to `ip:port`: connected, refused or timeout.
    fn probe(&self, ip: &str, port: u16) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "python3", "-c", PROBE, ip])
            .arg(port.to_string())
            .output()
            .unwrap();
        let r = String::from_utf8_lossy(&out.stdout).trim().to_string();
        eprintln!("internet -> {ip}:{port}: {r}");
        r
    }

    /// The source addresses the listener has seen.
    fn peers(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .map(String::from)
            .collect()
    }
}

impl Drop for Internet {
    fn drop(&mut self) {
        let _ = self.listener.kill();
        let _ = self.listener.wait();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth])
            .status();
    }
}

/// The name ec2lab gives this lab's nftables tables (see net::table_name).
fn table_name(lab: &Lab) -> String {
    let root = lab.state_dir().join("lab-1").display().to_string();
    let h = root.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("ec2lab_{:08x}", h as u32)
}

/// Packets dropped so far for a forged source: by the bridge table's anti-spoofing chain
/// of interface `eni` (forged MAC, ARP, or bridged IPv4 that skipped the inet table), or
/// by the inet table's last rule for traffic from the VPC whose source address is no
/// interface's (a forged IP address meets that first).
fn spoof_drops(lab: &Lab, eni: &str) -> u64 {
    let table = table_name(lab);
    let chain = format!("eni_{}_spoof", eni.trim_start_matches("eni-"));
    let list = |family: &str, chain: &str| {
        let out = Command::new("nft")
            .args(["list", "chain", family, &table, chain])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "no chain {family} {chain}: {text}");
        text
    };
    let packets = |line: &str| -> u64 {
        line.split("packets ")
            .nth(1)
            .and_then(|t| t.split(' ').next()?.parse().ok())
            .unwrap_or(0)
    };
    let bridge: u64 = list("bridge", &chain).lines().map(packets).sum();
    let unknown_source: u64 = list("inet", "vpc_egress")
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("counter packets") && l.ends_with("drop"))
        .map(packets)
        .sum();
    bridge + unknown_source
}

/// Waits for the ready marker of the instance's current boot: the console keeps earlier
/// boots, whose marker says nothing about this one. Fails at once if the instance left
/// pending/running (its guest or VMM died), with its state reason.
fn wait_ready(lab: &Lab, id: &str) {
    let end = Instant::now() + BOOT_TIMEOUT;
    loop {
        let out = ec2(lab, &["get-console-output", "--instance-id", id]);
        let text = out["Output"].as_str().unwrap_or("");
        if ec2lab::instances::console::ready(text) {
            return;
        }
        let d = ec2(lab, &["describe-instances", "--instance-ids", id]);
        let inst = &d["Reservations"][0]["Instances"][0];
        let state = inst["State"]["Name"].as_str().unwrap_or("?");
        assert!(
            matches!(state, "pending" | "running"),
            "{id} became {state} before it was ready ({}); this boot's console:\n{}",
            inst["StateReason"],
            ec2lab::instances::console::current_boot(text)
        );
        assert!(Instant::now() < end, "{id} never got ready: {out}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Can the guest open a TCP connection to `ip:port`? (busybox nc, `secs` to connect)
fn guest_connects_within(c: &mut Console, ip: &str, port: u16, secs: u32) -> bool {
    let (code, seen) = c.status(&format!("nc -w {secs} {ip} {port} </dev/null"));
    eprintln!("guest -> {ip}:{port}: exit {code}");
    if std::env::var("EC2LAB_DEBUG_NET").is_ok() {
        eprintln!("{seen}");
    }
    assert!(code >= 0, "no exit status: {seen}");
    code == 0
}

/// The guest's connection to `ip:port` succeeds. A guest kernel is slow here (every
/// packet is emulated kernel work, on cores shared with other guests): a first attempt
/// that runs out of time is tried once more, with longer.
fn guest_reaches(c: &mut Console, ip: &str, port: u16) -> bool {
    guest_connects_within(c, ip, port, 5) || guest_connects_within(c, ip, port, 15)
}

/// The guest's connection to `ip:port` gets nowhere.
fn guest_blocked(c: &mut Console, ip: &str, port: u16) -> bool {
    !guest_connects_within(c, ip, port, 5)
}

#[test]
fn security_groups_vpcs_and_interfaces_on_real_guests() {
    if real_guest_images().is_none() {
        return;
    }
    let _one = real_guest_lock();
    let started = Instant::now();
    let lab = Lab::new();
    let ec2 = |args: &[&str]| ec2(&lab, args);
    let s = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    let ami = s(&ec2(&["describe-images"])["Images"][0]["ImageId"]);
    let group = |name: &str, vpc: Option<&str>| {
        let mut args = vec![
            "create-security-group",
            "--group-name",
            name,
            "--description",
            name,
        ];
        if let Some(v) = vpc {
            args.extend(["--vpc-id", v]);
        }
        s(&ec2(&args)["GroupId"])
    };
    let rule = |verb: &str, sg: &str, proto: &str, port: &str, peer: &str| {
        let flag = if peer.starts_with("sg-") {
            "--source-group"
        } else {
            "--cidr"
        };
        ec2(&[
            verb,
            "--group-id",
            sg,
            "--protocol",
            proto,
            "--port",
            port,
            flag,
            peer,
        ]);
    };
    // A VPC of this test's own, outside the range tests/common/vpcs.rs hands out for the
    // labs' default VPCs: the host has one routing table, and ec2lab refuses to run
    // instances in a CIDR that another state directory's running VPC already holds.
    let vpc = s(&ec2(&["create-vpc", "--cidr-block", "10.213.0.0/16"])["Vpc"]["VpcId"]);
    let subnet_of = |vpc: &str, cidr: &str| {
        s(&ec2(&[
            "create-subnet",
            "--vpc-id",
            vpc,
            "--cidr-block",
            cidr,
            "--availability-zone",
            "lab-1a",
        ])["Subnet"]["SubnetId"])
    };
    let subnet = subnet_of(&vpc, "10.213.1.0/24");
    let web = group("web", Some(&vpc));
    let app = group("app", Some(&vpc));
    rule(
        "authorize-security-group-ingress",
        &web,
        "tcp",
        "80",
        "0.0.0.0/0",
    );

    let inet = Internet::new();
    let launch = |sg: &str| {
        ec2(&[
            "run-instances",
            "--image-id",
            &ami,
            "--security-group-ids",
            sg,
            "--subnet-id",
            &subnet,
            "--associate-public-ip-address",
        ])["Instances"][0]
            .clone()
    };
    let a = launch(&web);
    let b = launch(&app);
    let (a_id, a_priv, a_pub) = (
        s(&a["InstanceId"]),
        s(&a["PrivateIpAddress"]),
        s(&a["PublicIpAddress"]),
    );
    let (b_id, b_pub) = (s(&b["InstanceId"]), s(&b["PublicIpAddress"]));
    let b_eni = s(&b["NetworkInterfaces"][0]["NetworkInterfaceId"]);
    wait_ready(&lab, &a_id);
    wait_ready(&lab, &b_id);
    eprintln!("A and B ready after {:?}", started.elapsed());

    // A serves ports 80 and 8080 (two busybox httpd daemons).
    let mut ca = Console::open(&lab, &a_id);
    let (code, seen) = ca.status("httpd -p 80 -h /tmp && httpd -p 8080 -h /tmp");
    assert_eq!(code, 0, "{seen}");

    // From the internet, through A's public address: 80 allowed, 8080 denied (dropped).
    assert_eq!(inet.probe(&a_pub, 80), "connected");
    assert_eq!(inet.probe(&a_pub, 8080), "timeout");

    // B, in the same VPC: 80 is open to all; 8080 only once a rule names B's group.
    let mut cb = Console::open(&lab, &b_id);
    if !guest_reaches(&mut cb, &a_priv, 80) {
        let (_, seen) = cb.status(&format!(
            "ip addr; ip route; ping -c 2 -W 2 10.213.1.1; ping -c 2 -W 2 {a_priv}; ip neigh; nc -w 20 {a_priv} 80 </dev/null"
        ));
        let t = table_name(&lab);
        for f in ["inet", "bridge"] {
            let o = Command::new("nft")
                .args(["list", "table", f, &t])
                .output()
                .unwrap();
            eprintln!("{}", String::from_utf8_lossy(&o.stdout));
        }
        let o = Command::new("ip").args(["-d", "link"]).output().unwrap();
        eprintln!("{}", String::from_utf8_lossy(&o.stdout));
        panic!("B cannot reach A:80: {seen}");
    }
    assert!(guest_blocked(&mut cb, &a_priv, 8080), "no rule lets B in");
    rule(
        "authorize-security-group-ingress",
        &web,
        "tcp",
        "8080",
        &app,
    );
    assert!(
        guest_reaches(&mut cb, &a_priv, 8080),
        "the source-group rule"
    );
    assert_eq!(
        inet.probe(&a_pub, 8080),
        "timeout",
        "a source-group rule lets in only the group's members"
    );

    // B spoofs another source address: nothing gets through, although A's port 80 is open
    // to every address, and B's anti-spoofing chain is what dropped it.
    let drops = spoof_drops(&lab, &b_eni);
    let (code, seen) = cb.status(&format!(
        "ip addr add 10.213.1.250/32 dev eth0 && ip route add {a_priv}/32 dev eth0 src 10.213.1.250 && nc -w 5 {a_priv} 80 </dev/null"
    ));
    assert_ne!(code, 0, "a spoofed connection got through: {seen}");
    assert!(
        spoof_drops(&lab, &b_eni) > drops,
        "not dropped by the anti-spoofing rules"
    );

    // A rule change on the running instance: 8080 opens to the internet, 80 closes.
    rule(
        "authorize-security-group-ingress",
        &web,
        "tcp",
        "8080",
        "198.51.100.0/24",
    );
    rule(
        "revoke-security-group-ingress",
        &web,
        "tcp",
        "80",
        "0.0.0.0/0",
    );
    assert_eq!(inet.probe(&a_pub, 8080), "connected");
    assert_eq!(inet.probe(&a_pub, 80), "timeout");

    // Egress: A reaches the internet as its public address; without the default
    // allow-all egress rule it cannot, and with it back it can again.
    assert!(guest_reaches(&mut ca, INET_ADDR, 9000));
    assert_eq!(
        inet.peers().last(),
        Some(&a_pub),
        "not SNATed to A's public IP"
    );
    rule(
        "revoke-security-group-egress",
        &web,
        "-1",
        "-1",
        "0.0.0.0/0",
    );
    assert!(
        guest_blocked(&mut ca, INET_ADDR, 9000),
        "egress revoked, still out"
    );
    rule(
        "authorize-security-group-egress",
        &web,
        "-1",
        "-1",
        "0.0.0.0/0",
    );
    assert!(guest_reaches(&mut ca, INET_ADDR, 9000), "egress restored");

    // The host's rules deleted (a flush, a reboot): the next ec2lab command restores them.
    let table = table_name(&lab);
    for family in ["inet", "bridge"] {
        sh(&["nft", "delete", "table", family, &table]);
    }
    ec2(&["describe-vpcs"]);
    assert_eq!(
        inet.probe(&a_pub, 8080),
        "connected",
        "the firewall was not restored"
    );
    assert_eq!(
        inet.probe(&a_pub, 80),
        "timeout",
        "restored without its rules"
    );

    // A group in use cannot be deleted.
    let (code, _, err) = ec2_raw(&lab, &["delete-security-group", "--group-id", &web]);
    assert!(
        code == 254 && err.contains("(DependencyViolation)"),
        "{err}"
    );

    // A second interface, in another subnet of the VPC, on B while it is stopped: the
    // guest has it at the next boot, with its address, behind its own group.
    let subnet2 = subnet_of(&vpc, "10.213.2.0/24");
    let ping = group("ping", Some(&vpc));
    rule(
        "authorize-security-group-ingress",
        &ping,
        "icmp",
        "-1",
        "0.0.0.0/0",
    );
    let eni = s(&ec2(&[
        "create-network-interface",
        "--subnet-id",
        &subnet2,
        "--groups",
        &ping,
        "--private-ip-address",
        "10.213.2.10",
    ])["NetworkInterface"]["NetworkInterfaceId"]);
    let attach = [
        "attach-network-interface",
        "--network-interface-id",
        &eni,
        "--instance-id",
        &b_id,
        "--device-index",
        "1",
    ];
    let (code, _, err) = ec2_raw(&lab, &attach);
    assert!(
        code == 254 && err.contains("(IncorrectInstanceState)"),
        "no hot-plug, so a running instance refuses: {err}"
    );
    drop(cb);
    ec2(&["stop-instances", "--instance-ids", &b_id, "--force"]);
    ec2(&["wait", "instance-stopped", "--instance-ids", &b_id]);
    assert!(
        lab.describe(&b_id).get("PublicIpAddress").is_none(),
        "a stopped instance keeps no automatic public address"
    );
    ec2(&attach);
    ec2(&["start-instances", "--instance-ids", &b_id]);
    // The first boot's ready line is still in the console output, but it is not this
    // boot's: waiting on it once ended at once, and B's console socket was not there yet.
    let out = ec2(&["get-console-output", "--instance-id", &b_id]);
    let out = out["Output"].as_str().unwrap_or("");
    eprintln!(
        "B started again; the first boot's ready line {} in its console output",
        if out.contains("EC2LAB-GUEST-READY") {
            "is still"
        } else {
            "is no longer"
        }
    );
    assert!(
        !ec2lab::instances::console::ready(out),
        "the first boot's ready line counted for the second: {out}"
    );
    let d = lab.describe(&b_id);
    assert_eq!(d["NetworkInterfaces"].as_array().unwrap().len(), 2);
    assert!(
        d.get("PublicIpAddress").is_none(),
        "with two interfaces there is no automatic public address (was {b_pub})"
    );
    wait_ready(&lab, &b_id);
    let mut cb = Console::open(&lab, &b_id);
    cb.run("ip -4 -o addr show dev eth1", "inet 10.213.2.10/24");
    let pinged = Command::new("ping")
        .args(["-c", "2", "-W", "3", "10.213.2.10"])
        .status()
        .unwrap()
        .success();
    assert!(pinged, "no reply from B's second interface");
    drop(cb);

    // C, in another VPC, replaces B: it cannot reach A's private address, although A lets
    // everyone in on port 80; A's public address it can reach.
    ec2(&["terminate-instances", "--instance-ids", &b_id]);
    let vpc2 = s(&ec2(&["create-vpc", "--cidr-block", "10.214.0.0/16"])["Vpc"]["VpcId"]);
    let subnet3 = subnet_of(&vpc2, "10.214.1.0/24");
    rule(
        "authorize-security-group-ingress",
        &web,
        "tcp",
        "80",
        "0.0.0.0/0",
    );
    ec2(&["wait", "instance-terminated", "--instance-ids", &b_id]);
    let c = ec2(&["run-instances", "--image-id", &ami, "--subnet-id", &subnet3])["Instances"][0]
        .clone();
    let c_id = s(&c["InstanceId"]);
    wait_ready(&lab, &c_id);
    let mut cc = Console::open(&lab, &c_id);
    assert!(
        guest_blocked(&mut cc, &a_priv, 80),
        "another VPC reached a private address"
    );
    assert!(
        guest_reaches(&mut cc, &a_pub, 80),
        "another VPC cannot reach a public address"
    );
    ec2(&["terminate-instances", "--instance-ids", &a_id, &c_id]);
    eprintln!(
        "network walk-through on real guests: {:?}",
        started.elapsed()
    );
}
