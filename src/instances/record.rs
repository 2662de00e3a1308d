//! An instance as the store keeps it, and as `describe-instances` shows it.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{json, Value};

use super::state::State;
use crate::error::Ec2Error;
use crate::store::{iso8601, now_unix};

#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub instance_id: String,
    pub reservation_id: String,
    pub launch_index: i64,
    pub image_id: String,
    pub instance_type: String,
    pub state: State,
    pub transition_reason: String,
    pub state_reason: Option<(String, String)>,
    pub launch_time: String,
    /// When the instance reached `terminated` (unix seconds); it disappears an hour later.
    pub ended_at: Option<i64>,
    pub key_name: Option<String>,
    /// The key pair's OpenSSH public key at launch (served by the metadata service).
    pub public_key: Option<String>,
    pub user_data: Option<Vec<u8>>,
    pub vcpus: u8,
    pub effective_vcpus: u8,
    pub mem_mib: u64,
    pub warnings: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub security_groups: Vec<String>,
    pub subnet_id: Option<String>,
    pub root_device_name: String,
    pub root_delete_on_termination: bool,
    /// What the supervisor does with the VMM besides what the state asks.
    pub reboot_pending: RebootPending,
    /// The pending stop or terminate skips the graceful shutdown.
    pub force_stop: bool,
    pub vmm_pid: Option<i64>,
    pub vmm_start_ticks: Option<i64>,
    pub boots: i64,
    /// Milliseconds from the last VMM start to the guest running init.
    pub last_boot_ms: Option<i64>,
    pub metadata_options: MetadataOptions,
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
}

impl rusqlite::types::ToSql for RebootPending {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        let n: i64 = match self {
            RebootPending::No => 0,
            RebootPending::Restart => 1,
            RebootPending::HoldDown => 2,
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

    pub fn describe(&self) -> Value {
        json!({
            "State": "applied",
            "HttpTokens": self.http_tokens,
            "HttpPutResponseHopLimit": self.http_put_response_hop_limit,
            "HttpEndpoint": self.http_endpoint,
            "HttpProtocolIpv6": "disabled",
            "InstanceMetadataTags": "disabled",
        })
    }
}

pub use crate::ids::OWNER_ID;

fn json_vec<T: serde::de::DeserializeOwned>(s: String) -> Vec<T> {
    serde_json::from_str(&s).unwrap_or_default()
}

impl Instance {
    fn from_row(r: &Row) -> rusqlite::Result<Instance> {
        let state: String = r.get("state")?;
        let code: Option<String> = r.get("state_reason_code")?;
        let msg: Option<String> = r.get("state_reason_msg")?;
        let tags: Vec<(String, String)> = json_vec(r.get("tags")?);
        Ok(Instance {
            instance_id: r.get("instance_id")?,
            reservation_id: r.get("reservation_id")?,
            launch_index: r.get("launch_index")?,
            image_id: r.get("image_id")?,
            instance_type: r.get("instance_type")?,
            state: State::parse(&state).unwrap_or(State::Stopped),
            transition_reason: r.get("transition_reason")?,
            state_reason: code.zip(msg),
            launch_time: r.get("launch_time")?,
            ended_at: r.get("ended_at")?,
            key_name: r.get("key_name")?,
            public_key: r.get("public_key")?,
            user_data: r.get("user_data")?,
            vcpus: r.get("vcpus")?,
            effective_vcpus: r.get("effective_vcpus")?,
            mem_mib: r.get::<_, i64>("mem_mib")? as u64,
            warnings: json_vec(r.get("warnings")?),
            tags,
            security_groups: json_vec(r.get("security_groups")?),
            subnet_id: r.get("subnet_id")?,
            root_device_name: r.get("root_device_name")?,
            root_delete_on_termination: r.get("root_delete_on_termination")?,
            reboot_pending: r.get("reboot_pending")?,
            force_stop: r.get("force_stop")?,
            vmm_pid: r.get("vmm_pid")?,
            vmm_start_ticks: r.get("vmm_start_ticks")?,
            boots: r.get("boots")?,
            last_boot_ms: r.get("last_boot_ms")?,
            metadata_options: serde_json::from_str(&r.get::<_, String>("metadata_options")?)
                .unwrap_or_default(),
        })
    }

    pub fn insert(&self, c: &Connection) -> Result<(), Ec2Error> {
        c.execute(
            "INSERT INTO instances (instance_id, reservation_id, launch_index, image_id, instance_type,
               state, transition_reason, launch_time, key_name, user_data, vcpus, effective_vcpus,
               mem_mib, warnings, tags, security_groups, subnet_id, root_device_name,
               root_delete_on_termination, metadata_options, public_key)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21)",
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
                self.effective_vcpus,
                self.mem_mib as i64,
                serde_json::to_string(&self.warnings).unwrap_or_default(),
                serde_json::to_string(&self.tags).unwrap_or_default(),
                serde_json::to_string(&self.security_groups).unwrap_or_default(),
                self.subnet_id,
                self.root_device_name,
                self.root_delete_on_termination,
                serde_json::to_string(&self.metadata_options).unwrap_or_default(),
                self.public_key,
            ],
        )?;
        Ok(())
    }

    pub fn load(c: &Connection, id: &str) -> Result<Option<Instance>, Ec2Error> {
        Ok(c.query_row(
            "SELECT * FROM instances WHERE instance_id = ?1",
            [id],
            Instance::from_row,
        )
        .optional()?)
    }

    pub fn get(c: &Connection, id: &str) -> Result<Instance, Ec2Error> {
        Self::load(c, id)?.ok_or_else(|| Ec2Error::instance_not_found(id))
    }

    pub fn all(c: &Connection) -> Result<Vec<Instance>, Ec2Error> {
        let mut stmt = c.prepare("SELECT * FROM instances ORDER BY launch_time, launch_index")?;
        let rows = stmt.query_map([], Instance::from_row)?;
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

    pub fn set_vmm(c: &Connection, id: &str, pid: Option<(i64, i64)>) -> Result<(), Ec2Error> {
        let (p, t) = pid.unzip();
        c.execute(
            "UPDATE instances SET vmm_pid = ?2, vmm_start_ticks = ?3,
               boots = boots + (CASE WHEN ?2 IS NULL THEN 0 ELSE 1 END) WHERE instance_id = ?1",
            params![id, p, t],
        )?;
        Ok(())
    }

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

    pub fn set_force_stop(c: &Connection, id: &str, force: bool) -> Result<(), Ec2Error> {
        c.execute(
            "UPDATE instances SET force_stop = ?2 WHERE instance_id = ?1",
            params![id, force],
        )?;
        Ok(())
    }

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

    pub fn set_boot_ms(c: &Connection, id: &str, ms: i64) -> Result<(), Ec2Error> {
        c.execute(
            "UPDATE instances SET last_boot_ms = ?2 WHERE instance_id = ?1",
            params![id, ms],
        )?;
        Ok(())
    }

    pub fn delete(c: &Connection, id: &str) -> Result<(), Ec2Error> {
        c.execute("DELETE FROM instances WHERE instance_id = ?1", [id])?;
        Ok(())
    }

    /// Terminated for over an hour: EC2 stops showing it.
    pub fn expired(&self) -> bool {
        self.state == State::Terminated && self.ended_at.is_some_and(|t| now_unix() - t > 3600)
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The `Instances[]` element of `describe-instances`, in AWS's shape.
    pub fn describe(&self, region: &str, block_device_mappings: Value) -> Value {
        let mut v = json!({
            "AmiLaunchIndex": self.launch_index,
            "ImageId": self.image_id,
            "InstanceId": self.instance_id,
            "InstanceType": self.instance_type,
            "LaunchTime": self.launch_time,
            "Monitoring": {"State": "disabled"},
            "Placement": {"AvailabilityZone": format!("{region}a"), "GroupName": "", "Tenancy": "default"},
            "State": self.state.json(),
            "StateTransitionReason": self.transition_reason,
            "Architecture": "x86_64",
            "Hypervisor": "kvm",
            "VirtualizationType": "hvm",
            "RootDeviceName": self.root_device_name,
            "RootDeviceType": "ebs",
            "EbsOptimized": false,
            "EnaSupport": false,
            "CpuOptions": {"CoreCount": self.vcpus, "ThreadsPerCore": 1},
            "SecurityGroups": self.security_groups.iter().map(|g| json!({"GroupId": g})).collect::<Vec<_>>(),
            "Tags": self.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
            "BlockDeviceMappings": block_device_mappings,
            "MetadataOptions": self.metadata_options.describe(),
            "Ec2LabInfo": {
                "VCpusRequested": self.vcpus,
                "VCpusRunning": self.effective_vcpus,
                "MemoryMiB": self.mem_mib,
                "Boots": self.boots,
                "LastBootToInitMs": self.last_boot_ms,
                "Warnings": self.warnings,
            },
        });
        if let Some(k) = &self.key_name {
            v["KeyName"] = json!(k);
        }
        if let Some(s) = &self.subnet_id {
            v["SubnetId"] = json!(s);
        }
        if let Some((code, msg)) = &self.state_reason {
            v["StateReason"] = json!({"Code": code, "Message": msg});
        }
        if self.state == State::Terminated {
            if let Some(t) = self.ended_at {
                v["Ec2LabInfo"]["TerminatedAt"] = json!(iso8601(t, 0));
            }
        }
        v
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
        ] {
            let stored: i64 = c.query_row("SELECT ?1", [value], |r| r.get(0)).unwrap();
            assert_eq!(stored, n);
            let read: RebootPending = c.query_row("SELECT ?1", [n], |r| r.get(0)).unwrap();
            assert_eq!(read, value);
        }
        assert!(c
            .query_row("SELECT 3", [], |r| r.get::<_, RebootPending>(0))
            .is_err());
    }
}
