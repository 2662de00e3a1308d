//! Who holds the guest paused. A pause is either *held* (`pause`, until a `resume`: the
//! operator's `vmm-ctl`, or a supervisor acting for a recorded operation that outlives
//! any one connection) or a *lease* (`pause-lease`: for as long as the asking connection
//! stays open). A process that pauses a guest for a copy and is killed mid-way closes its
//! connection with its death, which ends its lease: the guest cannot stay frozen because
//! its pauser went away. The guest runs again once nobody holds it.

use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

/// The pause's holders; the controller pauses and resumes the vCPUs as this says.
#[derive(Default)]
pub struct Holders {
    held: bool,
    leases: Vec<UnixStream>,
}

impl Holders {
    /// Whether nobody holds the guest paused.
    pub fn free(&self) -> bool {
        !self.held && self.leases.is_empty()
    }

    /// A `pause` until `resume`.
    pub fn hold(&mut self) {
        self.held = true;
    }

    /// `resume`: ends the held pause (leases still hold the guest); true if now free.
    pub fn release(&mut self) -> bool {
        self.held = false;
        self.free()
    }

    /// A lease for as long as `conn` stays open.
    pub fn lease(&mut self, conn: UnixStream) {
        self.leases.push(conn);
    }

    /// The lease on connection `fd`, if it is one.
    pub fn lease_of(&self, fd: RawFd) -> Option<&UnixStream> {
        self.leases.iter().find(|c| c.as_raw_fd() == fd)
    }

    /// Ends the lease on `fd` (its connection closed or asked to resume); returns the
    /// connection (to answer or deregister) and whether the guest is now free.
    pub fn end_lease(&mut self, fd: RawFd) -> Option<(UnixStream, bool)> {
        let i = self.leases.iter().position(|c| c.as_raw_fd() == fd)?;
        let conn = self.leases.swap_remove(i);
        Some((conn, self.free()))
    }

    /// Ends every pause: after a failed pause, nobody holds the guest.
    pub fn clear(&mut self) -> Vec<UnixStream> {
        self.held = false;
        std::mem::take(&mut self.leases)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guest_is_free_only_when_every_holder_has_gone() {
        let mut h = Holders::default();
        assert!(h.free());
        let (a, _a_peer) = UnixStream::pair().unwrap();
        let (b, _b_peer) = UnixStream::pair().unwrap();
        let (fa, fb) = (a.as_raw_fd(), b.as_raw_fd());
        h.lease(a);
        h.hold();
        h.lease(b);
        assert!(h.lease_of(fa).is_some());
        assert!(!h.release(), "two leases still hold it");
        assert!(!h.end_lease(fa).unwrap().1);
        assert!(h.end_lease(fa).is_none(), "ended twice");
        assert!(h.end_lease(fb).unwrap().1);
        assert!(h.free());
        h.hold();
        assert!(!h.free());
        assert!(h.clear().is_empty());
        assert!(h.free());
    }
}
