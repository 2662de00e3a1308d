//! Storage: EBS volumes (persistent, attachable), the instance store (ephemeral, on
//! tmpfs), and snapshots (incremental, in a content-addressed chunk store). `ebs` holds EC2's
//! volume and snapshot actions over them.

pub mod chunkstore;
pub mod ebs;
pub mod instance_store;
pub mod reserve;
pub mod snapshots;
pub mod volumes;
