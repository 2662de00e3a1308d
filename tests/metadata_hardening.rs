//! The metadata service and the firewall under attack, with real supervisors, real tiny
//! guests (whose VMMs hold the instances' taps) and real nftables, each test in a network
//! namespace of its own that stands in for the host (`ip netns exec`: the ec2lab
//! commands, their supervisors and VMMs all live in it). The guests' side of the network
//! is played by network namespaces plugged into the VPC's bridge with the instance's
//! address and MAC (tiny guests have no network stack): for the metadata service and the
//! firewall, a namespace is a guest. Skipped without root, `ip netns`, nft or python3.

mod common;
use common::*;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `count` connections to the metadata service that each send half a request and then a
/// byte a second, reopening what the host closes, for `secs` seconds; prints how many
/// connections were made and how many the host closed.
const SLOWLORIS: &str = r#"
import socket, sys, time
count, secs = int(sys.argv[1]), float(sys.argv[2])
def opened():
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(('169.254.169.254', 80))
    return [s, False]
socks = [opened() for _ in range(count)]
sent = closed = 0
end = time.time() + secs
print('ready', flush=True)
while time.time() < end:
    for i, (s, started) in enumerate(socks):
        try:
            s.send(b'x' if started else b'GET /latest/meta-data/ HTTP/1.1\r\nX-Slow: ')
            socks[i][1] = True
            sent += 1
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:
            if not started and e.errno == 107:  # ENOTCONN: still connecting
                continue
            closed += 1
            s.close()
            socks[i] = opened()
    time.sleep(1)
print('sends', sent, 'closed by the host', closed, flush=True)
"#;

/// 2,000 slow connections from one instance: another instance's metadata still answers in
/// under a second, both supervisors live, and the flooding instance is answered again
/// once it stops. The hop limit of the token answer is EC2's: a container behind the
/// instance (one more hop) gets no token until HttpPutResponseHopLimit is 2.
#[test]
fn metadata_survives_slow_connections_and_enforces_the_hop_limit() {
    let Some(mut nss) = Namespaces::new() else {
        return;
    };
    let h = nss.add("h");
    let lab = Lab::new();
    let started = Instant::now();
    let insts = launch(&lab, &h, "lab-1", 2, &[]);
    let (bad, good) = (&insts[0], &insts[1]);
    let g_bad = stand_in(&mut nss, &h, "bad", bad);
    let g_good = stand_in(&mut nss, &h, "good", good);
    let (status, secs, body) = imds(&g_good, "GET", "/latest/meta-data/instance-id", 5.0);
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("200", good.id.as_str()),
        "{secs}"
    );

    let mut flood = py(&g_bad, SLOWLORIS, &["2000", "15"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(flood.stdout.take().unwrap()));
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let mut slowest = 0f64;
    let flood_end = Instant::now() + Duration::from_secs(13);
    let mut asked = 0;
    while Instant::now() < flood_end {
        let (status, secs, body) = imds(&g_good, "GET", "/latest/meta-data/instance-id", 5.0);
        assert_eq!(
            (status.as_str(), body.as_str()),
            ("200", good.id.as_str()),
            "during the flood, after {secs} s"
        );
        slowest = slowest.max(secs);
        asked += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    let summary = lines.next().unwrap().unwrap();
    flood.wait().unwrap();
    eprintln!("flood: {summary}; {asked} answers to the other instance, slowest {slowest} s");
    assert!(asked >= 10, "only {asked} requests in 13 s");
    // The host cuts trickling connections (a byte a second would renew a per-read
    // timeout forever): each within its 2 s deadline, so well over a hundred in 15 s.
    let closed: u64 = summary.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        closed >= 50,
        "the host closed only {closed} slow connections: {summary}"
    );
    assert!(slowest < 1.0, "an answer took {slowest} s");
    for i in &insts {
        assert!(
            alive(&format!("__supervise {}", i.id)),
            "supervisor of {} died",
            i.id
        );
    }
    // The flooder is served again as soon as its connections are gone.
    std::thread::sleep(Duration::from_secs(3));
    let (status, _, body) = imds(&g_bad, "GET", "/latest/meta-data/instance-id", 5.0);
    assert_eq!((status.as_str(), body.as_str()), ("200", bad.id.as_str()));

    // Hop limit: a "container" namespace behind the good instance's namespace, which
    // routes and masquerades for it.
    let c = nss.add("ctr");
    sh(&[
        "ip", "-n", &g_good, "link", "add", "ctr0", "type", "veth", "peer", "name", "eth0",
        "netns", &c,
    ]);
    sh(&[
        "ip",
        "-n",
        &g_good,
        "addr",
        "add",
        "192.168.77.1/24",
        "dev",
        "ctr0",
    ]);
    sh(&["ip", "-n", &g_good, "link", "set", "ctr0", "up"]);
    sh(&[
        "ip",
        "-n",
        &c,
        "addr",
        "add",
        "192.168.77.2/24",
        "dev",
        "eth0",
    ]);
    sh(&["ip", "-n", &c, "link", "set", "eth0", "up"]);
    sh(&[
        "ip",
        "-n",
        &c,
        "route",
        "add",
        "default",
        "via",
        "192.168.77.1",
    ]);
    sh(&[
        "ip",
        "netns",
        "exec",
        &g_good,
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
    ]);
    let nft = |rule: &str| sh(&["ip", "netns", "exec", &g_good, "nft", rule]);
    nft("add table ip ctr");
    nft("add chain ip ctr post { type nat hook postrouting priority srcnat; }");
    nft("add rule ip ctr post oifname eth0 masquerade");
    // On the instance itself (hop limit 1, the default): a token.
    let (status, _, token) = imds(&g_good, "PUT", "/latest/api/token", 3.0);
    assert_eq!(status, "200");
    assert!(!token.is_empty());
    // One hop further: the connection is made (the handshake is not limited) and a
    // plain GET is answered, but the token's answer dies on the way.
    let (status, _, body) = imds(&c, "GET", "/latest/meta-data/instance-id", 3.0);
    assert_eq!((status.as_str(), body.as_str()), ("200", good.id.as_str()));
    let (status, secs, why) = imds(&c, "PUT", "/latest/api/token", 3.0);
    assert_eq!(status, "error", "a token one hop too far: {secs} s {why}");
    ec2(
        &lab,
        &h,
        "lab-1",
        &[
            "modify-instance-metadata-options",
            "--instance-id",
            &good.id,
            "--http-put-response-hop-limit",
            "2",
        ],
    );
    let (status, _, token) = imds(&c, "PUT", "/latest/api/token", 3.0);
    assert_eq!(status, "200", "hop limit 2 reaches the container");
    assert!(!token.is_empty());
    eprintln!(
        "took {:?} (uname -r: {})",
        started.elapsed(),
        sh(&["uname", "-r"]).trim()
    );
}

/// Two regions whose default VPCs have the same addresses, each with a running instance
/// at the same private address and different user data, in one host namespace: 200
/// requests from each guest, at once, and every answer is its own instance's. ec2lab
/// refuses to run overlapping VPCs at once (one routing table); the test gets past that
/// check the way two commands racing through it would, by taking the first VPC's bridge
/// down while the second region launches.
#[test]
fn regions_on_one_cidr_never_answer_each_other() {
    let Some(mut nss) = Namespaces::new() else {
        return;
    };
    let h = nss.add("h");
    let lab = Lab::new();
    let started = Instant::now();
    let a = launch(
        &lab,
        &h,
        "lab-1",
        1,
        &["--user-data", "user data of region A"],
    )
    .remove(0);
    sh(&["ip", "-n", &h, "link", "set", &a.bridge, "down"]);
    let b = launch(
        &lab,
        &h,
        "lab-2",
        1,
        &["--user-data", "user data of region B"],
    )
    .remove(0);
    sh(&["ip", "-n", &h, "link", "set", &a.bridge, "up"]);
    assert_eq!(
        a.ip, b.ip,
        "both first instances take the subnet's first free address"
    );
    assert_ne!(a.bridge, b.bridge);
    let ga = stand_in(&mut nss, &h, "a", &a);
    let gb = stand_in(&mut nss, &h, "b", &b);
    // Two guests with one address that pick the same source port at the same moment make
    // one connection to the host's single conntrack table (one more reason overlapping
    // VPCs do not run at once; it would take conntrack zones per bridge). Each guest gets
    // ports of its own, so what is measured is which server answers.
    for (g, range) in [(&ga, "20000 29999"), (&gb, "30000 39999")] {
        let set = format!("net.ipv4.ip_local_port_range={range}");
        sh(&["ip", "netns", "exec", g, "sysctl", "-qw", &set]);
    }
    const LOOP: &str = r#"
import http.client, sys
for _ in range(int(sys.argv[1])):
    try:
        c = http.client.HTTPConnection('169.254.169.254', 80, timeout=5)
        c.request('GET', '/latest/user-data')
        r = c.getresponse()
        print(r.status, r.read().decode(), flush=True)
    except Exception as e:
        print('error', type(e).__name__, flush=True)
"#;
    let run = |ns: &str| {
        py(ns, LOOP, &["200"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (pa, pb) = (run(&ga), run(&gb));
    let answers = |p: std::process::Child| -> Vec<String> {
        let o: Output = p.wait_with_output().unwrap();
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(String::from)
            .collect()
    };
    let log = |region: &str, id: &str| {
        let p = lab
            .state_dir()
            .join(region)
            .join("instances")
            .join(id)
            .join("supervisor.log");
        std::fs::read_to_string(p).unwrap_or_default()
    };
    for (got, want, region, id) in [
        (answers(pa), "200 user data of region A", "lab-1", &a.id),
        (answers(pb), "200 user data of region B", "lab-2", &b.id),
    ] {
        assert_eq!(got.len(), 200);
        let wrong: Vec<_> = got.iter().filter(|l| *l != want).collect();
        assert!(
            wrong.is_empty(),
            "{} of 200 not {want:?} ({region}'s supervisor.log:\n{}): {:?}",
            wrong.len(),
            log(region, id),
            &wrong[..wrong.len().min(5)]
        );
    }
    eprintln!("took {:?}", started.elapsed());
}

/// The default security group of `region`'s default VPC.
fn default_group(lab: &Lab, h: &str, region: &str) -> String {
    let v = ec2(lab, h, region, &["describe-security-groups"]);
    v["SecurityGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["GroupName"] == "default")
        .unwrap()["GroupId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Both tables of the lab's region `lab-1` as the kernel of namespace `h` lists them, and
/// as they are when the store's ruleset is loaded into an empty namespace.
fn live_and_expected(lab: &Lab, h: &str, scratch: &str) -> (Option<String>, String) {
    use ec2lab::net::firewall::{render, Nft};
    let store = ec2lab::store::Store::open(lab.state_dir(), "lab-1").unwrap();
    let table = ec2lab::net::owner(&store).table;
    let script = render(&ec2lab::net::ruleset(&store).unwrap(), &table).unwrap();
    Nft::netns(scratch).apply(&script).unwrap();
    let expected = Nft::netns(scratch).listing(&table).unwrap();
    (Nft::netns(h).listing(&table), expected)
}

/// 20 commands change the rules at once; afterwards the live firewall is exactly what the
/// store describes. Then the bridge table (anti-spoofing) is deleted alone, and the next
/// command puts it back.
#[test]
fn parallel_rule_changes_end_in_the_store_s_ruleset_and_a_lost_table_comes_back() {
    let Some(mut nss) = Namespaces::new() else {
        return;
    };
    let h = nss.add("h");
    let scratch = nss.add("s");
    let lab = Lab::new();
    let started = Instant::now();
    launch(&lab, &h, "lab-1", 1, &[]);
    let sg = default_group(&lab, &h, "lab-1");
    let changes: Vec<_> = (0..20)
        .map(|i| {
            let port = (10_000 + i).to_string();
            let args = [
                "authorize-security-group-ingress",
                "--group-id",
                &sg,
                "--protocol",
                "tcp",
                "--port",
                &port,
                "--cidr",
                "10.99.0.0/16",
            ];
            inside(&h, lab.cmd(&args))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in changes {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (live, expected) = live_and_expected(&lab, &h, &scratch);
    let live = live.expect("both tables are loaded");
    for i in 0..20 {
        assert!(
            live.contains(&format!("tcp dport {} ", 10_000 + i)),
            "port {} missing:\n{live}",
            10_000 + i
        );
    }
    assert_eq!(live, expected, "the live firewall is the store's");

    let table =
        ec2lab::net::owner(&ec2lab::store::Store::open(lab.state_dir(), "lab-1").unwrap()).table;
    sh(&[
        "ip",
        "netns",
        "exec",
        &h,
        "nft",
        "delete",
        "table",
        "bridge",
        table.as_str(),
    ]);
    let (live, _) = live_and_expected(&lab, &h, &scratch);
    assert_eq!(live, None, "the bridge table is gone");
    ec2(&lab, &h, "lab-1", &["describe-instances"]);
    let (live, expected) = live_and_expected(&lab, &h, &scratch);
    assert_eq!(
        live.as_deref(),
        Some(expected.as_str()),
        "the next command restored it"
    );
    // A rule added by hand to the inet table is noticed too, and undone.
    let extra = format!("add rule inet {table} host_input iifname \"x\" accept");
    sh(&["ip", "netns", "exec", &h, "nft", &extra]);
    ec2(&lab, &h, "lab-1", &["describe-instances"]);
    let (live, expected) = live_and_expected(&lab, &h, &scratch);
    assert_eq!(
        live.as_deref(),
        Some(expected.as_str()),
        "the next command undid the edit"
    );
    eprintln!("took {:?}", started.elapsed());
}

/// A guest reaches the metadata service and pings its router, but a service the host
/// runs on another port is out of its reach, on the router's address and on the host's
/// other addresses alike.
#[test]
fn a_guest_cannot_reach_host_ports_not_meant_for_it() {
    let started = Instant::now();
    let Some(OneGuest {
        nss: _nss,
        h,
        lab,
        inst,
        g,
    }) = one_guest()
    else {
        return;
    };
    // The host's other network, and a service listening on all its addresses.
    sh(&["ip", "-n", &h, "addr", "add", "198.18.0.1/32", "dev", "lo"]);
    const LISTEN: &str = "
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 2222))
s.listen(8)
print('ready', flush=True)
while True:
    c, a = s.accept()
    c.sendall(b'host service')
    c.close()
";
    let mut server = py(&h, LISTEN, &[]).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready");
    const CONNECT: &str = "
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    print(s.recv(100).decode())
except Exception as e:
    print('failed', type(e).__name__)
";
    let connect = |ns: &str, to: &str| -> String {
        let o = py(ns, CONNECT, &[to, "2222"]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let table =
        ec2lab::net::owner(&ec2lab::store::Store::open(lab.state_dir(), "lab-1").unwrap()).table;
    let dropped = || -> u64 {
        let text = sh(&[
            "ip",
            "netns",
            "exec",
            &h,
            "nft",
            "list",
            "chain",
            "inet",
            table.as_str(),
            "host_input",
        ]);
        let last = text
            .lines()
            .map(str::trim)
            .rfind(|l| l.starts_with("counter packets"))
            .unwrap();
        last.split(' ').nth(2).unwrap().parse().unwrap()
    };
    assert_eq!(
        connect(&h, &inst.gateway),
        "host service",
        "the host itself may"
    );
    for to in [inst.gateway.as_str(), "198.18.0.1"] {
        let before = dropped();
        assert_eq!(connect(&g, to), "failed TimeoutError", "guest -> {to}:2222");
        assert!(dropped() > before, "host_input's last rule dropped it");
    }
    let (status, _, body) = imds(&g, "GET", "/latest/meta-data/instance-id", 5.0);
    assert_eq!((status.as_str(), body.as_str()), ("200", inst.id.as_str()));
    let ping = |to: &str| {
        Command::new("ip")
            .args(["netns", "exec", &g, "ping", "-c1", "-W2", to])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(ping(&inst.gateway), "the router answers ping");
    assert!(!ping("198.18.0.1"), "the host's other addresses do not");
    let _ = server.kill();
    let _ = server.wait();
    eprintln!("took {:?}", started.elapsed());
}
