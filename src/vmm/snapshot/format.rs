//! The snapshot directory on disk: the versioned manifest, the state file and its
//! checksum. Everything here is read and checked before any KVM object is made.
//!
//! ```text
//! DIR/state.json     {"manifest":{format, format_version, ec2lab_version, arch, kvm, cpu, ..},
//!                     "state":{..}}   the manifest is read alone first, so a snapshot of
//!                                     another version is refused by name, not by a parse error
//! DIR/state.sha256   hex SHA-256 of state.json: damage is found before anything is parsed
//! DIR/memory         guest RAM, region after region, sparse (zero pages are holes)
//! ```

use std::path::Path;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::error::SnapshotError;
use super::host::{sha256_hex, CpuModel, KvmKind};

/// The format's name, the first thing checked.
pub const FORMAT_NAME: &str = "ec2lab-vm-snapshot";
/// Bumped whenever the state's shape or meaning changes; other versions are refused.
/// 2: guests on kvm_pvm run every vCPU, with CPUID leaf 0x40000001 hiding the
/// hypercall features; a version-1 guest on that host ran one vCPU and was offered them
/// (its kernel would go on using hypercalls that never return), so it is refused by
/// name rather than by a CPUID mismatch that blames the CPU.
pub const FORMAT_VERSION: u32 = 2;
/// The state file in a snapshot directory.
pub const STATE_FILE: &str = "state.json";
/// The state file's checksum.
pub const CHECKSUM_FILE: &str = "state.sha256";
/// Guest memory.
pub const MEMORY_FILE: &str = "memory";

/// Who made a snapshot, where: what must match before it is restored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the build that wrote it.
    pub format_version: u32,
    /// The ec2lab version that wrote it (for people; the format version decides).
    pub ec2lab_version: String,
    /// `x86_64` or `aarch64`.
    pub arch: String,
    /// The host's KVM when it was made.
    pub kvm: KvmKind,
    /// The host's CPU and the guest's CPUID.
    pub cpu: CpuModel,
    /// When it was made, ms since the epoch.
    pub created_unix_ms: i64,
    /// Bytes of the memory file (the sum of the memory regions).
    pub memory_bytes: u64,
}

/// What this host and build would write into a manifest: what a snapshot is checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostIdentity {
    /// `std::env::consts::ARCH`.
    pub arch: String,
    /// This host's KVM.
    pub kvm: KvmKind,
    /// This host's CPU, hashed over the CPUID it would give the guest.
    pub cpu: CpuModel,
}

impl Manifest {
    /// A manifest for a snapshot made here now.
    pub fn new(host: &HostIdentity, memory_bytes: u64) -> Self {
        Manifest {
            format: FORMAT_NAME.into(),
            format_version: FORMAT_VERSION,
            ec2lab_version: env!("CARGO_PKG_VERSION").into(),
            arch: host.arch.clone(),
            kvm: host.kvm,
            cpu: host.cpu.clone(),
            created_unix_ms: crate::clock::now_ms(),
            memory_bytes,
        }
    }

    /// Refuses a snapshot this host cannot restore faithfully.
    pub fn check_host(&self, host: &HostIdentity) -> Result<(), SnapshotError> {
        if self.arch != host.arch {
            return Err(SnapshotError::OtherArch {
                saved: self.arch.clone(),
                here: host.arch.clone(),
            });
        }
        if self.kvm != host.kvm {
            return Err(SnapshotError::OtherKvm {
                saved: self.kvm.name(),
                here: host.kvm.name(),
            });
        }
        if self.cpu != host.cpu {
            return Err(SnapshotError::OtherCpu {
                saved: self.cpu.to_string(),
                here: host.cpu.to_string(),
            });
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct StateOut<'a, T> {
    manifest: &'a Manifest,
    state: &'a T,
}

#[derive(Deserialize)]
struct ManifestOnly {
    manifest: serde_json::Value,
}

#[derive(Deserialize)]
struct StateIn<T> {
    state: T,
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError {
    let path = path.display().to_string();
    move |source| SnapshotError::Io { what, path, source }
}

/// Writes the state file and its checksum into `dir` (a directory being built; the
/// caller renames it into place).
pub fn write_state<T: Serialize>(
    dir: &Path,
    manifest: &Manifest,
    state: &T,
) -> Result<(), SnapshotError> {
    let body = serde_json::to_vec(&StateOut { manifest, state }).map_err(SnapshotError::Encode)?;
    let path = dir.join(STATE_FILE);
    std::fs::write(&path, &body).map_err(io("write the state file", &path))?;
    let sum = dir.join(CHECKSUM_FILE);
    std::fs::write(&sum, format!("{}\n", sha256_hex(&body))).map_err(io("write the checksum", &sum))
}

/// Reads and checks a snapshot's state file: checksum, then format name and version;
/// returns the manifest and the raw state for [`parse_state`] once the host was checked.
pub fn read_state(dir: &Path) -> Result<(Manifest, Vec<u8>), SnapshotError> {
    let path = dir.join(STATE_FILE);
    if !dir.is_dir() {
        return Err(SnapshotError::NotASnapshot(dir.display().to_string()));
    }
    let body = std::fs::read(&path).map_err(io("read the state file", &path))?;
    let sum_path = dir.join(CHECKSUM_FILE);
    let sum = std::fs::read_to_string(&sum_path).map_err(io("read the checksum", &sum_path))?;
    if sum.trim() != sha256_hex(&body) {
        return Err(SnapshotError::Damaged(format!(
            "{} does not match its checksum in {}",
            path.display(),
            sum_path.display()
        )));
    }
    let only: ManifestOnly = serde_json::from_slice(&body)
        .map_err(|e| SnapshotError::Damaged(format!("{} has no manifest: {e}", path.display())))?;
    let format = only.manifest.get("format").and_then(|v| v.as_str());
    if format != Some(FORMAT_NAME) {
        return Err(SnapshotError::NotASnapshot(dir.display().to_string()));
    }
    let version = only.manifest.get("format_version").and_then(|v| v.as_u64());
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Err(SnapshotError::OtherVersion {
            saved: version.map_or("none".into(), |v| v.to_string()),
            here: FORMAT_VERSION,
            by: only
                .manifest
                .get("ec2lab_version")
                .and_then(|v| v.as_str())
                .unwrap_or("an unknown ec2lab")
                .to_string(),
        });
    }
    let manifest: Manifest = serde_json::from_value(only.manifest)
        .map_err(|e| SnapshotError::Damaged(format!("its manifest does not parse: {e}")))?;
    Ok((manifest, body))
}

/// The state part of a state file that [`read_state`] accepted.
pub fn parse_state<T: DeserializeOwned>(body: &[u8]) -> Result<T, SnapshotError> {
    let s: StateIn<T> = serde_json::from_slice(body)
        .map_err(|e| SnapshotError::Damaged(format!("its state does not parse: {e}")))?;
    Ok(s.state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostIdentity {
        HostIdentity {
            arch: "x86_64".into(),
            kvm: KvmKind::KvmPvm,
            cpu: CpuModel {
                vendor: "GenuineIntel".into(),
                family: 6,
                model: 0x55,
                stepping: 4,
                cpuid_sha256: "ab".repeat(32),
            },
        }
    }

    #[test]
    fn a_state_file_reads_back_and_damage_is_found() {
        let d = tempfile::tempdir().unwrap();
        let m = Manifest::new(&host(), 4096);
        write_state(d.path(), &m, &vec![1u32, 2, 3]).unwrap();
        let (back, body) = read_state(d.path()).unwrap();
        assert_eq!(back, m);
        assert_eq!(parse_state::<Vec<u32>>(&body).unwrap(), vec![1, 2, 3]);
        back.check_host(&host()).unwrap();

        let path = d.path().join(STATE_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let e = read_state(d.path()).unwrap_err();
        assert!(matches!(e, SnapshotError::Damaged(_)), "{e}");
    }

    #[test]
    fn other_versions_hosts_and_cpus_are_refused_by_name() {
        let d = tempfile::tempdir().unwrap();
        let mut m = Manifest::new(&host(), 0);
        m.format_version = FORMAT_VERSION + 1;
        write_state(d.path(), &m, &0u8).unwrap();
        let e = read_state(d.path()).unwrap_err();
        assert!(matches!(e, SnapshotError::OtherVersion { .. }), "{e}");
        assert!(e.to_string().contains("format version"), "{e}");

        let m = Manifest::new(&host(), 0);
        let mut other = host();
        other.kvm = KvmKind::KvmIntel;
        assert!(matches!(
            m.check_host(&other),
            Err(SnapshotError::OtherKvm { .. })
        ));
        let mut other = host();
        other.cpu.model = 0x56;
        assert!(matches!(
            m.check_host(&other),
            Err(SnapshotError::OtherCpu { .. })
        ));
        let mut other = host();
        other.arch = "aarch64".into();
        assert!(matches!(
            m.check_host(&other),
            Err(SnapshotError::OtherArch { .. })
        ));
    }
}
