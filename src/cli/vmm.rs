//! `ec2lab vmm` (run one guest in this process) and `ec2lab vmm-ctl` (talk to one).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::vmm::api::{self, Request};
use crate::vmm::config::{DiskConfig, SerialOut, VmConfig, DEFAULT_MEM_MIB};
use crate::vmm::exit::{GuestExit, EXIT_VMM_ERROR};
use crate::vmm::host;

const VMM_AFTER_HELP: &str = "\
Examples:
  # Boot the image guest-images/build.sh made; console on this terminal (Ctrl-A x quits)
  ec2lab vmm --kernel guest-images/out/vmlinux --disk guest-images/out/rootfs.ext4

  # Two disks, the second read-only, console to a file, a control socket
  ec2lab vmm --kernel vmlinux --disk root.ext4 --disk data.img,ro \\
      --serial-out console.log --api-sock /run/vm1.sock

The kernel command line is chosen for you: console on ttyS0, root on the first disk,
and whatever switches this host's KVM needs (on a software-nested KVM, kvm_pvm, the
guest kernel must avoid instructions KVM cannot emulate). Use --append to add switches,
--cmdline to replace the defaults.

Exit codes:
  0  the guest powered off          3  the guest crashed (panic, triple fault, KVM error)
  1  the VMM failed                 4  stopped from outside (hard stop or shutdown deadline)
  2  bad command line               5  the guest reset itself (reboot)";

/// Run one guest in this process until it powers off.
#[derive(Args, Debug)]
#[command(after_help = VMM_AFTER_HELP)]
pub struct VmmArgs {
    /// Guest kernel: an uncompressed ELF vmlinux (entered through PVH when it has the
    /// PVH note) or a bzImage.
    #[arg(long, value_name = "PATH")]
    pub kernel: PathBuf,

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
    pub nets: Vec<crate::vmm::config::NetConfig>,

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
    #[command(subcommand)]
    pub action: CtlAction,
}

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
        #[arg(long)]
        path: PathBuf,
        #[arg(long)]
        read_only: bool,
        /// Serial the guest reads (/sys/block/vdX/serial), at most 20 bytes.
        #[arg(long)]
        serial: Option<String>,
    },
    /// Take the disk out of a slot; the guest sees its capacity drop to zero.
    DetachDisk {
        #[arg(long)]
        slot: usize,
    },
}

/// What `--exit-file` holds.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ExitRecord {
    /// The VMM's pid, so a reader can tell this record from an older run's.
    pub pid: u32,
    pub code: i32,
    pub outcome: String,
    pub detail: String,
}

fn write_exit_file(path: &std::path::Path, record: &ExitRecord) {
    let tmp = path.with_extension("tmp");
    let body = serde_json::to_vec(record).unwrap_or_default();
    // Written then renamed, so a reader never sees half a record.
    if std::fs::write(&tmp, body)
        .and_then(|_| std::fs::rename(&tmp, path))
        .is_err()
    {
        eprintln!(
            "ec2lab vmm: could not write the exit file {}",
            path.display()
        );
    }
}

pub fn config_from(args: VmmArgs) -> VmConfig {
    VmConfig {
        kernel: args.kernel,
        initrd: args.initrd,
        cmdline: args.cmdline,
        append: args.append,
        vcpus: args.vcpus,
        mem_mib: args.mem_mib,
        disks: args.disks,
        nets: args.nets,
        serial_out: args.serial_out,
        api_sock: args.api_sock,
        console_sock: args.console_sock,
        flavor: host::detect(),
    }
}

pub fn run_vmm(args: VmmArgs) -> i32 {
    let exit_file = args.exit_file.clone();
    let cfg = config_from(args);
    let outcome = crate::vmm::run(&cfg);
    for sock in [&cfg.api_sock, &cfg.console_sock].into_iter().flatten() {
        let _ = std::fs::remove_file(sock);
    }
    let record = match outcome {
        Ok(exit) => {
            eprintln!("ec2lab vmm: {}", exit.describe());
            if let GuestExit::Crashed(_) | GuestExit::Panic = exit {
                eprintln!("ec2lab vmm: the console output shows what the guest last did");
            }
            ExitRecord {
                pid: std::process::id(),
                code: exit.code(),
                outcome: exit.kind().into(),
                detail: exit.describe(),
            }
        }
        Err(e) => {
            super::report(&e);
            ExitRecord {
                pid: std::process::id(),
                code: EXIT_VMM_ERROR,
                outcome: "vmm-error".into(),
                detail: crate::error::chain(&e),
            }
        }
    };
    if let Some(path) = exit_file {
        write_exit_file(&path, &record);
    }
    record.code
}

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
    };
    match api::call(&args.api_sock, &req) {
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
            super::report(&e);
            EXIT_VMM_ERROR
        }
    }
}
