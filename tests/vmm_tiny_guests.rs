//! `ec2lab vmm` running tiny guests on real KVM: each test's guest is a few instructions
//! that drive the VMM's devices, and each asserts what the guest did and how it ended.

mod common;
use common::*;

#[test]
fn long_mode_guest_prints_and_resets() {
    let g = Guest::new(&Asm::new().print("HELLO FROM 64-BIT\n").reset(), false);
    let out = g.run(&[]);
    assert_eq!(out.status.code(), Some(5), "stderr: {}", stderr(&out));
    assert_eq!(g.console(), "HELLO FROM 64-BIT\n");
    assert!(stderr(&out).contains("reset itself"));
}

#[test]
fn pvh_guest_gets_start_info_in_ebx() {
    // cmp dword [ebx], XEN_HVM_START_MAGIC; jne +N -> prints BAD
    let ok = Asm::new().print("PVH-OK\n").reset();
    let bad = Asm::new().print("PVH-BAD\n").reset();
    let code = Asm::new()
        .bytes(&[0x81, 0x3b])
        .bytes(&0x336e_c578u32.to_le_bytes())
        .bytes(&[0x0f, 0x85])
        .bytes(&(ok.len() as u32).to_le_bytes())
        .bytes(&ok.code)
        .bytes(&bad.code);
    let g = Guest::new(&code, true);
    let out = g.run(&[]);
    assert_eq!(out.status.code(), Some(5), "stderr: {}", stderr(&out));
    assert_eq!(g.console(), "PVH-OK\n");
}

#[test]
fn triple_fault_is_reported_with_the_address() {
    let g = Guest::new(&Asm::new().print("X").ud2(), false);
    let out = g.run(&[]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("crashed"), "{err}");
    assert!(err.contains("RIP 0x"), "{err}");
    assert_eq!(g.console(), "X");
}

#[test]
fn kernel_power_down_line_ends_the_vmm_as_power_off() {
    let g = Guest::new(
        &Asm::new().print("reboot: Power down\n").halt_forever(),
        false,
    );
    let out = g.run(&[]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("powered off"));
}

#[test]
fn control_socket_reports_status_and_stops_hard() {
    let g = Guest::new(&Asm::new().print("up\n").halt_forever(), false);
    let (child, sock) = g.spawn_with_api(&[]);
    let status = run_with_timeout(
        {
            let mut c = ec2lab();
            c.args(["vmm-ctl", "--api-sock", sock.to_str().unwrap(), "status"]);
            c
        },
        20,
    );
    assert!(status.status.success(), "{}", stderr(&status));
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["status"]["state"], "running");
    assert_eq!(v["status"]["pid"], child.id());
    let stop = run_with_timeout(
        {
            let mut c = ec2lab();
            c.args(["vmm-ctl", "--api-sock", sock.to_str().unwrap(), "stop"]);
            c
        },
        20,
    );
    assert!(stop.status.success(), "{}", stderr(&stop));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "stderr: {}", stderr(&out));
    assert!(!sock.exists(), "the VMM removes its socket on exit");
}

/// A guest that polls the keyboard controller and resets when it sees the Delete key:
/// proves Ctrl-Alt-Del travels from the control socket through the i8042 into the guest.
#[test]
fn graceful_shutdown_delivers_ctrl_alt_del() {
    let mut code = Asm::new().print("waiting\n");
    let poll = code.len();
    // in al,0x64; test al,1; jz poll; in al,0x60; cmp al,0x71; jne poll; reset
    code = code.in_al_port(0x64).bytes(&[0xa8, 0x01]);
    let jz_back = (poll as isize - (code.len() as isize + 2)) as i8;
    code = code
        .bytes(&[0x74, jz_back as u8])
        .in_al_port(0x60)
        .bytes(&[0x3c, 0x71]);
    let jne_back = (poll as isize - (code.len() as isize + 2)) as i8;
    code = code
        .bytes(&[0x75, jne_back as u8])
        .print("got ctrl-alt-del\n")
        .reset();
    let g = Guest::new(&code, false);
    let (child, sock) = g.spawn_with_api(&[]);
    let mut c = ec2lab();
    c.args([
        "vmm-ctl",
        "--api-sock",
        sock.to_str().unwrap(),
        "shutdown",
        "--timeout-secs",
        "30",
    ]);
    let resp = run_with_timeout(c, 20);
    assert!(resp.status.success(), "{}", stderr(&resp));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(5), "stderr: {}", stderr(&out));
    assert!(g.console().contains("got ctrl-alt-del"), "{}", g.console());
}

#[test]
fn shutdown_deadline_stops_a_guest_that_ignores_it() {
    let g = Guest::new(&Asm::new().halt_forever(), false);
    let (child, sock) = g.spawn_with_api(&[]);
    let mut c = ec2lab();
    c.args([
        "vmm-ctl",
        "--api-sock",
        sock.to_str().unwrap(),
        "shutdown",
        "--timeout-secs",
        "1",
    ]);
    assert!(run_with_timeout(c, 20).status.success());
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("deadline"), "{}", stderr(&out));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn bad_input_gets_clear_errors() {
    let g = Guest::new(&Asm::new().reset(), false);
    let out = g.run(&["--vcpus", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--vcpus must be between"),
        "{}",
        stderr(&out)
    );

    let out = g.run(&["--disk", "/nonexistent.img"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent.img"),
        "{}",
        stderr(&out)
    );

    let out = g.run(&["--mem-mib", "100000000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("more than this host can give"),
        "{}",
        stderr(&out)
    );

    let out = g.run(&["--disk", g.dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );

    let out = g.run(&["--disk", "x.img,turbo"]);
    assert_eq!(out.status.code(), Some(2), "clap usage error");
    assert!(stderr(&out).contains("turbo"), "{}", stderr(&out));

    let junk = g.path("junk");
    std::fs::write(&junk, b"not a kernel at all").unwrap();
    let mut c = ec2lab();
    c.args([
        "vmm",
        "--serial-out",
        "none",
        "--kernel",
        junk.to_str().unwrap(),
    ]);
    let out = run_with_timeout(c, 30);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("neither an ELF vmlinux nor a bzImage"),
        "{}",
        stderr(&out)
    );
}

fn ctl(sock: &std::path::Path, action: &str) -> serde_json::Value {
    let mut c = ec2lab();
    c.args(["vmm-ctl", "--api-sock", sock.to_str().unwrap(), action]);
    let out = run_with_timeout(c, 20);
    assert!(out.status.success(), "{action}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A guest that prints dots forever: while paused, its console must not grow.
#[test]
fn pause_freezes_the_guest_and_resume_lets_it_go_on() {
    let mut code = Asm::new().mov_dx(0x3f8).mov_al(b'.');
    let top = code.len();
    code = code.out_dx_al();
    let back = (top as isize - (code.len() as isize + 2)) as i8;
    code = code.bytes(&[0xeb, back as u8]);
    let g = Guest::new(&code, false);
    let sock = g.path("api.sock");
    let exit_file = g.path("exit.json");
    let child = g
        .vmm(&[
            "--api-sock",
            sock.to_str().unwrap(),
            "--exit-file",
            exit_file.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_path(&sock, 20);
    let size = || {
        std::fs::metadata(g.path("console"))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    let v = ctl(&sock, "pause");
    assert_eq!(v["status"]["state"], "paused");
    let frozen = size();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(size(), frozen, "console grew while paused");
    let v = ctl(&sock, "resume");
    assert_eq!(v["status"]["state"], "running");
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while size() == frozen {
        assert!(std::time::Instant::now() < end, "guest did not resume");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    ctl(&sock, "stop");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&exit_file).unwrap()).unwrap();
    assert_eq!(rec["code"], 4);
    assert_eq!(rec["outcome"], "stopped");
}
