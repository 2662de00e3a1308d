//! ec2lab-agent: the first-boot agent of the "ec2lab Linux" guest image (what cloud-init
//! does on an EC2 AMI, in one small static process), and the image's `sudo`.
//!
//! `ec2lab-agent boot`, run by /etc/ec2lab/rc.d/50-ec2lab-agent.sh on every boot:
//! reads the instance metadata (IMDSv2), sets the hostname, installs the key pair's public
//! key for ec2-user, starts dropbear (sshd), and returns, so that rcS prints
//! EC2LAB-GUEST-READY with sshd up. A `#!` user-data script then runs once per instance in
//! a forked background child (cloud-init's "final" stage).
//!
//! Installed as /usr/bin/sudo (setuid root) it is sudo: see sudo.rs.

mod curl;
mod ec2_metadata;
mod entropy;
mod growroot;
mod http;
mod imds;
mod lsblk;
mod state;
mod sudo;
mod sys;
mod warm;

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_IMDS: &str = "169.254.169.254:80";
const DEFAULT_BUDGET: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const IO_TIMEOUT: Duration = Duration::from_secs(5);
const RETRY_PAUSE: Duration = Duration::from_secs(1);
const USER: &str = "ec2-user";
const USER_UID: u32 = 1000;
const USER_GID: u32 = 1000;
/// The dropbear command line; /usr/lib/ec2lab/services.sh (systemctl start sshd) uses the
/// same switches. -F: no fork of its own (we already run it in the background, a fork costs
/// time here); -E: log to stderr (there is no syslogd); -R: make host keys on the first
/// connection; -s: keys only, no passwords; -w: no root logins (use ec2-user and sudo).
/// Its log goes to /run/dropbear.log (tmpfs): a file held open for writing on the root
/// file system would make the read-only remount at shutdown fail (disk left unclean).
const DROPBEAR: &str = "/usr/sbin/dropbear";
const SSHD_LISTEN_TIMEOUT: Duration = Duration::from_secs(60);
const DROPBEAR_PIDFILE: &str = "/run/dropbear.pid";
const DROPBEAR_ARGS: &[&str] = &[
    "-F",
    "-E",
    "-R",
    "-s",
    "-w",
    "-p",
    "22",
    "-P",
    "/run/dropbear.pid",
];

struct Config {
    /// "/" in the guest; EC2LAB_AGENT_ROOT for a test run on the host.
    root: PathBuf,
    test_root: bool,
    /// None: metadata lookups are switched off (`ec2lab.imds=off`).
    imds: Option<SocketAddr>,
    budget: Duration,
    foreground: bool,
    /// A warm-launch template's boot (`ec2lab.warm=1`): wait for the identity first.
    warm: bool,
}

impl Config {
    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    fn from_env(args: &[OsString]) -> Result<Config, String> {
        let root = std::env::var_os("EC2LAB_AGENT_ROOT").map(PathBuf::from);
        let test_root = root.is_some();
        let root = root.unwrap_or_else(|| PathBuf::from("/"));
        let mut foreground = false;
        for a in args {
            match a.to_str() {
                Some("--foreground") => foreground = true,
                _ => return Err(format!("unknown argument {a:?}")),
            }
        }
        let cmdline = fs::read_to_string(root.join("proc/cmdline"))
            .or_else(|_| fs::read_to_string("/proc/cmdline"))
            .unwrap_or_default();
        let param = |name: &str| {
            cmdline
                .split_whitespace()
                .find_map(|w| w.strip_prefix(name).map(str::to_string))
        };
        let imds_spec = std::env::var("EC2LAB_AGENT_IMDS")
            .ok()
            .or_else(|| param("ec2lab.imds="))
            .unwrap_or_else(|| DEFAULT_IMDS.to_string());
        let imds = if imds_spec == "off" {
            None
        } else {
            Some(
                imds_spec
                    .parse::<SocketAddr>()
                    .map_err(|_| format!("bad metadata address {imds_spec:?} (want IP:PORT)"))?,
            )
        };
        let budget = std::env::var("EC2LAB_AGENT_BUDGET_SECS")
            .ok()
            .or_else(|| param("ec2lab.imds_budget="))
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_BUDGET);
        Ok(Config {
            root,
            test_root,
            imds,
            budget,
            foreground,
            warm: warm::requested(&cmdline),
        })
    }
}

/// Where the agent's lines go: /dev/console (stdout in a test run), each line also appended
/// to /var/log/ec2lab-agent.log.
struct Console {
    out: Option<File>,
    log: Option<File>,
    /// The log file's lines carry the time since the agent started (where boot time goes).
    start: Instant,
}

impl Console {
    fn open(cfg: &Config) -> Console {
        let out = if cfg.test_root {
            None
        } else {
            // O_NOCTTY: the background child is a session leader and must not take the
            // console as its controlling terminal.
            OpenOptions::new()
                .write(true)
                .custom_flags(0o400)
                .open("/dev/console")
                .ok()
        };
        let log = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .open(cfg.path("/var/log/ec2lab-agent.log"))
            .ok();
        Console {
            out,
            log,
            start: Instant::now(),
        }
    }

    fn try_clone(&self) -> Console {
        let dup = |f: &Option<File>| f.as_ref().and_then(|f| f.try_clone().ok());
        Console {
            out: dup(&self.out),
            log: dup(&self.log),
            start: self.start,
        }
    }

    fn raw(&self, bytes: &[u8]) {
        match self.out.as_ref() {
            Some(mut f) => {
                let _ = f.write_all(bytes);
            }
            None => {
                let _ = std::io::stdout().write_all(bytes);
                let _ = std::io::stdout().flush();
            }
        }
    }

    /// A line for /var/log/ec2lab-agent.log only (with its time): where the boot time goes.
    fn trace(&self, s: &str) {
        if let Some(mut f) = self.log.as_ref() {
            let t = self.start.elapsed().as_secs_f64();
            let _ = f.write_all(format!("[+{t:7.3}s] ec2lab-agent: ({s})\n").as_bytes());
        }
    }

    fn line(&self, s: &str) {
        let l = format!("ec2lab-agent: {s}\n");
        self.raw(l.as_bytes());
        if let Some(mut f) = self.log.as_ref() {
            let t = self.start.elapsed().as_secs_f64();
            let _ = f.write_all(format!("[+{t:7.3}s] {l}").as_bytes());
        }
    }
}

/// The metadata service over TCP.
struct Tcp<'a>(SocketAddr, &'a Console);

impl imds::Transport for Tcp<'_> {
    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<http::Response, String> {
        self.1.trace(&format!("{method} {path}"));
        let r = http::request(self.0, method, path, headers, CONNECT_TIMEOUT, IO_TIMEOUT);
        self.1.trace(&format!("{method} {path} done"));
        r
    }
}

#[derive(Default)]
struct Metadata {
    instance_id: Option<String>,
    hostname: Option<String>,
    key: Option<String>,
    user_data: Option<Vec<u8>>,
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).trim().to_string()
}

/// True if the kernel has any IPv4 route (the `ip=` switch configured the interface).
fn have_route(cfg: &Config) -> bool {
    if cfg.test_root {
        return true;
    }
    fs::read_to_string("/proc/net/route")
        .map(|s| s.lines().count() > 1)
        .unwrap_or(true)
}

fn fetch_metadata(cfg: &Config, con: &Console) -> Metadata {
    let mut m = Metadata::default();
    let Some(addr) = cfg.imds else {
        con.line("metadata service switched off (ec2lab.imds=off)");
        return m;
    };
    if !have_route(cfg) {
        con.line(
            "error: no network route (no ip= on the kernel command line?): no instance metadata",
        );
        return m;
    }
    let mut log = |s: &str| con.line(s);
    let deadline = Instant::now() + cfg.budget;
    con.trace(&format!("asking {addr}"));
    let mut svc = imds::Imds::new(Tcp(addr, con), deadline, RETRY_PAUSE, &mut log);
    match svc.get("/latest/meta-data/instance-id") {
        Ok(Some(id)) => {
            con.trace("got the instance id");
            m.instance_id = Some(text(id))
        }
        Ok(None) => {
            con.line(&format!(
                "error: {addr} has no /latest/meta-data/instance-id"
            ));
            return m;
        }
        Err(e) => {
            con.line(&format!("error: instance metadata from {addr}: {e}"));
            return m;
        }
    }
    let mut optional = |path: &str| match svc.get(path) {
        Ok(v) => v,
        Err(e) => {
            con.line(&format!("error: {path}: {e}"));
            None
        }
    };
    m.hostname = optional("/latest/meta-data/hostname")
        .or_else(|| optional("/latest/meta-data/local-hostname"))
        .map(text);
    m.key = optional("/latest/meta-data/public-keys/0/openssh-key").map(text);
    m.user_data = optional("/latest/user-data");
    con.trace("metadata done");
    m
}

/// A host name the kernel takes: at most 64 bytes of letters, digits, '-' and '.'.
fn clean_hostname(s: &str) -> Option<String> {
    let s = s.lines().next().unwrap_or_default().trim();
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return None;
    }
    let mut s = s.chars().take(64).collect::<String>();
    while s.ends_with(['.', '-']) {
        s.pop();
    }
    (!s.is_empty()).then_some(s)
}

/// /etc/hosts with the 127.0.1.1 line naming this host (so `hostname -f` resolves).
fn hosts_with(hosts: &str, name: &str) -> String {
    let short = name.split('.').next().unwrap_or(name);
    let entry = if short == name {
        format!("127.0.1.1\t{name}")
    } else {
        format!("127.0.1.1\t{name} {short}")
    };
    let mut out: Vec<String> = hosts
        .lines()
        .filter(|l| !l.starts_with("127.0.1.1"))
        .map(str::to_string)
        .collect();
    out.push(entry);
    out.join("\n") + "\n"
}

fn set_hostname(cfg: &Config, con: &Console, raw: &str) {
    let Some(name) = clean_hostname(raw) else {
        con.line(&format!("error: unusable hostname {raw:?} in metadata"));
        return;
    };
    if let Err(e) = fs::write(cfg.path("/proc/sys/kernel/hostname"), &name) {
        con.line(&format!("error: setting the hostname: {e}"));
    }
    let etc_hostname = cfg.path("/etc/hostname");
    if fs::read_to_string(&etc_hostname)
        .ok()
        .as_deref()
        .map(str::trim)
        != Some(name.as_str())
    {
        if let Err(e) = state::write_replace(&etc_hostname, format!("{name}\n").as_bytes(), 0o644) {
            con.line(&format!("error: writing /etc/hostname: {e}"));
        }
    }
    let hosts_path = cfg.path("/etc/hosts");
    let hosts = fs::read_to_string(&hosts_path).unwrap_or_default();
    let new_hosts = hosts_with(&hosts, &name);
    if new_hosts != hosts {
        if let Err(e) = state::write_replace(&hosts_path, new_hosts.as_bytes(), 0o644) {
            con.line(&format!("error: writing /etc/hosts: {e}"));
        }
    }
    con.line(&format!("hostname {name}"));
}

/// authorized_keys after adding the metadata's key lines to what is there (cloud-init
/// keeps existing keys too: keys added by hand, or by an image's earlier instance, stay).
fn merged_keys(existing: &str, key: &str) -> String {
    let mut out = existing.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for line in key.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !existing.lines().any(|l| l.trim() == line) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn install_key(cfg: &Config, key: &str) -> std::io::Result<()> {
    let ssh = cfg.path(&format!("/home/{USER}/.ssh"));
    if !ssh.is_dir() {
        fs::create_dir_all(&ssh)?;
    }
    std::os::unix::fs::chown(&ssh, Some(USER_UID), Some(USER_GID))?;
    fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700))?;
    let path = ssh.join("authorized_keys");
    let existing = fs::read_to_string(&path).unwrap_or_default();
    let merged = merged_keys(&existing, key);
    if merged != existing || !path.exists() {
        state::write_replace(&path, merged.as_bytes(), 0o600)?;
    }
    std::os::unix::fs::chown(&path, Some(USER_UID), Some(USER_GID))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// devpts on /dev/pts, so ssh sessions get a pty. Done here and not in fstab because
/// devtmpfs has no /dev/pts directory and a `mkdir` would cost rcS another process.
fn mount_devpts(con: &Console) {
    if Path::new("/dev/pts/ptmx").exists() {
        return;
    }
    let r = fs::create_dir_all("/dev/pts").and_then(|_| {
        sys::mount_fs(
            "devpts",
            "/dev/pts",
            "devpts",
            sys::MS_NOSUID | sys::MS_NOEXEC,
            "gid=5,mode=620,ptmxmode=666",
        )
    });
    if let Err(e) = r {
        con.line(&format!("error: mounting devpts on /dev/pts: {e}"));
    }
}

/// Starts dropbear without waiting for it (see `wait_sshd`). None in a test run or on error.
fn spawn_sshd(cfg: &Config, con: &Console) -> Option<(std::process::Child, Instant)> {
    if cfg.test_root {
        con.line("test run (EC2LAB_AGENT_ROOT): not starting dropbear");
        return None;
    }
    let log = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open("/run/dropbear.log");
    let stderr = match log {
        Ok(f) => Stdio::from(f),
        Err(_) => Stdio::null(),
    };
    let mut cmd = Command::new(DROPBEAR);
    // argv[0] "dropbear", not a path, run in "/": dropbear re-executes itself for every
    // connection by opening argv[0] (DROPBEAR_DO_REEXEC); when that open fails it falls
    // back to a plain fork. A re-exec loads the program and its six libraries again, a
    // second or two here, on every ssh login; the fork alone is much cheaper.
    std::os::unix::process::CommandExt::arg0(&mut cmd, "dropbear");
    cmd.current_dir("/")
        .args(DROPBEAR_ARGS)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    // Its own session: it outlives rcS and no console signal reaches it.
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            let _ = sys::new_session();
            Ok(())
        });
    }
    let _ = fs::remove_file(DROPBEAR_PIDFILE);
    match cmd.spawn() {
        Ok(c) => Some((c, Instant::now())),
        Err(e) => {
            con.line(&format!("error: starting {DROPBEAR}: {e}"));
            None
        }
    }
}

/// Waits until dropbear listens. The ready marker must mean "sshd is up", and dropbear
/// takes seconds here to load (every page fault and system call is emulated kernel work;
/// it is started early so that this overlaps the metadata requests). It writes its pid
/// file right after its listening sockets are set up (svr-main.c), so wait for that file:
/// a stat every 50 ms costs next to nothing, where reading /proc/net/tcp costs ~0.1 s of
/// emulated kernel time each and connecting would make dropbear fork a session.
fn wait_sshd(con: &Console, child: &mut std::process::Child, started: Instant) {
    let deadline = started + SSHD_LISTEN_TIMEOUT;
    loop {
        if Path::new(DROPBEAR_PIDFILE).exists() {
            return con.line(&format!(
                "sshd (dropbear) listening on port 22, pid {} ({:.1} s)",
                child.id(),
                started.elapsed().as_secs_f64()
            ));
        }
        if let Ok(Some(st)) = child.try_wait() {
            return con.line(&format!(
                "error: dropbear exited ({st}); its log is /run/dropbear.log"
            ));
        }
        if Instant::now() >= deadline {
            return con.line(&format!(
                "error: dropbear (pid {}) not listening on port 22 after {} s",
                child.id(),
                SSHD_LISTEN_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn host_keys(cfg: &Config) -> Vec<PathBuf> {
    ["rsa", "ecdsa", "ed25519", "dss"]
        .iter()
        .map(|t| cfg.path(&format!("/etc/dropbear/dropbear_{t}_host_key")))
        .filter(|p| p.exists())
        .collect()
}

fn uptime(cfg: &Config) -> String {
    fs::read_to_string(cfg.path("/proc/uptime"))
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Runs the saved script as root, its output to the console and appended to
/// /var/log/cloud-init-output.log (where cloud-init puts it); records its exit status.
fn run_user_data(cfg: &Config, con: &Console, inst_dir: &Path, script: &Path, data: &[u8]) {
    con.line("running user data");
    let mut out_log = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(cfg.path("/var/log/cloud-init-output.log"))
        .ok();
    if let Some(f) = out_log.as_mut() {
        let _ = writeln!(
            f,
            "ec2lab-agent: running user data {} (uptime {} s)",
            script.display(),
            uptime(cfg)
        );
    }
    let (program, args) = state::command_for(script, data);
    let status = (|| -> std::io::Result<i32> {
        let (mut reader, writer) = std::io::pipe()?;
        let mut child = {
            let mut cmd = Command::new(&program);
            cmd.args(&args)
                .env_clear()
                .env(
                    "PATH",
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                )
                .env("HOME", "/root")
                .env("USER", "root")
                .env("LOGNAME", "root")
                .env("SHELL", "/bin/sh")
                .current_dir(&cfg.root)
                .stdin(Stdio::null())
                .stdout(writer.try_clone()?)
                .stderr(writer);
            cmd.spawn()?
            // cmd, holding the pipe's write end, is dropped here.
        };
        // The output is copied by a thread, so that a daemon the script left running with
        // the pipe still open (say `python3 -m http.server &`) cannot keep the status line
        // from being printed: once the script has exited, the copy gets one more second.
        let (con2, mut log2) = (
            con.try_clone(),
            out_log.as_ref().and_then(|f| f.try_clone().ok()),
        );
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                con2.raw(&buf[..n]);
                if let Some(f) = log2.as_mut() {
                    let _ = f.write_all(&buf[..n]);
                }
                let _ = done_tx.send(Some(buf[n - 1]));
            }
            let _ = done_tx.send(None);
        });
        let st = child.wait()?;
        let mut last = b'\n';
        let end = Instant::now() + Duration::from_secs(1);
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match done_rx.recv_timeout(left) {
                Ok(Some(b)) => last = b,
                Ok(None) | Err(_) => break,
            }
        }
        if last != b'\n' {
            con.raw(b"\n");
        }
        use std::os::unix::process::ExitStatusExt;
        Ok(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)))
    })();
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            con.line(&format!("error: running {}: {e}", program.display()));
            127
        }
    };
    if let Err(e) = state::record_status(inst_dir, status) {
        con.line(&format!("error: recording the user data's status: {e}"));
    }
    let line = format!("user data exited with status {status}");
    if let Some(f) = out_log.as_mut() {
        let _ = writeln!(f, "ec2lab-agent: {line} (uptime {} s)", uptime(cfg));
    }
    con.line(&line);
}

/// A template's boot: grow the root now (every instance from the template has the same
/// volume size), wait for the identity, and take it on, before anything per-instance.
fn warm_identity(cfg: &Config, con: &Console) {
    match growroot::plan() {
        Ok(Some(g)) => match growroot::apply(&g) {
            Ok(to) => con.line(&format!(
                "root file system grown from {} to {} before the warm snapshot",
                lsblk::human(g.from_bytes),
                lsblk::human(to)
            )),
            Err(e) => con.line(&format!("error: growing the root file system: {e}")),
        },
        Ok(None) => {}
        Err(e) => con.line(&format!("error: growing the root file system: {e}")),
    }
    let id = match warm::wait(|m| con.raw(format!("{m}\n").as_bytes())) {
        Ok(id) => id,
        Err(e) => {
            return con.line(&format!(
                "error: waiting for the warm launch's identity: {e}"
            ))
        }
    };
    let t = Instant::now();
    let mut failed = Vec::new();
    if let Err(e) = warm::reseed(&id.seed) {
        failed.push(format!("random pool: {e}"));
    }
    if let Err(e) = warm::set_clock(id.time_ms) {
        failed.push(format!("clock: {e}"));
    }
    if let Err(e) = warm::configure_network("eth0", &id) {
        failed.push(format!("eth0: {e}"));
    }
    set_hostname(cfg, con, &id.hostname);
    con.line(&format!(
        "warm launch: took the identity of {} (MAC, {}/{}, hostname, clock, random pool reseeded) in {} ms",
        id.instance_id,
        id.addr,
        id.prefix,
        t.elapsed().as_millis()
    ));
    for f in failed {
        con.line(&format!("error: warm launch: {f}"));
    }
}

fn boot(cfg: &Config) -> i32 {
    let con = Console::open(cfg);
    if cfg.warm && !cfg.test_root {
        warm_identity(cfg, &con);
    }
    if !cfg.test_root {
        mount_devpts(&con);
        // Before dropbear, which blocks in getrandom(2) until the pool is initialised.
        match entropy::seed(&cfg.path("/var/lib/ec2lab-agent/random-seed")) {
            Ok(Some(line)) => con.line(&line),
            Ok(None) => {}
            Err(e) => con.line(&format!("error: seeding the kernel random pool: {e}")),
        }
        con.trace("random seed saved");
    }
    // dropbear first: its loading overlaps the metadata requests (network waits).
    let keys_at_start = host_keys(cfg);
    let mut sshd = spawn_sshd(cfg, &con);
    let m = fetch_metadata(cfg, &con);
    if let Some(h) = &m.hostname {
        set_hostname(cfg, &con, h);
    }
    match &m.key {
        Some(k) if !k.is_empty() => match install_key(cfg, k) {
            Ok(()) => con.line(&format!("ssh key installed for {USER}")),
            Err(e) => con.line(&format!("error: installing the ssh key: {e}")),
        },
        _ if m.instance_id.is_some() => con.line("no ssh key in metadata"),
        _ => {}
    }
    let mut inst_dir = None;
    if let Some(id) = &m.instance_id {
        if !state::valid_instance_id(id) {
            con.line(&format!("error: unusable instance id {id:?}"));
        } else {
            match state::enter_instance(&cfg.path("/var/lib/ec2lab-agent"), id) {
                Ok((dir, new)) => {
                    if new {
                        con.line(&format!("first boot of instance {id}"));
                        // Like cloud-init's ssh_deletekeys: an image's host keys are not
                        // this instance's; dropbear -R makes new ones on first connection.
                        // If dropbear already loaded them (an AMI made from an instance),
                        // it starts again without them.
                        if !keys_at_start.is_empty() {
                            for k in &keys_at_start {
                                let _ = fs::remove_file(k);
                            }
                            con.line("removed the image's ssh host keys; restarting dropbear");
                            if let Some((mut c, _)) = sshd.take() {
                                let _ = c.kill();
                                let _ = c.wait();
                            }
                            sshd = spawn_sshd(cfg, &con);
                        }
                    }
                    inst_dir = Some(dir);
                }
                Err(e) => con.line(&format!("error: /var/lib/ec2lab-agent/{id}: {e}")),
            }
        }
    }
    if let Some((child, started)) = sshd.as_mut() {
        wait_sshd(&con, child, *started);
    }

    // A root volume larger than the file system: grown in the background child below.
    let grow = if cfg.test_root {
        None
    } else {
        growroot::plan().unwrap_or_else(|e| {
            con.line(&format!("error: growing the root file system: {e}"));
            None
        })
    };
    let (Some(id), Some(dir)) = (&m.instance_id, inst_dir) else {
        background(cfg, &con, grow, None);
        return 0;
    };
    let data = m.user_data.as_deref();
    let mut job = None;
    match state::plan_user_data(&dir, data) {
        Ok(state::Plan::Nothing) => con.line("no user data"),
        Ok(state::Plan::AlreadyRan) => con.line(&format!("user data already ran for {id}")),
        Ok(state::Plan::Unsupported(why)) => con.line(&format!("error: {why}")),
        Err(e) => con.line(&format!("error: saving the user data: {e}")),
        Ok(state::Plan::Run(script)) => job = Some((dir, script, data.unwrap_or_default())),
    }
    background(cfg, &con, grow, job);
    0
}

/// The root file system's growth, then the user data script, in that order (cloud-init
/// resizes before its final stage runs user data), in one forked child, like cloud-init's
/// later stages: rcS goes on to print the ready marker (sshd is up) meanwhile. A fork
/// without exec is the cheapest process start here. Nothing to do: no child.
fn background(
    cfg: &Config,
    con: &Console,
    grow: Option<growroot::Grow>,
    job: Option<(PathBuf, PathBuf, &[u8])>,
) {
    if grow.is_none() && job.is_none() {
        return;
    }
    let work = |con: &Console| {
        if let Some(g) = &grow {
            let t = Instant::now();
            match growroot::apply(g) {
                Ok(to) => con.line(&format!(
                    "root file system grown from {} to {} to fill its volume ({:.1} s)",
                    lsblk::human(g.from_bytes),
                    lsblk::human(to),
                    t.elapsed().as_secs_f64()
                )),
                Err(e) => con.line(&format!("error: growing the root file system: {e}")),
            }
        }
        if let Some((dir, script, data)) = &job {
            run_user_data(cfg, con, dir, script, data);
        }
    };
    if cfg.foreground {
        return work(con);
    }
    match sys::fork_process() {
        Ok(sys::Forked::Child) => {
            let _ = sys::new_session();
            work(con);
            std::process::exit(0);
        }
        Ok(sys::Forked::Parent) => {}
        Err(e) => {
            con.line(&format!("error: fork: {e}; running in the foreground"));
            work(con);
        }
    }
}

const USAGE: &str = "usage: ec2lab-agent boot [--foreground]

Run at boot by /etc/ec2lab/rc.d/50-ec2lab-agent.sh. Reads the instance metadata
(IMDSv2 at 169.254.169.254), sets the hostname, installs the key pair's key for
ec2-user, starts dropbear, and runs a #! user-data script once per instance
(in the background unless --foreground).

Overrides: kernel command line ec2lab.imds=IP:PORT|off and ec2lab.imds_budget=SECS;
environment EC2LAB_AGENT_IMDS=IP:PORT|off, EC2LAB_AGENT_BUDGET_SECS=N,
EC2LAB_AGENT_ROOT=DIR (a test run: all paths under DIR, no dropbear, output on stdout).

Installed setuid root as /usr/bin/sudo, this program is sudo (sudo -h).";

/// The metadata service for ec2-metadata: `EC2LAB_AGENT_IMDS`, the kernel's
/// `ec2lab.imds=`, else 169.254.169.254:80.
fn applet_imds() -> SocketAddr {
    let cmdline = fs::read_to_string("/proc/cmdline").unwrap_or_default();
    std::env::var("EC2LAB_AGENT_IMDS")
        .ok()
        .or_else(|| {
            cmdline
                .split_whitespace()
                .find_map(|w| w.strip_prefix("ec2lab.imds=").map(str::to_string))
        })
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| DEFAULT_IMDS.parse().expect("a valid address"))
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let name = args
        .first()
        .and_then(|a| Path::new(a).file_name().map(|n| n.to_os_string()))
        .unwrap_or_default();
    // Started setuid (real and effective uid differ), this binary is only ever sudo,
    // whatever name it was started under: no agent code runs with borrowed privileges.
    if name == "sudo" || sys::uid() != sys::euid() {
        std::process::exit(sudo::main(&args[1..]));
    }
    // The image's curl, ec2-metadata and lsblk are symlinks to this program.
    let rest = || -> Vec<String> {
        args[1..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    };
    match name.to_str() {
        Some("curl") => std::process::exit(curl::main(&rest())),
        Some("ec2-metadata") => std::process::exit(ec2_metadata::main(&rest(), applet_imds())),
        Some("lsblk") => std::process::exit(lsblk::main(&rest())),
        _ => {}
    }
    match args.get(1).and_then(|a| a.to_str()) {
        Some("boot") => match Config::from_env(&args[2..]) {
            Ok(cfg) => std::process::exit(boot(&cfg)),
            Err(e) => {
                eprintln!("ec2lab-agent: error: {e}\n{USAGE}");
                std::process::exit(2);
            }
        },
        Some("--version") => println!("ec2lab-agent {}", env!("CARGO_PKG_VERSION")),
        Some("-h" | "--help") => println!("{USAGE}"),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        assert_eq!(
            clean_hostname("ip-172-31-0-5.lab-1.compute.internal\n").as_deref(),
            Some("ip-172-31-0-5.lab-1.compute.internal")
        );
        assert_eq!(clean_hostname("bad name"), None);
        assert_eq!(clean_hostname(""), None);
        assert_eq!(clean_hostname(&"a".repeat(80)).unwrap().len(), 64);
    }

    #[test]
    fn hosts_file() {
        let h = "127.0.0.1\tlocalhost\n127.0.1.1\tec2lab\n";
        assert_eq!(
            hosts_with(h, "ip-1.lab.internal"),
            "127.0.0.1\tlocalhost\n127.0.1.1\tip-1.lab.internal ip-1\n"
        );
        assert_eq!(
            hosts_with(h, "web"),
            "127.0.0.1\tlocalhost\n127.0.1.1\tweb\n"
        );
    }

    #[test]
    fn keys_are_merged_not_replaced() {
        let k = "ssh-ed25519 AAAA k1\n";
        assert_eq!(merged_keys("", k), "ssh-ed25519 AAAA k1\n");
        assert_eq!(
            merged_keys("ssh-ed25519 AAAA k1\n", k),
            "ssh-ed25519 AAAA k1\n"
        );
        assert_eq!(
            merged_keys("ssh-rsa BBBB mine", k),
            "ssh-rsa BBBB mine\nssh-ed25519 AAAA k1\n"
        );
    }
}
