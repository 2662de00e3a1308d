//! EBS volumes and snapshots: the requests and results of CreateVolume, DescribeVolumes,
//! DeleteVolume, AttachVolume, DetachVolume, ModifyVolume, CreateSnapshot, DescribeSnapshots
//! and DeleteSnapshot, and the `Volume` and `Snapshot` structures they carry.

use serde::{Deserialize, Serialize};

use super::{Filter, Tag, TagSpecification};
use crate::ec2::filters::Filterable;

/// CreateVolume's input: an empty volume of `Size` GiB, or one restored from `SnapshotId`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateVolumeRequest {
    /// The zone, which must be the region's (`lab-1a`).
    pub availability_zone: String,
    /// Size in GiB; default: the snapshot's size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The snapshot to restore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// `gp2`, `gp3`, `io1`, `io2`, `st1`, `sc1` or `standard`; default `gp3`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<String>,
    /// Provisioned IOPS (`gp3`, `io1`, `io2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iops: Option<i64>,
    /// Provisioned throughput in MiB/s (`gp3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput: Option<i64>,
    /// Tags for the new volume (resource type `volume`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<TagSpecification>,
}

/// DescribeVolumes' input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeVolumesRequest {
    /// Only these volumes; each must exist.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_ids: Vec<String>,
    /// Filters, see [`Volume`]'s `Filterable` names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// A page of at most this many (at least 5; pages hold at most 500).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// The previous page's `NextToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribeVolumes' output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeVolumesResult {
    /// The volumes, oldest first.
    pub volumes: Vec<Volume>,
    /// The next page's token, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// An EBS volume, as DescribeVolumes and CreateVolume show it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    /// `vol-…`.
    pub volume_id: String,
    /// Size in GiB.
    pub size: u64,
    /// `gp2`, `gp3`, `io1`, `io2`, `st1`, `sc1` or `standard`.
    pub volume_type: String,
    /// The zone it lives in.
    pub availability_zone: String,
    /// `available` or `in-use`.
    pub state: String,
    /// When it was created (ISO 8601).
    pub create_time: String,
    /// Always false: ec2lab does not encrypt.
    pub encrypted: bool,
    /// Always false: a volume attaches to one instance.
    pub multi_attach_enabled: bool,
    /// The snapshot it was restored from, or empty.
    pub snapshot_id: String,
    /// Its attachment, if any (at most one).
    pub attachments: Vec<VolumeAttachment>,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// Provisioned IOPS, for the types that have them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iops: Option<i64>,
    /// Provisioned throughput in MiB/s (gp3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput: Option<i64>,
}

/// A volume's attachment to an instance; also what AttachVolume and DetachVolume return.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeAttachment {
    /// The volume.
    pub volume_id: String,
    /// The instance.
    pub instance_id: String,
    /// The device name, such as `/dev/sdf`.
    pub device: String,
    /// `attached` or `detached`.
    pub state: String,
    /// When it was attached (ISO 8601).
    pub attach_time: String,
    /// Whether terminating the instance deletes the volume (shown by DescribeVolumes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_on_termination: Option<bool>,
}

/// AttachVolume's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AttachVolumeRequest {
    /// The device name: `/dev/sdf` to `/dev/sdk`.
    pub device: String,
    /// The instance, running or stopped.
    pub instance_id: String,
    /// The available volume.
    pub volume_id: String,
}

/// DetachVolume's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DetachVolumeRequest {
    /// The attached volume.
    pub volume_id: String,
    /// Detach from a running instance (the guest loses the disk at once).
    pub force: bool,
    /// When given, the instance the volume must be attached to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// When given, the device the volume must be attached at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// DeleteVolume's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteVolumeRequest {
    /// The available volume to delete with its data.
    pub volume_id: String,
}

/// ModifyVolume's input: ec2lab only grows volumes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ModifyVolumeRequest {
    /// The volume.
    pub volume_id: String,
    /// The new size in GiB, at least the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// ModifyVolume's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyVolumeResult {
    /// The change, completed at once.
    pub volume_modification: VolumeModification,
}

/// A change of a volume's size.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeModification {
    /// The volume.
    pub volume_id: String,
    /// Always `completed`: the file grows at once.
    pub modification_state: String,
    /// The size before, in GiB.
    pub original_size: u64,
    /// The size after, in GiB.
    pub target_size: u64,
    /// Percent done: 100.
    pub progress: i64,
}

/// CreateSnapshot's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateSnapshotRequest {
    /// The volume to copy.
    pub volume_id: String,
    /// Free text.
    pub description: String,
    /// Tags for the new snapshot (resource type `snapshot`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<TagSpecification>,
}

/// DescribeSnapshots' input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeSnapshotsRequest {
    /// Only these snapshots; each must exist.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshot_ids: Vec<String>,
    /// Accepted: every snapshot here is the account's own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub owner_ids: Vec<String>,
    /// Filters, see [`Snapshot`]'s `Filterable` names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// A page of at most this many (at least 5; pages hold at most 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// The previous page's `NextToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribeSnapshots' output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSnapshotsResult {
    /// The snapshots, oldest first.
    pub snapshots: Vec<Snapshot>,
    /// The next page's token, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DeleteSnapshot's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteSnapshotRequest {
    /// The snapshot; the others stay restorable.
    pub snapshot_id: String,
}

/// An EBS snapshot, as DescribeSnapshots and CreateSnapshot show it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Snapshot {
    /// `snap-…`.
    pub snapshot_id: String,
    /// The volume it copies.
    pub volume_id: String,
    /// The volume's size then, in GiB.
    pub volume_size: u64,
    /// `completed` (ec2lab's snapshots complete before CreateSnapshot returns).
    pub state: String,
    /// When it was taken (ISO 8601).
    pub start_time: String,
    /// `100%` once completed.
    pub progress: String,
    /// Free text.
    pub description: String,
    /// The account.
    pub owner_id: String,
    /// Always false.
    pub encrypted: bool,
    /// Always `standard`.
    pub storage_tier: String,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// What the snapshot costs in the chunk store.
    #[serde(rename = "Ec2LabInfo")]
    pub ec2lab_info: SnapshotLabInfo,
}

/// ec2lab's own facts about a snapshot (not in EC2's model).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnapshotLabInfo {
    /// Bytes this snapshot added to the chunk store (incremental).
    pub bytes_added: Option<i64>,
    /// Bytes of chunks it needs.
    pub bytes_referenced: Option<i64>,
}

fn flag(b: bool) -> String {
    b.to_string()
}

impl Filterable for Volume {
    const FILTERS: &'static [&'static str] = &[
        "attachment.attach-time",
        "attachment.delete-on-termination",
        "attachment.device",
        "attachment.instance-id",
        "attachment.status",
        "availability-zone",
        "create-time",
        "encrypted",
        "multi-attach-enabled",
        "size",
        "snapshot-id",
        "status",
        "volume-id",
        "volume-type",
    ];

    fn filter_values(&self, name: &str) -> Vec<String> {
        let each = |f: fn(&VolumeAttachment) -> String| self.attachments.iter().map(f).collect();
        match name {
            "attachment.attach-time" => each(|a| a.attach_time.clone()),
            "attachment.delete-on-termination" => {
                each(|a| flag(a.delete_on_termination.unwrap_or(false)))
            }
            "attachment.device" => each(|a| a.device.clone()),
            "attachment.instance-id" => each(|a| a.instance_id.clone()),
            "attachment.status" => each(|a| a.state.clone()),
            "availability-zone" => vec![self.availability_zone.clone()],
            "create-time" => vec![self.create_time.clone()],
            "encrypted" => vec![flag(self.encrypted)],
            "multi-attach-enabled" => vec![flag(self.multi_attach_enabled)],
            "size" => vec![self.size.to_string()],
            // A volume not restored from a snapshot has none to match.
            "snapshot-id" if self.snapshot_id.is_empty() => vec![],
            "snapshot-id" => vec![self.snapshot_id.clone()],
            "status" => vec![self.state.clone()],
            "volume-id" => vec![self.volume_id.clone()],
            "volume-type" => vec![self.volume_type.clone()],
            _ => vec![],
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

impl Filterable for Snapshot {
    const FILTERS: &'static [&'static str] = &[
        "description",
        "encrypted",
        "owner-id",
        "progress",
        "snapshot-id",
        "start-time",
        "status",
        "storage-tier",
        "volume-id",
        "volume-size",
    ];

    fn filter_values(&self, name: &str) -> Vec<String> {
        let one = match name {
            "description" => self.description.clone(),
            "encrypted" => flag(self.encrypted),
            "owner-id" => self.owner_id.clone(),
            "progress" => self.progress.clone(),
            "snapshot-id" => self.snapshot_id.clone(),
            "start-time" => self.start_time.clone(),
            "status" => self.state.clone(),
            "storage-tier" => self.storage_tier.clone(),
            "volume-id" => self.volume_id.clone(),
            "volume-size" => self.volume_size.to_string(),
            _ => return vec![],
        };
        vec![one]
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::filters::retain;

    fn volume(id: &str, attached_to: Option<&str>) -> Volume {
        Volume {
            volume_id: id.into(),
            state: if attached_to.is_some() {
                "in-use"
            } else {
                "available"
            }
            .into(),
            volume_type: "gp3".into(),
            attachments: attached_to
                .map(|i| VolumeAttachment {
                    volume_id: id.into(),
                    instance_id: i.into(),
                    device: "/dev/sdf".into(),
                    state: "attached".into(),
                    delete_on_termination: Some(false),
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            tags: vec![Tag::new("Name", id)],
            ..Default::default()
        }
    }

    #[test]
    fn volume_filters_see_the_attachment_and_tags() {
        let vols = || vec![volume("vol-1", Some("i-1")), volume("vol-2", None)];
        let kept = retain(vols(), &[Filter::new("attachment.instance-id", &["i-*"])]).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].volume_id, "vol-1");
        let kept = retain(vols(), &[Filter::new("status", &["available"])]).unwrap();
        assert_eq!(kept[0].volume_id, "vol-2");
        let kept = retain(vols(), &[Filter::new("tag:Name", &["vol-2"])]).unwrap();
        assert_eq!(kept[0].volume_id, "vol-2");
        assert!(retain(vols(), &[Filter::new("snapshot-id", &["*"])])
            .unwrap()
            .is_empty());
        assert!(retain(vols(), &[Filter::new("colour", &["x"])]).is_err());
    }

    #[test]
    fn a_volume_serializes_under_the_models_names() {
        let v = serde_json::to_value(volume("vol-1", Some("i-1"))).unwrap();
        assert_eq!(v["Attachments"][0]["DeleteOnTermination"], false);
        assert_eq!(v["MultiAttachEnabled"], false);
        assert!(v.get("Iops").is_none());
        let a = serde_json::to_value(VolumeAttachment::default()).unwrap();
        assert!(a.get("DeleteOnTermination").is_none());
    }
}
