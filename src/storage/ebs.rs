//! EC2's EBS actions on volumes and snapshots: each takes its typed request and returns its
//! typed result, for every front end alike. They sit above `volumes.rs` and `snapshots.rs`
//! because CreateVolume restores snapshots and CreateSnapshot copies volumes. AttachVolume and
//! DetachVolume reach a running guest's VMM, so they are `instances::disks`'.

use std::path::Path;

use super::snapshots::{self, Snapshot};
use super::volumes::{self, NewVolume, Volume, VolumeSource};
use crate::ec2::filters;
use crate::ec2::pages::{self, Limits, PageRequest};
use crate::ec2::shapes::storage::{
    self as shapes, CreateSnapshotRequest, CreateVolumeRequest, DeleteSnapshotRequest,
    DeleteVolumeRequest, DescribeSnapshotsRequest, DescribeSnapshotsResult, DescribeVolumesRequest,
    DescribeVolumesResult, ModifyVolumeRequest, ModifyVolumeResult, VolumeModification,
};
use crate::ec2::tags;
use crate::error::Ec2Error;
use crate::store::Store;

/// The volume type when CreateVolume names none (ec2lab's default, as its CLI's).
pub const DEFAULT_VOLUME_TYPE: &str = "gp3";

/// CreateVolume: an empty volume, or one restored from a snapshot.
pub fn create_volume(
    store: &mut Store,
    req: &CreateVolumeRequest,
) -> Result<shapes::Volume, Ec2Error> {
    let tags = tags::for_resource(&req.tag_specifications, &["volume"], "volume")?;
    let snap = match &req.snapshot_id {
        Some(id) => Some(Snapshot::get(store.conn(), id)?),
        None => None,
    };
    if snap.is_none() && req.size.is_none() {
        return Err(Ec2Error::missing_parameter("size (or --snapshot-id)"));
    }
    // The closure must not borrow `store`, which `volumes::create` holds mutably.
    let chunks = match &snap {
        Some(_) => Some(snapshots::chunk_store(store)?),
        None => None,
    };
    let restore = |dest: &Path| -> Result<(), Ec2Error> {
        if let (Some(chunks), Some(id)) = (&chunks, &req.snapshot_id) {
            chunks.restore(id, dest)?;
        }
        Ok(())
    };
    let source = snap
        .as_ref()
        .map(|sn| VolumeSource::Snapshot(&sn.snapshot_id, sn.volume_size_gib, &restore));
    let vol = volumes::create(
        store,
        &NewVolume {
            size_gib: req.size,
            volume_type: req.volume_type.as_deref().unwrap_or(DEFAULT_VOLUME_TYPE),
            iops: req.iops,
            throughput: req.throughput,
            availability_zone: &req.availability_zone,
            source,
            tags,
        },
        None,
    )?;
    Ok(vol.to_shape())
}

/// DescribeVolumes: the named volumes (each must exist) or all, through the filters.
pub fn describe_volumes(
    store: &Store,
    req: &DescribeVolumesRequest,
) -> Result<DescribeVolumesResult, Ec2Error> {
    let c = store.conn();
    pages::refuse_ids_with_max_results("volumeSet", !req.volume_ids.is_empty(), req.max_results)?;
    for id in &req.volume_ids {
        Volume::get(c, id)?;
    }
    let named = Volume::all(c)?
        .into_iter()
        .filter(|v| req.volume_ids.is_empty() || req.volume_ids.contains(&v.volume_id))
        .map(|v| v.to_shape())
        .collect();
    let (volumes, next_token) = pages::page(
        "DescribeVolumes",
        filters::retain(named, &req.filters)?,
        // Oldest first, as `Volume::all`.
        |v| pages::key(&[&v.create_time, &v.volume_id]),
        PageRequest::new(req.max_results, &req.next_token),
        // EC2: at least 5; a larger MaxResults than 500 gives pages of 500 (the aws CLI
        // asks for 1000).
        Limits::capped(5, 500),
    )?;
    Ok(DescribeVolumesResult {
        volumes,
        next_token,
    })
}

/// DeleteVolume: an available volume and its file go.
pub fn delete_volume(store: &mut Store, req: &DeleteVolumeRequest) -> Result<(), Ec2Error> {
    volumes::delete(store, &req.volume_id)
}

/// ModifyVolume: grows the volume; `refresh` shows the new size to a running guest
/// (`instances::disks::refresh_size`).
pub fn modify_volume(
    store: &mut Store,
    req: &ModifyVolumeRequest,
    refresh: impl FnOnce(&Store, &Volume) -> Result<(), Ec2Error>,
) -> Result<ModifyVolumeResult, Ec2Error> {
    let size = req
        .size
        .ok_or_else(|| Ec2Error::missing_parameter("size"))?;
    let (old, vol) = volumes::grow(store, &req.volume_id, size)?;
    refresh(store, &vol)?;
    Ok(ModifyVolumeResult {
        volume_modification: VolumeModification {
            volume_id: vol.volume_id,
            modification_state: "completed".into(),
            original_size: old,
            target_size: vol.size_gib,
            progress: 100,
        },
    })
}

/// CreateSnapshot: `freeze_copy` makes the point-in-time copy of the volume's file
/// (`instances::disks::freeze_copy`, which pauses a guest that uses it).
pub fn create_snapshot(
    store: &mut Store,
    req: &CreateSnapshotRequest,
    freeze_copy: impl FnOnce(&Store, &Volume, &Path) -> Result<(), Ec2Error>,
) -> Result<shapes::Snapshot, Ec2Error> {
    let tags = tags::for_resource(&req.tag_specifications, &["snapshot"], "snapshot")?;
    let snap = snapshots::create(store, &req.volume_id, &req.description, &tags, freeze_copy)?;
    Ok(snap.to_shape())
}

/// DescribeSnapshots: the named snapshots (each must exist) or all, through the filters.
/// Every snapshot here is the account's own, so `OwnerIds` changes nothing.
pub fn describe_snapshots(
    store: &Store,
    req: &DescribeSnapshotsRequest,
) -> Result<DescribeSnapshotsResult, Ec2Error> {
    let c = store.conn();
    pages::refuse_ids_with_max_results(
        "snapshotSet",
        !req.snapshot_ids.is_empty(),
        req.max_results,
    )?;
    for id in &req.snapshot_ids {
        Snapshot::get(c, id)?;
    }
    let named = Snapshot::all(c)?
        .into_iter()
        .filter(|s| req.snapshot_ids.is_empty() || req.snapshot_ids.contains(&s.snapshot_id))
        .map(|s| s.to_shape())
        .collect();
    let (snapshots, next_token) = pages::page(
        "DescribeSnapshots",
        filters::retain(named, &req.filters)?,
        // Oldest first, as `Snapshot::all`.
        |s| pages::key(&[&s.start_time, &s.snapshot_id]),
        PageRequest::new(req.max_results, &req.next_token),
        // EC2: at least 5; a larger MaxResults than 1000 gives pages of 1000.
        Limits::capped(5, 1000),
    )?;
    Ok(DescribeSnapshotsResult {
        snapshots,
        next_token,
    })
}

/// DeleteSnapshot: chunks no other snapshot needs are freed.
pub fn delete_snapshot(store: &mut Store, req: &DeleteSnapshotRequest) -> Result<(), Ec2Error> {
    snapshots::delete(store, &req.snapshot_id)?;
    Ok(())
}
