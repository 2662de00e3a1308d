//! Warm launches on the real image: the quick-start AMI's first launch boots, waits for
//! its identity and leaves its template; two later launches start from that template's
//! memory. Each restored guest has its own MAC, address, hostname, random bytes, boot id
//! and ssh host key, and they serve and reach each other.
//!
//! The template cache is this test's own (EC2LAB_WARM_CACHE), so the capture happens
//! here. Slow here (one guest boot, two restores on a nested KVM); needs guest-images/out
//! (skips without it unless EC2LAB_REQUIRE_IMAGES=1).

mod common;
use common::*;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const USER_DATA: &str = "#!/bin/sh\nyum install -y httpd\nsystemctl start httpd\n\
echo \"<h1>$(hostname)</h1>\" > /var/www/html/index.html\n";

struct Warm {
    real: RealLab,
    cache: tempfile::TempDir,
    key: std::path::PathBuf,
}

impl Warm {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.real.cmd(args);
        c.env("EC2LAB_WARM_CACHE", self.cache.path());
        c
    }

    fn ok(&self, args: &[&str]) -> serde_json::Value {
        ok_json(self.cmd(args), args)
    }

    fn console(&self, id: &str) -> String {
        std::fs::read_to_string(self.real.lab.run_dir(id).join("vmm/console.log"))
            .unwrap_or_default()
    }

    fn wait_console(&self, id: &str, needle: &str) {
        let end = Instant::now() + Duration::from_secs(900);
        while !self.console(id).contains(needle) {
            assert!(
                Instant::now() < end,
                "{id}: no {needle:?} on the console:\n{}",
                self.console(id)
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn ssh(&self, id: &str, script: &str) -> String {
        let key = self.key.display().to_string();
        let out = run_with_timeout(self.cmd(&["ssh", id, "-i", &key, "--", script]), 300);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "ssh {id} {script:?}: {}",
            stderr(&out)
        );
        stdout
    }

    fn launch(&self, ami: &str, group: &str, count: &str) -> Vec<String> {
        let v = self.ok(&[
            "run-instances",
            "--image-id",
            ami,
            "--count",
            count,
            "--key-name",
            "warm",
            "--security-group-ids",
            group,
            "--user-data",
            USER_DATA,
        ]);
        v["Instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["InstanceId"].as_str().unwrap().to_string())
            .collect()
    }

    fn instance(&self, id: &str) -> serde_json::Value {
        self.ok(&["describe-instances", "--instance-ids", id])["Reservations"][0]["Instances"][0]
            .clone()
    }
}

fn write_key(path: &Path, material: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, material).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The host key dropbear offers at `ip` (made on the first connection, after the restore).
fn host_key(ip: &str) -> String {
    let out = run_with_timeout(
        {
            let mut c = Command::new("ssh-keyscan");
            c.args(["-T", "60", "-t", "ed25519,rsa", ip]);
            c
        },
        120,
    );
    let keys: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .collect();
    assert!(!keys.is_empty(), "ssh-keyscan {ip}: {}", stderr(&out));
    keys.join("\n")
}

fn http_get(ip: &str) -> String {
    let out = run_with_timeout(
        {
            let mut c = Command::new("curl");
            c.args(["-s", "-m", "20", &format!("http://{ip}/")]);
            c
        },
        60,
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_warm_launch_restores_the_template_and_each_guest_is_its_own() {
    let Some(real) = RealLab::new() else {
        return;
    };
    let key = real.lab.state_dir().join("warm.pem");
    let t = Warm {
        real,
        cache: tempfile::tempdir().unwrap(),
        key,
    };
    let material = t.ok(&["create-key-pair", "--key-name", "warm"])["KeyMaterial"]
        .as_str()
        .unwrap()
        .to_string();
    write_key(&t.key, &material);
    let group = t.ok(&[
        "create-security-group",
        "--group-name",
        "warm",
        "--description",
        "ssh and http",
    ])["GroupId"]
        .as_str()
        .unwrap()
        .to_string();
    for port in ["22", "80"] {
        t.ok(&[
            "authorize-security-group-ingress",
            "--group-id",
            &group,
            "--protocol",
            "tcp",
            "--port",
            port,
            "--cidr",
            "0.0.0.0/0",
        ]);
    }
    let ami = t.real.quick_start_ami();

    // The first launch boots with the template switch: the template is captured at the
    // agent's wait, and the instance goes on with its own identity.
    let started = Instant::now();
    let first = t.launch(&ami, &group, "1").remove(0);
    t.wait_console(&first, "EC2LAB-GUEST-READY");
    let cold_ready = started.elapsed().as_secs_f64();
    let console = t.console(&first);
    assert!(console.contains("EC2LAB-WARM-WAIT"), "{console}");
    assert!(
        console.contains(&format!("warm launch: took the identity of {first}")),
        "{console}"
    );
    let templates: Vec<_> = walk(t.cache.path())
        .into_iter()
        .filter(|p| p.ends_with("template.json"))
        .collect();
    assert_eq!(templates.len(), 1, "one template: {templates:?}");

    // Two launches from it: running at once, ready without a boot.
    let started = Instant::now();
    let ids = t.launch(&ami, &group, "2");
    assert_eq!(ids.len(), 2);
    for id in &ids {
        t.ok(&[
            "wait",
            "instance-running",
            "--instance-ids",
            id,
            "--timeout-secs",
            "120",
        ]);
    }
    let warm_running = started.elapsed().as_secs_f64();
    for id in &ids {
        t.wait_console(id, "EC2LAB-GUEST-READY");
    }
    let warm_ready = started.elapsed().as_secs_f64();
    eprintln!(
        "cold (template) boot ready after {cold_ready:.1} s; two warm launches running after \
         {warm_running:.1} s, ready after {warm_ready:.1} s"
    );
    assert!(
        warm_ready < cold_ready,
        "restoring ({warm_ready:.1} s) is not faster than booting ({cold_ready:.1} s)"
    );
    for id in &ids {
        let c = t.console(id);
        assert!(c.contains("ec2lab: warm launch: restored"), "{c}");
        assert!(c.contains(&format!("took the identity of {id}")), "{c}");
        // The template boot's log comes first, so the console shows a whole boot.
        assert!(c.contains("Linux version"), "{c}");
    }

    // Each restored guest is its own: what describe-instances says, and nothing shared.
    let probe = "hostname; cat /sys/class/net/eth0/address; ip -4 addr show eth0 | \
                 sed -n 's/.*inet \\([0-9.]*\\).*/\\1/p'; cat /proc/sys/kernel/random/boot_id; \
                 head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'; echo; \
                 curl -s http://169.254.169.254/latest/meta-data/instance-id; echo";
    let mut seen = Vec::new();
    for id in &ids {
        let d = t.instance(id);
        let out = t.ssh(id, probe);
        let l: Vec<&str> = out.lines().collect();
        assert_eq!(l.len(), 6, "{out}");
        let private_ip = d["PrivateIpAddress"].as_str().unwrap();
        let mac = d["NetworkInterfaces"][0]["MacAddress"].as_str().unwrap();
        assert_eq!(
            l[0],
            d["PrivateDnsName"].as_str().unwrap(),
            "hostname: {out}"
        );
        assert_eq!(l[1], mac, "MAC: {out}");
        assert_eq!(l[2], private_ip, "address: {out}");
        assert_eq!(l[5], id, "the metadata service knows it: {out}");
        assert_eq!(l[4].len(), 64, "random bytes: {out}");
        let public = d["PublicIpAddress"].as_str().unwrap().to_string();
        seen.push((
            l.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            public,
            private_ip.to_string(),
        ));
    }
    let (a, b) = (&seen[0], &seen[1]);
    for (i, what) in ["hostname", "MAC", "address", "boot id", "random bytes"]
        .iter()
        .enumerate()
    {
        assert_ne!(a.0[i], b.0[i], "both restored guests share their {what}");
    }
    assert_ne!(host_key(&a.1), host_key(&b.1), "both share an ssh host key");

    // They serve the page, to the host and to each other over the VPC.
    for (i, id) in ids.iter().enumerate() {
        t.wait_console(id, "user data exited with status 0");
        let page = http_get(&seen[i].1);
        assert!(page.contains(&seen[i].0[0]), "{id}'s page: {page:?}");
    }
    let other = t.ssh(&ids[0], &format!("curl -s -m 20 http://{}/", seen[1].2));
    assert!(other.contains(&seen[1].0[0]), "{other}");

    let mut all = ids.clone();
    all.push(first);
    let mut args = vec!["terminate-instances", "--instance-ids"];
    args.extend(all.iter().map(String::as_str));
    t.ok(&args);
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A template that cannot be restored (here: a damaged snapshot) is deleted, and the
/// instance boots its copy of the template's disk instead; a tiny guest shows it.
#[test]
fn a_template_that_cannot_be_restored_is_dropped_and_the_instance_boots() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    // A first launch computes the AMI's content id (its template directory's name).
    let first = lab.run(&ami, &[]);
    lab.wait("instance-running", &first[0]);
    lab.ok(&["terminate-instances", "--instance-ids", &first[0]]);
    let content = std::fs::read_to_string(
        lab.state_dir()
            .join("lab-1/images")
            .join(&ami)
            .join("content.sha256"),
    )
    .unwrap();
    // t2.micro: 1024 MiB, 1 vCPU; the tiny AMI's root volume is 1 GiB.
    let template = lab
        .state_dir()
        .join("warm-cache")
        .join(content.trim())
        .join("v1-1024m-1c-1g");
    std::fs::create_dir_all(template.join("snapshot")).unwrap();
    std::fs::write(template.join("snapshot/manifest.json"), b"{damaged").unwrap();
    let root = lab.state_dir().join("tiny-os-files/root.img");
    std::fs::copy(&root, template.join("root.img")).unwrap();
    std::fs::write(template.join("template.json"), b"{}").unwrap();

    let id = lab.run(&ami, &[]).remove(0);
    lab.wait("instance-running", &id);
    wait_until("the tiny guest's init line", 60, || {
        lab.console(&id).contains("init").then_some(())
    });
    let console = lab.console(&id);
    assert!(
        console.contains("warm launch: the template could not be restored"),
        "{console}"
    );
    assert!(!template.exists(), "the damaged template is still there");
    lab.ok(&["terminate-instances", "--instance-ids", &id]);
}
