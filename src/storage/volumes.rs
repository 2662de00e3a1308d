//! EBS volumes: persistent disks, backed by sparse files in the region's `volumes/`,
//! attachable to one instance at a time, hot-attachable to running ones.
//!
//! Attachment points: an instance's VMM has a fixed set of virtio-blk slots whose media can
//! change while the guest runs (see `vmm::devices::virtio::block`): slot 0 is the root
//! volume, then the instance store (types that have one), then one slot per EBS device
//! name `/dev/sdf` … `/dev/sdk`. The guest reads each volume's id from the disk's serial
//! (`/sys/block/vdX/serial`), the way a Nitro instance reads NVMe serials.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::reserve;
use crate::ec2::shapes::storage as shapes;
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::fsutil;
use crate::ids;
use crate::operations::{self, Work};
use crate::store::{iso8601_now, Store};

/// Device names that can be attached at any time, in slot order.
pub const EBS_DEVICES: [&str; 6] = [
    "/dev/sdf", "/dev/sdg", "/dev/sdh", "/dev/sdi", "/dev/sdj", "/dev/sdk",
];
/// The largest volume EC2 makes, in GiB.
pub const MAX_SIZE_GIB: u64 = 16384;
const GIB: u64 = 1 << 30;

/// The EBS slot of a device name (`/dev/sdf` or `/dev/xvdf` → 0).
pub fn ebs_slot(device: &str) -> Option<usize> {
    let letter = device
        .strip_prefix("/dev/sd")
        .or_else(|| device.strip_prefix("/dev/xvd"))?;
    EBS_DEVICES
        .iter()
        .position(|d| d.strip_prefix("/dev/sd") == Some(letter))
}

/// A volume's attachment, as the `volumes` row keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Attachment {
    /// The instance.
    pub instance_id: String,
    /// The device name, such as `/dev/sdf` (or the root device).
    pub device: String,
    /// When it was attached (ISO 8601).
    pub attach_time: String,
    /// Whether terminating the instance deletes the volume.
    pub delete_on_termination: bool,
}

/// A `volumes` row.
#[derive(Clone, Debug, PartialEq)]
pub struct Volume {
    /// `vol-…`.
    pub volume_id: String,
    /// Size in GiB.
    pub size_gib: u64,
    /// One of [`VOLUME_TYPES`].
    pub volume_type: String,
    /// Provisioned IOPS, for the types that have them.
    pub iops: Option<i64>,
    /// Provisioned throughput in MiB/s (gp3).
    pub throughput: Option<i64>,
    /// The zone.
    pub availability_zone: String,
    /// `available` or `in-use`.
    pub state: String,
    /// The snapshot it was restored from.
    pub snapshot_id: Option<String>,
    /// When it was created (ISO 8601).
    pub create_time: String,
    /// Its attachment, if any.
    pub attachment: Option<Attachment>,
    /// Its tags.
    pub tags: Vec<Tag>,
}

impl Volume {
    fn from_row(r: &Row) -> rusqlite::Result<Volume> {
        let instance: Option<String> = r.get("instance_id")?;
        let attachment = match instance {
            Some(instance_id) => Some(Attachment {
                instance_id,
                device: r.get::<_, Option<String>>("device")?.unwrap_or_default(),
                attach_time: r
                    .get::<_, Option<String>>("attach_time")?
                    .unwrap_or_default(),
                delete_on_termination: r.get("delete_on_termination")?,
            }),
            None => None,
        };
        Ok(Volume {
            volume_id: r.get("volume_id")?,
            size_gib: r.get::<_, i64>("size_gib")? as u64,
            volume_type: r.get("volume_type")?,
            iops: r.get("iops")?,
            throughput: r.get("throughput")?,
            availability_zone: r.get("availability_zone")?,
            state: r.get("state")?,
            snapshot_id: r.get("snapshot_id")?,
            create_time: r.get("create_time")?,
            attachment,
            tags: tags::from_column(&r.get::<_, String>("tags")?),
        })
    }

    /// The volume `id`, if it exists.
    pub fn load(c: &Connection, id: &str) -> Result<Option<Volume>, Ec2Error> {
        Ok(c.query_row(
            "SELECT * FROM volumes WHERE volume_id = ?1",
            [id],
            Volume::from_row,
        )
        .optional()?)
    }

    /// The volume `id`, or EC2's error for a malformed or unknown id.
    pub fn get(c: &Connection, id: &str) -> Result<Volume, Ec2Error> {
        Ec2Error::check_id(id, "vol", "Volume")?;
        Self::load(c, id)?.ok_or_else(|| {
            Ec2Error::new(
                "InvalidVolume.NotFound",
                format!("The volume '{id}' does not exist."),
            )
        })
    }

    /// Every volume, oldest first.
    pub fn all(c: &Connection) -> Result<Vec<Volume>, Ec2Error> {
        let mut stmt = c.prepare("SELECT * FROM volumes ORDER BY create_time, volume_id")?;
        let rows = stmt.query_map([], Volume::from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The volumes attached to an instance, by device name.
    pub fn of_instance(c: &Connection, instance_id: &str) -> Result<Vec<Volume>, Ec2Error> {
        let mut stmt = c.prepare("SELECT * FROM volumes WHERE instance_id = ?1 ORDER BY device")?;
        let rows = stmt.query_map([instance_id], Volume::from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The volumes attached to each of `instance_ids`, by device name, in one query
    /// (`DescribeInstances` of many instances); an instance without any has no entry.
    pub fn of_instances(
        c: &Connection,
        instance_ids: &[&str],
    ) -> Result<HashMap<String, Vec<Volume>>, Ec2Error> {
        let mut stmt = c.prepare_cached(
            "SELECT * FROM volumes WHERE instance_id IN (SELECT value FROM json_each(?1))
             ORDER BY device",
        )?;
        let ids = serde_json::to_string(instance_ids).unwrap_or_default();
        let mut out: HashMap<String, Vec<Volume>> = HashMap::new();
        for v in stmt.query_map([ids], Volume::from_row)? {
            let v = v?;
            if let Some(a) = &v.attachment {
                out.entry(a.instance_id.clone()).or_default().push(v);
            }
        }
        Ok(out)
    }

    fn insert(&self, c: &Connection) -> Result<(), Ec2Error> {
        let a = self.attachment.as_ref();
        c.execute(
            "INSERT INTO volumes (volume_id, size_gib, volume_type, iops, availability_zone, state,
               snapshot_id, create_time, instance_id, device, attach_time, delete_on_termination, tags,
               throughput)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
            params![
                self.volume_id,
                self.size_gib as i64,
                self.volume_type,
                self.iops,
                self.availability_zone,
                self.state,
                self.snapshot_id,
                self.create_time,
                a.map(|a| a.instance_id.clone()),
                a.map(|a| a.device.clone()),
                a.map(|a| a.attach_time.clone()),
                a.is_some_and(|a| a.delete_on_termination),
                tags::to_column(&self.tags),
                self.throughput,
            ],
        )?;
        Ok(())
    }

    /// The serial the guest sees: the id without its dash (20 bytes, virtio-blk's limit).
    pub fn serial(&self) -> String {
        self.volume_id.replace('-', "")
    }

    /// The volume as EC2 shows it.
    pub fn to_shape(&self) -> shapes::Volume {
        shapes::Volume {
            volume_id: self.volume_id.clone(),
            size: self.size_gib,
            volume_type: self.volume_type.clone(),
            availability_zone: self.availability_zone.clone(),
            state: self.state.clone(),
            create_time: self.create_time.clone(),
            encrypted: false,
            multi_attach_enabled: false,
            snapshot_id: self.snapshot_id.clone().unwrap_or_default(),
            attachments: self
                .attachment
                .iter()
                .map(|a| shapes::VolumeAttachment {
                    volume_id: self.volume_id.clone(),
                    instance_id: a.instance_id.clone(),
                    device: a.device.clone(),
                    state: "attached".into(),
                    attach_time: a.attach_time.clone(),
                    delete_on_termination: Some(a.delete_on_termination),
                })
                .collect(),
            tags: self.tags.clone(),
            iops: self.iops,
            throughput: self.throughput,
        }
    }
}

/// The EBS volume types, as EC2 names them.
pub const VOLUME_TYPES: [&str; 7] = ["standard", "io1", "io2", "gp2", "sc1", "st1", "gp3"];

/// What a volume of `volume_type` gets provisioned: its IOPS and throughput (MiB/s), the
/// defaults where the request names none, or EC2's error for a value the type does not
/// take or a value out of its range. CreateVolume and RunInstances' block devices both
/// check with this, before anything is made.
pub fn check_type(
    volume_type: &str,
    iops: Option<i64>,
    throughput: Option<i64>,
) -> Result<(Option<i64>, Option<i64>), Ec2Error> {
    if !VOLUME_TYPES.contains(&volume_type) {
        return Err(Ec2Error::invalid_parameter(format!(
            "Value ({volume_type}) for parameter volumeType is invalid. Valid values: {}",
            VOLUME_TYPES.join(", ")
        )));
    }
    let combination = |m: String| Ec2Error::new("InvalidParameterCombination", m);
    let iops = match (volume_type, iops) {
        ("io1" | "io2", None) => {
            return Err(combination(format!(
                "The parameter iops must be specified for {volume_type} volumes."
            )))
        }
        ("gp3", None) => Some(3000),
        ("gp3" | "io1" | "io2", Some(i)) => Some(in_range("iops", i, iops_range(volume_type))?),
        (_, None) => None,
        (_, Some(_)) => {
            return Err(combination(format!(
                "The parameter iops is not supported for {volume_type} volumes."
            )))
        }
    };
    let throughput = match (volume_type, throughput) {
        ("gp3", None) => Some(125),
        ("gp3", Some(t)) => Some(in_range("throughput", t, (125, 2000))?),
        (_, None) => None,
        (_, Some(_)) => {
            return Err(combination(
                "throughput can only be specified for volumeType gp3.".into(),
            ))
        }
    };
    Ok((iops, throughput))
}

/// EC2's IOPS bounds of the types that take IOPS.
fn iops_range(volume_type: &str) -> (i64, i64) {
    match volume_type {
        "gp3" => (3000, 80_000),
        "io1" => (100, 64_000),
        _ => (100, 256_000),
    }
}

fn in_range(what: &str, v: i64, (min, max): (i64, i64)) -> Result<i64, Ec2Error> {
    if v < min {
        return Err(Ec2Error::invalid_parameter(format!(
            "Volume {what} of {v} is too low; minimum is {min}."
        )));
    }
    if v > max {
        return Err(Ec2Error::invalid_parameter(format!(
            "Volume {what} of {v} is too high; maximum is {max}."
        )));
    }
    Ok(v)
}

/// Checks a volume size, and that the host can hold it (`storage::reserve`): the volume
/// writes `written` bytes at once (a sparse copy of its source's data) and may write
/// `later` more. A volume larger than the whole file system never fits.
fn check_size(
    store: &Store,
    size_gib: u64,
    (written, later): (u64, u64),
    what: &str,
) -> Result<(), Ec2Error> {
    if size_gib == 0 || size_gib > MAX_SIZE_GIB {
        return Err(Ec2Error::invalid_parameter(format!(
            "Volume size {size_gib} GiB is not valid: use 1 to {MAX_SIZE_GIB} GiB"
        )));
    }
    let (_, total) = reserve::space(&store.root().join("volumes"))?;
    if size_gib * GIB > total {
        return Err(Ec2Error::new(
            "InsufficientVolumeCapacity",
            format!(
                "A {size_gib} GiB volume does not fit: the host's file system for volumes holds {} GiB",
                total / GIB
            ),
        ));
    }
    reserve::check(store, what, written, later)
}

/// A new volume: what CreateVolume and RunInstances' root volume ask for.
pub struct NewVolume<'a> {
    /// Size in GiB; default: the source's size, or 1.
    pub size_gib: Option<u64>,
    /// One of [`VOLUME_TYPES`].
    pub volume_type: &'a str,
    /// Provisioned IOPS.
    pub iops: Option<i64>,
    /// Provisioned throughput in MiB/s (gp3).
    pub throughput: Option<i64>,
    /// The zone, which must be the region's.
    pub availability_zone: &'a str,
    /// The volume's initial contents: written into the new file before it is recorded.
    pub source: Option<VolumeSource<'a>>,
    /// Its tags, already checked.
    pub tags: Vec<Tag>,
}

/// Where a new volume's bytes come from.
pub enum VolumeSource<'a> {
    /// A snapshot id, and a function that restores it into a path.
    Snapshot(&'a str, u64, &'a dyn Fn(&Path) -> Result<(), Ec2Error>),
    /// An image file (an AMI's root), copied sparse.
    File(&'a Path),
}

/// Creates a volume file and records it (available, or attached when `attach` is given).
pub fn create(
    store: &mut Store,
    req: &NewVolume,
    attach: Option<Attachment>,
) -> Result<Volume, Ec2Error> {
    let region = store.region().to_string();
    if req.availability_zone != format!("{region}a") {
        return Err(Ec2Error::new(
            "InvalidParameterValue",
            format!(
                "Value ({}) for parameter availabilityZone is invalid. This region has {region}a",
                req.availability_zone
            ),
        ));
    }
    let (iops, throughput) = check_type(req.volume_type, req.iops, req.throughput)?;
    let min_gib = match &req.source {
        Some(VolumeSource::Snapshot(_, size, _)) => *size,
        Some(VolumeSource::File(f)) => std::fs::metadata(f)?.len().div_ceil(GIB).max(1),
        None => 1,
    };
    let size_gib = req.size_gib.unwrap_or(min_gib);
    // What the new file takes on the host at once: the source's data blocks (a sparse copy
    // of an image; a snapshot restore writes at most its volume's size).
    let written = match &req.source {
        Some(VolumeSource::File(f)) => {
            std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(f)?) * 512
        }
        Some(VolumeSource::Snapshot(_, size, _)) => size * GIB,
        None => 0,
    };
    let later = (size_gib * GIB).saturating_sub(written);
    check_size(
        store,
        size_gib,
        (written, later),
        &format!("a {size_gib} GiB volume"),
    )?;
    if size_gib < min_gib {
        return Err(Ec2Error::invalid_parameter(format!(
            "Volume of {size_gib} GiB is smaller than its source ({min_gib} GiB)"
        )));
    }
    let volume_id = ids::new_id("vol");
    let path = store.volume_path(&volume_id);
    let op = operations::begin(
        store,
        Work::VolumeCopy {
            volume_id: volume_id.clone(),
            path: path.clone(),
        },
    )?;
    let made = (|| -> Result<(), Ec2Error> {
        match &req.source {
            Some(VolumeSource::Snapshot(_, _, restore)) => restore(&path)?,
            Some(VolumeSource::File(f)) => {
                fsutil::sparse_copy(f, &path)?;
            }
            None => {
                std::fs::File::create(&path)?;
            }
        }
        let f = std::fs::OpenOptions::new().write(true).open(&path)?;
        if f.metadata()?.len() < size_gib * GIB {
            f.set_len(size_gib * GIB)?;
        }
        f.sync_all()?;
        crate::testhook::kill_point("volume-copied");
        Ok(())
    })();
    if let Err(e) = made {
        let _ = std::fs::remove_file(&path);
        op.done(store)?;
        return Err(e);
    }
    let vol = Volume {
        volume_id,
        size_gib,
        volume_type: req.volume_type.into(),
        iops,
        throughput,
        availability_zone: req.availability_zone.into(),
        state: if attach.is_some() {
            "in-use"
        } else {
            "available"
        }
        .into(),
        snapshot_id: match &req.source {
            Some(VolumeSource::Snapshot(id, _, _)) => Some(id.to_string()),
            _ => None,
        },
        create_time: iso8601_now(),
        attachment: attach,
        tags: req.tags.clone(),
    };
    if let Err(e) = store.write(|tx| vol.insert(tx)) {
        let _ = std::fs::remove_file(store.volume_path(&vol.volume_id));
        op.done(store)?;
        return Err(e);
    }
    op.done(store)?;
    Ok(vol)
}

/// Records an attachment, or fails with EC2's error; the caller makes it real.
pub fn record_attach(
    c: &Connection,
    volume_id: &str,
    instance_id: &str,
    device: &str,
) -> Result<Volume, Ec2Error> {
    let vol = Volume::get(c, volume_id)?;
    if let Some(a) = &vol.attachment {
        return Err(Ec2Error::new(
            "VolumeInUse",
            format!(
                "{volume_id} is already attached to an instance ({})",
                a.instance_id
            ),
        ));
    }
    if vol.state != "available" {
        return Err(Ec2Error::new(
            "IncorrectState",
            format!(
                "The volume '{volume_id}' is '{}', not 'available'",
                vol.state
            ),
        ));
    }
    if ebs_slot(device).is_none() {
        return Err(Ec2Error::invalid_parameter(format!(
            "Invalid value '{device}' for unixDevice: use one of {}",
            EBS_DEVICES.join(", ")
        )));
    }
    let taken = Volume::of_instance(c, instance_id)?.into_iter().any(|v| {
        v.attachment
            .is_some_and(|a| ebs_slot(&a.device) == ebs_slot(device))
    });
    if taken {
        return Err(Ec2Error::invalid_parameter(format!(
            "Invalid value '{device}' for unixDevice. Attachment point {device} is already in use"
        )));
    }
    c.execute(
        "UPDATE volumes SET state = 'in-use', instance_id = ?2, device = ?3, attach_time = ?4,
           delete_on_termination = 0 WHERE volume_id = ?1",
        params![volume_id, instance_id, device, iso8601_now()],
    )?;
    Volume::get(c, volume_id)
}

/// Records that a volume is no longer attached.
pub fn record_detach(c: &Connection, volume_id: &str) -> Result<(), Ec2Error> {
    c.execute(
        "UPDATE volumes SET state = 'available', instance_id = NULL, device = NULL,
           attach_time = NULL, delete_on_termination = 0 WHERE volume_id = ?1",
        [volume_id],
    )?;
    Ok(())
}

/// An available volume and its file go.
pub fn delete(store: &mut Store, volume_id: &str) -> Result<(), Ec2Error> {
    store.write(|tx| -> Result<(), Ec2Error> {
        let vol = Volume::get(tx, volume_id)?;
        if vol.attachment.is_some() || vol.state != "available" {
            return Err(Ec2Error::new(
                "VolumeInUse",
                format!("Volume {volume_id} is currently attached to an instance; detach it first"),
            ));
        }
        tx.execute("DELETE FROM volumes WHERE volume_id = ?1", [volume_id])?;
        Ok(())
    })?;
    let _ = std::fs::remove_file(store.volume_path(volume_id));
    Ok(())
}

/// Grows a volume (EC2 never shrinks one); returns the old and new size.
pub fn grow(store: &mut Store, volume_id: &str, size_gib: u64) -> Result<(u64, Volume), Ec2Error> {
    let old = Volume::get(store.conn(), volume_id)?.size_gib;
    let grown = format!("growing {volume_id} to {size_gib} GiB");
    let later = size_gib.saturating_sub(old) * GIB;
    check_size(store, size_gib, (0, later), &grown)?;
    let path = store.volume_path(volume_id);
    store.write(|tx| -> Result<(u64, Volume), Ec2Error> {
        let vol = Volume::get(tx, volume_id)?;
        if size_gib < vol.size_gib {
            return Err(Ec2Error::invalid_parameter(format!(
                "New size ({size_gib} GiB) cannot be smaller than the existing size ({} GiB)",
                vol.size_gib
            )));
        }
        let f = std::fs::OpenOptions::new().write(true).open(&path)?;
        f.set_len(size_gib * GIB)?;
        f.sync_all()?;
        tx.execute(
            "UPDATE volumes SET size_gib = ?2 WHERE volume_id = ?1",
            params![volume_id, size_gib as i64],
        )?;
        Ok((vol.size_gib, Volume::get(tx, volume_id)?))
    })
}

/// When an instance is terminated: volumes marked DeleteOnTermination go, the others are
/// detached and stay available.
pub fn release_for_terminated(store: &mut Store, instance_id: &str) -> Result<(), Ec2Error> {
    let vols = Volume::of_instance(store.conn(), instance_id)?;
    let doomed: Vec<String> = store.write(|tx| -> Result<Vec<String>, Ec2Error> {
        let mut doomed = Vec::new();
        for v in &vols {
            if v.attachment
                .as_ref()
                .is_some_and(|a| a.delete_on_termination)
            {
                tx.execute("DELETE FROM volumes WHERE volume_id = ?1", [&v.volume_id])?;
                doomed.push(v.volume_id.clone());
            } else {
                record_detach(tx, &v.volume_id)?;
            }
        }
        Ok(doomed)
    })?;
    for id in doomed {
        let _ = std::fs::remove_file(store.volume_path(&id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_map_to_slots() {
        assert_eq!(ebs_slot("/dev/sdf"), Some(0));
        assert_eq!(ebs_slot("/dev/xvdg"), Some(1));
        assert_eq!(ebs_slot("/dev/sdk"), Some(5));
        assert_eq!(ebs_slot("/dev/sdz"), None);
        assert_eq!(ebs_slot("/dev/xvda"), None);
    }

    #[test]
    fn types_and_iops_are_checked() {
        assert_eq!(check_type("gp3", None, None), Ok((Some(3000), Some(125))));
        assert_eq!(
            check_type("io1", None, None).unwrap_err().code,
            "InvalidParameterCombination"
        );
        assert_eq!(check_type("st1", None, None), Ok((None, None)));
        assert_eq!(check_type("io1", Some(500), None), Ok((Some(500), None)));
        assert_eq!(
            check_type("io2", Some(100_000), None),
            Ok((Some(100_000), None))
        );
        assert_eq!(
            check_type("gp3", Some(4000), Some(250)),
            Ok((Some(4000), Some(250)))
        );
        for (t, iops, tp) in [("gp2", Some(100), None), ("standard", None, Some(125))] {
            assert_eq!(
                check_type(t, iops, tp).unwrap_err().code,
                "InvalidParameterCombination",
                "{t}"
            );
        }
        for (t, iops, tp) in [("gp3", Some(100), None), ("io1", Some(64_001), None)] {
            assert_eq!(
                check_type(t, iops, tp).unwrap_err().code,
                "InvalidParameterValue",
                "{t}"
            );
        }
        assert!(check_type("gp9", None, None).is_err());
    }
}
