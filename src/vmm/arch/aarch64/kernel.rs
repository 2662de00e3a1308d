//! Loading an arm64 Linux `Image` (Documentation/arch/arm64/booting.rst).
//!
//! The Image is a flat binary with a 64-byte header; it is copied as is to
//! `DRAM_START + text_offset` and entered at its first byte. No decompression:
//! arm64 kernels do not decompress themselves, so `Image.gz` must be unpacked
//! by the user first.

use std::io::{Read, Seek, SeekFrom};

use thiserror::Error;
use vm_memory::{Bytes, GuestAddress};

use super::layout::{check_kernel_fits, kernel_load_addr, LayoutError, KERNEL_ALIGN};
use crate::vmm::memory::GuestMemory;

/// Size of the arm64 Image header.
pub const HEADER_SIZE: usize = 64;
/// "ARM\x64" read as a little-endian u32 at offset 56.
pub const ARM64_IMAGE_MAGIC: u32 = 0x644d_5241;
const MAGIC_OFFSET: usize = 56;
/// Pre-3.17 kernels have image_size 0 and an implied text_offset of 0x80000.
const LEGACY_TEXT_OFFSET: u64 = 0x8_0000;
/// flags bit 0: kernel endianness, 1 = big-endian.
const FLAG_BE: u64 = 1;

/// What went wrong loading the kernel.
#[derive(Debug, Error)]
pub enum KernelError {
    /// Fewer than 64 bytes.
    #[error("kernel file is only {0} bytes, shorter than the 64-byte arm64 Image header; pass an uncompressed arm64 `Image`")]
    TooShort(u64),
    /// gzip magic.
    #[error("kernel is gzip-compressed (Image.gz); arm64 kernels cannot decompress themselves: run `gunzip` on it and pass the resulting `Image`")]
    Gzip,
    /// EFI zboot container.
    #[error("kernel is an EFI zboot image (vmlinuz.efi with a compressed payload); pass the plain `Image` from the kernel build (arch/arm64/boot/Image) instead")]
    Zboot,
    /// Not an arm64 Image at all.
    #[error("no arm64 Image magic (\"ARM\\x64\" at offset 56, found {found:#010x}); this is not an arm64 Linux `Image` (an x86 bzImage or an ELF vmlinux will not boot here)")]
    BadMagic {
        /// The u32 found.
        found: u32,
    },
    /// text_offset unusable.
    #[error("Image header text_offset {0:#x} is not below 2 MiB; the header is corrupt")]
    BadTextOffset(u64),
    /// Big-endian kernel.
    #[error("kernel is big-endian; only little-endian arm64 kernels are supported")]
    BigEndian,
    /// Does not fit.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// I/O on the kernel file.
    #[error("reading the kernel file failed")]
    Io(#[from] std::io::Error),
    /// Writing guest memory.
    #[error("copying the kernel into guest memory at {addr:#x} failed")]
    GuestMemory {
        /// Where.
        addr: u64,
        /// Why.
        source: vm_memory::GuestMemoryError,
    },
}

/// The fields of the Image header that matter for loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// Offset of the image from a 2 MiB aligned base.
    pub text_offset: u64,
    /// Memory the kernel needs from its load address, including bss. Never
    /// below the file size: legacy headers (0) and files with trailing data
    /// such as appended signatures get the file size.
    pub image_size: u64,
    /// Raw flags (bit 0 endianness, bits 1-2 page size, bit 3 placement).
    pub flags: u64,
}

fn le64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// Parses and validates the first bytes of a kernel file of `file_size` bytes.
pub fn parse_header(head: &[u8], file_size: u64) -> Result<ImageHeader, KernelError> {
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        return Err(KernelError::Gzip);
    }
    if head.len() >= 8 && &head[0..2] == b"MZ" && &head[4..8] == b"zimg" {
        return Err(KernelError::Zboot);
    }
    if head.len() < HEADER_SIZE || file_size < HEADER_SIZE as u64 {
        return Err(KernelError::TooShort(file_size.min(head.len() as u64)));
    }
    let mut m = [0u8; 4];
    m.copy_from_slice(&head[MAGIC_OFFSET..MAGIC_OFFSET + 4]);
    let magic = u32::from_le_bytes(m);
    if magic != ARM64_IMAGE_MAGIC {
        return Err(KernelError::BadMagic { found: magic });
    }
    let mut text_offset = le64(head, 8);
    let mut image_size = le64(head, 16);
    let mut flags = le64(head, 24);
    if image_size == 0 {
        // Legacy (pre-3.17) header: fixed text_offset, size unknown, and the
        // flags field was not defined yet (those kernels are little-endian).
        text_offset = LEGACY_TEXT_OFFSET;
        image_size = file_size;
        flags = 0;
    }
    image_size = image_size.max(file_size);
    if flags & FLAG_BE != 0 {
        return Err(KernelError::BigEndian);
    }
    if text_offset >= KERNEL_ALIGN {
        return Err(KernelError::BadTextOffset(text_offset));
    }
    Ok(ImageHeader {
        text_offset,
        image_size,
        flags,
    })
}

/// Where the kernel went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadedKernel {
    /// Load address == entry point (PC of the boot vCPU).
    pub entry: GuestAddress,
    /// First byte after the kernel's memory footprint (image_size); place
    /// initrds at or above this.
    pub end: GuestAddress,
}

/// Loads an arm64 `Image` from `kernel` into `mem` (whose single region must
/// start at `DRAM_START`, as [`super::layout::memory_regions`] gives it).
pub fn load_kernel<F: Read + Seek>(
    mem: &GuestMemory,
    mem_size: usize,
    kernel: &mut F,
) -> Result<LoadedKernel, KernelError> {
    let file_size = kernel.seek(SeekFrom::End(0))?;
    kernel.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; HEADER_SIZE];
    let n = read_up_to(kernel, &mut head)?;
    let hdr = parse_header(&head[..n], file_size)?;

    let entry = kernel_load_addr(hdr.text_offset);
    let end = check_kernel_fits(mem_size, entry, hdr.image_size)?;

    kernel.seek(SeekFrom::Start(0))?;
    // Copy in chunks so a 40 MiB Image does not need a 40 MiB heap buffer.
    let mut buf = vec![0u8; 1 << 20];
    let mut addr = entry;
    loop {
        let n = read_up_to(kernel, &mut buf)?;
        if n == 0 {
            break;
        }
        mem.write_slice(&buf[..n], addr)
            .map_err(|source| KernelError::GuestMemory {
                addr: addr.0,
                source,
            })?;
        addr = GuestAddress(addr.0 + n as u64);
    }
    // bss beyond the file is zero already: fresh anonymous guest memory.
    Ok(LoadedKernel { entry, end })
}

/// Reads until `buf` is full or EOF; returns the bytes read.
fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut total = 0;
    while total < buf.len() {
        match r.read(&mut buf[total..]) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// Loads an initrd of `size` bytes from `initrd` at the address chosen by
/// [`super::layout::initrd_load_addr`]; returns (address, size) for the FDT.
pub fn load_initrd<F: Read>(
    mem: &GuestMemory,
    mem_size: usize,
    kernel_end: GuestAddress,
    initrd: &mut F,
    size: usize,
) -> Result<(GuestAddress, usize), KernelError> {
    let addr = super::layout::initrd_load_addr(mem_size, size as u64, kernel_end)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0usize;
    while done < size {
        let want = (size - done).min(buf.len());
        initrd.read_exact(&mut buf[..want])?;
        let at = GuestAddress(addr.0 + done as u64);
        mem.write_slice(&buf[..want], at)
            .map_err(|source| KernelError::GuestMemory { addr: at.0, source })?;
        done += want;
    }
    Ok((addr, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmm::arch::aarch64::layout::{memory_regions, DRAM_START};
    use std::io::Cursor;

    fn header(text_offset: u64, image_size: u64, flags: u64) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_SIZE];
        // code0: "MZ" + branch, as EFI-stub kernels have; irrelevant to us.
        h[0..4].copy_from_slice(&[0x4d, 0x5a, 0x40, 0xfa]);
        h[8..16].copy_from_slice(&text_offset.to_le_bytes());
        h[16..24].copy_from_slice(&image_size.to_le_bytes());
        h[24..32].copy_from_slice(&flags.to_le_bytes());
        h[56..60].copy_from_slice(b"ARM\x64");
        h
    }

    #[test]
    fn magic_constant_is_arm_x64() {
        assert_eq!(ARM64_IMAGE_MAGIC.to_le_bytes(), *b"ARM\x64");
    }

    #[test]
    fn parses_modern_header() {
        let h = header(0, 0x20_0000, 0xa);
        let p = parse_header(&h, 0x10_0000).unwrap();
        assert_eq!(
            p,
            ImageHeader {
                text_offset: 0,
                image_size: 0x20_0000,
                flags: 0xa
            }
        );
    }

    #[test]
    fn legacy_header_gets_default_text_offset() {
        let h = header(0, 0, 0xdead);
        let p = parse_header(&h, 0x1000).unwrap();
        assert_eq!(p.flags, 0);
        assert_eq!(p.text_offset, 0x8_0000);
        assert_eq!(p.image_size, 0x1000);
    }

    #[test]
    fn rejects_bad_inputs() {
        assert!(matches!(
            parse_header(&[0x1f, 0x8b, 8, 0], 4),
            Err(KernelError::Gzip)
        ));
        let mut z = vec![0u8; 64];
        z[0..8].copy_from_slice(b"MZ\0\0zimg");
        assert!(matches!(parse_header(&z, 64), Err(KernelError::Zboot)));
        assert!(matches!(
            parse_header(&[0u8; 10], 10),
            Err(KernelError::TooShort(10))
        ));
        let mut bad = header(0, 0x1000, 0);
        bad[56] = b'X';
        assert!(matches!(
            parse_header(&bad, 64),
            Err(KernelError::BadMagic { .. })
        ));
        assert!(matches!(
            parse_header(&header(0, 0x1000, 1), 64),
            Err(KernelError::BigEndian)
        ));
        assert!(matches!(
            parse_header(&header(0x20_0000, 0x1000, 0), 64),
            Err(KernelError::BadTextOffset(_))
        ));
        // Trailing data (e.g. a signature) past image_size: fit check uses the file size.
        assert_eq!(
            parse_header(&header(0, 0x100, 0), 0x200)
                .unwrap()
                .image_size,
            0x200
        );
    }

    #[test]
    fn error_messages_say_what_to_do() {
        assert!(KernelError::Gzip.to_string().contains("gunzip"));
    }

    fn guest(mem_size: usize) -> GuestMemory {
        crate::vmm::memory::create(&memory_regions(mem_size)).unwrap()
    }

    #[test]
    fn loads_image_at_text_offset() {
        let mem_size = 64 << 20;
        let mem = guest(mem_size);
        let mut img = header(0x8_0000, 0x30_0000, 0x2);
        // A body bigger than one copy chunk, with a recognisable pattern.
        img.extend((0..(1 << 20) + 4096).map(|i| (i % 251) as u8));
        let loaded = load_kernel(&mem, mem_size, &mut Cursor::new(img.clone())).unwrap();
        assert_eq!(loaded.entry, GuestAddress(DRAM_START + 0x8_0000));
        assert_eq!(loaded.end, GuestAddress(DRAM_START + 0x8_0000 + 0x30_0000));
        let mut back = vec![0u8; img.len()];
        mem.read_slice(&mut back, loaded.entry).unwrap();
        assert_eq!(back, img);
    }

    #[test]
    fn refuses_kernel_larger_than_ram() {
        let mem_size = 32 << 20;
        let mem = guest(mem_size);
        let img = header(0, 64 << 20, 0);
        assert!(matches!(
            load_kernel(&mem, mem_size, &mut Cursor::new(img)),
            Err(KernelError::Layout(LayoutError::KernelTooLarge { .. }))
        ));
    }

    #[test]
    fn loads_initrd_below_fdt() {
        let mem_size = 64 << 20;
        let mem = guest(mem_size);
        let data: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| (i % 13) as u8).collect();
        let kend = GuestAddress(DRAM_START + (8 << 20));
        let (addr, size) =
            load_initrd(&mem, mem_size, kend, &mut Cursor::new(&data), data.len()).unwrap();
        assert_eq!(size, data.len());
        assert!(addr.0 >= kend.0);
        assert!(addr.0 + size as u64 <= crate::vmm::arch::aarch64::layout::fdt_addr(mem_size).0);
        let mut back = vec![0u8; size];
        mem.read_slice(&mut back, addr).unwrap();
        assert_eq!(back, data);
    }
}
