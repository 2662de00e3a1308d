//! EBS snapshots: point-in-time, incremental copies of a volume, kept in the region's
//! content-addressed chunk store. A second snapshot of a volume stores only the chunks
//! that changed; deleting any snapshot leaves every other one restorable.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::chunkstore::{ChunkError, ChunkStore};
use super::volumes::Volume;
use crate::ec2::shapes::storage as shapes;
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::ids;
use crate::ids::OWNER_ID;
use crate::operations::{self, Work};
use crate::store::{iso8601_now, Store};

/// A `snapshots` row.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// `snap-…`.
    pub snapshot_id: String,
    /// The volume it copies.
    pub volume_id: String,
    /// The volume's size then, in GiB.
    pub volume_size_gib: u64,
    /// `completed`.
    pub state: String,
    /// When it was taken (ISO 8601).
    pub start_time: String,
    /// Free text.
    pub description: String,
    /// Bytes it added to the chunk store.
    pub bytes_added: Option<i64>,
    /// Bytes of chunks it needs.
    pub bytes_referenced: Option<i64>,
    /// Its tags.
    pub tags: Vec<Tag>,
}

impl From<ChunkError> for Ec2Error {
    fn from(e: ChunkError) -> Self {
        Ec2Error::internal(crate::causes::chain(&e))
    }
}

impl Snapshot {
    fn from_row(r: &Row) -> rusqlite::Result<Snapshot> {
        Ok(Snapshot {
            snapshot_id: r.get("snapshot_id")?,
            volume_id: r.get("volume_id")?,
            volume_size_gib: r.get::<_, i64>("volume_size_gib")? as u64,
            state: r.get("state")?,
            start_time: r.get("start_time")?,
            description: r.get("description")?,
            bytes_added: r.get("bytes_added")?,
            bytes_referenced: r.get("bytes_referenced")?,
            tags: tags::from_column(&r.get::<_, String>("tags")?),
        })
    }

    /// The snapshot `id`, or EC2's error for a malformed or unknown id.
    pub fn get(c: &Connection, id: &str) -> Result<Snapshot, Ec2Error> {
        Ec2Error::check_id(id, "snap", "Snapshot")?;
        c.query_row(
            "SELECT * FROM snapshots WHERE snapshot_id = ?1",
            [id],
            Snapshot::from_row,
        )
        .optional()?
        .ok_or_else(|| {
            Ec2Error::new(
                "InvalidSnapshot.NotFound",
                format!("The snapshot '{id}' does not exist."),
            )
        })
    }

    /// Every snapshot, oldest first.
    pub fn all(c: &Connection) -> Result<Vec<Snapshot>, Ec2Error> {
        let mut stmt = c.prepare("SELECT * FROM snapshots ORDER BY start_time, snapshot_id")?;
        let rows = stmt.query_map([], Snapshot::from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The snapshot as EC2 shows it.
    pub fn to_shape(&self) -> shapes::Snapshot {
        shapes::Snapshot {
            snapshot_id: self.snapshot_id.clone(),
            volume_id: self.volume_id.clone(),
            volume_size: self.volume_size_gib,
            state: self.state.clone(),
            start_time: self.start_time.clone(),
            progress: if self.state == "completed" {
                "100%"
            } else {
                "0%"
            }
            .into(),
            description: self.description.clone(),
            owner_id: OWNER_ID.into(),
            encrypted: false,
            storage_tier: "standard".into(),
            tags: self.tags.clone(),
            ec2lab_info: shapes::SnapshotLabInfo {
                bytes_added: self.bytes_added,
                bytes_referenced: self.bytes_referenced,
            },
        }
    }
}

/// The region's chunk store, where snapshots keep their bytes.
pub fn chunk_store(store: &Store) -> Result<ChunkStore, Ec2Error> {
    Ok(ChunkStore::open(store.snapshots_dir())?)
}

/// Takes a snapshot of `volume_id` with its tags (already checked). `freeze_copy` makes a
/// point-in-time copy of the volume file (pausing a guest that uses it); the copy is
/// chunked while the guest runs on.
pub fn create(
    store: &mut Store,
    volume_id: &str,
    description: &str,
    tags: &[Tag],
    freeze_copy: impl FnOnce(&Store, &Volume, &Path) -> Result<(), Ec2Error>,
) -> Result<Snapshot, Ec2Error> {
    let vol = Volume::get(store.conn(), volume_id)?;
    let snapshot_id = ids::new_id("snap");
    let chunks = chunk_store(store)?;
    let copy = store
        .root()
        .join("volumes")
        .join(format!("{snapshot_id}.copy"));
    let op = operations::begin(
        store,
        Work::CreateSnapshot {
            snapshot_id: snapshot_id.clone(),
            copy: copy.clone(),
        },
    )?;
    let stats = (|| -> Result<_, Ec2Error> {
        freeze_copy(store, &vol, &copy)?;
        let stats = chunks.snapshot(&copy, &snapshot_id)?;
        crate::testhook::kill_point("snapshot-chunked");
        Ok(stats)
    })();
    let _ = std::fs::remove_file(&copy);
    let stats = match stats {
        Ok(s) => s,
        Err(e) => {
            let _ = chunks.delete(&snapshot_id);
            op.done(store)?;
            return Err(e);
        }
    };
    let snap = Snapshot {
        snapshot_id,
        volume_id: volume_id.into(),
        volume_size_gib: vol.size_gib,
        state: "completed".into(),
        start_time: iso8601_now(),
        description: description.into(),
        bytes_added: Some(stats.bytes_added as i64),
        bytes_referenced: Some(stats.bytes_referenced as i64),
        tags: tags.to_vec(),
    };
    let recorded = store.write(|tx| -> Result<(), Ec2Error> {
        tx.execute(
            "INSERT INTO snapshots (snapshot_id, volume_id, volume_size_gib, state, start_time,
               description, bytes_added, bytes_referenced, tags)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
            params![
                snap.snapshot_id,
                snap.volume_id,
                snap.volume_size_gib as i64,
                snap.state,
                snap.start_time,
                snap.description,
                snap.bytes_added,
                snap.bytes_referenced,
                tags::to_column(&snap.tags),
            ],
        )?;
        Ok(())
    });
    if let Err(e) = recorded {
        let _ = chunks.delete(&snap.snapshot_id);
        op.done(store)?;
        return Err(e);
    }
    op.done(store)?;
    Ok(snap)
}

/// Deletes a snapshot; chunks no other snapshot needs are freed.
pub fn delete(store: &mut Store, snapshot_id: &str) -> Result<u64, Ec2Error> {
    Snapshot::get(store.conn(), snapshot_id)?;
    store.write(|tx| -> Result<(), Ec2Error> {
        tx.execute(
            "DELETE FROM snapshots WHERE snapshot_id = ?1",
            [snapshot_id],
        )?;
        Ok(())
    })?;
    Ok(chunk_store(store)?.delete(snapshot_id)?)
}
