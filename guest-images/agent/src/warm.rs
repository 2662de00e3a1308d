//! Warm launches: a guest booted with `ec2lab.warm=1` is a template. The agent makes it
//! ready to be copied (root grown, everything on disk), says `EC2LAB-WARM-WAIT` on the
//! console and blocks reading one line from it. The host snapshots the machine there; every
//! guest restored from that snapshot (and the template's own first instance) then gets its
//! identity on the serial line, before anything instance-specific has run:
//!
//! `EC2LAB-IDENTITY v=1 id=i-… mac=02:… addr=10.0.0.5/20 gw=10.0.0.1 host=ip-10-0-0-5
//! time=<unix ms> seed=<128 hex digits>`
//!
//! The agent sets the interface's MAC, address and default route, the hostname and the
//! wall clock, and mixes the host's random bytes into the kernel's pool and reseeds it:
//! restored guests start with one pool state, and must never draw the same bytes after.
//! The terminal's echo is off while the line is read, so the seed never reaches the
//! console log (which `get-console-output` shows).

use std::ffi::{c_int, c_long, c_ulong, c_ushort, c_void};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

/// What the agent prints when it waits; the host snapshots on it.
pub const WAIT_MARKER: &str = "EC2LAB-WARM-WAIT";
const LINE_PREFIX: &str = "EC2LAB-IDENTITY ";
const SEED_LEN: usize = 64;

/// One guest's identity, from the host.
#[derive(Debug, PartialEq, Eq)]
pub struct Identity {
    /// The instance id (for the console line only: the metadata service is the source).
    pub instance_id: String,
    /// The primary interface's MAC.
    pub mac: [u8; 6],
    /// Its private address and prefix length.
    pub addr: Ipv4Addr,
    /// The prefix length.
    pub prefix: u8,
    /// The subnet's gateway.
    pub gateway: Ipv4Addr,
    /// The hostname until the metadata service gives the full one.
    pub hostname: String,
    /// The wall clock, milliseconds since the epoch.
    pub time_ms: u64,
    /// Random bytes from the host.
    pub seed: Vec<u8>,
}

/// True if this boot is a template's (`ec2lab.warm=1` on the kernel command line).
pub fn requested(cmdline: &str) -> bool {
    cmdline.split_whitespace().any(|w| w == "ec2lab.warm=1")
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("identity line: {what}"))
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok().filter(|_| p.len() == 2))
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Reads `EC2LAB-IDENTITY …` (without its line end).
pub fn parse(line: &str) -> io::Result<Identity> {
    let rest = line
        .trim()
        .strip_prefix(LINE_PREFIX)
        .ok_or_else(|| bad("no EC2LAB-IDENTITY prefix"))?;
    let field = |k: &str| {
        rest.split_whitespace()
            .find_map(|w| w.strip_prefix(k)?.strip_prefix('='))
            .ok_or_else(|| bad(&format!("no {k}=")))
    };
    if field("v")? != "1" {
        return Err(bad("unknown version"));
    }
    let (addr, prefix) = field("addr")?
        .split_once('/')
        .ok_or_else(|| bad("addr= is not ADDRESS/PREFIX"))?;
    let prefix: u8 = prefix.parse().map_err(|_| bad("bad prefix"))?;
    if prefix > 32 {
        return Err(bad("bad prefix"));
    }
    let seed = parse_hex(field("seed")?).ok_or_else(|| bad("seed= is not hex"))?;
    if seed.len() < SEED_LEN {
        return Err(bad("seed= is too short"));
    }
    Ok(Identity {
        instance_id: field("id")?.to_string(),
        mac: parse_mac(field("mac")?).ok_or_else(|| bad("bad mac="))?,
        addr: addr.parse().map_err(|_| bad("bad addr="))?,
        prefix,
        gateway: field("gw")?.parse().map_err(|_| bad("bad gw="))?,
        hostname: field("host")?.to_string(),
        time_ms: field("time")?.parse().map_err(|_| bad("bad time="))?,
        seed,
    })
}

/// The kernel's `struct termios` as TCGETS/TCSETS pass it (4 flag words, c_line, 19 c_cc).
#[repr(C)]
#[derive(Clone, Copy)]
struct Termios {
    iflag: u32,
    oflag: u32,
    cflag: u32,
    lflag: u32,
    line: u8,
    cc: [u8; 19],
}

const TCGETS: c_ulong = 0x5401;
const TCSETS: c_ulong = 0x5402;
const TCFLSH: c_ulong = 0x540B;
const TCIFLUSH: c_int = 0;
const ECHO: u32 = 0o10;
const ECHONL: u32 = 0o100;

extern "C" {
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    fn sync();
    fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int;
    fn clock_settime(clock: c_int, tp: *const Timespec) -> c_int;
}

#[repr(C)]
struct Timespec {
    sec: c_long,
    nsec: c_long,
}

fn rc(r: c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Echo switched off on the console while it lives, back on when dropped.
struct NoEcho<'a> {
    tty: &'a File,
    saved: Termios,
}

impl<'a> NoEcho<'a> {
    fn new(tty: &'a File) -> io::Result<Self> {
        let mut t = Termios {
            iflag: 0,
            oflag: 0,
            cflag: 0,
            lflag: 0,
            line: 0,
            cc: [0; 19],
        };
        // SAFETY: TCGETS writes one kernel termios into `t`, which is that struct.
        rc(unsafe { ioctl(tty.as_raw_fd(), TCGETS, &mut t as *mut Termios) })?;
        let saved = t;
        t.lflag &= !(ECHO | ECHONL);
        // SAFETY: TCSETS reads one kernel termios from `t`.
        rc(unsafe { ioctl(tty.as_raw_fd(), TCSETS, &t as *const Termios) })?;
        Ok(NoEcho { tty, saved })
    }
}

impl Drop for NoEcho<'_> {
    fn drop(&mut self) {
        // SAFETY: TCSETS reads one kernel termios from `saved`.
        unsafe { ioctl(self.tty.as_raw_fd(), TCSETS, &self.saved as *const Termios) };
    }
}

/// Flushes everything to disk, says [`WAIT_MARKER`] through `say`, and reads the console
/// until an identity line comes (other lines, such as a stray Enter, are skipped).
pub fn wait(say: impl Fn(&str)) -> io::Result<Identity> {
    // The host copies the root disk beside the snapshot: nothing may be left in memory only.
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { sync() };
    let tty = OpenOptions::new()
        .read(true)
        .custom_flags(0o400) // O_NOCTTY
        .open("/dev/ttyS0")?;
    let _quiet = NoEcho::new(&tty)?;
    say(WAIT_MARKER);
    let mut lines = BufReader::new(&tty);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the console closed before an identity came",
            ));
        }
        if line.trim_start().starts_with(LINE_PREFIX) {
            // The host nudges with spaces until it sees the agent's answer: drop what came
            // after the line, before the echo is back on.
            // SAFETY: TCFLSH takes an int queue selector (TCIFLUSH) by value.
            unsafe { ioctl(tty.as_raw_fd(), TCFLSH, TCIFLUSH) };
            return parse(&line);
        }
    }
}

/// `struct ifreq`: a name and a 24-byte union (a sockaddr or flags here).
#[repr(C)]
struct Ifreq {
    name: [u8; 16],
    data: [u8; 24],
}

impl Ifreq {
    fn new(dev: &str) -> Ifreq {
        let mut name = [0u8; 16];
        name[..dev.len().min(15)].copy_from_slice(&dev.as_bytes()[..dev.len().min(15)]);
        Ifreq {
            name,
            data: [0; 24],
        }
    }

    fn with_inet(dev: &str, a: Ipv4Addr) -> Ifreq {
        let mut r = Ifreq::new(dev);
        r.data[..16].copy_from_slice(&sockaddr_in(a));
        r
    }
}

/// A `struct sockaddr_in` as bytes.
fn sockaddr_in(a: Ipv4Addr) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
    s[4..8].copy_from_slice(&a.octets());
    s
}

/// `struct rtentry` (64-bit layout).
#[repr(C)]
struct Rtentry {
    pad1: c_ulong,
    dst: [u8; 16],
    gateway: [u8; 16],
    genmask: [u8; 16],
    flags: c_ushort,
    pad2: i16,
    pad3: c_ulong,
    pad4: *mut c_void,
    metric: i16,
    dev: *mut u8,
    mtu: c_ulong,
    window: c_ulong,
    irtt: c_ushort,
}

const AF_INET: c_int = 2;
const SOCK_DGRAM: c_int = 2;
const SIOCGIFFLAGS: c_ulong = 0x8913;
const SIOCSIFFLAGS: c_ulong = 0x8914;
const SIOCSIFADDR: c_ulong = 0x8916;
const SIOCSIFNETMASK: c_ulong = 0x891c;
const SIOCSIFHWADDR: c_ulong = 0x8924;
const SIOCADDRT: c_ulong = 0x890B;
const SIOCDELRT: c_ulong = 0x890C;
const IFF_UP: u16 = 1;
const ARPHRD_ETHER: u16 = 1;
const RTF_UP: c_ushort = 1;
const RTF_GATEWAY: c_ushort = 2;

fn ifreq_call(sock: &OwnedFd, req: c_ulong, r: &mut Ifreq) -> io::Result<()> {
    // SAFETY: every SIOC*IF* request used here reads or writes one struct ifreq, which
    // `r` is, for the duration of the call.
    rc(unsafe { ioctl(sock.as_raw_fd(), req, r as *mut Ifreq) })
}

fn default_route(sock: &OwnedFd, req: c_ulong, gw: Ipv4Addr) -> io::Result<()> {
    let mut rt = Rtentry {
        pad1: 0,
        dst: sockaddr_in(Ipv4Addr::UNSPECIFIED),
        gateway: sockaddr_in(gw),
        genmask: sockaddr_in(Ipv4Addr::UNSPECIFIED),
        flags: RTF_UP | RTF_GATEWAY,
        pad2: 0,
        pad3: 0,
        pad4: std::ptr::null_mut(),
        metric: 0,
        dev: std::ptr::null_mut(),
        mtu: 0,
        window: 0,
        irtt: 0,
    };
    // SAFETY: SIOCADDRT/SIOCDELRT read one struct rtentry, which `rt` is; its pointers
    // are null (no device name).
    rc(unsafe { ioctl(sock.as_raw_fd(), req, &mut rt as *mut Rtentry) })
}

/// Gives `dev` the identity's MAC, address and default route. The interface may carry the
/// template's first address and route (the kernel's `ip=`): both are replaced.
pub fn configure_network(dev: &str, id: &Identity) -> io::Result<()> {
    // SAFETY: socket(2) with constant arguments; the fd is owned below.
    let fd = unsafe { socket(AF_INET, SOCK_DGRAM, 0) };
    rc(fd)?;
    // SAFETY: `fd` is a new descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut flags = Ifreq::new(dev);
    ifreq_call(&sock, SIOCGIFFLAGS, &mut flags)?;
    let up = u16::from_ne_bytes([flags.data[0], flags.data[1]]);
    // Down first: a MAC change needs it on drivers without live address changes, and it
    // drops the template's routes with the old address.
    let mut down = Ifreq::new(dev);
    down.data[..2].copy_from_slice(&(up & !IFF_UP).to_ne_bytes());
    ifreq_call(&sock, SIOCSIFFLAGS, &mut down)?;
    let mut hw = Ifreq::new(dev);
    hw.data[..2].copy_from_slice(&ARPHRD_ETHER.to_ne_bytes());
    hw.data[2..8].copy_from_slice(&id.mac);
    ifreq_call(&sock, SIOCSIFHWADDR, &mut hw)?;
    ifreq_call(&sock, SIOCSIFADDR, &mut Ifreq::with_inet(dev, id.addr))?;
    let mask = Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(id.prefix)).unwrap_or(0));
    ifreq_call(&sock, SIOCSIFNETMASK, &mut Ifreq::with_inet(dev, mask))?;
    let mut upr = Ifreq::new(dev);
    upr.data[..2].copy_from_slice(&(up | IFF_UP).to_ne_bytes());
    ifreq_call(&sock, SIOCSIFFLAGS, &mut upr)?;
    let _ = default_route(&sock, SIOCDELRT, id.gateway);
    match default_route(&sock, SIOCADDRT, id.gateway) {
        Err(e) if e.raw_os_error() != Some(17) => Err(e), // EEXIST: already there
        _ => Ok(()),
    }
}

/// Sets the wall clock (the restored guest's clock still reads the template's time).
pub fn set_clock(time_ms: u64) -> io::Result<()> {
    let ts = Timespec {
        sec: (time_ms / 1000) as c_long,
        nsec: ((time_ms % 1000) * 1_000_000) as c_long,
    };
    // SAFETY: clock_settime reads one timespec.
    rc(unsafe { clock_settime(0, &ts) }) // CLOCK_REALTIME
}

/// `RNDRESEEDCRNG`: `_IO('R', 0x07)`.
const RNDRESEEDCRNG: c_ulong = 0x5207;

/// Mixes the host's bytes into the pool (credited) and makes the kernel's generator
/// reseed from it now, not at its next scheduled reseed.
pub fn reseed(seed: &[u8]) -> io::Result<()> {
    crate::entropy::add_entropy(seed, seed.len() * 8)?;
    let f = OpenOptions::new().write(true).open("/dev/urandom")?;
    // SAFETY: RNDRESEEDCRNG takes no argument.
    rc(unsafe { ioctl(f.as_raw_fd(), RNDRESEEDCRNG) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> String {
        format!(
            "EC2LAB-IDENTITY v=1 id=i-0123456789abcdef0 mac=02:aa:bb:cc:dd:ee addr=10.1.2.3/20 \
             gw=10.1.0.1 host=ip-10-1-2-3 time=1733260000123 seed={}\n",
            "ab".repeat(64)
        )
    }

    #[test]
    fn an_identity_line_is_read() {
        let id = parse(&line()).unwrap();
        assert_eq!(id.instance_id, "i-0123456789abcdef0");
        assert_eq!(id.mac, [2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
        assert_eq!(id.addr, Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(id.prefix, 20);
        assert_eq!(id.gateway, Ipv4Addr::new(10, 1, 0, 1));
        assert_eq!(id.hostname, "ip-10-1-2-3");
        assert_eq!(id.time_ms, 1_733_260_000_123);
        assert_eq!(id.seed, vec![0xab; 64]);
    }

    #[test]
    fn bad_lines_are_refused() {
        assert!(parse("hello").is_err());
        assert!(parse(&line().replace("v=1", "v=2")).is_err());
        assert!(parse(&line().replace("/20", "/40")).is_err());
        assert!(parse(&line().replace(&"ab".repeat(64), "abc")).is_err());
        assert!(parse(&line().replace(&"ab".repeat(64), "ab")).is_err());
        assert!(parse(&line().replace("mac=02:", "mac=2:")).is_err());
    }

    #[test]
    fn only_the_exact_switch_asks_for_a_template() {
        assert!(requested("console=ttyS0 ec2lab.warm=1 root=/dev/vda"));
        assert!(!requested("console=ttyS0 ec2lab.warm=0"));
        assert!(!requested("ec2lab.warm=10"));
    }
}
