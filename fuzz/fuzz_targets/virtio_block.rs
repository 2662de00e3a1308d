//! virtio-blk behind its MMIO transport: request headers, data segments and status bytes
//! anywhere in guest memory, against a small raw disk image (read-only or not).
#![no_main]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::OnceLock;

use ec2lab::vmm::devices::virtio::disk::DiskFile;
use ec2lab::vmm::devices::virtio::Block;
use ec2lab_fuzz::virtio::{memory, transport, Driver};
use ec2lab_fuzz::Bytes;

/// A 64 KiB disk image, made once per process and unlinked at once (nothing is left in
/// the temporary directory): the device opens it again through /proc/self/fd.
fn disk() -> &'static PathBuf {
    static DISK: OnceLock<(File, PathBuf)> = OnceLock::new();
    &DISK
        .get_or_init(|| {
            let p =
                std::env::temp_dir().join(format!("ec2lab-fuzz-disk-{}.img", std::process::id()));
            std::fs::write(&p, vec![0xa5u8; 64 * 1024]).expect("a temporary disk image");
            let file = File::options()
                .read(true)
                .write(true)
                .open(&p)
                .expect("the image");
            std::fs::remove_file(&p).expect("unlinking the image");
            let by_fd = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
            (file, by_fd)
        })
        .1
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Bytes::new(data);
    let read_only = input.u8() & 1 == 1;
    let mut block = Block::with_disk(DiskFile::open(disk(), read_only).expect("the image opens"));
    let _ = block.set_serial("fuzz-serial");
    let mem = memory();
    let mut driver = Driver::new(transport(&mem, block), &mem);
    driver.run(&mut input, |_, _| {});
});
