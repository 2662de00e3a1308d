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
