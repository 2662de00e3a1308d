//! `ec2lab lab httpd`: the httpd lab in one command (see `crate::lab`).

use clap::{Args, Subcommand};
use serde_json::Value;

use super::ctx::{Ctx, Failure};
use crate::lab;

/// Arguments of `ec2lab lab`: which lab to run.
#[derive(Args, Debug)]
pub struct LabArgs {
    /// The lab to run.
    #[command(subcommand)]
    pub lab: LabKind,
}

/// The labs `ec2lab lab` knows.
#[derive(Subcommand, Debug)]
pub enum LabKind {
    /// The classic EC2 lab: a web server on a new instance, reachable on its public IP.
    Httpd(Httpd),
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab lab httpd                 # key pair, group (22, 80), instance, page; prints the URL\n  \
  ec2lab ssh i-0123456789abcdef0   # then log in as ec2-user with the lab's key\n  \
  ec2lab lab httpd --cleanup       # terminate the instance, delete the group and key pair\n\n\
What it does, step by step (each is also a verb you can run yourself):\n  \
  1. builds the guest images if missing (guest-images/build.sh) and registers the AMI\n  \
  2. create-key-pair ec2lab-lab-httpd (ed25519; the private key goes to\n     \
     <state-dir>/<region>/keys/ec2lab-lab-httpd.pem, mode 0600)\n  \
  3. create-security-group ec2lab-lab-httpd; allow tcp/22 and tcp/80 from 0.0.0.0/0\n  \
  4. run-instances --instance-type t2.micro with user data that runs\n     \
     `yum install -y httpd; systemctl start httpd` and writes /var/www/html/index.html\n     \
     (a warm launch: the first run on a host boots the AMI and keeps its template,\n     \
     later runs start from it; --no-warm boots every time)\n  \
  5. waits until http://<public-ip>/ answers 200, showing the guest's progress\n\n\
It stops waiting at once when the guest reports a failure: the user data exited non-zero\n\
or was killed by a signal (`ec2lab-agent: user data exited with status N`), or the guest\n\
kernel logged a user-mode fault (`segfault at`, `general protection fault`, `trap ...`).\n\
It then prints those console lines and what to try, and fails with InstanceImpaired.\n\n\
Running it again while the instance runs just waits for and prints it again.\n\
Progress goes to stderr; the summary (URL, ids, timings) to stdout as JSON.\n\n\
Exit status: 0 when the page is served; 254 (the AWS CLI's service error) otherwise, with\n\
the error code InstanceImpaired (the guest reported a failure, see above), RequestTimeout\n\
(no page within --timeout-secs) or IncorrectInstanceState (the instance stopped).")]
/// The classic EC2 lab: a web server on a new instance, reachable on its public IP.
pub struct Httpd {
    /// Remove everything the lab made (instance, security group, key pair, key file).
    #[arg(long)]
    pub cleanup: bool,
    /// The instance type to launch.
    #[arg(long, default_value = "t2.micro")]
    pub instance_type: String,
    /// How long to wait for the page (boot plus user data), in seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout_secs: u64,
    /// Fail instead of building the guest images when they are missing.
    #[arg(long)]
    pub no_build: bool,
    /// Boot the AMI instead of starting from its warm-launch template (the lab's first run
    /// on a host boots and makes the template; later runs start from it in about a second).
    #[arg(long)]
    pub no_warm: bool,
}

/// Runs (or, with `--cleanup`, tears down) the chosen lab and returns its summary.
pub fn run(ctx: &Ctx, a: LabArgs) -> Result<Value, Failure> {
    let LabKind::Httpd(h) = a.lab;
    let mut store = ctx.tidy_store()?;
    if h.cleanup {
        return Ok(lab::cleanup(&mut store)?);
    }
    Ok(lab::run(
        &mut store,
        &lab::Options {
            instance_type: h.instance_type,
            timeout: std::time::Duration::from_secs(h.timeout_secs),
            build_images: !h.no_build,
            warm: !h.no_warm,
        },
    )?)
}
