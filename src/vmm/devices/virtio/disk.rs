//! The raw disk image (regular file or host block device) behind a virtio-blk device.
//!
//! I/O goes straight between the file and guest memory with `pread`/`pwrite` on the
//! host mapping, so a request needs no intermediate buffer.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use thiserror::Error;
use vm_memory::bitmap::BitmapSlice;
use vm_memory::VolatileSlice;

/// virtio-blk always addresses the disk in 512-byte sectors.
pub const SECTOR_SIZE: u64 = 512;

/// Why a disk image cannot back a virtio-blk device.
#[derive(Debug, Error)]
pub enum BlockError {
    /// The path does not exist.
    #[error("Disk image {0} does not exist; check the --disk path.")]
    NotFound(PathBuf),
    /// The process may not open it the way it was asked.
    #[error("No permission to open disk image {path} for {mode}; fix its permissions, or attach it read-only with `--disk {path},ro`.", mode = if *read_only { "reading" } else { "reading and writing" })]
    PermissionDenied {
        /// The image.
        path: PathBuf,
        /// Whether it was to be opened read-only.
        read_only: bool,
    },
    /// The path is neither a regular file nor a block device.
    #[error("{0} is not a regular file or block device; point --disk at a raw disk image.")]
    NotADisk(PathBuf),
    /// Opening it failed otherwise.
    #[error("Could not open disk image {path} (check that the path is a readable raw image)")]
    Open {
        /// The image.
        path: PathBuf,
        /// Why it could not be opened.
        #[source]
        source: io::Error,
    },
    /// Its size could not be read.
    #[error("Could not determine the size of disk image {path}")]
    Size {
        /// The image.
        path: PathBuf,
        /// Why the size could not be read.
        #[source]
        source: io::Error,
    },
    /// Its size is not a whole number of sectors.
    #[error("Disk image {path} is {size} bytes, which is not a whole number of 512-byte sectors; pad it with `truncate -s %512 {path}`.")]
    UnalignedSize {
        /// The image.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// Another process holds the disk's lock: two VMMs must never write one disk.
    #[error(
        "Disk image {path} is in use: another process (another VMM) holds its lock. Two \
         VMMs must never use one writable disk; stop the other one (fuser -v {path} names \
         it), then try again"
    )]
    Locked {
        /// The image.
        path: PathBuf,
    },
    /// The serial is longer than virtio-blk allows.
    #[error("Disk serial {serial:?} is {len} bytes long; virtio-blk serials hold at most 20 bytes. Use a shorter serial.", len = serial.len())]
    SerialTooLong {
        /// The serial asked for.
        serial: String,
    },
}

/// An open raw disk image.
#[derive(Debug)]
pub struct DiskFile {
    file: File,
    sectors: u64,
    read_only: bool,
}

impl DiskFile {
    /// Opens `path` as a raw disk, read-only if asked (the `,ro` of `--disk PATH,ro`).
    pub fn open(path: impl AsRef<Path>, read_only: bool) -> Result<Self, BlockError> {
        let path = path.as_ref().to_path_buf();
        let meta = std::fs::metadata(&path).map_err(|e| open_error(&path, read_only, e))?;
        let kind = meta.file_type();
        if !kind.is_file() && !kind.is_block_device() {
            return Err(BlockError::NotADisk(path));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(&path)
            .map_err(|e| open_error(&path, read_only, e))?;
        Self::from_file(file, &path, read_only)
    }

    /// A disk the caller opened (a jailed VMM gets its hot-attached disks as descriptors,
    /// never by path); `path` only names it in messages. Locked as [`DiskFile::open`] does.
    pub fn from_file(file: File, path: &Path, read_only: bool) -> Result<Self, BlockError> {
        let kind = file
            .metadata()
            .map_err(|e| open_error(path, read_only, e))?
            .file_type();
        if !kind.is_file() && !kind.is_block_device() {
            return Err(BlockError::NotADisk(path.into()));
        }
        lock(&file, path, read_only)?;
        Self::sized(file, path.into(), read_only)
    }

    /// The same open disk again (sharing its lock), with its size read anew: a volume
    /// that grew, reopened by the VMM that holds it.
    pub fn reopened(&self, path: &Path) -> Result<Self, BlockError> {
        let file = self.file.try_clone().map_err(|source| BlockError::Open {
            path: path.into(),
            source,
        })?;
        Self::sized(file, path.into(), self.read_only)
    }

    /// Whether `path` names the file this disk has open.
    pub fn is_file(&self, path: &Path) -> bool {
        self.is_inode_of(std::fs::metadata(path))
    }

    /// Whether `other` is the very file (device and inode) this disk has open.
    pub fn is_same(&self, other: &File) -> bool {
        self.is_inode_of(other.metadata())
    }

    fn is_inode_of(&self, other: io::Result<std::fs::Metadata>) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (self.file.metadata(), other) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }

    fn sized(mut file: File, path: PathBuf, read_only: bool) -> Result<Self, BlockError> {
        // Seeking to the end gives the size of block devices too, where metadata says 0.
        let size = file
            .seek(SeekFrom::End(0))
            .map_err(|source| BlockError::Size {
                path: path.clone(),
                source,
            })?;
        // Refuse rather than round down: silently hiding a tail of the image from the
        // guest would look like data loss.
        if !size.is_multiple_of(SECTOR_SIZE) {
            return Err(BlockError::UnalignedSize { path, size });
        }
        Ok(Self {
            file,
            sectors: size / SECTOR_SIZE,
            read_only,
        })
    }

    /// Capacity in 512-byte sectors.
    pub fn sectors(&self) -> u64 {
        self.sectors
    }

    /// Whether the guest may only read the disk.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Fills guest memory `dst` from the disk at byte `offset`.
    pub fn read_into<B: BitmapSlice>(&self, offset: u64, dst: &VolatileSlice<B>) -> io::Result<()> {
        let guard = dst.ptr_guard_mut();
        let (ptr, len) = (guard.as_ptr(), guard.len());
        let mut done = 0;
        while done < len {
            let off = file_offset(offset, done)?;
            // SAFETY: `ptr..ptr+len` is a live mapping of guest memory kept valid by the
            // guard (and the GuestMemory the caller borrows); `done < len`, so the range
            // passed to pread lies inside it. The kernel writes into it like a DMA
            // engine would; volatile semantics are what guest memory already assumes.
            let n = unsafe {
                libc::pread(self.file.as_raw_fd(), ptr.add(done).cast(), len - done, off)
            };
            done += check_io(n)?;
        }
        Ok(())
    }

    /// Writes guest memory `src` to the disk at byte `offset`.
    pub fn write_from<B: BitmapSlice>(
        &self,
        offset: u64,
        src: &VolatileSlice<B>,
    ) -> io::Result<()> {
        let guard = src.ptr_guard();
        let (ptr, len) = (guard.as_ptr(), guard.len());
        let mut done = 0;
        while done < len {
            let off = file_offset(offset, done)?;
            // SAFETY: as in `read_into`: the guard keeps `ptr..ptr+len` mapped and
            // `done < len`; pwrite only reads that range.
            let n = unsafe {
                libc::pwrite(self.file.as_raw_fd(), ptr.add(done).cast(), len - done, off)
            };
            done += check_io(n)?;
        }
        Ok(())
    }

    /// Makes completed writes durable (the guest's FLUSH).
    pub fn flush(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

fn open_error(path: &Path, read_only: bool, e: io::Error) -> BlockError {
    let path = path.to_path_buf();
    match e.kind() {
        io::ErrorKind::NotFound => BlockError::NotFound(path),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            BlockError::PermissionDenied { path, read_only }
        }
        io::ErrorKind::IsADirectory => BlockError::NotADisk(path),
        _ => BlockError::Open { path, source: e },
    }
}

/// Locks an opened disk for this VMM: exclusively when it writes, shared when it only
/// reads (`flock`, tied to the open file, so it ends with the VMM, even a killed one).
fn lock(file: &File, path: &Path, read_only: bool) -> Result<(), BlockError> {
    let op = if read_only {
        libc::LOCK_SH
    } else {
        libc::LOCK_EX
    };
    // SAFETY: flock on a descriptor this function borrows open; no memory is passed.
    if unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) } == 0 {
        return Ok(());
    }
    let source = io::Error::last_os_error();
    Err(match source.kind() {
        io::ErrorKind::WouldBlock => BlockError::Locked { path: path.into() },
        _ => BlockError::Open {
            path: path.into(),
            source,
        },
    })
}

fn file_offset(base: u64, done: usize) -> io::Result<libc::off_t> {
    base.checked_add(done as u64)
        .and_then(|o| libc::off_t::try_from(o).ok())
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Turns a pread/pwrite return into bytes transferred. EOF mid-request means the
/// image shrank under us; report it rather than loop forever. EINTR is retried.
fn check_io(n: isize) -> io::Result<usize> {
    match n {
        0 => Err(io::ErrorKind::UnexpectedEof.into()),
        n if n > 0 => Ok(n as usize),
        _ => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(0)
            } else {
                Err(e)
            }
        }
    }
}
