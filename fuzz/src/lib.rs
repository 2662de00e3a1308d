//! Shared pieces of ec2lab's fuzz targets: a byte reader that never fails (an exhausted
//! input reads as zeros and ends the program), and a virtio guest driver driven by the
//! fuzzer's bytes, so the block, net and transport targets reach their devices the way a
//! hostile guest would: through MMIO registers and guest memory it fully controls.

pub mod virtio;

/// Reads little-endian integers and slices from the fuzzer's input.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }

    /// The rest of the input.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }

    fn int<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let got = self.take(N);
        out[..got.len()].copy_from_slice(got);
        out
    }

    /// One byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        self.int::<1>()[0]
    }

    /// A little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.int())
    }

    /// A little-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.int())
    }

    /// A little-endian u64.
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.int())
    }
}

/// Splits `data` at the first NUL into up to `n` UTF-8 strings (lossily), for targets
/// whose input is several texts.
pub fn texts(data: &[u8], n: usize) -> Vec<String> {
    data.splitn(n, |&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}
