//! Why a chunk store operation failed.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::hash::ChunkHash;

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
pub(super) fn io_ctx<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> ChunkError + use<'a> {
    move |source| ChunkError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
