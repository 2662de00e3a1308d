//! Each instance's VMM runs in a cgroup of its own, with limits from its instance type:
//! memory (guest RAM plus a small VMM overhead), CPU (its vCPUs × 100 %) and disk I/O
//! (its volumes' IOPS and throughput). A runaway or compromised VMM then cannot take more
//! of the host than the instance it runs was sold.
//!
//! Both cgroup layouts are written: v1 (one hierarchy per controller, under
//! `/sys/fs/cgroup/{memory,cpu,blkio}`), which is what the development host has and where
//! this was tested, and v2 (one unified hierarchy with `cgroup.controllers` at its root),
//! written from the kernel's documentation and not run here. Groups are
//! `ec2lab/<instance id>` in each; the VMM joins them itself, between fork and exec (see
//! [`Cgroup::procs_files`]), so that every page it ever touches is charged to it.
//!
//! v1's blkio throttles reads and direct writes only: buffered writes reach the disk from
//! the kernel's writeback threads, which v1 charges to nobody. v2 throttles writeback too.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::record::Instance;
use crate::storage::volumes::Volume;
use crate::store::Store;

/// The CFS period the CPU quota is given in: 100 ms, the kernel's default.
pub const CPU_PERIOD_US: u64 = 100_000;

/// What a VMM may use beyond its guest's RAM: its own heap, stacks and page tables, the
/// page cache of its disk and snapshot I/O. Firecracker's VMM itself needs under 5 MiB;
/// the rest is cache, which the kernel reclaims at the limit rather than killing.
pub const VMM_OVERHEAD_MIB: u64 = 64;

/// One instance's limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Memory, bytes.
    pub mem_bytes: u64,
    /// CPU time per [`CPU_PERIOD_US`], microseconds: vCPUs × the period.
    pub cpu_quota_us: u64,
    /// Disk I/O on the host device that holds the volumes, if they are on one.
    pub io: Option<IoLimit>,
}

/// Disk I/O limits on one host block device (the one that holds the volume files).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoLimit {
    /// The device, `major:minor`.
    pub dev: (u64, u64),
    /// Operations per second, for reads and for writes each.
    pub iops: u64,
    /// Bytes per second, for reads and for writes each.
    pub bps: u64,
}

/// A volume's performance as EC2 publishes it for its type: (IOPS, MiB/s), from its
/// provisioned figures where it has them.
pub fn volume_io(v: &Volume) -> (u64, u64) {
    type_io(&v.volume_type, v.size_gib, v.iops, v.throughput)
}

fn type_io(volume_type: &str, size_gib: u64, iops: Option<i64>, tput: Option<i64>) -> (u64, u64) {
    let iops = iops.map(|i| i.max(0) as u64);
    let tput = tput.map(|t| t.max(0) as u64);
    match volume_type {
        // 3 IOPS per GiB, between 100 and 16,000; up to 250 MiB/s.
        "gp2" => ((size_gib * 3).clamp(100, 16_000), 250),
        "gp3" => (iops.unwrap_or(3000), tput.unwrap_or(125)),
        // Provisioned IOPS: 256 KiB per operation, up to 1,000 MiB/s (io1) or 4,000 (io2).
        "io1" => {
            let i = iops.unwrap_or(100);
            (i, (i / 4).clamp(1, 1000))
        }
        "io2" => {
            let i = iops.unwrap_or(100);
            (i, (i / 4).clamp(1, 4000))
        }
        "st1" => (500, 500),
        "sc1" => (250, 250),
        // "standard" (magnetic): about 100 IOPS on average, bursts to hundreds.
        _ => (200, 90),
    }
}

/// The limits of an instance with `vcpus` and `mem_mib` whose disks are `volumes`, each
/// with its host file: I/O is the sum over the volumes, on the device that holds the
/// first of them (the state directory's; all volume files live there).
pub fn limits(vcpus: u8, mem_mib: u64, volumes: &[(PathBuf, (u64, u64))]) -> Limits {
    let io = volumes.first().and_then(|(path, _)| {
        let dev = std::fs::metadata(path).ok()?.dev();
        let (major, minor) = (libc::major(dev) as u64, libc::minor(dev) as u64);
        // A device number with major 0 is not a block device (tmpfs, overlayfs): there
        // is nothing for blkio to throttle.
        if major == 0 {
            return None;
        }
        let (iops, mib) = volumes
            .iter()
            .fold((0, 0), |(i, m), (_, (vi, vm))| (i + vi, m + vm));
        Some(IoLimit {
            dev: (major, minor),
            iops,
            bps: mib << 20,
        })
    });
    Limits {
        mem_bytes: (mem_mib + VMM_OVERHEAD_MIB) << 20,
        cpu_quota_us: u64::from(vcpus.max(1)) * CPU_PERIOD_US,
        io,
    }
}

/// Instance `inst`'s cgroup with its type's and volumes' limits, for the VMM about to
/// start; `None` (with a line in the supervisor's log) where it cannot be made: the VMM
/// then runs unlimited rather than not at all.
pub fn for_vmm(store: &Store, inst: &Instance) -> Option<Cgroup> {
    let id = &inst.instance_id;
    let volumes: Vec<_> = Volume::of_instance(store.conn(), id)
        .unwrap_or_default()
        .iter()
        .map(|v| (store.volume_path(&v.volume_id), volume_io(v)))
        .collect();
    match prepare(id, &limits(inst.vcpus, inst.mem_mib, &volumes)) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("ec2lab supervisor {id}: cannot limit the VMM with a cgroup ({e}); it runs without limits");
            None
        }
    }
}

/// Which cgroup layout the host has.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Layout {
    /// One hierarchy per controller under the root.
    V1(PathBuf),
    /// The unified hierarchy at the root.
    V2(PathBuf),
}

fn layout() -> Option<Layout> {
    let root = PathBuf::from(
        std::env::var_os("EC2LAB_CGROUP_ROOT").unwrap_or_else(|| "/sys/fs/cgroup".into()),
    );
    if root.join("cgroup.controllers").exists() {
        Some(Layout::V2(root))
    } else if root.join("memory").join("cgroup.procs").exists() {
        Some(Layout::V1(root))
    } else {
        None
    }
}

/// An instance's cgroup(s), made and limited, for its VMM to join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// The `cgroup.procs` files a process writes "0" to, to join this group.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// The group's directories (one per v1 controller, one under v2).
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
}

/// Makes instance `id`'s cgroup with `limits`; `None` where the host has no cgroups
/// mounted (the VMM then runs unlimited, as before). First it removes the groups that
/// VMMs killed without their supervisor (`kill -9`, a deleted state directory) left:
/// see [`sweep`].
pub fn prepare(id: &str, limits: &Limits) -> io::Result<Option<Cgroup>> {
    let Some(layout) = layout() else {
        return Ok(None);
    };
    for parent in &parents(&layout) {
        // Our own group anew, so that its age says when it was made (see `sweep`).
        let _ = std::fs::remove_dir(parent.join(id));
        sweep(parent, STALE);
    }
    match layout {
        Layout::V1(root) => prepare_v1(&root, id, limits).map(Some),
        Layout::V2(root) => prepare_v2(&root, id, limits).map(Some),
    }
}

/// The directories instances' groups are made in: `ec2lab` under each v1 controller ec2lab
/// limits, or under the v2 root.
fn parents(layout: &Layout) -> Vec<PathBuf> {
    match layout {
        Layout::V1(root) => V1_CONTROLLERS
            .iter()
            .map(|c| root.join(c).join("ec2lab"))
            .collect(),
        Layout::V2(root) => vec![root.join("ec2lab")],
    }
}

/// The v1 controllers ec2lab limits: memory, CPU time and disk I/O.
const V1_CONTROLLERS: [&str; 3] = ["memory", "cpu", "blkio"];

/// How old an empty group must be before [`sweep`] takes it: far longer than the few
/// milliseconds between a group's making and its VMM joining it.
const STALE: std::time::Duration = std::time::Duration::from_secs(60);

/// Removes the empty instance groups under `parent` made more than `age` ago. A group
/// with a process in it cannot be removed (the kernel refuses), and a younger one may be
/// about to get its VMM.
fn sweep(parent: &Path, age: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|d| d > age));
        let empty = std::fs::read_to_string(e.path().join("cgroup.procs"))
            .is_ok_and(|p| p.trim().is_empty());
        if name.to_string_lossy().starts_with("i-") && old && empty {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

fn write(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    std::fs::write(dir.join(file), value).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot write {value:?} to {}: {e}",
                dir.join(file).display()
            ),
        )
    })
}

fn prepare_v1(root: &Path, id: &str, l: &Limits) -> io::Result<Cgroup> {
    let dir = |controller: &str| root.join(controller).join("ec2lab").join(id);
    let (mem, cpu) = (dir("memory"), dir("cpu"));
    std::fs::create_dir_all(&mem)?;
    write(&mem, "memory.limit_in_bytes", &l.mem_bytes.to_string())?;
    std::fs::create_dir_all(&cpu)?;
    write(&cpu, "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
    write(&cpu, "cpu.cfs_quota_us", &l.cpu_quota_us.to_string())?;
    let mut dirs = vec![mem, cpu];
    let blkio = dir("blkio");
    if let (Some(io), true) = (&l.io, root.join("blkio").is_dir()) {
        std::fs::create_dir_all(&blkio)?;
        let (ma, mi) = io.dev;
        for (file, v) in [
            ("blkio.throttle.read_iops_device", io.iops),
            ("blkio.throttle.write_iops_device", io.iops),
            ("blkio.throttle.read_bps_device", io.bps),
            ("blkio.throttle.write_bps_device", io.bps),
        ] {
            write(&blkio, file, &format!("{ma}:{mi} {v}"))?;
        }
        dirs.push(blkio);
    }
    Ok(Cgroup { dirs })
}

fn prepare_v2(root: &Path, id: &str, l: &Limits) -> io::Result<Cgroup> {
    // Controllers must be enabled in every parent's subtree_control on the way down.
    let parent = root.join("ec2lab");
    std::fs::create_dir_all(&parent)?;
    for d in [root, parent.as_path()] {
        for c in ["+memory", "+cpu", "+io"] {
            // One at a time: a controller the kernel lacks must not stop the others.
            let _ = std::fs::write(d.join("cgroup.subtree_control"), c);
        }
    }
    let dir = parent.join(id);
    std::fs::create_dir_all(&dir)?;
    write(&dir, "memory.max", &l.mem_bytes.to_string())?;
    write(
        &dir,
        "cpu.max",
        &format!("{} {CPU_PERIOD_US}", l.cpu_quota_us),
    )?;
    if let Some(io) = &l.io {
        let (ma, mi) = io.dev;
        let v = format!(
            "{ma}:{mi} riops={0} wiops={0} rbps={1} wbps={1}",
            io.iops, io.bps
        );
        write(&dir, "io.max", &v)?;
    }
    Ok(Cgroup { dirs: vec![dir] })
}

/// Removes instance `id`'s cgroups once its VMM is gone (a group with a live process in
/// it stays; the next removal takes it).
pub fn remove(id: &str) {
    if let Some(layout) = layout() {
        for parent in parents(&layout) {
            let _ = std::fs::remove_dir(parent.join(id));
        }
    }
}

/// Removes the cgroups of every instance in `store` whose VMM is gone (`network-teardown`:
/// those of VMMs killed rather than ended; a group with a live VMM in it stays).
pub fn remove_all(store: &Store) -> Result<(), crate::error::Ec2Error> {
    for inst in Instance::all(store.conn())? {
        remove(&inst.instance_id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_types_have_ec2s_figures() {
        assert_eq!(type_io("gp2", 8, None, None), (100, 250));
        assert_eq!(type_io("gp2", 100, None, None), (300, 250));
        assert_eq!(type_io("gp3", 8, None, None), (3000, 125));
        assert_eq!(type_io("gp3", 8, Some(6000), Some(500)), (6000, 500));
        assert_eq!(type_io("io1", 8, Some(1000), None), (1000, 250));
    }

    #[test]
    fn limits_follow_the_instance_type() {
        let l = limits(2, 1024, &[]);
        assert_eq!(l.mem_bytes, (1024 + VMM_OVERHEAD_MIB) << 20);
        assert_eq!(l.cpu_quota_us, 200_000);
        assert_eq!(l.io, None);
    }
}
