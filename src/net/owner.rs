//! Which state root (state directory and region) owns each host network resource, and
//! the removal of those whose root no longer exists.
//!
//! Nothing else would remove them: a state directory is usually deleted with `rm -rf`
//! (a test's, a `mktemp -d` one). Left behind, their bridges keep their router addresses
//! (every default VPC has 172.31.0.1/20) and their tables their NAT rules, and both get in
//! the way of the roots that run instances. So every command first runs [`sweep`].
//!
//! The records are readable without running anything, so the sweep costs a few reads of
//! /sys and /run when there is nothing to remove:
//! - each bridge and tap carries an alias (`ip -d link` shows it):
//!   `ec2lab <table> <vpc-…|eni-…> <root>`; it lives exactly as long as the link;
//! - `/run/ec2lab/owners/<table>` holds the root of the nftables tables `<table>` (a
//!   table's comment could be read only by running `nft`); /run empties at a host reboot,
//!   as the kernel's tables do.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::firewall::{Nft, TableName};
use super::host;

/// Where ec2lab keeps what the host's network state needs besides the kernel's own.
pub const RUN_DIR: &str = "/run/ec2lab";

const ALIAS_TAG: &str = "ec2lab";
/// Every state root's table name starts with it (then `_` and a hash of the root).
const TABLE_PREFIX: &str = "ec2lab";
/// The kernel keeps at most 255 bytes of a link's alias (IFALIASZ).
const ALIAS_MAX: usize = 255;

/// A state root as the host's resources name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Its nftables tables (`inet` and `bridge`): `ec2lab_<hash of the root>`.
    pub table: TableName,
    /// `<state dir>/<region>`, absolute.
    pub root: PathBuf,
}

/// What a link's alias says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkOwner {
    /// The nftables tables of the link's state root.
    pub table: TableName,
    /// The VPC (bridge) or network interface (tap) the link is for.
    pub resource: String,
    /// Absent when the root did not fit into the alias: then the registry has it.
    pub root: Option<PathBuf>,
}

impl Owner {
    /// The owner record of the state root `root` (`<state dir>/<region>`). The table
    /// name hashes `root` as given; the record holds it made absolute, so the sweep can
    /// check it from any working directory.
    pub fn of_root(root: &Path) -> Owner {
        let h = crate::ids::stable_hash(root.display().to_string().as_bytes());
        let table = format!("{TABLE_PREFIX}_{:08x}", h as u32);
        Owner {
            table: TableName::new(&table).expect("a prefix and hex digits make a table name"),
            root: std::fs::canonicalize(root).unwrap_or_else(|_| root.into()),
        }
    }

    /// The alias of a link made for `resource` (a VPC or network interface id).
    pub fn alias(&self, resource: &str) -> String {
        let short = format!("{ALIAS_TAG} {} {resource}", self.table);
        let long = format!("{short} {}", self.root.display());
        if long.len() <= ALIAS_MAX {
            long
        } else {
            short
        }
    }

    /// Writes the registry entry of this root's tables (nothing if it is there already).
    pub fn record(&self) -> std::io::Result<()> {
        let path = owners_dir().join(self.table.as_str());
        let text = format!("{}\n", self.root.display());
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        std::fs::create_dir_all(owners_dir())?;
        crate::fsutil::write_atomic(&path, text.as_bytes())
    }
}

fn owners_dir() -> PathBuf {
    Path::new(RUN_DIR).join("owners")
}

/// Where `sync` remembers the firewall script it last applied for `table`.
pub fn applied_marker(table: &TableName) -> PathBuf {
    Path::new(RUN_DIR).join(format!("{table}.nft"))
}

/// Where `sync` remembers how the kernel listed `table`'s two tables right after it
/// applied them ([`Nft::listing`]): a later listing that differs means someone changed
/// or deleted one of them.
pub fn listing_marker(table: &TableName) -> PathBuf {
    Path::new(RUN_DIR).join(format!("{table}.live"))
}

/// An exclusive lock on `table`'s firewall, held while the value lives: commands that
/// change it at once take turns, so the last one to apply read the store last.
pub struct TableLock(#[allow(dead_code)] nix::fcntl::Flock<std::fs::File>);

/// Waits for and takes `table`'s lock (`/run/ec2lab/<table>.lock`).
pub fn lock(table: &TableName) -> std::io::Result<TableLock> {
    std::fs::create_dir_all(RUN_DIR)?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(Path::new(RUN_DIR).join(format!("{table}.lock")))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map(TableLock)
        .map_err(|(_, e)| e.into())
}

/// Drops the records of `table`: its registry entry and its markers. (Its lock file
/// stays: removing a file another process may hold locked would let a third lock a new
/// one beside it.)
pub fn forget(table: &TableName) {
    let _ = std::fs::remove_file(owners_dir().join(table.as_str()));
    let _ = std::fs::remove_file(applied_marker(table));
    let _ = std::fs::remove_file(listing_marker(table));
}

/// Reads a link's alias: `None` unless ec2lab wrote it.
pub fn parse_alias(alias: &str) -> Option<LinkOwner> {
    let mut parts = alias.splitn(4, ' ');
    if parts.next()? != ALIAS_TAG {
        return None;
    }
    let table = parts.next()?;
    let resource = parts.next()?.to_string();
    if !table.starts_with(&format!("{TABLE_PREFIX}_")) || resource.is_empty() {
        return None;
    }
    let table = TableName::new(table).ok()?;
    Some(LinkOwner {
        table,
        resource,
        root: parts.next().map(PathBuf::from),
    })
}

/// The owner record of a link, if ec2lab made it (an older ec2lab made links without).
pub fn of_link(link: &str) -> Option<LinkOwner> {
    parse_alias(&host::alias(link))
}

/// The registry: table name → root. Files whose names are no table names are not
/// ec2lab's and are left out.
pub fn registered() -> HashMap<TableName, PathBuf> {
    std::fs::read_dir(owners_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let table = TableName::new(&e.file_name().to_string_lossy()).ok()?;
            let root = std::fs::read_to_string(e.path()).ok()?;
            Some((table, PathBuf::from(root.trim_end_matches('\n'))))
        })
        .collect()
}

/// A root exists as long as its database does. Only "not found" counts as gone: a root
/// that cannot be looked at (permissions) is left alone.
pub fn alive(root: &Path) -> bool {
    !matches!(
        std::fs::symlink_metadata(root.join("ec2lab.db")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound
    )
}

/// The resources of one root that no longer exists.
#[derive(Default, Debug)]
struct Dead {
    tables: BTreeSet<TableName>,
    taps: Vec<String>,
    bridges: Vec<String>,
}

/// What [`sweep`] did.
#[derive(Default, Debug)]
pub struct Swept {
    /// Each root removed, with the names of what went.
    pub removed: Vec<(PathBuf, Vec<String>)>,
    /// Roots gone whose VMM still holds a tap (its guest runs on): left for now.
    pub busy: Vec<(PathBuf, String)>,
    /// What could not be removed, and why.
    pub failures: Vec<String>,
}

impl Swept {
    /// What to tell the user: nothing, or one line per kind of outcome.
    pub fn report(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if !self.removed.is_empty() {
            let roots: Vec<String> = self
                .removed
                .iter()
                .map(|(root, what)| format!("{} ({})", root.display(), what.join(", ")))
                .collect();
            lines.push(format!(
                "ec2lab: removed the host network of state directories that no longer exist: {}",
                roots.join("; ")
            ));
        }
        for (root, tap) in &self.busy {
            lines.push(format!(
                "ec2lab: the state directory {} no longer exists, but a VMM still holds its tap {tap}: its bridges, taps and nftables tables stay until that VMM ends (pgrep -af {tap})",
                root.display()
            ));
        }
        if !self.failures.is_empty() {
            lines.push(format!(
                "ec2lab: could not remove the host network of deleted state directories: {}",
                self.failures.join("; ")
            ));
        }
        lines
    }
}

/// Removes the bridges, taps and nftables tables of every state root that no longer
/// exists, on the whole host. Links without an owner record are not ec2lab's (or an older
/// ec2lab's) and are left alone.
pub fn sweep() -> Swept {
    let registry = registered();
    let mut dead: BTreeMap<PathBuf, Dead> = BTreeMap::new();
    let mut known: HashMap<PathBuf, bool> = HashMap::new();
    let mut is_dead = |root: &Path| !*known.entry(root.into()).or_insert_with(|| alive(root));
    // Bridges are ec2br…, taps ec2t….
    for link in host::links_named("ec2") {
        let Some(o) = of_link(&link) else { continue };
        let Some(root) = o.root.or_else(|| registry.get(&o.table).cloned()) else {
            continue;
        };
        if !is_dead(&root) {
            continue;
        }
        let d = dead.entry(root).or_default();
        d.tables.insert(o.table);
        if o.resource.starts_with("eni-") {
            d.taps.push(link);
        } else {
            d.bridges.push(link);
        }
    }
    for (table, root) in registry {
        if is_dead(&root) {
            dead.entry(root).or_default().tables.insert(table);
        }
    }
    let mut out = Swept::default();
    dead.retain(|root, d| match d.taps.iter().find(|t| host::in_use(t)) {
        Some(tap) => {
            out.busy.push((root.clone(), tap.clone()));
            false
        }
        None => true,
    });
    if dead.is_empty() {
        return out;
    }
    // One `ip` and one `nft` run for all of them: each run costs tens of ms here.
    let links: Vec<String> = dead
        .values()
        .flat_map(|d| d.taps.iter().chain(&d.bridges).cloned())
        .collect();
    if let Err(e) = host::delete_links(&links) {
        out.failures.push(e.message);
    }
    let tables: Vec<&TableName> = dead.values().flat_map(|d| &d.tables).collect();
    let tables_gone = match Nft::host().remove(&tables) {
        Ok(()) => true,
        Err(e) => {
            out.failures.push(e.with_cause());
            false
        }
    };
    for (root, d) in dead {
        let mut gone: Vec<String> = d
            .taps
            .into_iter()
            .chain(d.bridges)
            .filter(|l| !host::link_exists(l))
            .collect();
        if tables_gone {
            for t in d.tables {
                // Kept while the tables may still be there: the next command tries again.
                forget(&t);
                gone.push(format!("nftables tables {t}"));
            }
        }
        if !gone.is_empty() {
            out.removed.push((root, gone));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TableName {
        TableName::new("ec2lab_0123abcd").unwrap()
    }

    fn owner(root: &str) -> Owner {
        Owner {
            table: table(),
            root: root.into(),
        }
    }

    #[test]
    fn aliases_name_the_root_and_read_back() {
        let a = owner("/tmp/x y/lab-1").alias("vpc-0123456789abcdef0");
        assert_eq!(
            a,
            "ec2lab ec2lab_0123abcd vpc-0123456789abcdef0 /tmp/x y/lab-1"
        );
        assert_eq!(
            parse_alias(&a),
            Some(LinkOwner {
                table: table(),
                resource: "vpc-0123456789abcdef0".into(),
                root: Some("/tmp/x y/lab-1".into()),
            })
        );
        // Too long for the kernel: the registry has the root.
        let long = format!("/{}", "d".repeat(300));
        let a = owner(&long).alias("eni-0123456789abcdef0");
        assert!(a.len() <= ALIAS_MAX, "{a}");
        assert_eq!(parse_alias(&a).unwrap().root, None);
        for other in [
            "",
            "docker bridge",
            "ec2lab",
            "ec2lab other vpc-1 /x",
            "ec2lab ec2lab_x;y vpc-1 /x",
        ] {
            assert_eq!(parse_alias(other), None, "{other:?}");
        }
    }

    #[test]
    fn a_root_is_gone_only_when_its_database_is() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!alive(&dir.path().join("lab-1")));
        std::fs::create_dir(dir.path().join("lab-1")).unwrap();
        assert!(!alive(&dir.path().join("lab-1")));
        std::fs::write(dir.path().join("lab-1/ec2lab.db"), "").unwrap();
        assert!(alive(&dir.path().join("lab-1")));
    }

    #[test]
    fn the_report_is_one_line_per_outcome() {
        let mut s = Swept::default();
        assert!(s.report().is_empty());
        s.removed
            .push(("/tmp/a/lab-1".into(), vec!["ec2brX".into()]));
        s.removed
            .push(("/tmp/b/lab-1".into(), vec!["ec2brY".into()]));
        let r = s.report();
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(
            r[0].ends_with("/tmp/a/lab-1 (ec2brX); /tmp/b/lab-1 (ec2brY)"),
            "{r:?}"
        );
    }
}
