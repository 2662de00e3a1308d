//! Intel MultiProcessor Specification 1.4 tables: how a kernel without ACPI finds its
//! CPUs, the IOAPIC and how ISA interrupt lines are routed.

use vm_memory::{Bytes, GuestAddress};

use super::error::ArchError;
use super::layout::{IOAPIC_ADDR, LAPIC_ADDR, LAST_IRQ, MPTABLE_ADDR};
use crate::vmm::memory::GuestMemory;

const APIC_VERSION: u8 = 0x14;
const IOAPIC_VERSION: u8 = 0x11;
const CPU_ENABLED: u8 = 1;
const CPU_BOOTSTRAP: u8 = 2;
/// Family 6 in the processor entry's signature; the kernel only logs it.
const CPU_SIGNATURE: u32 = 0x600;
/// FPU | APIC feature flags.
const CPU_FEATURES: u32 = 0x201;

fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, b| s.wrapping_sub(*b))
}

/// Builds the floating pointer structure followed by the configuration table, to be
/// placed at `base`. Pure, so it can be checked byte by byte.
pub fn build(base: u64, num_cpus: u8) -> Vec<u8> {
    let ioapic_id = num_cpus;
    let mut entries = Vec::new();
    let mut count = 0u16;
    for cpu in 0..num_cpus {
        entries.push(0); // processor
        entries.push(cpu); // local APIC id
        entries.push(APIC_VERSION);
        entries.push(CPU_ENABLED | if cpu == 0 { CPU_BOOTSTRAP } else { 0 });
        entries.extend_from_slice(&CPU_SIGNATURE.to_le_bytes());
        entries.extend_from_slice(&CPU_FEATURES.to_le_bytes());
        entries.extend_from_slice(&[0; 8]);
        count += 1;
    }
    entries.extend_from_slice(&[1, 0]); // bus 0
    entries.extend_from_slice(b"ISA   ");
    count += 1;
    entries.extend_from_slice(&[2, ioapic_id, IOAPIC_VERSION, 1]); // IOAPIC, enabled
    entries.extend_from_slice(&IOAPIC_ADDR.to_le_bytes());
    count += 1;
    for irq in 0..=LAST_IRQ as u8 {
        // I/O interrupt: INT type, conforming polarity/trigger, bus 0 irq -> IOAPIC pin.
        entries.extend_from_slice(&[3, 0, 0, 0, 0, irq, ioapic_id, irq]);
        count += 1;
    }
    // Local interrupts: ExtINT on LINT0 and NMI on LINT1 of every local APIC (0xff).
    entries.extend_from_slice(&[4, 3, 0, 0, 0, 0, 0xff, 0]);
    entries.extend_from_slice(&[4, 1, 0, 0, 0, 0, 0xff, 1]);
    count += 2;

    let table_addr = base + 16;
    let mut table = Vec::with_capacity(44 + entries.len());
    table.extend_from_slice(b"PCMP");
    let length = (44 + entries.len()) as u16;
    table.extend_from_slice(&length.to_le_bytes());
    table.push(4); // spec revision 1.4
    table.push(0); // checksum, filled below
    table.extend_from_slice(b"EC2LAB  ");
    table.extend_from_slice(b"MICROVM     ");
    table.extend_from_slice(&0u32.to_le_bytes()); // OEM table pointer
    table.extend_from_slice(&0u16.to_le_bytes()); // OEM table size
    table.extend_from_slice(&count.to_le_bytes());
    table.extend_from_slice(&LAPIC_ADDR.to_le_bytes());
    table.extend_from_slice(&[0; 4]); // extended length, checksum, reserved
    table.extend_from_slice(&entries);
    table[7] = checksum(&table);

    let mut fps = Vec::with_capacity(16 + table.len());
    fps.extend_from_slice(b"_MP_");
    fps.extend_from_slice(&(table_addr as u32).to_le_bytes());
    fps.push(1); // length in 16-byte units
    fps.push(4); // spec revision
    fps.push(0); // checksum
    fps.extend_from_slice(&[0; 5]); // no default configuration, IMCR absent
    fps[10] = checksum(&fps[..16]);
    fps.extend_from_slice(&table);
    fps
}

/// Writes the MP table for `num_cpus` vCPUs at `MPTABLE_ADDR`, so the guest finds them without ACPI.
pub fn write(mem: &GuestMemory, num_cpus: u8) -> Result<(), ArchError> {
    let blob = build(MPTABLE_ADDR, num_cpus);
    mem.write_slice(&blob, GuestAddress(MPTABLE_ADDR))
        .map_err(|_| ArchError::GuestMemoryTooSmall("the MP table"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |s, x| s.wrapping_add(*x))
    }

    #[test]
    fn checksums_and_counts_are_valid() {
        let blob = build(MPTABLE_ADDR, 2);
        assert_eq!(&blob[0..4], b"_MP_");
        assert_eq!(sum(&blob[..16]), 0);
        let ptr = u32::from_le_bytes(blob[4..8].try_into().unwrap()) as u64;
        assert_eq!(ptr, MPTABLE_ADDR + 16);
        let table = &blob[16..];
        assert_eq!(&table[0..4], b"PCMP");
        let len = u16::from_le_bytes([table[4], table[5]]) as usize;
        assert_eq!(len, table.len());
        assert_eq!(sum(table), 0);
        let count = u16::from_le_bytes([table[34], table[35]]);
        // 2 CPUs + bus + IOAPIC + 24 routes + 2 local
        assert_eq!(count, 2 + 1 + 1 + 24 + 2);
        // CPU 0 is the bootstrap processor, CPU 1 is not.
        assert_eq!(table[44 + 3], CPU_ENABLED | CPU_BOOTSTRAP);
        assert_eq!(table[44 + 20 + 3], CPU_ENABLED);
    }
}
