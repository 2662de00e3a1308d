//! An instance's disks: which file sits in which virtio slot of its VMM, and the volume
//! operations that must reach a running guest (hot attach and detach, point-in-time
//! snapshots).
//!
//! Slot layout: 0 the root volume, then the instance store (types that have one), then one
//! slot per EBS device name (`/dev/sdf` …), empty until a volume is attached.

use std::path::PathBuf;
use std::time::Duration;

use super::record::Instance;
use super::rundir::RunDir;
use super::state::State;
use super::types;
use crate::ec2::shapes::instances::{EbsInstanceBlockDevice, InstanceBlockDeviceMapping};
use crate::ec2::shapes::storage::{
    self as storage_shapes, AttachVolumeRequest, CreateSnapshotRequest, DetachVolumeRequest,
    ModifyVolumeRequest, ModifyVolumeResult, VolumeAttachment,
};
use crate::error::Ec2Error;
use crate::fsutil;
use crate::storage::volumes::{self, Volume, EBS_DEVICES};
use crate::storage::{ebs, instance_store};
use crate::store::{iso8601_now, Store};
use crate::vmm::api::{self, Request};
use crate::vmm::config::DiskConfig;

/// Instance-store size in GB, for types that have one.
pub fn store_gb(inst: &Instance) -> Option<u64> {
    types::find(&inst.instance_type)
        .map(|t| t.instance_store_gb)
        .filter(|gb| *gb > 0)
}

/// The VMM slot of the first EBS device.
fn ebs_base(inst: &Instance) -> usize {
    1 + usize::from(store_gb(inst).is_some())
}

/// The volume attached at the instance's root device.
pub fn root_volume(store: &Store, inst: &Instance) -> Result<Volume, Ec2Error> {
    Volume::of_instance(store.conn(), &inst.instance_id)?
        .into_iter()
        .find(|v| {
            v.attachment
                .as_ref()
                .is_some_and(|a| a.device == inst.root_device_name)
        })
        .ok_or_else(|| {
            Ec2Error::internal(format!(
                "{} has no root volume attached at {}",
                inst.instance_id, inst.root_device_name
            ))
        })
}

/// The instance's VMM disks, in slot order (empty slots for EBS devices with no volume).
/// Creates the instance store when the instance starts from stopped (a reboot finds it
/// in place).
pub fn vmm_disks(store: &Store, inst: &Instance) -> Result<Vec<DiskConfig>, Ec2Error> {
    let root = root_volume(store, inst)?;
    let mut disks = vec![DiskConfig::file(
        store.volume_path(&root.volume_id),
        Some(root.serial()),
    )];
    if let Some(gb) = store_gb(inst) {
        let p = instance_store::ensure(store.region(), &inst.instance_id, gb)?;
        disks.push(DiskConfig::file(p, Some("ephemeral0".into())));
    }
    let attached = Volume::of_instance(store.conn(), &inst.instance_id)?;
    for device in EBS_DEVICES {
        let vol = attached.iter().find(|v| {
            v.attachment
                .as_ref()
                .is_some_and(|a| volumes::ebs_slot(&a.device) == volumes::ebs_slot(device))
        });
        disks.push(match vol {
            Some(v) => DiskConfig::file(store.volume_path(&v.volume_id), Some(v.serial())),
            None => DiskConfig::empty_slot(),
        });
    }
    Ok(disks)
}

/// The instance's devices as `DescribeInstances` shows them: its attached EBS volumes
/// and, for a type with one, its instance-store volume.
pub fn block_device_mappings(
    store: &Store,
    inst: &Instance,
) -> Result<Vec<InstanceBlockDeviceMapping>, Ec2Error> {
    let volumes = Volume::of_instance(store.conn(), &inst.instance_id)?;
    Ok(block_device_mappings_of(inst, &volumes))
}

/// [`block_device_mappings`] from the instance's attached volumes, read already (by
/// device name).
pub fn block_device_mappings_of(
    inst: &Instance,
    volumes: &[Volume],
) -> Vec<InstanceBlockDeviceMapping> {
    let mut out: Vec<InstanceBlockDeviceMapping> = volumes
        .iter()
        .filter_map(|v| {
            let a = v.attachment.as_ref()?;
            Some(InstanceBlockDeviceMapping {
                device_name: a.device.clone(),
                ebs: Some(EbsInstanceBlockDevice {
                    attach_time: a.attach_time.clone(),
                    delete_on_termination: a.delete_on_termination,
                    status: "attached".into(),
                    volume_id: v.volume_id.clone(),
                }),
                virtual_name: None,
            })
        })
        .collect();
    if store_gb(inst).is_some() {
        out.push(InstanceBlockDeviceMapping {
            device_name: "/dev/sdb".into(),
            ebs: None,
            virtual_name: Some("ephemeral0".into()),
        });
    }
    out
}

fn running_vmm(store: &Store, inst: &Instance) -> Option<PathBuf> {
    (inst.state == State::Running && inst.vmm_pid.is_some())
        .then(|| RunDir::of(store, &inst.instance_id).sock())
}

fn vmm_call(sock: &std::path::Path, req: &Request, what: &str) -> Result<(), Ec2Error> {
    let resp = api::call(sock, req)
        .map_err(|e| Ec2Error::internal(format!("{what}: {}", crate::causes::chain(&e))))?;
    if resp.ok {
        Ok(())
    } else {
        Err(Ec2Error::internal(format!(
            "{what}: {}",
            resp.error.unwrap_or_default()
        )))
    }
}

fn attachment(vol: &str, inst: &str, device: &str, state: &str) -> VolumeAttachment {
    VolumeAttachment {
        volume_id: vol.into(),
        instance_id: inst.into(),
        device: device.into(),
        state: state.into(),
        attach_time: iso8601_now(),
        delete_on_termination: None,
    }
}

/// `attach-volume`: recorded in one transaction, then made real in the running guest
/// (or at the next start of a stopped one). A failed hot attach is rolled back.
pub fn attach_volume(
    store: &mut Store,
    req: &AttachVolumeRequest,
) -> Result<VolumeAttachment, Ec2Error> {
    let (volume_id, instance_id, device) = (&*req.volume_id, &*req.instance_id, &*req.device);
    let (inst, vol) = store.write(|tx| -> Result<(Instance, Volume), Ec2Error> {
        Volume::get(tx, volume_id)?;
        let inst = Instance::get(tx, instance_id)?;
        if !matches!(inst.state, State::Running | State::Stopped) {
            return Err(Ec2Error::new(
                "IncorrectState",
                format!(
                    "Instance '{instance_id}' is {}; volumes attach to running or stopped instances",
                    inst.state.name()
                ),
            ));
        }
        let vol = volumes::record_attach(tx, volume_id, instance_id, device)?;
        Ok((inst, vol))
    })?;
    if let Some(sock) = running_vmm(store, &inst) {
        let slot = ebs_base(&inst) + volumes::ebs_slot(device).expect("checked by record_attach");
        let req = Request::AttachDisk {
            slot,
            path: store.volume_path(volume_id),
            read_only: false,
            serial: Some(vol.serial()),
            replace: false,
        };
        if let Err(e) = vmm_call(&sock, &req, "hot attach") {
            store.write(|tx| volumes::record_detach(tx, volume_id))?;
            return Err(e);
        }
        // The VMM's I/O limit counts the new volume from now, not from its next start.
        super::cgroup::for_vmm(store, &inst);
    }
    Ok(attachment(volume_id, instance_id, device, "attached"))
}

/// `detach-volume`: from a stopped instance at once; from a running one only with
/// `--force`, because ec2lab cannot see whether the guest still has it mounted.
pub fn detach_volume(
    store: &mut Store,
    req: &DetachVolumeRequest,
) -> Result<VolumeAttachment, Ec2Error> {
    let (volume_id, force) = (&*req.volume_id, req.force);
    let vol = Volume::get(store.conn(), volume_id)?;
    let Some(a) = vol.attachment.clone() else {
        return Err(Ec2Error::new(
            "IncorrectState",
            format!("Volume '{volume_id}' is in the 'available' state."),
        ));
    };
    let named = |given: &Option<String>, have: &str| given.as_deref().is_none_or(|g| g == have);
    if !named(&req.instance_id, &a.instance_id) || !named(&req.device, &a.device) {
        return Err(Ec2Error::new(
            "InvalidAttachment.NotFound",
            format!(
                "Volume '{volume_id}' is attached to {} at {}, not as the request says",
                a.instance_id, a.device
            ),
        ));
    }
    let inst = Instance::get(store.conn(), &a.instance_id)?;
    if a.device == inst.root_device_name && inst.state != State::Stopped {
        return Err(Ec2Error::new(
            "OperationNotPermitted",
            format!("The root volume {volume_id} can only be detached from a stopped instance"),
        ));
    }
    if inst.state.has_vmm() {
        let Some(sock) = running_vmm(store, &inst).filter(|_| force) else {
            return Err(Ec2Error::new(
                "IncorrectState",
                format!(
                    "{volume_id} is attached to {} instance {}: unmount it in the guest, then \
                     detach with --force (ec2lab cannot see the guest's mounts), or stop the instance first",
                    inst.state.name(),
                    inst.instance_id
                ),
            ));
        };
        let slot = ebs_base(&inst)
            + volumes::ebs_slot(&a.device).ok_or_else(|| Ec2Error::internal("bad device"))?;
        vmm_call(&sock, &Request::DetachDisk { slot }, "hot detach")?;
        store.write(|tx| volumes::record_detach(tx, volume_id))?;
        super::cgroup::for_vmm(store, &inst);
        return Ok(attachment(volume_id, &a.instance_id, &a.device, "detached"));
    }
    store.write(|tx| volumes::record_detach(tx, volume_id))?;
    Ok(attachment(volume_id, &a.instance_id, &a.device, "detached"))
}

/// A point-in-time copy of a volume's file: if a running guest uses it, its vCPUs are
/// paused for the copy (crash-consistent), which is a sparse copy and quick.
pub fn freeze_copy(store: &Store, vol: &Volume, dest: &std::path::Path) -> Result<(), Ec2Error> {
    let src = store.volume_path(&vol.volume_id);
    // The copy writes the volume's data blocks at once: reserved like a new volume's.
    let data = std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(&src)?) * 512;
    let what = format!("a point-in-time copy of {}", vol.volume_id);
    crate::storage::reserve::check(store, &what, data, 0)?;
    let sock = match &vol.attachment {
        Some(a) => running_vmm(store, &Instance::get(store.conn(), &a.instance_id)?),
        None => None,
    };
    match sock {
        Some(sock) => {
            // A lease, not a pause: if this process dies mid-copy, its connection closes
            // and the VMM lets the guest run again.
            let what = "pause for a point-in-time copy";
            let fail = |e: String| Ec2Error::internal(format!("{what}: {e}"));
            let (lease, resp) = api::Lease::take(&sock, Duration::from_secs(10))
                .map_err(|e| fail(crate::causes::chain(&e)))?;
            if !resp.ok {
                return Err(fail(resp.error.unwrap_or_default()));
            }
            crate::testhook::kill_point("paused-copy");
            let copied = fsutil::sparse_copy(&src, dest);
            let resumed = match lease.end() {
                Ok(r) if r.ok => Ok(()),
                Ok(r) => Err(r.error.unwrap_or_default()),
                Err(e) => Err(crate::causes::chain(&e)),
            };
            copied?;
            resumed.map_err(|e| Ec2Error::internal(format!("resume after the copy: {e}")))
        }
        None => {
            fsutil::sparse_copy(&src, dest)?;
            Ok(())
        }
    }
}

/// After a volume grew: a running guest's disk is reopened, and sees the new size.
pub fn refresh_size(store: &Store, vol: &Volume) -> Result<(), Ec2Error> {
    let Some(a) = &vol.attachment else {
        return Ok(());
    };
    let inst = Instance::get(store.conn(), &a.instance_id)?;
    let Some(sock) = running_vmm(store, &inst) else {
        return Ok(());
    };
    let slot = if a.device == inst.root_device_name {
        0
    } else {
        ebs_base(&inst)
            + volumes::ebs_slot(&a.device).ok_or_else(|| Ec2Error::internal("bad device"))?
    };
    let req = Request::AttachDisk {
        slot,
        path: store.volume_path(&vol.volume_id),
        read_only: false,
        serial: Some(vol.serial()),
        replace: true,
    };
    vmm_call(&sock, &req, "resize")?;
    // A gp2 volume's IOPS grow with its size.
    super::cgroup::for_vmm(store, &inst);
    Ok(())
}

/// ModifyVolume, for every front end: the volume grows, and a running guest that has it
/// sees the new size at once ([`refresh_size`]).
pub fn modify_volume(
    store: &mut Store,
    req: &ModifyVolumeRequest,
) -> Result<ModifyVolumeResult, Ec2Error> {
    ebs::modify_volume(store, req, refresh_size)
}

/// CreateSnapshot, for every front end: point-in-time even while a running guest writes
/// to the volume ([`freeze_copy`]).
pub fn create_snapshot(
    store: &mut Store,
    req: &CreateSnapshotRequest,
) -> Result<storage_shapes::Snapshot, Ec2Error> {
    ebs::create_snapshot(store, req, freeze_copy)
}
