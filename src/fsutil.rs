//! File operations the control plane needs on disk images: sparse copies (so an 8 GiB
//! image with 60 MiB of data copies 60 MiB), links for immutable files, atomic writes.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::errno::Errno;
use nix::unistd::{lseek, Whence};

/// Copies `src` to `dst` keeping holes: only the data extents are read and written.
/// `dst` is written under a temporary name and renamed, so it is whole or absent.
pub fn sparse_copy(src: &Path, dst: &Path) -> io::Result<u64> {
    let tmp = dst.with_extension("partial");
    let result = sparse_copy_to(src, &tmp).and_then(|n| {
        rename_durably(&tmp, dst)?;
        Ok(n)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn sparse_copy_to(src: &Path, dst: &Path) -> io::Result<u64> {
    let input = File::open(src)?;
    let len = input.metadata()?.len();
    let output = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(dst)?;
    output.set_len(len)?;
    let mut copied = 0u64;
    let mut pos: i64 = 0;
    while (pos as u64) < len {
        let data = match lseek(&input, pos, Whence::SeekData) {
            Ok(data) => data,
            Err(Errno::ENXIO) => break, // only a hole remains
            Err(e) => return Err(e.into()),
        };
        let hole = lseek(&input, data, Whence::SeekHole)?;
        // std copies one file into another with copy_file_range, inside the kernel.
        let (mut from, mut to) = (&input, &output);
        from.seek(SeekFrom::Start(data as u64))?;
        to.seek(SeekFrom::Start(data as u64))?;
        copied += io::copy(&mut from.take((hole - data) as u64), &mut to)?;
        pos = hole;
    }
    output.sync_all()?;
    Ok(copied)
}

/// Renames `from` to `to` and fsyncs the directory holding `to`, so that after a crash
/// of the host the new name is there (a rename alone lives in the directory's page
/// cache until the file system commits it).
pub fn rename_durably(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::rename(from, to)?;
    sync_dir(to.parent().unwrap_or(Path::new(".")))
}

/// fsyncs a directory: the names created, renamed or removed in it are on disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()
}

/// Hard-links `src` to `dst` (same file system), or copies it. For files never written
/// after they are made (kernels, AMI images).
pub fn link_or_copy(src: &Path, dst: &Path) -> io::Result<()> {
    let _ = std::fs::remove_file(dst);
    match std::fs::hard_link(src, dst) {
        Ok(()) => Ok(()),
        Err(_) => sparse_copy(src, dst).map(|_| ()),
    }
}

/// Opens `path` for reading only if it is a plain file and not a link: for files in a
/// directory a jailed VMM owns, which it could have swapped for a link to a host file.
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    checked_plain(
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)?,
    )
}

/// [`open_nofollow`] for appending, creating the file if it is missing.
pub fn append_nofollow(path: &Path) -> io::Result<File> {
    checked_plain(
        OpenOptions::new()
            .create(true)
            .append(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)?,
    )
}

/// The whole file at `path`, read as [`open_nofollow`] opens it.
pub fn read_nofollow(path: &Path) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    open_nofollow(path)?.read_to_end(&mut out)?;
    Ok(out)
}

fn checked_plain(f: File) -> io::Result<File> {
    if f.metadata()?.is_file() {
        Ok(f)
    } else {
        Err(io::Error::other("not a plain file"))
    }
}

/// Writes `data` to `path` through a temporary file and a rename. The temporary name is
/// the writer's own (process and call), so processes writing one path at once (two
/// commands recording the same owner) each rename a whole file, and the last one wins.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}-{n}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let result = std::fs::write(&tmp, data)
        .and_then(|()| File::open(&tmp)?.sync_all())
        .and_then(|()| rename_durably(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    #[test]
    fn concurrent_atomic_writes_of_one_path_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owner");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        write_atomic(&path, format!("writer {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("writer "), "{text}");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn sparse_copy_keeps_data_and_holes() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.img");
        let mut f = File::create(&src).unwrap();
        f.set_len(64 << 20).unwrap();
        f.seek(SeekFrom::Start(1 << 20)).unwrap();
        f.write_all(b"first").unwrap();
        f.seek(SeekFrom::Start(40 << 20)).unwrap();
        f.write_all(b"second").unwrap();
        drop(f);
        let dst = dir.path().join("dst.img");
        let copied = sparse_copy(&src, &dst).unwrap();
        assert!(
            copied < 1 << 20,
            "copied {copied} bytes of a mostly empty image"
        );
        assert_eq!(std::fs::read(&src).unwrap(), std::fs::read(&dst).unwrap());
        let blocks = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(&dst).unwrap().blocks()
        };
        assert!(blocks * 512 < 1 << 20, "destination is not sparse");
    }
}
