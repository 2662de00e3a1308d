//! The virtio-mmio transport's registers and status state machine: raw register and
//! config-space accesses of every width and offset, feature selection, queue setup with
//! any sizes and ring addresses, resets at any point, in front of a block or a net device.
#![no_main]

use ec2lab::vmm::devices::bus::BusDevice;
use ec2lab::vmm::devices::virtio::net::{DatagramBackend, Net};
use ec2lab::vmm::devices::virtio::Block;
use ec2lab::vmm::memory::GuestMemory;
use ec2lab_fuzz::virtio::{memory, transport, MEM_SIZE};
use ec2lab_fuzz::Bytes;
use vm_memory::{Bytes as _, GuestAddress};

/// Register-level only: reads, writes (any width at any offset) and guest memory writes.
fn program(dev: &mut dyn BusDevice, mem: &GuestMemory, input: &mut Bytes<'_>) {
    for _ in 0..512 {
        if input.is_empty() {
            break;
        }
        let op = input.u8();
        let off = u64::from(input.u16() % 0x200);
        // Mostly aligned, as drivers are; sometimes not.
        let off = if op & 0x20 != 0 { off } else { off & !3 };
        let len = 1 + usize::from(op >> 2 & 7);
        let mut buf = [0u8; 8];
        match op & 3 {
            0 | 1 => {
                let got = input.take(len);
                buf[..got.len()].copy_from_slice(got);
                dev.write(off, &buf[..len]);
            }
            2 => dev.read(off, &mut buf[..len]),
            _ => {
                let at = u64::from(input.u32()) % MEM_SIZE;
                let n = usize::from(input.u8());
                let _ = mem.write_slice(input.take(n), GuestAddress(at));
            }
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Bytes::new(data);
    let mem = memory();
    if input.u8() & 1 == 0 {
        let mut t = transport(&mem, Block::empty());
        program(&mut t, &mem, &mut input);
    } else {
        let (backend, _peer) = DatagramBackend::pair().expect("a socket pair");
        let mut t = transport(&mem, Net::with_backend(backend, [2, 0, 0, 0, 0, 2]));
        program(&mut t, &mem, &mut input);
    }
});
