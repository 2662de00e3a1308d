//! Guest memory to and from the snapshot's memory file. Saving writes every region in
//! order and seeks over all-zero pages, so untouched memory stays a hole; restoring maps
//! the file copy-on-write (MAP_PRIVATE), so nothing is read at start-up and guests
//! restored from one file share its pages until they write them.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vm_memory::mmap::{MmapRegion, NewBitmap};
use vm_memory::{FileOffset, GuestAddress, GuestMemoryBackend, GuestMemoryRegion, GuestRegionMmap};

use super::error::SnapshotError;
use crate::vmm::memory::GuestMemory;

const PAGE: usize = 4096;

/// One guest memory region: where it sits in the guest and how long it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// Guest-physical start.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
}

/// The regions of `mem`, in order: their bytes follow each other in the memory file.
pub fn regions(mem: &GuestMemory) -> Vec<Region> {
    mem.iter()
        .map(|r| Region {
            start: r.start_addr().0,
            len: r.len(),
        })
        .collect()
}

/// Writes all of `mem` to `path`, leaving holes for zero pages. The vCPUs must be paused.
pub fn save(mem: &GuestMemory, path: &Path) -> Result<u64, SnapshotError> {
    let err = |source| SnapshotError::Io {
        what: "write guest memory",
        path: path.display().to_string(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(err)?;
    let mut total = 0u64;
    for region in mem.iter() {
        let len = usize::try_from(region.len()).unwrap_or(usize::MAX);
        // SAFETY: the region is a live mapping of `len` bytes owned by `mem`, which
        // outlives this borrow; the vCPUs are paused, so nothing writes it meanwhile
        // (devices only write guest memory on a vCPU's notify or the main thread, which
        // is here).
        let bytes = unsafe { std::slice::from_raw_parts(region.as_ptr() as *const u8, len) };
        for page in bytes.chunks(PAGE) {
            if page.iter().all(|&b| b == 0) {
                file.seek(SeekFrom::Current(page.len() as i64))
                    .map_err(err)?;
            } else {
                file.write_all(page).map_err(err)?;
            }
        }
        total += region.len();
    }
    // A trailing hole needs the length set explicitly.
    file.set_len(total).map_err(err)?;
    file.sync_all().map_err(err)?;
    Ok(total)
}

/// Maps `path` as guest memory at `regions`, copy-on-write. Refuses a file whose size is
/// not the regions' sum.
pub fn map_private(path: &Path, regions: &[Region]) -> Result<GuestMemory, SnapshotError> {
    let file = File::open(path).map_err(|source| SnapshotError::Io {
        what: "open the memory file",
        path: path.display().to_string(),
        source,
    })?;
    let size = file
        .metadata()
        .map_err(|source| SnapshotError::Io {
            what: "read the memory file's size",
            path: path.display().to_string(),
            source,
        })?
        .len();
    let want: u64 = regions.iter().map(|r| r.len).sum();
    if size != want {
        return Err(SnapshotError::MemorySize {
            path: path.display().to_string(),
            size,
            want,
        });
    }
    let file = Arc::new(file);
    let mut offset = 0u64;
    let mut mapped = Vec::with_capacity(regions.len());
    for r in regions {
        let len = usize::try_from(r.len).map_err(|_| {
            SnapshotError::Damaged("a memory region does not fit this host's address space".into())
        })?;
        let map = MmapRegion::<()>::build(
            Some(FileOffset::from_arc(file.clone(), offset)),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_NORESERVE,
        )
        .map_err(|e| SnapshotError::Map(e.to_string()))?;
        let region = GuestRegionMmap::new(map, GuestAddress(r.start)).ok_or_else(|| {
            SnapshotError::Damaged("a memory region overflows the guest address space".into())
        })?;
        mapped.push(region);
        offset += r.len;
    }
    GuestMemory::from_regions(mapped).map_err(|e| SnapshotError::Map(e.to_string()))
}

// `NewBitmap` is what `GuestMemory`'s bitmap type must implement; named so a change of
// the alias fails here, at the mapping, rather than somewhere less obvious.
const _: fn() = || {
    fn needs<B: NewBitmap>() {}
    needs::<()>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use vm_memory::Bytes;

    #[test]
    fn memory_is_saved_sparse_and_mapped_copy_on_write() {
        let d = tempfile::tempdir().unwrap();
        let mem = crate::vmm::memory::create(&[
            (GuestAddress(0), 1 << 20),
            (GuestAddress(1 << 30), 1 << 20),
        ])
        .unwrap();
        mem.write_obj(0x1234_5678u32, GuestAddress(0x2000)).unwrap();
        mem.write_obj(0x9abc_def0u32, GuestAddress((1 << 30) + 0x8000))
            .unwrap();
        let path = d.path().join("memory");
        assert_eq!(save(&mem, &path).unwrap(), 2 << 20);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), 2 << 20);
        // Two pages of data; the rest are holes.
        assert!(meta.blocks() * 512 <= 64 * 1024, "{} blocks", meta.blocks());

        let back = map_private(&path, &regions(&mem)).unwrap();
        assert_eq!(
            back.read_obj::<u32>(GuestAddress(0x2000)).unwrap(),
            0x1234_5678
        );
        assert_eq!(
            back.read_obj::<u32>(GuestAddress((1 << 30) + 0x8000))
                .unwrap(),
            0x9abc_def0
        );
        // Writes stay private to the mapping.
        back.write_obj(7u32, GuestAddress(0x2000)).unwrap();
        let again = map_private(&path, &regions(&mem)).unwrap();
        assert_eq!(
            again.read_obj::<u32>(GuestAddress(0x2000)).unwrap(),
            0x1234_5678
        );

        let short = [Region {
            start: 0,
            len: 4 << 20,
        }];
        assert!(matches!(
            map_private(&path, &short),
            Err(SnapshotError::MemorySize { .. })
        ));
    }
}
