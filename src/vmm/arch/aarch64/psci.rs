//! PSCI (Arm Power State Coordination Interface, DEN0022) as seen by the VMM.
//!
//! KVM implements PSCI 0.2+ in the kernel once a vCPU is initialised with
//! `KVM_ARM_VCPU_PSCI_0_2` (see `vcpu::init_vcpu`): the guest's `hvc` calls for
//! CPU_ON/CPU_OFF/AFFINITY_INFO never reach userspace. Only SYSTEM_OFF,
//! SYSTEM_RESET (and a crash report) do, as `VcpuExit::SystemEvent(type, data)`;
//! [`system_event_action`] tells the run loop what to do with one.

/// PSCI_VERSION.
pub const PSCI_VERSION: u32 = 0x8400_0000;
/// CPU_SUSPEND (SMC64).
pub const PSCI_CPU_SUSPEND_64: u32 = 0xc400_0001;
/// CPU_OFF.
pub const PSCI_CPU_OFF: u32 = 0x8400_0002;
/// CPU_ON (SMC64): how the guest starts secondary vCPUs, which begin powered off.
pub const PSCI_CPU_ON_64: u32 = 0xc400_0003;
/// AFFINITY_INFO (SMC64).
pub const PSCI_AFFINITY_INFO_64: u32 = 0xc400_0004;
/// SYSTEM_OFF: exits to the VMM as a shutdown system event.
pub const PSCI_SYSTEM_OFF: u32 = 0x8400_0008;
/// SYSTEM_RESET: exits to the VMM as a reset system event.
pub const PSCI_SYSTEM_RESET: u32 = 0x8400_0009;
/// PSCI_FEATURES.
pub const PSCI_FEATURES: u32 = 0x8400_000a;

/// `KVM_SYSTEM_EVENT_SHUTDOWN` (include/uapi/linux/kvm.h).
pub const KVM_SYSTEM_EVENT_SHUTDOWN: u32 = 1;
/// `KVM_SYSTEM_EVENT_RESET`.
pub const KVM_SYSTEM_EVENT_RESET: u32 = 2;
/// `KVM_SYSTEM_EVENT_CRASH`.
pub const KVM_SYSTEM_EVENT_CRASH: u32 = 3;

/// What a `VcpuExit::SystemEvent` asks the VMM to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemEventAction {
    /// Guest powered off (PSCI SYSTEM_OFF): stop the VM, exit status success.
    Shutdown,
    /// Guest rebooted (PSCI SYSTEM_RESET): a micro-VM VMM usually stops too
    /// and lets its supervisor decide whether to start it again.
    Reset,
    /// Guest reported a crash.
    Crash,
    /// An event type newer than this code.
    Unknown(u32),
}

/// Maps a `KVM_SYSTEM_EVENT_*` type to the action.
pub fn system_event_action(event_type: u32) -> SystemEventAction {
    match event_type {
        KVM_SYSTEM_EVENT_SHUTDOWN => SystemEventAction::Shutdown,
        KVM_SYSTEM_EVENT_RESET => SystemEventAction::Reset,
        KVM_SYSTEM_EVENT_CRASH => SystemEventAction::Crash,
        other => SystemEventAction::Unknown(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_mapping() {
        assert_eq!(system_event_action(1), SystemEventAction::Shutdown);
        assert_eq!(system_event_action(2), SystemEventAction::Reset);
        assert_eq!(system_event_action(3), SystemEventAction::Crash);
        assert_eq!(system_event_action(9), SystemEventAction::Unknown(9));
    }

    #[test]
    fn constants_match_kvm_bindings() {
        assert_eq!(
            KVM_SYSTEM_EVENT_SHUTDOWN,
            kvm_bindings::KVM_SYSTEM_EVENT_SHUTDOWN
        );
        assert_eq!(KVM_SYSTEM_EVENT_RESET, kvm_bindings::KVM_SYSTEM_EVENT_RESET);
        assert_eq!(KVM_SYSTEM_EVENT_CRASH, kvm_bindings::KVM_SYSTEM_EVENT_CRASH);
    }

    #[test]
    fn smc64_ids_have_bit_30() {
        // SMC64 calls set bit 30; the fast-call bit 31 is set on all.
        for id in [PSCI_CPU_SUSPEND_64, PSCI_CPU_ON_64, PSCI_AFFINITY_INFO_64] {
            assert_eq!(id & 0xc000_0000, 0xc000_0000);
        }
        for id in [
            PSCI_VERSION,
            PSCI_CPU_OFF,
            PSCI_SYSTEM_OFF,
            PSCI_SYSTEM_RESET,
        ] {
            assert_eq!(id & 0xc000_0000, 0x8000_0000);
        }
    }
}
