//! Every instance's VMM runs jailed (issue 15.3), seen from the host's /proc while two
//! tiny-OS instances run under their real supervisors: an unprivileged uid of its own, no
//! capability in any set, no_new_privs and seccomp on every thread, its own mount, PID,
//! IPC, UTS and network namespaces, and a read-only root holding nothing but its own
//! `vmm/` directory, so neither its own disks nor another instance's are reachable by
//! path. A volume attached while it runs reaches it as an open descriptor.

mod common;
use common::*;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The VMM's host pid, as its control socket reports it.
fn vmm_pid(lab: &Lab, id: &str) -> u32 {
    let sock = lab.run_dir(id).join("vmm.sock");
    let mut c = ec2lab();
    c.args(["vmm-ctl", "--api-sock", sock.to_str().unwrap(), "status"]);
    let out = run_with_timeout(c, 30);
    assert!(out.status.success(), "vmm-ctl status: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["status"]["pid"].as_u64().unwrap() as u32
}

/// The `key:` line of /proc/<pid>/<file>, after the key.
fn field(pid: &str, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

/// Every path under `root`, relative to it.
fn tree(root: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(root).unwrap().to_path_buf());
            if e.file_type().unwrap().is_dir() {
                todo.push(p);
            }
        }
    }
    out
}

fn ns(pid: &str, kind: &str) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap()
}

#[test]
fn an_instances_vmm_is_jailed_and_gets_disks_as_descriptors() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    let ids = lab.run(&ami, &["--count", "2"]);
    let (a, b) = (&ids[0], &ids[1]);
    for id in &ids {
        lab.wait("instance-running", id);
    }
    let (pa, pb) = (vmm_pid(&lab, a), vmm_pid(&lab, b));
    let (sa, sb) = (pa.to_string(), pb.to_string());

    // Unprivileged, its own uid, on every thread.
    let uid_a = field(&sa, "Uid");
    let ids_a: Vec<&str> = uid_a.split_whitespace().collect();
    assert_eq!(ids_a.len(), 4, "{uid_a}");
    assert!(
        ids_a.iter().all(|u| *u == ids_a[0]),
        "real, effective, saved, fs: {uid_a}"
    );
    assert!(ids_a[0].parse::<u32>().unwrap() >= 1_000_000_000, "{uid_a}");
    assert_eq!(field(&sa, "Gid"), uid_a, "its group is its own too");
    assert_eq!(field(&sa, "Groups"), "");
    assert_ne!(
        field(&sb, "Uid"),
        uid_a,
        "each instance's VMM is its own user"
    );
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(field(&sa, cap), "0000000000000000", "{cap}");
    }
    let threads: Vec<String> = std::fs::read_dir(format!("/proc/{pa}/task"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(threads.len() >= 2, "main and vCPU threads: {threads:?}");
    for t in &threads {
        let t = format!("{pa}/task/{t}");
        assert_eq!(field(&t, "Uid"), uid_a, "thread {t}");
        assert_eq!(field(&t, "CapEff"), "0000000000000000", "thread {t}");
        assert_eq!(field(&t, "NoNewPrivs"), "1", "thread {t}");
        assert_eq!(field(&t, "Seccomp"), "2", "thread {t}");
    }

    // Its own namespaces; pid 1 in its PID namespace, the recorded pid on the host.
    assert_eq!(field(&sa, "NSpid"), format!("{pa}\t1"));
    let me = std::process::id().to_string();
    for kind in ["mnt", "pid", "ipc", "uts", "net"] {
        assert_ne!(ns(&sa, kind), ns(&me, kind), "{kind} namespace");
        assert_ne!(ns(&sa, kind), ns(&sb, kind), "{kind}: one per VMM");
    }

    // Its root: a read-only tmpfs holding only the way to its own vmm/ directory.
    let root = PathBuf::from(format!("/proc/{pa}/root"));
    let run_a = lab.run_dir(a);
    let vmm_dir = run_a.join("vmm");
    let rel = |p: &Path| p.strip_prefix("/").unwrap().to_path_buf();
    let seen = tree(&root);
    for p in &seen {
        let inside_vmm_dir = p.starts_with(rel(&vmm_dir));
        let on_the_way = rel(&vmm_dir).starts_with(p);
        assert!(
            inside_vmm_dir || on_the_way,
            "the jail shows {}",
            p.display()
        );
    }
    assert!(
        seen.contains(&rel(&vmm_dir).join("console.log")),
        "{seen:?}"
    );
    assert!(!root.join(rel(&run_a.join("launch.json"))).exists());
    assert!(!root.join("dev/kvm").exists() && !root.join("proc/1").exists());
    let mounts = std::fs::read_to_string(format!("/proc/{pa}/mountinfo")).unwrap();
    let lines: Vec<&str> = mounts.lines().collect();
    assert_eq!(lines.len(), 2, "{mounts}");
    assert!(lines[0].contains(" / / ro,nosuid,nodev,noexec"), "{mounts}");
    assert!(
        lines[1].contains(&format!(" {} rw,nosuid,nodev,noexec", vmm_dir.display())),
        "{mounts}"
    );

    // Neither its own disks nor the other instance's are reachable by path.
    let volumes: Vec<PathBuf> = std::fs::read_dir(lab.state_dir().join("lab-1/volumes"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(volumes.len() >= 2, "{volumes:?}");
    for v in &volumes {
        assert!(!root.join(rel(v)).exists(), "{} reachable", v.display());
    }
    assert!(!root.join(rel(&lab.run_dir(b))).exists());

    // A volume attached while it runs comes as a descriptor the VMM holds open, and
    // counts in its cgroup's I/O limit at once (cgroup v1 here: its blkio throttle).
    let blkio = PathBuf::from(format!(
        "/sys/fs/cgroup/blkio/ec2lab/{a}/blkio.throttle.read_iops_device"
    ));
    let iops = || -> u64 {
        let text = std::fs::read_to_string(&blkio).unwrap_or_default();
        text.split_whitespace()
            .nth(1)
            .map_or(0, |v| v.parse().unwrap())
    };
    let iops_before = iops();
    let vol = lab.create_volume(1);
    lab.attach_sdf(&vol, a);
    let image = lab.state_dir().join(format!("lab-1/volumes/{vol}.img"));
    let held = std::fs::read_dir(format!("/proc/{pa}/fd"))
        .unwrap()
        .flatten()
        .any(|e| std::fs::read_link(e.path()).ok().as_deref() == Some(image.as_path()));
    assert!(held, "the VMM holds {} open", image.display());
    if std::path::Path::new("/sys/fs/cgroup/blkio").is_dir() {
        // Root and new volume are gp3 (ec2lab's default, as EC2's now) at its baseline.
        assert_eq!((iops_before, iops()), (3000, 6000), "{}", blkio.display());
    }
    assert!(!root.join(rel(&image)).exists());

    // Nothing of the jail is left on the host: its mounts lived in the VMM's namespace.
    lab.ok(&["terminate-instances", "--instance-ids", a, b]);
    lab.wait("instance-terminated", a);
    lab.wait("instance-terminated", b);
    assert!(!run_a.join("jail").exists(), "the jail's root is removed");
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !host_mounts.contains(&run_a.display().to_string()),
        "{host_mounts}"
    );
}
