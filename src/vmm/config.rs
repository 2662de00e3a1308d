//! What one guest is made of. Built by the CLI (or the instance supervisor) and
//! validated here, before anything touches KVM.

use std::path::PathBuf;
use std::str::FromStr;

use thiserror::Error;

use super::host::{self, KvmFlavor};

pub const DEFAULT_MEM_MIB: u64 = 256;
pub const MIN_MEM_MIB: u64 = 16;
pub const MAX_VCPUS: u8 = 32;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("--disk needs a path (or 'none' for an empty hot-plug slot), optionally followed by ',ro' and ',serial=ID' (got {0:?})")]
    DiskSpec(String),
    #[error("Unknown disk option {option:?} in {spec:?}; the options are 'ro', 'rw' and 'serial=ID' (at most 20 bytes)")]
    DiskOption { spec: String, option: String },
    #[error("--vcpus must be between 1 and {MAX_VCPUS} (got {0})")]
    Vcpus(u8),
    #[error("--mem-mib must be at least {MIN_MEM_MIB} (got {0})")]
    MemoryTooSmall(u64),
    #[error("--mem-mib {asked} is more than this host can give: it has {available} MiB of memory available. Give the guest less memory")]
    MemoryTooLarge { asked: u64, available: u64 },
    #[error("{what} {path:?} does not exist or cannot be read; check the path")]
    Missing { what: &'static str, path: PathBuf },
    #[error("--net needs tap=NAME (at most 15 characters) and optionally mac=xx:xx:xx:xx:xx:xx (got {0:?})")]
    NetSpec(String),
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

/// `--disk PATH[,ro][,serial=ID]`, or `--disk none` for a slot with no media yet (a
/// volume can be attached there while the guest runs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskConfig {
    pub path: Option<PathBuf>,
    pub read_only: bool,
    /// What the guest reads as the disk's serial (e.g. an EBS volume id).
    pub serial: Option<String>,
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetConfig {
    pub tap: String,
    pub mac: [u8; 6],
}

/// A stable, locally administered MAC derived from a name (same tap, same MAC).
pub fn mac_for(name: &str) -> [u8; 6] {
    let b = crate::ids::stable_hash(name.as_bytes()).to_be_bytes();
    [0x02, b[1], b[2], b[3], b[4], b[5]]
}

pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok().filter(|_| p.len() == 2))
        .collect::<Option<_>>()?;
    parts.try_into().ok()
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SerialOut {
    Stdout,
    File(PathBuf),
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

#[derive(Clone, Debug)]
pub struct VmConfig {
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    /// Replaces the default switches (console, reboot, root device) when given.
    pub cmdline: Option<String>,
    /// Added after the default or given command line.
    pub append: Vec<String>,
    pub vcpus: u8,
    pub mem_mib: u64,
    pub disks: Vec<DiskConfig>,
    pub nets: Vec<NetConfig>,
    pub serial_out: SerialOut,
    pub api_sock: Option<PathBuf>,
    /// A socket through which one client at a time can use the serial console.
    pub console_sock: Option<PathBuf>,
    pub flavor: KvmFlavor,
}

impl VmConfig {
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
        if !readable(&self.kernel) {
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

    /// vCPUs the guest will really get (decided by [`KvmFlavor::vcpus_for`]).
    pub fn effective_vcpus(&self) -> u8 {
        self.flavor.vcpus_for(self.vcpus)
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
            kernel: "/dev/null".into(),
            initrd: None,
            cmdline: None,
            append: vec![],
            vcpus: 2,
            mem_mib: 256,
            disks: vec!["/dev/null".parse().unwrap()],
            nets: vec![],
            serial_out: SerialOut::Discard,
            api_sock: None,
            console_sock: None,
            flavor,
        }
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
        assert_eq!(hw.effective_vcpus(), 2);
        let pvm = config(KvmFlavor::Pvm);
        assert_eq!(pvm.effective_vcpus(), 1);
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
