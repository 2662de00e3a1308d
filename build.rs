//! Link settings for the `ec2lab` binary.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Relative relocations packed (DT_RELR): the binary is position-independent (ASLR), and
    // its ~15,000 R_X86_64_RELATIVE entries took 364 KiB of .rela.dyn that the dynamic
    // loader reads in every process, the VMM's included; packed they take a few KiB. Needs
    // GNU ld 2.38 or lld 15 to link, glibc 2.36 to run.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
