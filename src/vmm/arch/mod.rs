//! Architecture-specific machine set-up. x86_64 boots guests here; aarch64's layout,
//! FDT, GIC, PSCI and Image loading compile everywhere (their pure parts are unit-tested
//! on this x86 host and under qemu-user). `vmm::machine` boots aarch64 guests with them,
//! but that path has not run on arm hardware (see `aarch64/README.md`).

pub mod aarch64;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;
