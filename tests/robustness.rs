//! Bounded by construction, and interrupted work recovers (issue 15, items 4 and 5): the
//! disk's space is reserved by accounting, instance stores count against memory, and a
//! CLI or supervisor killed at a chosen step (`EC2LAB_TEST_KILL_AT`) leaves nothing the
//! next command does not finish or undo.

mod common;
use common::*;

use std::path::Path;
use std::process::Output;

const GIB: u64 = 1 << 30;

/// Free bytes of the file system holding `dir`, as `df` sees them.
fn free_bytes(dir: &Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df's free bytes")
}

fn run_env(lab: &Lab, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = lab.cmd(args);
    for (k, v) in env {
        c.env(k, v);
    }
    run_with_timeout(c, 120)
}

fn assert_code(out: &Output, code: &str) -> String {
    let e = stderr(out);
    assert_eq!(out.status.code(), Some(254), "expected {code}: {e}");
    assert!(e.contains(&format!("({code})")), "expected {code}: {e}");
    e
}

#[test]
fn volumes_reserve_the_space_they_may_write() {
    let lab = Lab::new();
    // Make the host's free space look like 6 GiB beyond the reserve, whatever the disk.
    let reserve_mib = (free_bytes(lab.state_dir()) >> 20).saturating_sub(6 * 1024);
    let reserve = reserve_mib.to_string();
    let env = [("EC2LAB_VOLUME_RESERVE_MIB", reserve.as_str())];
    let create = |size: &str| {
        run_env(
            &lab,
            &env,
            &[
                "create-volume",
                "--size",
                size,
                "--availability-zone",
                "lab-1a",
            ],
        )
    };
    let out = create("3");
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = v["VolumeId"].as_str().unwrap().to_string();
    // Thin: the file takes next to nothing on the disk.
    let file = lab
        .state_dir()
        .join("lab-1/volumes")
        .join(format!("{first}.img"));
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.len(), 3 * GIB);
    assert!(
        std::os::unix::fs::MetadataExt::blocks(&meta) * 512 < 1 << 20,
        "not sparse"
    );
    // 3 GiB promised + 4 GiB asked > 6 GiB free beyond the reserve.
    let e = assert_code(&create("4"), "InsufficientVolumeCapacity");
    assert!(e.contains("a 4 GiB volume"), "{e}");
    // Growing the first one past what is free is refused the same way.
    let grow = run_env(
        &lab,
        &env,
        &["modify-volume", "--volume-id", &first, "--size", "8"],
    );
    assert_code(&grow, "InsufficientVolumeCapacity");
    assert_eq!(
        lab.ok(&["describe-volumes", "--volume-ids", &first])["Volumes"][0]["Size"],
        3
    );
    // Deleting the first frees its promise: the 4 GiB volume fits now.
    lab.ok(&["delete-volume", "--volume-id", &first]);
    let out = create("4");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_instance_store_in_memory_counts_against_memory() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-store", TinyOs::StayUp);
    let mem_mib = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap()
        / 1024;
    // m5d.large: 8 GiB of RAM and a 75 GB store (71,526 MiB) on tmpfs.
    let need = 8192 + 71_526;
    let shm = lab.state_dir().join("no-store-here");
    let env_shm = [(
        "EC2LAB_INSTANCE_STORE_DIR",
        "/dev/shm/ec2lab-robustness-test",
    )];
    let args = [
        "run-instances",
        "--image-id",
        &ami,
        "--instance-type",
        "m5d.large",
    ];
    let out = run_env(&lab, &env_shm, &args);
    if mem_mib.saturating_sub(1024) < need {
        let e = assert_code(&out, "InsufficientInstanceCapacity");
        assert!(e.contains("instance store"), "{e}");
    } else {
        assert!(out.status.success(), "{}", stderr(&out));
        return;
    }
    // On disk, the store is not memory: the same launch fits.
    std::fs::create_dir_all(&shm).unwrap();
    let env_disk = [("EC2LAB_INSTANCE_STORE_DIR", shm.to_str().unwrap())];
    let out = run_env(&lab, &env_disk, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    run_env(
        &lab,
        &env_disk,
        &["terminate-instances", "--instance-ids", &id],
    );
}

fn ctl(sock: &Path, action: &str) -> serde_json::Value {
    let mut c = ec2lab();
    c.args(["vmm-ctl", "--api-sock", sock.to_str().unwrap(), action]);
    let out = run_with_timeout(c, 20);
    assert!(out.status.success(), "{action}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A tiny guest printing dots forever: it runs while its console grows.
fn dots_guest() -> Guest {
    let mut code = Asm::new().mov_dx(0x3f8).mov_al(b'.');
    let top = code.len();
    code = code.out_dx_al();
    let back = (top as isize - (code.len() as isize + 2)) as i8;
    Guest::new(&code.bytes(&[0xeb, back as u8]), false)
}

fn console_grows(g: &Guest) -> bool {
    let size = || {
        std::fs::metadata(g.path("console"))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    let before = size();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(50));
        if size() != before {
            return true;
        }
    }
    false
}

/// Sends one request line on `conn` and reads the answer line.
fn say(conn: &mut std::os::unix::net::UnixStream, line: &str) -> serde_json::Value {
    use std::io::{BufRead, Write};
    conn.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    std::io::BufReader::new(conn.try_clone().unwrap())
        .read_line(&mut answer)
        .unwrap();
    serde_json::from_str(&answer).unwrap()
}

#[test]
fn a_pause_lease_ends_with_its_holder() {
    use std::os::unix::net::UnixStream;
    let g = dots_guest();
    let (mut child, sock) = g.spawn_with_api(&[]);
    assert!(console_grows(&g));
    // The holder goes away (as a killed CLI's socket closes): the guest runs again.
    let mut lease = UnixStream::connect(&sock).unwrap();
    let v = say(&mut lease, r#"{"action":"pause-lease"}"#);
    assert_eq!(v["status"]["state"], "paused", "{v}");
    assert!(!console_grows(&g), "ran while leased");
    drop(lease);
    assert!(console_grows(&g), "still frozen after its holder went away");
    // A held pause outlives a lease that ends; `resume` ends it.
    let mut lease = UnixStream::connect(&sock).unwrap();
    say(&mut lease, r#"{"action":"pause-lease"}"#);
    ctl(&sock, "pause");
    drop(lease);
    assert!(!console_grows(&g), "the held pause ended with the lease");
    assert_eq!(ctl(&sock, "status")["status"]["state"], "paused");
    ctl(&sock, "resume");
    assert!(console_grows(&g));
    // A lease ended by a `resume` line on it is answered, and the guest runs.
    let mut lease = UnixStream::connect(&sock).unwrap();
    say(&mut lease, r#"{"action":"pause-lease"}"#);
    let v = say(&mut lease, r#"{"action":"resume"}"#);
    assert_eq!(v["ok"], true, "{v}");
    assert!(console_grows(&g));
    ctl(&sock, "stop");
    child.wait().unwrap();
}

#[test]
fn a_second_vmm_on_a_locked_disk_is_refused() {
    let g = dots_guest();
    let disk = g.path("vol.img");
    std::fs::write(&disk, vec![0u8; 1 << 20]).unwrap();
    let d = disk.to_str().unwrap();
    let (mut child, sock) = g.spawn_with_api(&["--disk", d]);
    assert!(console_grows(&g));
    // A second VMM, writing or only reading, finds the disk locked and does not start.
    for arg in [d.to_string(), format!("{d},ro")] {
        let other = Guest::new(&Asm::new().halt_forever(), false);
        let out = other.run(&["--disk", &arg]);
        assert!(!out.status.success(), "a second VMM started on {arg}");
        let e = stderr(&out);
        assert!(e.contains("is in use") && e.contains(d), "{e}");
    }
    // The first one runs on; once it has gone, the disk is free again.
    assert!(console_grows(&g));
    ctl(&sock, "stop");
    child.wait().unwrap();
    let other = dots_guest();
    let (mut second, sock) = other.spawn_with_api(&["--disk", d]);
    assert!(console_grows(&other));
    ctl(&sock, "stop");
    second.wait().unwrap();
}
