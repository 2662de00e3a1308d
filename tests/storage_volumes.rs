//! EBS volumes, the instance store and snapshots, on real KVM guests. The tiny OS's
//! `DataDisk` mode reads its second disk, writes a marker there and flushes: enough to see
//! data follow a volume from one instance to another, survive a killed VMM, and vanish
//! from an instance store on stop/start.

mod common;
use common::*;

use std::time::{Duration, Instant};

fn wait_console(lab: &Lab, id: &str, needle: &str) -> String {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let c = lab.console(id);
        if c.contains(needle) {
            return c;
        }
        assert!(Instant::now() < end, "{id}: no {needle:?} in console:\n{c}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `needle` has appeared `n` times on the console.
fn wait_count(lab: &Lab, id: &str, needle: &str, n: usize) -> String {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let c = lab.console(id);
        if count(&c, needle) >= n {
            return c;
        }
        assert!(
            Instant::now() < end,
            "{id}: {needle:?} not seen {n} times:\n{c}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn create_volume(lab: &Lab, size: &str) -> String {
    let v = lab.ok(&[
        "create-volume",
        "--size",
        size,
        "--availability-zone",
        "lab-1a",
    ]);
    assert_eq!(v["State"], "available");
    v["VolumeId"].as_str().unwrap().to_string()
}

fn volume(lab: &Lab, id: &str) -> serde_json::Value {
    lab.ok(&["describe-volumes", "--volume-ids", id])["Volumes"][0].clone()
}

fn volume_file(lab: &Lab, id: &str) -> std::path::PathBuf {
    lab.state_dir()
        .join("lab-1/volumes")
        .join(format!("{id}.img"))
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// A file written to a volume on instance A is read on instance B after detach/attach;
/// the write was flushed, so killing A's VMM with SIGKILL loses nothing.
#[test]
fn a_flushed_write_follows_the_volume_to_another_instance_even_after_kill_9() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-data", TinyOs::DataDisk);
    let vol = create_volume(&lab, "1");
    // No automatic recovery: its new VMM would boot A again and write again.
    let a = lab
        .run(&ami, &["--maintenance-options", "AutoRecovery=disabled"])
        .remove(0);
    lab.wait("instance-running", &a);
    // Attach while running: the VMM's empty slot gets the volume.
    let att = lab.ok(&[
        "attach-volume",
        "--volume-id",
        &vol,
        "--instance-id",
        &a,
        "--device",
        "/dev/sdf",
    ]);
    assert_eq!(att["State"], "attached");
    let v = volume(&lab, &vol);
    assert_eq!(v["State"], "in-use");
    assert_eq!(v["Attachments"][0]["InstanceId"], a.as_str());
    // Reboot so the tiny OS (which looks at its disks only at boot) uses it.
    lab.ok(&["reboot-instances", "--instance-ids", &a]);
    wait_count(&lab, &a, "flushed", 2);
    // Kill -9 the VMM right after the flush was acknowledged.
    let run = lab.run_dir(&a);
    let out = std::process::Command::new("pgrep")
        .args(["-f", &format!("{}/launch.json", run.display())])
        .output()
        .unwrap();
    let pid: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    // SAFETY: kill(2) of the VMM this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    // A running instance whose VMM died is impaired until stopped (no VMM to ask).
    wait_until("A impaired", 10, || {
        let v = lab.ok(&["describe-instance-status", "--instance-ids", &a]);
        (v["InstanceStatuses"][0]["SystemStatus"]["Status"] == "impaired").then_some(())
    });
    lab.ok(&["stop-instances", "--instance-ids", &a]);
    lab.wait("instance-stopped", &a);
    let bytes = std::fs::read(volume_file(&lab, &vol)).unwrap();
    assert_eq!(&bytes[..16], b"DATA-DISK-WRITE!");

    // A volume is attached to one instance at a time.
    let b = lab.run(&ami, &[]).remove(0);
    lab.wait("instance-running", &b);
    let e = lab.ec2(&[
        "attach-volume",
        "--volume-id",
        &vol,
        "--instance-id",
        &b,
        "--device",
        "/dev/sdf",
    ]);
    assert_eq!(e.code, 254);
    assert!(e.stderr.contains("(VolumeInUse)"), "{}", e.stderr);
    // Detach from the stopped A (no --force needed), attach to B, and B reads A's data.
    lab.ok(&["detach-volume", "--volume-id", &vol]);
    assert_eq!(volume(&lab, &vol)["State"], "available");
    lab.ok(&[
        "attach-volume",
        "--volume-id",
        &vol,
        "--instance-id",
        &b,
        "--device",
        "/dev/sdg",
    ]);
    // Detaching from a running instance needs --force (ec2lab cannot see guest mounts).
    let e = lab.ec2(&["detach-volume", "--volume-id", &vol]);
    assert!(e.stderr.contains("--force"), "{}", e.stderr);
    lab.ok(&["detach-volume", "--volume-id", &vol, "--force"]);
    lab.ok(&[
        "attach-volume",
        "--volume-id",
        &vol,
        "--instance-id",
        &b,
        "--device",
        "/dev/sdf",
    ]);
    lab.ok(&["reboot-instances", "--instance-ids", &b]);
    let c = wait_count(&lab, &b, "flushed", 2);
    assert!(c.contains("vdb:DATA-DISK-WRITE!"), "{c:?}");
}

/// The instance store is fast and ephemeral: it survives a reboot, but a stop/start gives
/// an empty one, while the EBS root keeps its data (the boot counter goes on).
#[test]
fn instance_store_vanishes_on_stop_while_the_ebs_root_keeps_its_data() {
    let lab = Lab::new();
    let store_dir = lab.state_dir().join("instance-store");
    let ami = lab.tiny_ami("tiny-data", TinyOs::DataDisk);
    let run = |args: &[&str]| {
        let mut c = lab.cmd(args);
        c.env("EC2LAB_INSTANCE_STORE_DIR", &store_dir);
        let out = run_with_timeout(c, 60);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap_or_default()
    };
    let v = run(&[
        "run-instances",
        "--image-id",
        &ami,
        "--instance-type",
        "m5d.large",
    ]);
    let id = v["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    let bdm = v["Instances"][0]["BlockDeviceMappings"].to_string();
    assert!(bdm.contains("ephemeral0"), "{bdm}");
    // First boot: an empty store (zeros), then written.
    let c = wait_console(&lab, &id, "flushed");
    assert!(c.contains("vdb:\0\0\0\0"), "{c:?}");
    let file = store_dir.join("lab-1").join(&id).join("ephemeral0.img");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 75_000_000_000);
    run(&["wait", "instance-running", "--instance-ids", &id]);
    // Reboot: the store keeps the data.
    run(&["reboot-instances", "--instance-ids", &id]);
    let c = wait_count(&lab, &id, "flushed", 2);
    assert!(c.contains("vdb:DATA-DISK-WRITE!"), "{c:?}");
    // Stop: the store is destroyed. Start: a new, empty one; the root counter goes on.
    run(&["stop-instances", "--instance-ids", &id]);
    run(&["wait", "instance-stopped", "--instance-ids", &id]);
    assert!(!file.exists(), "instance store kept after stop");
    run(&["start-instances", "--instance-ids", &id]);
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let c = lab.console(&id);
        if c.contains("boot 3") && count(&c, "flushed") == 3 {
            let last = c.rsplit("boot 3").next().unwrap();
            assert!(
                last.contains("vdb:\0\0\0\0"),
                "store not empty after stop/start: {last:?}"
            );
            break;
        }
        assert!(Instant::now() < end, "{c:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    run(&["terminate-instances", "--instance-ids", &id]);
    run(&["wait", "instance-terminated", "--instance-ids", &id]);
    assert!(!file.exists());
    // The root volume went with the instance (DeleteOnTermination).
    let vols = run(&["describe-volumes"]);
    assert_eq!(vols["Volumes"].as_array().unwrap().len(), 0, "{vols}");
}

/// Snapshots are point-in-time and incremental, and survive the deletion of others.
#[test]
fn snapshots_restore_the_exact_bytes_of_their_moment() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-data", TinyOs::DataDisk);
    let vol = create_volume(&lab, "1");
    let file = volume_file(&lab, &vol);
    // Write data from the host side at known offsets (the volume is not attached yet).
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        for i in 0..8u64 {
            f.seek(SeekFrom::Start(i * (8 << 20))).unwrap();
            f.write_all(&vec![i as u8 + 1; 64 * 1024]).unwrap();
        }
    }
    // Attach to a running guest, which writes its marker: the snapshot is taken while the
    // volume is in use (the guest is paused for the copy).
    let id = lab.run(&ami, &[]).remove(0);
    lab.wait("instance-running", &id);
    lab.ok(&[
        "attach-volume",
        "--volume-id",
        &vol,
        "--instance-id",
        &id,
        "--device",
        "/dev/sdf",
    ]);
    lab.ok(&["reboot-instances", "--instance-ids", &id]);
    wait_count(&lab, &id, "flushed", 2);
    let s1 = lab.ok(&[
        "create-snapshot",
        "--volume-id",
        &vol,
        "--description",
        "first",
    ]);
    let at_s1 = std::fs::read(&file).unwrap();
    assert_eq!(&at_s1[..16], b"DATA-DISK-WRITE!");
    let s1_id = s1["SnapshotId"].as_str().unwrap().to_string();
    assert_eq!(s1["State"], "completed");
    let added1 = s1["Ec2LabInfo"]["BytesAdded"].as_u64().unwrap();
    assert!((8 * 64 * 1024..16 << 20).contains(&added1), "{added1}");

    // Change one block; the second snapshot stores only that chunk.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.seek(SeekFrom::Start(3 * (8 << 20) + 4096)).unwrap();
        f.write_all(b"changed after the first snapshot").unwrap();
    }
    let s2 = lab.ok(&["create-snapshot", "--volume-id", &vol]);
    let s2_id = s2["SnapshotId"].as_str().unwrap().to_string();
    assert_eq!(s2["Ec2LabInfo"]["BytesAdded"], 512 * 1024, "{s2}");
    let at_s2 = std::fs::read(&file).unwrap();

    // Restore the first: the exact bytes of its moment.
    let r1 = lab.ok(&[
        "create-volume",
        "--snapshot-id",
        &s1_id,
        "--availability-zone",
        "lab-1a",
    ]);
    let r1_id = r1["VolumeId"].as_str().unwrap();
    assert_eq!(r1["SnapshotId"], s1_id.as_str());
    assert!(
        std::fs::read(volume_file(&lab, r1_id)).unwrap() == at_s1,
        "restore of s1 differs"
    );
    // Deleting the first leaves the second whole.
    lab.ok(&["delete-snapshot", "--snapshot-id", &s1_id]);
    let r2 = lab.ok(&[
        "create-volume",
        "--snapshot-id",
        &s2_id,
        "--availability-zone",
        "lab-1a",
        "--size",
        "2",
    ]);
    let r2_file = volume_file(&lab, r2["VolumeId"].as_str().unwrap());
    let r2_bytes = std::fs::read(&r2_file).unwrap();
    assert_eq!(r2_bytes.len() as u64, 2 << 30);
    assert!(
        r2_bytes[..at_s2.len()] == at_s2[..],
        "restore of s2 differs after deleting s1"
    );
    let v = lab.ok(&["describe-snapshots"]);
    assert_eq!(v["Snapshots"].as_array().unwrap().len(), 1);
}

#[test]
fn bad_storage_input_gets_ec2_errors_and_changes_nothing() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    let vol = create_volume(&lab, "1");
    let id = lab.run(&ami, &[]).remove(0);
    lab.wait("instance-running", &id);
    lab.ok(&["terminate-instances", "--instance-ids", &id]);
    lab.wait("instance-terminated", &id);
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "create-volume",
                "--size",
                "0",
                "--availability-zone",
                "lab-1a",
            ],
            "(InvalidParameterValue)",
        ),
        (
            &[
                "create-volume",
                "--size",
                "16000",
                "--availability-zone",
                "lab-1a",
            ],
            "(InsufficientVolumeCapacity)",
        ),
        (
            &[
                "create-volume",
                "--size",
                "1",
                "--availability-zone",
                "us-east-1a",
            ],
            "(InvalidParameterValue)",
        ),
        (
            &[
                "create-volume",
                "--size",
                "1",
                "--availability-zone",
                "lab-1a",
                "--volume-type",
                "st9",
            ],
            "(InvalidParameterValue)",
        ),
        (
            &[
                "create-volume",
                "--snapshot-id",
                "snap-0123456789abcdef0",
                "--availability-zone",
                "lab-1a",
            ],
            "(InvalidSnapshot.NotFound)",
        ),
        (
            &[
                "attach-volume",
                "--volume-id",
                &vol,
                "--instance-id",
                &id,
                "--device",
                "/dev/sdf",
            ],
            "(IncorrectState)",
        ),
        (
            &[
                "attach-volume",
                "--volume-id",
                "vol-0123456789abcdef0",
                "--instance-id",
                &id,
                "--device",
                "/dev/sdf",
            ],
            "(InvalidVolume.NotFound)",
        ),
        (
            &["delete-snapshot", "--snapshot-id", "snap-0123456789abcdef0"],
            "(InvalidSnapshot.NotFound)",
        ),
        (
            &["modify-volume", "--volume-id", &vol, "--size", "0"],
            "(InvalidParameterValue)",
        ),
        (&["detach-volume", "--volume-id", &vol], "(IncorrectState)"),
    ];
    for (args, needle) in cases {
        let o = lab.ec2(args);
        assert_eq!(o.code, 254, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(needle), "{args:?}: {}", o.stderr);
    }
    // Nothing changed: one volume, available, not attached; no snapshots.
    let v = lab.ok(&["describe-volumes"]);
    assert_eq!(v["Volumes"].as_array().unwrap().len(), 1);
    assert_eq!(v["Volumes"][0]["State"], "available");
    assert_eq!(
        lab.ok(&["describe-snapshots"])["Snapshots"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Growing works, shrinking does not; deleting an available volume removes its file.
    let m = lab.ok(&["modify-volume", "--volume-id", &vol, "--size", "2"]);
    assert_eq!(m["VolumeModification"]["TargetSize"], 2);
    assert_eq!(
        std::fs::metadata(volume_file(&lab, &vol)).unwrap().len(),
        2 << 30
    );
    assert!(lab
        .ec2(&["modify-volume", "--volume-id", &vol, "--size", "1"])
        .stderr
        .contains("cannot be smaller"));
    lab.ok(&["delete-volume", "--volume-id", &vol]);
    assert!(!volume_file(&lab, &vol).exists());
}

/// describe-volumes and describe-snapshots filter on EC2's names, tags included.
#[test]
fn volume_and_snapshot_describes_take_ec2_filters() {
    let lab = Lab::new();
    let tagged = lab.ok(&[
        "create-volume",
        "--size",
        "1",
        "--availability-zone",
        "lab-1a",
        "--tag-specifications",
        "ResourceType=volume,Tags=[{Key=Name,Value=data}]",
    ])["VolumeId"]
        .as_str()
        .unwrap()
        .to_string();
    let plain = create_volume(&lab, "2");
    let ids = |v: serde_json::Value, list: &str, id: &str| -> Vec<String> {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[id].as_str().unwrap().to_string())
            .collect()
    };
    let v = lab.ok(&["describe-volumes", "--filters", "Name=tag:Name,Values=da*"]);
    assert_eq!(ids(v, "Volumes", "VolumeId"), vec![tagged.clone()]);
    let v = lab.ok(&["describe-volumes", "--filters", "Name=size,Values=2"]);
    assert_eq!(ids(v, "Volumes", "VolumeId"), vec![plain.clone()]);
    let v = lab.ok(&["describe-volumes", "--filters", "Name=tag-key,Values=Name"]);
    assert_eq!(ids(v, "Volumes", "VolumeId"), vec![tagged.clone()]);
    let snap = lab.ok(&["create-snapshot", "--volume-id", &plain])["SnapshotId"]
        .as_str()
        .unwrap()
        .to_string();
    lab.ok(&["create-snapshot", "--volume-id", &tagged]);
    let v = lab.ok(&[
        "describe-snapshots",
        "--filters",
        &format!("Name=volume-id,Values={plain}"),
    ]);
    assert_eq!(ids(v, "Snapshots", "SnapshotId"), vec![snap]);
    lab.fails(
        &["describe-snapshots", "--filters", "Name=colour,Values=x"],
        "InvalidParameterValue",
    );
}

/// The root volume is the AMI's `VolumeSize` (its root image rounded up to GiB), sparse on
/// the host; `--block-device-mappings` may make it larger, never smaller
/// (`InvalidBlockDeviceMapping`, as EC2 answers a size below the snapshot's).
#[test]
fn root_volume_is_the_amis_volume_size_or_the_mappings_and_sparse() {
    let lab = Lab::new();
    let files = lab.state_dir().join("big-root-files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(
        files.join("kernel"),
        elf(&tiny_boot().halt_forever().code, true),
    )
    .unwrap();
    let root = files.join("root.img");
    tiny_root_disk(&root);
    // 2 GiB and a bit: VolumeSize 3, as EC2 rounds an image up to whole GiB.
    let f = std::fs::OpenOptions::new().write(true).open(&root).unwrap();
    f.set_len((2 << 30) + 4096).unwrap();
    drop(f);
    let ami = lab.ok(&[
        "register-image",
        "--name",
        "big-root",
        "--kernel-file",
        files.join("kernel").to_str().unwrap(),
        "--root-image-file",
        root.to_str().unwrap(),
    ])["ImageId"]
        .as_str()
        .unwrap()
        .to_string();
    let img = lab.ok(&["describe-images", "--image-ids", &ami]);
    assert_eq!(
        img["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"], 3,
        "{img}"
    );
    let msg = lab.fails(
        &[
            "run-instances",
            "--image-id",
            &ami,
            "--block-device-mappings",
            "DeviceName=/dev/xvda,Ebs={VolumeSize=2}",
        ],
        "InvalidBlockDeviceMapping",
    );
    assert!(msg.contains("expect size >= 3GB"), "{msg}");
    assert_eq!(
        lab.ok(&["describe-volumes"])["Volumes"],
        serde_json::json!([]),
        "a refused launch makes no volume"
    );
    let root_volume = |id: &str| {
        let v = lab.ok(&[
            "describe-volumes",
            "--filters",
            &format!("Name=attachment.instance-id,Values={id}"),
        ]);
        v["Volumes"][0].clone()
    };
    for (extra, gib) in [
        (None, 3u64),
        (Some("DeviceName=/dev/xvda,Ebs={VolumeSize=5}"), 5),
    ] {
        let mut args = vec![];
        if let Some(m) = extra {
            args = vec!["--block-device-mappings", m];
        }
        let id = lab.run(&ami, &args).remove(0);
        let v = root_volume(&id);
        assert_eq!(v["Size"], gib, "{v}");
        let file = volume_file(&lab, v["VolumeId"].as_str().unwrap());
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!(meta.len(), gib << 30, "{}", file.display());
        // Sparse: only the image's few written blocks take space on the host.
        let used = std::os::unix::fs::MetadataExt::blocks(&meta) * 512;
        assert!(used < 1 << 20, "{} uses {used} bytes", file.display());
        lab.ok(&["terminate-instances", "--instance-ids", &id]);
    }
}
