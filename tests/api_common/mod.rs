//! `ec2lab serve` driven by the real AWS clients (the aws CLI and boto3 from PyPI, in the
//! venv `tools/setup.sh` makes): a server on a free port over a private state directory,
//! and a profile written by `ec2lab configure-aws` into private AWS files.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use super::common::{run_with_timeout, Lab};

#[path = "server.rs"]
mod server;
#[path = "subscriber.rs"]
pub mod subscriber;
pub use server::Server;

/// The venv with the AWS clients: `$EC2LAB_VENV`, else `/opt/ec2lab-venv`. Without it a
/// test skips with a note, except under CI or `EC2LAB_REQUIRE_IMAGES=1`, where it fails.
pub fn venv() -> Option<PathBuf> {
    let dir =
        PathBuf::from(std::env::var("EC2LAB_VENV").unwrap_or_else(|_| "/opt/ec2lab-venv".into()));
    if dir.join("bin/aws").exists() && dir.join("bin/python").exists() {
        return Some(dir);
    }
    let required = std::env::var("EC2LAB_REQUIRE_IMAGES").as_deref() == Ok("1")
        || std::env::var_os("CI").is_some();
    assert!(
        !required,
        "the AWS clients' venv is missing at {}: run tools/setup.sh",
        dir.display()
    );
    eprintln!(
        "skipping: no AWS clients at {}; run tools/setup.sh",
        dir.display()
    );
    None
}

/// A running `ec2lab serve` and a profile `ec2lab` for it.
pub struct Api {
    pub lab: Lab,
    pub venv: PathBuf,
    pub endpoint: String,
    _server: Server,
    aws_dir: tempfile::TempDir,
}

impl Api {
    /// Starts the server and writes the profile; `None` when the venv is missing (skip).
    pub fn start() -> Option<Api> {
        Self::start_with(&[])
    }

    /// [`Api::start`] with more environment for the server (and the supervisors it starts),
    /// e.g. the real guest images.
    pub fn start_with(env: &[(&str, &str)]) -> Option<Api> {
        let venv = venv()?;
        let lab = Lab::new();
        let server = Server::start(&lab, env);
        let endpoint = server.endpoint.clone();
        let api = Api {
            lab,
            venv,
            endpoint,
            _server: server,
            aws_dir: tempfile::tempdir().unwrap(),
        };
        let mut c = api
            .lab
            .cmd(&["configure-aws", "--endpoint-url", &api.endpoint]);
        api.aws_env(&mut c);
        let out = run_with_timeout(c, 60);
        assert!(
            out.status.success(),
            "configure-aws: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(api)
    }

    pub fn config_file(&self) -> PathBuf {
        self.aws_dir.path().join("config")
    }

    pub fn credentials_file(&self) -> PathBuf {
        self.aws_dir.path().join("credentials")
    }

    /// The AWS tools' environment: only the private files, nothing of the host's.
    pub fn aws_env(&self, c: &mut Command) {
        for var in [
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_EC2",
            "AWS_ENDPOINT_URL_SNS",
            "AWS_ENDPOINT_URL_CLOUDWATCH",
        ] {
            c.env_remove(var);
        }
        c.env("AWS_CONFIG_FILE", self.config_file())
            .env("AWS_SHARED_CREDENTIALS_FILE", self.credentials_file())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_PAGER", "");
    }

    /// `aws --profile ec2lab ec2 ARGS`, unmodified, from the venv.
    pub fn aws(&self, args: &[&str]) -> Output {
        let mut c = Command::new(self.venv.join("bin/aws"));
        c.args(["--profile", "ec2lab", "ec2"]).args(args);
        self.aws_env(&mut c);
        run_with_timeout(c, 120)
    }

    /// `aws --profile ec2lab SERVICE ARGS` (`sns`, `cloudwatch`), unmodified, from the venv.
    pub fn aws_service(&self, service: &str, args: &[&str]) -> Output {
        let mut c = Command::new(self.venv.join("bin/aws"));
        c.args(["--profile", "ec2lab", service]).args(args);
        self.aws_env(&mut c);
        run_with_timeout(c, 120)
    }

    /// The venv's python running `script` (boto3 and botocore importable).
    pub fn python(&self, script: &str, args: &[&str]) -> Output {
        self.python_for(script, args, 120)
    }

    /// [`Api::python`] that may take up to `secs` (waiters on real guests).
    pub fn python_for(&self, script: &str, args: &[&str], secs: u64) -> Output {
        let mut c = Command::new(self.venv.join("bin/python"));
        c.arg("-c").arg(script).args(args);
        self.aws_env(&mut c);
        run_with_timeout(c, secs)
    }
}

/// Stdout of a command that must succeed.
pub fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
