//! The one source of truth: an SQLite database per region under the state directory.
//!
//! Every change is one `BEGIN IMMEDIATE` transaction, so two ec2lab processes never
//! interleave writes; WAL mode lets readers go on meanwhile, and a busy timeout makes a
//! second writer wait instead of failing.
//!
//! Layout of a region root (`<state-dir>/<region>/`):
//! ```text
//! ec2lab.db            this store
//! images/ami-…/        an AMI's immutable files (kernel, initrd, root image)
//! instances/i-…/       an instance's run directory (console, sockets, logs)
//! volumes/vol-….img    EBS volumes (sparse raw files)
//! snapshots/           the snapshot chunk store (content-addressed chunks, manifests)
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use thiserror::Error;

pub use crate::clock::{iso8601, iso8601_now, now_unix};

/// Where state lives unless `--state-dir` or `EC2LAB_STATE_DIR` says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/ec2lab";
/// The region used unless `--region` or `EC2LAB_REGION` says otherwise.
pub const DEFAULT_REGION: &str = "lab-1";

/// Why the store could not be opened or used.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The state directory could not be made.
    #[error("Cannot create the state directory {path} (pick another with --state-dir or EC2LAB_STATE_DIR)")]
    CreateDir {
        /// The directory.
        path: String,
        /// Why it could not be made.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("The state database {path} cannot be used")]
    Open {
        /// The database file.
        path: String,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A query failed.
    #[error("The state database failed")]
    Sql(#[from] rusqlite::Error),
    /// The database has a schema this build does not know.
    #[error("The state database {path} was written by a newer ec2lab (schema {found}, this one knows {known}); upgrade ec2lab")]
    NewerSchema {
        /// The database file.
        path: String,
        /// Its schema version.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// The region name would not make a safe directory name.
    #[error("Region name {0:?} is not valid: use letters, digits and dashes, e.g. lab-1")]
    BadRegion(String),
}

/// Schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE images (
    image_id          TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    architecture      TEXT NOT NULL,
    state             TEXT NOT NULL,
    root_device_name  TEXT NOT NULL,
    kernel_file       TEXT NOT NULL,
    initrd_file       TEXT,
    root_file         TEXT NOT NULL,
    root_size_gib     INTEGER NOT NULL,
    public            INTEGER NOT NULL DEFAULT 0,
    quick_start       INTEGER NOT NULL DEFAULT 0,
    creation_date     TEXT NOT NULL,
    source            TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX images_live_name ON images(name) WHERE state != 'deregistered';

CREATE TABLE instances (
    instance_id        TEXT PRIMARY KEY,
    reservation_id     TEXT NOT NULL,
    launch_index       INTEGER NOT NULL,
    image_id           TEXT NOT NULL,
    instance_type      TEXT NOT NULL,
    state              TEXT NOT NULL,
    transition_reason  TEXT NOT NULL DEFAULT '',
    state_reason_code  TEXT,
    state_reason_msg   TEXT,
    launch_time        TEXT NOT NULL,
    ended_at           INTEGER,
    key_name           TEXT,
    user_data          BLOB,
    vcpus              INTEGER NOT NULL,
    effective_vcpus    INTEGER NOT NULL,
    mem_mib            INTEGER NOT NULL,
    warnings           TEXT NOT NULL DEFAULT '[]',
    tags               TEXT NOT NULL DEFAULT '[]',
    security_groups    TEXT NOT NULL DEFAULT '[]',
    subnet_id          TEXT,
    root_device_name   TEXT NOT NULL,
    root_delete_on_termination INTEGER NOT NULL DEFAULT 1,
    kernel_cmdline     TEXT NOT NULL DEFAULT '',
    reboot_pending     INTEGER NOT NULL DEFAULT 0,
    force_stop         INTEGER NOT NULL DEFAULT 0,
    vmm_pid            INTEGER,
    vmm_start_ticks    INTEGER,
    boots              INTEGER NOT NULL DEFAULT 0,
    last_boot_ms       INTEGER
);
"#,
    r#"
CREATE TABLE volumes (
    volume_id          TEXT PRIMARY KEY,
    size_gib           INTEGER NOT NULL,
    volume_type        TEXT NOT NULL,
    iops               INTEGER,
    availability_zone  TEXT NOT NULL,
    state              TEXT NOT NULL,
    snapshot_id        TEXT,
    create_time        TEXT NOT NULL,
    instance_id        TEXT,
    device             TEXT,
    attach_time        TEXT,
    delete_on_termination INTEGER NOT NULL DEFAULT 0,
    tags               TEXT NOT NULL DEFAULT '[]'
);
-- A volume is attached to at most one instance, and a device name is used once per instance.
CREATE UNIQUE INDEX volumes_attachment ON volumes(instance_id, device) WHERE instance_id IS NOT NULL;

CREATE TABLE snapshots (
    snapshot_id        TEXT PRIMARY KEY,
    volume_id          TEXT NOT NULL,
    volume_size_gib    INTEGER NOT NULL,
    state              TEXT NOT NULL,
    start_time         TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    bytes_added        INTEGER,
    bytes_referenced   INTEGER,
    tags               TEXT NOT NULL DEFAULT '[]'
);
"#,
    r#"
CREATE TABLE vpcs (
    vpc_id             TEXT PRIMARY KEY,
    cidr               TEXT NOT NULL,
    is_default         INTEGER NOT NULL DEFAULT 0,
    bridge             TEXT NOT NULL UNIQUE,
    tags               TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE subnets (
    subnet_id          TEXT PRIMARY KEY,
    vpc_id             TEXT NOT NULL REFERENCES vpcs(vpc_id),
    cidr               TEXT NOT NULL,
    availability_zone  TEXT NOT NULL,
    is_default         INTEGER NOT NULL DEFAULT 0,
    map_public_ip      INTEGER NOT NULL DEFAULT 0,
    tags               TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE security_groups (
    group_id           TEXT PRIMARY KEY,
    vpc_id             TEXT NOT NULL REFERENCES vpcs(vpc_id),
    group_name         TEXT NOT NULL,
    description        TEXT NOT NULL,
    ingress            TEXT NOT NULL DEFAULT '[]',
    egress             TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX security_group_names ON security_groups(vpc_id, group_name);
CREATE TABLE enis (
    eni_id             TEXT PRIMARY KEY,
    subnet_id          TEXT NOT NULL REFERENCES subnets(subnet_id),
    vpc_id             TEXT NOT NULL,
    mac                TEXT NOT NULL,
    private_ip         TEXT NOT NULL,
    tap                TEXT NOT NULL UNIQUE,
    groups             TEXT NOT NULL DEFAULT '[]',
    instance_id        TEXT,
    public_ip          TEXT UNIQUE,
    description        TEXT NOT NULL DEFAULT ''
);
-- A private address is never handed out twice in a subnet.
CREATE UNIQUE INDEX eni_private_ip ON enis(subnet_id, private_ip);
"#,
    r#"
CREATE TABLE addresses (
    allocation_id      TEXT PRIMARY KEY,
    public_ip          TEXT NOT NULL UNIQUE,
    association_id     TEXT,
    eni_id             TEXT
);
"#,
    r#"
-- EC2 key pairs: only the public half; private_key_file is where ec2lab wrote the
-- private key for the user (create-key-pair --output-file), if it did.
CREATE TABLE key_pairs (
    key_pair_id        TEXT PRIMARY KEY,
    key_name           TEXT NOT NULL UNIQUE,
    key_type           TEXT NOT NULL CHECK (key_type IN ('rsa', 'ed25519')),
    fingerprint        TEXT NOT NULL,
    public_key         TEXT NOT NULL,
    private_key_file   TEXT,
    create_time        TEXT NOT NULL,
    tags               TEXT NOT NULL DEFAULT '[]'
);
"#,
    // Instance metadata: the options (`--metadata-options`, as JSON: HttpTokens,
    // HttpEndpoint, HttpPutResponseHopLimit) and the key pair's public key as of launch.
    r#"
ALTER TABLE instances ADD COLUMN metadata_options TEXT NOT NULL DEFAULT '{}';
ALTER TABLE instances ADD COLUMN public_key TEXT;
"#,
    r#"
-- Network interfaces of their own (create/attach/detach-network-interface): where an
-- interface sits on its instance, and whether its public address is an automatic one
-- (released at stop, a fresh one at start) rather than an Elastic IP.
ALTER TABLE enis ADD COLUMN device_index INTEGER;
ALTER TABLE enis ADD COLUMN attachment_id TEXT;
ALTER TABLE enis ADD COLUMN attach_time TEXT;
ALTER TABLE enis ADD COLUMN delete_on_termination INTEGER NOT NULL DEFAULT 0;
ALTER TABLE enis ADD COLUMN auto_public INTEGER NOT NULL DEFAULT 0;
UPDATE enis SET device_index = 0, delete_on_termination = 1,
    attachment_id = 'eni-attach-' || substr(eni_id, 5)
    WHERE instance_id IS NOT NULL;
UPDATE enis SET auto_public = 1
    WHERE public_ip IS NOT NULL AND public_ip NOT IN (SELECT public_ip FROM addresses);
-- One interface per device index on an instance.
CREATE UNIQUE INDEX eni_device ON enis(instance_id, device_index) WHERE instance_id IS NOT NULL;
"#,
    // Tags on every resource (CreateTags, DeleteTags, TagSpecifications): the tables that
    // had no tags column get one (JSON `[{"Key":…,"Value":…}]`, as the others).
    r#"
ALTER TABLE images ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE security_groups ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE enis ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE addresses ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
"#,
    // SNS (issue 13): topics, subscriptions, and the deliveries still to be made (a
    // delivery is removed once made; one that failed waits next_ms, and is kept as
    // 'failed' after its last try).
    r#"
CREATE TABLE sns_topics (
    topic_arn    TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    attributes   TEXT NOT NULL DEFAULT '{}',
    tags         TEXT NOT NULL DEFAULT '[]',
    created_ms   INTEGER NOT NULL
);
CREATE TABLE sns_subscriptions (
    subscription_arn TEXT PRIMARY KEY,
    topic_arn        TEXT NOT NULL REFERENCES sns_topics(topic_arn) ON DELETE CASCADE,
    protocol         TEXT NOT NULL,
    endpoint         TEXT NOT NULL,
    token            TEXT NOT NULL,
    confirmed        INTEGER NOT NULL DEFAULT 0,
    attributes       TEXT NOT NULL DEFAULT '{}',
    created_ms       INTEGER NOT NULL,
    UNIQUE (topic_arn, protocol, endpoint)
);
CREATE TABLE sns_deliveries (
    delivery_id      INTEGER PRIMARY KEY,
    subscription_arn TEXT NOT NULL REFERENCES sns_subscriptions(subscription_arn) ON DELETE CASCADE,
    payload          TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_ms          INTEGER NOT NULL,
    last_error       TEXT,
    state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
    created_ms       INTEGER NOT NULL
);
CREATE INDEX sns_deliveries_due ON sns_deliveries(state, next_ms);
"#,
    // A volume's provisioned throughput in MiB/s (gp3 only; NULL for the other types).
    r#"
ALTER TABLE volumes ADD COLUMN throughput INTEGER;
"#,
    // Detailed monitoring (Monitoring.State): disabled, pending, enabled or disabling.
    r#"
ALTER TABLE instances ADD COLUMN monitoring TEXT NOT NULL DEFAULT 'disabled';
"#,
    // CloudWatch: metric alarms (the `MetricAlarm` shape as JSON, state included), their
    // history (kept 30 days), state changes whose actions are still to be handed out by
    // the next evaluation (SetAlarmState's), and dashboards. Metric data points live in
    // their own file, cloudwatch.db (cloudwatch::metrics::store).
    r#"
CREATE TABLE cw_alarms (
    alarm_name         TEXT PRIMARY KEY,
    alarm              TEXT NOT NULL,
    tags               TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE cw_alarm_history (
    id                 INTEGER PRIMARY KEY,
    alarm_name         TEXT NOT NULL,
    ts_ms              INTEGER NOT NULL,
    item_type          TEXT NOT NULL,
    summary            TEXT NOT NULL,
    data               TEXT NOT NULL
);
CREATE INDEX cw_alarm_history_name ON cw_alarm_history(alarm_name, ts_ms);
CREATE INDEX cw_alarm_history_time ON cw_alarm_history(ts_ms);
CREATE TABLE cw_alarm_pending (
    id                 INTEGER PRIMARY KEY,
    transition         TEXT NOT NULL
);
CREATE TABLE cw_dashboards (
    dashboard_name     TEXT PRIMARY KEY,
    body               TEXT NOT NULL,
    last_modified_ms   INTEGER NOT NULL,
    tags               TEXT NOT NULL DEFAULT '[]'
);
"#,
    // Simplified automatic recovery: MaintenanceOptions.AutoRecovery and the VMM failure
    // it is waiting to repair (instances::maintenance::Maintenance as JSON).
    r#"
ALTER TABLE instances ADD COLUMN maintenance TEXT NOT NULL DEFAULT '{}';
"#,
    // CloudWatch: alarm state changes whose actions are still to run, written in the
    // transaction that made the change and deleted once its actions ran, so a monitor
    // that dies in between runs them when it comes back (at least once, as CloudWatch).
    r#"
CREATE TABLE cw_alarm_outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    transition TEXT NOT NULL
);
"#,
    // Hibernation: HibernationOptions.Configured and whether the stop under way
    // hibernates (instances::hibernation::Hibernation as JSON).
    r#"
ALTER TABLE instances ADD COLUMN hibernation TEXT NOT NULL DEFAULT '{}';
"#,
    // Operation records (operations.rs): multi-step work written down before its first
    // step and deleted after its last, with the process doing it, so that the next
    // command finishes or undoes the work of a process that died in the middle.
    r#"
CREATE TABLE operations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    start_ticks INTEGER NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}',
    started_ms  INTEGER NOT NULL
);
"#,
    // Billing (issue 18): usage records opened and closed by triggers in the transaction
    // that changes the state they meter (billing::usage), spot requests and the spot price
    // history (instances::spot), Reserved Instances and Savings Plans bought
    // (billing::reserved, billing::savings).
    r#"
CREATE TABLE billing_usage (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    usage_type   TEXT NOT NULL DEFAULT '',
    purchase     TEXT NOT NULL DEFAULT 'OnDemand',
    quantity     REAL NOT NULL DEFAULT 1,
    start_ms     INTEGER NOT NULL,
    end_ms       INTEGER
);
CREATE INDEX billing_usage_open ON billing_usage(resource_id, kind) WHERE end_ms IS NULL;
CREATE TABLE spot_requests (
    request_id     TEXT PRIMARY KEY,
    instance_id    TEXT,
    request       TEXT NOT NULL,
    create_ms      INTEGER NOT NULL,
    notice_ms      INTEGER,
    action_ms      INTEGER,
    rebalance_ms   INTEGER,
    tags           TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX spot_requests_instance ON spot_requests(instance_id) WHERE instance_id IS NOT NULL;
CREATE TABLE spot_prices (
    instance_type  TEXT NOT NULL,
    ts_ms          INTEGER NOT NULL,
    price          REAL NOT NULL
);
CREATE INDEX spot_prices_type ON spot_prices(instance_type, ts_ms);
CREATE TABLE reserved_instances (
    reserved_id    TEXT PRIMARY KEY,
    offering_id    TEXT NOT NULL,
    instance_type  TEXT NOT NULL,
    count          INTEGER NOT NULL,
    start_ms       INTEGER NOT NULL,
    duration_s     INTEGER NOT NULL,
    fixed_price    REAL NOT NULL,
    usage_price    REAL NOT NULL,
    offering_type  TEXT NOT NULL,
    offering_class TEXT NOT NULL,
    product        TEXT NOT NULL,
    tags           TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE savings_plans (
    plan_id        TEXT PRIMARY KEY,
    plan           TEXT NOT NULL,
    start_ms       INTEGER NOT NULL,
    duration_s     INTEGER NOT NULL,
    commitment     REAL NOT NULL,
    upfront        REAL NOT NULL,
    recurring      REAL NOT NULL,
    rate_share     REAL NOT NULL
);

-- Instances: from entering running until leaving it (a hibernating stop's stopping
-- state is billed too: the hibernation trigger reopens the record its stop closed).
CREATE TRIGGER billing_instance_running AFTER UPDATE OF state ON instances
WHEN NEW.state = 'running' AND OLD.state != 'running'
BEGIN
    INSERT INTO billing_usage (resource_id, kind, usage_type, purchase, start_ms)
    SELECT NEW.instance_id, 'instance', NEW.instance_type,
           CASE WHEN EXISTS (SELECT 1 FROM spot_requests WHERE instance_id = NEW.instance_id)
                THEN 'Spot' ELSE 'OnDemand' END, CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)
    WHERE NOT EXISTS (SELECT 1 FROM billing_usage
                      WHERE resource_id = NEW.instance_id AND kind = 'instance' AND end_ms IS NULL);
END;
CREATE TRIGGER billing_instance_left AFTER UPDATE OF state ON instances
WHEN NEW.state != 'running'
     AND NOT (NEW.state = 'stopping' AND COALESCE(json_extract(NEW.hibernation, '$.requested'), 0))
BEGIN
    UPDATE billing_usage SET end_ms = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)
    WHERE resource_id = NEW.instance_id AND kind = 'instance' AND end_ms IS NULL;
END;
CREATE TRIGGER billing_instance_hibernating AFTER UPDATE OF hibernation ON instances
WHEN NEW.state = 'stopping' AND COALESCE(json_extract(NEW.hibernation, '$.requested'), 0)
BEGIN
    UPDATE billing_usage SET end_ms = NULL
    WHERE id = (SELECT max(id) FROM billing_usage
                WHERE resource_id = NEW.instance_id AND kind = 'instance')
      AND NOT EXISTS (SELECT 1 FROM billing_usage
                      WHERE resource_id = NEW.instance_id AND kind = 'instance' AND end_ms IS NULL);
END;

CREATE TRIGGER billing_instance_not_hibernating AFTER UPDATE OF hibernation ON instances
WHEN NEW.state = 'stopping' AND NOT COALESCE(json_extract(NEW.hibernation, '$.requested'), 0)
BEGIN
    UPDATE billing_usage SET end_ms = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)
    WHERE resource_id = NEW.instance_id AND kind = 'instance' AND end_ms IS NULL;
END;

-- EBS volumes: provisioned GiB by type, from creation to deletion.
CREATE TRIGGER billing_volume_created AFTER INSERT ON volumes
BEGIN
    INSERT INTO billing_usage (resource_id, kind, usage_type, quantity, start_ms)
    VALUES (NEW.volume_id, 'volume', NEW.volume_type, NEW.size_gib, CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER));
END;
CREATE TRIGGER billing_volume_modified AFTER UPDATE OF size_gib, volume_type ON volumes
WHEN OLD.size_gib != NEW.size_gib OR OLD.volume_type != NEW.volume_type
BEGIN
    UPDATE billing_usage SET end_ms = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)
    WHERE resource_id = NEW.volume_id AND kind = 'volume' AND end_ms IS NULL;
    INSERT INTO billing_usage (resource_id, kind, usage_type, quantity, start_ms)
    VALUES (NEW.volume_id, 'volume', NEW.volume_type, NEW.size_gib, CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER));
END;
CREATE TRIGGER billing_volume_deleted AFTER DELETE ON volumes
BEGIN
    UPDATE billing_usage SET end_ms = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)
    WHERE resource_id = OLD.volume_id AND kind = 'volume' AND end_ms IS NULL;
END;

-- Snapshots: the bytes they store (the chunks they added), from creation to deletion.
CREATE TRIGGER billing_snapshot_created AFTER INSERT ON snapshots
BEGIN
    INSERT INTO billing_usage (resource_id, kind, quantity, start_ms)
    VALUES (NEW.snapshot_id, 'snapshot',
            COALESCE(NEW.bytes_added, NEW.volume_size_gib * 1073741824), CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER));
END;
CREATE TRIGGER billing_snapshot_deleted AFTER DELETE ON snapshots
BEGIN
    UPDATE billing_usage SET end_ms = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)
    WHERE resource_id = OLD.snapshot_id AND kind = 'snapshot' AND end_ms IS NULL;
END;

-- Elastic IPs while allocated and not associated.
CREATE TRIGGER billing_address_allocated AFTER INSERT ON addresses
WHEN NEW.association_id IS NULL
BEGIN
    INSERT INTO billing_usage (resource_id, kind, start_ms)
    VALUES (NEW.allocation_id, 'address-idle', CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER));
END;
CREATE TRIGGER billing_address_associated AFTER UPDATE OF association_id ON addresses
WHEN OLD.association_id IS NULL AND NEW.association_id IS NOT NULL
BEGIN
    UPDATE billing_usage SET end_ms = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)
    WHERE resource_id = NEW.allocation_id AND kind = 'address-idle' AND end_ms IS NULL;
END;
CREATE TRIGGER billing_address_disassociated AFTER UPDATE OF association_id ON addresses
WHEN OLD.association_id IS NOT NULL AND NEW.association_id IS NULL
BEGIN
    INSERT INTO billing_usage (resource_id, kind, start_ms)
    VALUES (NEW.allocation_id, 'address-idle', CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER));
END;
CREATE TRIGGER billing_address_released AFTER DELETE ON addresses
BEGIN
    UPDATE billing_usage SET end_ms = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)
    WHERE resource_id = OLD.allocation_id AND kind = 'address-idle' AND end_ms IS NULL;
END;

-- Public IPv4 addresses in use: on an interface (automatic or Elastic).
CREATE TRIGGER billing_ipv4_created AFTER INSERT ON enis
WHEN NEW.public_ip IS NOT NULL
BEGIN
    INSERT INTO billing_usage (resource_id, kind, start_ms)
    VALUES (NEW.public_ip, 'address-in-use', CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER));
END;
CREATE TRIGGER billing_ipv4_changed AFTER UPDATE OF public_ip ON enis
WHEN OLD.public_ip IS NOT NEW.public_ip
BEGIN
    UPDATE billing_usage SET end_ms = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)
    WHERE OLD.public_ip IS NOT NULL AND resource_id = OLD.public_ip
      AND kind = 'address-in-use' AND end_ms IS NULL;
    INSERT INTO billing_usage (resource_id, kind, start_ms)
    SELECT NEW.public_ip, 'address-in-use', CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE NEW.public_ip IS NOT NULL;
END;
CREATE TRIGGER billing_ipv4_deleted AFTER DELETE ON enis
WHEN OLD.public_ip IS NOT NULL
BEGIN
    UPDATE billing_usage SET end_ms = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)
    WHERE resource_id = OLD.public_ip AND kind = 'address-in-use' AND end_ms IS NULL;
END;
"#,
    // Launch templates and their versions (the `LaunchTemplateData` as JSON); Auto Scaling
    // groups (their settings as JSON), the instances each group holds, its scaling
    // activities (the `Activity` shape as JSON) and scaling policies (the
    // `ScalingPolicy` shape as JSON).
    r#"
CREATE TABLE launch_templates (
    launch_template_id TEXT PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    created            TEXT NOT NULL,
    default_version    INTEGER NOT NULL,
    latest_version     INTEGER NOT NULL,
    tags               TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE launch_template_versions (
    launch_template_id TEXT NOT NULL REFERENCES launch_templates(launch_template_id) ON DELETE CASCADE,
    version            INTEGER NOT NULL,
    description        TEXT,
    created            TEXT NOT NULL,
    data               TEXT NOT NULL,
    PRIMARY KEY (launch_template_id, version)
);
CREATE TABLE asg_groups (
    name        TEXT PRIMARY KEY,
    settings    TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    deleting    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE asg_instances (
    instance_id  TEXT PRIMARY KEY,
    group_name   TEXT NOT NULL,
    lifecycle    TEXT NOT NULL,
    health       TEXT NOT NULL,
    template     TEXT NOT NULL,
    added_ms     INTEGER NOT NULL
);
CREATE INDEX asg_instances_group ON asg_instances(group_name);
CREATE TABLE asg_activities (
    activity_id  TEXT PRIMARY KEY,
    group_name   TEXT NOT NULL,
    start_ms     INTEGER NOT NULL,
    activity     TEXT NOT NULL
);
CREATE INDEX asg_activities_group ON asg_activities(group_name, start_ms);
CREATE TABLE asg_policies (
    policy_arn   TEXT PRIMARY KEY,
    group_name   TEXT NOT NULL,
    policy_name  TEXT NOT NULL,
    policy       TEXT NOT NULL,
    UNIQUE (group_name, policy_name)
);
"#,
    // Spot requests the monitor daemon fulfils: `launch` is the RunInstances request the
    // request launches from (JSON; NULL in older stores, which fall back to the
    // LaunchSpecification), `launched` every instance it launched, oldest first (a
    // persistent request relaunches after an interruption or the user's termination, and
    // `instance_id` follows the newest).
    r#"
ALTER TABLE spot_requests ADD COLUMN launch TEXT;
ALTER TABLE spot_requests ADD COLUMN launched TEXT NOT NULL DEFAULT '[]';
UPDATE spot_requests SET launched = json_array(instance_id) WHERE instance_id IS NOT NULL;
"#,
    // When an alarm last invoked its Auto Scaling actions: CloudWatch invokes them again
    // every period the alarm stays in ALARM.
    r#"
ALTER TABLE cw_alarms ADD COLUMN invoked_ms INTEGER;
"#,
];

/// An open region: its SQLite connection and the directory its files live under.
pub struct Store {
    conn: Connection,
    root: PathBuf,
    region: String,
}

fn valid_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 32
        && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !r.starts_with('-')
}

impl Store {
    /// Opens (creating if needed) the store of `region` under `state_dir`.
    pub fn open(state_dir: &Path, region: &str) -> Result<Store, StoreError> {
        if !valid_region(region) {
            return Err(StoreError::BadRegion(region.into()));
        }
        let root = state_dir.join(region);
        let dirs = [
            root.clone(),
            root.join("images"),
            root.join("instances"),
            root.join("volumes"),
            root.join("snapshots"),
        ];
        for dir in dirs {
            std::fs::create_dir_all(&dir).map_err(|source| StoreError::CreateDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let path = root.join("ec2lab.db");
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(open_err)?;
        // WAL: readers never block the writer; synchronous=FULL: a committed change
        // survives a host crash.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        migrate(&mut conn, &path)?;
        Ok(Store {
            conn,
            root,
            region: region.into(),
        })
    }

    /// The region root, `<state-dir>/<region>`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The region's name.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Where the AMIs' files are, one directory per image.
    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    /// The sparse raw file that backs `volume_id`.
    pub fn volume_path(&self, volume_id: &str) -> PathBuf {
        self.root.join("volumes").join(format!("{volume_id}.img"))
    }

    /// The snapshot chunk store's root.
    pub fn snapshots_dir(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    /// The run directory of `instance_id` (console, sockets, logs).
    pub fn instance_dir(&self, instance_id: &str) -> PathBuf {
        self.root.join("instances").join(instance_id)
    }

    /// Runs `f` in one write transaction: all of it commits, or none of it.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&Transaction) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let out = f(&tx)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// Read-only access; SQLite gives each statement a consistent snapshot.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let newer = |found: i64| StoreError::NewerSchema {
        path: path.display().to_string(),
        found,
        known,
    };
    // A store that is up to date (every open but the first few) needs no write: taking
    // the write lock and committing the same user_version cost every command, and every
    // API request, a WAL commit with its fsyncs, and serialized concurrent readers.
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == known {
        return Ok(());
    }
    if version > known {
        return Err(newer(version));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated meanwhile: the write lock decides.
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > known {
        return Err(newer(version));
    }
    for sql in &MIGRATIONS[version as usize..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_migrates_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), "lab-1").unwrap();
        assert!(s.root().join("ec2lab.db").exists());
        let v: i64 = s
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        drop(s);
        Store::open(dir.path(), "lab-1").unwrap();
        assert!(matches!(
            Store::open(dir.path(), "../etc"),
            Err(StoreError::BadRegion(_))
        ));
    }

    #[test]
    fn a_failed_transaction_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), "lab-1").unwrap();
        let r: Result<(), StoreError> = s.write(|tx| {
            tx.execute(
                "INSERT INTO images (image_id,name,architecture,state,root_device_name,kernel_file,root_file,root_size_gib,creation_date) VALUES ('ami-1','n','x86_64','available','/dev/xvda','k','r',1,'t')",
                [],
            )?;
            Err(StoreError::BadRegion("boom".into()))
        });
        assert!(r.is_err());
        let n: i64 = s
            .conn()
            .query_row("SELECT COUNT(*) FROM images", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn formats_times_like_ec2() {
        assert_eq!(iso8601(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_822_800, 123), "2026-11-27T23:40:00.123Z");
        assert_eq!(iso8601(951_782_400, 0), "2000-02-29T00:00:00.000Z");
    }
}
