//! `ec2lab serve` (the EC2 API over HTTP, see `api/`) and `ec2lab configure-aws` (a
//! profile for the AWS tools that points at it).

use std::net::SocketAddr;

use clap::Args;
use serde_json::{json, Value};

use super::ctx::Ctx;
use super::output::OutputFormat;
use crate::api::awsconfig;
use crate::api::keys;
use crate::api::server::{self, ServeConfig, DEFAULT_LISTEN};

/// Serve the EC2 API (Query protocol, 2016-11-15) over HTTP for the aws CLI, boto3 and the
/// AWS SDKs. Requests must be signed (SigV4) with this ec2lab's keys.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  \
    ec2lab configure-aws\n  \
    ec2lab serve &\n  \
    aws --profile ec2lab ec2 describe-regions")]
pub struct Serve {
    /// The address and port to listen on.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
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

/// Runs the server until Ctrl-C; returns the exit code.
pub fn serve(ctx: &Ctx, a: Serve) -> i32 {
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
