//! Per-vCPU CPUID: what KVM supports, with the topology and identity fields a guest
//! kernel reads to number its CPUs, less the KVM paravirt features a host cannot serve.

use kvm_bindings::{kvm_cpuid_entry2, CpuId, KVM_CPUID_FLAG_SIGNIFCANT_INDEX};

const LEAF_FEATURES: u32 = 0x1;
const LEAF_CACHE_TOPOLOGY: u32 = 0x4;
const LEAF_PERF_MONITORING: u32 = 0xa;
const LEAF_EXT_TOPOLOGY: u32 = 0xb;
// Leaf 0x1f has 0xb's layout; KVM fills its x2APIC id from whichever host CPU answered.
const LEAF_V2_EXT_TOPOLOGY: u32 = 0x1f;

/// KVM's paravirt feature leaf (linux arch/x86/include/uapi/asm/kvm_para.h).
const LEAF_KVM_FEATURES: u32 = 0x4000_0001;

const ECX_HYPERVISOR: u32 = 1 << 31;
const EDX_HTT: u32 = 1 << 28;

/// The KVM paravirt features whose use is a `VMCALL` from guest kernel mode, by
/// their bit in leaf 0x40000001 EAX (kvm_para.h): PV_UNHALT (7: the spinlock kick,
/// KVM_HC_KICK_CPU), PV_SEND_IPI (11: KVM_HC_SEND_IPI), PV_SCHED_YIELD (13:
/// KVM_HC_SCHED_YIELD) and HC_MAP_GPA_RANGE (16). The other features work through
/// MSRs and shared memory and stay.
pub const HYPERCALL_FEATURES: u32 = (1 << 7) | (1 << 11) | (1 << 13) | (1 << 16);

/// Which paravirt interfaces the guest may be offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hypercalls {
    /// KVM's hypercalls work: offer every feature KVM supports.
    Offered,
    /// A `VMCALL` from guest kernel mode never returns on this host (kvm_pvm): hide
    /// [`HYPERCALL_FEATURES`], so Linux sends IPIs through the local APIC and spins
    /// in its own locks. Without this a Linux guest hangs bringing up its second vCPU
    /// (its first cross-CPU wake-up is a PV_SEND_IPI hypercall).
    Hidden,
}

/// Bits needed to number `n` items (0 for one item).
fn bits_for(n: u32) -> u32 {
    if n <= 1 {
        0
    } else {
        32 - (n - 1).leading_zeros()
    }
}

/// Adjusts one entry for vCPU `id` of `count`. Kept pure for unit tests.
pub fn adjust_entry(e: &mut kvm_cpuid_entry2, id: u8, count: u8, hypercalls: Hypercalls) {
    let (id, count) = (u32::from(id), u32::from(count));
    match e.function {
        LEAF_KVM_FEATURES if hypercalls == Hypercalls::Hidden => {
            e.eax &= !HYPERCALL_FEATURES;
        }
        LEAF_FEATURES => {
            // EBX[31:24] initial APIC id, EBX[23:16] logical processors per package.
            e.ebx = (e.ebx & 0x0000_ffff) | (id << 24) | (count << 16);
            e.ecx |= ECX_HYPERVISOR;
            if count > 1 {
                e.edx |= EDX_HTT;
            } else {
                e.edx &= !EDX_HTT;
            }
        }
        LEAF_CACHE_TOPOLOGY => {
            // One core per vCPU, one package: EAX[31:26] cores - 1; caches above L2 shared.
            let level = (e.eax >> 5) & 0x7;
            let sharing = if level >= 3 { count - 1 } else { 0 };
            e.eax = (e.eax & 0x3ff) | ((count - 1) << 26) | (sharing << 14);
        }
        LEAF_PERF_MONITORING => {
            // No virtual PMU: the guest must not program performance counters.
            e.eax = 0;
            e.ebx = 0;
            e.ecx = 0;
            e.edx = 0;
        }
        LEAF_EXT_TOPOLOGY | LEAF_V2_EXT_TOPOLOGY => {
            e.edx = id; // x2APIC id
            match e.index {
                0 => {
                    // SMT level: one thread per core.
                    e.eax = 0;
                    e.ebx = 1;
                    e.ecx = (1 << 8) | e.index;
                }
                1 => {
                    // Core level: all vCPUs in one package.
                    e.eax = bits_for(count);
                    e.ebx = count;
                    e.ecx = (2 << 8) | e.index;
                }
                _ => {
                    e.eax = 0;
                    e.ebx = 0;
                    e.ecx = e.index;
                }
            }
        }
        _ => {}
    }
}

/// The CPUID for vCPU `id` of `count`: KVM's supported leaves with this vCPU's APIC id
/// and the topology of one package, with the paravirt features `hypercalls` allows.
pub fn for_vcpu(base: &CpuId, id: u8, count: u8, hypercalls: Hypercalls) -> CpuId {
    let mut entries = with_topology_subleaves(base.as_slice());
    for e in &mut entries {
        adjust_entry(e, id, count, hypercalls);
    }
    // At most the entries KVM gave plus four sub-leaves, under KVM_MAX_CPUID_ENTRIES
    // for any CPU KVM reports on (it reports far fewer than its maximum).
    CpuId::from_entries(&entries).unwrap_or_else(|_| base.clone())
}

/// KVM's entries with exactly sub-leaves 0 (SMT), 1 (core) and 2 (the terminator) of
/// leaves 0xb and 0x1f, where the CPU has them: KVM copies whichever sub-leaves the
/// host CPU has, and Linux walks them until the terminator to size its topology.
fn with_topology_subleaves(base: &[kvm_cpuid_entry2]) -> Vec<kvm_cpuid_entry2> {
    let max_basic = base
        .iter()
        .find(|e| e.function == 0 && e.index == 0)
        .map_or(0, |e| e.eax);
    let mut entries: Vec<kvm_cpuid_entry2> = base
        .iter()
        .filter(|e| !matches!(e.function, LEAF_EXT_TOPOLOGY | LEAF_V2_EXT_TOPOLOGY))
        .copied()
        .collect();
    for leaf in [LEAF_EXT_TOPOLOGY, LEAF_V2_EXT_TOPOLOGY] {
        let offered = base.iter().any(|e| e.function == leaf);
        if !offered || max_basic < leaf {
            continue;
        }
        for index in 0..3 {
            entries.push(kvm_cpuid_entry2 {
                function: leaf,
                index,
                flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                ..Default::default()
            });
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(function: u32, index: u32) -> kvm_cpuid_entry2 {
        kvm_cpuid_entry2 {
            function,
            index,
            ebx: 0xdead_0800,
            edx: EDX_HTT,
            ..Default::default()
        }
    }

    #[test]
    fn leaf1_carries_apic_id_and_count() {
        let mut e = entry(1, 0);
        adjust_entry(&mut e, 3, 4, Hypercalls::Offered);
        assert_eq!(e.ebx >> 24, 3);
        assert_eq!((e.ebx >> 16) & 0xff, 4);
        assert_eq!(e.ebx & 0xffff, 0x0800);
        assert_ne!(e.ecx & ECX_HYPERVISOR, 0);
        let mut one = entry(1, 0);
        adjust_entry(&mut one, 0, 1, Hypercalls::Offered);
        assert_eq!(one.edx & EDX_HTT, 0);
    }

    #[test]
    fn ext_topology_numbers_cores() {
        let mut e = entry(0xb, 1);
        adjust_entry(&mut e, 2, 3, Hypercalls::Offered);
        assert_eq!((e.eax, e.ebx, e.ecx >> 8, e.edx), (2, 3, 2, 2));
        assert_eq!(bits_for(1), 0);
        assert_eq!(bits_for(2), 1);
        assert_eq!(bits_for(8), 3);
        assert_eq!(bits_for(9), 4);
    }

    #[test]
    fn hidden_hypercalls_clear_exactly_the_four_features() {
        let mut e = kvm_cpuid_entry2 {
            function: LEAF_KVM_FEATURES,
            eax: 0x0101_ffff,
            ..Default::default()
        };
        let mut kept = e;
        adjust_entry(&mut e, 0, 2, Hypercalls::Hidden);
        assert_eq!(e.eax, 0x0101_ffff & !0x0001_2880);
        adjust_entry(&mut kept, 0, 2, Hypercalls::Offered);
        assert_eq!(kept.eax, 0x0101_ffff);
    }

    #[test]
    fn topology_leaves_get_three_subleaves_per_vcpu() {
        let leaf = |function, index, eax| kvm_cpuid_entry2 {
            function,
            index,
            eax,
            flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
            ..Default::default()
        };
        // A host CPU with SMT, core and die levels in 0x1f; leaf 0 says 0x1f exists.
        let base = CpuId::from_entries(&[
            leaf(0, 0, 0x1f),
            leaf(0xb, 0, 1),
            leaf(0xb, 1, 4),
            leaf(0x1f, 0, 1),
            leaf(0x1f, 1, 4),
            leaf(0x1f, 2, 6),
            leaf(0x1f, 3, 0),
        ])
        .unwrap();
        for count in [2u8, 4] {
            for id in 0..count {
                let c = for_vcpu(&base, id, count, Hypercalls::Hidden);
                for function in [0xb, 0x1f] {
                    let subs: Vec<_> = c
                        .as_slice()
                        .iter()
                        .filter(|e| e.function == function)
                        .map(|e| (e.index, e.eax, e.ebx, e.ecx, e.edx))
                        .collect();
                    let id = u32::from(id);
                    let n = u32::from(count);
                    assert_eq!(
                        subs,
                        [
                            (0, 0, 1, 0x100, id),
                            (1, bits_for(n), n, 0x201, id),
                            (2, 0, 0, 2, id)
                        ]
                    );
                }
            }
        }
        // No 0x1f where leaf 0 stops below it.
        let old = CpuId::from_entries(&[leaf(0, 0, 0xd), leaf(0xb, 0, 1)]).unwrap();
        let c = for_vcpu(&old, 1, 2, Hypercalls::Offered);
        assert!(c.as_slice().iter().all(|e| e.function != 0x1f));
        assert_eq!(c.as_slice().iter().filter(|e| e.function == 0xb).count(), 3);
    }
}
