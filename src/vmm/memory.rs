//! Guest memory: the one concrete type every device and loader shares.
//!
//! Note: vm-memory 0.18 names its access trait `GuestMemoryBackend`; this alias is the
//! concrete mmap-backed memory, so import the trait under its own name.

use vm_memory::{mmap::FromRangesError, GuestAddress, GuestMemoryMmap};

/// The guest's RAM, mapped into the VMM; cloning shares the same memory.
pub type GuestMemory = GuestMemoryMmap<()>;

/// Allocates anonymous guest memory for the given (start, size) regions.
pub fn create(regions: &[(GuestAddress, usize)]) -> Result<GuestMemory, FromRangesError> {
    GuestMemoryMmap::from_ranges(regions)
}
