//! Operation records: multi-step work (a snapshot's copy and chunking, an image's copy
//! with its instance held down, a volume's copy, a supervisor starting its VMM or asking
//! it to hibernate) is
//! written down in the store before its first step and deleted after its last, with the
//! process doing it (pid and start ticks). A record whose process is gone is an
//! interrupted operation: the next command's housekeeping (`instances::housekeeping`)
//! finishes or undoes it, by its kind.

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use crate::error::Ec2Error;
use crate::store::Store;

/// What was under way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Work {
    /// create-snapshot: `copy` (a point-in-time copy of the volume) is chunked into
    /// `snapshot_id`, then the snapshot is recorded.
    CreateSnapshot {
        /// The snapshot being made.
        snapshot_id: String,
        /// The scratch copy.
        copy: std::path::PathBuf,
    },
    /// create-image: the instance may be held down (`RebootPending::HoldDown`) while its
    /// root is copied to `copy`, then the image is registered.
    CreateImage {
        /// The instance imaged.
        instance_id: String,
        /// The scratch copy of its root.
        copy: std::path::PathBuf,
    },
    /// A new volume's file is written (a sparse copy of an image, a snapshot's restore),
    /// then the volume is recorded.
    VolumeCopy {
        /// The volume being made.
        volume_id: String,
        /// Its file.
        path: std::path::PathBuf,
    },
    /// stop --hibernate: the supervisor asks the VMM to save the machine to `dir` and
    /// exit. The VMM writes a partial directory and renames it whole.
    Hibernate {
        /// The instance.
        instance_id: String,
        /// Where the saved machine goes.
        dir: std::path::PathBuf,
    },
    /// A supervisor spawns the instance's VMM, then records its pid.
    VmmStart {
        /// The instance.
        instance_id: String,
        /// The VMM's launch file, which its command line names.
        launch: std::path::PathBuf,
    },
}

/// A record in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its row.
    pub id: i64,
    /// The work.
    pub work: Work,
    /// The process doing it.
    pub pid: i64,
    /// That process's start time (field 22 of `/proc/PID/stat`), so a reused pid is not
    /// taken for it.
    pub start_ticks: i64,
}

/// An operation under way in this process: [`Op::done`] deletes its record.
#[must_use = "an operation's record stays until done() is called"]
pub struct Op {
    id: i64,
}

fn subject(w: &Work) -> &str {
    match w {
        Work::CreateSnapshot { snapshot_id, .. } => snapshot_id,
        Work::CreateImage { instance_id, .. }
        | Work::VmmStart { instance_id, .. }
        | Work::Hibernate { instance_id, .. } => instance_id,
        Work::VolumeCopy { volume_id, .. } => volume_id,
    }
}

/// Records `work` as under way in this process, before its first step.
pub fn begin(store: &mut Store, work: Work) -> Result<Op, Ec2Error> {
    let pid = std::process::id() as i64;
    let ticks = start_ticks(pid).unwrap_or(0);
    let detail = serde_json::to_string(&work).map_err(|e| Ec2Error::internal(e.to_string()))?;
    let kind = detail_kind(&work);
    let id = store.write(|tx| -> Result<i64, Ec2Error> {
        tx.execute(
            "INSERT INTO operations (kind, subject, pid, start_ticks, detail, started_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                kind,
                subject(&work),
                pid,
                ticks,
                detail,
                crate::clock::now_ms()
            ],
        )?;
        Ok(tx.last_insert_rowid())
    })?;
    Ok(Op { id })
}

fn detail_kind(w: &Work) -> &'static str {
    match w {
        Work::CreateSnapshot { .. } => "create-snapshot",
        Work::CreateImage { .. } => "create-image",
        Work::VolumeCopy { .. } => "volume-copy",
        Work::VmmStart { .. } => "vmm-start",
        Work::Hibernate { .. } => "hibernate",
    }
}

impl Op {
    /// The work is over (done or undone by its own process): its record goes.
    pub fn done(self, store: &mut Store) -> Result<(), Ec2Error> {
        remove(store, self.id)
    }
}

/// Deletes record `id` (its work is finished or undone).
pub fn remove(store: &mut Store, id: i64) -> Result<(), Ec2Error> {
    store.write(|tx| -> Result<(), Ec2Error> {
        tx.execute("DELETE FROM operations WHERE id = ?1", [id])?;
        Ok(())
    })
}

/// Every record whose process is gone: interrupted work.
pub fn interrupted(c: &Connection) -> Result<Vec<Record>, Ec2Error> {
    let mut stmt = c.prepare("SELECT id, detail, pid, start_ticks FROM operations ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, detail, pid, start_ticks) = row?;
        if alive(pid, start_ticks) {
            continue;
        }
        // A record this build cannot read is dropped by the caller like any other.
        if let Ok(work) = serde_json::from_str(&detail) {
            out.push(Record {
                id,
                work,
                pid,
                start_ticks,
            });
        }
    }
    Ok(out)
}

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot.
pub fn start_ticks(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process `pid` that started at `ticks` still runs. A killed process whose
/// parent has not reaped it yet (a zombie, state `Z`) has ended: its work is interrupted.
fn alive(pid: i64, ticks: i64) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return false;
    };
    let mut fields = rest.split_whitespace();
    let state = fields.next().unwrap_or("X");
    !matches!(state, "Z" | "X") && fields.nth(18).and_then(|t| t.parse().ok()) == Some(ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zombie_is_not_alive() {
        let me = std::process::id() as i64;
        assert!(alive(me, start_ticks(me).unwrap()));
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i64;
        let ticks = start_ticks(pid).unwrap_or(0);
        std::thread::sleep(std::time::Duration::from_millis(300));
        // Exited, not yet reaped.
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        assert!(!alive(pid, ticks));
        drop(child);
    }

    #[test]
    fn a_record_is_interrupted_once_its_process_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), "lab-1").unwrap();
        let work = Work::VolumeCopy {
            volume_id: "vol-1".into(),
            path: "/v".into(),
        };
        let op = begin(&mut store, work.clone()).unwrap();
        assert!(interrupted(store.conn()).unwrap().is_empty(), "we live");
        // The same record left by a process that has died.
        store
            .conn()
            .execute("UPDATE operations SET start_ticks = start_ticks + 1", [])
            .unwrap();
        let left = interrupted(store.conn()).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].work, work);
        op.done(&mut store).unwrap();
        assert!(interrupted(store.conn()).unwrap().is_empty());
    }
}
