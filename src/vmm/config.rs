//! The VMM's launch description: what one guest is made of ([`VmConfig`]), validated
//! here before anything touches KVM.
//!
//! There are two ways in, and both make the same type: `ec2lab vmm`'s flags (parsed once,
//! by clap, with the `FromStr`s below), and a launch file (`ec2lab vmm --launch FILE`,
//! the JSON of [`VmConfig`]) that a program fills in directly: the instance supervisor
//! writes one per boot, so nothing is turned into flags and parsed back.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::host::{self, KvmFlavor};

/// Guest memory when none is asked for.
pub const DEFAULT_MEM_MIB: u64 = 256;
/// The least memory a guest may have.
pub const MIN_MEM_MIB: u64 = 16;
/// The most vCPUs a guest may ask for.
pub const MAX_VCPUS: u8 = 32;

/// A launch description the VMM cannot run.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A `--disk` with no path.
    #[error("--disk needs a path (or 'none' for an empty hot-plug slot), optionally followed by ',ro' and ',serial=ID' (got {0:?})")]
    DiskSpec(String),
    /// A `--disk` option that does not exist.
    #[error("Unknown disk option {option:?} in {spec:?}; the options are 'ro', 'rw' and 'serial=ID' (at most 20 bytes)")]
    DiskOption {
        /// The whole `--disk` value.
        spec: String,
        /// The option not known.
        option: String,
    },
    /// Too few or too many vCPUs.
    #[error("--vcpus must be between 1 and {MAX_VCPUS} (got {0})")]
    Vcpus(u8),
    /// Less memory than a guest needs.
    #[error("--mem-mib must be at least {MIN_MEM_MIB} (got {0})")]
    MemoryTooSmall(u64),
    /// More memory than the host has available.
    #[error("--mem-mib {asked} is more than this host can give: it has {available} MiB of memory available. Give the guest less memory")]
    MemoryTooLarge {
        /// MiB asked for.
        asked: u64,
        /// MiB the host has available.
        available: u64,
    },
    /// A file the guest is made of is missing.
    #[error("{what} {path:?} does not exist or cannot be read; check the path")]
    Missing {
        /// Which file: kernel, initrd or disk image.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A `--net` without a valid tap name or MAC.
    #[error("--net needs tap=NAME (at most 15 characters) and optionally mac=xx:xx:xx:xx:xx:xx (got {0:?})")]
    NetSpec(String),
    /// More devices than the guest has slots.
    #[error("Too many devices ({0} disks and network interfaces); a guest takes at most {1} virtio devices")]
    TooManyDevices(usize, usize),
}

/// MemAvailable from /proc/meminfo, in MiB: what a guest can have without swapping the
/// host to death. `None` when it cannot be read (then KVM and mmap are the judges).
pub fn host_available_mib() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// A launch file that cannot be read or written.
#[derive(Debug, Error)]
pub enum LaunchFileError {
    /// The file cannot be read.
    #[error("Cannot read the launch description {path}; check that it exists and is readable")]
    Read {
        /// The launch file.
        path: PathBuf,
        /// Why it cannot be read.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a launch description this build understands.
    #[error(
        "The launch description {path} is not one this ec2lab understands; write it as \
         `ec2lab vmm --launch` expects (the JSON of a VmConfig), or give the guest with flags"
    )]
    Parse {
        /// The launch file.
        path: PathBuf,
        /// Where the JSON differs from what is expected.
        #[source]
        source: serde_json::Error,
    },
    /// The file cannot be written.
    #[error(
        "Cannot write the launch description {path}; check that its directory is writable \
         and its disk not full"
    )]
    Write {
        /// The launch file.
        path: PathBuf,
        /// Why it cannot be written.
        #[source]
        source: std::io::Error,
    },
}

/// `--disk PATH[,ro][,serial=ID]`, or `--disk none` for a slot with no media yet (a
/// volume can be attached there while the guest runs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskConfig {
    /// The raw disk image; `None` for an empty hot-plug slot.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// The guest may not write to it.
    #[serde(default)]
    pub read_only: bool,
    /// What the guest reads as the disk's serial (e.g. an EBS volume id), at most 20 bytes.
    #[serde(default)]
    pub serial: Option<String>,
}

impl DiskConfig {
    /// A writable disk backed by `path`, with the serial the guest reads.
    pub fn file(path: PathBuf, serial: Option<String>) -> Self {
        DiskConfig {
            path: Some(path),
            read_only: false,
            serial,
        }
    }

    /// An empty slot that a disk can be put into while the guest runs.
    pub fn empty_slot() -> Self {
        DiskConfig {
            path: None,
            read_only: false,
            serial: None,
        }
    }
}

impl FromStr for DiskConfig {
    type Err = ConfigError;
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut parts = spec.split(',');
        let path = parts.next().filter(|p| !p.is_empty());
        let Some(path) = path else {
            return Err(ConfigError::DiskSpec(spec.to_string()));
        };
        let mut read_only = false;
        let mut serial = None;
        for option in parts {
            match option {
                "ro" => read_only = true,
                "rw" => read_only = false,
                _ if option.starts_with("serial=") && option.len() <= 7 + 20 => {
                    serial = Some(option[7..].to_string());
                }
                _ => {
                    return Err(ConfigError::DiskOption {
                        spec: spec.into(),
                        option: option.into(),
                    })
                }
            }
        }
        Ok(DiskConfig {
            path: (path != "none").then(|| path.into()),
            read_only,
            serial,
        })
    }
}

/// `--net tap=NAME[,mac=52:54:00:12:34:56]`: a virtio-net interface on a host tap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetConfig {
    /// The host tap (created if missing), at most 15 characters.
    pub tap: String,
    /// The guest's MAC address; in a launch file written `52:54:00:12:34:56`.
    #[serde(with = "mac_text")]
    pub mac: [u8; 6],
}

/// A stable, locally administered MAC derived from a name (same tap, same MAC).
pub fn mac_for(name: &str) -> [u8; 6] {
    let b = crate::hash::stable_hash(name.as_bytes()).to_be_bytes();
    [0x02, b[1], b[2], b[3], b[4], b[5]]
}

/// `52:54:00:12:34:56` as bytes; `None` unless it is six two-digit hex groups.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok().filter(|_| p.len() == 2))
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

/// A MAC as people write it: `52:54:00:12:34:56`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Serde for a MAC as text, so that a launch file reads like the `--net` flag.
mod mac_text {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(mac: &[u8; 6], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_mac(mac))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 6], D::Error> {
        let text = String::deserialize(d)?;
        super::parse_mac(&text).ok_or_else(|| {
            D::Error::custom(format!("{text:?} is not a MAC like 52:54:00:12:34:56"))
        })
    }
}

impl FromStr for NetConfig {
    type Err = ConfigError;
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut tap = None;
        let mut mac = None;
        for part in spec.split(',') {
            match part.split_once('=') {
                Some(("tap", t)) if !t.is_empty() && t.len() < 16 => tap = Some(t.to_string()),
                Some(("mac", m)) => {
                    mac = Some(parse_mac(m).ok_or_else(|| ConfigError::NetSpec(spec.into()))?)
                }
                _ => return Err(ConfigError::NetSpec(spec.into())),
            }
        }
        let tap = tap.ok_or_else(|| ConfigError::NetSpec(spec.into()))?;
        Ok(NetConfig {
            mac: mac.unwrap_or_else(|| mac_for(&tap)),
            tap,
        })
    }
}

/// Where the guest console goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SerialOut {
    /// This process's standard output (and terminal input, if stdin is a terminal).
    Stdout,
    /// Appended to a file.
    File(PathBuf),
    /// Nowhere.
    Discard,
}

impl FromStr for SerialOut {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "-" => SerialOut::Stdout,
            "none" => SerialOut::Discard,
            path => SerialOut::File(path.into()),
        })
    }
}

/// The launch description: everything the VMM needs to boot one guest and to report how
/// it ended. `ec2lab vmm`'s flags fill it in, or its JSON is read from a launch file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmConfig {
    /// The guest kernel: an ELF vmlinux (PVH when it has the note) or a bzImage.
    pub kernel: PathBuf,
    /// An initramfs for the kernel.
    #[serde(default)]
    pub initrd: Option<PathBuf>,
    /// Replaces the default switches (console, reboot, root device) when given.
    #[serde(default)]
    pub cmdline: Option<String>,
    /// Added after the default or given command line.
    #[serde(default)]
    pub append: Vec<String>,
    /// vCPUs: the guest gets them all, on every host.
    pub vcpus: u8,
    /// Guest memory in MiB.
    pub mem_mib: u64,
    /// virtio-blk devices in slot order; the first is the root file system.
    #[serde(default)]
    pub disks: Vec<DiskConfig>,
    /// virtio-net devices in order: the guest names them eth0, eth1, …
    #[serde(default)]
    pub nets: Vec<NetConfig>,
    /// Where the guest console goes.
    pub serial_out: SerialOut,
    /// The control socket (`vmm/api.rs`).
    #[serde(default)]
    pub api_sock: Option<PathBuf>,
    /// A socket through which one client at a time can use the serial console.
    #[serde(default)]
    pub console_sock: Option<PathBuf>,
    /// Where to leave the [`ExitRecord`](super::exit::ExitRecord) when the VMM ends, for
    /// a supervisor that is not its parent.
    #[serde(default)]
    pub exit_file: Option<PathBuf>,
    /// Start from this snapshot directory instead of booting the kernel: the guest side
    /// (memory, vCPUs, devices' state) comes from the snapshot; the launch gives the host
    /// side (disk images, taps, sockets, console), which must match its device set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<PathBuf>,
    /// Jail the VMM once set-up is done (see [`jail`](super::jail)); none: it runs as it
    /// was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jail: Option<super::jail::JailConfig>,
    /// The host's KVM. Not part of a launch file: the VMM detects its own host when it
    /// reads one.
    #[serde(skip, default = "host::detect")]
    pub flavor: KvmFlavor,
}

impl VmConfig {
    /// A guest of `kernel` with the defaults of `ec2lab vmm`: one vCPU, 256 MiB, the
    /// console on stdout, no devices, on this host's KVM.
    pub fn new(kernel: PathBuf) -> Self {
        VmConfig {
            kernel,
            initrd: None,
            cmdline: None,
            append: Vec::new(),
            vcpus: 1,
            mem_mib: DEFAULT_MEM_MIB,
            disks: Vec::new(),
            nets: Vec::new(),
            serial_out: SerialOut::Stdout,
            api_sock: None,
            console_sock: None,
            exit_file: None,
            restore: None,
            jail: None,
            flavor: host::detect(),
        }
    }

    /// Reads a launch file (`ec2lab vmm --launch`); the host's KVM is detected.
    pub fn load(path: &Path) -> Result<Self, LaunchFileError> {
        let body = std::fs::read(path).map_err(|source| LaunchFileError::Read {
            path: path.into(),
            source,
        })?;
        serde_json::from_slice(&body).map_err(|source| LaunchFileError::Parse {
            path: path.into(),
            source,
        })
    }

    /// Writes this description as a launch file, whole or not at all (a temporary file
    /// and a rename), for `ec2lab vmm --launch`.
    pub fn save(&self, path: &Path) -> Result<(), LaunchFileError> {
        let body = serde_json::to_vec_pretty(self).map_err(|e| LaunchFileError::Write {
            path: path.into(),
            source: std::io::Error::other(e),
        })?;
        crate::fsutil::write_atomic(path, &body).map_err(|source| LaunchFileError::Write {
            path: path.into(),
            source,
        })
    }

    /// Checks what can be checked before KVM is asked for anything.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.vcpus == 0 || self.vcpus > MAX_VCPUS {
            return Err(ConfigError::Vcpus(self.vcpus));
        }
        if self.mem_mib < MIN_MEM_MIB {
            return Err(ConfigError::MemoryTooSmall(self.mem_mib));
        }
        if let Some(available) = host_available_mib() {
            if self.mem_mib > available {
                return Err(ConfigError::MemoryTooLarge {
                    asked: self.mem_mib,
                    available,
                });
            }
        }
        let readable = |p: &PathBuf| std::fs::metadata(p).is_ok();
        // A restored guest's kernel is in its snapshot's memory.
        if self.restore.is_none() && !readable(&self.kernel) {
            return Err(ConfigError::Missing {
                what: "Kernel",
                path: self.kernel.clone(),
            });
        }
        if let Some(i) = self.initrd.as_ref().filter(|i| !readable(i)) {
            return Err(ConfigError::Missing {
                what: "Initrd",
                path: i.clone(),
            });
        }
        if let Some(p) = self
            .disks
            .iter()
            .filter_map(|d| d.path.as_ref())
            .find(|p| !readable(p))
        {
            return Err(ConfigError::Missing {
                what: "Disk image",
                path: p.clone(),
            });
        }
        Ok(())
    }

    /// The full kernel command line, without the device entries the VMM adds itself.
    pub fn kernel_cmdline(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        match &self.cmdline {
            Some(c) => parts.push(c.clone()),
            None => {
                parts.push(host::base_kernel_switches());
                // The first disk is the root file system unless an initrd brings its own.
                if self.initrd.is_none() && !self.disks.is_empty() {
                    let mode = if self.disks[0].read_only { "ro" } else { "rw" };
                    parts.push(format!("root=/dev/vda {mode}"));
                }
            }
        }
        parts.push(self.flavor.kernel_switches());
        parts.extend(self.append.iter().cloned());
        parts.retain(|p| !p.is_empty());
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(flavor: KvmFlavor) -> VmConfig {
        VmConfig {
            vcpus: 2,
            disks: vec!["/dev/null".parse().unwrap()],
            serial_out: SerialOut::Discard,
            flavor,
            ..VmConfig::new("/dev/null".into())
        }
    }

    #[test]
    fn a_launch_file_round_trips_and_reads_like_the_flags() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("launch.json");
        let mut c = config(host::detect());
        c.initrd = Some("/boot/initrd".into());
        c.append = vec!["ip=10.0.0.2::10.0.0.1:255.255.255.0:h:eth0:off".into()];
        c.disks.push(DiskConfig::empty_slot());
        c.disks.push(DiskConfig::file(
            "/v/vol.img".into(),
            Some("vol0123".into()),
        ));
        c.nets = vec!["tap=ec2t0,mac=52:54:00:aa:bb:cc".parse().unwrap()];
        c.serial_out = SerialOut::File("/run/console.log".into());
        c.api_sock = Some("/run/vmm.sock".into());
        c.exit_file = Some("/run/exit.json".into());
        c.save(&path).unwrap();
        assert_eq!(VmConfig::load(&path).unwrap(), c);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""mac": "52:54:00:aa:bb:cc""#), "{text}");
        assert!(!text.contains("flavor"), "the VMM detects its host: {text}");
        // Only what has no default must be given.
        let minimal = r#"{"kernel":"/k","vcpus":1,"mem_mib":64,"serial_out":"discard"}"#;
        std::fs::write(&path, minimal).unwrap();
        let m = VmConfig::load(&path).unwrap();
        assert_eq!((m.disks.len(), m.exit_file), (0, None));
        std::fs::write(&path, r#"{"kernel":"/k","vcpus":1,"mem_mib":64,"serial_out":"discard","nets":[{"tap":"t","mac":"zz"}]}"#).unwrap();
        assert!(matches!(
            VmConfig::load(&path),
            Err(LaunchFileError::Parse { .. })
        ));
        assert!(matches!(
            VmConfig::load(&d.path().join("none.json")),
            Err(LaunchFileError::Read { .. })
        ));
    }

    #[test]
    fn disk_specs_parse_and_reject() {
        assert_eq!(
            "a.img,ro".parse::<DiskConfig>().unwrap(),
            DiskConfig {
                path: Some("a.img".into()),
                read_only: true,
                serial: None,
            }
        );
        assert!(!"a.img".parse::<DiskConfig>().unwrap().read_only);
        let slot = "none,serial=vol0123456789abcdef0"
            .parse::<DiskConfig>()
            .unwrap();
        assert_eq!(slot.path, None);
        assert_eq!(slot.serial.as_deref(), Some("vol0123456789abcdef0"));
        assert!(matches!(
            "".parse::<DiskConfig>(),
            Err(ConfigError::DiskSpec(_))
        ));
        assert!(matches!(
            "a.img,fast".parse::<DiskConfig>(),
            Err(ConfigError::DiskOption { .. })
        ));
    }

    #[test]
    fn net_specs_parse_with_stable_macs() {
        let n: NetConfig = "tap=ec2t0".parse().unwrap();
        assert_eq!(n.mac, mac_for("ec2t0"));
        assert_eq!(n.mac[0], 0x02, "locally administered, unicast");
        let m: NetConfig = "tap=t1,mac=52:54:00:aa:bb:cc".parse().unwrap();
        assert_eq!(m.mac, [0x52, 0x54, 0, 0xaa, 0xbb, 0xcc]);
        assert!("mac=52:54:00:aa:bb:cc".parse::<NetConfig>().is_err());
        assert!("tap=t,mac=zz".parse::<NetConfig>().is_err());
        assert!("tap=averyveryverylongname".parse::<NetConfig>().is_err());
    }

    #[test]
    fn default_cmdline_has_console_root_and_host_switches() {
        let hw = config(KvmFlavor::Hardware);
        let c = hw.kernel_cmdline();
        assert!(c.contains("console=ttyS0") && c.contains("root=/dev/vda rw"));
        let pvm = config(KvmFlavor::Pvm);
        if cfg!(target_arch = "x86_64") {
            assert!(pvm.kernel_cmdline().contains("noxsave"));
        } else {
            // PVM switches are x86 ones; elsewhere the flavor adds nothing.
            assert_eq!(pvm.kernel_cmdline(), hw.kernel_cmdline());
            assert!(c.contains("earlycon=uart,mmio,0x09000000"));
        }
    }

    #[test]
    fn validation_names_the_problem() {
        let mut c = config(KvmFlavor::Hardware);
        c.vcpus = 0;
        assert_eq!(c.validate(), Err(ConfigError::Vcpus(0)));
        c.vcpus = 1;
        c.mem_mib = 8;
        assert_eq!(c.validate(), Err(ConfigError::MemoryTooSmall(8)));
        c.mem_mib = 64;
        c.kernel = "/nonexistent/vmlinux".into();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Missing { what: "Kernel", .. })
        ));
    }
}
