//! The EBS actions on volumes and snapshots. Each calls the service the CLI's verb calls;
//! those that must reach a running guest (attach, detach, resize, point-in-time copy) go
//! through `instances::disks`.

use serde_json::Value;

use super::{from_request, to_result, ApiCtx};
use crate::ec2::shapes::storage::{
    AttachVolumeRequest, CreateSnapshotRequest, CreateVolumeRequest, DeleteSnapshotRequest,
    DeleteVolumeRequest, DetachVolumeRequest, ModifyVolumeRequest,
};
use crate::error::Ec2Error;
use crate::instances::disks;
use crate::storage::ebs;

action!(
    /// `CreateVolume`.
    create_volume, CreateVolumeRequest,
    |s, r| ebs::create_volume(&mut s, &r)?
);
action!(
    /// `DeleteVolume`.
    delete_volume, DeleteVolumeRequest,
    |s, r| ebs::delete_volume(&mut s, &r)?
);
action!(
    /// `ModifyVolume` (the size).
    modify_volume, ModifyVolumeRequest,
    |s, r| disks::modify_volume(&mut s, &r)?
);
action!(
    /// `AttachVolume`.
    attach_volume, AttachVolumeRequest,
    |s, r| disks::attach_volume(&mut s, &r)?
);
action!(
    /// `DetachVolume`.
    detach_volume, DetachVolumeRequest,
    |s, r| disks::detach_volume(&mut s, &r)?
);
action!(
    /// `CreateSnapshot`.
    create_snapshot, CreateSnapshotRequest,
    |s, r| disks::create_snapshot(&mut s, &r)?
);
action!(
    /// `DeleteSnapshot`.
    delete_snapshot, DeleteSnapshotRequest,
    |s, r| ebs::delete_snapshot(&mut s, &r)?
);
