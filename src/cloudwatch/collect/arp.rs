//! The instance reachability check, as EC2 makes it: an ARP request to the instance's
//! private address on its network, answered in time or not. The host asks from the VPC
//! bridge (sender: the bridge's MAC and the subnet's gateway address, which the
//! firewall's bridge table lets out to taps, and whose replies from the ENI's own MAC and
//! address it lets in). One raw packet socket sends every request of a tick, then waits
//! for the replies together, so a silent guest costs the tick one timeout, not one each.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// One instance's interface to ask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArpTarget {
    /// The VPC's bridge.
    pub bridge: String,
    /// The subnet's gateway address on the bridge (the request's sender).
    pub sender_ip: Ipv4Addr,
    /// The instance's private address.
    pub target_ip: Ipv4Addr,
}

const ETH_P_ARP: u16 = 0x0806;

fn mac_of(ifname: &str) -> io::Result<[u8; 6]> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{ifname}/address"))?;
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = text.trim().split(':').collect();
    if parts.len() != 6 {
        return Err(io::Error::other(format!("{ifname} has no MAC address")));
    }
    for (b, p) in mac.iter_mut().zip(parts) {
        *b = u8::from_str_radix(p, 16).map_err(io::Error::other)?;
    }
    Ok(mac)
}

fn ifindex(ifname: &str) -> io::Result<i32> {
    let name = std::ffi::CString::new(ifname).map_err(io::Error::other)?;
    // SAFETY: `name` is a valid NUL-terminated string that if_nametoindex only reads.
    let i = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if i == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i as i32)
    }
}

/// "Who has `target`? Tell `sender`", broadcast, padded to Ethernet's minimum.
fn request(mac: [u8; 6], sender: Ipv4Addr, target: Ipv4Addr) -> [u8; 60] {
    let mut f = [0u8; 60];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    // Ethernet, IPv4, 6-byte MACs, 4-byte addresses, op 1 (request).
    f[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&sender.octets());
    f[38..42].copy_from_slice(&target.octets());
    f
}

/// The sender address of an ARP reply frame, if it is one.
fn reply_sender(frame: &[u8]) -> Option<Ipv4Addr> {
    if frame.len() < 42 || frame[12..14] != ETH_P_ARP.to_be_bytes() || frame[20..22] != [0, 2] {
        return None;
    }
    Some(Ipv4Addr::new(frame[28], frame[29], frame[30], frame[31]))
}

fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the fd is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            i32::from(ETH_P_ARP.to_be()),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn send(fd: &OwnedFd, ifindex: i32, frame: &[u8]) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data, valid all-zero.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = ETH_P_ARP.to_be();
    addr.sll_ifindex = ifindex;
    addr.sll_halen = 6;
    addr.sll_addr[..6].copy_from_slice(&frame[..6]);
    // SAFETY: `frame` and `addr` are valid for the lengths passed; the fd is open.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Asks every target once and waits up to `timeout` for the replies; `answered[i]` says
/// whether target `i` replied. A target whose bridge is gone counts as unanswered.
pub fn probe(targets: &[ArpTarget], timeout: Duration) -> io::Result<Vec<bool>> {
    let mut answered = vec![false; targets.len()];
    if targets.is_empty() {
        return Ok(answered);
    }
    let fd = packet_socket()?;
    let mut sent = 0;
    for t in targets {
        let Ok((index, mac)) = ifindex(&t.bridge).and_then(|i| Ok((i, mac_of(&t.bridge)?))) else {
            continue;
        };
        if send(&fd, index, &request(mac, t.sender_ip, t.target_ip)).is_ok() {
            sent += 1;
        }
    }
    let end = Instant::now() + timeout;
    let mut buf = [0u8; 128];
    while sent > 0 && answered.iter().any(|a| !a) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let wait = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        if poll(&mut fds, wait).map_or(true, |n| n == 0) {
            continue;
        }
        loop {
            // SAFETY: `buf` is valid for writes of its length; the fd is open.
            let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n <= 0 {
                break;
            }
            if let Some(from) = reply_sender(&buf[..n as usize]) {
                for (t, a) in targets.iter().zip(answered.iter_mut()) {
                    *a |= t.target_ip == from;
                }
            }
        }
    }
    Ok(answered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_have_arps_layout() {
        let mac = [2, 0, 0, 0, 0, 1];
        let f = request(mac, Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(&f[12..14], &[8, 6]);
        assert_eq!(&f[38..42], &[10, 0, 0, 9]);
        assert_eq!(reply_sender(&f), None, "a request is not a reply");
        let mut r = f;
        r[21] = 2;
        r[28..32].copy_from_slice(&[10, 0, 0, 9]);
        assert_eq!(reply_sender(&r), Some(Ipv4Addr::new(10, 0, 0, 9)));
    }

    #[test]
    fn nothing_to_ask_is_answered_at_once() {
        assert!(probe(&[], Duration::from_secs(1)).unwrap().is_empty());
    }
}
