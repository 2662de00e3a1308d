//! Seeding the kernel's random pool at boot, before dropbear starts.
//!
//! The guest kernel has no hardware RNG it may use here: RDRAND/RDSEED are cleared on the
//! PVM host (pvm-cmdline.txt), there is no virtio-rng, and with few interrupts its pool
//! takes a long time to fill. Until it is initialised, getrandom(2) blocks, and dropbear
//! calls it before it listens: sshd would not be up when EC2LAB-GUEST-READY is printed.
//! So, like jitterentropy-rngd/haveged plus systemd-random-seed, the agent feeds the pool
//! CPU timing jitter measured in user mode (native speed here, disturbed by interrupts and
//! the hypervisor), together with the seed file the previous boot saved, and credits it
//! through RNDADDENTROPY. Only the jitter is counted, conservatively (1 bit per 16
//! samples); the seed file may come from an image shared by many instances, so it counts
//! for nothing. If the pool is already initialised (e.g. hardware KVM with a trusted CPU
//! RNG), nothing is credited.

use std::ffi::{c_int, c_uint, c_ulong, c_void};
use std::fs::OpenOptions;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

extern "C" {
    fn getrandom(buf: *mut c_void, len: usize, flags: c_uint) -> isize;
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
}

const GRND_NONBLOCK: c_uint = 1;
/// _IOW('R', 0x03, int[2]) from <linux/random.h>.
const RNDADDENTROPY: c_ulong = 0x4008_5203;
const SAMPLES: usize = 4096;
const CREDIT_BITS: usize = SAMPLES / 16;
const SEED_LEN: usize = 512;

/// getrandom(2) without blocking; Err(WouldBlock) while the pool is not initialised.
fn getrandom_nonblock(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of buf.
        let n = unsafe {
            getrandom(
                buf[done..].as_mut_ptr().cast(),
                buf.len() - done,
                GRND_NONBLOCK,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

pub fn pool_ready() -> bool {
    getrandom_nonblock(&mut [0u8; 1]).is_ok()
}

fn cycles() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC reads the time-stamp counter; it has no memory effects and is
        // allowed in user mode (the kernel does not set CR4.TSD).
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// `n` timing samples of a small, data-dependent amount of work: the low 16 bits of each
/// duration in cycles.
pub fn jitter(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 2);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ cycles();
    let mut prev = cycles();
    for _ in 0..n {
        for _ in 0..(16 + (x & 63)) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
        let now = cycles();
        out.extend_from_slice(&(now.wrapping_sub(prev) as u16).to_le_bytes());
        prev = now;
    }
    out
}

/// Adds `data` to the kernel's pool, crediting `bits` of entropy (root only).
pub fn add_entropy(data: &[u8], bits: usize) -> io::Result<()> {
    // struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }, built in
    // u32 words so the header ints are aligned.
    let mut words: Vec<u32> = vec![bits as u32, data.len() as u32];
    words.extend(data.chunks(4).map(|c| {
        let mut w = [0u8; 4];
        w[..c.len()].copy_from_slice(c);
        u32::from_ne_bytes(w)
    }));
    let f = OpenOptions::new().write(true).open("/dev/urandom")?;
    // SAFETY: RNDADDENTROPY reads a rand_pool_info: two ints and buf_size bytes, all
    // within `words`, which outlives the call.
    let rc = unsafe { ioctl(f.as_raw_fd(), RNDADDENTROPY, words.as_ptr()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes sure the pool is initialised; saves a new seed for the next boot. Returns a line
/// for the console when it had to seed the pool.
pub fn seed(seed_file: &Path) -> Result<Option<String>, String> {
    let mut said = None;
    if !pool_ready() {
        let mut data = std::fs::read(seed_file).unwrap_or_default();
        let had_seed = !data.is_empty();
        data.extend(jitter(SAMPLES));
        add_entropy(&data, CREDIT_BITS).map_err(|e| format!("RNDADDENTROPY: {e}"))?;
        said = Some(format!(
            "kernel random pool seeded: {SAMPLES} CPU timing samples (credited {CREDIT_BITS} bits){}",
            if had_seed { " + the saved seed" } else { "" }
        ));
    }
    let mut next = vec![0u8; SEED_LEN];
    if getrandom_nonblock(&mut next).is_ok() {
        crate::state::write_replace(seed_file, &next, 0o600)
            .map_err(|e| format!("saving {}: {e}", seed_file.display()))?;
    }
    Ok(said)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_samples_vary() {
        let j = jitter(1024);
        assert_eq!(j.len(), 2048);
        let samples: std::collections::BTreeSet<_> = j
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert!(samples.len() > 8, "only {} distinct timings", samples.len());
    }

    #[test]
    fn host_pool_is_ready() {
        assert!(pool_ready());
    }
}
