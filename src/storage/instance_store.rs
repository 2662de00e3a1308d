//! The instance store: an ephemeral disk for the instance types that have one (m5d, c5d),
//! backed by a sparse file on tmpfs. It is created empty whenever the instance's VMM
//! starts from stopped, survives reboots, and is destroyed on stop and terminate: data on
//! it is gone after a stop/start, exactly the difference from EBS that AWS users must feel.

use std::path::PathBuf;

/// Decimal gigabytes, as AWS sizes instance stores.
const GB: u64 = 1_000_000_000;

/// `$EC2LAB_INSTANCE_STORE_DIR`, else `/dev/shm/ec2lab` (tmpfs: memory-backed and gone
/// with the host's power, as an instance store is).
pub fn base_dir() -> PathBuf {
    std::env::var_os("EC2LAB_INSTANCE_STORE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/shm/ec2lab"))
}

/// Whether the stores live in memory: [`base_dir`] (or its nearest existing parent) is on
/// tmpfs. Then a store takes host memory as its guest fills it, and the capacity
/// check counts its whole size against the host's memory.
pub fn in_memory() -> bool {
    use nix::sys::statfs::{statfs, TMPFS_MAGIC};
    let mut dir = base_dir();
    loop {
        if let Ok(st) = statfs(&dir) {
            let t = st.filesystem_type();
            return t == TMPFS_MAGIC;
        }
        if !dir.pop() {
            return false;
        }
    }
}

/// The instance store directory of `instance_id` in `region`.
pub fn path(region: &str, instance_id: &str) -> PathBuf {
    base_dir()
        .join(region)
        .join(instance_id)
        .join("ephemeral0.img")
}

/// Creates the empty store of `size_gb` unless it exists (a reboot keeps it).
pub fn ensure(region: &str, instance_id: &str, size_gb: u64) -> std::io::Result<PathBuf> {
    let p = path(region, instance_id);
    if !p.exists() {
        std::fs::create_dir_all(p.parent().expect("store path has a parent"))?;
        let f = std::fs::File::create(&p)?;
        // Sparse: tmpfs only spends memory on what the guest writes.
        f.set_len(size_gb * GB)?;
    }
    Ok(p)
}

/// Destroys the store and everything on it.
pub fn destroy(region: &str, instance_id: &str) {
    if let Some(dir) = path(region, instance_id).parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_sparse_kept_and_destroyed() {
        let d = tempfile::tempdir().unwrap();
        std::env::set_var("EC2LAB_INSTANCE_STORE_DIR", d.path());
        let p = ensure("lab-1", "i-1", 75).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 75 * GB);
        std::fs::write(&p, b"data").unwrap();
        ensure("lab-1", "i-1", 75).unwrap();
        assert_eq!(
            std::fs::read(&p).unwrap(),
            b"data",
            "a reboot must keep the store"
        );
        destroy("lab-1", "i-1");
        assert!(!p.exists());
        // A directory on disk is not memory; /dev/shm is.
        assert!(!in_memory(), "{}", d.path().display());
        std::env::set_var("EC2LAB_INSTANCE_STORE_DIR", "/dev/shm/ec2lab-test-not-made");
        assert!(in_memory());
        std::env::remove_var("EC2LAB_INSTANCE_STORE_DIR");
    }
}
