//! Emulated devices. Each is a [`bus::BusDevice`] the vCPU exits reach through a bus.

pub mod bus;
pub mod i8042;
pub mod serial;
pub mod virtio;
