//! What kind of KVM this host has, and what a guest kernel needs to survive it.
//!
//! On hardware KVM (VMX/SVM) a guest runs natively. On a software-assisted nested KVM
//! (`kvm_pvm`) guest kernel code is emulated instruction by instruction, some
//! instructions cannot be emulated, and a `VMCALL` from guest kernel mode never returns;
//! the guest kernel must be told to avoid those instructions (see
//! guest-images/kernel/*.txt) and must not be offered KVM's hypercall-based paravirt
//! features (see [`KvmFlavor::hypercalls`]).
//!
//! Every decision that depends on the kind of host is made here.

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

    /// Whether the guest's CPUID may offer KVM's hypercall-based paravirt features. On
    /// kvm_pvm a `VMCALL` from guest kernel mode never returns to the guest (see
    /// `vmcall_from_guest_kernel_mode_returns` in tests/vmm_smp.rs), and Linux sends its
    /// IPIs by hypercall when offered PV_SEND_IPI: its first cross-CPU wake-up hung the
    /// bring-up of every secondary vCPU. Hidden, Linux uses the local APIC and all the
    /// vCPUs come up.
    #[cfg(target_arch = "x86_64")]
    pub fn hypercalls(self) -> super::arch::x86_64::cpuid::Hypercalls {
        use super::arch::x86_64::cpuid::Hypercalls;
        match self {
            KvmFlavor::Hardware => Hypercalls::Offered,
            KvmFlavor::Pvm => Hypercalls::Hidden,
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

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn only_pvm_hides_the_hypercalls() {
        use crate::vmm::arch::x86_64::cpuid::Hypercalls;
        assert_eq!(KvmFlavor::Hardware.hypercalls(), Hypercalls::Offered);
        assert_eq!(KvmFlavor::Pvm.hypercalls(), Hypercalls::Hidden);
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
