//! What a snapshot must be restored on: the kind of KVM and the CPU, read from the host.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The KVM module the host runs guests with. Guest state saved under one is not
/// guaranteed to mean the same under another (VMX, SVM and PVM keep different hidden
/// state), so a snapshot is only restored on the kind it was made on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvmKind {
    /// Intel VMX (`kvm_intel`).
    KvmIntel,
    /// AMD SVM (`kvm_amd`).
    KvmAmd,
    /// The software-assisted nested KVM (`kvm_pvm`).
    KvmPvm,
    /// Arm's KVM (built into `kvm`, no vendor module).
    KvmArm,
    /// None of the above could be told from /sys/module.
    Unknown,
}

impl KvmKind {
    /// The module's name, as /sys/module shows it.
    pub fn name(self) -> &'static str {
        match self {
            KvmKind::KvmIntel => "kvm_intel",
            KvmKind::KvmAmd => "kvm_amd",
            KvmKind::KvmPvm => "kvm_pvm",
            KvmKind::KvmArm => "kvm (arm64)",
            KvmKind::Unknown => "unknown",
        }
    }
}

/// This host's KVM kind.
pub fn kvm_kind() -> KvmKind {
    // Read once: a jailed VMM has no /sys when it later saves a snapshot.
    static KIND: std::sync::OnceLock<KvmKind> = std::sync::OnceLock::new();
    *KIND.get_or_init(|| kvm_kind_in(Path::new("/sys/module"), cfg!(target_arch = "aarch64")))
}

/// The KVM kind whose module is loaded under `sys_module`. PVM is checked first: a PVM
/// host may also have a vendor module loaded for its own guests' sake.
pub fn kvm_kind_in(sys_module: &Path, arm: bool) -> KvmKind {
    let loaded = |m: &str| sys_module.join(m).exists();
    if loaded("kvm_pvm") {
        KvmKind::KvmPvm
    } else if loaded("kvm_intel") {
        KvmKind::KvmIntel
    } else if loaded("kvm_amd") {
        KvmKind::KvmAmd
    } else if arm && loaded("kvm") {
        KvmKind::KvmArm
    } else {
        KvmKind::Unknown
    }
}

/// The CPU a snapshot was made on: the host's identity, and a hash of the CPUID (x86)
/// the guest was given, which says which features its kernel may have started using.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuModel {
    /// `GenuineIntel`, `AuthenticAMD`, or the Arm implementer code.
    pub vendor: String,
    /// Family (x86, with the extended family added); 0 on Arm.
    pub family: u32,
    /// Model (x86, with the extended model); the part number on Arm.
    pub model: u32,
    /// Stepping (x86); the revision on Arm.
    pub stepping: u32,
    /// SHA-256 (hex) of the guest-visible CPUID of vCPU 0 (x86); of MIDR_EL1 on Arm.
    pub cpuid_sha256: String,
}

impl std::fmt::Display for CpuModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} family {:#x} model {:#x} stepping {} (guest CPUID {})",
            self.vendor,
            self.family,
            self.model,
            self.stepping,
            &self.cpuid_sha256[..self.cpuid_sha256.len().min(12)]
        )
    }
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// This host's CPU, with `guest_cpuid` the bytes the guest's CPUID hashes from.
#[cfg(target_arch = "x86_64")]
pub fn cpu_model(guest_cpuid: &[u8]) -> CpuModel {
    let (leaf0, leaf1) = (
        core::arch::x86_64::__cpuid(0),
        core::arch::x86_64::__cpuid(1),
    );
    let vendor: Vec<u8> = [leaf0.ebx, leaf0.edx, leaf0.ecx]
        .iter()
        .flat_map(|r| r.to_le_bytes())
        .collect();
    let (family, model, stepping) = decode_signature(leaf1.eax);
    CpuModel {
        vendor: String::from_utf8_lossy(&vendor).into_owned(),
        family,
        model,
        stepping,
        cpuid_sha256: sha256_hex(guest_cpuid),
    }
}

/// This host's CPU, from MIDR_EL1 as Linux shows it.
#[cfg(not(target_arch = "x86_64"))]
pub fn cpu_model(guest_cpuid: &[u8]) -> CpuModel {
    let midr = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/regs/identification/midr_el1")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok())
        .unwrap_or(0);
    let mut hashed = midr.to_le_bytes().to_vec();
    hashed.extend_from_slice(guest_cpuid);
    CpuModel {
        vendor: format!("arm implementer {:#x}", (midr >> 24) & 0xff),
        family: 0,
        model: ((midr >> 4) & 0xfff) as u32,
        stepping: (midr & 0xf) as u32,
        cpuid_sha256: sha256_hex(&hashed),
    }
}

/// (family, model, stepping) from CPUID leaf 1's EAX, extended fields included as the
/// SDM says.
pub fn decode_signature(eax: u32) -> (u32, u32, u32) {
    let stepping = eax & 0xf;
    let base_model = (eax >> 4) & 0xf;
    let base_family = (eax >> 8) & 0xf;
    let ext_model = (eax >> 16) & 0xf;
    let ext_family = (eax >> 20) & 0xff;
    let family = if base_family == 0xf {
        base_family + ext_family
    } else {
        base_family
    };
    let model = if base_family == 0x6 || base_family == 0xf {
        (ext_model << 4) | base_model
    } else {
        base_model
    };
    (family, model, stepping)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pvm_is_told_before_a_vendor_module() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(kvm_kind_in(d.path(), false), KvmKind::Unknown);
        std::fs::create_dir(d.path().join("kvm")).unwrap();
        assert_eq!(kvm_kind_in(d.path(), true), KvmKind::KvmArm);
        std::fs::create_dir(d.path().join("kvm_intel")).unwrap();
        assert_eq!(kvm_kind_in(d.path(), false), KvmKind::KvmIntel);
        std::fs::create_dir(d.path().join("kvm_pvm")).unwrap();
        assert_eq!(kvm_kind_in(d.path(), false), KvmKind::KvmPvm);
    }

    #[test]
    fn signatures_decode_like_the_sdm() {
        // Skylake-SP 0x50654: family 6, model 0x55, stepping 4.
        assert_eq!(decode_signature(0x0005_0654), (6, 0x55, 4));
        // Zen 2 0x830f10: family 0x17, model 0x31, stepping 0.
        assert_eq!(decode_signature(0x0083_0f10), (0x17, 0x31, 0));
    }

    #[test]
    fn kinds_keep_their_names_on_disk() {
        assert_eq!(
            serde_json::to_string(&KvmKind::KvmPvm).unwrap(),
            "\"kvm_pvm\""
        );
        assert_eq!(
            serde_json::to_string(&KvmKind::KvmAmd).unwrap(),
            "\"kvm_amd\""
        );
    }
}
