//! Space reserved by accounting, so that thin-provisioned volumes never overcommit the
//! host's disk. Volumes stay sparse files (an 8 GiB root holding a 64 MiB image costs
//! 64 MiB), but every byte a volume may still write is promised: a new volume, a grown
//! one, or a copy (a snapshot's point-in-time copy, an image's root) is refused with
//! EC2's `InsufficientVolumeCapacity` when the promised bytes of every volume in the
//! state directory (each file's size less its allocated blocks, in all regions), plus
//! what the new one may write, plus [`RESERVE`], exceed the file system's free space.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::Ec2Error;
use crate::store::Store;

const GIB: u64 = 1 << 30;

/// Free space kept for everything else on the host's disk (the store, logs, the chunk
/// store's new chunks): 1 GiB, or `EC2LAB_VOLUME_RESERVE_MIB`.
pub const RESERVE: u64 = GIB;

fn reserve() -> u64 {
    std::env::var("EC2LAB_VOLUME_RESERVE_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(RESERVE, |mib| mib << 20)
}

/// Bytes the files in `dir` may still write: each file's size less its allocated bytes.
fn unwritten_in(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len().saturating_sub(m.blocks() * 512))
        .sum()
}

/// Bytes every volume of the state directory holding `store` (every region) may still
/// write.
pub fn promised(store: &Store) -> u64 {
    let state_dir = store.root().parent().unwrap_or(store.root());
    let Ok(regions) = std::fs::read_dir(state_dir) else {
        return unwritten_in(&store.root().join("volumes"));
    };
    regions
        .flatten()
        .map(|r| unwritten_in(&r.path().join("volumes")))
        .sum()
}

/// Free and total bytes of the file system holding the volumes.
pub fn space(dir: &Path) -> Result<(u64, u64), Ec2Error> {
    let st = nix::sys::statvfs::statvfs(dir).map_err(|e| {
        Ec2Error::internal(format!("cannot read free space of {}: {e}", dir.display()))
    })?;
    let frag = st.fragment_size() as u64;
    Ok((
        st.blocks_available() as u64 * frag,
        st.blocks() as u64 * frag,
    ))
}

/// Whether promises are waived (`EC2LAB_VOLUME_OVERCOMMIT=1`): then only what is written
/// at once must fit. For hosts that knowingly overcommit, such as a shared test host whose
/// test suites make many volumes they never fill.
fn overcommit() -> bool {
    std::env::var("EC2LAB_VOLUME_OVERCOMMIT").is_ok_and(|v| v == "1")
}

/// Whether `what` fits: it writes `written` bytes at once and may write `later` more.
pub fn check(store: &Store, what: &str, written: u64, later: u64) -> Result<(), Ec2Error> {
    let (free, _) = space(&store.root().join("volumes"))?;
    if overcommit() {
        return fits(what, free, 0, written, 0, reserve());
    }
    fits(what, free, promised(store), written, later, reserve())
}

/// [`check`]'s arithmetic.
fn fits(
    what: &str,
    free: u64,
    promised: u64,
    written: u64,
    later: u64,
    reserve: u64,
) -> Result<(), Ec2Error> {
    let need = promised
        .saturating_add(written)
        .saturating_add(later)
        .saturating_add(reserve);
    if need > free {
        return Err(Ec2Error::new(
            "InsufficientVolumeCapacity",
            format!(
                "There is not enough capacity for {what}: it needs {} MiB ({} MiB at once), \
                 volumes already hold {} MiB of the host's free {} MiB for what they may \
                 still write, and {} MiB stay free for the host. Delete volumes or \
                 snapshots, or free disk space, then try again",
                (written + later) >> 20,
                written >> 20,
                promised >> 20,
                free >> 20,
                reserve >> 20,
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promised_bytes_count_against_free_space() {
        const M: u64 = 1 << 20;
        assert!(fits("v", 10 * GIB, 0, 0, 8 * GIB, GIB).is_ok());
        assert!(fits("v", 10 * GIB, 2 * GIB, 0, 8 * GIB, GIB).is_err());
        let e = fits(
            "a 4 GiB volume",
            10 * GIB,
            6 * GIB,
            64 * M,
            4 * GIB - 64 * M,
            GIB,
        )
        .unwrap_err();
        assert_eq!(e.code, "InsufficientVolumeCapacity");
        assert!(e.message.contains("a 4 GiB volume"), "{}", e.message);
        assert!(fits("v", 10 * GIB, 5 * GIB, 64 * M, 4 * GIB - 64 * M, 0).is_ok());
    }

    #[test]
    fn a_sparse_file_promises_its_holes() {
        let d = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(d.path().join("vol-1.img")).unwrap();
        f.set_len(GIB).unwrap();
        std::fs::write(d.path().join("vol-2.img"), vec![1u8; 1 << 20]).unwrap();
        let u = unwritten_in(d.path());
        // A whole file promises nothing; the sparse one its whole size (the file system
        // may allocate a block for metadata).
        assert!((GIB - (1 << 16)..=GIB).contains(&u), "{u}");
    }
}
