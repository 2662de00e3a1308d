//! Segment descriptors for the boot GDT and the matching `kvm_segment`s.
//!
//! The guest kernel replaces this GDT early; it only has to be valid for the first
//! instructions at the entry point.

use kvm_bindings::kvm_segment;

/// Selector indexes: null, code, data, TSS.
pub const CODE_SELECTOR: u16 = 1 << 3;
/// The flat data segment.
pub const DATA_SELECTOR: u16 = 2 << 3;
/// The task state segment KVM requires to be valid.
pub const TSS_SELECTOR: u16 = 3 << 3;

/// Builds a raw 8-byte descriptor from flags (`G D/B L AVL` nibble and access byte in
/// `0xF0FF` layout), base and limit.
pub const fn descriptor(flags: u16, base: u32, limit: u32) -> u64 {
    ((base as u64 & 0xff00_0000) << 32)
        | ((flags as u64 & 0xf0ff) << 40)
        | ((limit as u64 & 0x000f_0000) << 32)
        | ((base as u64 & 0x00ff_ffff) << 16)
        | (limit as u64 & 0x0000_ffff)
}

/// Long-mode boot GDT: 64-bit code (L=1), flat data, a TSS to keep VMX entry checks happy.
pub fn long_mode_gdt() -> [u64; 4] {
    [
        0,
        descriptor(0xa09b, 0, 0xfffff),
        descriptor(0xc093, 0, 0xfffff),
        descriptor(0x808b, 0, 0xfffff),
    ]
}

/// 32-bit protected-mode GDT for the PVH entry: flat 4 GiB code and data (D/B=1, L=0).
pub fn protected_mode_gdt() -> [u64; 4] {
    [
        0,
        descriptor(0xc09b, 0, 0xfffff),
        descriptor(0xc093, 0, 0xfffff),
        descriptor(0x008b, 0, 0x67),
    ]
}

/// Expands a raw descriptor into the form KVM takes for a segment register.
pub fn segment(selector: u16, entry: u64) -> kvm_segment {
    let base = ((entry >> 16) & 0x00ff_ffff) | ((entry >> 32) & 0xff00_0000);
    let raw_limit = ((entry & 0xffff) | ((entry >> 32) & 0x000f_0000)) as u32;
    let g = ((entry >> 55) & 1) as u8;
    // KVM wants the limit in bytes; with G=1 it is counted in 4 KiB pages.
    let limit = if g == 1 {
        (raw_limit << 12) | 0xfff
    } else {
        raw_limit
    };
    let present = ((entry >> 47) & 1) as u8;
    kvm_segment {
        base,
        limit,
        selector,
        type_: ((entry >> 40) & 0xf) as u8,
        present,
        dpl: ((entry >> 45) & 3) as u8,
        db: ((entry >> 54) & 1) as u8,
        s: ((entry >> 44) & 1) as u8,
        l: ((entry >> 53) & 1) as u8,
        g,
        avl: ((entry >> 52) & 1) as u8,
        unusable: u8::from(present == 0),
        padding: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code64_descriptor_round_trips() {
        let gdt = long_mode_gdt();
        assert_eq!(gdt[1], 0x00af_9b00_0000_ffff);
        let s = segment(CODE_SELECTOR, gdt[1]);
        assert_eq!((s.l, s.db, s.g, s.present, s.type_), (1, 0, 1, 1, 0xb));
        assert_eq!(s.limit, 0xffff_ffff);
        assert_eq!(s.base, 0);
    }

    #[test]
    fn protected_mode_code_is_32_bit() {
        let s = segment(CODE_SELECTOR, protected_mode_gdt()[1]);
        assert_eq!((s.l, s.db), (0, 1));
        let tss = segment(TSS_SELECTOR, protected_mode_gdt()[3]);
        assert_eq!((tss.limit, tss.g, tss.s), (0x67, 0, 0));
    }
}
