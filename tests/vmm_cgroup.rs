//! An instance's VMM in its cgroup (src/instances/cgroup.rs): a tiny guest's VMM started
//! as the supervisor starts one, joining the group between fork and exec, runs inside
//! it with the instance type's limits, and the group goes once the VMM has.

mod common;
use common::*;

use ec2lab::instances::{cgroup, process};

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn the_vmm_runs_in_its_cgroup_with_the_types_limits() {
    let g = Guest::new(&Asm::new().print("up\n").halt_forever(), false);
    let disk = g.path("vol.img");
    std::fs::write(&disk, vec![0u8; 1 << 20]).unwrap();
    let id = format!("i-cgtest{:08x}", std::process::id());
    // t3.micro-like: 2 vCPUs, 1 GiB, one gp3 volume at its baseline.
    let limits = cgroup::limits(2, 1024, &[(disk.clone(), (3000, 125))]);
    let group = cgroup::prepare(&id, &limits)
        .unwrap()
        .expect("this host has cgroups mounted");
    let sock = g.path("api.sock");
    let cmd = g.vmm(&["--api-sock", sock.to_str().unwrap()]);
    let (pid, _) =
        process::spawn_detached_in(cmd, &g.path("vmm.log"), &group.procs_files()).unwrap();
    wait_for_path(&sock, 20);
    let member = read(std::path::Path::new(&format!("/proc/{pid}/cgroup")));
    let dirs = group.dirs().to_vec();
    let v1 = dirs[0].components().any(|c| c.as_os_str() == "memory");
    let result = std::panic::catch_unwind(|| {
        // Every thread, not just the first: cgroup.procs moves the whole process.
        let tasks = read(&dirs[0].join("cgroup.procs"));
        assert!(
            tasks.lines().any(|l| l == pid.to_string()),
            "pid {pid} not in {}: {tasks}",
            dirs[0].display()
        );
        if v1 {
            for c in ["memory", "cpu"] {
                let want = format!(":{c}:/ec2lab/{id}");
                assert!(member.lines().any(|l| l.ends_with(&want)), "{member}");
            }
            let mem = &dirs[0];
            let cpu = &dirs[1];
            assert_eq!(
                read(&mem.join("memory.limit_in_bytes")),
                ((1024 + cgroup::VMM_OVERHEAD_MIB) << 20).to_string()
            );
            assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "200000");
            assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "100000");
            if let Some(io) = &limits.io {
                let blk = &dirs[2];
                let (ma, mi) = io.dev;
                assert_eq!(
                    read(&blk.join("blkio.throttle.read_iops_device")),
                    format!("{ma}:{mi} 3000")
                );
                assert_eq!(
                    read(&blk.join("blkio.throttle.write_bps_device")),
                    format!("{ma}:{mi} {}", 125u64 << 20)
                );
            }
        } else {
            assert!(member.contains(&format!("/ec2lab/{id}")), "{member}");
            assert_eq!(
                read(&dirs[0].join("memory.max")),
                ((1024 + cgroup::VMM_OVERHEAD_MIB) << 20).to_string()
            );
            assert_eq!(read(&dirs[0].join("cpu.max")), "200000 100000");
        }
    });
    // SAFETY: kill(2) of the VMM this test started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    wait_until("the VMM to end", 20, || {
        process::reap(pid);
        std::fs::metadata(format!("/proc/{pid}"))
            .is_err()
            .then_some(())
    });
    cgroup::remove(&id);
    for d in &dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// A group whose VMM was killed without its supervisor (kill -9, a deleted state
/// directory) is removed by the next instance's start once it is old; a young one is
/// left for the VMM about to join it.
#[test]
fn stale_empty_groups_are_swept_young_ones_kept() {
    let limits = cgroup::limits(1, 512, &[]);
    let stale = format!("i-cgstale{:08x}", std::process::id());
    let young = format!("i-cgyoung{:08x}", std::process::id());
    let stale_dirs = cgroup::prepare(&stale, &limits)
        .unwrap()
        .unwrap()
        .dirs()
        .to_vec();
    let young_dirs = cgroup::prepare(&young, &limits)
        .unwrap()
        .unwrap()
        .dirs()
        .to_vec();
    for d in &stale_dirs {
        let ok = std::process::Command::new("touch")
            .args(["-d", "2 hours ago"])
            .arg(d)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let me = format!("i-cgnext{:08x}", std::process::id());
    cgroup::prepare(&me, &limits).unwrap().unwrap();
    let left: Vec<_> = stale_dirs.iter().filter(|d| d.exists()).collect();
    let young_left = young_dirs.iter().all(|d| d.exists());
    for id in [&stale, &young, &me] {
        cgroup::remove(id);
    }
    assert!(left.is_empty(), "stale groups left: {left:?}");
    assert!(young_left, "a young group was swept");
}
