//! EBS volumes and snapshots.
