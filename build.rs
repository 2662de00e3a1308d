//! Link settings for the `ec2lab` binary.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // The web console's built files are embedded (src/api/console.rs): a new build of them
    // rebuilds the binary. Where they were not built yet, the folder above is watched, so
    // the first build of them is noticed too (tools/setup.sh builds them).
    if std::path::Path::new("console/dist").is_dir() {
        println!("cargo:rerun-if-changed=console/dist");
    } else {
        println!("cargo:rerun-if-changed=console");
    }
    // Relative relocations packed (DT_RELR): the binary is position-independent (ASLR), and
    // its ~15,000 R_X86_64_RELATIVE entries took 364 KiB of .rela.dyn that the dynamic
    // loader reads in every process, the VMM's included; packed they take a few KiB. Needs
    // GNU ld 2.38 or lld 15 to link, glibc 2.36 to run.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
