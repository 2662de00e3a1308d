//! Stand-in guests for the metadata service and the firewall: the ec2lab commands, their
//! supervisors and VMMs (tiny guests) run in a network namespace that stands in for the
//! host; the guests' side of the network is played by network namespaces plugged into
//! the VPC's bridge with an instance's address and MAC (tiny guests have no network
//! stack). Skipped without root, `ip netns`, nft or python3.

use super::*;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Network namespaces of one test, deleted on drop (after the lab, declared after them,
/// has ended its processes).
pub struct Namespaces {
    pub prefix: String,
    made: Vec<String>,
}

impl Namespaces {
    pub fn new() -> Option<Namespaces> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let prefix = format!(
            "md{}x{}",
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::SeqCst)
        );
        let ok = |c: &mut Command| c.output().is_ok_and(|o| o.status.success());
        let probe = format!("{prefix}probe");
        let can = ok(Command::new("ip").args(["netns", "add", &probe]))
            && ok(Command::new("nft").arg("--version"))
            && ok(Command::new("python3").arg("--version"));
        let _ = Command::new("ip").args(["netns", "del", &probe]).output();
        if !can {
            eprintln!("SKIPPED: needs root, `ip netns`, nft and python3");
            return None;
        }
        Some(Namespaces {
            prefix,
            made: vec![],
        })
    }

    pub fn add(&mut self, name: &str) -> String {
        let full = format!("{}{name}", self.prefix);
        sh(&["ip", "netns", "add", &full]);
        self.made.push(full.clone());
        sh(&["ip", "-n", &full, "link", "set", "lo", "up"]);
        full
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in self.made.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `cmd` inside the network namespace `ns`, environment and all.
pub fn inside(ns: &str, cmd: Command) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).arg(cmd.get_program());
    c.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

/// An ec2lab verb in region `region` of `lab`, run in the host namespace `h`; must succeed.
pub fn ec2(lab: &Lab, h: &str, region: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--region", region];
    all.extend_from_slice(args);
    let out = run_with_timeout(inside(h, lab.cmd(&all)), 120);
    assert!(out.status.success(), "{all:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// One launched instance as its stand-in guest needs it.
pub struct Launched {
    pub id: String,
    pub ip: String,
    pub mac: String,
    pub prefix: String,
    pub gateway: String,
    pub bridge: String,
}

/// Launches `count` tiny instances in `region` (with `extra` arguments) and waits until
/// they run.
pub fn launch(lab: &Lab, h: &str, region: &str, count: usize, extra: &[&str]) -> Vec<Launched> {
    let files = lab.state_dir().join(format!("{region}-tiny"));
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(
        files.join("kernel"),
        elf(&tiny_os(TinyOs::StayUp).code, true),
    )
    .unwrap();
    tiny_root_disk(&files.join("root.img"));
    let ami = ec2(
        lab,
        h,
        region,
        &[
            "register-image",
            "--name",
            "tiny",
            "--kernel-file",
            files.join("kernel").to_str().unwrap(),
            "--root-image-file",
            files.join("root.img").to_str().unwrap(),
        ],
    )["ImageId"]
        .as_str()
        .unwrap()
        .to_string();
    let n = count.to_string();
    let mut args = vec!["run-instances", "--image-id", &ami, "--count", &n];
    args.extend_from_slice(extra);
    let run = ec2(lab, h, region, &args);
    let mut out = vec![];
    for i in run["Instances"].as_array().unwrap() {
        let id = i["InstanceId"].as_str().unwrap().to_string();
        ec2(
            lab,
            h,
            region,
            &[
                "wait",
                "instance-running",
                "--instance-ids",
                &id,
                "--timeout-secs",
                "60",
            ],
        );
        let eni = &i["NetworkInterfaces"][0];
        let subnet = ec2(
            lab,
            h,
            region,
            &[
                "describe-subnets",
                "--subnet-ids",
                i["SubnetId"].as_str().unwrap(),
            ],
        );
        let cidr = subnet["Subnets"][0]["CidrBlock"].as_str().unwrap();
        let (net, prefix) = cidr.split_once('/').unwrap();
        let net: std::net::Ipv4Addr = net.parse().unwrap();
        let vpc = i["VpcId"].as_str().unwrap();
        out.push(Launched {
            id,
            ip: i["PrivateIpAddress"].as_str().unwrap().to_string(),
            mac: eni["MacAddress"].as_str().unwrap().to_string(),
            prefix: prefix.to_string(),
            gateway: std::net::Ipv4Addr::from(u32::from(net) + 1).to_string(),
            bridge: format!("ec2br{}", &vpc[4..14]),
        });
    }
    out
}

/// One tiny instance of a fresh lab run from the host namespace `h`, and its stand-in
/// guest `g`: what most of the metadata tests start from. Bind it with `nss` first, so
/// that the namespaces go last, after the lab has ended its processes.
pub struct OneGuest {
    pub nss: Namespaces,
    pub h: String,
    pub lab: Lab,
    pub inst: Launched,
    pub g: String,
}

/// [`OneGuest`], or `None` where the namespaces cannot be made (the test is skipped).
pub fn one_guest() -> Option<OneGuest> {
    let mut nss = Namespaces::new()?;
    let h = nss.add("h");
    let lab = Lab::new();
    let inst = launch(&lab, &h, "lab-1", 1, &[]).remove(0);
    let g = stand_in(&mut nss, &h, "g", &inst);
    Some(OneGuest {
        nss,
        h,
        lab,
        inst,
        g,
    })
}

/// A namespace plugged into the instance's bridge in `h` with its address and MAC: the
/// guest, as far as the host's network can tell.
pub fn stand_in(nss: &mut Namespaces, h: &str, name: &str, inst: &Launched) -> String {
    let g = nss.add(name);
    let veth = format!("v{name}");
    sh(&[
        "ip", "-n", h, "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &g,
    ]);
    sh(&[
        "ip",
        "-n",
        h,
        "link",
        "set",
        &veth,
        "master",
        &inst.bridge,
        "up",
    ]);
    sh(&[
        "ip", "-n", &g, "link", "set", "eth0", "address", &inst.mac, "up",
    ]);
    let addr = format!("{}/{}", inst.ip, inst.prefix);
    sh(&["ip", "-n", &g, "addr", "add", &addr, "dev", "eth0"]);
    sh(&[
        "ip",
        "-n",
        &g,
        "route",
        "add",
        "default",
        "via",
        &inst.gateway,
    ]);
    g
}

/// `python3 -c CODE ARGS...` in namespace `ns`.
pub fn py(ns: &str, code: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, "python3", "-c", code])
        .args(args);
    c
}

/// One metadata request: `METHOD PATH [TTL-header]`; prints `<status> <seconds> <body>`,
/// or `error <seconds> <why>`.
pub const IMDS: &str = r#"
import http.client, sys, time
method, path = sys.argv[1], sys.argv[2]
headers = {'X-aws-ec2-metadata-token-ttl-seconds': '60'} if method == 'PUT' else {}
t = time.time()
try:
    c = http.client.HTTPConnection('169.254.169.254', 80, timeout=float(sys.argv[3]))
    c.request(method, path, headers=headers)
    r = c.getresponse()
    print(r.status, round(time.time() - t, 3), r.read().decode())
except Exception as e:
    print('error', round(time.time() - t, 3), type(e).__name__)
"#;

pub fn imds(ns: &str, method: &str, path: &str, timeout: f64) -> (String, f64, String) {
    let out = py(ns, IMDS, &[method, path, &timeout.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut parts = text.splitn(3, ' ');
    let status = parts.next().unwrap_or_default().to_string();
    let secs = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN);
    (status, secs, parts.next().unwrap_or_default().to_string())
}

pub fn alive(pattern: &str) -> bool {
    Command::new("pgrep")
        .args(["-f", pattern])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
