//! VPCs, subnets, security groups, network interfaces and Elastic IPs: the requests and
//! results of their Create/Describe/Delete actions, the rule changes, the interface
//! attachments and the address actions. One submodule per resource; every shape is
//! re-exported here.

mod addresses;
mod groups;
mod interfaces;
mod vpcs;

pub use addresses::*;
pub use groups::*;
pub use interfaces::*;
pub use vpcs::*;

/// A boolean as EC2's filters spell it.
fn flag(b: bool) -> String {
    b.to_string()
}
