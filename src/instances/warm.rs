//! Warm launches: an AMI's first launch boots as a template, and later launches of it start
//! from that boot's memory instead of booting (issue: "launch without booting").
//!
//! The first instance of an AMI (per memory size, vCPUs, instance store and root volume
//! size: a template's [`key`]) boots with `ec2lab.warm=1`. Its agent grows the root, syncs
//! and prints [`WAIT_MARKER`], then blocks reading the serial console. The supervisor then
//! [`capture`]s the template: a VMM snapshot (`vmm::snapshot`) plus a sparse copy of the
//! root disk and the boot's console log, under [`cache_dir`]`/<AMI content>/<key>/`, and sends that
//! instance its identity. Every later launch of the AMI with the same key gets the
//! template's disk as its root volume and a VMM restored from the template's memory (mapped
//! copy-on-write: the instances share its pages until they write them); the supervisor sends
//! each its own identity ([`identity_line`]: MAC, address, hostname, clock, 64 random bytes
//! to reseed the kernel's pool) before anything instance-specific runs in it.
//!
//! An AMI whose agent does not know `ec2lab.warm=1` boots as always (the switch is
//! ignored) and is marked so that later launches do not ask again. A template a VMM cannot
//! restore (another ec2lab version, CPU or KVM) is deleted and the instance boots cold.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::network::GuestNics;
use super::rundir::RunDir;
use crate::fsutil;
use crate::images::Image;
use crate::store::Store;
use crate::vmm::api::{self, AfterSnapshot, Request};
use crate::vmm::config::format_mac;

/// What the agent prints when it waits for its identity.
pub const WAIT_MARKER: &str = "EC2LAB-WARM-WAIT";
/// The kernel switch that makes a boot a template's.
pub const SWITCH: &str = "ec2lab.warm=1";
/// Written last into a template directory: the template is complete.
const READY_FILE: &str = "template.json";
/// Marks an AMI whose agent never waited: no template is tried again.
const UNSUPPORTED_FILE: &str = "unsupported";
/// The template boot's own plan file in its run directory.
const PLAN_FILE: &str = "warm.json";

/// Warm launches are on unless `EC2LAB_WARM=0` (or `run-instances --no-warm`).
pub fn enabled() -> bool {
    std::env::var("EC2LAB_WARM").map_or(true, |v| v != "0")
}

/// What an instance's first boot does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Boot with the template switch and capture the template at its wait.
    Capture,
    /// Start from the template's memory.
    Restore,
}

/// An instance's warm plan: kept in its run directory until its first VMM starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Capture or restore.
    pub mode: Mode,
    /// The template's directory.
    pub template: PathBuf,
}

/// The machine shape a template fits: guests restored from it must have the same memory,
/// vCPUs and devices (the snapshot's device set), and the same root size (its disk).
pub fn key(mem_mib: u64, vcpus: u8, instance_store: bool, root_gib: u64) -> String {
    let store = if instance_store { "-store" } else { "" };
    format!("v1-{mem_mib}m-{vcpus}c-{root_gib}g{store}")
}

/// Where templates live: `EC2LAB_WARM_CACHE`, else `/var/cache/ec2lab/warm`. Outside the
/// state directory on purpose: a template is the AMI's files booted to the agent's wait,
/// nothing of a region or an instance, so every state directory with the same AMI files
/// (the quick-start AMI of one guest-images build) shares it. Deleting it is always safe.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("EC2LAB_WARM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/ec2lab/warm"))
}

/// The AMI's content id: SHA-256 over its kernel, initrd and root image (an AMI's files
/// never change once registered), computed once and kept in the AMI's directory.
fn content_id(store: &Store, image: &Image) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let kept = Image::dir(store, &image.image_id).join("content.sha256");
    if let Ok(id) = std::fs::read_to_string(&kept) {
        return Ok(id.trim().to_string());
    }
    let mut h = Sha256::new();
    let files = [
        Some(image.kernel_path(store)),
        image.initrd_path(store),
        Some(image.root_path(store)),
    ];
    for f in files.into_iter().flatten() {
        let mut file = std::fs::File::open(&f)?;
        std::io::copy(&mut file, &mut h)?;
        h.update(b"\0");
    }
    let id: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    fsutil::write_atomic(&kept, id.as_bytes())?;
    Ok(id)
}

fn templates_dir(store: &Store, image: &Image) -> Option<PathBuf> {
    Some(cache_dir().join(content_id(store, image).ok()?))
}

/// The template's files.
pub struct Template(pub PathBuf);

impl Template {
    /// The VMM snapshot.
    pub fn snapshot(&self) -> PathBuf {
        self.0.join("snapshot")
    }
    /// The root disk as it was at the snapshot.
    pub fn disk(&self) -> PathBuf {
        self.0.join("root.img")
    }
    /// The template boot's console log, up to its wait.
    pub fn boot_log(&self) -> PathBuf {
        self.0.join("console.log")
    }
    /// Complete (its last file written)?
    pub fn ready(&self) -> bool {
        self.0.join(READY_FILE).is_file()
    }
    /// Marks it used now: [`evict`] keeps the most recently used.
    pub fn touch(&self) {
        if let Ok(f) = std::fs::File::options()
            .append(true)
            .open(self.0.join(READY_FILE))
        {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
    }
    /// Removes it (a VMM that mapped its memory keeps the pages it needs).
    pub fn discard(&self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The plan for a new instance of `image`: restore when its template exists, capture when
/// none does and the AMI has not shown it cannot, nothing when warm launches are off or
/// the launch is not one a template fits (more than one interface or extra volumes).
pub fn plan(store: &Store, image: &Image, key: &str, fits: bool) -> Option<Plan> {
    if !enabled() || !fits || !cfg!(target_arch = "x86_64") {
        return None;
    }
    let dir = templates_dir(store, image)?;
    let template = dir.join(key);
    if Template(template.clone()).ready() {
        return Some(Plan {
            mode: Mode::Restore,
            template,
        });
    }
    if dir.join(UNSUPPORTED_FILE).exists() {
        return None;
    }
    Some(Plan {
        mode: Mode::Capture,
        template,
    })
}

/// Keeps `plan` for the instance's first VMM.
pub fn save_plan(run: &RunDir, plan: &Plan) -> std::io::Result<()> {
    let json = serde_json::to_vec(plan).map_err(std::io::Error::other)?;
    fsutil::write_atomic(&run.path(PLAN_FILE), &json)
}

/// The instance's plan, if its first VMM has not used it yet; it is used once.
pub fn take_plan(run: &RunDir) -> Option<Plan> {
    let path = run.path(PLAN_FILE);
    let plan = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let _ = std::fs::remove_file(&path);
    plan
}

/// The line that gives a guest its identity (see the agent's warm.rs), from the kernel
/// switch ec2lab would boot it with (`ip=ADDR::GW:MASK:HOST:eth0:off`) and its first NIC.
pub fn identity_line(instance_id: &str, nics: &GuestNics) -> Option<String> {
    let ip = nics.switches.first()?.strip_prefix("ip=")?;
    let f: Vec<&str> = ip.split(':').collect();
    let (addr, gw, mask, host) = (f.first()?, f.get(2)?, f.get(3)?, f.get(4)?);
    let prefix = mask
        .parse::<std::net::Ipv4Addr>()
        .ok()?
        .to_bits()
        .count_ones();
    let mac = format_mac(&nics.nets.first()?.mac);
    let mut seed = [0u8; 64];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
    let seed: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!(
        "EC2LAB-IDENTITY v=1 id={instance_id} mac={mac} addr={addr}/{prefix} gw={gw} \
         host={host} time={} seed={seed}\n",
        crate::clock::now_ms()
    ))
}

/// Sends the identity line to the guest's console.
pub fn send_identity(sock: &Path, line: &str) -> Result<(), String> {
    let r = api::call_within(
        sock,
        &Request::ConsoleInput { text: line.into() },
        Duration::from_secs(5),
    )
    .map_err(|e| e.to_string())?;
    if r.ok {
        Ok(())
    } else {
        Err(r.error.unwrap_or_default())
    }
}

/// The agent's line once it has taken its identity.
pub const ACK_LINE: &str = "warm launch: took the identity of";

/// One space on the guest's console: more input makes a guest that left its identity line
/// in its tty buffers read it (the agent discards the spaces).
pub fn nudge(sock: &Path) -> Result<(), String> {
    send_identity(sock, " ")
}

/// Has the guest said it waits (in the console text of its current boot)?
pub fn waiting(console: &str) -> bool {
    super::console::current_boot(console)
        .lines()
        .any(|l| l.trim_end() == WAIT_MARKER)
}

/// How the current boot in `console` started, for people: `warm` (restored from the
/// template), `cold, made the warm template` (a template boot) or `cold`.
pub fn launch_kind(console: &str) -> &'static str {
    let boot = super::console::current_boot(console);
    if boot.contains("ec2lab: warm launch: restored") {
        "warm"
    } else if boot.lines().any(|l| l.trim_end() == WAIT_MARKER) {
        "cold, made the warm template"
    } else {
        "cold"
    }
}

/// Marks the AMI of `template` as one whose agent does not wait for an identity.
pub fn unsupported(template: &Path) {
    if let Some(dir) = template.parent() {
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(dir.join(UNSUPPORTED_FILE), b"");
    }
}

/// What a capture made, for the console note.
pub struct Captured {
    /// Bytes of guest memory in the template.
    pub memory_bytes: u64,
    /// How long the VMM was paused to save it.
    pub save_ms: u64,
}

/// Makes `template` from the waiting guest behind `sock`: its snapshot (the guest runs on
/// after it), its root disk `root` (stable: the agent synced and blocks), and `console`'s
/// text so far. Built in a temporary directory and renamed into place, so a template is
/// whole or absent; when two first launches race, the first rename wins.
pub fn capture(
    run: &super::rundir::RunDir,
    root: &Path,
    template: &Path,
) -> Result<Captured, String> {
    let console = run.console();
    let parent = template
        .parent()
        .ok_or_else(|| "a template directory has a parent".to_string())?;
    std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let tmp = parent.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        crate::clock::now_ms()
    ));
    let t = Template(tmp.clone());
    let made = (|| -> Result<Captured, String> {
        std::fs::create_dir(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        let r = super::jail::snapshot(
            run,
            AfterSnapshot::Resume,
            &t.snapshot(),
            Duration::from_secs(120),
        )?;
        let done = match (r.ok, r.snapshot) {
            (true, Some(done)) => done,
            _ => return Err(r.error.unwrap_or_else(|| "no snapshot made".into())),
        };
        fsutil::sparse_copy(root, &t.disk()).map_err(|e| format!("copying the root disk: {e}"))?;
        // The VMM owns the log's directory: read it without following a link.
        let log =
            fsutil::read_nofollow(&console).map_err(|e| format!("reading the console log: {e}"))?;
        std::fs::write(t.boot_log(), log).map_err(|e| format!("copying the console log: {e}"))?;
        let meta = serde_json::json!({
            "made_ms": crate::clock::now_ms(),
            "memory_bytes": done.memory_bytes,
            "save_ms": done.save_ms,
        });
        fsutil::write_atomic(&tmp.join(READY_FILE), meta.to_string().as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(Captured {
            memory_bytes: done.memory_bytes,
            save_ms: done.save_ms,
        })
    })();
    match made {
        Ok(c) => {
            if std::fs::rename(&tmp, template).is_err() {
                t.discard(); // another launch made it first
            }
            evict(&cache_dir(), keep());
            Ok(c)
        }
        Err(e) => {
            t.discard();
            Err(e)
        }
    }
}

/// How many templates the cache keeps (`EC2LAB_WARM_KEEP`, default 4): each holds a
/// booted guest's memory and root disk (sparse: a few hundred MiB for the quick-start AMI).
fn keep() -> usize {
    std::env::var("EC2LAB_WARM_KEEP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}

/// Deletes all but the `keep` most recently used templates under `cache`, and AMI
/// directories left empty.
pub fn evict(cache: &Path, keep: usize) {
    let mut all: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for ami in std::fs::read_dir(cache).into_iter().flatten().flatten() {
        for t in std::fs::read_dir(ami.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let used = t
                .path()
                .join(READY_FILE)
                .metadata()
                .and_then(|m| m.modified());
            if let Ok(used) = used {
                all.push((used, t.path()));
            }
        }
    }
    all.sort_by_key(|t| std::cmp::Reverse(t.0));
    for (_, dir) in all.into_iter().skip(keep) {
        Template(dir.clone()).discard();
        if let Some(parent) = dir.parent() {
            let _ = std::fs::remove_dir(parent); // only if empty
        }
    }
}

/// The template boot's log for a restored instance's console, framed so that a reader
/// knows whose boot it was.
pub fn restored_log(template: &Template) -> Vec<String> {
    let mut lines = vec![format!(
        "ec2lab: warm launch: this instance starts from the memory of its AMI's template \
         boot ({}); that boot's log follows",
        template.0.display()
    )];
    if let Ok(text) = std::fs::read_to_string(template.boot_log()) {
        let boot = super::console::current_boot(&text);
        lines.extend(boot.lines().skip(1).map(str::to_string));
    }
    lines.push("ec2lab: warm launch: restored; the instance's own lines follow".into());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmm::config::NetConfig;

    fn nics() -> GuestNics {
        GuestNics {
            nets: vec![NetConfig {
                tap: "t".into(),
                mac: [2, 1, 2, 3, 4, 5],
            }],
            switches: vec!["ip=10.1.2.3::10.1.0.1:255.255.240.0:ip-10-1-2-3:eth0:off".into()],
        }
    }

    #[test]
    fn the_identity_line_carries_the_interface_and_fresh_random_bytes() {
        let a = identity_line("i-1", &nics()).unwrap();
        assert!(a.starts_with("EC2LAB-IDENTITY v=1 id=i-1 mac=02:01:02:03:04:05 addr=10.1.2.3/20 gw=10.1.0.1 host=ip-10-1-2-3 time="), "{a}");
        assert!(a.ends_with('\n'));
        let seed = |l: &str| l.split("seed=").nth(1).unwrap().trim().to_string();
        assert_eq!(seed(&a).len(), 128);
        let b = identity_line("i-1", &nics()).unwrap();
        assert_ne!(
            seed(&a),
            seed(&b),
            "two identities never share their random bytes"
        );
        assert!(identity_line("i-1", &GuestNics::default()).is_none());
    }

    #[test]
    fn keys_tell_machine_shapes_apart() {
        assert_eq!(key(1024, 1, false, 8), "v1-1024m-1c-8g");
        assert_ne!(key(1024, 1, false, 8), key(1024, 1, true, 8));
        assert_ne!(key(1024, 1, false, 8), key(2048, 1, false, 8));
        assert_ne!(key(1024, 1, false, 8), key(1024, 1, false, 9));
    }

    #[test]
    fn a_plan_is_used_once() {
        let dir = std::env::temp_dir().join(format!("ec2lab-warm-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let run = RunDir(dir.clone());
        let p = Plan {
            mode: Mode::Restore,
            template: "/x/y".into(),
        };
        save_plan(&run, &p).unwrap();
        assert_eq!(take_plan(&run), Some(p));
        assert_eq!(take_plan(&run), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn eviction_keeps_the_most_recently_used_templates() {
        let cache = std::env::temp_dir().join(format!("ec2lab-warm-evict-{}", std::process::id()));
        let made: Vec<PathBuf> = (0..3)
            .map(|i| {
                let t = cache.join(format!("ami{i}")).join("v1-k");
                std::fs::create_dir_all(&t).unwrap();
                std::fs::write(t.join(READY_FILE), b"{}").unwrap();
                let f = std::fs::File::options()
                    .append(true)
                    .open(t.join(READY_FILE))
                    .unwrap();
                let at = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 + i);
                f.set_modified(at).unwrap();
                t
            })
            .collect();
        Template(made[0].clone()).touch(); // the oldest, used now
        evict(&cache, 2);
        assert!(made[0].exists() && made[2].exists());
        assert!(!made[1].exists() && !cache.join("ami1").exists());
        std::fs::remove_dir_all(cache).unwrap();
    }

    #[test]
    fn the_wait_is_seen_in_the_current_boot_only() {
        let boot = super::super::console::boot_line(1, "i-1");
        assert!(waiting(&format!("{boot}\nLinux\nEC2LAB-WARM-WAIT\n")));
        assert!(!waiting(&format!("{boot}\nLinux\n")));
        let next = super::super::console::boot_line(2, "i-1");
        assert!(!waiting(&format!("{boot}\nEC2LAB-WARM-WAIT\n{next}\n")));
    }
}
