//! EC2 key pairs: a named public key that instances are launched with. `create` makes a
//! new pair and hands the private key out once (EC2 keeps only the public half, and so
//! does ec2lab); `import` records a public key the user made. Fingerprints are computed
//! exactly as EC2 computes them, so they can be compared with AWS's documented `openssl`
//! and `ssh-keygen` commands.
//!
//! `record` is the key pair and its operations, `formats` the key formats and
//! fingerprints, `actions` EC2's actions over them.

mod actions;
mod formats;
mod record;
#[cfg(test)]
mod tests;

pub use actions::*;
pub use formats::*;
pub use record::*;
