//! An instance as the store keeps it, and as `describe-instances` shows it.

use super::options::{Hibernation, Maintenance};
use super::state::MonitoringState;
use super::state::State;
use crate::ec2::shapes::instances as shapes;
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::store::{iso8601, now_unix};
use rusqlite::{params, Connection, OptionalExtension, Row};

/// An instance as the store keeps it (the `instances` table).
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// Its id (`i-…`).
    pub instance_id: String,
    /// The reservation it was launched in.
    pub reservation_id: String,
    /// Its index within the launch.
    pub launch_index: i64,
    /// The AMI it was launched from.
    pub image_id: String,
    /// Its instance type.
    pub instance_type: String,
    /// Its lifecycle state.
    pub state: State,
    /// Why it last changed state, as text.
    pub transition_reason: String,
    /// Why it last changed state: EC2's code and message.
    pub state_reason: Option<(String, String)>,
    /// When it was launched.
    pub launch_time: String,
    /// When the instance reached `terminated` (unix seconds); it disappears an hour later.
    pub ended_at: Option<i64>,
    /// The key pair it was launched with.
    pub key_name: Option<String>,
    /// The key pair's OpenSSH public key at launch (served by the metadata service).
    pub public_key: Option<String>,
    /// Its user data, decoded.
    pub user_data: Option<Vec<u8>>,
    /// The type's vCPUs, all of which its guest runs on. (The `effective_vcpus` column
    /// is written with the same number: builds before every host ran every vCPU kept
    /// the clamped count there, and a state directory must open in both.)
    pub vcpus: u8,
    /// The guest's memory.
    pub mem_mib: u64,
    /// What the launch warned about.
    pub warnings: Vec<String>,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// Its security groups at launch (its interfaces' groups win once it has one).
    pub security_groups: Vec<String>,
    /// Its subnet.
    pub subnet_id: Option<String>,
    /// The root device's name.
    pub root_device_name: String,
    /// Whether its root volume goes with it.
    pub root_delete_on_termination: bool,
    /// What the supervisor does with the VMM besides what the state asks.
    pub reboot_pending: RebootPending,
    /// The pending stop or terminate skips the graceful shutdown.
    pub force_stop: bool,
    /// The process id of its VMM, while one runs.
    pub vmm_pid: Option<i64>,
    /// The VMM's start time in clock ticks (tells a reused pid apart).
    pub vmm_start_ticks: Option<i64>,
    /// How many times a VMM was started for it.
    pub boots: i64,
    /// Milliseconds from the last VMM start to the guest running init.
    pub last_boot_ms: Option<i64>,
    /// How the metadata service answers it.
    pub metadata_options: MetadataOptions,
    /// Detailed monitoring's state.
    pub monitoring: MonitoringState,
    /// Automatic recovery, and the VMM failure it is waiting to repair.
    pub maintenance: Maintenance,
    /// Whether it can hibernate, and whether the stop under way does.
    pub hibernation: Hibernation,
}

/// A reboot the supervisor carries out on a running instance. Stored as the integers 0, 1
/// and 2 of the `reboot_pending` column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RebootPending {
    /// Nothing to do (0).
    #[default]
    No,
    /// Shut the guest down and start its VMM again (1): reboot-instances, and the end of
    /// create-image.
    Restart,
    /// Shut the guest down and start no VMM until this changes (2): create-image copies
    /// the root volume meanwhile.
    HoldDown,
    /// Kill the VMM at once (it may hang and answer nothing) and start a new one for the
    /// same instance (3): the `recover` alarm action.
    Recover,
}

impl rusqlite::types::ToSql for RebootPending {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        let n: i64 = match self {
            RebootPending::No => 0,
            RebootPending::Restart => 1,
            RebootPending::HoldDown => 2,
            RebootPending::Recover => 3,
        };
        Ok(n.into())
    }
}

impl rusqlite::types::FromSql for RebootPending {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        match v.as_i64()? {
            0 => Ok(RebootPending::No),
            1 => Ok(RebootPending::Restart),
            2 => Ok(RebootPending::HoldDown),
            3 => Ok(RebootPending::Recover),
            n => Err(rusqlite::types::FromSqlError::OutOfRange(n)),
        }
    }
}

/// How the instance metadata service answers this instance (`--metadata-options`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MetadataOptions {
    /// `optional`: IMDSv1 and v2; `required`: only requests with a v2 session token.
    pub http_tokens: String,
    /// `enabled` or `disabled` (the service then refuses this instance).
    pub http_endpoint: String,
    /// Recorded and shown as on AWS; every guest is one hop from the service here.
    pub http_put_response_hop_limit: i64,
}

impl Default for MetadataOptions {
    fn default() -> Self {
        MetadataOptions {
            http_tokens: "optional".into(),
            http_endpoint: "enabled".into(),
            http_put_response_hop_limit: 1,
        }
    }
}

impl MetadataOptions {
    /// Checks values as EC2 does; `InvalidParameterValue` names the bad one.
    pub fn validate(&self) -> Result<(), Ec2Error> {
        let bad = |name: &str, value: &str, allowed: &str| {
            Err(Ec2Error::invalid_parameter(format!(
                "The value '{value}' is not valid for {name}; use {allowed}"
            )))
        };
        if !matches!(self.http_tokens.as_str(), "optional" | "required") {
            return bad("HttpTokens", &self.http_tokens, "optional or required");
        }
        if !matches!(self.http_endpoint.as_str(), "enabled" | "disabled") {
            return bad("HttpEndpoint", &self.http_endpoint, "enabled or disabled");
        }
        if !(1..=64).contains(&self.http_put_response_hop_limit) {
            return bad(
                "HttpPutResponseHopLimit",
                &self.http_put_response_hop_limit.to_string(),
                "a number from 1 to 64",
            );
        }
        Ok(())
    }

    /// The options as `DescribeInstances` shows them.
    pub fn to_shape(&self) -> shapes::InstanceMetadataOptionsResponse {
        shapes::InstanceMetadataOptionsResponse {
            http_tokens: self.http_tokens.clone(),
            http_put_response_hop_limit: self.http_put_response_hop_limit,
            http_endpoint: self.http_endpoint.clone(),
            ..Default::default()
        }
    }

    /// These options with the members `req` sets changed, checked.
    pub fn changed(
        &self,
        http_tokens: Option<&str>,
        http_endpoint: Option<&str>,
        hop_limit: Option<i64>,
    ) -> Result<MetadataOptions, Ec2Error> {
        let mut o = self.clone();
        if let Some(t) = http_tokens {
            o.http_tokens = t.into();
        }
        if let Some(e) = http_endpoint {
            o.http_endpoint = e.into();
        }
        if let Some(h) = hop_limit {
            o.http_put_response_hop_limit = h;
        }
        o.validate()?;
        Ok(o)
    }
}

pub use crate::ids::OWNER_ID;

/// The `instances` columns [`Instance::from_row`] reads, in its order.
macro_rules! columns {
    () => {
        "state, state_reason_code, state_reason_msg, tags, instance_id, reservation_id, launch_index, image_id, instance_type, transition_reason, launch_time, ended_at, key_name, public_key, user_data, vcpus, mem_mib, warnings, security_groups, subnet_id, root_device_name, root_delete_on_termination, reboot_pending, force_stop, vmm_pid, vmm_start_ticks, boots, last_boot_ms, metadata_options, monitoring, maintenance, hibernation"
    };
}

fn json_vec<T: serde::de::DeserializeOwned>(s: String) -> Vec<T> {
    serde_json::from_str(&s).unwrap_or_default()
}

/// What the one-vCPU warning of older builds said; it no longer holds (the instance runs
/// every vCPU at its next boot), so instances recorded by them do not show it.
const OLD_ONE_VCPU_WARNING: &str = "cannot start secondary vCPUs";

fn current_warnings(stored: Vec<String>) -> Vec<String> {
    stored
        .into_iter()
        .filter(|w| !w.contains(OLD_ONE_VCPU_WARNING))
        .collect()
}

impl Instance {
    /// A row of a query that selects [`columns!`], by position: looking columns up by
    /// name (rusqlite compares every column's name) was most of the cost of reading a big
    /// table.
    fn from_row(r: &Row) -> rusqlite::Result<Instance> {
        let mut at = 0..;
        let mut next = || at.next().unwrap_or_default();
        let state: String = r.get(next())?;
        let code: Option<String> = r.get(next())?;
        let msg: Option<String> = r.get(next())?;
        let tags = tags::from_column(&r.get::<_, String>(next())?);
        Ok(Instance {
            instance_id: r.get(next())?,
            reservation_id: r.get(next())?,
            launch_index: r.get(next())?,
            image_id: r.get(next())?,
            instance_type: r.get(next())?,
            state: State::parse(&state).unwrap_or(State::Stopped),
            transition_reason: r.get(next())?,
            state_reason: code.zip(msg),
            launch_time: r.get(next())?,
            ended_at: r.get(next())?,
            key_name: r.get(next())?,
            public_key: r.get(next())?,
            user_data: r.get(next())?,
            vcpus: r.get(next())?,
            mem_mib: r.get::<_, i64>(next())? as u64,
            warnings: current_warnings(json_vec(r.get(next())?)),
            tags,
            security_groups: json_vec(r.get(next())?),
            subnet_id: r.get(next())?,
            root_device_name: r.get(next())?,
            root_delete_on_termination: r.get(next())?,
            reboot_pending: r.get(next())?,
            force_stop: r.get(next())?,
            vmm_pid: r.get(next())?,
            vmm_start_ticks: r.get(next())?,
            boots: r.get(next())?,
            last_boot_ms: r.get(next())?,
            metadata_options: serde_json::from_str(&r.get::<_, String>(next())?)
                .unwrap_or_default(),
            monitoring: MonitoringState::parse(&r.get::<_, String>(next())?),
            maintenance: serde_json::from_str(&r.get::<_, String>(next())?).unwrap_or_default(),
            hibernation: serde_json::from_str(&r.get::<_, String>(next())?).unwrap_or_default(),
        })
    }

    /// Adds the row.
    pub fn insert(&self, c: &Connection) -> Result<(), Ec2Error> {
        c.execute(
            "INSERT INTO instances (instance_id, reservation_id, launch_index, image_id, instance_type,
               state, transition_reason, launch_time, key_name, user_data, vcpus, effective_vcpus,
               mem_mib, warnings, tags, security_groups, subnet_id, root_device_name,
               root_delete_on_termination, metadata_options, public_key, monitoring, maintenance,
               hibernation)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,
                     ?22,?23,?24)",
            params![
                self.instance_id,
                self.reservation_id,
                self.launch_index,
                self.image_id,
                self.instance_type,
                self.state.name(),
                self.transition_reason,
                self.launch_time,
                self.key_name,
                self.user_data,
                self.vcpus,
                self.vcpus,
                self.mem_mib as i64,
                serde_json::to_string(&self.warnings).unwrap_or_default(),
                tags::to_column(&self.tags),
                serde_json::to_string(&self.security_groups).unwrap_or_default(),
                self.subnet_id,
                self.root_device_name,
                self.root_delete_on_termination,
                serde_json::to_string(&self.metadata_options).unwrap_or_default(),
                self.public_key,
                self.monitoring.name(),
                serde_json::to_string(&self.maintenance).unwrap_or_default(),
                serde_json::to_string(&self.hibernation).unwrap_or_default(),
            ],
        )?;
        Ok(())
    }

    /// The instance, if it exists.
    pub fn load(c: &Connection, id: &str) -> Result<Option<Instance>, Ec2Error> {
        Ok(c.query_row(
            concat!(
                "SELECT ",
                columns!(),
                " FROM instances WHERE instance_id = ?1"
            ),
            [id],
            Instance::from_row,
        )
        .optional()?)
    }

    /// The instance, or `InvalidInstanceID.NotFound`.
    pub fn get(c: &Connection, id: &str) -> Result<Instance, Ec2Error> {
        Self::load(c, id)?.ok_or_else(|| Ec2Error::instance_not_found(id))
    }

    /// Every instance, in launch order.
    pub fn all(c: &Connection) -> Result<Vec<Instance>, Ec2Error> {
        let mut stmt = c.prepare(concat!(
            "SELECT ",
            columns!(),
            " FROM instances ORDER BY launch_time, launch_index"
        ))?;
        let rows = stmt.query_map([], Instance::from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The instances named, in launch order (an id that names none is left out). One
    /// query, whatever the number of ids: `DescribeInstances` by id reads only these rows.
    pub fn with_ids(c: &Connection, ids: &[String]) -> Result<Vec<Instance>, Ec2Error> {
        let mut stmt = c.prepare_cached(concat!(
            "SELECT ",
            columns!(),
            " FROM instances WHERE instance_id IN (SELECT value FROM json_each(?1))
             ORDER BY launch_time, launch_index"
        ))?;
        let ids = serde_json::to_string(ids).unwrap_or_default();
        let rows = stmt.query_map([ids], Instance::from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The instances in a state with a VMM (pending, running, stopping, shutting-down), in
    /// launch order: all that housekeeping looks after, without reading stopped and
    /// terminated records.
    pub fn with_vmm(c: &Connection) -> Result<Vec<Instance>, Ec2Error> {
        let states: Vec<&str> = super::state::ALL
            .into_iter()
            .filter(|s| s.has_vmm())
            .map(State::name)
            .collect();
        let mut stmt = c.prepare_cached(concat!(
            "SELECT ",
            columns!(),
            " FROM instances WHERE state IN (SELECT value FROM json_each(?1))
             ORDER BY launch_time, launch_index"
        ))?;
        let states = serde_json::to_string(&states).unwrap_or_default();
        let rows = stmt.query_map([states], Instance::from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The ids of the instances terminated over an hour ago ([`Instance::expired`]), which
    /// EC2 no longer shows.
    pub fn expired_ids(c: &Connection) -> Result<Vec<String>, Ec2Error> {
        let mut stmt = c.prepare_cached(
            "SELECT instance_id FROM instances
             WHERE state = ?1 AND ended_at IS NOT NULL AND ?2 - ended_at > 3600",
        )?;
        let rows = stmt.query_map(params![State::Terminated.name(), now_unix()], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Moves to `to`, recording why; `terminated` also starts the one-hour visibility clock.
    pub fn set_state(
        c: &Connection,
        id: &str,
        to: State,
        transition_reason: &str,
        state_reason: Option<(&str, &str)>,
    ) -> Result<(), Ec2Error> {
        let (code, msg) = state_reason.unzip();
        let ended = (to == State::Terminated).then(now_unix);
        c.execute(
            "UPDATE instances SET state = ?2, transition_reason = ?3, state_reason_code = ?4,
               state_reason_msg = ?5, ended_at = COALESCE(?6, ended_at) WHERE instance_id = ?1",
            params![id, to.name(), transition_reason, code, msg, ended],
        )?;
        Ok(())
    }

    /// Records the running VMM (pid and start ticks), or that none runs; a new VMM counts a boot.
    pub fn set_vmm(c: &Connection, id: &str, pid: Option<(i64, i64)>) -> Result<(), Ec2Error> {
        let (p, t) = pid.unzip();
        c.execute(
            "UPDATE instances SET vmm_pid = ?2, vmm_start_ticks = ?3,
               boots = boots + (CASE WHEN ?2 IS NULL THEN 0 ELSE 1 END) WHERE instance_id = ?1",
            params![id, p, t],
        )?;
        Ok(())
    }

    /// Records the reboot the supervisor is to carry out next.
    pub fn set_reboot_pending(
        c: &Connection,
        id: &str,
        value: RebootPending,
    ) -> Result<(), Ec2Error> {
        c.execute(
            "UPDATE instances SET reboot_pending = ?2 WHERE instance_id = ?1",
            params![id, value],
        )?;
        Ok(())
    }

    /// Records whether the pending stop or terminate skips the graceful shutdown.
    pub fn set_force_stop(c: &Connection, id: &str, force: bool) -> Result<(), Ec2Error> {
        c.execute(
            "UPDATE instances SET force_stop = ?2 WHERE instance_id = ?1",
            params![id, force],
        )?;
        Ok(())
    }

    /// Records new metadata options.
    pub fn set_metadata_options(
        c: &Connection,
        id: &str,
        options: &MetadataOptions,
    ) -> Result<(), Ec2Error> {
        c.execute(
            "UPDATE instances SET metadata_options = ?2 WHERE instance_id = ?1",
            params![id, serde_json::to_string(options).unwrap_or_default()],
        )?;
        Ok(())
    }

    /// Records a new instance type (of a stopped instance): its vCPUs and memory. The
    /// warnings are cleared: the only one a type ever brought was older builds'
    /// one-vCPU warning.
    pub fn set_type(
        c: &Connection,
        id: &str,
        ty: &super::types::InstanceType,
    ) -> Result<(), Ec2Error> {
        c.execute(
            "UPDATE instances SET instance_type = ?2, vcpus = ?3, effective_vcpus = ?3,
               mem_mib = ?4, warnings = '[]' WHERE instance_id = ?1",
            params![id, ty.name, ty.vcpus, ty.mem_mib as i64],
        )?;
        Ok(())
    }

    /// Records new user data (decoded), or none.
    pub fn set_user_data(c: &Connection, id: &str, data: Option<&[u8]>) -> Result<(), Ec2Error> {
        c.execute(
            "UPDATE instances SET user_data = ?2 WHERE instance_id = ?1",
            params![id, data],
        )?;
        Ok(())
    }

    /// Records how long the last boot took to reach init.
    pub fn set_boot_ms(c: &Connection, id: &str, ms: i64) -> Result<(), Ec2Error> {
        c.execute(
            "UPDATE instances SET last_boot_ms = ?2 WHERE instance_id = ?1",
            params![id, ms],
        )?;
        Ok(())
    }

    /// Removes the row.
    pub fn delete(c: &Connection, id: &str) -> Result<(), Ec2Error> {
        c.execute("DELETE FROM instances WHERE instance_id = ?1", [id])?;
        Ok(())
    }

    /// Terminated for over an hour: EC2 stops showing it.
    pub fn expired(&self) -> bool {
        self.state == State::Terminated && self.ended_at.is_some_and(|t| now_unix() - t > 3600)
    }

    /// The value of tag `key`, if the instance has it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        tags::get(&self.tags, key)
    }

    /// The instance as `DescribeInstances` shows it, from this record alone: without its
    /// disks and network interfaces, which `instances::describe` adds.
    pub fn to_shape(&self, region: &str) -> shapes::Instance {
        shapes::Instance {
            ami_launch_index: self.launch_index,
            image_id: self.image_id.clone(),
            instance_id: self.instance_id.clone(),
            instance_type: self.instance_type.clone(),
            key_name: self.key_name.clone(),
            launch_time: self.launch_time.clone(),
            monitoring: shapes::Monitoring {
                state: self.monitoring.name().into(),
            },
            placement: shapes::Placement {
                availability_zone: format!("{region}a"),
                group_name: String::new(),
                tenancy: "default".into(),
            },
            state: self.state.to_shape(),
            state_transition_reason: self.transition_reason.clone(),
            subnet_id: self.subnet_id.clone(),
            architecture: "x86_64".into(),
            hypervisor: "kvm".into(),
            root_device_name: self.root_device_name.clone(),
            root_device_type: "ebs".into(),
            security_groups: self
                .security_groups
                .iter()
                .map(|g| shapes::GroupIdentifier {
                    group_id: g.clone(),
                    group_name: None,
                })
                .collect(),
            state_reason: self
                .state_reason
                .as_ref()
                .map(|(code, message)| shapes::StateReason {
                    code: code.clone(),
                    message: message.clone(),
                }),
            tags: self.tags.clone(),
            virtualization_type: "hvm".into(),
            cpu_options: shapes::CpuOptions {
                core_count: self.vcpus,
                threads_per_core: 1,
            },
            metadata_options: self.metadata_options.to_shape(),
            maintenance_options: self.maintenance.to_shape(),
            hibernation_options: self.hibernation.to_shape(),
            instance_lifecycle: None,
            spot_instance_request_id: None,
            ec2_lab_info: shapes::Ec2LabInstanceInfo {
                vcpus_requested: self.vcpus,
                vcpus_running: self.vcpus,
                memory_mib: self.mem_mib,
                boots: self.boots,
                last_boot_to_init_ms: self.last_boot_ms,
                warnings: self.warnings.clone(),
                terminated_at: self
                    .ended_at
                    .filter(|_| self.state == State::Terminated)
                    .map(|t| iso8601(t, 0)),
                guest_status: None,
            },
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod reboot_pending_tests {
    use super::RebootPending;

    #[test]
    fn reboot_pending_keeps_the_stored_integers() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        for (value, n) in [
            (RebootPending::No, 0),
            (RebootPending::Restart, 1),
            (RebootPending::HoldDown, 2),
            (RebootPending::Recover, 3),
        ] {
            let stored: i64 = c.query_row("SELECT ?1", [value], |r| r.get(0)).unwrap();
            assert_eq!(stored, n);
            let read: RebootPending = c.query_row("SELECT ?1", [n], |r| r.get(0)).unwrap();
            assert_eq!(read, value);
        }
        assert!(c
            .query_row("SELECT 4", [], |r| r.get::<_, RebootPending>(0))
            .is_err());
    }
}

#[cfg(test)]
mod warning_tests {
    use super::current_warnings;

    #[test]
    fn older_builds_one_vcpu_warning_is_dropped_and_others_kept() {
        let stored = vec![
            "t3.small has 2 vCPUs, but this host's KVM (pvm) cannot start secondary vCPUs in a Linux guest: the instance runs on 1 vCPU".to_string(),
            "something else".to_string(),
        ];
        assert_eq!(current_warnings(stored), ["something else"]);
    }
}
