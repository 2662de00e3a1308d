//! What the `instances` table keeps of an instance's maintenance and hibernation
//! options (JSON columns), apart from the services that act on them
//! ([`super::maintenance`], [`super::hibernation`]) so that the record can hold them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ec2::shapes::maintenance::{HibernationOptions, InstanceMaintenanceOptions};
use crate::error::Ec2Error;

/// An instance's maintenance options and its current system failure (the `maintenance`
/// column, as JSON).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Maintenance {
    /// `MaintenanceOptions.AutoRecovery` is `disabled`.
    pub auto_recovery_disabled: bool,
    /// When the running instance's VMM died (unix ms), until a new one starts.
    pub impaired_since_ms: Option<i64>,
    /// When the last automatic recovery started a VMM (unix ms).
    pub last_recovery_ms: Option<i64>,
    /// Automatic recoveries in a row whose VMM died again before its guest ran init:
    /// each waits twice as long as the one before, so a VMM that cannot run does not
    /// restart in a tight loop.
    pub failed_recoveries: u32,
}

/// How long a running instance whose VMM died waits for its automatic recovery
/// (`EC2LAB_AUTO_RECOVERY_SECS`, default 60 s: CloudWatch's one-minute system check sees
/// the failure first).
pub fn auto_recovery_delay() -> Duration {
    Duration::from_secs(
        std::env::var("EC2LAB_AUTO_RECOVERY_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    )
}

impl Maintenance {
    /// `AutoRecovery` as EC2 names it.
    pub fn auto_recovery(&self) -> &'static str {
        if self.auto_recovery_disabled {
            "disabled"
        } else {
            "default"
        }
    }

    /// Sets `AutoRecovery` from EC2's value; anything else is `InvalidParameterValue`.
    pub fn set_auto_recovery(&mut self, value: &str) -> Result<(), Ec2Error> {
        self.auto_recovery_disabled = match value {
            "default" => false,
            "disabled" => true,
            other => {
                return Err(Ec2Error::invalid_parameter(format!(
                    "Value ({other}) for parameter AutoRecovery is invalid. Use default or disabled"
                )))
            }
        };
        Ok(())
    }

    /// As `DescribeInstances` shows it.
    pub fn to_shape(&self) -> InstanceMaintenanceOptions {
        InstanceMaintenanceOptions {
            auto_recovery: self.auto_recovery().into(),
        }
    }

    /// When the automatic recovery of an impaired instance is due (unix ms), or `None`
    /// when it is not impaired or recovery is disabled.
    pub fn recovery_due_ms(&self) -> Option<i64> {
        let since = self.impaired_since_ms?;
        if self.auto_recovery_disabled {
            return None;
        }
        let base = auto_recovery_delay().as_millis() as i64;
        let factor = 1i64 << self.failed_recoveries.min(6);
        Some(since + base * factor)
    }

    /// Stores `m` as the instance's maintenance record.
    pub fn save(&self, c: &rusqlite::Connection, id: &str) -> Result<(), Ec2Error> {
        c.execute(
            "UPDATE instances SET maintenance = ?2 WHERE instance_id = ?1",
            rusqlite::params![id, serde_json::to_string(self).unwrap_or_default()],
        )?;
        Ok(())
    }
}

/// An instance's hibernation settings (the `hibernation` column, as JSON).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hibernation {
    /// Launched with `HibernationOptions.Configured=true`.
    pub configured: bool,
    /// The stop under way hibernates (`stop-instances --hibernate`).
    pub requested: bool,
}

impl Hibernation {
    /// As `DescribeInstances` shows it.
    pub fn to_shape(&self) -> HibernationOptions {
        HibernationOptions {
            configured: self.configured,
        }
    }

    /// Stores it as the instance's hibernation record.
    pub fn save(&self, c: &rusqlite::Connection, id: &str) -> Result<(), Ec2Error> {
        c.execute(
            "UPDATE instances SET hibernation = ?2 WHERE instance_id = ?1",
            rusqlite::params![id, serde_json::to_string(self).unwrap_or_default()],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_waits_longer_after_each_failed_one_and_never_when_disabled() {
        std::env::remove_var("EC2LAB_AUTO_RECOVERY_SECS");
        let mut m = Maintenance {
            impaired_since_ms: Some(1_000),
            ..Maintenance::default()
        };
        assert_eq!(m.recovery_due_ms(), Some(61_000));
        m.failed_recoveries = 2;
        assert_eq!(m.recovery_due_ms(), Some(241_000));
        m.set_auto_recovery("disabled").unwrap();
        assert_eq!(m.recovery_due_ms(), None);
        assert_eq!(m.auto_recovery(), "disabled");
        let e = m.set_auto_recovery("sometimes").unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        assert_eq!(m.auto_recovery(), "disabled", "a bad value changes nothing");
        assert_eq!(Maintenance::default().recovery_due_ms(), None);
    }
}
