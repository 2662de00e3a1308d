//! ec2lab: a small EC2 on one Linux host.

use clap::Parser;

fn main() {
    let cli = ec2lab::cli::Cli::parse();
    std::process::exit(ec2lab::cli::run(cli));
}
