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
    let env = [
        ("EC2LAB_VOLUME_RESERVE_MIB", reserve.as_str()),
        ("EC2LAB_VOLUME_OVERCOMMIT", "0"),
    ];
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

/// Runs `args` with the kill point `step` armed; the CLI must die by SIGKILL there.
fn killed_at(lab: &Lab, step: &str, args: &[&str]) {
    use std::os::unix::process::ExitStatusExt;
    let out = run_env(lab, &[("EC2LAB_TEST_KILL_AT", step)], args);
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{args:?} was not killed at {step}: {:?} {}",
        out.status,
        stderr(&out)
    );
}

/// The VMM's own word on its guest: `running` or `paused`.
fn vmm_state(lab: &Lab, id: &str) -> String {
    ctl(&lab.run_dir(id).join("vmm.sock"), "status")["status"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Files under `dir` (recursively) whose names contain `part`.
fn files_named(dir: &Path, part: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() {
            out.extend(files_named(&e.path(), part));
        } else if name.contains(part) {
            out.push(name);
        }
    }
    out
}

fn root_volume(lab: &Lab, id: &str) -> String {
    lab.describe(id)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn killed_copies_are_undone_and_the_guest_runs_on() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-kill", TinyOs::StayUp);
    let id = lab.run(&ami, &[]).remove(0);
    lab.wait("instance-running", &id);
    let vol = root_volume(&lab, &id);
    let volumes = lab.state_dir().join("lab-1/volumes");
    let snapshots = lab.state_dir().join("lab-1/snapshots");

    // Killed with the guest paused for the copy: its lease died with it.
    killed_at(
        &lab,
        "paused-copy",
        &["create-snapshot", "--volume-id", &vol],
    );
    assert_eq!(vmm_state(&lab, &id), "running", "left frozen");
    // Killed after chunking, before the snapshot was recorded.
    killed_at(
        &lab,
        "snapshot-chunked",
        &["create-snapshot", "--volume-id", &vol],
    );
    assert!(
        !files_named(&snapshots, "snap-").is_empty(),
        "the kill point comes after the chunking"
    );
    // The next command undoes both: no snapshot, no copy, no manifest.
    let v = lab.ok(&["describe-snapshots"]);
    assert_eq!(v["Snapshots"], serde_json::json!([]), "{v}");
    assert_eq!(files_named(&volumes, ".copy"), Vec::<String>::new());
    assert_eq!(files_named(&snapshots, "snap-"), Vec::<String>::new());
    assert_eq!(vmm_state(&lab, &id), "running");

    // A whole snapshot still works, and restores; a restore killed before the volume
    // was recorded leaves a file the next command removes.
    let snap = lab.ok(&["create-snapshot", "--volume-id", &vol])["SnapshotId"]
        .as_str()
        .unwrap()
        .to_string();
    killed_at(
        &lab,
        "volume-copied",
        &[
            "create-volume",
            "--snapshot-id",
            &snap,
            "--availability-zone",
            "lab-1a",
        ],
    );
    assert_eq!(files_named(&volumes, "vol-").len(), 2, "the orphan's file");
    let v = lab.ok(&["describe-volumes"]);
    assert_eq!(v["Volumes"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        files_named(&volumes, "vol-"),
        vec![format!("{vol}.img")],
        "only the root's file stays"
    );

    // create-image killed while the instance is held down for the copy: the next
    // command starts it again, and no image or scratch copy is left.
    killed_at(
        &lab,
        "image-held-down",
        &["create-image", "--instance-id", &id, "--name", "killed"],
    );
    lab.wait("instance-running", &id);
    let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let sock = lab.run_dir(&id).join("vmm.sock");
        let up = sock.exists() && {
            let mut c = ec2lab();
            c.args(["vmm-ctl", "--api-sock", sock.to_str().unwrap(), "status"]);
            run_with_timeout(c, 20).status.success()
        };
        if up {
            break;
        }
        assert!(
            std::time::Instant::now() < end,
            "the held-down instance did not start again"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(vmm_state(&lab, &id), "running");
    assert!(!lab.run_dir(&id).join("image-copy.img").exists());
    let images = lab.ok(&["describe-images", "--owners", "self"]);
    assert!(
        !images.to_string().contains("\"killed\""),
        "a killed create-image left an image: {images}"
    );
    // And a create-image that is not killed works on the restarted instance.
    lab.ok(&[
        "create-image",
        "--instance-id",
        &id,
        "--name",
        "whole",
        "--no-reboot",
    ]);
    assert_eq!(vmm_state(&lab, &id), "running");
}

/// The pids of processes running `ec2lab vmm --launch <launch>`.
fn vmms_on(launch: &Path) -> Vec<i64> {
    let want = launch.to_str().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i64 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let args: Vec<String> = cmd
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            args.windows(3)
                .any(|w| w[0] == "vmm" && w[1] == "--launch" && w[2] == want)
                .then_some(pid)
        })
        .collect()
}

#[test]
fn a_supervisor_killed_after_spawning_its_vmm_leaves_exactly_one() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-sup", TinyOs::StayUp);
    // The supervisor inherits the kill point and dies between the spawn and the record.
    let out = run_env(
        &lab,
        &[("EC2LAB_TEST_KILL_AT", "vmm-spawned")],
        &["run-instances", "--image-id", &ami],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    let launch = lab.run_dir(&id).join("launch.json");
    let end = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while vmms_on(&launch).is_empty() {
        assert!(std::time::Instant::now() < end, "no VMM was spawned");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let first = vmms_on(&launch);
    // The next command adopts that VMM; the new supervisor watches it.
    lab.wait("instance-running", &id);
    std::thread::sleep(std::time::Duration::from_secs(2));
    lab.describe(&id);
    assert_eq!(vmms_on(&launch), first, "a second VMM on the same disk");
    assert_eq!(vmm_state(&lab, &id), "running");
    let st = lab.ok(&["describe-instance-status", "--instance-ids", &id]);
    assert_eq!(
        st["InstanceStatuses"][0]["SystemStatus"]["Status"], "ok",
        "{st}"
    );
}

#[test]
fn locked_disks_still_grow_and_move_between_running_guests() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-locks", TinyOs::StayUp);
    let ids = lab.run(&ami, &["--count", "2"]);
    for id in &ids {
        lab.wait("instance-running", id);
    }
    // A running guest's root grows: its VMM reopens the file it holds locked.
    let root = root_volume(&lab, &ids[0]);
    lab.ok(&["modify-volume", "--volume-id", &root, "--size", "2"]);
    // A volume hot-detached from one running guest can be hot-attached to another: the
    // first VMM let go of its lock with the media.
    let vol = lab.create_volume(1);
    let attach = |id: &str| lab.attach_sdf(&vol, id);
    attach(&ids[0]);
    lab.ok(&["detach-volume", "--volume-id", &vol, "--force"]);
    attach(&ids[1]);
    for id in &ids {
        assert_eq!(vmm_state(&lab, id), "running");
    }
}
