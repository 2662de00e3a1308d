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

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::unistd::{lseek, Whence};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Bytes per chunk: small enough that a 4 KiB guest write costs little new storage, large
/// enough that a manifest of a big volume stays small.
pub const CHUNK_SIZE: u64 = 512 * 1024;
/// The manifest format this module writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// Largest chunk size a manifest may declare: bounds the buffer a restore allocates.
const MAX_CHUNK_SIZE: u64 = 64 * 1024 * 1024;
/// Restore skips zero runs inside a chunk at this granularity, so a restored volume is about
/// as sparse as the original even when a chunk holds only a few written pages.
const RESTORE_BLOCK: usize = 4096;
/// Names starting with this are in-progress writes; a collection (which excludes writers)
/// treats any it finds as debris from a crash.
const TMP_PREFIX: &str = ".tmp-";
const MAX_ID_LEN: usize = 128;
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Makes temporary names unique between threads of one process (the pid separates processes).
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Why a snapshot could not be taken, restored, deleted or collected.
#[derive(Debug, Error)]
pub enum ChunkError {
    /// A file operation on the store or a volume failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done, e.g. `create directory`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// No manifest for this snapshot id.
    #[error("Snapshot {0} has no manifest: it does not exist or its creation was interrupted")]
    NotFound(String),
    /// A manifest with this id is already there.
    #[error("Snapshot {0} already exists: choose another id or delete the existing snapshot")]
    AlreadyExists(String),
    /// The id would not make a safe file name.
    #[error(
        "Snapshot id {0:?} is invalid: use 1-128 characters from A-Z a-z 0-9 . _ - \
         not starting with '.'"
    )]
    InvalidId(String),
    /// The volume to snapshot is not a regular file.
    #[error("{} is not a regular file: only file-backed volumes can be snapshotted", .0.display())]
    NotAFile(PathBuf),
    /// The volume's size changed while it was read.
    #[error(
        "Volume {} changed size during the snapshot: stop the instance or snapshot a copy",
        .0.display()
    )]
    VolumeChanged(PathBuf),
    /// A manifest does not parse or does not describe a valid snapshot.
    #[error(
        "Manifest {} is unreadable ({reason}): the snapshot store was modified outside ec2lab; \
         delete that snapshot",
        path.display()
    )]
    BadManifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A chunk's bytes do not match its hash.
    #[error(
        "Chunk {hash} (index {index} of snapshot {id}) is corrupt (sha256 mismatch): the \
         snapshot store was modified outside ec2lab; this snapshot cannot be restored"
    )]
    Corrupt {
        /// The snapshot being restored.
        id: String,
        /// The chunk's index in the volume.
        index: u64,
        /// The hash the manifest expects.
        hash: ChunkHash,
    },
    /// A chunk the manifest names is not in the store.
    #[error(
        "Chunk {hash} (index {index} of snapshot {id}) is missing: the snapshot store was \
         modified outside ec2lab; this snapshot cannot be restored"
    )]
    MissingChunk {
        /// The snapshot being restored.
        id: String,
        /// The chunk's index in the volume.
        index: u64,
        /// The hash the manifest names.
        hash: ChunkHash,
    },
}

/// Wraps an `io::Error` with what was being done to which path; builds the path only on error.
fn io_ctx<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> ChunkError + use<'a> {
    move |source| ChunkError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The sha256 of a chunk's bytes; in manifests and file names as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkHash(pub [u8; 32]);

impl ChunkHash {
    /// The hash of `data`.
    pub fn of(data: &[u8]) -> Self {
        ChunkHash(Sha256::digest(data).into())
    }

    /// Parses the canonical form only (lowercase), so one hash has exactly one file name and
    /// a manifest can never name a path outside the chunk directory.
    pub fn from_hex(s: &str) -> Option<Self> {
        fn nibble(c: u8) -> Option<u8> {
            match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            }
        }
        let s = s.as_bytes();
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
            *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(ChunkHash(out))
    }

    /// Hex digits in a stack buffer: the snapshot loop names files without allocating.
    fn hex(&self) -> HexBuf {
        let mut buf = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            buf[2 * i] = HEX_DIGITS[usize::from(b >> 4)];
            buf[2 * i + 1] = HEX_DIGITS[usize::from(b & 0xf)];
        }
        HexBuf(buf)
    }
}

struct HexBuf([u8; 64]);

impl HexBuf {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

impl fmt::Display for ChunkHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex().as_str())
    }
}

impl fmt::Debug for ChunkHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for ChunkHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.hex().as_str())
    }
}

impl<'de> Deserialize<'de> for ChunkHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HexVisitor;
        impl Visitor<'_> for HexVisitor {
            type Value = ChunkHash;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sha256 as 64 lowercase hex digits")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ChunkHash, E> {
                ChunkHash::from_hex(v)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_str(HexVisitor)
    }
}

/// What a snapshot recorded. JSON:
/// `{"version":1,"chunk_size":524288,"size":N,"chunks":[[index,"hex"],...]}`;
/// chunks absent from the list are all zeros.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest format's version (1).
    pub version: u32,
    /// Bytes per chunk; the last chunk may be shorter.
    pub chunk_size: u64,
    /// The volume's size in bytes.
    pub size: u64,
    /// Non-zero chunks by ascending index.
    pub chunks: Vec<(u64, ChunkHash)>,
}

impl Manifest {
    /// Checks everything restore relies on, so a damaged manifest fails with a clear error
    /// instead of writing past the volume's end or allocating a huge buffer.
    fn validate(&self) -> Result<(), String> {
        if self.version != MANIFEST_VERSION {
            return Err(format!("unsupported version {}", self.version));
        }
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return Err(format!("chunk size {} out of range", self.chunk_size));
        }
        let mut prev: Option<u64> = None;
        for &(index, _) in &self.chunks {
            if prev.is_some_and(|p| index <= p) {
                return Err(format!("chunk index {index} out of order"));
            }
            match index.checked_mul(self.chunk_size) {
                Some(offset) if offset < self.size => {}
                _ => return Err(format!("chunk index {index} beyond the volume size")),
            }
            prev = Some(index);
        }
        Ok(())
    }
}

/// What a snapshot took and added to the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SnapshotStats {
    /// The volume's size in bytes.
    pub volume_size: u64,
    /// Non-zero chunks the manifest references.
    pub chunks: u64,
    /// Bytes of chunks this snapshot wrote because the store lacked them: what it really added.
    pub bytes_added: u64,
    /// Bytes of all non-zero chunks the manifest references.
    pub bytes_referenced: u64,
}

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

/// Writes chunk files for one snapshot, reusing its path buffers across chunks and
/// remembering which directories need an fsync before the manifest is written.
struct ChunkWriter {
    dir: PathBuf,
    path: PathBuf,
    tmp: PathBuf,
    suffix: String,
    dirty: [bool; 256],
    new_dirs: bool,
}

impl ChunkWriter {
    fn new(dir: PathBuf) -> Self {
        ChunkWriter {
            dir,
            path: PathBuf::new(),
            tmp: PathBuf::new(),
            suffix: unique_suffix(),
            dirty: [false; 256],
            new_dirs: false,
        }
    }

    /// Stores `data` under `hash` unless a chunk of the right length is already there.
    /// Returns whether it wrote.
    fn store(&mut self, hash: &ChunkHash, data: &[u8]) -> Result<bool, ChunkError> {
        chunk_path_into(&mut self.path, &self.dir, hash);
        match fs::symlink_metadata(&self.path) {
            // A wrong length means a damaged chunk: replacing it heals the store.
            Ok(meta) if meta.len() == data.len() as u64 => return Ok(false),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_ctx("stat chunk", &self.path)(e)),
        }
        self.tmp.clone_from(&self.path);
        self.tmp.set_file_name(TMP_PREFIX);
        let tmp = self.tmp.as_mut_os_string();
        tmp.push(hash.hex().as_str());
        tmp.push(&self.suffix);

        let open = || {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&self.tmp)
        };
        let file = match open() {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let prefix = self.tmp.parent().unwrap_or(&self.dir);
                match fs::create_dir(prefix) {
                    Ok(()) => self.new_dirs = true,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_ctx("create directory", prefix)(e)),
                }
                open().map_err(io_ctx("create", &self.tmp))?
            }
            Err(e) => return Err(io_ctx("create", &self.tmp)(e)),
        };
        let result = (&file)
            .write_all(data)
            .and_then(|()| file.sync_data())
            .map_err(io_ctx("write", &self.tmp))
            .and_then(|()| fs::rename(&self.tmp, &self.path).map_err(io_ctx("rename", &self.path)));
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        result?;
        self.dirty[usize::from(hash.0[0])] = true;
        Ok(true)
    }

    /// Makes every rename done so far durable (once per directory, not once per chunk).
    fn sync(&mut self) -> Result<(), ChunkError> {
        for (byte, dirty) in self.dirty.iter().enumerate() {
            if *dirty {
                let name = [HEX_DIGITS[byte >> 4], HEX_DIGITS[byte & 0xf]];
                let prefix = std::str::from_utf8(&name).expect("hex digits are ASCII");
                sync_dir(&self.dir.join(prefix))?;
            }
        }
        if self.new_dirs {
            sync_dir(&self.dir)?;
        }
        self.dirty = [false; 256];
        self.new_dirs = false;
        Ok(())
    }
}

/// `<chunks>/<first 2 hex>/<64 hex>`, built in `path`'s existing allocation.
fn chunk_path_into(path: &mut PathBuf, chunks_dir: &Path, hash: &ChunkHash) {
    let hex = hash.hex();
    let hex = hex.as_str();
    path.as_mut_os_string().clear();
    path.push(chunks_dir);
    path.push(&hex[..2]);
    path.push(hex);
}

/// The next data extent at or after `pos`, clamped to `size`, or `None` if only holes remain.
fn next_data(file: &File, pos: u64, size: u64) -> io::Result<Option<(u64, u64)>> {
    // Linux limits file offsets to i64::MAX, so these conversions are lossless. The seeks
    // move `file`'s offset, which nothing here reads through (reads use pread).
    let data = match lseek(file, pos as libc::off_t, Whence::SeekData) {
        Ok(data) => data as u64,
        Err(Errno::ENXIO) => return Ok(None),
        // The filesystem can't report holes: treat the rest as data (zeros are still skipped).
        Err(Errno::EINVAL | Errno::EOPNOTSUPP) => return Ok(Some((pos, size))),
        Err(e) => return Err(e.into()),
    };
    if data >= size {
        return Ok(None);
    }
    let hole = match lseek(file, data as libc::off_t, Whence::SeekHole) {
        Ok(hole) if hole as u64 > data => (hole as u64).min(size),
        _ => size,
    };
    Ok(Some((data, hole)))
}

fn is_zero(data: &[u8]) -> bool {
    // Sixteen bytes at a time: this runs over every data chunk of every snapshot.
    let mut words = data.chunks_exact(16);
    words
        .by_ref()
        .all(|w| u128::from_ne_bytes(w.try_into().expect("16-byte chunk")) == 0)
        && words.remainder().iter().all(|&b| b == 0)
}

/// Writes only the non-zero `RESTORE_BLOCK`s of `data`, leaving holes for the rest.
fn write_nonzero(out: &File, data: &[u8], offset: u64) -> io::Result<()> {
    let block_end = |i: usize| (i + RESTORE_BLOCK).min(data.len());
    let mut i = 0;
    while i < data.len() {
        if is_zero(&data[i..block_end(i)]) {
            i = block_end(i);
            continue;
        }
        let start = i;
        while i < data.len() && !is_zero(&data[i..block_end(i)]) {
            i = block_end(i);
        }
        out.write_all_at(&data[start..i], offset + start as u64)?;
    }
    Ok(())
}

fn load_manifest(path: &Path) -> Result<Manifest, ChunkError> {
    let bytes = fs::read(path).map_err(io_ctx("read manifest", path))?;
    let bad = |reason: String| ChunkError::BadManifest {
        path: path.to_path_buf(),
        reason,
    };
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    manifest.validate().map_err(bad)?;
    Ok(manifest)
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

fn unique_suffix() -> String {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("-{}-{n}", std::process::id())
}

fn write_synced(path: &Path, data: &[u8]) -> Result<(), ChunkError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_ctx("create", path))?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(io_ctx("write", path))
}

fn sync_dir(dir: &Path) -> Result<(), ChunkError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_ctx("fsync directory", dir))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn read_dir(dir: &Path) -> Result<fs::ReadDir, ChunkError> {
    fs::read_dir(dir).map_err(io_ctx("list", dir))
}

/// Removes a file and returns its size; a file already gone counts as zero.
fn remove_counted(path: &Path) -> Result<u64, ChunkError> {
    let len = match fs::symlink_metadata(path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_ctx("stat", path)(e)),
    };
    match fs::remove_file(path) {
        Ok(()) => Ok(len),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io_ctx("remove", path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    const MIB: u64 = 1024 * 1024;

    /// Deterministic non-zero bytes, different per seed.
    fn pattern(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x as u8) | 1
            })
            .collect()
    }

    fn sparse_volume(path: &Path, size: u64) {
        File::create(path).unwrap().set_len(size).unwrap();
    }

    fn write_at(path: &Path, offset: u64, data: &[u8]) {
        let f = OpenOptions::new().write(true).open(path).unwrap();
        f.write_all_at(data, offset).unwrap();
    }

    fn assert_same(a: &Path, b: &Path) {
        let (x, y) = (fs::read(a).unwrap(), fs::read(b).unwrap());
        assert_eq!(x.len(), y.len(), "sizes differ: {a:?} {b:?}");
        assert!(x == y, "contents differ: {a:?} {b:?}");
    }

    fn disk_bytes(path: &Path) -> u64 {
        fs::metadata(path).unwrap().blocks() * 512
    }

    fn setup() -> (tempfile::TempDir, ChunkStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::open(dir.path().join("store")).unwrap();
        (dir, store)
    }

    #[test]
    fn incremental_snapshot_stores_only_changes_and_restores_sparse() {
        let (dir, store) = setup();
        let vol = dir.path().join("vol.img");
        sparse_volume(&vol, 64 * MIB);
        write_at(&vol, 0, &pattern(1, MIB as usize));
        write_at(&vol, 20 * MIB, &pattern(2, 2 * MIB as usize));

        let a = store.snapshot(&vol, "snap-a").unwrap();
        assert_eq!(a.volume_size, 64 * MIB);
        assert_eq!(a.chunks, 6);
        assert_eq!(a.bytes_added, 3 * MIB);
        assert_eq!(a.bytes_referenced, 3 * MIB);
        assert_eq!(store.stored_bytes().unwrap(), 3 * MIB);
        let copy_a = dir.path().join("vol-a.img");
        fs::copy(&vol, &copy_a).unwrap();

        write_at(&vol, 20 * MIB + 4096, &pattern(3, 4096));
        let b = store.snapshot(&vol, "snap-b").unwrap();
        assert_eq!(b.chunks, 6);
        assert_eq!(b.bytes_added, CHUNK_SIZE);
        assert_eq!(b.bytes_referenced, 3 * MIB);
        assert_eq!(store.stored_bytes().unwrap(), 3 * MIB + CHUNK_SIZE);

        let out_a = dir.path().join("out-a.img");
        let out_b = dir.path().join("out-b.img");
        assert_eq!(store.restore("snap-a", &out_a).unwrap(), 64 * MIB);
        assert_eq!(store.restore("snap-b", &out_b).unwrap(), 64 * MIB);
        assert_same(&out_a, &copy_a);
        assert_same(&out_b, &vol);
        for out in [&out_a, &out_b] {
            let used = disk_bytes(out);
            assert!(used <= 4 * MIB, "restored volume not sparse: {used} bytes");
        }

        let m = store.manifest("snap-b").unwrap();
        assert_eq!((m.version, m.chunk_size, m.size), (1, CHUNK_SIZE, 64 * MIB));
        let indices: Vec<u64> = m.chunks.iter().map(|c| c.0).collect();
        assert_eq!(indices, [0, 1, 40, 41, 42, 43]);
        assert_eq!(store.snapshots().unwrap(), ["snap-a", "snap-b"]);
    }

    #[test]
    fn manifest_json_has_documented_shape() {
        let (dir, store) = setup();
        let vol = dir.path().join("vol.img");
        sparse_volume(&vol, 2 * MIB);
        write_at(&vol, CHUNK_SIZE, b"x");
        store.snapshot(&vol, "snap-1").unwrap();
        let text = fs::read_to_string(store.root().join("manifests/snap-1.json")).unwrap();
        let hash = ChunkHash::of(&{
            let mut c = vec![0u8; CHUNK_SIZE as usize];
            c[0] = b'x';
            c
        });
        assert_eq!(
            text,
            format!(
                r#"{{"version":1,"chunk_size":524288,"size":2097152,"chunks":[[1,"{hash}"]]}}"#
            )
        );
        let hex = hash.to_string();
        assert!(store
            .root()
            .join("chunks")
            .join(&hex[..2])
            .join(&hex)
            .is_file());
    }

    #[test]
    fn deleting_any_snapshot_keeps_the_others_restorable() {
        let (dir, store) = setup();
        let vol = dir.path().join("vol.img");
        sparse_volume(&vol, 16 * MIB);
        write_at(&vol, 0, &pattern(10, 4 * MIB as usize));
        store.snapshot(&vol, "a").unwrap();
        let copy_a = dir.path().join("a.img");
        fs::copy(&vol, &copy_a).unwrap();

        write_at(&vol, MIB, &pattern(11, MIB as usize));
        write_at(&vol, 10 * MIB, &pattern(12, 8192));
        store.snapshot(&vol, "b").unwrap();

        write_at(&vol, MIB + 100, &pattern(13, 300));
        write_at(&vol, 3 * MIB, &vec![0u8; MIB as usize]); // zeroed, not a hole
        let c = store.snapshot(&vol, "c").unwrap();
        assert_eq!(c.chunks, 7);
        let copy_c = dir.path().join("c.img");
        fs::copy(&vol, &copy_c).unwrap();

        let before = store.stored_bytes().unwrap();
        let freed = store.delete("b").unwrap();
        assert!(freed > 0, "b's own chunks should be collected");
        assert_eq!(store.stored_bytes().unwrap(), before - freed);
        assert!(!store.exists("b"));
        let out = dir.path().join("out.img");
        store.restore("a", &out).unwrap();
        assert_same(&out, &copy_a);
        store.restore("c", &out).unwrap();
        assert_same(&out, &copy_c);

        store.delete("a").unwrap();
        store.restore("c", &out).unwrap();
        assert_same(&out, &copy_c);
        assert_eq!(store.stored_bytes().unwrap(), c.bytes_referenced);

        store.delete("c").unwrap();
        assert_eq!(store.stored_bytes().unwrap(), 0);
        assert!(matches!(store.delete("c"), Err(ChunkError::NotFound(_))));
    }

    #[test]
    fn corrupt_chunk_fails_restore_and_leaves_no_file() {
        let (dir, store) = setup();
        let vol = dir.path().join("vol.img");
        sparse_volume(&vol, 4 * MIB);
        write_at(&vol, 2 * MIB, &pattern(20, 4096));
        store.snapshot(&vol, "s").unwrap();
        let (_, hash) = store.manifest("s").unwrap().chunks[0];
        let hex = hash.to_string();
        let chunk = store.root().join("chunks").join(&hex[..2]).join(&hex);
        let mut bytes = fs::read(&chunk).unwrap();
        bytes[100] ^= 0x40;
        fs::write(&chunk, bytes).unwrap();

        let out = dir.path().join("out.img");
        let err = store.restore("s", &out).unwrap_err();
        match &err {
            ChunkError::Corrupt { id, index, hash: h } => {
                assert_eq!((id.as_str(), *index, *h), ("s", 4, hash));
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(err.to_string().contains(&hex));
        assert!(err.to_string().contains("corrupt (sha256 mismatch)"));
        assert!(!out.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2); // store + vol.img only

        fs::remove_file(&chunk).unwrap();
        assert!(matches!(
            store.restore("s", &out),
            Err(ChunkError::MissingChunk { .. })
        ));
    }

    #[test]
    fn size_not_a_chunk_multiple() {
        let (dir, store) = setup();
        let vol = dir.path().join("odd.img");
        let size = 3 * CHUNK_SIZE + 12345;
        sparse_volume(&vol, size);
        write_at(&vol, size - 5000, &pattern(30, 5000));
        write_at(&vol, 10, b"head");
        let s = store.snapshot(&vol, "odd").unwrap();
        assert_eq!(s.chunks, 2);
        assert_eq!(s.bytes_referenced, CHUNK_SIZE + 12345);
        let out = dir.path().join("out.img");
        assert_eq!(store.restore("odd", &out).unwrap(), size);
        assert_same(&out, &vol);

        // A volume smaller than one chunk.
        let tiny = dir.path().join("tiny.img");
        fs::write(&tiny, b"hello").unwrap();
        assert_eq!(store.snapshot(&tiny, "tiny").unwrap().bytes_added, 5);
        store.restore("tiny", &out).unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"hello");
    }

    #[test]
    fn empty_and_all_zero_volumes() {
        let (dir, store) = setup();
        let empty = dir.path().join("empty.img");
        fs::write(&empty, b"").unwrap();
        let s = store.snapshot(&empty, "empty").unwrap();
        assert_eq!(s, SnapshotStats::default());
        let out = dir.path().join("out.img");
        fs::write(&out, b"old contents are replaced").unwrap();
        assert_eq!(store.restore("empty", &out).unwrap(), 0);
        assert_eq!(fs::metadata(&out).unwrap().len(), 0);

        // Written zeros (allocated, not holes) are omitted as well.
        let zeros = dir.path().join("zeros.img");
        fs::write(&zeros, vec![0u8; 3 * MIB as usize]).unwrap();
        let s = store.snapshot(&zeros, "zeros").unwrap();
        assert_eq!((s.volume_size, s.chunks, s.bytes_added), (3 * MIB, 0, 0));
        store.restore("zeros", &out).unwrap();
        assert_same(&out, &zeros);
        assert_eq!(disk_bytes(&out), 0);
        assert_eq!(store.stored_bytes().unwrap(), 0);
    }

    #[test]
    fn huge_sparse_volume_is_snapshotted_by_its_data_only() {
        let (dir, store) = setup();
        let vol = dir.path().join("big.img");
        sparse_volume(&vol, 64 * 1024 * MIB);
        write_at(&vol, 40 * 1024 * MIB - 10, &pattern(40, 20)); // straddles two chunks
        let s = store.snapshot(&vol, "big").unwrap();
        assert_eq!((s.chunks, s.bytes_added), (2, 2 * CHUNK_SIZE));
        let out = dir.path().join("out.img");
        store.restore("big", &out).unwrap();
        assert_eq!(fs::metadata(&out).unwrap().len(), 64 * 1024 * MIB);
        assert!(disk_bytes(&out) <= 64 * 1024);
        let f = File::open(&out).unwrap();
        let mut got = [0u8; 20];
        f.read_exact_at(&mut got, 40 * 1024 * MIB - 10).unwrap();
        assert_eq!(got.as_slice(), pattern(40, 20));
    }

    #[test]
    fn identical_chunks_are_shared_across_volumes() {
        let (dir, store) = setup();
        let v1 = dir.path().join("v1.img");
        let v2 = dir.path().join("v2.img");
        for v in [&v1, &v2] {
            sparse_volume(v, 8 * MIB);
            write_at(v, 2 * MIB, &pattern(50, MIB as usize));
        }
        write_at(&v2, 6 * MIB, &pattern(51, 10));
        assert_eq!(store.snapshot(&v1, "v1").unwrap().bytes_added, MIB);
        let s = store.snapshot(&v2, "v2").unwrap();
        assert_eq!((s.chunks, s.bytes_added), (3, CHUNK_SIZE));
    }

    #[test]
    fn interrupted_snapshot_leaves_only_garbage_that_gc_removes() {
        let (dir, store) = setup();
        let vol = dir.path().join("vol.img");
        sparse_volume(&vol, 8 * MIB);
        write_at(&vol, 0, &pattern(60, MIB as usize));
        store.snapshot(&vol, "keep").unwrap();
        let keep_bytes = store.stored_bytes().unwrap();

        // Crash after the chunks, before the manifest: chunks written, a chunk temp file
        // and a manifest temp file left behind, no manifest.
        write_at(&vol, 4 * MIB, &pattern(61, MIB as usize));
        let mut writer = ChunkWriter::new(store.chunks_dir());
        let mut buf = vec![0u8; CHUNK_SIZE as usize];
        let f = File::open(&vol).unwrap();
        for index in 8..10 {
            f.read_exact_at(&mut buf, index * CHUNK_SIZE).unwrap();
            assert!(writer.store(&ChunkHash::of(&buf), &buf).unwrap());
        }
        writer.sync().unwrap();
        fs::create_dir_all(store.chunks_dir().join("ab")).unwrap();
        fs::write(store.chunks_dir().join("ab/.tmp-partial"), b"x").unwrap();
        fs::write(store.manifests_dir().join(".tmp-lost-1-1"), b"{").unwrap();

        assert!(!store.exists("lost"));
        assert!(matches!(
            store.manifest("lost"),
            Err(ChunkError::NotFound(_))
        ));
        let err = store.restore("lost", &dir.path().join("x")).unwrap_err();
        assert!(
            err.to_string().contains("creation was interrupted"),
            "{err}"
        );
        assert_eq!(store.stored_bytes().unwrap(), keep_bytes + MIB);
        assert_eq!(store.snapshots().unwrap(), ["keep"]);

        assert_eq!(store.gc().unwrap(), MIB + 2);
        assert_eq!(store.stored_bytes().unwrap(), keep_bytes);
        assert!(!store.chunks_dir().join("ab/.tmp-partial").exists());
        assert!(!store.manifests_dir().join(".tmp-lost-1-1").exists());
        let out = dir.path().join("out.img");
        store.restore("keep", &out).unwrap();
        assert_eq!(
            fs::read(&out).unwrap()[..MIB as usize],
            pattern(60, MIB as usize)
        );
    }

    #[test]
    fn ids_are_validated_and_unique() {
        let (dir, store) = setup();
        let vol = dir.path().join("vol.img");
        sparse_volume(&vol, MIB);
        for bad in ["", ".hidden", "a/b", "../x", "snap id", &"x".repeat(129)] {
            assert!(matches!(
                store.snapshot(&vol, bad),
                Err(ChunkError::InvalidId(_))
            ));
            assert!(!store.exists(bad));
        }
        store.snapshot(&vol, "snap-0123456789abcdef0").unwrap();
        assert!(store.exists("snap-0123456789abcdef0"));
        assert!(matches!(
            store.snapshot(&vol, "snap-0123456789abcdef0"),
            Err(ChunkError::AlreadyExists(_))
        ));
        assert!(matches!(
            store.snapshot(dir.path(), "dir"),
            Err(ChunkError::NotAFile(_))
        ));
    }

    #[test]
    fn damaged_manifest_is_reported_and_blocks_gc() {
        let (dir, store) = setup();
        let vol = dir.path().join("vol.img");
        sparse_volume(&vol, MIB);
        write_at(&vol, 0, b"data");
        store.snapshot(&vol, "good").unwrap();
        fs::write(
            store.manifests_dir().join("bad.json"),
            r#"{"version":1,"chunk_size":524288,"size":10,"chunks":[[5,"00"]]}"#,
        )
        .unwrap();
        assert!(matches!(
            store.manifest("bad"),
            Err(ChunkError::BadManifest { .. })
        ));
        assert!(matches!(store.gc(), Err(ChunkError::BadManifest { .. })));
        assert_eq!(store.stored_bytes().unwrap(), CHUNK_SIZE);
    }

    #[test]
    fn concurrent_snapshots_and_gc_do_not_lose_chunks() {
        let (dir, store) = setup();
        let vols: Vec<PathBuf> = (0..3u64)
            .map(|i| {
                let v = dir.path().join(format!("v{i}.img"));
                sparse_volume(&v, 8 * MIB);
                write_at(&v, 0, &pattern(70, 2 * MIB as usize)); // shared by all
                write_at(&v, (4 + i) * MIB, &pattern(71 + i, MIB as usize));
                v
            })
            .collect();
        std::thread::scope(|s| {
            for (i, v) in vols.iter().enumerate() {
                let store = store.clone();
                s.spawn(move || {
                    for round in 0..3 {
                        store.snapshot(v, &format!("v{i}-{round}")).unwrap();
                        if round > 0 {
                            store.delete(&format!("v{i}-{}", round - 1)).unwrap();
                        }
                    }
                });
            }
            let store = store.clone();
            s.spawn(move || {
                for _ in 0..10 {
                    store.gc().unwrap();
                }
            });
        });
        assert_eq!(store.snapshots().unwrap(), ["v0-2", "v1-2", "v2-2"]);
        for (i, v) in vols.iter().enumerate() {
            let out = dir.path().join("out.img");
            store.restore(&format!("v{i}-2"), &out).unwrap();
            assert_same(&out, v);
        }
        assert_eq!(store.stored_bytes().unwrap(), 2 * MIB + 3 * MIB);
    }
}
