//! Secondary vCPUs on real KVM: a tiny boot CPU wakes CPU 1 with INIT and SIPI through
//! its local APIC, the way a Linux kernel does, and CPU 1 reports from real mode.

mod common;
use common::*;

const AP_TRAMPOLINE: u32 = 0x10000;

/// mov dword [addr], value (32-bit mode)
fn store(a: Asm, addr: u32, value: u32) -> Asm {
    a.bytes(&[0xc7, 0x05])
        .bytes(&addr.to_le_bytes())
        .bytes(&value.to_le_bytes())
}

/// Boot CPU (32-bit PVH entry): copy the AP's real-mode code to 0x10000, enable the local
/// APIC, send INIT then STARTUP(vector 0x10) to APIC id 1, and halt. CPU 1 prints `AP`
/// and resets the machine.
fn smp_guest() -> Asm {
    // 16-bit real mode: mov dx,0x3f8; mov al,'A'; out; mov al,'P'; out; mov al,'\n'; out;
    // mov al,0xfe; out 0x64,al; cli; hlt
    let ap: Vec<u8> = vec![
        0xba, 0xf8, 0x03, 0xb0, b'A', 0xee, 0xb0, b'P', 0xee, 0xb0, b'\n', 0xee, 0xb0, 0xfe, 0xe6,
        0x64, 0xfa, 0xf4,
    ];
    let mut a = Asm::new().print("BSP\n");
    // mov esi, <ap code address>; mov edi, 0x10000; mov ecx, len; rep movsb; jmp over
    let head_len = 5 + 5 + 5 + 2 + 2;
    let src = LOAD_ADDR as u32 + a.len() as u32 + head_len;
    a = a
        .bytes(&[0xbe])
        .bytes(&src.to_le_bytes())
        .bytes(&[0xbf])
        .bytes(&AP_TRAMPOLINE.to_le_bytes())
        .bytes(&[0xb9])
        .bytes(&(ap.len() as u32).to_le_bytes())
        .bytes(&[0xf3, 0xa4])
        .bytes(&[0xeb, ap.len() as u8])
        .bytes(&ap);
    a = store(a, 0xfee0_00f0, 0x1ff); // spurious vector register: APIC on
    a = store(a, 0xfee0_0310, 1 << 24); // destination: APIC id 1
    a = store(a, 0xfee0_0300, 0x4500); // INIT, assert
    a = store(a, 0xfee0_0310, 1 << 24);
    a = store(a, 0xfee0_0300, 0x4600 | (AP_TRAMPOLINE >> 12)); // STARTUP
    a.halt_forever()
}

#[test]
fn second_vcpu_starts_through_init_and_sipi() {
    let g = Guest::new(&smp_guest(), true);
    let mut cmd = g.vmm(&["--vcpus", "2"]);
    // Tiny guests need no Linux SMP bring-up, so ask for both vCPUs on every host.
    cmd.env("EC2LAB_KVM_FLAVOR", "hardware");
    let out = run_with_timeout(cmd, 60);
    assert_eq!(out.status.code(), Some(5), "stderr: {}", stderr(&out));
    assert_eq!(g.console(), "BSP\nAP\n");
}

/// Scratch words below the boot stack and page tables the VMM writes, addressable from
/// real mode (DS = 0): the "AP done" flag and the BSP's saved CPUID registers.
const FLAG: u32 = 0xe000;
const SAVED: u32 = 0xe010;

/// 32-bit: prints EAX as 8 hex digits on the serial port (DX = 0x3f8); clobbers EBX, ECX.
fn hex32(a: Asm) -> Asm {
    a.mov_dx(0x3f8).bytes(&[
        0xb9, 8, 0, 0, 0, // mov ecx, 8
        0xc1, 0xc0, 0x04, // rol eax, 4
        0x89, 0xc3, // mov ebx, eax
        0x83, 0xe3, 0x0f, // and ebx, 0xf
        0x83, 0xc3, 0x30, // add ebx, '0'
        0x83, 0xfb, 0x39, // cmp ebx, '9'
        0x76, 0x03, // jbe +3
        0x83, 0xc3, 0x07, // add ebx, 'A' - '9' - 1
        0x93, // xchg eax, ebx
        0xee, // out dx, al
        0x93, // xchg eax, ebx
        0xe2, 0xe8, // loop back 24 bytes (to rol)
    ])
}

/// 16-bit real mode: the same as [`hex32`] (operand-size prefixes for the 32-bit registers).
fn hex16(a: Asm) -> Asm {
    a.bytes(&[
        0xba, 0xf8, 0x03, // mov dx, 0x3f8
        0xb9, 8, 0, // mov cx, 8
        0x66, 0xc1, 0xc0, 0x04, // rol eax, 4
        0x66, 0x89, 0xc3, // mov ebx, eax
        0x66, 0x83, 0xe3, 0x0f, // and ebx, 0xf
        0x66, 0x83, 0xc3, 0x30, // add ebx, '0'
        0x66, 0x83, 0xfb, 0x39, // cmp ebx, '9'
        0x76, 0x04, // jbe +4
        0x66, 0x83, 0xc3, 0x07, // add ebx, 7
        0x66, 0x93, // xchg eax, ebx
        0xee, // out dx, al
        0x66, 0x93, // xchg eax, ebx
        0xe2, 0xe0, // loop back 32 bytes (to rol)
    ])
}

/// 32-bit: CPUID (`leaf`, `sub`), then prints `label` and EAX EBX ECX EDX in hex.
fn print_cpuid(mut a: Asm, label: &str, leaf: u32, sub: u32) -> Asm {
    a = a
        .mov_eax(leaf)
        .bytes(&[0xb9])
        .bytes(&sub.to_le_bytes()) // mov ecx, sub
        .bytes(&[0x0f, 0xa2]) // cpuid
        .bytes(&[0xa3])
        .bytes(&SAVED.to_le_bytes()) // mov [SAVED], eax
        .bytes(&[0x89, 0x1d])
        .bytes(&(SAVED + 4).to_le_bytes()) // mov [SAVED+4], ebx
        .bytes(&[0x89, 0x0d])
        .bytes(&(SAVED + 8).to_le_bytes()) // mov [SAVED+8], ecx
        .bytes(&[0x89, 0x15])
        .bytes(&(SAVED + 12).to_le_bytes()) // mov [SAVED+12], edx
        .print(label);
    for r in 0..4 {
        a = a.bytes(&[0xa1]).bytes(&(SAVED + 4 * r).to_le_bytes()); // mov eax, [SAVED+4r]
        a = hex32(a).print(" ");
    }
    a.print("\n")
}

/// A secondary vCPU's real-mode code: prints `AP` and the x2APIC id it reads in leaves
/// 0xb and 0x1f (sub-leaf 0), sets [`FLAG`] for the boot CPU, and stops.
fn ap_code() -> Vec<u8> {
    let mut a = Asm::new().bytes(&[0xba, 0xf8, 0x03, 0xb0, b'A', 0xee, 0xb0, b'P', 0xee]);
    for leaf in [0xbu32, 0x1f] {
        a = a
            .bytes(&[0xb0, b' ', 0xee]) // CPUID below leaves DX clobbered: hex16 reloads it
            .bytes(&[0x66, 0xb8])
            .bytes(&leaf.to_le_bytes()) // mov eax, leaf
            .bytes(&[0x66, 0xb9, 0, 0, 0, 0]) // mov ecx, 0
            .bytes(&[0x0f, 0xa2]) // cpuid
            .bytes(&[0x66, 0x89, 0xd0]); // mov eax, edx
        a = hex16(a);
    }
    a = a.bytes(&[0xb0, b'\n', 0xee]);
    let [lo, hi] = (FLAG as u16).to_le_bytes();
    a.bytes(&[0xc7, 0x06, lo, hi, 1, 0]) // mov word [FLAG], 1
        .halt_forever()
        .code
}

/// Boot CPU (32-bit PVH entry): prints the CPUID leaves Linux sizes its topology and its
/// paravirt features from, then starts each secondary vCPU in turn (INIT, STARTUP) and
/// waits for it to report, then resets the machine.
fn cpuid_guest(vcpus: u32) -> Asm {
    let ap = ap_code();
    let mut a = print_cpuid(Asm::new(), "MAX", 0, 0);
    a = print_cpuid(a, "KVM", 0x4000_0001, 0);
    for leaf in [0xb, 0x1f] {
        for sub in 0..3 {
            a = print_cpuid(a, &format!("L{leaf:x}.{sub} "), leaf, sub);
        }
    }
    // Copy the AP code to the trampoline, as in `smp_guest` (a near jump over it: it is
    // longer than a short one reaches).
    let head_len = 5 + 5 + 5 + 2 + 5;
    let src = LOAD_ADDR as u32 + a.len() as u32 + head_len;
    a = a
        .bytes(&[0xbe])
        .bytes(&src.to_le_bytes())
        .bytes(&[0xbf])
        .bytes(&AP_TRAMPOLINE.to_le_bytes())
        .bytes(&[0xb9])
        .bytes(&(ap.len() as u32).to_le_bytes())
        .bytes(&[0xf3, 0xa4])
        .bytes(&[0xe9])
        .bytes(&(ap.len() as u32).to_le_bytes())
        .bytes(&ap);
    a = store(a, 0xfee0_00f0, 0x1ff); // local APIC on
    for id in 1..vcpus {
        a = store(a, FLAG, 0);
        a = store(a, 0xfee0_0310, id << 24);
        a = store(a, 0xfee0_0300, 0x4500); // INIT
        a = store(a, 0xfee0_0310, id << 24);
        a = store(a, 0xfee0_0300, 0x4600 | (AP_TRAMPOLINE >> 12)); // STARTUP
        a = a
            .bytes(&[0x83, 0x3d])
            .bytes(&FLAG.to_le_bytes())
            .bytes(&[0]) // cmp dword [FLAG], 0
            .bytes(&[0x74, 0xf7]); // je back to the cmp
    }
    a.print("END\n").reset().halt_forever()
}

/// The console's registers for `label`: [EAX, EBX, ECX, EDX].
fn regs(console: &str, label: &str) -> [u32; 4] {
    let line = console
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} line in:\n{console}"));
    let v: Vec<u32> = line[label.len()..]
        .split_whitespace()
        .map(|h| u32::from_str_radix(h, 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

/// Boots the CPUID guest on `vcpus` vCPUs as the VMM would on a host of `flavor`.
fn cpuid_seen(vcpus: u32, flavor: &str) -> String {
    let g = Guest::new(&cpuid_guest(vcpus), true);
    let mut cmd = g.vmm(&["--vcpus", &vcpus.to_string()]);
    cmd.env("EC2LAB_KVM_FLAVOR", flavor);
    let out = run_with_timeout(cmd, 120);
    assert_eq!(out.status.code(), Some(5), "stderr: {}", stderr(&out));
    let console = g.console();
    assert!(console.ends_with("END\n"), "{console}");
    console
}

/// KVM_FEATURE_PV_UNHALT (7), PV_SEND_IPI (11), PV_SCHED_YIELD (13), HC_MAP_GPA_RANGE
/// (16): linux arch/x86/include/uapi/asm/kvm_para.h.
const HYPERCALL_FEATURES: u32 = (1 << 7) | (1 << 11) | (1 << 13) | (1 << 16);

/// What a guest really reads with CPUID on each of its vCPUs: on pvm, none of KVM's
/// hypercall-based paravirt features (a VMCALL from kernel mode never returns there) and
/// every other feature as on hardware; on both, leaves 0xb and 0x1f with an SMT level, a
/// core level of all the vCPUs and a terminator, and each vCPU's own x2APIC id.
#[test]
fn pvm_cpuid_hides_hypercall_features_and_numbers_every_vcpu() {
    for vcpus in [2u32, 4] {
        let pvm = cpuid_seen(vcpus, "pvm");
        let hw = cpuid_seen(vcpus, "hardware");
        let (pvm_kvm, hw_kvm) = (regs(&pvm, "KVM")[0], regs(&hw, "KVM")[0]);
        assert_eq!(pvm_kvm & HYPERCALL_FEATURES, 0, "{pvm}");
        assert_ne!(hw_kvm & HYPERCALL_FEATURES, 0, "KVM offers them:\n{hw}");
        assert_eq!(pvm_kvm, hw_kvm & !HYPERCALL_FEATURES, "only those four go");

        let max_leaf = regs(&pvm, "MAX")[0];
        let leaves: &[u32] = if max_leaf >= 0x1f {
            &[0xb, 0x1f]
        } else {
            &[0xb]
        };
        let core_bits = 32 - (vcpus - 1).leading_zeros();
        for leaf in leaves {
            let sub = |s| regs(&pvm, &format!("L{leaf:x}.{s} "));
            assert_eq!(sub(0), [0, 1, 0x100, 0], "leaf {leaf:#x} SMT level:\n{pvm}");
            assert_eq!(sub(1), [core_bits, vcpus, 0x201, 0], "core level:\n{pvm}");
            assert_eq!(sub(2)[2] & 0xff00, 0, "sub-leaf 2 ends the list:\n{pvm}");
        }
        let aps: Vec<&str> = pvm.lines().filter(|l| l.starts_with("AP")).collect();
        assert_eq!(aps.len() as u32, vcpus - 1, "every AP reported:\n{pvm}");
        for (id, line) in (1u32..).zip(aps) {
            let ids: Vec<u32> = line[2..]
                .split_whitespace()
                .map(|h| u32::from_str_radix(h, 16).unwrap())
                .collect();
            assert_eq!(ids[0], id, "vCPU {id}'s x2APIC id in leaf 0xb:\n{pvm}");
            if max_leaf >= 0x1f {
                assert_eq!(ids[1], id, "vCPU {id}'s x2APIC id in leaf 0x1f:\n{pvm}");
            }
        }
    }
}

/// The host fault behind the pvm CPUID: a `VMCALL` from guest kernel mode (here the
/// no-op KVM_HC_VAPIC_POLL_IRQ, from ring 0) should return to the next instruction, as
/// on hardware KVM. On kvm_pvm (6.18.44-fc-v1147) it never returns: the guest never
/// prints `AFTER` and the run times out. Linux offered KVM_FEATURE_PV_SEND_IPI sends
/// IPIs this way, which hung its secondary-vCPU bring-up; the VMM hides those features
/// on pvm (`vmm::arch::cpuid::Hypercalls`). Ignored because it fails on that host by
/// design; run it with `cargo test --test vmm_smp -- --ignored` to check a host (it
/// passes on hardware KVM, and would tell when a pvm host is fixed).
#[test]
#[ignore = "documents a kvm_pvm fault: times out there; run with --ignored"]
fn vmcall_from_guest_kernel_mode_returns() {
    let guest = Asm::new()
        .print("BEFORE\n")
        .mov_eax(1) // KVM_HC_VAPIC_POLL_IRQ: does nothing, returns 0
        .bytes(&[0x0f, 0x01, 0xc1]) // vmcall
        .print("AFTER\n")
        .reset()
        .halt_forever();
    let g = Guest::new(&guest, true);
    let out = run_with_timeout(g.vmm(&[]), 30);
    assert_eq!(out.status.code(), Some(5), "stderr: {}", stderr(&out));
    assert_eq!(g.console(), "BEFORE\nAFTER\n");
}
