//! Host side of virtio-net: a Linux tap device, plus the scatter-gather list (`IoVecs`)
//! that moves frames between a host fd and guest memory without copying.
//!
//! The tap is opened with `IFF_VNET_HDR` and a 12-byte header size, so every frame read
//! from or written to it starts with a `virtio_net_hdr_v1`: exactly the layout the guest
//! driver puts in front of each frame. A guest buffer can therefore be handed to
//! `readv`/`writev` as is. Offloads are off (`TUNSETOFFLOAD` 0): the kernel then only
//! hands us complete, checksummed, non-GSO frames, matching the features we offer.

use std::fs::{File, OpenOptions};
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

use thiserror::Error;
use vm_memory::bitmap::BitmapSlice;
use vm_memory::VolatileSlice;

/// Size of `virtio_net_hdr_v1` (flags, gso_type, hdr_len, gso_size, csum_start,
/// csum_offset, num_buffers): the header in front of every frame on both sides.
pub const VNET_HDR_LEN: usize = 12;

/// Most segments one frame may be scattered over. Linux guests use at most
/// MAX_SKB_FRAGS + 2 (19) descriptors per packet; 64 leaves room and keeps `IoVecs`
/// (1 KiB) cheap to build on the stack for every frame.
pub const MAX_IOVS: usize = 64;

const TUN_PATH: &str = "/dev/net/tun";

/// Why a tap device could not be set up.
#[derive(Debug, Error)]
pub enum TapError {
    /// `/dev/net/tun` could not be opened.
    #[error("Cannot open {TUN_PATH} (load the tun module with `modprobe tun`, and run as root or give the process CAP_NET_ADMIN)")]
    OpenTun(#[source] io::Error),
    /// The name is not a valid interface name.
    #[error("Tap name {0:?} is not a valid interface name: use 1 to 15 bytes without '/', ':', whitespace or NUL.")]
    InvalidName(String),
    /// TUNSETIFF failed.
    #[error("Cannot create or attach tap {name} (run as root or give the process CAP_NET_ADMIN; if {name} already exists, make sure it is a tap, not tun, device owned by this user and not attached to another process)")]
    Attach {
        /// The tap.
        name: String,
        /// Why the kernel refused.
        #[source]
        source: io::Error,
    },
    /// TUNSETVNETHDRSZ failed.
    #[error("Tap {name} refused the 12-byte virtio-net header (the host kernel is too old for IFF_VNET_HDR: it needs Linux 2.6.32+)")]
    VnetHeader {
        /// The tap.
        name: String,
        /// Why the kernel refused.
        #[source]
        source: io::Error,
    },
    /// TUNSETOFFLOAD failed.
    #[error("Could not turn off offloads on tap {name} (this should not happen on a working tun driver; check `dmesg`)")]
    Offload {
        /// The tap.
        name: String,
        /// Why the kernel refused.
        #[source]
        source: io::Error,
    },
}

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags as a short, inside
/// a 40-byte union-padded struct (the size on 64-bit Linux).
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// An open tap device. Reads and writes carry one Ethernet frame each, prefixed by a
/// `VNET_HDR_LEN`-byte virtio-net header. The fd is non-blocking: poll it for
/// readability, and expect `WouldBlock` when the queue is empty.
#[derive(Debug)]
pub struct Tap {
    file: File,
    name: String,
}

impl Tap {
    /// Attaches to the tap `name`, creating it if it does not exist (a tap created
    /// here disappears when the fd is closed; pre-create it with `ip tuntap add` to
    /// keep it). The caller configures addresses, bridges and link state outside.
    pub fn open(name: &str) -> Result<Self, TapError> {
        let bytes = name.as_bytes();
        let valid = !bytes.is_empty()
            && bytes.len() < libc::IFNAMSIZ
            && !bytes
                .iter()
                .any(|&b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace());
        if !valid {
            return Err(TapError::InvalidName(name.to_owned()));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(TUN_PATH)
            .map_err(TapError::OpenTun)?;

        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: (libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as libc::c_short,
            _pad: [0; 22],
        };
        req.name[..bytes.len()].copy_from_slice(bytes);
        // SAFETY: TUNSETIFF reads and writes a `struct ifreq`; `req` is a live, properly
        // sized (40 bytes) and NUL-terminated one, and the fd is the tun device we own.
        let r = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) };
        if r < 0 {
            return Err(TapError::Attach {
                name: name.to_owned(),
                source: io::Error::last_os_error(),
            });
        }

        let hdr_len = VNET_HDR_LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer, which points to a
        // live local.
        let r = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETVNETHDRSZ, &hdr_len) };
        if r < 0 {
            return Err(TapError::VnetHeader {
                name: name.to_owned(),
                source: io::Error::last_os_error(),
            });
        }

        // No TUN_F_* bits: the kernel segments and checksums everything before it
        // reaches us, because we offer the guest no checksum or GSO offloads.
        // SAFETY: TUNSETOFFLOAD takes its argument by value; no memory is passed.
        let r = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETOFFLOAD, 0 as libc::c_ulong) };
        if r < 0 {
            return Err(TapError::Offload {
                name: name.to_owned(),
                source: io::Error::last_os_error(),
            });
        }
        // The kernel writes back the real name, which differs from ours if we gave a
        // template such as "tap%d".
        let len = req
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(req.name.len());
        let name = String::from_utf8_lossy(&req.name[..len]).into_owned();
        Ok(Self { file, name })
    }

    /// The interface name the kernel assigned (the one given to `open`, or what a
    /// template like "tap%d" expanded to).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads one frame (header included) into `iovs` and returns the bytes stored.
    /// A frame longer than the list is cut to fit and the rest discarded; the tap does
    /// not report the real length, so end the list with a spare slot
    /// (`push_host_mut`) to detect that.
    pub fn read_frame(&self, iovs: &IoVecs<'_>) -> io::Result<usize> {
        readv(self.file.as_raw_fd(), iovs)
    }

    /// Writes one frame (header included) gathered from `iovs`.
    pub fn write_frame(&self, iovs: &IoVecs<'_>) -> io::Result<usize> {
        writev(self.file.as_raw_fd(), iovs)
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Returned by `IoVecs::push` when a frame is scattered over more than `MAX_IOVS`
/// segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManySegments;

/// A fixed-size scatter-gather list over memory borrowed for `'a` (guest memory
/// slices, or small host buffers such as a header). It lives on the stack, so building
/// one per frame costs no heap allocation.
///
/// Only safe code can add entries, and each entry comes from a borrow that outlives
/// the list, so handing `as_raw()` to readv/writev cannot touch freed memory.
pub struct IoVecs<'a> {
    iovs: [libc::iovec; MAX_IOVS],
    len: usize,
    bytes: usize,
    /// Set once a `push_host` (read-only) entry is in the list: reading into the list
    /// is then refused, since the kernel would write through a shared borrow.
    read_only: bool,
    _borrow: PhantomData<&'a [u8]>,
}

impl Default for IoVecs<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> IoVecs<'a> {
    /// An empty list.
    pub fn new() -> Self {
        Self {
            iovs: [libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            }; MAX_IOVS],
            len: 0,
            bytes: 0,
            read_only: false,
            _borrow: PhantomData,
        }
    }

    /// Appends a guest memory slice; the backend may read from or write into it.
    /// Writes bypass the slice's dirty bitmap, if any (our guest memory has none).
    pub fn push<B: BitmapSlice>(
        &mut self,
        slice: &VolatileSlice<'a, B>,
    ) -> Result<(), TooManySegments> {
        // The guard only pins a mapping for Xen-style memory; our mmap backend maps
        // all guest memory for the GuestMemory's lifetime, which `'a` borrows, so the
        // pointer stays valid after the guard is dropped.
        let guard = slice.ptr_guard_mut();
        self.push_raw(guard.as_ptr(), guard.len())
    }

    /// Appends a host buffer that the backend only reads (`writev`), e.g. a header.
    /// A list holding such an entry can only be written out: `readv` and
    /// `recv_datagram` refuse it.
    pub fn push_host(&mut self, buf: &'a [u8]) -> Result<(), TooManySegments> {
        self.push_raw(buf.as_ptr().cast_mut(), buf.len())?;
        self.read_only = true;
        Ok(())
    }

    /// Appends a host buffer the backend may write into (`readv`), e.g. a spare
    /// byte after a guest buffer that reveals an oversized frame.
    pub fn push_host_mut(&mut self, buf: &'a mut [u8]) -> Result<(), TooManySegments> {
        self.push_raw(buf.as_mut_ptr(), buf.len())
    }

    fn push_raw(&mut self, base: *mut u8, len: usize) -> Result<(), TooManySegments> {
        if len == 0 {
            return Ok(());
        }
        let slot = self.iovs.get_mut(self.len).ok_or(TooManySegments)?;
        *slot = libc::iovec {
            iov_base: base.cast(),
            iov_len: len,
        };
        self.len += 1;
        self.bytes += len;
        Ok(())
    }

    /// Total bytes the list covers.
    pub fn capacity(&self) -> usize {
        self.bytes
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entries, for writev/sendmsg. Only the read helpers in this module may
    /// let the kernel write through them, after checking `writable_raw`.
    pub fn as_raw(&self) -> &[libc::iovec] {
        &self.iovs[..self.len]
    }

    /// The entries, if every one of them may be written into.
    fn writable_raw(&self) -> io::Result<&[libc::iovec]> {
        if self.read_only {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        Ok(self.as_raw())
    }
}

/// Turns a syscall's byte count into `io::Result`, retrying the caller on EINTR.
fn check(n: isize) -> Option<io::Result<usize>> {
    if n >= 0 {
        return Some(Ok(n as usize));
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::Interrupted {
        None
    } else {
        Some(Err(e))
    }
}

/// `readv` into `iovs`: one frame from a tap, cut to the list's capacity.
pub fn readv(fd: RawFd, iovs: &IoVecs<'_>) -> io::Result<usize> {
    let raw = iovs.writable_raw()?;
    loop {
        // SAFETY: every entry of `raw` points to memory borrowed for the lifetime of
        // `iovs` (see `IoVecs`), and `writable_raw` checked that none is a shared
        // host borrow; `raw.len() <= MAX_IOVS`, far below IOV_MAX, so the count fits.
        let n = unsafe { libc::readv(fd, raw.as_ptr(), raw.len() as libc::c_int) };
        if let Some(r) = check(n) {
            return r;
        }
    }
}

/// `writev` from `iovs`; one call is one frame on a tap or datagram socket.
pub fn writev(fd: RawFd, iovs: &IoVecs<'_>) -> io::Result<usize> {
    let raw = iovs.as_raw();
    loop {
        // SAFETY: every entry points to memory borrowed for the lifetime of `iovs`;
        // writev only reads it.
        let n = unsafe { libc::writev(fd, raw.as_ptr(), raw.len() as libc::c_int) };
        if let Some(r) = check(n) {
            return r;
        }
    }
}

/// `recvmsg(MSG_TRUNC)` into `iovs`: one datagram, cut to the list's capacity;
/// returns its full length even if it was cut.
pub fn recv_datagram(fd: RawFd, iovs: &IoVecs<'_>) -> io::Result<usize> {
    let raw = iovs.writable_raw()?;
    // SAFETY: msghdr is plain data; all-zero is a valid "no name, no control" value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = raw.as_ptr().cast_mut();
    msg.msg_iovlen = raw.len() as _;
    loop {
        // SAFETY: `msg` points to `raw` (live, writable memory as for `readv`) and to
        // no name or control buffer; the kernel only writes into the iovecs and the
        // msg_flags field of the live local `msg`.
        let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_TRUNC | libc::MSG_DONTWAIT) };
        if let Some(r) = check(n) {
            return r;
        }
    }
}
