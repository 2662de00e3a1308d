//! Purchase options: spot requests and the spot price history, Reserved Instances and
//! their offerings (botocore's names).

use serde::{Deserialize, Serialize};

use super::instances::{
    BlockDeviceMapping, InstanceNetworkInterfaceSpecification, RunInstancesMonitoringEnabled,
};
pub use super::instances::{InstanceMarketOptionsRequest, SpotMarketOptions};
use super::{Filter, Tag, TagSpecification};

/// `RequestSpotLaunchSpecification`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestSpotLaunchSpecification {
    /// The AMI.
    pub image_id: String,
    /// The instance type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// The key pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// Security groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<String>,
    /// The subnet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// User data, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// Block devices (the root's size and type).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    /// Interfaces (device 0's public address).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<InstanceNetworkInterfaceSpecification>,
    /// Detailed monitoring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<RunInstancesMonitoringEnabled>,
}

/// `RequestSpotInstances` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestSpotInstancesRequest {
    /// What to launch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_specification: Option<RequestSpotLaunchSpecification>,
    /// Tags for the requests (`ResourceType=spot-instances-request`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<TagSpecification>,
    /// `terminate` (default), `stop` or `hibernate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_interruption_behavior: Option<String>,
    /// The most per hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot_price: Option<String>,
    /// How many (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_count: Option<i64>,
    /// `one-time` or `persistent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// Until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
}

/// `SpotInstanceStatus`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SpotInstanceStatus {
    /// `fulfilled`, `marked-for-termination`, `instance-terminated-no-capacity`, ...
    pub code: String,
    /// What it means.
    pub message: String,
    /// When it was set.
    pub update_time: String,
}

/// `LaunchSpecification` of a spot request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchSpecification {
    /// The AMI.
    pub image_id: String,
    /// The instance type.
    pub instance_type: String,
    /// The key pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// The subnet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
}

/// `SpotInstanceRequest`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SpotInstanceRequest {
    /// `sir-…`.
    pub spot_instance_request_id: String,
    /// The maximum price per hour.
    pub spot_price: String,
    /// `one-time` or `persistent`.
    pub r#type: String,
    /// `open`, `active`, `closed`, `cancelled`, `failed`, `disabled`.
    pub state: String,
    /// Its status.
    pub status: SpotInstanceStatus,
    /// The instance that fulfils it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// What it launches.
    pub launch_specification: LaunchSpecification,
    /// When it was made.
    pub create_time: String,
    /// `Linux/UNIX`.
    pub product_description: String,
    /// The zone it launched in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launched_availability_zone: Option<String>,
    /// Until when it is valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// `terminate`, `stop` or `hibernate`.
    pub instance_interruption_behavior: String,
    /// Its tags.
    pub tags: Vec<Tag>,
}

/// `RequestSpotInstances` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestSpotInstancesResult {
    /// The requests made.
    pub spot_instance_requests: Vec<SpotInstanceRequest>,
}

/// `DescribeSpotInstanceRequests` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeSpotInstanceRequestsRequest {
    /// Only these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spot_instance_request_ids: Vec<String>,
    /// Filters: `state`, `status-code`, `instance-id`, `spot-instance-request-id`, `type`,
    /// `launch.instance-type`, tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
}

/// `DescribeSpotInstanceRequests` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeSpotInstanceRequestsResult {
    /// The requests.
    pub spot_instance_requests: Vec<SpotInstanceRequest>,
}

/// `CancelSpotInstanceRequests` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CancelSpotInstanceRequestsRequest {
    /// The requests to cancel.
    pub spot_instance_request_ids: Vec<String>,
}

/// `CancelledSpotInstanceRequest`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CancelledSpotInstanceRequest {
    /// The request.
    pub spot_instance_request_id: String,
    /// `cancelled`, `closed`, ...
    pub state: String,
}

/// `CancelSpotInstanceRequests` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CancelSpotInstanceRequestsResult {
    /// What each request became.
    pub cancelled_spot_instance_requests: Vec<CancelledSpotInstanceRequest>,
}

/// `DescribeSpotPriceHistory` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeSpotPriceHistoryRequest {
    /// From (default: the history's start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Until (default: now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Only these types.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_types: Vec<String>,
    /// Only these (`Linux/UNIX`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub product_descriptions: Vec<String>,
    /// Only this zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// At most this many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
}

/// `SpotPrice`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SpotPrice {
    /// The zone.
    pub availability_zone: String,
    /// The instance type.
    pub instance_type: String,
    /// `Linux/UNIX`.
    pub product_description: String,
    /// The price per hour, as EC2 writes it (`0.003500`).
    pub spot_price: String,
    /// Since when.
    pub timestamp: String,
}

/// `DescribeSpotPriceHistory` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeSpotPriceHistoryResult {
    /// Newest first, as EC2 answers.
    pub spot_price_history: Vec<SpotPrice>,
}

/// `RecurringCharge`: the hourly fee of a Reserved Instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RecurringCharge {
    /// USD per hour per instance.
    pub amount: f64,
    /// `Hourly`.
    pub frequency: String,
}

/// `DescribeReservedInstancesOfferings` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeReservedInstancesOfferingsRequest {
    /// Only this type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Terms of at most this many seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<i64>,
    /// Terms of at least this many seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_duration: Option<i64>,
    /// `standard` (the only class here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offering_class: Option<String>,
    /// `Linux/UNIX`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_description: Option<String>,
    /// Only these offerings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reserved_instances_offering_ids: Vec<String>,
    /// `No Upfront`, `Partial Upfront` or `All Upfront`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offering_type: Option<String>,
    /// `default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_tenancy: Option<String>,
    /// Marketplace offerings (there are none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_marketplace: Option<bool>,
    /// Filters: `instance-type`, `duration`, `offering-type`, `product-description`,
    /// `reserved-instances-offering-id`, `scope`, `marketplace`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// At most this many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
}

/// `ReservedInstancesOffering`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReservedInstancesOffering {
    /// `USD`.
    pub currency_code: String,
    /// `default`.
    pub instance_tenancy: String,
    /// From the Reserved Instance Marketplace (never here).
    pub marketplace: bool,
    /// `standard`.
    pub offering_class: String,
    /// `No Upfront`, `Partial Upfront`, `All Upfront`.
    pub offering_type: String,
    /// Marketplace price tiers (none).
    pub pricing_details: Vec<serde_json::Value>,
    /// The hourly fee.
    pub recurring_charges: Vec<RecurringCharge>,
    /// `Region`.
    pub scope: String,
    /// Its id.
    pub reserved_instances_offering_id: String,
    /// The instance type.
    pub instance_type: String,
    /// The term in seconds.
    pub duration: i64,
    /// The usage price per hour (0: the fee is a recurring charge).
    pub usage_price: f64,
    /// The upfront price per instance.
    pub fixed_price: f64,
    /// `Linux/UNIX`.
    pub product_description: String,
}

/// `DescribeReservedInstancesOfferings` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeReservedInstancesOfferingsResult {
    /// The offerings.
    pub reserved_instances_offerings: Vec<ReservedInstancesOffering>,
}

/// `PurchaseReservedInstancesOffering` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PurchaseReservedInstancesOfferingRequest {
    /// How many instances.
    pub instance_count: i64,
    /// The offering.
    pub reserved_instances_offering_id: String,
}

/// `PurchaseReservedInstancesOffering` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PurchaseReservedInstancesOfferingResult {
    /// The Reserved Instances bought.
    pub reserved_instances_id: String,
}

/// `DescribeReservedInstances` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeReservedInstancesRequest {
    /// Only these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reserved_instances_ids: Vec<String>,
    /// `standard`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offering_class: Option<String>,
    /// Only this payment option.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offering_type: Option<String>,
    /// Filters: `instance-type`, `state`, `reserved-instances-id`, `duration`,
    /// `offering-type`, `product-description`, `scope`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
}

/// `ReservedInstances`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReservedInstances {
    /// `USD`.
    pub currency_code: String,
    /// `default`.
    pub instance_tenancy: String,
    /// `standard`.
    pub offering_class: String,
    /// The payment option.
    pub offering_type: String,
    /// The hourly fee.
    pub recurring_charges: Vec<RecurringCharge>,
    /// `Region`.
    pub scope: String,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// Its id.
    pub reserved_instances_id: String,
    /// The instance type it covers.
    pub instance_type: String,
    /// When the term began.
    pub start: String,
    /// When it ends.
    pub end: String,
    /// The term in seconds.
    pub duration: i64,
    /// The usage price per hour (0).
    pub usage_price: f64,
    /// The upfront price per instance.
    pub fixed_price: f64,
    /// How many instances.
    pub instance_count: i64,
    /// `Linux/UNIX`.
    pub product_description: String,
    /// `active` or `retired`.
    pub state: String,
}

/// `DescribeReservedInstances` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeReservedInstancesResult {
    /// The Reserved Instances.
    pub reserved_instances: Vec<ReservedInstances>,
}
