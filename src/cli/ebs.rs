//! The EBS verbs: volumes and snapshots, shaped like `aws ec2`'s. They parse flags and
//! print; the services (the API calls the same ones) do the rest.

use clap::Args;
use serde_json::Value;

use super::ctx::{filters_from, tag_specifications, to_json, Ctx, Failure};
use crate::ec2::shapes::storage::{
    AttachVolumeRequest, CreateSnapshotRequest, CreateVolumeRequest, DeleteSnapshotRequest,
    DeleteVolumeRequest, DescribeSnapshotsRequest, DescribeVolumesRequest, DetachVolumeRequest,
    ModifyVolumeRequest,
};
use crate::instances::disks;
use crate::storage::ebs;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab create-volume --size 8 --volume-type gp3 --availability-zone lab-1a\n  \
  ec2lab create-volume --snapshot-id snap-0123456789abcdef0 --availability-zone lab-1a\n\n\
  The volume is a sparse file in the state directory: it takes host disk space only as the\n\
  guest writes. Sizes are 1-16384 GiB and must fit the host's free space.")]
/// Create an EBS volume, empty or from a snapshot.
pub struct CreateVolume {
    /// Size in GiB (default: the snapshot's size).
    #[arg(long)]
    pub size: Option<u64>,
    /// gp2, gp3, io1, io2, st1, sc1 or standard.
    #[arg(long, default_value = ebs::DEFAULT_VOLUME_TYPE)]
    pub volume_type: String,
    /// Provisioned IOPS (gp3, io1, io2).
    #[arg(long)]
    pub iops: Option<i64>,
    /// Provisioned throughput in MiB/s (gp3).
    #[arg(long)]
    pub throughput: Option<i64>,
    /// The region's zone, e.g. lab-1a.
    #[arg(long)]
    pub availability_zone: String,
    /// The snapshot to restore.
    #[arg(long)]
    pub snapshot_id: Option<String>,
    /// Tags, e.g. 'ResourceType=volume,Tags=[{Key=Name,Value=data}]'.
    #[arg(long, num_args = 1..)]
    pub tag_specifications: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  ec2lab describe-volumes\n  \
  ec2lab describe-volumes --filters Name=status,Values=available\n  \
  ec2lab describe-volumes --filters Name=attachment.instance-id,Values=i-0123456789abcdef0")]
/// Describe volumes (states: available, in-use).
pub struct DescribeVolumes {
    /// Only these volumes.
    #[arg(long, num_args = 1..)]
    pub volume_ids: Vec<String>,
    /// Filters: Name=status|volume-id|volume-type|size|snapshot-id|availability-zone|
    /// attachment.instance-id|attachment.device|tag:<key>|…,Values=…
    #[arg(long, num_args = 1..)]
    pub filters: Vec<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab attach-volume --volume-id vol-… --instance-id i-… --device /dev/sdf\n\n\
  Works on running instances (the guest sees a disk appear, with the volume id as its\n\
  serial: /sys/block/vdX/serial) and on stopped ones (attached at the next start).\n\
  Devices: /dev/sdf to /dev/sdk."
)]
/// Attach a volume to an instance.
pub struct AttachVolume {
    /// The available volume.
    #[arg(long)]
    pub volume_id: String,
    /// The running or stopped instance.
    #[arg(long)]
    pub instance_id: String,
    /// /dev/sdf to /dev/sdk.
    #[arg(long)]
    pub device: String,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ec2lab detach-volume --volume-id vol-…            # from a stopped instance\n  \
  ec2lab detach-volume --volume-id vol-… --force    # from a running one: unmount it first!\n\n\
  ec2lab cannot see whether the guest still has the volume mounted, so detaching from a\n\
  running instance needs --force."
)]
/// Detach a volume from its instance.
pub struct DetachVolume {
    /// The attached volume.
    #[arg(long)]
    pub volume_id: String,
    /// Detach from a running instance (the guest loses the disk at once).
    #[arg(long)]
    pub force: bool,
    /// When given, the instance it must be attached to.
    #[arg(long)]
    pub instance_id: Option<String>,
    /// When given, the device it must be attached at.
    #[arg(long)]
    pub device: Option<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ec2lab delete-volume --volume-id vol-0123456789abcdef0")]
/// Delete an available volume and its data.
pub struct VolumeId {
    /// The volume.
    #[arg(long)]
    pub volume_id: String,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab modify-volume --volume-id vol-… --size 16\n\n\
  Volumes only grow. A running guest sees the new size at once; grow its file system with\n\
  resize2fs."
)]
/// Grow a volume.
pub struct ModifyVolume {
    /// The volume.
    #[arg(long)]
    pub volume_id: String,
    /// The new size in GiB, at least the current one.
    #[arg(long)]
    pub size: u64,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab create-snapshot --volume-id vol-… --description nightly\n\n\
  Point-in-time and crash-consistent even while a running guest writes: its vCPUs are paused\n\
  for a sparse copy (milliseconds to seconds), then the copy is chunked. Incremental: only\n\
  chunks that changed since any earlier snapshot are stored (Ec2LabInfo.BytesAdded)."
)]
/// Snapshot a volume.
pub struct CreateSnapshot {
    /// The volume to copy.
    #[arg(long)]
    pub volume_id: String,
    /// Free text.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Tags, e.g. 'ResourceType=snapshot,Tags=[{Key=Name,Value=nightly}]'.
    #[arg(long, num_args = 1..)]
    pub tag_specifications: Vec<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ec2lab describe-snapshots --owner-ids self\n  \
  ec2lab describe-snapshots --filters Name=volume-id,Values=vol-0123456789abcdef0"
)]
/// Describe snapshots.
pub struct DescribeSnapshots {
    /// Only these snapshots.
    #[arg(long, num_args = 1..)]
    pub snapshot_ids: Vec<String>,
    /// Accepted for compatibility: all snapshots here are yours.
    #[arg(long, num_args = 1..)]
    pub owner_ids: Vec<String>,
    /// Filters: Name=snapshot-id|volume-id|status|description|volume-size|…,Values=…
    #[arg(long, num_args = 1..)]
    pub filters: Vec<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab delete-snapshot --snapshot-id snap-0123456789abcdef0\n\n\
  Every other snapshot stays restorable: chunks still needed are kept."
)]
/// Delete a snapshot.
pub struct DeleteSnapshot {
    /// The snapshot.
    #[arg(long)]
    pub snapshot_id: String,
}

fn store(ctx: &Ctx) -> Result<crate::store::Store, Failure> {
    Ok(ctx.tidy_store()?)
}

/// `create-volume`.
pub fn create_volume(ctx: &Ctx, a: CreateVolume) -> Result<Value, Failure> {
    let req = CreateVolumeRequest {
        tag_specifications: tag_specifications(&a.tag_specifications)?,
        availability_zone: a.availability_zone,
        size: a.size,
        snapshot_id: a.snapshot_id,
        volume_type: Some(a.volume_type),
        iops: a.iops,
        throughput: a.throughput,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&ebs::create_volume(&mut store(ctx)?, &req)?)
}

/// `describe-volumes`.
pub fn describe_volumes(ctx: &Ctx, a: DescribeVolumes) -> Result<Value, Failure> {
    let req = DescribeVolumesRequest {
        filters: filters_from(&a.filters)?,
        volume_ids: a.volume_ids,
        ..Default::default()
    };
    ctx.answer_dry_run(&req)?;
    to_json(&ebs::describe_volumes(&store(ctx)?, &req)?)
}

/// `attach-volume`.
pub fn attach_volume(ctx: &Ctx, a: AttachVolume) -> Result<Value, Failure> {
    let req = AttachVolumeRequest {
        device: a.device,
        instance_id: a.instance_id,
        volume_id: a.volume_id,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&disks::attach_volume(&mut store(ctx)?, &req)?)
}

/// `detach-volume`.
pub fn detach_volume(ctx: &Ctx, a: DetachVolume) -> Result<Value, Failure> {
    let req = DetachVolumeRequest {
        volume_id: a.volume_id,
        force: a.force,
        instance_id: a.instance_id,
        device: a.device,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&disks::detach_volume(&mut store(ctx)?, &req)?)
}

/// `delete-volume`.
pub fn delete_volume(ctx: &Ctx, a: VolumeId) -> Result<Value, Failure> {
    let req = DeleteVolumeRequest {
        volume_id: a.volume_id,
    };
    ctx.answer_dry_run(&req)?;
    ebs::delete_volume(&mut store(ctx)?, &req)?;
    Ok(Value::Null)
}

/// `modify-volume`.
pub fn modify_volume(ctx: &Ctx, a: ModifyVolume) -> Result<Value, Failure> {
    let req = ModifyVolumeRequest {
        volume_id: a.volume_id,
        size: Some(a.size),
    };
    ctx.answer_dry_run(&req)?;
    to_json(&disks::modify_volume(&mut store(ctx)?, &req)?)
}

/// `create-snapshot`.
pub fn create_snapshot(ctx: &Ctx, a: CreateSnapshot) -> Result<Value, Failure> {
    let req = CreateSnapshotRequest {
        volume_id: a.volume_id,
        description: a.description,
        tag_specifications: tag_specifications(&a.tag_specifications)?,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&disks::create_snapshot(&mut store(ctx)?, &req)?)
}

/// `describe-snapshots`.
pub fn describe_snapshots(ctx: &Ctx, a: DescribeSnapshots) -> Result<Value, Failure> {
    let req = DescribeSnapshotsRequest {
        filters: filters_from(&a.filters)?,
        snapshot_ids: a.snapshot_ids,
        owner_ids: a.owner_ids,
        ..Default::default()
    };
    ctx.answer_dry_run(&req)?;
    to_json(&ebs::describe_snapshots(&store(ctx)?, &req)?)
}

/// `delete-snapshot`.
pub fn delete_snapshot(ctx: &Ctx, a: DeleteSnapshot) -> Result<Value, Failure> {
    let req = DeleteSnapshotRequest {
        snapshot_id: a.snapshot_id,
    };
    ctx.answer_dry_run(&req)?;
    ebs::delete_snapshot(&mut store(ctx)?, &req)?;
    Ok(Value::Null)
}
