//! The EBS verbs: volumes and snapshots, shaped like `aws ec2`'s.

use clap::Args;
use serde_json::{json, Value};

use super::ctx::{tags_for, Ctx, Failure};
use crate::error::Ec2Error;
use crate::instances::{self, disks};
use crate::storage::snapshots::{self, Snapshot};
use crate::storage::volumes::{self, NewVolume, Volume, VolumeSource};

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
    #[arg(long, default_value = "gp3")]
    pub volume_type: String,
    #[arg(long)]
    pub iops: Option<i64>,
    /// The region's zone, e.g. lab-1a.
    #[arg(long)]
    pub availability_zone: String,
    #[arg(long)]
    pub snapshot_id: Option<String>,
    #[arg(long, num_args = 1..)]
    pub tag_specifications: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  ec2lab describe-volumes\n  \
  ec2lab describe-volumes --filters Name=status,Values=available\n  \
  ec2lab describe-volumes --filters Name=attachment.instance-id,Values=i-0123456789abcdef0")]
/// Describe volumes (states: available, in-use).
pub struct DescribeVolumes {
    #[arg(long, num_args = 1..)]
    pub volume_ids: Vec<String>,
    /// Filters: Name=status|volume-id|attachment.instance-id|volume-type,Values=…
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
    #[arg(long)]
    pub volume_id: String,
    #[arg(long)]
    pub instance_id: String,
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
    #[arg(long)]
    pub volume_id: String,
    /// Detach from a running instance (the guest loses the disk at once).
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ec2lab delete-volume --volume-id vol-0123456789abcdef0")]
/// Delete an available volume and its data.
pub struct VolumeId {
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
    #[arg(long)]
    pub volume_id: String,
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
    #[arg(long)]
    pub volume_id: String,
    #[arg(long, default_value = "")]
    pub description: String,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ec2lab describe-snapshots --owner-ids self")]
/// Describe snapshots.
pub struct DescribeSnapshots {
    #[arg(long, num_args = 1..)]
    pub snapshot_ids: Vec<String>,
    /// Accepted for compatibility: all snapshots here are yours.
    #[arg(long, num_args = 1..)]
    pub owner_ids: Vec<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab delete-snapshot --snapshot-id snap-0123456789abcdef0\n\n\
  Every other snapshot stays restorable: chunks still needed are kept."
)]
/// Delete a snapshot.
pub struct DeleteSnapshot {
    #[arg(long)]
    pub snapshot_id: String,
}

fn store(ctx: &Ctx) -> Result<crate::store::Store, Failure> {
    Ok(ctx.tidy_store()?)
}

pub fn create_volume(ctx: &Ctx, a: CreateVolume) -> Result<Value, Failure> {
    let tags = tags_for(&a.tag_specifications, "volume")?;
    let mut s = store(ctx)?;
    let snap = match &a.snapshot_id {
        Some(id) => Some(Snapshot::get(s.conn(), id)?),
        None => None,
    };
    if snap.is_none() && a.size.is_none() {
        return Err(Ec2Error::missing_parameter("size (or --snapshot-id)").into());
    }
    let restore = |dest: &std::path::Path| -> Result<(), Ec2Error> {
        let id = a.snapshot_id.as_deref().unwrap_or_default();
        // Restored into a store opened here: the closure must not borrow `s` mutably.
        let st = ctx.store()?;
        snapshots::restore(&st, id, dest)
    };
    let source = snap
        .as_ref()
        .map(|sn| VolumeSource::Snapshot(&sn.snapshot_id, sn.volume_size_gib, &restore));
    let vol = volumes::create(
        &mut s,
        &NewVolume {
            size_gib: a.size,
            volume_type: &a.volume_type,
            iops: a.iops,
            availability_zone: &a.availability_zone,
            source,
            tags,
        },
        None,
    )?;
    Ok(vol.describe())
}

pub fn describe_volumes(ctx: &Ctx, a: DescribeVolumes) -> Result<Value, Failure> {
    let filters = super::ctx::filters_from(&a.filters)?;
    let s = store(ctx)?;
    for id in &a.volume_ids {
        Volume::get(s.conn(), id)?;
    }
    let mut out = Vec::new();
    for v in Volume::all(s.conn())? {
        if !a.volume_ids.is_empty() && !a.volume_ids.contains(&v.volume_id) {
            continue;
        }
        let mut keep = true;
        for f in &filters {
            let field = match f.name.as_str() {
                "status" => Some(v.state.clone()),
                "volume-id" => Some(v.volume_id.clone()),
                "volume-type" => Some(v.volume_type.clone()),
                "attachment.instance-id" => v.attachment.as_ref().map(|a| a.instance_id.clone()),
                "attachment.device" => v.attachment.as_ref().map(|a| a.device.clone()),
                other => {
                    return Err(Ec2Error::invalid_parameter(format!(
                        "The filter '{other}' is invalid; use status, volume-id, volume-type, \
                         attachment.instance-id or attachment.device"
                    ))
                    .into())
                }
            };
            keep &= field.is_some_and(|x| f.values.iter().any(|p| instances::glob(p, &x)));
        }
        if keep {
            out.push(v.describe());
        }
    }
    Ok(json!({ "Volumes": out }))
}

pub fn attach_volume(ctx: &Ctx, a: AttachVolume) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    Ok(disks::attach_volume(
        &mut s,
        &a.volume_id,
        &a.instance_id,
        &a.device,
    )?)
}

pub fn detach_volume(ctx: &Ctx, a: DetachVolume) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    Ok(disks::detach_volume(&mut s, &a.volume_id, a.force)?)
}

pub fn delete_volume(ctx: &Ctx, a: VolumeId) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    volumes::delete(&mut s, &a.volume_id)?;
    Ok(Value::Null)
}

pub fn modify_volume(ctx: &Ctx, a: ModifyVolume) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    let (old, vol) = volumes::grow(&mut s, &a.volume_id, a.size)?;
    disks::refresh_size(&s, &vol)?;
    Ok(json!({"VolumeModification": {
        "VolumeId": vol.volume_id, "ModificationState": "completed",
        "OriginalSize": old, "TargetSize": vol.size_gib, "Progress": 100,
    }}))
}

pub fn create_snapshot(ctx: &Ctx, a: CreateSnapshot) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    let snap = snapshots::create(&mut s, &a.volume_id, &a.description, disks::freeze_copy)?;
    Ok(snap.describe())
}

pub fn describe_snapshots(ctx: &Ctx, a: DescribeSnapshots) -> Result<Value, Failure> {
    let s = store(ctx)?;
    for id in &a.snapshot_ids {
        Snapshot::get(s.conn(), id)?;
    }
    let out: Vec<Value> = Snapshot::all(s.conn())?
        .iter()
        .filter(|sn| a.snapshot_ids.is_empty() || a.snapshot_ids.contains(&sn.snapshot_id))
        .map(Snapshot::describe)
        .collect();
    Ok(json!({ "Snapshots": out }))
}

pub fn delete_snapshot(ctx: &Ctx, a: DeleteSnapshot) -> Result<Value, Failure> {
    let mut s = store(ctx)?;
    snapshots::delete(&mut s, &a.snapshot_id)?;
    Ok(Value::Null)
}
