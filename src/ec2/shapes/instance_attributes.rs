//! Instance attributes: DescribeInstanceAttribute and ModifyInstanceAttribute.

use serde::{Deserialize, Serialize};

use super::instances::{GroupIdentifier, InstanceBlockDeviceMapping};

/// A text attribute's value (`{"Value": …}`), as EC2 wraps every attribute.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AttributeValue {
    /// The value; absent when the attribute has none (user data of an instance without).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl AttributeValue {
    /// A wrapped value.
    pub fn of(v: impl Into<String>) -> Self {
        AttributeValue {
            value: Some(v.into()),
        }
    }
}

/// A yes/no attribute's value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AttributeBooleanValue {
    /// The value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<bool>,
}

impl AttributeBooleanValue {
    /// A wrapped value.
    pub fn of(v: bool) -> Self {
        AttributeBooleanValue { value: Some(v) }
    }
}

/// `DescribeInstanceAttribute` input: one attribute of one instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInstanceAttributeRequest {
    /// The instance.
    pub instance_id: String,
    /// EC2's attribute name: `instanceType`, `userData`, `groupSet`, `rootDeviceName`,
    /// `blockDeviceMapping`, `disableApiTermination`, `disableApiStop`,
    /// `instanceInitiatedShutdownBehavior`, `ebsOptimized`, `enaSupport`,
    /// `sourceDestCheck`, `kernel` or `ramdisk`.
    pub attribute: String,
}

/// `DescribeInstanceAttribute` output: the instance and the one attribute asked for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceAttribute {
    /// The instance.
    pub instance_id: String,
    /// `instanceType`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<AttributeValue>,
    /// `userData`: base64, as EC2 returns it; no value when the instance has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<AttributeValue>,
    /// `groupSet`: the groups of the primary interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupIdentifier>>,
    /// `rootDeviceName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_device_name: Option<AttributeValue>,
    /// `blockDeviceMapping`: the attached EBS volumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_device_mappings: Option<Vec<InstanceBlockDeviceMapping>>,
    /// `disableApiTermination`: ec2lab has no termination protection (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_api_termination: Option<AttributeBooleanValue>,
    /// `disableApiStop`: ec2lab has no stop protection (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_api_stop: Option<AttributeBooleanValue>,
    /// `instanceInitiatedShutdownBehavior`: a guest that powers off is stopped (`stop`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_initiated_shutdown_behavior: Option<AttributeValue>,
    /// `ebsOptimized`: false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ebs_optimized: Option<AttributeBooleanValue>,
    /// `enaSupport`: false (the guest has virtio-net).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ena_support: Option<AttributeBooleanValue>,
    /// `sourceDestCheck`: true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_dest_check: Option<AttributeBooleanValue>,
    /// `kernel`: none (HVM; the AMI carries its kernel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_id: Option<AttributeValue>,
    /// `ramdisk`: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ramdisk_id: Option<AttributeValue>,
}

/// `UserData` of `ModifyInstanceAttribute`: a blob, base64 text here as on the wire.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BlobAttributeValue {
    /// The user data, base64-encoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `ModifyInstanceAttribute` input: one change per call, as on EC2. The instance type and
/// the user data change only while the instance is stopped; the groups at once.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ModifyInstanceAttributeRequest {
    /// The instance.
    pub instance_id: String,
    /// The older form: an attribute name (`instanceType` or `userData`) with `Value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// The new value of `Attribute` (user data base64-encoded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A new instance type (the instance must be stopped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<AttributeValue>,
    /// New user data, base64 (the instance must be stopped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<BlobAttributeValue>,
    /// New security groups of the primary interface, replacing the old.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}
