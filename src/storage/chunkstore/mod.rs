//! Content-addressed chunk store for incremental volume snapshots, EBS style.
//!
//! A snapshot is a manifest: the volume size plus, for every fixed-size chunk that is not all
//! zeros, the sha256 of its bytes. Chunks are stored once under `chunks/<2 hex>/<64 hex>`, so a
//! second snapshot of a volume stores only the chunks that changed, and identical chunks are
//! shared across volumes. Deleting a snapshot removes its manifest and then collects every
//! chunk that no remaining manifest references, so every other snapshot stays restorable.
//!
//! Crash safety: chunks and manifests are written under temporary names, fsynced and renamed,
//! and a snapshot's manifest is written last, so an interrupted snapshot leaves no manifest,
//! only unreferenced chunks that the next collection removes. Snapshots and restores hold a
//! shared `flock` on `gc.lock` and collection holds it exclusively: collection therefore never
//! deletes a chunk that an in-flight snapshot has written (or found) but not yet referenced.

mod error;
mod files;
mod hash;
mod manifest;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub use error::ChunkError;
pub use hash::ChunkHash;
pub use manifest::{Manifest, SnapshotStats, MANIFEST_VERSION};

use error::io_ctx;
use files::*;
use manifest::load_manifest;

/// Bytes per chunk: small enough that a 4 KiB guest write costs little new storage, large
/// enough that a manifest of a big volume stays small.
pub const CHUNK_SIZE: u64 = 512 * 1024;

/// Names starting with this are in-progress writes; a collection (which excludes writers)
/// treats any it finds as debris from a crash.
const TMP_PREFIX: &str = ".tmp-";
const MAX_ID_LEN: usize = 128;

/// A content-addressed store of snapshot chunks and manifests under one directory.
#[derive(Debug, Clone)]
pub struct ChunkStore {
    root: PathBuf,
}

impl ChunkStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, ChunkError> {
        let store = ChunkStore {
            root: root.as_ref().to_path_buf(),
        };
        for dir in [store.chunks_dir(), store.manifests_dir()] {
            fs::create_dir_all(&dir).map_err(io_ctx("create directory", &dir))?;
        }
        // Take and drop a lock once so a store whose lock file can't be made fails here.
        store.lock(false)?;
        Ok(store)
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Records `volume` as snapshot `id`, storing only chunks the store lacks.
    pub fn snapshot(&self, volume: &Path, id: &str) -> Result<SnapshotStats, ChunkError> {
        validate_id(id)?;
        let _lock = self.lock(false)?;
        if self.manifest_path(id).exists() {
            return Err(ChunkError::AlreadyExists(id.to_string()));
        }
        let file = File::open(volume).map_err(io_ctx("open volume", volume))?;
        let meta = file.metadata().map_err(io_ctx("stat volume", volume))?;
        if !meta.is_file() {
            return Err(ChunkError::NotAFile(volume.to_path_buf()));
        }
        let size = meta.len();
        let mut stats = SnapshotStats {
            volume_size: size,
            ..SnapshotStats::default()
        };
        let mut writer = ChunkWriter::new(self.chunks_dir());
        let mut buf = vec![0u8; CHUNK_SIZE as usize];
        let mut chunks = Vec::new();
        // First chunk not yet examined: a chunk straddling two data extents is read once.
        let mut next_index = 0u64;
        let mut pos = 0u64;
        while pos < size {
            let Some((start, end)) =
                next_data(&file, pos, size).map_err(io_ctx("find data in", volume))?
            else {
                break;
            };
            let first = (start / CHUNK_SIZE).max(next_index);
            let last = (end - 1) / CHUNK_SIZE;
            for index in first..=last {
                let offset = index * CHUNK_SIZE;
                let data = &mut buf[..(size - offset).min(CHUNK_SIZE) as usize];
                file.read_exact_at(data, offset).map_err(|e| {
                    if e.kind() == io::ErrorKind::UnexpectedEof {
                        ChunkError::VolumeChanged(volume.to_path_buf())
                    } else {
                        io_ctx("read volume", volume)(e)
                    }
                })?;
                if is_zero(data) {
                    continue;
                }
                let hash = ChunkHash::of(data);
                if writer.store(&hash, data)? {
                    stats.bytes_added += data.len() as u64;
                }
                stats.chunks += 1;
                stats.bytes_referenced += data.len() as u64;
                chunks.push((index, hash));
            }
            next_index = next_index.max(last + 1);
            pos = end.max(next_index * CHUNK_SIZE);
        }
        let now = file.metadata().map_err(io_ctx("stat volume", volume))?;
        if now.len() != size {
            return Err(ChunkError::VolumeChanged(volume.to_path_buf()));
        }
        // New chunk names must be durable before a durable manifest can reference them.
        writer.sync()?;
        let manifest = Manifest {
            version: MANIFEST_VERSION,
            chunk_size: CHUNK_SIZE,
            size,
            chunks,
        };
        self.write_manifest(id, &manifest)?;
        Ok(stats)
    }

    /// Writes snapshot `id` to `dest` (replacing it), sparse, and returns the volume size.
    /// `dest` appears whole or not at all.
    pub fn restore(&self, id: &str, dest: &Path) -> Result<u64, ChunkError> {
        validate_id(id)?;
        // Shared lock: a concurrent delete of this very snapshot can't pull chunks from under us.
        let _lock = self.lock(false)?;
        let manifest = self.manifest(id)?;
        let name = dest.file_name().ok_or_else(|| ChunkError::Io {
            action: "restore to",
            path: dest.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
        })?;
        let mut tmp_name = std::ffi::OsString::from(TMP_PREFIX);
        tmp_name.push(name);
        tmp_name.push(unique_suffix());
        let tmp = dest.with_file_name(tmp_name);
        let out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_ctx("create", &tmp))?;
        let result = self.restore_into(id, &manifest, &out, &tmp).and_then(|()| {
            out.sync_all().map_err(io_ctx("fsync", &tmp))?;
            fs::rename(&tmp, dest).map_err(io_ctx("rename into place", dest))?;
            sync_dir(parent_dir(dest))
        });
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map(|()| manifest.size)
    }

    fn restore_into(
        &self,
        id: &str,
        manifest: &Manifest,
        out: &File,
        out_path: &Path,
    ) -> Result<(), ChunkError> {
        out.set_len(manifest.size)
            .map_err(io_ctx("size", out_path))?;
        let mut buf = vec![0u8; manifest.chunk_size as usize];
        let mut path = PathBuf::new();
        for &(index, hash) in &manifest.chunks {
            let offset = index * manifest.chunk_size;
            let len = (manifest.size - offset).min(manifest.chunk_size) as usize;
            chunk_path_into(&mut path, &self.chunks_dir(), &hash);
            let corrupt = || ChunkError::Corrupt {
                id: id.to_string(),
                index,
                hash,
            };
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(ChunkError::MissingChunk {
                        id: id.to_string(),
                        index,
                        hash,
                    })
                }
                Err(e) => return Err(io_ctx("open chunk", &path)(e)),
            };
            let stored = file.metadata().map_err(io_ctx("stat chunk", &path))?.len();
            if stored != len as u64 {
                return Err(corrupt());
            }
            let data = &mut buf[..len];
            file.read_exact_at(data, 0)
                .map_err(io_ctx("read chunk", &path))?;
            if ChunkHash::of(data) != hash {
                return Err(corrupt());
            }
            write_nonzero(out, data, offset).map_err(io_ctx("write", out_path))?;
        }
        Ok(())
    }

    /// Deletes snapshot `id`, then collects chunks no other snapshot references.
    /// Returns the bytes of chunk files removed.
    pub fn delete(&self, id: &str) -> Result<u64, ChunkError> {
        validate_id(id)?;
        let _lock = self.lock(true)?;
        let path = self.manifest_path(id);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ChunkError::NotFound(id.to_string()))
            }
            Err(e) => return Err(io_ctx("remove", &path)(e)),
        }
        sync_dir(&self.manifests_dir())?;
        self.collect()
    }

    /// Removes chunks no manifest references (e.g. left by an interrupted snapshot) and
    /// leftover temporary files. Returns the bytes removed.
    pub fn gc(&self) -> Result<u64, ChunkError> {
        let _lock = self.lock(true)?;
        self.collect()
    }

    /// Mark and sweep; the caller holds the exclusive lock, so no snapshot is in flight and
    /// every temporary file is debris.
    fn collect(&self) -> Result<u64, ChunkError> {
        let mut freed = 0u64;
        let mut live = HashSet::new();
        let manifests = self.manifests_dir();
        for entry in read_dir(&manifests)? {
            let entry = entry.map_err(io_ctx("list", &manifests))?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(TMP_PREFIX) {
                freed += remove_counted(&path)?;
            } else if name.ends_with(".json") {
                // An unreadable manifest aborts the collection: sweeping without its marks
                // could delete chunks a snapshot still needs.
                let manifest = load_manifest(&path)?;
                live.extend(manifest.chunks.iter().map(|&(_, hash)| hash));
            }
        }
        let chunks = self.chunks_dir();
        for prefix in read_dir(&chunks)? {
            let prefix = prefix.map_err(io_ctx("list", &chunks))?.path();
            if !prefix.is_dir() {
                continue;
            }
            let mut removed = false;
            for entry in read_dir(&prefix)? {
                let entry = entry.map_err(io_ctx("list", &prefix))?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let dead = name.starts_with(TMP_PREFIX)
                    || ChunkHash::from_hex(&name).is_some_and(|h| !live.contains(&h));
                if dead {
                    freed += remove_counted(&entry.path())?;
                    removed = true;
                }
            }
            if removed {
                sync_dir(&prefix)?;
            }
        }
        Ok(freed)
    }

    /// The manifest of snapshot `id`, validated.
    pub fn manifest(&self, id: &str) -> Result<Manifest, ChunkError> {
        validate_id(id)?;
        let path = self.manifest_path(id);
        if !path.exists() {
            return Err(ChunkError::NotFound(id.to_string()));
        }
        load_manifest(&path)
    }

    /// Whether snapshot `id` has a (completed) manifest.
    pub fn exists(&self, id: &str) -> bool {
        validate_id(id).is_ok() && self.manifest_path(id).is_file()
    }

    /// Ids of all completed snapshots, sorted.
    pub fn snapshots(&self) -> Result<Vec<String>, ChunkError> {
        let dir = self.manifests_dir();
        let mut ids = Vec::new();
        for entry in read_dir(&dir)? {
            let name = entry.map_err(io_ctx("list", &dir))?.file_name();
            if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) {
                if validate_id(id).is_ok() {
                    ids.push(id.to_string());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Total bytes of chunk files in the store.
    pub fn stored_bytes(&self) -> Result<u64, ChunkError> {
        let chunks = self.chunks_dir();
        let mut total = 0;
        for prefix in read_dir(&chunks)? {
            let prefix = prefix.map_err(io_ctx("list", &chunks))?.path();
            if !prefix.is_dir() {
                continue;
            }
            for entry in read_dir(&prefix)? {
                let entry = entry.map_err(io_ctx("list", &prefix))?;
                if ChunkHash::from_hex(&entry.file_name().to_string_lossy()).is_some() {
                    total += entry
                        .metadata()
                        .map_err(io_ctx("stat", &entry.path()))?
                        .len();
                }
            }
        }
        Ok(total)
    }

    fn chunks_dir(&self) -> PathBuf {
        self.root.join("chunks")
    }

    fn manifests_dir(&self) -> PathBuf {
        self.root.join("manifests")
    }

    fn manifest_path(&self, id: &str) -> PathBuf {
        self.manifests_dir().join(format!("{id}.json"))
    }

    /// Shared for snapshot/restore, exclusive for collection; released when the file drops.
    fn lock(&self, exclusive: bool) -> Result<File, ChunkError> {
        let path = self.root.join("gc.lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_ctx("open lock file", &path))?;
        let locked = if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        };
        locked.map_err(io_ctx("lock", &path))?;
        Ok(file)
    }

    /// Writes the manifest under a temporary name, then links it into place: linking fails if
    /// the name exists, so two snapshots racing for one id can't overwrite each other.
    fn write_manifest(&self, id: &str, manifest: &Manifest) -> Result<(), ChunkError> {
        let dir = self.manifests_dir();
        let path = self.manifest_path(id);
        let tmp = dir.join(format!("{TMP_PREFIX}{id}{}", unique_suffix()));
        let json = serde_json::to_vec(manifest).expect("a manifest always serializes");
        let result = write_synced(&tmp, &json).and_then(|()| {
            fs::hard_link(&tmp, &path).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    ChunkError::AlreadyExists(id.to_string())
                } else {
                    io_ctx("link", &path)(e)
                }
            })
        });
        let _ = fs::remove_file(&tmp);
        result?;
        sync_dir(&dir)
    }
}

/// Ids become file names, so they are restricted to characters that can't escape the
/// manifest directory or collide with temporary files.
fn validate_id(id: &str) -> Result<(), ChunkError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ChunkError::InvalidId(id.to_string()))
    }
}
