//! Launch templates: CreateLaunchTemplate, CreateLaunchTemplateVersion,
//! DescribeLaunchTemplates, DescribeLaunchTemplateVersions, ModifyLaunchTemplate,
//! DeleteLaunchTemplate, and `RunInstances`' `LaunchTemplate`.
//!
//! [`LaunchTemplateData`] is both the model's `RequestLaunchTemplateData` and its
//! `ResponseLaunchTemplateData` (the same member names): the launch settings ec2lab's
//! RunInstances takes, each optional, so that a launch can override any of them.

use serde::{Deserialize, Serialize};

pub use super::instances::LaunchTemplateSpecification;
use super::instances::{
    BlockDeviceMapping, InstanceMetadataOptionsRequest, InstanceNetworkInterfaceSpecification,
    LaunchPlacement, RunInstancesMonitoringEnabled,
};
use super::maintenance::{HibernationOptionsRequest, InstanceMaintenanceOptionsRequest};
use super::{Filter, Tag, TagSpecification};

/// A template version's launch settings (`RequestLaunchTemplateData`,
/// `ResponseLaunchTemplateData`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateData {
    /// The AMI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// The instance type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// The key pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// Security groups of the primary interface.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<String>,
    /// User data, base64 as in RunInstances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// The root device's size, type and DeleteOnTermination.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    /// `AssociatePublicIpAddress` of device index 0.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<InstanceNetworkInterfaceSpecification>,
    /// Tags for the instances and volumes launched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<TagSpecification>,
    /// The metadata service's options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_options: Option<InstanceMetadataOptionsRequest>,
    /// Detailed monitoring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<RunInstancesMonitoringEnabled>,
    /// The zone (the region's one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<LaunchPlacement>,
    /// Automatic recovery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_options: Option<InstanceMaintenanceOptionsRequest>,
    /// Hibernation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hibernation_options: Option<HibernationOptionsRequest>,
}

/// A launch template (`LaunchTemplate`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplate {
    /// `lt-…`.
    pub launch_template_id: String,
    /// Its unique name.
    pub launch_template_name: String,
    /// ISO 8601.
    pub create_time: String,
    /// `arn:aws:iam::<account>:root`.
    pub created_by: String,
    /// The version launches use when they name none.
    pub default_version_number: i64,
    /// The newest version.
    pub latest_version_number: i64,
    /// The template's tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// One version of a template (`LaunchTemplateVersion`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateVersion {
    /// The template's id.
    pub launch_template_id: String,
    /// The template's name.
    pub launch_template_name: String,
    /// 1, 2, …
    pub version_number: i64,
    /// The description given at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_description: Option<String>,
    /// ISO 8601.
    pub create_time: String,
    /// `arn:aws:iam::<account>:root`.
    pub created_by: String,
    /// Whether it is the template's default version.
    pub default_version: bool,
    /// Its launch settings.
    pub launch_template_data: LaunchTemplateData,
}

/// `CreateLaunchTemplate` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateLaunchTemplateRequest {
    /// 3 to 128 of `a-zA-Z0-9().-/_`.
    pub launch_template_name: String,
    /// Version 1's description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_description: Option<String>,
    /// Version 1's settings.
    pub launch_template_data: LaunchTemplateData,
    /// Tags for the template (`ResourceType=launch-template`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<TagSpecification>,
    /// Idempotency token (taken; each call makes its own template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

/// `CreateLaunchTemplate` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateLaunchTemplateResult {
    /// The new template.
    pub launch_template: LaunchTemplate,
}

/// `CreateLaunchTemplateVersion` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateLaunchTemplateVersionRequest {
    /// The template, by id...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_id: Option<String>,
    /// ... or by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_name: Option<String>,
    /// The version whose settings the new one starts from (then `LaunchTemplateData`
    /// overrides them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// The new version's description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_description: Option<String>,
    /// The new version's settings.
    pub launch_template_data: LaunchTemplateData,
    /// Idempotency token (taken).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

/// `CreateLaunchTemplateVersion` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateLaunchTemplateVersionResult {
    /// The new version.
    pub launch_template_version: LaunchTemplateVersion,
}

/// `DescribeLaunchTemplates` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeLaunchTemplatesRequest {
    /// Only these (each must exist).
    pub launch_template_ids: Vec<String>,
    /// Only these (each must exist).
    pub launch_template_names: Vec<String>,
    /// `launch-template-name`, `create-time`, `tag:<key>`, `tag-key`.
    pub filters: Vec<Filter>,
    /// Taken; every template is on one page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// Taken; every template is on one page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `DescribeLaunchTemplates` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeLaunchTemplatesResult {
    /// The templates.
    pub launch_templates: Vec<LaunchTemplate>,
}

/// `DescribeLaunchTemplateVersions` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeLaunchTemplateVersionsRequest {
    /// The template, by id...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_id: Option<String>,
    /// ... or by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_name: Option<String>,
    /// Version numbers, `$Latest`, `$Default`; all when empty.
    pub versions: Vec<String>,
    /// The lowest version number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    /// The highest version number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
    /// Taken; every version is on one page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// Taken; every version is on one page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `DescribeLaunchTemplateVersions` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeLaunchTemplateVersionsResult {
    /// The versions, newest first (as EC2 lists them).
    pub launch_template_versions: Vec<LaunchTemplateVersion>,
}

/// `ModifyLaunchTemplate` input: the default version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ModifyLaunchTemplateRequest {
    /// The template, by id...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_id: Option<String>,
    /// ... or by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_name: Option<String>,
    /// The new default version number (`--default-version`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_version: Option<String>,
    /// Idempotency token (taken).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

/// The template of `ModifyLaunchTemplate` and `DeleteLaunchTemplate` outputs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateResult {
    /// The template as it is now (or was, when deleted).
    pub launch_template: LaunchTemplate,
}

/// `DeleteLaunchTemplate` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteLaunchTemplateRequest {
    /// The template, by id...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_id: Option<String>,
    /// ... or by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_name: Option<String>,
}
