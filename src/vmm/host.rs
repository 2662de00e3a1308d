//! What kind of KVM this host has, and what a guest kernel needs to survive it.
//!
//! On hardware KVM (VMX/SVM) a guest runs natively. On a software-assisted nested KVM
//! (`kvm_pvm`) guest kernel code is emulated instruction by instruction, some
//! instructions cannot be emulated, and secondary vCPUs never come up; the guest kernel
//! must be told to avoid those instructions (see guest-images/kernel/*.txt).
//!
//! Every decision that depends on the kind of host is made here: the VMM and the EC2 side
//! (which records the vCPUs an instance really runs on) both ask this module.

use std::path::Path;

/// The kind of KVM this host has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvmFlavor {
    /// Hardware virtualization (kvm_intel / kvm_amd, or unknown: assume the normal case).
    Hardware,
    /// Software-assisted nested KVM (kvm_pvm).
    Pvm,
}

impl KvmFlavor {
    /// `hardware` or `pvm`, as status and warnings show it.
    pub fn name(self) -> &'static str {
        match self {
            KvmFlavor::Hardware => "hardware",
            KvmFlavor::Pvm => "pvm",
        }
    }

    /// Can this host bring up more than one vCPU in a Linux guest?
    pub fn supports_smp(self) -> bool {
        self == KvmFlavor::Hardware
    }

    /// The vCPUs a Linux guest that asks for `requested` really gets on this host: all
    /// of them, or one where secondary vCPUs never come up (kvm_pvm). The one place this
    /// is decided: the VMM boots that many, and instances record it.
    pub fn vcpus_for(self, requested: u8) -> u8 {
        if self.supports_smp() {
            requested
        } else {
            1
        }
    }

    /// Kernel switches this host needs in every guest. PVM is an x86 nested KVM: its
    /// switches are x86 ones and are never given to guests of other architectures.
    pub fn kernel_switches(self) -> String {
        match self {
            #[cfg(target_arch = "x86_64")]
            KvmFlavor::Pvm => switches(include_str!("../../guest-images/kernel/pvm-cmdline.txt")),
            _ => String::new(),
        }
    }
}

/// Switches every ec2lab guest gets (console, reset method, panic behaviour).
#[cfg(target_arch = "x86_64")]
pub fn base_kernel_switches() -> String {
    switches(include_str!("../../guest-images/kernel/base-cmdline.txt"))
}

/// Switches every ec2lab guest gets (console, early console, panic behaviour); aarch64
/// has no i8042, so none of the x86 reset switches.
#[cfg(not(target_arch = "x86_64"))]
pub fn base_kernel_switches() -> String {
    super::arch::aarch64::base_kernel_switches()
}

/// The switch files keep one reason per switch on `#` lines; only the rest is passed on.
#[cfg(target_arch = "x86_64")]
fn switches(file: &str) -> String {
    file.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Detects the flavor; `EC2LAB_KVM_FLAVOR=hardware|pvm` overrides (for tests and odd hosts).
pub fn detect() -> KvmFlavor {
    match std::env::var("EC2LAB_KVM_FLAVOR").as_deref() {
        Ok("pvm") => return KvmFlavor::Pvm,
        Ok("hardware") => return KvmFlavor::Hardware,
        _ => {}
    }
    detect_in(Path::new("/sys/module"))
}

fn detect_in(sys_module: &Path) -> KvmFlavor {
    if sys_module.join("kvm_pvm").exists() {
        KvmFlavor::Pvm
    } else {
        KvmFlavor::Hardware
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hardware_kvm_gives_more_than_one_vcpu() {
        assert_eq!(KvmFlavor::Hardware.vcpus_for(4), 4);
        assert_eq!(KvmFlavor::Pvm.vcpus_for(4), 1);
        assert_eq!(KvmFlavor::Pvm.vcpus_for(1), 1);
    }

    #[test]
    fn detects_pvm_from_its_module() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(detect_in(d.path()), KvmFlavor::Hardware);
        std::fs::create_dir(d.path().join("kvm_pvm")).unwrap();
        assert_eq!(detect_in(d.path()), KvmFlavor::Pvm);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn switch_files_drop_comments() {
        assert_eq!(switches("# why\na=1\n\n# more\nb c\n"), "a=1 b c");
        assert!(!KvmFlavor::Pvm.kernel_switches().contains('#'));
        assert!(base_kernel_switches().contains("console=ttyS0"));
    }

    #[cfg(not(target_arch = "x86_64"))]
    #[test]
    fn no_x86_switches_off_x86() {
        assert_eq!(KvmFlavor::Pvm.kernel_switches(), "");
        let base = base_kernel_switches();
        assert!(base.contains("console=ttyS0") && base.contains("earlycon=uart,mmio,0x09000000"));
        assert!(!base.contains("reboot=k") && !base.contains("i8042"));
    }
}
