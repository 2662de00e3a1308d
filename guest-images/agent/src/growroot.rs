//! Grows the root file system to fill its volume, as cloud-init's growpart and resizefs do
//! on EC2 when an instance's root volume is larger than its AMI's image: here the root is
//! ext4 on the whole disk (no partition table), so one online resize does it,
//! `EXT4_IOC_RESIZE_FS` on the mounted root, with no extra program. Every boot checks (a
//! volume can be made larger while the instance is stopped); when the file system already
//! fills the disk nothing is written. Only the root is touched: volumes attached later
//! keep their file systems as they are. The agent grows it in its background child, after
//! the ready marker and before the user data (see main.rs): on one emulated vCPU the resize
//! (about 20 s here for 64 MiB to 8 GiB) would otherwise hold up sshd.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// `_IOW('f', 16, __u64)`, from include/uapi/linux/ext4.h.
const EXT4_IOC_RESIZE_FS: u64 = 0x4008_6610;
const EXT4_SUPER_MAGIC: u16 = 0xEF53;
/// `s_feature_incompat & EXT4_FEATURE_INCOMPAT_64BIT`: the high half of the block count.
const INCOMPAT_64BIT: u32 = 0x80;

extern "C" {
    fn ioctl(fd: i32, req: u64, ...) -> i32;
}

/// The ext4 fields that matter here, from the superblock (1024 bytes at offset 1024).
#[derive(Debug, PartialEq, Eq)]
pub struct Super {
    pub block_size: u64,
    pub blocks: u64,
}

/// Parses an ext4 superblock; None if it is not one.
pub fn parse_super(sb: &[u8]) -> Option<Super> {
    let u32_at = |o: usize| Some(u32::from_le_bytes(sb.get(o..o + 4)?.try_into().ok()?));
    let magic = u16::from_le_bytes(sb.get(0x38..0x3a)?.try_into().ok()?);
    if magic != EXT4_SUPER_MAGIC {
        return None;
    }
    let log = u32_at(0x18)?;
    if log > 6 {
        return None;
    }
    let mut blocks = u64::from(u32_at(0x04)?);
    if u32_at(0x60)? & INCOMPAT_64BIT != 0 {
        blocks |= u64::from(u32_at(0x150)?) << 32;
    }
    Some(Super {
        block_size: 1024 << log,
        blocks,
    })
}

/// The root file system's block device: `major:minor` from /proc/self/mountinfo, its
/// node from sysfs (the kernel mounted it as /dev/root, which has no node).
fn root_device() -> Result<(PathBuf, u64), String> {
    let info = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
    let majmin = info
        .lines()
        .rev()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .filter(|f| f.get(4) == Some(&"/"))
        .find_map(|f| f.get(2).map(|s| s.to_string()))
        .ok_or("no root file system in /proc/self/mountinfo")?;
    let sys = Path::new("/sys/dev/block").join(&majmin);
    let uevent = fs::read_to_string(sys.join("uevent")).map_err(|e| format!("{majmin}: {e}"))?;
    let name = uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVNAME="))
        .ok_or_else(|| format!("{majmin}: no DEVNAME"))?;
    let sectors: u64 = fs::read_to_string(sys.join("size"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("{majmin}: no size"))?;
    Ok((Path::new("/dev").join(name), sectors * 512))
}

/// A growth to do: the root's size now and the blocks it is to have.
#[derive(Debug, PartialEq, Eq)]
pub struct Grow {
    pub from_bytes: u64,
    pub blocks: u64,
    pub block_size: u64,
}

/// Whether the root file system is smaller than its disk (a superblock read, cheap).
pub fn plan() -> Result<Option<Grow>, String> {
    let (dev, disk_bytes) = root_device()?;
    let mut sb = vec![0u8; 1024];
    File::open(&dev)
        .and_then(|mut f| {
            f.seek(SeekFrom::Start(1024))?;
            f.read_exact(&mut sb)
        })
        .map_err(|e| format!("{}: reading the superblock: {e}", dev.display()))?;
    let s = parse_super(&sb).ok_or_else(|| format!("{}: not ext4", dev.display()))?;
    let want = disk_bytes / s.block_size;
    Ok((want > s.blocks).then_some(Grow {
        from_bytes: s.blocks * s.block_size,
        blocks: want,
        block_size: s.block_size,
    }))
}

/// Grows the mounted root file system online; the new size in bytes.
pub fn apply(g: &Grow) -> Result<u64, String> {
    let root = File::open("/").map_err(|e| format!("open /: {e}"))?;
    // SAFETY: EXT4_IOC_RESIZE_FS reads one u64 through the pointer, which lives for the call.
    let rc = unsafe {
        ioctl(
            root.as_raw_fd(),
            EXT4_IOC_RESIZE_FS,
            &g.blocks as *const u64,
        )
    };
    if rc < 0 {
        return Err(format!(
            "EXT4_IOC_RESIZE_FS to {} blocks: {}",
            g.blocks,
            std::io::Error::last_os_error()
        ));
    }
    Ok(g.blocks * g.block_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn superblock_fields() {
        let mut sb = vec![0u8; 1024];
        sb[0x38..0x3a].copy_from_slice(&EXT4_SUPER_MAGIC.to_le_bytes());
        sb[0x18..0x1c].copy_from_slice(&2u32.to_le_bytes()); // 4096-byte blocks
        sb[0x04..0x08].copy_from_slice(&16384u32.to_le_bytes());
        assert_eq!(
            parse_super(&sb),
            Some(Super {
                block_size: 4096,
                blocks: 16384
            })
        );
        sb[0x60..0x64].copy_from_slice(&INCOMPAT_64BIT.to_le_bytes());
        sb[0x150..0x154].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(parse_super(&sb).unwrap().blocks, (1 << 32) + 16384);
        sb[0x38] = 0;
        assert_eq!(parse_super(&sb), None);
    }
}
