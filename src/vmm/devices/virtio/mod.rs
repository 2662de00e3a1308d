//! Virtio devices: the device-side contract (`VirtioDevice`), the interrupt shared by a
//! transport and its device, and the errors both report.
//!
//! Layout: `mmio.rs` is the virtio-mmio v2 transport (registers, status state machine,
//! queue setup); `block.rs` is the virtio-blk request protocol; `disk.rs` is the raw
//! file or block-device backend that virtio-blk reads and writes.

pub mod block;
mod device;
pub mod disk;
pub mod mmio;
pub mod net;
pub mod tap;

#[cfg(test)]
mod net_tests;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use block::Block;
pub use device::{
    drain_queue, read_config_bytes, ActivateError, Interrupt, QueueError, VirtioDevice,
};
pub use disk::BlockError;
pub use mmio::MmioTransport;
