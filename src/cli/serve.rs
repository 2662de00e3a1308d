//! `ec2lab serve` (the EC2 API over HTTP, see `api/`) and `ec2lab configure-aws` (a
//! profile for the AWS tools that points at it).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};

use super::ctx::Ctx;
use super::output::OutputFormat;
use super::systemd::{self, Installed, Service};
use crate::api::awsconfig;
use crate::api::keys;
use crate::api::server::{self, ServeConfig, DEFAULT_LISTEN};

/// Serve the EC2 API (Query protocol, 2016-11-15) over HTTP for the aws CLI, boto3 and the
/// AWS SDKs. Requests must be signed (SigV4) with this ec2lab's keys.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    ec2lab configure-aws\n  \
    ec2lab serve &\n  \
    aws --profile ec2lab ec2 describe-regions\n\n  \
    sudo ec2lab --state-dir /var/lib/ec2lab serve --install-systemd   # keep it running\n\n\
    --install-systemd writes /etc/systemd/system/ec2lab-serve.service, which runs this\n\
    binary with the same --state-dir, --region and --listen, then enables and starts it\n\
    (systemctl daemon-reload; systemctl enable --now). Where systemd does not run (most\n\
    containers) it says so and prints the command that starts the server by hand.")]
pub struct Serve {
    /// The address and port to listen on.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Install a systemd unit that runs this `ec2lab serve` at boot and keeps it running,
    /// and start it, instead of serving here.
    #[arg(long)]
    pub install_systemd: bool,
    /// Where --install-systemd writes the unit; outside systemd's own directory it is only
    /// written.
    #[arg(long, default_value = systemd::UNIT_DIR, requires = "install_systemd")]
    pub unit_dir: PathBuf,
}

/// Write a profile for the AWS tools (endpoint, region, output, this ec2lab's access keys)
/// into the aws config and credentials files; other profiles stay as they are.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  \
    ec2lab configure-aws --profile ec2lab\n  \
    aws --profile ec2lab ec2 describe-instances\n\n\
    The files are $AWS_CONFIG_FILE and $AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/config \
    and ~/.aws/credentials.")]
pub struct ConfigureAws {
    /// The profile to write.
    #[arg(long, default_value = "ec2lab")]
    pub profile: String,
    /// The endpoint the profile points at (where `ec2lab serve` listens).
    #[arg(long, default_value_t = format!("http://{DEFAULT_LISTEN}"))]
    pub endpoint_url: String,
}

/// Runs the server until Ctrl-C (or installs its systemd unit); returns the exit code.
pub fn serve(ctx: &Ctx, a: Serve) -> i32 {
    if a.install_systemd {
        return install_systemd(ctx, &a);
    }
    let config = ServeConfig {
        listen: a.listen,
        state_dir: ctx.state_dir.clone(),
        region: ctx.region.clone(),
    };
    match server::run(config) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ec2lab: error: {}", crate::causes::chain(&e));
            1
        }
    }
}

/// `--install-systemd`: writes the unit and says what was done and what is left to do.
fn install_systemd(ctx: &Ctx, a: &Serve) -> i32 {
    let result = Service::for_this_process(&ctx.state_dir, &ctx.region, a.listen)
        .and_then(|s| systemd::install(&s, &a.unit_dir).map(|done| (s, done)));
    let (service, (path, done)) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ec2lab: error: {}", crate::causes::chain(&e));
            return 1;
        }
    };
    println!("wrote {}", path.display());
    match done {
        Installed::Started => println!(
            "enabled and started {unit}: `systemctl status {unit}` shows it, \
             `journalctl -u {unit}` its log",
            unit = systemd::UNIT_NAME
        ),
        Installed::NoSystemd => println!(
            "systemd is not running on this host (no /run/systemd/system: a container?), so \
             the unit was not started.\nStart the server by hand instead:\n  {}",
            service.by_hand()
        ),
        Installed::Elsewhere => println!(
            "{} is not systemd's unit directory ({}): copy the unit there, then \
             `systemctl daemon-reload && systemctl enable --now {}`.\n\
             Or start the server by hand:\n  {}",
            a.unit_dir.display(),
            systemd::UNIT_DIR,
            systemd::UNIT_NAME,
            service.by_hand()
        ),
    }
    0
}

/// Writes the profile and prints where (never the secret); returns the exit code.
pub fn configure_aws(ctx: &Ctx, a: ConfigureAws, output: OutputFormat) -> i32 {
    match write_profile(ctx, &a) {
        Ok(v) => {
            print!("{}", super::output::render(&v, output, "ConfigureAws"));
            0
        }
        Err(e) => {
            eprintln!("ec2lab: error: {}", crate::causes::chain(e.as_ref()));
            1
        }
    }
}

fn write_profile(ctx: &Ctx, a: &ConfigureAws) -> Result<Value, Box<dyn std::error::Error>> {
    awsconfig::check_profile(&a.profile)?;
    let keys = keys::load_or_create(&ctx.state_dir)?;
    let key = &keys[0];
    let config = awsconfig::config_path()?;
    let credentials = awsconfig::credentials_path()?;
    awsconfig::update_file(
        &config,
        &awsconfig::config_section(&a.profile),
        &[
            ("endpoint_url", &a.endpoint_url),
            ("region", &ctx.region),
            ("output", "json"),
        ],
    )?;
    awsconfig::update_file(
        &credentials,
        &a.profile,
        &[
            ("aws_access_key_id", &key.access_key_id),
            ("aws_secret_access_key", &key.secret_access_key),
        ],
    )?;
    Ok(json!({
        "Profile": a.profile,
        "EndpointUrl": a.endpoint_url,
        "Region": ctx.region,
        "AccessKeyId": key.access_key_id,
        "ConfigFile": config.display().to_string(),
        "CredentialsFile": credentials.display().to_string(),
    }))
}
