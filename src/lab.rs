//! `ec2lab lab httpd`: the classic EC2 lab in one command. A key pair, a security group
//! allowing SSH and HTTP, a t2.micro instance whose user data installs and starts httpd
//! and writes a page; then it waits until the page is served on the public IP, and prints
//! the URL and the SSH command, or stops at once with the console lines when the guest
//! reports a failure (see `instances::guest_status`). `--cleanup` removes everything it made.
//!
//! It goes through the same operations the verbs use (nothing here the user could not do
//! by hand with create-key-pair, create-security-group, run-instances), and finds its own
//! resources again by their fixed names and a tag.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64ct::Encoding;
use serde_json::{json, Value};

use crate::ec2::shapes::instances::{RunInstancesRequest, TerminateInstancesRequest};
use crate::ec2::tags::{Tag, TagSpecification};
use crate::error::Ec2Error;
use crate::images::{self, Image};
use crate::instances::guest_status::{self, GuestStatus};
use crate::instances::{self, record::Instance, rundir::RunDir, state::State, Waiter};
use crate::keypairs::{self, KeyFormat, KeyPair, KeyType};
use crate::net::groups::{self, Direction, Permission, SecurityGroup};
use crate::net::vpc::{self, Subnet};
use crate::store::Store;

/// The error code when the guest reports a failure (user data exited non-zero or was
/// killed, or its kernel logged a user-mode fault): the instance is impaired, as its
/// `Ec2LabInfo.GuestStatus.Status` in describe-instances says.
pub const IMPAIRED: &str = "InstanceImpaired";
/// The name of the lab's key pair and security group.
pub const NAME: &str = "ec2lab-lab-httpd";
/// The tag on the lab's instance.
const TAG: (&str, &str) = ("ec2lab:lab", "httpd");

/// The user data of the AWS lab, unchanged: ec2lab Linux has `yum` and `systemctl` shims
/// that do what they would on Amazon Linux.
pub const USER_DATA: &str = r#"#!/bin/sh
# The classic EC2 lab: install and start httpd, then write a page.
yum install -y httpd
systemctl start httpd
systemctl enable httpd
echo "<html><body><h1>Hello from $(hostname)</h1><p>httpd on an ec2lab instance, set up by user data.</p></body></html>" > /var/www/html/index.html
"#;

/// What `lab httpd` launches.
pub struct Options {
    /// The instance type.
    pub instance_type: String,
    /// Wait at most this long for the page (boot plus user data).
    pub timeout: Duration,
    /// Build the guest images when they are missing (guest-images/build.sh).
    pub build_images: bool,
    /// Start from the AMI's warm-launch template (made by the first launch) if it has one.
    pub warm: bool,
}

/// Prints one progress line on stderr, with the seconds since the lab began.
struct Progress(Instant);

impl Progress {
    fn say(&self, what: &str) {
        eprintln!("[{:6.1}s] {what}", self.0.elapsed().as_secs_f64());
    }
}

fn keys_dir(store: &Store) -> PathBuf {
    store.root().join("keys")
}

/// Runs the lab (or shows the one already running). Returns the summary printed as JSON.
pub fn run(store: &mut Store, opts: &Options) -> Result<Value, Ec2Error> {
    let p = Progress(Instant::now());
    let image = quick_start_image(store, opts.build_images, &p)?;
    vpc::ensure_default(store)?;

    let (key, key_file) = key_pair(store, &p)?;
    let group = security_group(store, &p)?;

    let (id, launched_at) = match lab_instance(store)? {
        Some(i) => {
            p.say(&format!(
                "instance {} is already running the lab",
                i.instance_id
            ));
            (i.instance_id, None)
        }
        None => {
            p.say(&format!(
                "launching a {} from {} ({}) with user data that starts httpd",
                opts.instance_type, image.image_id, image.name
            ));
            let req = RunInstancesRequest {
                image_id: image.image_id.clone(),
                instance_type: Some(opts.instance_type.clone()),
                min_count: 1,
                max_count: 1,
                key_name: Some(key.key_name.clone()),
                security_group_ids: vec![group.group_id.clone()],
                user_data: Some(base64ct::Base64::encode_string(USER_DATA.as_bytes())),
                tag_specifications: vec![TagSpecification {
                    resource_type: "instance".into(),
                    tags: vec![Tag::new("Name", NAME), Tag::new(TAG.0, TAG.1)],
                }],
                no_warm: !opts.warm,
                ..RunInstancesRequest::default()
            };
            let out = instances::run_instances(store, &req)?;
            let id = out
                .instances
                .first()
                .map(|i| i.instance_id.clone())
                .unwrap_or_default();
            (id, Some(Instant::now()))
        }
    };
    let public_ip = public_ip(store, &id)?;
    p.say(&format!(
        "{id} has public IP {public_ip}; waiting for http://{public_ip}/ (a real VM boots, then runs the user data)"
    ));
    let deadline = p.0 + opts.timeout;
    let (running_at, page) = wait_for_page(store, &id, &public_ip, deadline, &p)?;
    let served_at = Instant::now();
    let url = format!("http://{public_ip}/");
    p.say(&format!("{url} answers 200"));
    let ssh = format!("ssh -i {} ec2-user@{public_ip}", key_file.display());
    let metrics = metrics_commands(&id);
    eprintln!(
        "\n  Open:     {url}\n  SSH:      ec2lab ssh {id}\n            ({ssh})\n  \
         Metrics:  {}   (live, from the VMM)\n            {}\n            \
         (CloudWatch: the last hour's average CPU, one point per 5 minutes)\n  \
         Clean up: ec2lab lab httpd --cleanup\n",
        metrics.live, metrics.history
    );
    let secs = |a: Instant, b: Instant| {
        (b.saturating_duration_since(a).as_secs_f64() * 10.0).round() / 10.0
    };
    let mut timings = json!({"LabToHttp200Secs": secs(p.0, served_at)});
    if let Some(l) = launched_at {
        timings["RunInstancesToHttp200Secs"] = json!(secs(l, served_at));
        if let Some(r) = running_at {
            timings["RunInstancesToRunningSecs"] = json!(secs(l, r));
        }
    }
    let console =
        crate::fsutil::read_nofollow(&RunDir::of(store, &id).console()).unwrap_or_default();
    let launch = instances::warm::launch_kind(&String::from_utf8_lossy(&console));
    Ok(json!({
        "InstanceId": id,
        "Launch": launch,
        "PublicIpAddress": public_ip,
        "Url": url,
        "Page": page,
        "KeyName": key.key_name,
        "KeyFile": key_file,
        "GroupId": group.group_id,
        "SshCommand": format!("ec2lab ssh {id}"),
        "MetricsCommands": {"Live": metrics.live, "CloudWatch": metrics.history},
        "Timings": timings,
    }))
}

/// How to look at an instance's metrics, as the lab's summary says it.
pub struct MetricsCommands {
    /// `ec2lab top` for the instance: live, straight from its VMM.
    pub live: String,
    /// The aws CLI's `get-metric-statistics` for its CPU over the last hour (a shell
    /// line: `date` works out the times when it is run).
    pub history: String,
}

/// The metrics commands for instance `id`.
pub fn metrics_commands(id: &str) -> MetricsCommands {
    MetricsCommands {
        live: format!("ec2lab top --instance-ids {id}"),
        history: format!(
            "ec2lab cloudwatch get-metric-statistics --namespace AWS/EC2 \
             --metric-name CPUUtilization --dimensions Name=InstanceId,Value={id} \
             --start-time $(date -u -d '1 hour ago' +%Y-%m-%dT%H:%M:%SZ) \
             --end-time $(date -u +%Y-%m-%dT%H:%M:%SZ) --period 300 --statistics Average"
        ),
    }
}

/// The quick-start AMI, building the guest images first if they are missing.
fn quick_start_image(store: &mut Store, build: bool, p: &Progress) -> Result<Image, Ec2Error> {
    let dir = images::guest_images_dir();
    if !dir.join("vmlinux").is_file() || !dir.join("rootfs.ext4").is_file() {
        let script = dir
            .parent()
            .map(|d| d.join("build.sh"))
            .filter(|s| s.is_file());
        match script {
            Some(script) if build => build_images(&script, p)?,
            _ => {
                return Err(Ec2Error::new(
                    "InvalidAMIID.Unavailable",
                    format!(
                        "The guest images are not built ({} has no vmlinux and rootfs.ext4): run guest-images/build.sh, \
                         or set EC2LAB_GUEST_IMAGES to where they are",
                        dir.display()
                    ),
                ))
            }
        }
    }
    images::ensure_quick_start(store)?;
    Image::all(store.conn())?
        .into_iter()
        .find(|i| i.quick_start && i.state == "available")
        .ok_or_else(|| {
            Ec2Error::new(
                "InvalidAMIID.NotFound",
                format!(
                    "No quick-start AMI ({}) is registered and none could be made from {}",
                    images::QUICK_START_NAME,
                    dir.display()
                ),
            )
        })
}

fn build_images(script: &Path, p: &Progress) -> Result<(), Ec2Error> {
    p.say(&format!(
        "building the guest images with {} (the kernel takes minutes on a first build; it is cached)",
        script.display()
    ));
    // Its progress goes to our stderr: our stdout is the JSON summary.
    let err = std::os::fd::AsFd::as_fd(&std::io::stderr()).try_clone_to_owned()?;
    let status = Command::new(script)
        .stdout(Stdio::from(err))
        .status()
        .map_err(|e| Ec2Error::internal(format!("cannot run {}: {e}", script.display())))?;
    if !status.success() {
        return Err(Ec2Error::internal(format!(
            "{} failed ({status}); its output above says why",
            script.display()
        )));
    }
    p.say("guest images built");
    Ok(())
}

/// The lab's key pair and the file with its private key: reused while both exist, made
/// anew otherwise (the server side never keeps a private key to hand out again).
fn key_pair(store: &mut Store, p: &Progress) -> Result<(KeyPair, PathBuf), Ec2Error> {
    let file = keys_dir(store).join(format!("{NAME}.pem"));
    if let Some(k) = KeyPair::find(store.conn(), NAME)? {
        if let Some(f) = k.private_key_file.clone().filter(|f| f.is_file()) {
            p.say(&format!(
                "key pair {NAME} exists (private key {})",
                f.display()
            ));
            return Ok((k, f));
        }
        p.say(&format!(
            "key pair {NAME} exists but its private key file is gone: making a new one"
        ));
        store.write(|tx| keypairs::delete(tx, NAME))?;
    }
    std::fs::create_dir_all(file.parent().unwrap_or(Path::new("/")))?;
    // A file left by an earlier lab whose key pair was deleted is useless: replace it.
    let _ = std::fs::remove_file(&file);
    let (k, _) = store.write(|tx| {
        keypairs::create_with_tags(
            tx,
            NAME,
            KeyType::Ed25519,
            KeyFormat::Pem,
            Some(&file),
            &[Tag::new(TAG.0, TAG.1)],
        )
    })?;
    p.say(&format!(
        "created key pair {NAME} ({}); private key in {} (mode 0600)",
        k.fingerprint,
        file.display()
    ));
    Ok((k, file))
}

/// The lab's group in the default VPC, allowing SSH and HTTP from anywhere.
fn security_group(store: &mut Store, p: &Progress) -> Result<SecurityGroup, Ec2Error> {
    let vpc_id = Subnet::default(store.conn())?.vpc_id;
    let existing = SecurityGroup::all(store.conn())?
        .into_iter()
        .find(|g| g.group_name == NAME && g.vpc_id == vpc_id);
    let g = match existing {
        Some(g) => g,
        None => {
            let g = store.write(|tx| {
                groups::create(tx, &vpc_id, NAME, "ec2lab lab httpd: SSH and HTTP", false)
            })?;
            p.say(&format!("created security group {} ({NAME})", g.group_id));
            g
        }
    };
    for port in [22u16, 80] {
        let rule = Permission {
            protocol: "tcp".into(),
            from_port: Some(port),
            to_port: Some(port),
            cidrs: vec!["0.0.0.0/0".into()],
            groups: vec![],
            descriptions: Default::default(),
        };
        match store.write(|tx| groups::authorize(tx, &g.group_id, Direction::Ingress, rule)) {
            Ok(_) => p.say(&format!("{} allows tcp/{port} from 0.0.0.0/0", g.group_id)),
            Err(e) if e.code == "InvalidPermission.Duplicate" => {}
            Err(e) => return Err(e),
        }
    }
    crate::net::sync(store)?;
    SecurityGroup::get(store.conn(), &g.group_id)
}

/// A lab instance that is pending or running.
fn lab_instance(store: &Store) -> Result<Option<Instance>, Ec2Error> {
    Ok(Instance::all(store.conn())?.into_iter().find(|i| {
        i.tag(TAG.0) == Some(TAG.1) && matches!(i.state, State::Pending | State::Running)
    }))
}

fn public_ip(store: &Store, id: &str) -> Result<String, Ec2Error> {
    let inst = Instance::get(store.conn(), id)?;
    instances::describe::instance(store, &inst)?
        .public_ip_address
        .ok_or_else(|| {
            Ec2Error::internal(format!(
                "{id} has no public IP: is networking off (EC2LAB_NETWORKING)?"
            ))
        })
}

/// GET / on `ip`: the body when the answer is 200.
pub fn http_get(ip: &str) -> Option<String> {
    let addr: SocketAddr = format!("{ip}:80").parse().ok()?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET / HTTP/1.0\r\nHost: {ip}\r\n\r\n").ok()?;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.lines().next()?;
    status
        .split_whitespace()
        .nth(1)
        .filter(|c| *c == "200")
        .map(|_| body.to_string())
}

/// The console line that best says where the guest is (agent lines, init, ready), in its
/// current boot: after a stop and start, the old boot's lines say nothing.
fn milestone(console: &str) -> Option<&str> {
    let boot = instances::console::current_boot(console);
    boot.lines().rev().map(str::trim).find(|l| {
        l.starts_with("ec2lab-agent:")
            || instances::console::is_ready_line(l)
            || l.contains("Run /sbin/init")
    })
}

/// Polls until the page answers 200; reports progress every few seconds. Returns when the
/// instance was first seen running, and the page.
fn wait_for_page(
    store: &mut Store,
    id: &str,
    ip: &str,
    deadline: Instant,
    p: &Progress,
) -> Result<(Option<Instant>, String), Ec2Error> {
    let console_path = RunDir::of(store, id).console();
    let mut running_at = None;
    let mut last_report = Instant::now();
    let mut last_said = String::new();
    loop {
        instances::housekeeping(store)?;
        let inst = Instance::get(store.conn(), id)?;
        match inst.state {
            State::Running if running_at.is_none() => {
                running_at = Some(Instant::now());
                p.say(&format!("{id} is running (its kernel started init)"));
            }
            State::Pending | State::Running => {}
            other => {
                return Err(Ec2Error::new(
                    "IncorrectInstanceState",
                    format!(
                        "{id} became {} before serving the page: see ec2lab get-console-output --instance-id {id}",
                        other.name()
                    ),
                ))
            }
        }
        let console = guest_status::console_tail(&console_path);
        let health = GuestStatus::parse(&console);
        // A failure ends the wait even if the page happens to answer: the guest that
        // serves it is not sound (a crashed `yum` once left the page served by luck).
        if !health.failures().is_empty() {
            return Err(impaired(id, ip, &health, p));
        }
        if inst.state == State::Running {
            if let Some(page) = http_get(ip) {
                return Ok((running_at, page));
            }
        }
        let now = milestone(&console).unwrap_or("").to_string();
        if (!now.is_empty() && now != last_said) || last_report.elapsed() > Duration::from_secs(15)
        {
            p.say(&format!(
                "{} {}",
                inst.state.name(),
                if now.is_empty() {
                    "(booting)".to_string()
                } else {
                    format!("- console: {now}")
                }
            ));
            last_said = now;
            last_report = Instant::now();
        }
        if Instant::now() >= deadline {
            return Err(Ec2Error::new(
                "RequestTimeout",
                format!(
                    "http://{ip}/ did not answer 200 in time; the instance keeps running. \
                     See ec2lab get-console-output --instance-id {id}, or run ec2lab lab httpd again to keep waiting"
                ),
            ));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Prints the console lines that show why the guest is impaired, and what to try; the
/// error ends the lab.
fn impaired(id: &str, ip: &str, health: &GuestStatus, p: &Progress) -> Ec2Error {
    p.say(&format!("{id} is impaired; its console (this boot) says:"));
    for line in health.evidence() {
        eprintln!("    {line}");
    }
    let faults = health.fault_count > 0;
    eprintln!("  What to try:");
    eprintln!(
        "    ec2lab get-console-output --instance-id {id} --output text   # the whole console"
    );
    eprintln!(
        "    ec2lab ssh {id} -- sudo cat /var/log/cloud-init-output.log   # the user data's own output"
    );
    if faults {
        eprintln!(
            "    ec2lab ssh {id} -- dmesg   # the guest kernel's log: which programs crashed"
        );
    }
    eprintln!(
        "    ec2lab lab httpd --cleanup && ec2lab lab httpd   # start over on a new instance"
    );
    if faults {
        eprintln!(
            "  A program that crashes here but runs when started again (over ssh) points at the \
             guest kernel or this KVM host, not at the user data."
        );
    }
    eprintln!();
    let why: Vec<String> = health.failures().iter().map(|f| f.to_string()).collect();
    Ec2Error::new(
        IMPAIRED,
        format!(
            "{id} is impaired: {}. The lab stopped waiting for http://{ip}/; the instance keeps \
             running. Run ec2lab lab httpd --cleanup, then ec2lab lab httpd to start over",
            why.join("; ")
        ),
    )
}

/// `--cleanup`: terminates the lab's instances, then deletes its group, key pair and key
/// file. What the user made by hand is left alone.
pub fn cleanup(store: &mut Store) -> Result<Value, Ec2Error> {
    let p = Progress(Instant::now());
    let ids: Vec<String> = Instance::all(store.conn())?
        .into_iter()
        .filter(|i| i.tag(TAG.0) == Some(TAG.1) && i.state != State::Terminated)
        .map(|i| i.instance_id)
        .collect();
    if !ids.is_empty() {
        p.say(&format!("terminating {}", ids.join(", ")));
        instances::terminate_instances(
            store,
            &TerminateInstancesRequest {
                instance_ids: ids.clone(),
            },
        )?;
        instances::wait(store, Waiter::Terminated, &ids, Duration::from_secs(300))?;
        p.say("terminated");
    }
    let mut groups_deleted = Vec::new();
    for g in SecurityGroup::all(store.conn())? {
        if g.group_name == NAME {
            store.write(|tx| groups::delete(tx, &g.group_id))?;
            p.say(&format!("deleted security group {}", g.group_id));
            groups_deleted.push(g.group_id);
        }
    }
    crate::net::sync(store)?;
    let mut key_deleted = None;
    if let Some(k) = KeyPair::find(store.conn(), NAME)? {
        store.write(|tx| keypairs::delete(tx, NAME))?;
        if let Some(f) = &k.private_key_file {
            // Only the file the lab itself wrote.
            if f.starts_with(keys_dir(store)) {
                let _ = std::fs::remove_file(f);
            }
        }
        p.say(&format!("deleted key pair {NAME} and its private key file"));
        key_deleted = Some(k.key_name);
    }
    Ok(json!({
        "TerminatedInstances": ids,
        "DeletedSecurityGroups": groups_deleted,
        "DeletedKeyPair": key_deleted,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milestones_come_from_the_console() {
        let c = "Linux version 6.1\nRun /sbin/init as init process\nnoise\nec2lab-agent: running user data\nmore noise\n";
        assert_eq!(milestone(c), Some("ec2lab-agent: running user data"));
        assert_eq!(milestone("nothing yet"), None);
        // Started again: the previous boot's lines are not where the guest is now.
        let again = format!("{c}EC2LAB-GUEST-READY\nEC2LAB-BOOT 2 i-1 t\n");
        assert_eq!(milestone(&again), None);
    }

    #[test]
    fn milestones_come_from_the_current_boot() {
        let c = "EC2LAB-BOOT 1 i-1 t\nLinux version 6.1\nec2lab-agent: user data exited with status 0\nEC2LAB-BOOT 2 i-1 t\nLinux version 6.1\nRun /sbin/init as init process\n";
        assert_eq!(milestone(c), Some("Run /sbin/init as init process"));
    }

    #[test]
    fn an_impaired_guest_ends_the_lab_with_its_reasons() {
        let health = GuestStatus::parse(
            "[    0.000000] Linux version 6.1\n\
             [   52.331245] traps: user-data[30] general protection fault ip:41b9e4 sp:7ffc4a2b1c48 error:0 in busybox[400000+b1000]\n\
             ec2lab-agent: user data exited with status 139\n",
        );
        let p = Progress(Instant::now());
        let e = impaired("i-0123456789abcdef0", "198.18.0.5", &health, &p);
        assert_eq!(e.code, IMPAIRED);
        for part in [
            "i-0123456789abcdef0 is impaired",
            "status 139",
            "SIGSEGV",
            "1 user-mode fault",
            "ip:41b9e4",
            "--cleanup",
        ] {
            assert!(e.message.contains(part), "{part:?} missing: {}", e.message);
        }
    }

    #[test]
    fn the_summary_says_how_to_see_the_metrics() {
        let m = metrics_commands("i-0123456789abcdef0");
        assert_eq!(m.live, "ec2lab top --instance-ids i-0123456789abcdef0");
        assert!(m.history.starts_with(
            "ec2lab cloudwatch get-metric-statistics --namespace AWS/EC2 \
             --metric-name CPUUtilization --dimensions Name=InstanceId,Value=i-0123456789abcdef0 \
             --start-time $(date -u -d '1 hour ago' +%Y-%m-%dT%H:%M:%SZ) "
        ));
        assert!(m.history.ends_with(" --period 300 --statistics Average"));
        // The times are a shell's to fill in: GNU date prints what the aws CLI takes.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("echo $(date -u -d '1 hour ago' +%Y-%m-%dT%H:%M:%SZ)")
            .output()
            .unwrap();
        let t = String::from_utf8(out.stdout).unwrap();
        assert_eq!(t.trim().len(), "2026-01-01T00:00:00Z".len(), "{t}");
    }

    #[test]
    fn user_data_is_a_script() {
        assert!(USER_DATA.starts_with("#!/bin/sh\n"));
        assert!(USER_DATA.len() < instances::MAX_USER_DATA);
    }
}
