//! virtio-net behind its MMIO transport: TX chains the guest builds (gathered and sent to
//! the backend) and RX frames of any size arriving for the guest's receive buffers.
#![no_main]

use ec2lab::vmm::devices::virtio::net::{DatagramBackend, Net};
use ec2lab_fuzz::virtio::{memory, transport, Driver};
use ec2lab_fuzz::Bytes;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Bytes::new(data);
    let (backend, peer) = DatagramBackend::pair().expect("a socket pair");
    peer.set_nonblocking(true).expect("non-blocking");
    let net = Net::with_backend(backend, [0x02, 0, 0, 0, 0, 1]);
    let mem = memory();
    let mut driver = Driver::new(transport(&mem, net), &mem);
    driver.run(&mut input, |t, input| {
        // A frame from the host side (any length, up to beyond an MTU), then the event
        // loop's "backend readable".
        let len = usize::from(input.u16() % 2048);
        let mut frame = input.take(len).to_vec();
        frame.resize(len, 0);
        let _ = peer.send(&frame);
        let _ = t.device_mut().rx_ready();
    });
    // Whatever the guest sent, drain it so the next run starts clean.
    let mut buf = [0u8; 2048];
    while peer.recv(&mut buf).is_ok() {}
});
