//! The VMM's per-thread seccomp filters (src/vmm/seccomp.rs), on real KVM with tiny
//! guests: every thread runs filtered, and a system call outside a thread's list kills
//! the whole VMM with SIGSYS before the guest gets further.

mod common;
use common::*;

use std::os::unix::process::ExitStatusExt;

/// "Seccomp:", "Seccomp_filters:" and "NoNewPrivs:" of every thread of `pid`.
fn threads_seccomp(pid: u32) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let t = t.unwrap().path();
        let status = std::fs::read_to_string(t.join("status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        out.push((
            field("Name:"),
            field("Seccomp:"),
            field("Seccomp_filters:"),
            field("NoNewPrivs:"),
        ));
    }
    out
}

#[test]
fn every_vmm_thread_runs_under_a_filter() {
    let g = Guest::new(&Asm::new().print("up\n").halt_forever(), false);
    let (mut child, sock) = g.spawn_with_api(&[]);
    // The console line comes from the vCPU thread, after its filter is in.
    wait_until("the guest's line", 20, || {
        g.console().contains("up").then_some(())
    });
    let threads = threads_seccomp(child.id());
    let stop = run_with_timeout(
        {
            let mut c = ec2lab();
            c.args(["vmm-ctl", "--api-sock", sock.to_str().unwrap(), "stop"]);
            c
        },
        20,
    );
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(stop.status.success(), "{}", stderr(&stop));
    assert!(
        status.code().is_some(),
        "the VMM died of a signal: {status:?}; {err}"
    );
    assert!(err.contains("seccomp filters on"), "{err}");
    assert!(
        threads.iter().any(|t| t.0.starts_with("vcpu")),
        "{threads:?}"
    );
    for (name, mode, filters, nnp) in &threads {
        // Mode 2 is SECCOMP_MODE_FILTER; no_new_privs comes with it.
        assert_eq!(mode, "2", "thread {name} is not filtered: {threads:?}");
        assert!(filters.parse::<u32>().unwrap() >= 1, "{threads:?}");
        assert_eq!(nnp, "1", "{threads:?}");
    }
}

fn violation(thread: &str, seccomp: Option<&str>) -> (std::process::Output, Guest) {
    let g = Guest::new(&Asm::new().print("RAN\n").reset(), false);
    let mut cmd = g.vmm(&[]);
    cmd.env("EC2LAB_TEST_SECCOMP_VIOLATION", thread);
    if let Some(v) = seccomp {
        cmd.env("EC2LAB_SECCOMP", v);
    }
    (run_with_timeout(cmd, 60), g)
}

#[test]
fn a_forbidden_syscall_in_a_vcpu_thread_kills_the_vmm() {
    let (out, g) = violation("vcpu", None);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGSYS),
        "status {:?}; stderr: {}",
        out.status,
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("was not stopped"),
        "{}",
        stderr(&out)
    );
    // The vCPU thread died before its first KVM_RUN.
    assert_eq!(g.console(), "");
}

#[test]
fn a_forbidden_syscall_in_the_main_thread_kills_the_vmm() {
    let (out, _g) = violation("main", None);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGSYS),
        "status {:?}; stderr: {}",
        out.status,
        stderr(&out)
    );
}

#[test]
fn with_filters_off_the_same_call_only_fails() {
    // The kill above is the filter's doing: without it ptrace(2) just returns an error
    // and the guest runs to its reset.
    let (out, g) = violation("vcpu", Some("0"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "stderr: {err}");
    assert!(err.contains("seccomp filters off"), "{err}");
    assert!(err.contains("was not stopped"), "{err}");
    assert_eq!(g.console(), "RAN\n");
}

/// An instance whose VMM a filter kills: its supervisor reaps the SIGSYS and says so in
/// the instance's state reason (a tiny OS, so this takes a second).
#[test]
fn the_supervisor_reports_a_vmm_killed_by_its_filter() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-os", TinyOs::StayUp);
    // The CLI starts the supervisor, which starts the VMM: both inherit the hook.
    let out = lab
        .cmd(&["run-instances", "--image-id", &ami])
        .env("EC2LAB_TEST_SECCOMP_VIOLATION", "vcpu")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    // (aws's instance-stopped waiter gives up on "pending": poll the state instead.)
    wait_until("the instance to stop", 60, || {
        (lab.state(&id) == "stopped").then_some(())
    });
    let reason = lab.describe(&id)["StateReason"]["Message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.contains("killed by SIGSYS") && reason.contains("seccomp"),
        "{reason}"
    );
}

/// The console log's rotation (rename, then open with O_APPEND|O_CREAT) happens on the
/// vCPU thread that prints, under its filter: a guest printing past the 1 MiB cap gets
/// its log rotated and runs on.
#[test]
fn the_console_log_rotates_under_the_vcpu_filter() {
    let line = "r".repeat(63) + "\n";
    let body = Asm::new().print(&line);
    let back = -((body.len() + 5) as i32);
    let g = Guest::new(&body.bytes(&[0xe9]).bytes(&back.to_le_bytes()), false);
    let mut child = g
        .vmm(&[])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let rotated = g.path("console.1");
    let start = std::time::Instant::now();
    let mut alive = true;
    while !rotated.exists() && start.elapsed() < std::time::Duration::from_secs(240) {
        if child.try_wait().unwrap().is_some() {
            alive = false;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let still = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        alive && still,
        "the VMM died: {:?}; {}",
        out.status,
        stderr(&out)
    );
    assert!(
        rotated.exists(),
        "no rotation within 240 s: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("seccomp filters on"),
        "{}",
        stderr(&out)
    );
}
