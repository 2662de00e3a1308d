//! The web console in a real browser, on one real VM: `ec2lab serve` on a fresh state
//! directory, and console/test/lab.mjs (playwright-core driving Debian's Chromium) walks the
//! seed notes' lab: sign in (the one-time link, then the keys by keyboard), create a key
//! pair (.ppk), launch with SSH and HTTP allowed and the lab's user data, wait for running,
//! fetch the public IP's page, run a command in the page's serial console, see CPU data points on the monitoring tab, add the graph to a
//! new dashboard, create an alarm, terminate, delete the group and the key pair; then a
//! phone-sized window. What the console did is then checked with the CLI (same store).
//!
//! Screenshots of each step: target/console-screenshots/ (README names it).
//! Needs guest-images/out, console/node_modules (tools/setup.sh: npm ci) and
//! /usr/bin/chromium; skips without them, except under CI or EC2LAB_REQUIRE_IMAGES=1.

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

fn required() -> bool {
    std::env::var("EC2LAB_REQUIRE_IMAGES").as_deref() == Ok("1") || std::env::var_os("CI").is_some()
}

/// The browser's pieces, or None (skip) where they are not installed and not required.
fn browser_tools(console: &Path) -> Option<PathBuf> {
    let chromium =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    let playwright = console.join("node_modules/playwright-core");
    let missing: Vec<String> = [&chromium, &playwright]
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(chromium);
    }
    let note = format!(
        "the browser test needs {}: run tools/setup.sh",
        missing.join(" and ")
    );
    assert!(!required(), "{note}");
    eprintln!("skipping: {note}");
    None
}

/// `ec2lab serve` whose stderr is read here (it prints the one-time sign-in link there).
struct Serve {
    child: Child,
    endpoint: String,
    link: String,
}

impl Serve {
    fn start(lab: &RealLab) -> Serve {
        let mut child = lab
            .cmd(&["serve", "--listen", "127.0.0.1:0"])
            // The launch boots: the list must show the instance pending, then running, without
            // a reload, and a warm launch is running before the page's first poll.
            .env("EC2LAB_WARM", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let endpoint = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("ec2lab serve said {line:?}"))
            .to_string();
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(i) = line.find("#signin=") {
                    let start = line[..i].rfind("http://").unwrap_or(0);
                    let end = line[i..].find(' ').map_or(line.len(), |e| i + e);
                    let _ = tx.send(line[start..end].to_string());
                }
                eprintln!("{line}");
            }
        });
        let link = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("ec2lab serve prints the console's one-time sign-in link on stderr");
        Serve {
            child,
            endpoint,
            link,
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) of our own child: SIGTERM asks for a graceful stop.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

#[test]
fn the_seed_notes_lab_in_a_browser_on_one_real_vm() {
    let console = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("console");
    let Some(lab) = RealLab::new() else { return };
    let Some(chromium) = browser_tools(&console) else {
        return;
    };
    let started = Instant::now();
    let serve = Serve::start(&lab);
    let keys: Value = serde_json::from_slice(
        &std::fs::read(lab.lab.state_dir().join("api-access-keys.json")).unwrap(),
    )
    .unwrap();
    let shots = std::env::var_os("EC2LAB_CONSOLE_SHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots")
        });
    let _ = std::fs::remove_dir_all(&shots);

    let mut node = Command::new("node");
    node.current_dir(&console)
        .arg("test/lab.mjs")
        .env("CONSOLE_URL", &serve.endpoint)
        .env("CONSOLE_LINK", &serve.link)
        .env("ACCESS_KEY_ID", keys[0]["AccessKeyId"].as_str().unwrap())
        .env(
            "SECRET_ACCESS_KEY",
            keys[0]["SecretAccessKey"].as_str().unwrap(),
        )
        .env("REGION", ec2lab::store::DEFAULT_REGION)
        .env("USER_DATA", ec2lab::lab::USER_DATA)
        .env("SHOTS", &shots)
        .env("CHROMIUM", &chromium);
    let out = run_with_timeout(node, 1800);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser's lab failed (screenshots so far in {}):\n{}{stdout}",
        shots.display(),
        stderr(&out)
    );
    eprintln!("{}", stderr(&out));
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    eprintln!("console lab: {v:#}");

    // Signing in: the link once, the API never unsigned, the shell shows only sign-in.
    assert_eq!(v["link_signed_in"], true);
    assert_eq!(v["unsigned_api_status"], 401, "{v}");
    assert!(
        v["link_second_use"]
            .as_str()
            .unwrap()
            .contains("used already"),
        "{v}"
    );
    assert_eq!(v["shell_without_keys_shows_nav"], 0);
    // The key pair came down as a PuTTY file.
    assert_eq!(v["key_file_name"], "console-lab-key.ppk");
    assert!(
        v["key_file_head"]
            .as_str()
            .unwrap()
            .starts_with("PuTTY-User-Key-File-"),
        "{v}"
    );
    // The launch page's sections in the notes' order, with their defaults.
    let d = &v["launch_defaults"];
    assert!(
        d["ami"].as_str().unwrap().starts_with("ec2lab-linux "),
        "{d}"
    );
    assert_eq!(d["type"], "t2.micro");
    assert_eq!(d["public_ip"], "enable");
    assert_eq!(
        (&d["ssh"], &d["http"]),
        (&Value::Bool(true), &Value::Bool(true))
    );
    assert_eq!(
        (&d["size"], &d["volume_type"]),
        (&Value::from("8"), &Value::from("gp3"))
    );
    assert_eq!(d["vpc_default"], true);
    assert_eq!(
        d["sections"],
        serde_json::json!([
            "Name and tags",
            "Application and OS Images (Amazon Machine Image)",
            "Instance type",
            "Key pair (login)",
            "Network settings",
            "Configure storage",
            "Advanced details",
            "Summary"
        ])
    );
    // The state moved on screen to running (code 16); the public IP served the lab's page.
    assert_eq!(v["first_state"], "pending", "{v}");
    assert_eq!(v["state_code"], "state code 16");
    let ip = v["public_ip"].as_str().unwrap();
    assert_eq!(v["public_ip_href"], format!("http://{ip}/"));
    assert!(v["page"].as_str().unwrap().contains("Hello from"), "{v}");
    assert_eq!(v["console_has_boot"], true);
    assert_eq!(v["serial_console"], true);
    assert!(v["cpu_points"].as_u64().unwrap() > 0, "{v}");
    assert!(v["dashboard_image"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["alarm_threshold_line"], 1);
    assert!(
        ["OK", "INSUFFICIENT_DATA", "ALARM"].contains(&v["alarm_state"].as_str().unwrap()),
        "{v}"
    );
    let rules = v["group_rules"].to_string();
    assert!(rules.contains("22") && rules.contains("80"), "{rules}");
    assert_eq!(
        (&v["group_left"], &v["key_left"]),
        (&Value::from(0), &Value::from(0))
    );
    // Errors are EC2's own; no page threw.
    assert!(
        v["duplicate_key_error"]
            .as_str()
            .unwrap()
            .contains("InvalidKeyPair.Duplicate"),
        "{v}"
    );
    assert_eq!(v["page_errors"], serde_json::json!([]));
    // The other pages: a rule added and removed, a volume, an Elastic IP, a topic, AMIs.
    let added = v["rule_added"].to_string();
    assert!(
        added.contains("443") && added.contains("192.0.2.0/24"),
        "{added}"
    );
    assert_eq!(v["rule_removed"], true);
    assert_eq!(v["volume_created_and_deleted"], true);
    assert!(
        v["eip"]
            .as_str()
            .unwrap()
            .parse::<std::net::Ipv4Addr>()
            .is_ok(),
        "{v}"
    );
    assert_eq!(v["topic_created_and_deleted"], true);
    assert!(v["amis"].to_string().contains("ec2lab-linux"), "{v}");
    assert_eq!(v["phone_nav_hidden"], true);
    assert_eq!(v["phone_menu_opens"], true);

    // The console used the API the SDKs use: the CLI sees the same store.
    let id = v["instance_id"].as_str().unwrap();
    let inst = lab.ok(&["describe-instances", "--instance-ids", id])["Reservations"][0]
        ["Instances"][0]
        .clone();
    assert_eq!(inst["State"]["Name"], "terminated", "{inst}");
    assert_eq!(inst["InstanceType"], "t2.micro");
    assert_eq!(inst["KeyName"], "console-lab-key");
    assert_eq!(inst["Monitoring"]["State"], "enabled", "{inst}");
    assert!(inst["Tags"].to_string().contains("console-lab"), "{inst}");
    assert_eq!(
        lab.ok(&["describe-key-pairs"])["KeyPairs"],
        serde_json::json!([])
    );
    assert_eq!(
        lab.ok(&["describe-volumes"])["Volumes"],
        serde_json::json!([])
    );
    assert_eq!(
        lab.ok(&["describe-addresses"])["Addresses"],
        serde_json::json!([])
    );
    let dashboards = lab.ok(&["cloudwatch", "list-dashboards"]);
    assert_eq!(
        dashboards["DashboardEntries"][0]["DashboardName"],
        "console-lab"
    );
    let alarms = lab.ok(&["cloudwatch", "describe-alarms"]);
    assert_eq!(
        alarms["MetricAlarms"][0]["AlarmName"],
        format!("{id}-CPUUtilization-alarm")
    );
    assert_eq!(alarms["MetricAlarms"][0]["Threshold"], 90.0);
    drop(serve);
    eprintln!(
        "the console's lab on one real VM: {:.0} s wall ({}), kernel {}",
        started.elapsed().as_secs_f64(),
        v["timings"],
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );
}
