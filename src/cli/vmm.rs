//! `ec2lab vmm` (run one guest in this process) and `ec2lab vmm-ctl` (talk to one).
//!
//! The flags are one way to fill in the VMM's launch description ([`VmConfig`]); a
//! launch file (`--launch`, what the instance supervisor writes) is the other. Both end in
//! [`crate::vmm::run_and_record`].

use std::path::PathBuf;

use std::ffi::OsString;

use clap::{Args, FromArgMatches, Subcommand};

use crate::vmm::api::{self, Request};
use crate::vmm::config::{DiskConfig, NetConfig, SerialOut, VmConfig, DEFAULT_MEM_MIB};
use crate::vmm::exit::{Outcome, EXIT_VMM_ERROR};

const VMM_AFTER_HELP: &str = "\
Examples:
  # Boot the image guest-images/build.sh made; console on this terminal (Ctrl-A x quits)
  ec2lab vmm --kernel guest-images/out/vmlinux --disk guest-images/out/rootfs.ext4

  # Two disks, the second read-only, console to a file, a control socket
  ec2lab vmm --kernel vmlinux --disk root.ext4 --disk data.img,ro \\
      --serial-out console.log --api-sock /run/vm1.sock

  # The guest a launch file describes (the JSON of the flags; instances use these)
  ec2lab vmm --launch /var/lib/ec2lab/lab-1/instances/i-0123456789abcdef0/launch.json

The kernel command line is chosen for you: console on ttyS0, root on the first disk,
and whatever switches this host's KVM needs (on a software-nested KVM, kvm_pvm, the
guest kernel must avoid instructions KVM cannot emulate). Use --append to add switches,
--cmdline to replace the defaults.

Exit codes:
  0  the guest powered off          3  the guest crashed (panic, triple fault, KVM error)
  1  the VMM failed                 4  stopped from outside (hard stop or shutdown deadline)
  2  bad command line               5  the guest reset itself (reboot)
                                    6  snapshotted, then ended (vmm-ctl snapshot --exit)";

/// Run one guest in this process until it powers off.
#[derive(Args, Debug)]
#[command(after_help = VMM_AFTER_HELP)]
pub struct VmmArgs {
    /// Guest kernel: an uncompressed ELF vmlinux (entered through PVH when it has the
    /// PVH note) or a bzImage.
    #[arg(long, value_name = "PATH", required_unless_present_any = ["launch", "restore"])]
    pub kernel: Option<PathBuf>,

    /// Initial ramdisk (initramfs) to hand to the kernel.
    #[arg(long, value_name = "PATH")]
    pub initrd: Option<PathBuf>,

    /// Kernel command line replacing ec2lab's defaults (console, reboot, root device).
    /// The switches this host's KVM needs and the device entries are still added.
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub cmdline: Option<String>,

    /// Extra kernel switches added after the defaults (repeatable).
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub append: Vec<String>,

    /// Number of vCPUs. On a host whose KVM cannot start secondary vCPUs (kvm_pvm) the
    /// guest gets one, with a warning.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub vcpus: u8,

    /// Guest memory in MiB.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MEM_MIB)]
    pub mem_mib: u64,

    /// A raw disk image as a virtio-blk device; the first one is the root file system
    /// (/dev/vda). Append ",ro" for read-only, ",serial=ID" for the serial the guest reads.
    /// "none" makes an empty slot that `vmm-ctl attach-disk` can fill later. Repeatable.
    #[arg(long = "disk", value_name = "PATH[,ro][,serial=ID]")]
    pub disks: Vec<DiskConfig>,

    /// A virtio-net interface on host tap NAME (created if missing); the MAC defaults to
    /// one derived from the tap name. Give the guest an address with --append ip=…
    /// Repeatable.
    #[arg(long = "net", value_name = "tap=NAME[,mac=MAC]")]
    pub nets: Vec<NetConfig>,

    /// Where the guest console goes: "-" for this terminal, "none", or a file (appended).
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    pub serial_out: SerialOut,

    /// Unix socket for control requests (status, shutdown, stop); see `ec2lab vmm-ctl`.
    #[arg(long, value_name = "PATH")]
    pub api_sock: Option<PathBuf>,

    /// Unix socket giving one client at a time the serial console, input and output
    /// (`ec2lab connect-serial-console` uses it for instances).
    #[arg(long, value_name = "PATH")]
    pub console_sock: Option<PathBuf>,

    /// Write how the guest ended ({"code":..,"outcome":..,"detail":..}) to this file on
    /// exit, for a supervisor that is not this process's parent.
    #[arg(long, value_name = "PATH")]
    pub exit_file: Option<PathBuf>,

    /// Run the guest this launch file describes instead of giving it with flags: the JSON
    /// of the same description (kernel, disks, nets, sockets, …), as the instance
    /// supervisor writes it to each instance's launch.json.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = [
            "kernel", "initrd", "cmdline", "append", "vcpus", "mem_mib", "disks", "nets",
            "serial_out", "api_sock", "console_sock", "exit_file",
        ]
    )]
    pub launch: Option<PathBuf>,

    /// Start the guest from this snapshot directory (made by `vmm-ctl snapshot`) instead
    /// of booting: memory, vCPUs and devices' state come from it, mapped copy-on-write;
    /// the flags or launch file give the host side (disks, taps, sockets, console), with
    /// the same disks and interfaces, in the same order, as the snapshot's guest had.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["kernel", "initrd", "cmdline", "append"])]
    pub restore: Option<PathBuf>,
}

/// Ask a running `ec2lab vmm` for its status, a graceful shutdown, or a hard stop.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ec2lab vmm-ctl --api-sock /run/vm1.sock status\n  \
                        ec2lab vmm-ctl --api-sock /run/vm1.sock shutdown --timeout-secs 60\n  \
                        ec2lab vmm-ctl --api-sock /run/vm1.sock stop"
)]
pub struct VmmCtlArgs {
    /// The control socket given to `ec2lab vmm --api-sock`.
    #[arg(long, value_name = "PATH")]
    pub api_sock: PathBuf,
    /// What to ask the VMM.
    #[command(subcommand)]
    pub action: CtlAction,
}

/// What `vmm-ctl` asks of the VMM.
#[derive(Subcommand, Debug)]
pub enum CtlAction {
    /// Print the guest's state, uptime and boot milestones as JSON.
    Status,
    /// Send Ctrl-Alt-Del; if the guest is still up at the deadline, stop it hard.
    Shutdown {
        /// Seconds to wait for the guest to power off.
        #[arg(long, default_value_t = api::DEFAULT_SHUTDOWN_SECS)]
        timeout_secs: u64,
    },
    /// Stop the guest at once, like pulling the power cord.
    Stop,
    /// Freeze all vCPUs (devices stay quiet): the guest's disks hold still for a copy.
    Pause,
    /// Let paused vCPUs run again.
    Resume,
    /// Put a disk image into an empty slot (started with `--disk none`) of the running guest.
    AttachDisk {
        /// Slot number: the position of the --disk flag that made it, from 0.
        #[arg(long)]
        slot: usize,
        /// The disk image.
        #[arg(long)]
        path: PathBuf,
        /// The guest may not write to it.
        #[arg(long)]
        read_only: bool,
        /// Serial the guest reads (/sys/block/vdX/serial), at most 20 bytes.
        #[arg(long)]
        serial: Option<String>,
    },
    /// Take the disk out of a slot; the guest sees its capacity drop to zero.
    DetachDisk {
        /// Slot number, from 0.
        #[arg(long)]
        slot: usize,
    },
    /// Print the devices' counters and the vCPUs' CPU time (cumulative) as JSON.
    Metrics,
    /// Save the whole VM (vCPUs, devices, memory) to a new directory, which
    /// `ec2lab vmm --restore DIR` starts from; then resume, or end the VMM with --exit.
    Snapshot {
        /// The snapshot directory to create (it must not exist).
        #[arg(long)]
        dir: PathBuf,
        /// End the VMM after saving (outcome `snapshotted`, exit code 6) instead of
        /// letting the guest run on.
        #[arg(long)]
        exit: bool,
    },
}

impl VmmArgs {
    /// The launch description: read from `--launch`, or made of the flags.
    pub fn into_config(self) -> Result<VmConfig, crate::vmm::config::LaunchFileError> {
        if let Some(path) = &self.launch {
            let mut cfg = VmConfig::load(path)?;
            if self.restore.is_some() {
                cfg.restore = self.restore;
            }
            return Ok(cfg);
        }
        let kernel = self.kernel.unwrap_or_default();
        Ok(VmConfig {
            restore: self.restore,
            initrd: self.initrd,
            cmdline: self.cmdline,
            append: self.append,
            vcpus: self.vcpus,
            mem_mib: self.mem_mib,
            disks: self.disks,
            nets: self.nets,
            serial_out: self.serial_out,
            api_sock: self.api_sock,
            console_sock: self.console_sock,
            exit_file: self.exit_file,
            ..VmConfig::new(kernel)
        })
    }
}

/// `ec2lab vmm …` parsed against a command tree of that one verb, before [`super::main_from`]
/// builds the whole one: the VMM is one process per guest and lives as long as its guest,
/// so it should not keep the pages the control plane's tree costs (every verb's
/// arguments, the flags derived from botocore's models at run time: megabytes of heap and
/// of the binary's code and data touched). `None` unless `args` is `ec2lab vmm …` and
/// parses cleanly; anything else (other verbs, global options before `vmm`, usage errors,
/// `--help`) goes the full way, so help and errors read exactly as before.
pub fn parse_alone(args: &[OsString]) -> Option<VmmArgs> {
    if args.get(1).map(|a| a.as_os_str()) != Some("vmm".as_ref()) {
        return None;
    }
    let cmd = clap::Command::new("ec2lab")
        .subcommand(VmmArgs::augment_args(clap::Command::new("vmm")))
        .disable_help_flag(true)
        .disable_version_flag(true);
    let matches = cmd.try_get_matches_from(args).ok()?;
    let (_, sub) = matches.subcommand()?;
    VmmArgs::from_arg_matches(sub).ok()
}

/// Prints an error with its chain of causes, the way the VMM reports failure.
fn report(err: &str) {
    eprintln!("ec2lab: error: {err}");
}

/// `ec2lab vmm`: runs the guest; returns the exit code (see `vmm/exit.rs`).
pub fn run_vmm(args: VmmArgs) -> i32 {
    let cfg = match args.into_config() {
        Ok(cfg) => cfg,
        Err(e) => {
            report(&crate::causes::chain(&e));
            return EXIT_VMM_ERROR;
        }
    };
    let record = crate::vmm::run_and_record(&cfg);
    match record.outcome {
        Outcome::VmmError => report(&record.detail),
        outcome => {
            eprintln!("ec2lab vmm: {}", record.detail);
            if matches!(outcome, Outcome::Crash | Outcome::Panic) {
                eprintln!("ec2lab vmm: the console output shows what the guest last did");
            }
        }
    }
    record.code
}

/// `ec2lab vmm-ctl`: one request to a running VMM; prints its answer as JSON.
pub fn run_ctl(args: VmmCtlArgs) -> i32 {
    let req = match args.action {
        CtlAction::Status => Request::Status,
        CtlAction::Shutdown { timeout_secs } => Request::Shutdown {
            timeout_secs: Some(timeout_secs),
        },
        CtlAction::Stop => Request::Stop,
        CtlAction::Pause => Request::Pause,
        CtlAction::Resume => Request::Resume,
        CtlAction::AttachDisk {
            slot,
            path,
            read_only,
            serial,
        } => Request::AttachDisk {
            slot,
            path,
            read_only,
            serial,
            replace: false,
        },
        CtlAction::DetachDisk { slot } => Request::DetachDisk { slot },
        CtlAction::Metrics => Request::Metrics,
        CtlAction::Snapshot { dir, exit } => Request::Snapshot {
            dir,
            then: if exit {
                api::AfterSnapshot::Exit
            } else {
                api::AfterSnapshot::Resume
            },
        },
    };
    // Saving a large guest's memory takes longer than an ordinary request.
    let timeout = match req {
        Request::Snapshot { .. } => std::time::Duration::from_secs(300),
        _ => std::time::Duration::from_secs(10),
    };
    match api::call_within(&args.api_sock, &req, timeout) {
        Ok(resp) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&resp).unwrap_or_default()
            );
            if resp.ok {
                0
            } else {
                EXIT_VMM_ERROR
            }
        }
        Err(e) => {
            report(&crate::causes::chain(&e));
            EXIT_VMM_ERROR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(line: &[&str]) -> Vec<OsString> {
        line.iter().map(OsString::from).collect()
    }

    #[test]
    fn vmm_alone_parses_as_the_full_command_line_does() {
        let line = [
            "ec2lab",
            "vmm",
            "--kernel",
            "k",
            "--disk",
            "a.img,ro",
            "--mem-mib",
            "64",
            "--append",
            "quiet",
            "--api-sock",
            "s",
        ];
        let alone = parse_alone(&args(&line)).expect("a plain vmm line takes the short way");
        let full = match crate::cli::Cli::try_parse_from(line).unwrap().command {
            crate::cli::Command::Vmm(a) => a,
            other => panic!("{other:?}"),
        };
        assert_eq!(format!("{alone:?}"), format!("{full:?}"));
        let launch = parse_alone(&args(&["ec2lab", "vmm", "--launch", "l.json"])).unwrap();
        assert_eq!(launch.launch, Some(PathBuf::from("l.json")));
    }

    #[test]
    fn anything_else_goes_the_full_way() {
        for line in [
            &["ec2lab", "vmm", "--help"][..],
            &["ec2lab", "vmm"],
            &["ec2lab", "vmm", "--kernel", "k", "--disk", "x.img,turbo"],
            &["ec2lab", "vmm", "--kernel", "k", "--region", "r"],
            &["ec2lab", "--region", "r", "vmm", "--kernel", "k"],
            &["ec2lab", "vmm-ctl", "--api-sock", "s", "status"],
            &["ec2lab", "describe-instances"],
            &["ec2lab"],
        ] {
            assert!(parse_alone(&args(line)).is_none(), "{line:?}");
        }
    }
}
