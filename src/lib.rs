//! ec2lab: a small EC2 on one Linux host. The CLI sits on top; the VMM core below knows
//! nothing of EC2.

pub mod cli;
pub mod vmm;
