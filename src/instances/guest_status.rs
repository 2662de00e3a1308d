//! What an instance's console says about the guest's health in its current boot: how its
//! user data ended (the agent's `ec2lab-agent: user data exited with status N`) and which
//! user-mode faults its kernel logged (`segfault at`, `general protection fault`, `trap …`).
//! The one reader of these facts: `lab httpd` stops waiting on them, `describe-instances`
//! shows them as `Ec2LabInfo.GuestStatus`, in the spirit of EC2's instance status check.
//!
//! The console log keeps every boot of an instance (each VMM appends to it); only the
//! current boot counts, as [`current_boot`] (in `console`) finds it: from the last boot line
//! ec2lab wrote (`EC2LAB-BOOT <n> …`, before the instance is `pending` again and before each
//! VMM starts). An earlier boot's failures thus stop counting as soon as a new boot
//! begins, not only once its kernel prints a banner; and a program printing `Linux
//! version …` (`cat /proc/version`) does not hide what came before it. Text with no boot
//! line (a tail that one long boot has filled, a log from before boot lines) is one boot.

use std::path::Path;

use thiserror::Error;

use super::console::{current_boot, is_ready_line};
use crate::ec2::shapes::instances::{Ec2LabGuestStatus, Ec2LabUserDataStatus};

/// How the guest agent starts each of its console lines.
const AGENT: &str = "ec2lab-agent: ";
/// Fault lines kept for display; the count says how many there were in all.
const MAX_FAULT_LINES: usize = 5;
/// How much of the end of the console log is read. More than EC2's 64 KiB of console
/// output, so that a fault is not lost behind a chatty user data script.
const TAIL_BYTES: u64 = 1 << 20;

/// The user data, as far as the agent has told in this boot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum UserData {
    /// Nothing said yet (still booting, or an image without ec2lab's agent).
    #[default]
    Unknown,
    /// The instance has no user data.
    None,
    /// It ran in an earlier boot: user data runs once per instance, as on EC2.
    AlreadyRan,
    /// The agent started it and it has not exited yet.
    Running,
    /// Its exit status; 128+N when signal N killed it, as a shell reports it.
    Exited(i32),
}

/// The facts one boot's console gives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestStatus {
    /// How far the user data got.
    pub user_data: UserData,
    /// The agent line that told `user_data`.
    pub user_data_line: Option<String>,
    /// The first few user-mode fault lines, as the kernel logged them.
    pub faults: Vec<String>,
    /// How many user-mode fault lines there were in all.
    pub fault_count: usize,
    /// The image printed its ready marker (sshd is up on ec2lab Linux).
    pub ready: bool,
}

/// Why a guest counts as impaired.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum GuestFailure {
    /// The user data script exited with a non-zero status.
    #[error(
        "its user data exited with status {status}{}: its own output is in \
         /var/log/cloud-init-output.log on the instance",
        signal_note(*status)
    )]
    UserData {
        /// The exit status (128+N for signal N).
        status: i32,
    },
    /// A program in the guest crashed.
    #[error(
        "its kernel logged {count} user-mode fault{} (a program crashed), first: {first}; \
         the console output shows which programs",
        if *count == 1 { "" } else { "s" }
    )]
    UserModeFault {
        /// How many fault lines the kernel logged.
        count: usize,
        /// The first of them.
        first: String,
    },
}

impl GuestStatus {
    /// Reads the tail of a console log; a missing log is a guest that has said nothing.
    pub fn read(console_log: &Path) -> GuestStatus {
        GuestStatus::parse(&console_tail(console_log))
    }

    /// The facts of the console's current boot.
    pub fn parse(console: &str) -> GuestStatus {
        let mut s = GuestStatus::default();
        for line in current_boot(console).lines() {
            let line = line.trim_end();
            if let Some(ud) = agent_user_data(line) {
                s.user_data = ud;
                s.user_data_line = Some(line.trim_start().to_string());
            } else if is_user_mode_fault(kernel_message(line)) {
                s.fault_count += 1;
                if s.faults.len() < MAX_FAULT_LINES {
                    s.faults.push(line.trim_start().to_string());
                }
            } else if is_ready_line(line) {
                s.ready = true;
            }
        }
        s
    }

    /// What makes the guest impaired, user data first; empty when nothing does.
    pub fn failures(&self) -> Vec<GuestFailure> {
        let mut out = Vec::new();
        if let UserData::Exited(status) = self.user_data {
            if status != 0 {
                out.push(GuestFailure::UserData { status });
            }
        }
        if let Some(first) = self.faults.first() {
            out.push(GuestFailure::UserModeFault {
                count: self.fault_count,
                first: first.clone(),
            });
        }
        out
    }

    /// The console lines that show the failures.
    pub fn evidence(&self) -> Vec<&str> {
        let mut lines = Vec::new();
        if matches!(self.user_data, UserData::Exited(s) if s != 0) {
            lines.extend(self.user_data_line.as_deref());
        }
        lines.extend(self.faults.iter().map(String::as_str));
        lines
    }

    /// As a status check would put it: `impaired`, `ok` (ready, nothing wrong) or
    /// `initializing`.
    pub fn status(&self) -> &'static str {
        if !self.failures().is_empty() {
            "impaired"
        } else if self.ready {
            "ok"
        } else {
            "initializing"
        }
    }

    /// `Ec2LabInfo.GuestStatus` in `describe-instances`.
    pub fn to_shape(&self) -> Ec2LabGuestStatus {
        let exit_status = match self.user_data {
            UserData::Exited(status) => Some(status),
            _ => None,
        };
        Ec2LabGuestStatus {
            status: self.status().into(),
            user_data: Ec2LabUserDataStatus {
                status: match self.user_data {
                    UserData::Unknown => "unknown",
                    UserData::None => "none",
                    UserData::AlreadyRan => "already-ran",
                    UserData::Running => "running",
                    UserData::Exited(0) => "succeeded",
                    UserData::Exited(_) => "failed",
                }
                .into(),
                exit_status,
                signal: exit_status.and_then(signal_name).map(String::from),
                line: self.user_data_line.clone(),
            },
            user_mode_faults: self.faults.clone(),
            user_mode_fault_count: self.fault_count,
        }
    }
}

/// The kernel's message in a console line: what follows its printk timestamp
/// (`[   45.123456] `). The last timestamp wins: a program's output and a kernel line
/// can share a console line. A line without one is returned whole (kernels built without
/// PRINTK_TIME).
fn kernel_message(line: &str) -> &str {
    let mut msg = line.trim();
    for (close, _) in line.match_indices("] ") {
        let Some(open) = line[..close].rfind('[') else {
            continue;
        };
        let stamp = line[open + 1..close].trim_start();
        let is_time = stamp.split_once('.').is_some_and(|(s, us)| {
            !s.is_empty()
                && !us.is_empty()
                && s.bytes().all(|b| b.is_ascii_digit())
                && us.bytes().all(|b| b.is_ascii_digit())
        });
        if is_time {
            msg = line[close + 2..].trim();
        }
    }
    msg
}

/// Lines the x86 kernel prints when a user program dies of a CPU exception
/// (arch/x86/mm/fault.c and kernel/traps.c), and arm64's when its
/// show_unhandled_signals is on.
fn is_user_mode_fault(msg: &str) -> bool {
    (msg.starts_with("traps: ")
        && msg.contains(" ip:")
        && (msg.contains("] general protection") || msg.contains("] trap ")))
        || msg.contains("]: segfault at ")
        || msg.contains("]: unhandled exception")
}

/// What an agent line says about the user data, if it is one about it.
fn agent_user_data(line: &str) -> Option<UserData> {
    let rest = &line[line.find(AGENT)? + AGENT.len()..];
    if let Some(n) = rest.strip_prefix("user data exited with status ") {
        let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
        return digits.parse().ok().map(UserData::Exited);
    }
    if rest.starts_with("running user data") {
        Some(UserData::Running)
    } else if rest.starts_with("no user data") {
        Some(UserData::None)
    } else if rest.starts_with("user data already ran") {
        Some(UserData::AlreadyRan)
    } else {
        None
    }
}

/// The signal an exit status of 128+N stands for, by name, for the common ones.
pub fn signal_name(status: i32) -> Option<&'static str> {
    Some(match status - 128 {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// ` (128+11: killed by SIGSEGV)` for a status that means a signal.
fn signal_note(status: i32) -> String {
    signal_name(status)
        .map(|s| format!(" ({status} = 128+{}: killed by {s})", status - 128))
        .unwrap_or_default()
}

/// The end of a console log as text (the last MiB, from its first whole line): what
/// [`GuestStatus::parse`] and [`current_boot`] take. Empty when there is no log yet.
pub fn console_tail(path: &Path) -> String {
    let buf = crate::vmm::console_log::read_tail(path, TAIL_BYTES + 1);
    let whole = buf.len() as u64 <= TAIL_BYTES;
    let text = String::from_utf8_lossy(&buf).into_owned();
    if whole {
        return text;
    }
    // Cut inside a line: its start is lost, so drop the rest of it.
    match text.split_once('\n') {
        Some((_, rest)) => rest.to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON `describe-instances` shows.
    fn describe(s: &GuestStatus) -> serde_json::Value {
        serde_json::to_value(s.to_shape()).unwrap()
    }

    /// A real-looking first boot of the lab's instance, from the boot line ec2lab writes up
    /// to the agent starting the user data; the cases below append how it ends.
    const BOOT: &str = "\
EC2LAB-BOOT 1 i-0f3a29c4d5e6b7a81 2026-11-28T10:00:00.000Z
[    0.000000] Linux version 6.1.158-ec2lab (root@build) (gcc (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC
[    0.000000] Command line: console=ttyS0 reboot=k panic=1 root=/dev/vda rw
[   38.204117] Run /sbin/init as init process
ec2lab-agent: seeded the kernel random pool (256 bytes)
ec2lab-agent: instance i-0f3a29c4d5e6b7a81, hostname ip-172-31-0-4
EC2LAB-GUEST-READY
ec2lab-agent: running user data
";

    const GP_FAULT: &str = "[   52.331245] traps: user-data[30] general protection fault ip:41b9e4 sp:7ffc4a2b1c48 error:0 in busybox[400000+b1000]";
    const SEGFAULT: &str = "[   49.880412] user-data[30]: segfault at 0 ip 00000000004a4d02 sp 00007ffd9b0e6f40 error 4 in busybox[400000+b1000] likely on CPU 0 (core 0, socket 0)";

    fn boot_then(lines: &[&str]) -> String {
        let mut c = BOOT.to_string();
        for l in lines {
            c.push_str(l);
            c.push('\n');
        }
        c
    }

    #[test]
    fn user_data_exit_0_is_ok() {
        let s = GuestStatus::parse(&boot_then(&[
            "Installed: httpd",
            "ec2lab-agent: user data exited with status 0",
        ]));
        assert_eq!(s.user_data, UserData::Exited(0));
        assert!(s.ready);
        assert!(s.failures().is_empty(), "{:?}", s.failures());
        assert_eq!(s.status(), "ok");
        let d = describe(&s);
        assert_eq!(d["UserData"]["Status"], "succeeded");
        assert_eq!(d["UserData"]["ExitStatus"], 0);
        assert!(d["UserData"].get("Signal").is_none());
    }

    #[test]
    fn user_data_exit_1_fails() {
        let s = GuestStatus::parse(&boot_then(&[
            "yum: no such package: htttpd",
            "ec2lab-agent: user data exited with status 1",
        ]));
        assert_eq!(
            s.failures(),
            [GuestFailure::UserData { status: 1 }],
            "{s:?}"
        );
        assert_eq!(
            s.evidence(),
            ["ec2lab-agent: user data exited with status 1"]
        );
        assert_eq!(s.status(), "impaired");
        let d = describe(&s);
        assert_eq!(d["Status"], "impaired");
        assert_eq!(d["UserData"]["Status"], "failed");
        assert_eq!(d["UserData"]["ExitStatus"], 1);
        assert_eq!(
            d["UserData"]["Line"],
            "ec2lab-agent: user data exited with status 1"
        );
        assert!(s.failures()[0].to_string().contains("status 1:"));
    }

    #[test]
    fn killed_user_data_and_its_fault_are_both_reported() {
        let s = GuestStatus::parse(&boot_then(&[
            GP_FAULT,
            "ec2lab-agent: user data exited with status 139",
        ]));
        assert_eq!(s.user_data, UserData::Exited(139));
        assert_eq!(s.faults, [GP_FAULT.to_string()]);
        assert_eq!(s.fault_count, 1);
        assert_eq!(
            s.evidence(),
            ["ec2lab-agent: user data exited with status 139", GP_FAULT]
        );
        let f = s.failures();
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].to_string().contains("killed by SIGSEGV"), "{}", f[0]);
        let d = describe(&s);
        assert_eq!(d["UserData"]["Signal"], "SIGSEGV");
        assert_eq!(d["UserModeFaults"][0], GP_FAULT);
        assert_eq!(d["UserModeFaultCount"], 1);
    }

    #[test]
    fn a_fault_is_a_failure_before_the_user_data_ends() {
        // The lab must not wait for the agent's line once the kernel has said it.
        let s = GuestStatus::parse(&boot_then(&[
            SEGFAULT,
            "[   49.881003] Code: 48 8b 05 e9 1f 0b 00 64 48 8b 00 <48> 8b 00 c3 66 0f 1f 44 00 00",
        ]));
        assert_eq!(s.user_data, UserData::Running);
        assert_eq!(
            s.faults,
            [SEGFAULT.to_string()],
            "the Code: line is not a fault"
        );
        assert_eq!(s.status(), "impaired");
        assert!(matches!(
            s.failures()[..],
            [GuestFailure::UserModeFault { count: 1, .. }]
        ));
    }

    #[test]
    fn invalid_opcode_and_interleaved_lines_are_faults() {
        let ud2 = "[   61.002310] traps: yum[34] trap invalid opcode ip:4a4d02 sp:7ffe1c2d3e40 error:0 in busybox[400000+b1000]";
        let shared = format!(
            "Installing httpd...{}",
            &GP_FAULT.replace("user-data[30]", "cat[41]")
        );
        let s = GuestStatus::parse(&boot_then(&[ud2, &shared]));
        assert_eq!(s.fault_count, 2, "{s:?}");
    }

    #[test]
    fn many_faults_are_counted_but_few_kept() {
        let lines = vec![GP_FAULT; 9];
        let s = GuestStatus::parse(&boot_then(&lines));
        assert_eq!(s.fault_count, 9);
        assert_eq!(s.faults.len(), MAX_FAULT_LINES);
    }

    #[test]
    fn lookalikes_are_not_faults() {
        let s = GuestStatus::parse(&boot_then(&[
            "[    1.204000] traps: PVM workaround enabled for syscall entry",
            "user data says: general protection fault is a CPU exception",
            "[    2.000000] x86/fpu: Supporting XSAVE feature 0x001: 'x87 floating point registers'",
            "ec2lab-agent: error: recording the user data's status: disk full",
        ]));
        assert_eq!(s.fault_count, 0, "{s:?}");
        assert_eq!(s.user_data, UserData::Running);
    }

    /// Boot 1 failed (fault, status 139) and the instance was rebooted.
    fn failed_boot_then_boot_2() -> String {
        let mut c = boot_then(&[GP_FAULT, "ec2lab-agent: user data exited with status 139"]);
        c.push_str("[  130.000000] reboot: Restarting system\n");
        c.push_str("EC2LAB-BOOT 2 i-0f3a29c4d5e6b7a81 2026-11-28T10:02:10.000Z\n");
        c
    }

    #[test]
    fn a_new_boot_counts_from_its_boot_line() {
        let boot_1 = boot_then(&[GP_FAULT, "ec2lab-agent: user data exited with status 139"]);
        assert_eq!(GuestStatus::parse(&boot_1).status(), "impaired");
        // Boot 2 has begun (start-instances or the supervisor wrote its line) but its VMM
        // has printed nothing yet, not even a kernel banner: boot 1 no longer counts.
        let s = GuestStatus::parse(&failed_boot_then_boot_2());
        assert_eq!(s, GuestStatus::default(), "boot 1 counted for boot 2");
        assert_eq!(s.status(), "initializing");
    }

    #[test]
    fn only_the_current_boot_counts() {
        // Boot 2 is clean and its agent does not run the user data again.
        let mut c = failed_boot_then_boot_2();
        c.push_str("[    0.000000] Linux version 6.1.158-ec2lab (root@build) #1 SMP\n");
        c.push_str("[   37.900000] Run /sbin/init as init process\n");
        let s = GuestStatus::parse(&c);
        assert_eq!(s.user_data, UserData::Unknown, "{s:?}");
        assert_eq!(s.fault_count, 0);
        assert!(!s.ready, "the earlier boot's ready marker does not count");
        assert_eq!(s.status(), "initializing");
        c.push_str(
            "ec2lab-agent: user data already ran for i-0f3a29c4d5e6b7a81\nEC2LAB-GUEST-READY\n",
        );
        let s = GuestStatus::parse(&c);
        assert_eq!(s.user_data, UserData::AlreadyRan);
        assert_eq!(s.status(), "ok");
        assert_eq!(describe(&s)["UserData"]["Status"], "already-ran");
        // And a failure in the new boot does count.
        c.push_str(&format!("{SEGFAULT}\n"));
        assert_eq!(GuestStatus::parse(&c).fault_count, 1);
    }

    #[test]
    fn a_kernel_banner_is_not_a_new_boot() {
        // User data that prints /proc/version mid-boot; the fault before it still counts.
        let s = GuestStatus::parse(&boot_then(&[
            SEGFAULT,
            "Linux version 6.1.158-ec2lab (root@build) #1 SMP PREEMPT_DYNAMIC",
        ]));
        assert_eq!(s.fault_count, 1, "{s:?}");
        assert_eq!(s.user_data, UserData::Running);
        assert!(s.ready);
    }

    #[test]
    fn text_without_a_boot_line_is_one_boot() {
        // A tail that one long boot has filled, or a log from before boot lines.
        let body = &BOOT[BOOT.find('\n').unwrap() + 1..];
        assert!(!body.contains("EC2LAB-BOOT"));
        let s = GuestStatus::parse(&format!(
            "{body}{GP_FAULT}\nec2lab-agent: user data exited with status 139\n"
        ));
        assert_eq!(s.user_data, UserData::Exited(139));
        assert_eq!(s.fault_count, 1);
        assert!(s.ready);
    }

    #[test]
    fn nothing_yet_and_no_user_data() {
        assert_eq!(GuestStatus::parse("").status(), "initializing");
        assert_eq!(
            describe(&GuestStatus::parse(""))["UserData"]["Status"],
            "unknown"
        );
        let s = GuestStatus::parse(&BOOT.replace("running user data", "no user data"));
        assert_eq!(s.user_data, UserData::None);
        assert_eq!(s.status(), "ok");
    }

    #[test]
    fn kernel_messages_lose_their_timestamp() {
        assert_eq!(
            kernel_message("[   52.331245] traps: x[1] y"),
            "traps: x[1] y"
        );
        assert_eq!(kernel_message("traps: x[1] y"), "traps: x[1] y");
        assert_eq!(kernel_message("out[ 1.5] msg"), "msg");
        assert_eq!(kernel_message("a[30] b"), "a[30] b");
    }

    #[test]
    fn reads_only_the_tail_from_a_whole_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        assert_eq!(GuestStatus::read(&path), GuestStatus::default());
        // A fault far back, then more than TAIL_BYTES of output, then the exit line.
        let mut c = boot_then(&[GP_FAULT]);
        let filler = "x".repeat(99) + "\n";
        for _ in 0..(TAIL_BYTES as usize / filler.len() + 10) {
            c.push_str(&filler);
        }
        c.push_str("ec2lab-agent: user data exited with status 3\n");
        std::fs::write(&path, &c).unwrap();
        let s = GuestStatus::read(&path);
        assert_eq!(s.user_data, UserData::Exited(3));
        assert_eq!(s.fault_count, 0, "the fault is beyond the tail");
    }
}
