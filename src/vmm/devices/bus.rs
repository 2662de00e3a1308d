//! Address-range dispatch for guest port I/O and MMIO exits.
//!
//! A vCPU exit names an address; the bus finds the device whose range holds it and
//! hands it the offset within that range. Devices sit behind a `Mutex` because
//! several vCPU threads may touch the same device.

use std::sync::{Arc, Mutex};

use thiserror::Error;

/// A device reachable through port I/O or MMIO. `offset` is relative to the start of the
/// range the device was inserted at.
pub trait BusDevice: Send {
    /// The guest reads `data.len()` bytes at `offset`.
    fn read(&mut self, offset: u64, data: &mut [u8]);
    /// The guest writes `data` at `offset`.
    fn write(&mut self, offset: u64, data: &[u8]);
}

/// Why a device could not be placed on a bus.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BusError {
    /// The range overlaps one already inserted.
    #[error(
        "Device range {base:#x}+{len:#x} overlaps an existing device; pick a free address range"
    )]
    Overlap {
        /// Start of the range.
        base: u64,
        /// Its length in bytes.
        len: u64,
    },
    /// The range is empty.
    #[error("Device range at {base:#x} has zero length")]
    ZeroLength {
        /// Start of the range.
        base: u64,
    },
}

struct Range {
    base: u64,
    len: u64,
    device: Arc<Mutex<dyn BusDevice>>,
}

/// A sorted, non-overlapping set of device ranges.
#[derive(Default)]
pub struct Bus {
    ranges: Vec<Range>,
}

impl Bus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// Places `device` at `base..base + len`; ranges must not overlap.
    pub fn insert(
        &mut self,
        device: Arc<Mutex<dyn BusDevice>>,
        base: u64,
        len: u64,
    ) -> Result<(), BusError> {
        if len == 0 {
            return Err(BusError::ZeroLength { base });
        }
        let end = base.saturating_add(len);
        if self
            .ranges
            .iter()
            .any(|r| base < r.base + r.len && r.base < end)
        {
            return Err(BusError::Overlap { base, len });
        }
        let at = self.ranges.partition_point(|r| r.base < base);
        self.ranges.insert(at, Range { base, len, device });
        Ok(())
    }

    fn find(&self, addr: u64) -> Option<(&Range, u64)> {
        let idx = self.ranges.partition_point(|r| r.base <= addr);
        let r = self.ranges.get(idx.checked_sub(1)?)?;
        (addr - r.base < r.len).then(|| (r, addr - r.base))
    }

    /// Returns false when no device claims `addr` (the access is then ignored; reads see all ones).
    pub fn read(&self, addr: u64, data: &mut [u8]) -> bool {
        match self.find(addr) {
            Some((r, off)) => {
                lock(&r.device).read(off, data);
                true
            }
            None => {
                data.fill(0xff);
                false
            }
        }
    }

    /// Sends a guest write at `addr` to its device; false if no device is there.
    pub fn write(&self, addr: u64, data: &[u8]) -> bool {
        match self.find(addr) {
            Some((r, off)) => {
                lock(&r.device).write(off, data);
                true
            }
            None => false,
        }
    }
}

/// A poisoned device lock means another vCPU thread panicked inside the device; the
/// device state is still the best we have, so keep going rather than cascade the panic.
fn lock<'a>(
    d: &'a Mutex<dyn BusDevice + 'static>,
) -> std::sync::MutexGuard<'a, dyn BusDevice + 'static> {
    d.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo(Vec<(u64, Vec<u8>)>);
    impl BusDevice for Echo {
        fn read(&mut self, offset: u64, data: &mut [u8]) {
            data.fill(offset as u8);
        }
        fn write(&mut self, offset: u64, data: &[u8]) {
            self.0.push((offset, data.to_vec()));
        }
    }

    #[test]
    fn dispatches_by_offset_and_rejects_overlap() {
        let dev = Arc::new(Mutex::new(Echo(Vec::new())));
        let mut bus = Bus::new();
        bus.insert(dev.clone(), 0x100, 0x10).unwrap();
        assert_eq!(
            bus.insert(dev.clone(), 0x10f, 1),
            Err(BusError::Overlap {
                base: 0x10f,
                len: 1
            })
        );
        bus.insert(dev.clone(), 0x110, 1).unwrap();
        let mut b = [0u8; 2];
        assert!(bus.read(0x105, &mut b));
        assert_eq!(b, [5, 5]);
        assert!(!bus.read(0x111, &mut b));
        assert_eq!(b, [0xff, 0xff]);
        assert!(bus.write(0x110, &[7]));
        assert_eq!(dev.lock().unwrap().0, vec![(0, vec![7])]);
    }
}
