//! Maintenance and hibernation options: EC2's simplified automatic recovery (`MaintenanceOptions` of
//! `RunInstances` and `DescribeInstances`, and `ModifyInstanceMaintenanceOptions`) and
//! `HibernationOptions`.

use serde::{Deserialize, Serialize};

/// `MaintenanceOptions` of `RunInstances`: unset members keep their defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceMaintenanceOptionsRequest {
    /// `default` (a running instance whose VMM fails gets a new one) or `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_recovery: Option<String>,
}

/// `MaintenanceOptions` of an instance, as `DescribeInstances` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceMaintenanceOptions {
    /// `default` or `disabled`.
    pub auto_recovery: String,
}

/// `ModifyInstanceMaintenanceOptions` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ModifyInstanceMaintenanceOptionsRequest {
    /// The instance.
    pub instance_id: String,
    /// `default` or `disabled`; unset keeps the current value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_recovery: Option<String>,
}

/// `ModifyInstanceMaintenanceOptions` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ModifyInstanceMaintenanceOptionsResult {
    /// The instance.
    pub instance_id: String,
    /// The value now.
    pub auto_recovery: String,
}

/// `HibernationOptions` of `RunInstances`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HibernationOptionsRequest {
    /// `true`: `stop-instances --hibernate` keeps the instance's memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configured: Option<bool>,
}

/// `HibernationOptions` of an instance, as `DescribeInstances` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HibernationOptions {
    /// Whether it was launched able to hibernate.
    pub configured: bool,
}
