//! The file work under the store: crash-safe chunk writes, sparse reads and writes, and
//! durable directory updates.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::unistd::{lseek, Whence};

use super::error::{io_ctx, ChunkError};
use super::hash::{ChunkHash, HEX_DIGITS};

/// Names starting with this are in-progress writes; a collection (which excludes writers)
/// treats any it finds as debris from a crash.
pub(super) const TMP_PREFIX: &str = ".tmp-";

/// Restore skips zero runs inside a chunk at this granularity, so a restored volume is about
/// as sparse as the original even when a chunk holds only a few written pages.
const RESTORE_BLOCK: usize = 4096;

/// Makes temporary names unique between threads of one process (the pid separates processes).
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes chunk files for one snapshot, reusing its path buffers across chunks and
/// remembering which directories need an fsync before the manifest is written.
pub(super) struct ChunkWriter {
    dir: PathBuf,
    path: PathBuf,
    tmp: PathBuf,
    suffix: String,
    dirty: [bool; 256],
    new_dirs: bool,
}

impl ChunkWriter {
    pub(super) fn new(dir: PathBuf) -> Self {
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
    pub(super) fn store(&mut self, hash: &ChunkHash, data: &[u8]) -> Result<bool, ChunkError> {
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
    pub(super) fn sync(&mut self) -> Result<(), ChunkError> {
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
pub(super) fn chunk_path_into(path: &mut PathBuf, chunks_dir: &Path, hash: &ChunkHash) {
    let hex = hash.hex();
    let hex = hex.as_str();
    path.as_mut_os_string().clear();
    path.push(chunks_dir);
    path.push(&hex[..2]);
    path.push(hex);
}

/// The next data extent at or after `pos`, clamped to `size`, or `None` if only holes remain.
pub(super) fn next_data(file: &File, pos: u64, size: u64) -> io::Result<Option<(u64, u64)>> {
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

pub(super) fn is_zero(data: &[u8]) -> bool {
    // Sixteen bytes at a time: this runs over every data chunk of every snapshot.
    let mut words = data.chunks_exact(16);
    words
        .by_ref()
        .all(|w| u128::from_ne_bytes(w.try_into().expect("16-byte chunk")) == 0)
        && words.remainder().iter().all(|&b| b == 0)
}

/// Writes only the non-zero `RESTORE_BLOCK`s of `data`, leaving holes for the rest.
pub(super) fn write_nonzero(out: &File, data: &[u8], offset: u64) -> io::Result<()> {
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

pub(super) fn unique_suffix() -> String {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("-{}-{n}", std::process::id())
}

pub(super) fn write_synced(path: &Path, data: &[u8]) -> Result<(), ChunkError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_ctx("create", path))?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(io_ctx("write", path))
}

pub(super) fn sync_dir(dir: &Path) -> Result<(), ChunkError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_ctx("fsync directory", dir))
}

pub(super) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

pub(super) fn read_dir(dir: &Path) -> Result<fs::ReadDir, ChunkError> {
    fs::read_dir(dir).map_err(io_ctx("list", dir))
}

/// Removes a file and returns its size; a file already gone counts as zero.
pub(super) fn remove_counted(path: &Path) -> Result<u64, ChunkError> {
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
