//! Passing an open descriptor along with a message on a Unix socket (SCM_RIGHTS): how a
//! jailed VMM gets the disks it cannot open, and how the metadata worker hands its
//! supervisor the guest connection a query came on.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};

/// Sends `bytes` on the socket `sock` with `passed` along; returns how many bytes went
/// (a stream socket may take fewer; the descriptor went with the first).
pub fn send(sock: RawFd, bytes: &[u8], passed: RawFd, flags: MsgFlags) -> io::Result<usize> {
    let fds = [passed];
    Ok(socket::sendmsg::<()>(
        sock,
        &[io::IoSlice::new(bytes)],
        &[ControlMessage::ScmRights(&fds)],
        flags,
        None,
    )?)
}

/// Receives into `buf` from `sock`: the byte count `recvmsg` gives (with `MSG_TRUNC` in
/// `flags`, a message's whole length) and the first descriptor that came with it, closed
/// on exec; any more are closed.
pub fn recv(sock: RawFd, buf: &mut [u8], flags: MsgFlags) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [io::IoSliceMut::new(buf)];
    let msg = socket::recvmsg::<()>(
        sock,
        &mut iov,
        Some(&mut space),
        flags | MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut passed = None;
    for c in msg.cmsgs().into_iter().flatten() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for raw in fds {
                // SAFETY: SCM_RIGHTS made `raw` a new descriptor of this process that
                // nothing else owns; wrapping it closes it (or keeps it) exactly once.
                let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                passed.get_or_insert(owned);
            }
        }
    }
    Ok((msg.bytes, passed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_descriptor_travels_with_its_message() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let file = tempfile::tempfile().unwrap();
        assert_eq!(
            send(a.as_raw_fd(), b"hi", file.as_raw_fd(), MsgFlags::empty()).unwrap(),
            2
        );
        let mut buf = [0u8; 8];
        let (n, fd) = recv(b.as_raw_fd(), &mut buf, MsgFlags::empty()).unwrap();
        assert_eq!(&buf[..n], b"hi");
        let got = std::fs::File::from(fd.expect("the descriptor came"));
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            got.metadata().unwrap().ino(),
            file.metadata().unwrap().ino()
        );
    }
}
