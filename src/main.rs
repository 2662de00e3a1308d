//! ec2lab: a small EC2 on one Linux host.

fn main() {
    std::process::exit(ec2lab::cli::main());
}
