//! Architecture-specific machine set-up. x86_64 boots guests here; aarch64's layout,
//! FDT, GIC, PSCI and Image loading compile everywhere (their pure parts are unit-tested
//! on this x86 host and under qemu-user) and have not run on arm hardware.

pub mod aarch64;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;
