//! `ec2lab serve --install-systemd`: a systemd unit that keeps `ec2lab serve` running, with
//! the same binary, state directory, region and `--listen` address as the command that
//! installs it; enabled and started where systemd runs, and otherwise the way to start
//! the server by hand.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where systemd looks for the units an administrator installs.
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// The unit's file name.
pub const UNIT_NAME: &str = "ec2lab-serve.service";

/// The environment variables of ec2lab that the service keeps from the installing shell
/// (the state directory and region go on the command line; output formats do not matter).
const KEPT_ENV: &[&str] = &[
    "EC2LAB_GUEST_IMAGES",
    "EC2LAB_NETWORKING",
    "EC2LAB_DEFAULT_VPC_CIDR",
    "EC2LAB_INSTANCE_STORE_DIR",
    "EC2LAB_KVM_FLAVOR",
    "EC2LAB_NFT",
    "EC2LAB_STOP_TIMEOUT_SECS",
];

/// Why the unit could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The path of the running ec2lab binary is unknown.
    #[error("cannot tell where this ec2lab binary is, for the unit's ExecStart")]
    Exe(#[source] std::io::Error),
    /// The state directory's absolute path is unknown.
    #[error("cannot make the state directory {0} absolute")]
    StateDir(PathBuf, #[source] std::io::Error),
    /// The unit file could not be written.
    #[error("cannot write {0} (run as root to install into {UNIT_DIR})")]
    Write(PathBuf, #[source] std::io::Error),
    /// systemctl failed.
    #[error("`systemctl {0}` failed: {1}")]
    Systemctl(String, String),
}

/// What the unit runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// The ec2lab binary.
    pub exe: PathBuf,
    /// The state directory (absolute).
    pub state_dir: PathBuf,
    /// The region `ec2lab serve` serves from the start.
    pub region: String,
    /// Where it listens.
    pub listen: SocketAddr,
    /// ec2lab's environment variables to keep, as (name, value).
    pub env: Vec<(String, String)>,
}

impl Service {
    /// The service for this process: its binary, and `state_dir` made absolute.
    pub fn for_this_process(
        state_dir: &Path,
        region: &str,
        listen: SocketAddr,
    ) -> Result<Service, InstallError> {
        let exe = std::env::current_exe()
            .and_then(|p| p.canonicalize())
            .map_err(InstallError::Exe)?;
        let state_dir = std::path::absolute(state_dir)
            .map_err(|e| InstallError::StateDir(state_dir.to_path_buf(), e))?;
        let env = KEPT_ENV
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect();
        Ok(Service {
            exe,
            state_dir,
            region: region.to_string(),
            listen,
            env,
        })
    }

    /// The command line, as words.
    pub fn argv(&self) -> Vec<String> {
        vec![
            self.exe.display().to_string(),
            "--state-dir".into(),
            self.state_dir.display().to_string(),
            "--region".into(),
            self.region.clone(),
            "serve".into(),
            "--listen".into(),
            self.listen.to_string(),
        ]
    }

    /// The unit file's text.
    pub fn unit(&self) -> String {
        let exec: Vec<String> = self.argv().iter().map(|w| systemd_quote(w)).collect();
        let env: String = self
            .env
            .iter()
            .map(|(k, v)| format!("Environment={}\n", systemd_quote(&format!("{k}={v}"))))
            .collect();
        format!(
            "# Written by `ec2lab serve --install-systemd`; run it again to change it.\n\
             [Unit]\n\
             Description=ec2lab EC2 API (ec2lab serve on {listen})\n\
             After=network-online.target\n\
             Wants=network-online.target\n\
             \n\
             [Service]\n\
             Type=simple\n\
             ExecStart={exec}\n\
             {env}\
             Restart=on-failure\n\
             RestartSec=2\n\
             # Instances launched through the API run under supervisors that this process\n\
             # starts: they must outlive a restart or stop of the server, as they outlive\n\
             # the ec2lab command that launched them.\n\
             KillMode=process\n\
             \n\
             [Install]\n\
             WantedBy=multi-user.target\n",
            listen = self.listen,
            exec = exec.join(" "),
        )
    }

    /// The command that starts the server by hand, for a shell.
    pub fn by_hand(&self) -> String {
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect();
        let argv: Vec<String> = self.argv().iter().map(|w| shell_quote(w)).collect();
        let log = self.state_dir.join("serve.log");
        let mut words = env;
        words.push("nohup".into());
        words.extend(argv);
        format!(
            "{} >>{} 2>&1 &",
            words.join(" "),
            shell_quote(&log.display().to_string())
        )
    }
}

/// A word of ExecStart or Environment: quoted when it has what systemd would split on or
/// expand (`$`, `%`, quotes, backslashes, white space).
fn systemd_quote(w: &str) -> String {
    let w = w.replace('%', "%%").replace('$', "$$");
    if w.is_empty() || w.chars().any(|c| c.is_whitespace() || "\"'\\;".contains(c)) {
        format!("\"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        w
    }
}

/// A word for a POSIX shell.
fn shell_quote(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=,@+".contains(c))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// Is systemd the init system of this host (`sd_booted`: `/run/systemd/system` exists)?
/// Not in most containers.
pub fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// What installing did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Installed {
    /// Written, and `systemctl enable --now` ran.
    Started,
    /// Written into systemd's directory, but systemd does not run here.
    NoSystemd,
    /// Written elsewhere than systemd's directory (`--unit-dir`): not enabled.
    Elsewhere,
}

/// Writes the unit into `unit_dir`; there, when it is systemd's own directory and systemd
/// runs, reloads systemd and enables and starts the unit. Returns the file and what was
/// done.
pub fn install(service: &Service, unit_dir: &Path) -> Result<(PathBuf, Installed), InstallError> {
    let path = unit_dir.join(UNIT_NAME);
    write_file(&path, &service.unit()).map_err(|e| InstallError::Write(path.clone(), e))?;
    if unit_dir != Path::new(UNIT_DIR) {
        return Ok((path, Installed::Elsewhere));
    }
    if !systemd_running() {
        return Ok((path, Installed::NoSystemd));
    }
    systemctl(&["daemon-reload"])?;
    systemctl(&["enable", "--now", UNIT_NAME])?;
    // A unit that was already running keeps its old command line until restarted.
    systemctl(&["restart", UNIT_NAME])?;
    Ok((path, Installed::Started))
}

/// Writes `text` to `path` whole (a temporary file renamed over it), mode 0644.
fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("service.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)?;
    // Whatever the umask: systemd and its tools read units as any user.
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn systemctl(args: &[&str]) -> Result<(), InstallError> {
    let what = args.join(" ");
    let out = Command::new("systemctl")
        .args(args)
        .output()
        .map_err(|e| InstallError::Systemctl(what.clone(), e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(InstallError::Systemctl(
            what,
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Service {
        Service {
            exe: "/usr/local/bin/ec2lab".into(),
            state_dir: "/var/lib/ec2lab".into(),
            region: "lab-1".into(),
            listen: "0.0.0.0:8773".parse().unwrap(),
            env: vec![("EC2LAB_GUEST_IMAGES".into(), "/srv/my images".into())],
        }
    }

    #[test]
    fn the_unit_runs_this_serve() {
        let unit = service().unit();
        assert!(unit.contains(
            "\nExecStart=/usr/local/bin/ec2lab --state-dir /var/lib/ec2lab --region lab-1 \
             serve --listen 0.0.0.0:8773\n"
        ));
        assert!(unit.contains("\nEnvironment=\"EC2LAB_GUEST_IMAGES=/srv/my images\"\n"));
        assert!(unit.contains("\nKillMode=process\n"));
        assert!(unit.contains("\nRestart=on-failure\n"));
        assert!(unit.contains("\n[Install]\nWantedBy=multi-user.target\n"));
        assert_eq!(
            service().by_hand(),
            "EC2LAB_GUEST_IMAGES='/srv/my images' nohup /usr/local/bin/ec2lab --state-dir \
             /var/lib/ec2lab --region lab-1 serve --listen 0.0.0.0:8773 \
             >>/var/lib/ec2lab/serve.log 2>&1 &"
        );
    }

    #[test]
    fn words_are_quoted_for_systemd() {
        assert_eq!(systemd_quote("/a/b"), "/a/b");
        assert_eq!(systemd_quote("/a b/c"), "\"/a b/c\"");
        assert_eq!(systemd_quote("100%"), "100%%");
        assert_eq!(systemd_quote("$HOME"), "$$HOME");
        assert_eq!(systemd_quote("a\"b"), "\"a\\\"b\"");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn install_elsewhere_writes_the_unit_only() {
        let dir = tempfile::tempdir().unwrap();
        let (path, done) = install(&service(), &dir.path().join("units")).unwrap();
        assert_eq!(path, dir.path().join("units/ec2lab-serve.service"));
        assert_eq!(done, Installed::Elsewhere);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), service().unit());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }
}
