//! A snapshot's manifest (which chunk is at which index) and what taking it cost.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{io_ctx, ChunkError};
use super::hash::ChunkHash;

/// The manifest format this module writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// Largest chunk size a manifest may declare: bounds the buffer a restore allocates.
const MAX_CHUNK_SIZE: u64 = 64 * 1024 * 1024;

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

pub(super) fn load_manifest(path: &Path) -> Result<Manifest, ChunkError> {
    let bytes = fs::read(path).map_err(io_ctx("read manifest", path))?;
    let bad = |reason: String| ChunkError::BadManifest {
        path: path.to_path_buf(),
        reason,
    };
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    manifest.validate().map_err(bad)?;
    Ok(manifest)
}
