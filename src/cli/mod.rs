//! The `ec2lab` command line. Verbs mirror `aws ec2`; `vmm` is the low-level launcher the
//! instance supervisor runs, one process per guest.

pub mod vmm;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "ec2lab",
    version,
    about = "A small EC2 on one Linux host: AMIs become real KVM micro-VMs",
    long_about = "ec2lab gives one Linux host its own small EC2: disk images become real KVM guests.\n\n\
                  Start with the low-level launcher:\n  \
                  ec2lab vmm --kernel guest-images/out/vmlinux --disk guest-images/out/rootfs.ext4"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    Vmm(vmm::VmmArgs),
    VmmCtl(vmm::VmmCtlArgs),
}

/// Runs the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Vmm(args) => vmm::run_vmm(args),
        Command::VmmCtl(args) => vmm::run_ctl(args),
    }
}

/// Prints an error with its chain of causes, the way every verb reports failure.
pub fn report(err: &dyn std::error::Error) {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    eprintln!("ec2lab: error: {msg}");
}
