//! Host network resources follow their state directory: the bridges, taps and nftables
//! tables of a deleted state directory (or region) go at the next command, an idle VPC's
//! bridge is down and holds no route, and two state directories cannot run instances in
//! overlapping VPCs at once (the second is refused, naming the first).
//!
//! The labs of one test share a default VPC CIDR (every user's default VPC is
//! 172.31.0.0/16); it is one of the test CIDRs, so other tests' labs do not mind.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The tests of this file one at a time: each deletes state directories and checks the
/// one line of the command that notices, which another test's command could take.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Labs whose default VPCs all have the same CIDR.
fn labs_sharing_a_cidr(n: usize) -> Vec<Lab> {
    let first = Lab::new();
    let cidr = first.default_vpc.clone();
    let mut labs = vec![first];
    for _ in 1..n {
        let mut l = Lab::new();
        l.default_vpc = cidr.clone();
        labs.push(l);
    }
    labs
}

/// What ec2lab made on the host for one region of a lab.
struct Host {
    /// `<state dir>/<region>`, as the owner records name it (absolute, no symlinks).
    root: PathBuf,
    bridge: String,
    table: String,
    vpc: String,
}

fn sys(link: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(Path::new("/sys/class/net").join(link).join(file))
        .ok()
        .map(|s| s.trim().to_string())
}

fn exists(link: &str) -> bool {
    Path::new("/sys/class/net").join(link).exists()
}

fn is_up(link: &str) -> bool {
    sys(link, "flags")
        .and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok())
        .is_some_and(|f| f & 1 != 0)
}

fn run(cmd: &[&str]) -> String {
    let out = Command::new(cmd[0]).args(&cmd[1..]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The main routing table's routes through `link`.
fn routes_via(link: &str) -> String {
    run(&["ip", "-4", "route", "show", "table", "main", "dev", link])
}

fn tables_exist(table: &str) -> bool {
    ["inet", "bridge"].iter().all(|f| {
        Command::new("nft")
            .args(["list", "table", f, table])
            .output()
            .unwrap()
            .status
            .success()
    })
}

fn owner_file(table: &str) -> PathBuf {
    Path::new("/run/ec2lab/owners").join(table)
}

/// Runs a VPC verb in `region` of `lab` and reads back what it made on the host.
fn vpc_verb(lab: &Lab, region: &str) -> Host {
    lab.ok(&[
        "--region",
        region,
        "create-security-group",
        "--group-name",
        "web",
        "--description",
        "web servers",
    ]);
    let vpcs = lab.ok(&["--region", region, "describe-vpcs"]);
    let v = &vpcs["Vpcs"][0];
    let bridge = v["Ec2LabInfo"]["Bridge"].as_str().unwrap().to_string();
    let root = std::fs::canonicalize(lab.state_dir()).unwrap().join(region);
    let alias = sys(&bridge, "ifalias").unwrap_or_default();
    // `ec2lab <table> <vpc> <root>`
    let parts: Vec<&str> = alias.splitn(4, ' ').collect();
    assert_eq!(
        parts.len(),
        4,
        "bridge {bridge} has no owner record: {alias:?}"
    );
    assert_eq!(parts[0], "ec2lab");
    assert_eq!(parts[2], v["VpcId"].as_str().unwrap(), "{alias}");
    assert_eq!(Path::new(parts[3]), root, "{alias}");
    Host {
        root,
        bridge,
        table: parts[1].to_string(),
        vpc: parts[2].to_string(),
    }
}

/// An idle VPC's bridge: there, down, no route in the main table.
fn assert_idle(h: &Host) {
    assert!(exists(&h.bridge), "{} is gone", h.bridge);
    assert!(!is_up(&h.bridge), "idle bridge {} is up", h.bridge);
    assert_eq!(
        routes_via(&h.bridge),
        "",
        "idle bridge {} has routes",
        h.bridge
    );
}

fn assert_gone(h: &Host) {
    assert!(!exists(&h.bridge), "{} of {:?} is left", h.bridge, h.root);
    assert!(!tables_exist(&h.table), "tables {} are left", h.table);
    assert!(
        !owner_file(&h.table).exists(),
        "owner record {} is left",
        h.table
    );
}

fn assert_kept(h: &Host) {
    assert!(
        exists(&h.bridge),
        "{} of {:?} was removed",
        h.bridge,
        h.root
    );
    assert!(tables_exist(&h.table), "tables {} were removed", h.table);
    assert!(
        owner_file(&h.table).exists(),
        "owner record {} removed",
        h.table
    );
}

#[test]
fn deleted_state_directories_lose_their_host_network_and_idle_bridges_hold_no_route() {
    let _serial = serial();
    let labs = labs_sharing_a_cidr(3);
    let [a, b, c] = &labs[..] else { unreachable!() };
    let (ha, hb, hc) = (
        vpc_verb(a, "lab-1"),
        vpc_verb(b, "lab-1"),
        vpc_verb(c, "lab-1"),
    );
    // A region is a state root of its own.
    let hc2 = vpc_verb(c, "lab-2");
    for h in [&ha, &hb, &hc, &hc2] {
        assert_idle(h);
        assert!(tables_exist(&h.table));
        assert_eq!(
            std::fs::read_to_string(owner_file(&h.table))
                .unwrap()
                .trim(),
            h.root.to_str().unwrap()
        );
    }

    std::fs::remove_dir_all(a.state_dir()).unwrap();
    std::fs::remove_dir_all(b.state_dir()).unwrap();
    std::fs::remove_dir_all(c.state_dir().join("lab-2")).unwrap();
    let started = Instant::now();
    let out = c.ec2(&["describe-vpcs"]);
    eprintln!("describe-vpcs with the sweep: {:?}", started.elapsed());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {}", out.stderr);
    assert!(
        lines[0].starts_with(
            "ec2lab: removed the host network of state directories that no longer exist: "
        ),
        "{}",
        lines[0]
    );
    for h in [&ha, &hb, &hc2] {
        assert!(
            lines[0].contains(&format!("{} ({}", h.root.display(), h.bridge)),
            "{:?} not reported: {}",
            h.root,
            lines[0]
        );
        assert_gone(h);
    }
    assert!(!lines[0].contains(&format!("{} ", hc.root.display())));
    assert_kept(&hc);
    assert_idle(&hc);

    // Nothing left to remove: the next command says nothing.
    let out = c.ec2(&["describe-vpcs"]);
    assert_eq!(out.stderr, "", "a second sweep found more");
    assert_kept(&hc);
}

fn kill(pid: &str) {
    let out = Command::new("kill").args(["-9", pid]).output().unwrap();
    assert!(out.status.success(), "kill {pid}: {out:?}");
}

#[test]
fn a_deleted_state_directory_keeps_its_network_while_its_vmm_runs() {
    let _serial = serial();
    let labs = labs_sharing_a_cidr(2);
    let [a, c] = &labs[..] else { unreachable!() };
    let (ha, hc) = (vpc_verb(a, "lab-1"), vpc_verb(c, "lab-1"));
    let ami = a.tiny_ami("tiny", TinyOs::StayUp);
    let id = first_id(&a.ok(&["run-instances", "--image-id", &ami]));
    a.wait("instance-running", &id);
    let tap = a.describe(&id)["NetworkInterfaces"][0]["Ec2LabInfo"]["Tap"]
        .as_str()
        .unwrap()
        .to_string();
    let supervisor = std::fs::read_to_string(a.run_dir(&id).join("supervisor.pid")).unwrap();
    let launch = a.run_dir(&id).join("launch.json");
    let vmm = run(&["pgrep", "-f", &launch.display().to_string()]);
    let vmm = vmm.lines().next().expect("the VMM's pid").to_string();
    // Only the guest outlives its state directory (no supervisor to plumb anything).
    kill(supervisor.trim());
    std::fs::remove_dir_all(a.state_dir()).unwrap();

    let out = c.ec2(&["describe-vpcs"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "the state directory {} no longer exists, but a VMM still holds its tap {tap}",
            ha.root.display()
        )),
        "{}",
        out.stderr
    );
    assert!(exists(&tap) && is_up(&ha.bridge) && tables_exist(&ha.table));
    // Its VPC still holds the CIDR, and the refusal says whose it was.
    let ami_c = c.tiny_ami("tiny", TinyOs::StayUp);
    let msg = c.fails(&["run-instances", "--image-id", &ami_c], "Unsupported");
    assert!(
        msg.contains(&format!("VPC {}", ha.vpc))
            && msg
                .contains("that state directory no longer exists, but a VMM still uses the bridge"),
        "{msg}"
    );

    // The guest ends: the next command removes it all.
    kill(&vmm);
    soon("the tap lost its carrier when the VMM ended", || {
        sys(&tap, "carrier").as_deref() != Some("1")
    });
    let out = c.ec2(&["describe-vpcs"]);
    assert!(
        out.stderr.contains(&format!("{} (", ha.root.display())) && out.stderr.contains(&tap),
        "{}",
        out.stderr
    );
    assert_gone(&ha);
    assert!(!exists(&tap), "tap {tap} is left");
    assert_kept(&hc);
    let ic = first_id(&c.ok(&["run-instances", "--image-id", &ami_c]));
    c.wait("instance-running", &ic);
}

/// A host interface (a bridge of no one's, like an older ec2lab's) carrying an address,
/// removed on drop.
struct Dummy(String);

impl Dummy {
    fn new(addr: &str) -> Dummy {
        let name = format!("hcforeign{}", std::process::id() % 100_000);
        let _ = Command::new("ip").args(["link", "del", &name]).output();
        for args in [
            vec!["link", "add", &name, "type", "bridge"],
            vec!["addr", "add", addr, "dev", &name],
            vec!["link", "set", &name, "up"],
        ] {
            let out = Command::new("ip").args(&args).output().unwrap();
            assert!(out.status.success(), "ip {args:?}: {out:?}");
        }
        Dummy(name)
    }
}

impl Drop for Dummy {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

/// Polls `f` for up to 10 s.
fn soon(what: &str, f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < end, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn first_id(v: &serde_json::Value) -> String {
    v["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn overlapping_vpcs_of_two_state_directories_do_not_run_at_once() {
    let _serial = serial();
    let labs = labs_sharing_a_cidr(2);
    let [a, b] = &labs[..] else { unreachable!() };
    let (ha, hb) = (vpc_verb(a, "lab-1"), vpc_verb(b, "lab-1"));
    let ami_a = a.tiny_ami("tiny", TinyOs::StayUp);
    let ami_b = b.tiny_ami("tiny", TinyOs::StayUp);

    let ia = first_id(&a.ok(&["run-instances", "--image-id", &ami_a]));
    a.wait("instance-running", &ia);
    assert!(is_up(&ha.bridge), "a running instance's bridge is up");
    assert_ne!(routes_via(&ha.bridge), "", "and has its subnet's route");

    // b's VPC overlaps a's, which runs: refused, naming a's state directory and VPC.
    let msg = b.fails(&["run-instances", "--image-id", &ami_b], "Unsupported");
    let state_dir = ha.root.parent().unwrap().display().to_string();
    for part in [
        format!("state directory {state_dir}, region lab-1"),
        format!("VPC {}", ha.vpc),
        format!("bridge {}", ha.bridge),
        format!("The VPC {} ", hb.vpc),
    ] {
        assert!(msg.contains(&part), "{part:?} missing: {msg}");
    }
    assert_idle(&hb);
    assert_eq!(
        b.ok(&["describe-instances"])["Reservations"],
        serde_json::json!([]),
        "the refusal made nothing"
    );

    // a stops: its bridge goes down, and b may run.
    a.ok(&["stop-instances", "--instance-ids", &ia]);
    a.wait("instance-stopped", &ia);
    soon(
        "a's bridge went down after its last instance stopped",
        || !is_up(&ha.bridge),
    );
    assert_eq!(routes_via(&ha.bridge), "");
    let ib = first_id(&b.ok(&["run-instances", "--image-id", &ami_b]));
    b.wait("instance-running", &ib);
    assert!(is_up(&hb.bridge));

    // Now a cannot start again while b runs.
    let msg = a.fails(&["start-instances", "--instance-ids", &ia], "Unsupported");
    let b_dir = hb.root.parent().unwrap().display().to_string();
    assert!(msg.contains(&format!("state directory {b_dir}")), "{msg}");
    assert_eq!(a.state(&ia), "stopped");
    b.ok(&["terminate-instances", "--instance-ids", &ib]);
    b.wait("instance-terminated", &ib);
    soon("b's bridge went down after its instance terminated", || {
        !is_up(&hb.bridge)
    });

    // An up interface that no ec2lab state directory owns is named too.
    let c = Lab::new();
    let prefix = c.vpc_prefix();
    let dummy = Dummy::new(&format!("{prefix}.0.1/24"));
    let ami_c = c.tiny_ami("tiny", TinyOs::StayUp);
    let msg = c.fails(&["run-instances", "--image-id", &ami_c], "Unsupported");
    assert!(
        msg.contains(&format!("on the host interface {}", dummy.0))
            && msg.contains(&format!("ip link del {}", dummy.0)),
        "{msg}"
    );
    drop(dummy);
    let ic = first_id(&c.ok(&["run-instances", "--image-id", &ami_c]));
    c.wait("instance-running", &ic);
}

/// An ec2lab verb on the real guest images (the quick-start AMI); returns (JSON, stderr).
fn real(lab: &Lab, args: &[&str]) -> (serde_json::Value, String) {
    let mut c = lab.cmd(args);
    c.env("EC2LAB_GUEST_IMAGES", guest_images_dir())
        .env_remove("EC2LAB_WARM_CACHE");
    let out = run_with_timeout(c, 600);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    (
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null),
        stderr(&out),
    )
}

/// The issue this file is about, on a real guest: three other state directories get a
/// default VPC with the same CIDR (before this lab's, so their routes would come first);
/// two are deleted and one stays, idle. The lab's instance still reaches the metadata
/// service: its agent gets the instance id and host name. The same guest then shows that
/// the idle state directory cannot start an instance on that CIDR while it runs.
#[test]
fn an_instance_reaches_the_metadata_service_beside_deleted_and_idle_state_directories() {
    if real_guest_images().is_none() {
        return;
    }
    let _serial = serial();
    let _one = real_guest_lock();
    let started = Instant::now();
    let labs = labs_sharing_a_cidr(4);
    let [lab, d1, d2, idle] = &labs[..] else {
        unreachable!()
    };
    let others: Vec<Host> = [d1, d2, idle]
        .iter()
        .map(|l| vpc_verb(l, "lab-1"))
        .collect();
    std::fs::remove_dir_all(d1.state_dir()).unwrap();
    std::fs::remove_dir_all(d2.state_dir()).unwrap();

    let (images, err) = real(lab, &["describe-images"]);
    assert!(
        err.contains(&others[0].root.display().to_string())
            && err.contains(&others[1].root.display().to_string()),
        "the first command did not remove the deleted state directories' network: {err}"
    );
    assert_gone(&others[0]);
    assert_gone(&others[1]);
    assert_kept(&others[2]);
    let ami = images["Images"][0]["ImageId"].as_str().unwrap().to_string();
    let (launched, _) = real(lab, &["run-instances", "--image-id", &ami]);
    let id = first_id(&launched);
    let private_ip = launched["Instances"][0]["PrivateIpAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = vpc_verb(lab, "lab-1");

    let end = Instant::now() + Duration::from_secs(420);
    let console = loop {
        let (out, _) = real(lab, &["get-console-output", "--instance-id", &id]);
        let text = out["Output"].as_str().unwrap_or_default().to_string();
        if text.contains("ec2lab-agent: first boot of instance")
            || text.contains("ec2lab-agent: error: instance metadata")
        {
            break text;
        }
        assert!(Instant::now() < end, "the agent said nothing: {text}");
        std::thread::sleep(Duration::from_secs(1));
    };
    eprintln!("the agent had its metadata after {:?}", started.elapsed());
    assert!(
        console.contains(&format!("ec2lab-agent: first boot of instance {id}")),
        "the agent did not get its instance id: {console}"
    );
    let hostname = format!("ip-{}", private_ip.replace('.', "-"));
    assert!(
        console.contains(&format!("ec2lab-agent: hostname {hostname}")),
        "the agent did not get its host name {hostname}: {console}"
    );
    // The idle state directory's bridge stayed out of the way.
    assert_idle(&others[2]);
    let route = run(&["ip", "-4", "route", "get", &private_ip]);
    assert!(route.contains(&format!("dev {}", mine.bridge)), "{route}");

    // The same guest: the idle state directory cannot start one on its CIDR meanwhile.
    let tiny = idle.tiny_ami("tiny", TinyOs::StayUp);
    let msg = idle.fails(&["run-instances", "--image-id", &tiny], "Unsupported");
    let state_dir = mine.root.parent().unwrap().display().to_string();
    assert!(
        msg.contains(&format!("state directory {state_dir}, region lab-1"))
            && msg.contains(&mine.vpc)
            && msg.contains(&mine.bridge),
        "{msg}"
    );
    real(lab, &["terminate-instances", "--instance-ids", &id]);
    eprintln!(
        "metadata beside deleted and idle state directories: {:?}",
        started.elapsed()
    );
}
