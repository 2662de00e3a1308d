//! Storage: EBS volumes (persistent, attachable), the instance store (ephemeral, on
//! tmpfs), and snapshots (incremental, in a content-addressed chunk store).

pub mod chunkstore;
pub mod instance_store;
pub mod snapshots;
pub mod volumes;
