//! ec2lab Linux as EC2 users know it, on one real VM of the quick-start AMI: the AWS
//! documentation's IMDSv2 `curl` lines and `ec2-metadata -i` print the instance's id, the
//! everyday commands of the seed notes' step 5 run, and the root file system fills its
//! 8 GiB volume (`df -h /` within 5 %), grown at first boot and still grown after a stop
//! and start and in an AMI made from the instance (create-image, then a launch of it).
//! The first instance is a t3.small: its guest runs both of the type's vCPUs (`nproc`), as
//! `describe-instances` says (CoreCount × ThreadsPerCore).
//!
//! Slow here (three guest boots on a nested KVM); needs guest-images/out (skips without it
//! unless EC2LAB_REQUIRE_IMAGES=1).

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const READY: &str = "EC2LAB-GUEST-READY";
const GROWN: &str = "ec2lab-agent: root file system grown from";

struct RealGuest {
    real: RealLab,
    key: PathBuf,
}

impl std::ops::Deref for RealGuest {
    type Target = RealLab;
    fn deref(&self) -> &RealLab {
        &self.real
    }
}

impl RealGuest {
    /// A shell script run over ssh as ec2-user: its stdout (it must succeed).
    fn ssh(&self, id: &str, script: &str) -> String {
        let key = self.key.display().to_string();
        let started = Instant::now();
        let out = run_with_timeout(self.cmd(&["ssh", id, "-i", &key, "--", script]), 600);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!(
            "ssh ({:.1} s): {script}\n{stdout}{}",
            started.elapsed().as_secs_f64(),
            stderr(&out)
        );
        assert!(out.status.success(), "ssh {script:?}: {}", stderr(&out));
        stdout
    }

    fn console(&self, id: &str) -> String {
        std::fs::read_to_string(self.lab.run_dir(id).join("vmm/console.log")).unwrap_or_default()
    }

    /// Waits until the console has shown the ready marker `times` times; the seconds taken.
    fn wait_ready(&self, id: &str, times: usize, since: Instant) -> f64 {
        let end = Instant::now() + Duration::from_secs(900);
        while self.console(id).matches(READY).count() < times {
            assert!(
                Instant::now() < end,
                "{id}: boot {times} never ready; console:\n{}",
                self.console(id)
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        since.elapsed().as_secs_f64()
    }

    /// Waits for a console line containing `needle`; that line.
    fn wait_console(&self, id: &str, needle: &str) -> String {
        let end = Instant::now() + Duration::from_secs(600);
        loop {
            if let Some(l) = self.console(id).lines().find(|l| l.contains(needle)) {
                return l.to_string();
            }
            assert!(
                Instant::now() < end,
                "{id}: no {needle:?} on the console:\n{}",
                self.console(id)
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn wait_state(&self, what: &str, id: &str) {
        self.ok(&["wait", what, "--instance-ids", id, "--timeout-secs", "900"]);
    }
}

/// The size `df -h /` prints for the root, in GiB (busybox: `7.8G`).
fn df_root_gib(out: &str) -> f64 {
    let line = out
        .lines()
        .skip_while(|l| !l.starts_with("Filesystem"))
        .nth(1)
        .unwrap_or_else(|| panic!("no df line in {out:?}"));
    let size = line.split_whitespace().nth(1).unwrap();
    let (num, unit) = size.split_at(size.len() - 1);
    let n: f64 = num.parse().unwrap_or_else(|_| panic!("df size {size:?}"));
    match unit {
        "G" => n,
        "M" => n / 1024.0,
        "T" => n * 1024.0,
        _ => panic!("df size {size:?}"),
    }
}

fn assert_fills_8gib(out: &str, when: &str) {
    let gib = df_root_gib(out);
    assert!(
        (gib - 8.0).abs() <= 0.4,
        "{when}: df -h / says {gib} GiB for an 8 GiB root volume:\n{out}"
    );
}

fn quick_start_ami(t: &RealGuest) -> String {
    let v = t.ok(&[
        "describe-images",
        "--filters",
        "Name=name,Values=ec2lab-linux",
    ]);
    v["Images"][0]["ImageId"].as_str().unwrap().to_string()
}

fn launch(t: &RealGuest, ami: &str, group: &str, instance_type: &str) -> (String, Instant) {
    let started = Instant::now();
    let v = t.ok(&[
        "run-instances",
        "--image-id",
        ami,
        "--instance-type",
        instance_type,
        "--key-name",
        "tools",
        "--security-group-ids",
        group,
    ]);
    let id = v["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    (id, started)
}

#[test]
fn aws_docs_commands_and_an_8_gib_root_on_a_real_vm() {
    let Some(real) = RealLab::new() else {
        return;
    };
    let key = real.lab.state_dir().join("tools.pem");
    let t = RealGuest {
        real,
        key: key.clone(),
    };
    let material = t.ok(&["create-key-pair", "--key-name", "tools"])["KeyMaterial"]
        .as_str()
        .unwrap()
        .to_string();
    write_key(&key, &material);
    let group = t.ok(&[
        "create-security-group",
        "--group-name",
        "tools",
        "--description",
        "ssh",
    ])["GroupId"]
        .as_str()
        .unwrap()
        .to_string();
    t.ok(&[
        "authorize-security-group-ingress",
        "--group-id",
        &group,
        "--protocol",
        "tcp",
        "--port",
        "22",
        "--cidr",
        "0.0.0.0/0",
    ]);
    let ami = quick_start_ami(&t);
    let image = t.ok(&["describe-images", "--image-ids", &ami]);
    assert_eq!(
        image["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"], 8,
        "{image}"
    );

    // Boot 1: the root grows from the image's 64 MiB to the 8 GiB volume.
    let (id, started) = launch(&t, &ami, &group, "t3.small");
    t.wait_state("instance-running", &id);
    let running = started.elapsed().as_secs_f64();
    let ready = t.wait_ready(&id, 1, started);
    // The agent grows the root in its background child, after the ready marker.
    let grown = t.wait_console(&id, GROWN);
    eprintln!(
        "boot 1: running after {running:.1} s, ready after {ready:.1} s, grown after {:.1} s: {grown}",
        started.elapsed().as_secs_f64()
    );
    let volume = t.ok(&[
        "describe-volumes",
        "--filters",
        &format!("Name=attachment.instance-id,Values={id}"),
    ]);
    assert_eq!(volume["Volumes"][0]["Size"], 8, "{volume}");
    let file = t.lab.state_dir().join(format!(
        "lab-1/volumes/{}.img",
        volume["Volumes"][0]["VolumeId"].as_str().unwrap()
    ));
    assert_sparse(&file, 8 << 30);

    // The AWS documentation's lines, exactly as written there.
    let out = t.ssh(
        &id,
        r#"TOKEN=$(curl -X PUT "http://169.254.169.254/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 21600") && curl -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/instance-id; echo
curl -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/
echo
ec2-metadata -i
df -h /
lsblk
hostname; ip addr show eth0; free -m; uptime; top -bn1 | head -3
wget -q -O - http://169.254.169.254/latest/meta-data/instance-type; echo
echo "nproc=$(nproc) online=$(cat /sys/devices/system/cpu/online)""#,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], id, "IMDSv2 curl: {out}");
    assert!(
        lines.contains(&"instance-id") && lines.contains(&"local-ipv4"),
        "the meta-data/ listing: {out}"
    );
    assert!(
        lines.contains(&format!("instance-id: {id}").as_str()),
        "ec2-metadata -i: {out}"
    );
    assert_fills_8gib(&out, "first boot");
    assert!(
        out.lines()
            .any(|l| l.starts_with("vda ") && l.contains(" 8G ") && l.ends_with(" /")),
        "lsblk: {out}"
    );
    assert!(
        out.contains("Mem:") && out.contains("load average"),
        "{out}"
    );
    assert!(out.lines().any(|l| l == "t3.small"), "wget: {out}");
    // Every vCPU of the type runs in the guest, and describe-instances says so.
    assert!(
        out.lines().any(|l| l == "nproc=2 online=0-1"),
        "the guest's CPUs: {out}"
    );
    let d = t.ok(&["describe-instances", "--instance-ids", &id]);
    let inst = &d["Reservations"][0]["Instances"][0];
    let cpu = &inst["CpuOptions"];
    assert_eq!(
        cpu["CoreCount"].as_u64().unwrap() * cpu["ThreadsPerCore"].as_u64().unwrap(),
        2,
        "{inst}"
    );
    assert_eq!(inst["Ec2LabInfo"]["VCpusRunning"], 2, "{inst}");

    // Stop and start: the grown file system stays grown, and nothing grows again.
    t.ok(&["stop-instances", "--instance-ids", &id]);
    t.wait_state("instance-stopped", &id);
    let started = Instant::now();
    t.ok(&["start-instances", "--instance-ids", &id]);
    let ready = t.wait_ready(&id, 2, started);
    eprintln!("boot 2 (after stop/start): ready after {ready:.1} s");
    assert_eq!(t.console(&id).matches(GROWN).count(), 1, "grown again?");
    let out = t.ssh(&id, "df -h /");
    assert_fills_8gib(&out, "after stop/start");

    // An AMI of it: VolumeSize 8, and an instance of it has the grown 8 GiB root.
    t.ok(&["stop-instances", "--instance-ids", &id]);
    t.wait_state("instance-stopped", &id);
    let made = t.ok(&[
        "create-image",
        "--instance-id",
        &id,
        "--name",
        "tools-grown",
    ]);
    let ami2 = made["ImageId"].as_str().unwrap().to_string();
    let image = t.ok(&["describe-images", "--image-ids", &ami2]);
    assert_eq!(
        image["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"], 8,
        "{image}"
    );
    t.ok(&["terminate-instances", "--instance-ids", &id]);
    let (id2, started) = launch(&t, &ami2, &group, "t2.micro");
    let ready = t.wait_ready(&id2, 1, started);
    eprintln!("boot 3 (an instance of the AMI made from it): ready after {ready:.1} s");
    assert!(!t.console(&id2).contains(GROWN), "{}", t.console(&id2));
    let out = t.ssh(&id2, "df -h /; ec2-metadata --instance-id --quiet");
    assert_fills_8gib(&out, "instance of the created AMI");
    assert_eq!(out.lines().last(), Some(id2.as_str()), "{out}");
    t.ok(&["terminate-instances", "--instance-ids", &id2]);
}

fn write_key(path: &Path, material: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, material).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The volume file is `len` bytes long and sparse: far fewer bytes used on the host.
fn assert_sparse(file: &Path, len: u64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(file).unwrap();
    assert_eq!(m.len(), len, "{}", file.display());
    let used = m.blocks() * 512;
    eprintln!(
        "{}: {} bytes long, {used} bytes used on the host",
        file.display(),
        m.len()
    );
    assert!(
        used < len / 20,
        "{} is not sparse: {used} bytes used",
        file.display()
    );
}
