//! `describe-instances` shows what the guest's console says about its current boot
//! (`Ec2LabInfo.GuestStatus`), through the real supervisor, VMM and console log. A tiny
//! guest prints the lines a failing Linux guest prints (a user-mode fault, the agent's exit
//! status) on its first boot only, so a stop and start, and a reboot, show that earlier
//! boots' lines, still in the console log, no longer count. It prints no kernel banner:
//! only the boot lines ec2lab writes (`EC2LAB-BOOT n`) may tell its boots apart. Milliseconds
//! per boot.

mod common;
use common::*;

use std::time::{Duration, Instant};

use ec2lab::instances::console::current_boot;

const FAULT: &str = "[   52.331245] traps: user-data[30] general protection fault ip:41b9e4 sp:7ffc4a2b1c48 error:0 in busybox[400000+b1000]\n";

/// A tiny OS that counts its boots on its root disk (as `tiny_os` does) and prints what a
/// Linux boot prints from init on; on boot 1 its user data "crashes", later boots say it
/// already ran.
fn failing_first_boot() -> Asm {
    let mut a = virtio_init(Asm::new());
    a = blk_request(a, 0, 0, HDR_IN, 0, 0, DATA_IN);
    a = a.bytes(&[0xfe, 0x05]).bytes(&DATA_IN.to_le_bytes()); // inc byte [DATA_IN]
    a = blk_request(a, 3, 1, HDR_OUT, 1, 0, DATA_IN);
    a = a.print("boot ");
    a = print_mem(a, DATA_IN, 1);
    a = a.print("\n[    0.100000] Run /init as init process\nEC2LAB-GUEST-READY\n");
    let first = Asm::new()
        .print("ec2lab-agent: running user data\n")
        .print(FAULT)
        .print("ec2lab-agent: user data exited with status 139\n");
    let later = Asm::new().print("ec2lab-agent: user data already ran for this instance\n");
    // cmp byte [DATA_IN], '1'; jne later; first; jmp end; later:
    a = a
        .bytes(&[0x80, 0x3d])
        .bytes(&DATA_IN.to_le_bytes())
        .bytes(b"1");
    let skip_first = first.len() as u32 + 5; // past `first` and its jmp rel32
    a = a.bytes(&[0x0f, 0x85]).bytes(&skip_first.to_le_bytes());
    a = a.bytes(&first.code).bytes(&[0xe9]);
    a = a.bytes(&(later.len() as u32).to_le_bytes());
    a.bytes(&later.code).halt_forever()
}

fn guest_status(lab: &Lab, id: &str) -> serde_json::Value {
    lab.describe(id)["Ec2LabInfo"]["GuestStatus"].clone()
}

/// Polls describe-instances until the guest status is `want`.
fn wait_status(lab: &Lab, id: &str, want: &str) -> serde_json::Value {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let gs = guest_status(lab, id);
        if gs["Status"] == want {
            return gs;
        }
        assert!(
            Instant::now() < end,
            "GuestStatus never {want}: {gs}; console:\n{}",
            lab.console(id)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn describe_shows_the_current_boots_failures_only() {
    let lab = Lab::new();
    let files = lab.state_dir().join("ami-files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("kernel"), elf(&failing_first_boot().code, true)).unwrap();
    tiny_root_disk(&files.join("root.img"));
    let ami = lab.ok(&[
        "register-image",
        "--name",
        "failing-first-boot",
        "--kernel-file",
        files.join("kernel").to_str().unwrap(),
        "--root-image-file",
        files.join("root.img").to_str().unwrap(),
    ])["ImageId"]
        .as_str()
        .unwrap()
        .to_string();
    let id = lab.run(&ami, &[])[0].clone();
    // Running is running, as on EC2: the waiter does not judge the guest's programs.
    lab.wait("instance-running", &id);

    let gs = wait_status(&lab, &id, "impaired");
    assert_eq!(gs["UserData"]["Status"], "failed", "{gs}");
    assert_eq!(gs["UserData"]["ExitStatus"], 139, "{gs}");
    assert_eq!(gs["UserData"]["Signal"], "SIGSEGV", "{gs}");
    assert_eq!(
        gs["UserData"]["Line"],
        "ec2lab-agent: user data exited with status 139"
    );
    assert_eq!(gs["UserModeFaults"][0], FAULT.trim_end(), "{gs}");
    assert_eq!(gs["UserModeFaultCount"], 1, "{gs}");

    // A stopped instance has no current boot to judge.
    lab.ok(&["stop-instances", "--instance-ids", &id, "--force"]);
    lab.wait("instance-stopped", &id);
    assert!(lab.describe(&id)["Ec2LabInfo"].get("GuestStatus").is_none());

    // Started again: at once, before its new VMM has printed a line, the first boot's
    // failures (still in the console log) no longer count.
    lab.ok(&["start-instances", "--instance-ids", &id]);
    let gs = guest_status(&lab, &id);
    assert_ne!(gs["Status"], "impaired", "boot 1 counted for boot 2: {gs}");
    assert_eq!(gs["UserModeFaultCount"], 0, "{gs}");
    assert!(
        ["unknown", "already-ran"].contains(&gs["UserData"]["Status"].as_str().unwrap()),
        "{gs}"
    );
    let gs = wait_status(&lab, &id, "ok");
    assert_eq!(gs["UserData"]["Status"], "already-ran", "{gs}");
    assert_eq!(gs["UserModeFaultCount"], 0, "{gs}");
    let console = lab.console(&id);
    assert!(
        console.contains(FAULT) && current_boot(&console).contains("boot 2"),
        "{console}"
    );

    // A reboot is a new boot too, marked by the supervisor before its VMM starts. The
    // console can say ready before the supervisor has recorded `running`, and EC2 refuses
    // to reboot a pending instance: wait for the state first.
    lab.wait("instance-running", &id);
    lab.ok(&["reboot-instances", "--instance-ids", &id]);
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let console = lab.console(&id);
        let now = current_boot(&console);
        if now.contains("boot 3") && now.contains("already ran") {
            break;
        }
        assert!(Instant::now() < end, "no third boot: {console}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let gs = wait_status(&lab, &id, "ok");
    assert_eq!(gs["UserData"]["Status"], "already-ran", "{gs}");
    assert_eq!(gs["UserModeFaultCount"], 0, "{gs}");

    lab.ok(&["stop-instances", "--instance-ids", &id, "--force"]);
    lab.wait("instance-stopped", &id);
}
