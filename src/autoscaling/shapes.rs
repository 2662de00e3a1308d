//! Auto Scaling's typed requests and results (botocore's `autoscaling` model, API
//! 2011-01-01), members under the model's names. A member of the model that a shape here
//! leaves out is something ec2lab's Auto Scaling does not do: the request naming it is
//! refused (`ValidationError`, naming it) rather than silently half-served.

use serde::{Deserialize, Serialize};

pub use crate::ec2::shapes::launch_templates::LaunchTemplateSpecification;

/// A group's tag (`Tag` in requests, `TagDescription` in answers).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    /// The group's name (answers; requests may give it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// `auto-scaling-group`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// The key.
    pub key: String,
    /// The value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Whether instances the group launches get the tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagate_at_launch: Option<bool>,
}

/// `CreateAutoScalingGroup` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateAutoScalingGroupType {
    /// 1 to 255 characters, unique in the region.
    pub auto_scaling_group_name: String,
    /// The launch template the group's instances come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplateSpecification>,
    /// The fewest instances.
    pub min_size: i64,
    /// The most instances.
    pub max_size: i64,
    /// How many to keep (default: `MinSize`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_capacity: Option<i64>,
    /// Seconds after a simple scaling activity before the next (default 300).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_cooldown: Option<i64>,
    /// The region's zone (ec2lab's regions have one).
    pub availability_zones: Vec<String>,
    /// `EC2` (the only health check here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_type: Option<String>,
    /// Seconds after launch before an impaired status check counts (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period: Option<i64>,
    /// Subnet ids, comma-separated.
    #[serde(rename = "VPCZoneIdentifier", skip_serializing_if = "Option::is_none")]
    pub vpc_zone_identifier: Option<String>,
    /// `Default`, `NewestInstance` or `OldestInstance` (the first is used).
    pub termination_policies: Vec<String>,
    /// The group's tags.
    pub tags: Vec<Tag>,
}

/// `UpdateAutoScalingGroup` input: unset members stay.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateAutoScalingGroupType {
    /// The group.
    pub auto_scaling_group_name: String,
    /// A new launch template (new instances use it; running ones stay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplateSpecification>,
    /// New minimum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_size: Option<i64>,
    /// New maximum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<i64>,
    /// New desired capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_capacity: Option<i64>,
    /// New default cooldown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_cooldown: Option<i64>,
    /// The region's zone.
    pub availability_zones: Vec<String>,
    /// `EC2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_type: Option<String>,
    /// New grace period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period: Option<i64>,
    /// New subnets.
    #[serde(rename = "VPCZoneIdentifier", skip_serializing_if = "Option::is_none")]
    pub vpc_zone_identifier: Option<String>,
    /// New termination policies.
    pub termination_policies: Vec<String>,
}

/// `SetDesiredCapacity` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SetDesiredCapacityType {
    /// The group.
    pub auto_scaling_group_name: String,
    /// Between the group's minimum and maximum.
    pub desired_capacity: i64,
    /// Refuse during a cooldown (`ScalingActivityInProgress`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honor_cooldown: Option<bool>,
}

/// `DeleteAutoScalingGroup` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteAutoScalingGroupType {
    /// The group.
    pub auto_scaling_group_name: String,
    /// Terminate its instances too; without it a group with instances is `ResourceInUse`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_delete: Option<bool>,
}

/// A name filter of the describe actions (`Filter`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Filter {
    /// `tag-key`, `tag-value` or `tag:<key>`.
    pub name: String,
    /// Any of these.
    pub values: Vec<String>,
}

/// `DescribeAutoScalingGroups` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AutoScalingGroupNamesType {
    /// Only these (names that do not exist are left out, as Auto Scaling does).
    pub auto_scaling_group_names: Vec<String>,
    /// Whether to list instances (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_instances: Option<bool>,
    /// Tag filters.
    pub filters: Vec<Filter>,
    /// Taken; every group is on one page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_records: Option<i64>,
    /// Taken; every group is on one page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// An instance of a group (`Instance`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Instance {
    /// The EC2 instance.
    pub instance_id: String,
    /// Its type.
    pub instance_type: String,
    /// Its zone.
    pub availability_zone: String,
    /// `Pending`, `InService`, `Terminating`.
    pub lifecycle_state: String,
    /// `Healthy` or `Unhealthy`.
    pub health_status: String,
    /// The template version it was launched from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplateSpecification>,
    /// Always false here.
    pub protected_from_scale_in: bool,
}

/// A group (`AutoScalingGroup`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AutoScalingGroup {
    /// Its name.
    pub auto_scaling_group_name: String,
    /// Its ARN.
    #[serde(rename = "AutoScalingGroupARN")]
    pub auto_scaling_group_arn: String,
    /// Its launch template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplateSpecification>,
    /// Minimum.
    pub min_size: i64,
    /// Maximum.
    pub max_size: i64,
    /// Desired capacity.
    pub desired_capacity: i64,
    /// Seconds.
    pub default_cooldown: i64,
    /// The region's zone.
    pub availability_zones: Vec<String>,
    /// `EC2`.
    pub health_check_type: String,
    /// Seconds.
    pub health_check_grace_period: i64,
    /// Its instances.
    pub instances: Vec<Instance>,
    /// ISO 8601.
    pub created_time: String,
    /// Subnet ids, comma-separated.
    #[serde(rename = "VPCZoneIdentifier", skip_serializing_if = "Option::is_none")]
    pub vpc_zone_identifier: Option<String>,
    /// `Delete in progress` while a forced delete terminates its instances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// Termination policies.
    pub termination_policies: Vec<String>,
    /// Always false here.
    pub new_instances_protected_from_scale_in: bool,
}

/// `DescribeAutoScalingGroups` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AutoScalingGroupsType {
    /// The groups.
    pub auto_scaling_groups: Vec<AutoScalingGroup>,
}

/// `DescribeAutoScalingInstances` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeAutoScalingInstancesType {
    /// Only these; every group's instances when empty.
    pub instance_ids: Vec<String>,
    /// Taken; every instance is on one page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_records: Option<i64>,
    /// Taken; every instance is on one page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One instance with its group (`AutoScalingInstanceDetails`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AutoScalingInstanceDetails {
    /// The EC2 instance.
    pub instance_id: String,
    /// Its type.
    pub instance_type: String,
    /// Its group.
    pub auto_scaling_group_name: String,
    /// Its zone.
    pub availability_zone: String,
    /// `Pending`, `InService`, `Terminating`.
    pub lifecycle_state: String,
    /// `HEALTHY` or `UNHEALTHY` (this action's spelling).
    pub health_status: String,
    /// The template version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplateSpecification>,
    /// Always false here.
    pub protected_from_scale_in: bool,
}

/// `DescribeAutoScalingInstances` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AutoScalingInstancesType {
    /// The instances.
    pub auto_scaling_instances: Vec<AutoScalingInstanceDetails>,
}

/// `DescribeScalingActivities` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeScalingActivitiesType {
    /// Only these.
    pub activity_ids: Vec<String>,
    /// Only this group's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group_name: Option<String>,
    /// Also those of deleted groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_deleted_groups: Option<bool>,
    /// At most this many, newest first (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_records: Option<i64>,
    /// Taken; one page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A scaling activity (`Activity`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Activity {
    /// A UUID.
    pub activity_id: String,
    /// The group.
    pub auto_scaling_group_name: String,
    /// What: `Launching a new EC2 instance: i-…`, `Terminating EC2 instance: i-…`.
    pub description: String,
    /// Why, in Auto Scaling's words.
    pub cause: String,
    /// ISO 8601.
    pub start_time: String,
    /// ISO 8601, once it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// `InProgress`, `Successful`, `Failed`, ...
    pub status_code: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// 0 to 100.
    pub progress: i64,
    /// JSON: the subnet and zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// The group's ARN.
    #[serde(
        rename = "AutoScalingGroupARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub auto_scaling_group_arn: Option<String>,
}

/// `DescribeScalingActivities` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ActivitiesType {
    /// Newest first.
    pub activities: Vec<Activity>,
}

/// A step of a step scaling policy (`StepAdjustment`): bounds relative to the alarm's
/// threshold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StepAdjustment {
    /// Inclusive lower bound (none: minus infinity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_interval_lower_bound: Option<f64>,
    /// Exclusive upper bound (none: infinity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_interval_upper_bound: Option<f64>,
    /// The change.
    pub scaling_adjustment: i64,
}

/// `PredefinedMetricSpecification`: ec2lab tracks `ASGAverageCPUUtilization`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PredefinedMetricSpecification {
    /// `ASGAverageCPUUtilization`.
    pub predefined_metric_type: String,
}

/// `TargetTrackingConfiguration`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TargetTrackingConfiguration {
    /// The metric.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predefined_metric_specification: Option<PredefinedMetricSpecification>,
    /// The value to keep the metric at.
    pub target_value: f64,
    /// Never scale in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_scale_in: Option<bool>,
}

/// A CloudWatch alarm a policy is attached to (`Alarm`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Alarm {
    /// Its name.
    pub alarm_name: String,
    /// Its ARN.
    #[serde(rename = "AlarmARN")]
    pub alarm_arn: String,
}

/// `PutScalingPolicy` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutScalingPolicyType {
    /// The group.
    pub auto_scaling_group_name: String,
    /// The policy's name in the group (an existing one is replaced).
    pub policy_name: String,
    /// `SimpleScaling` (the default), `StepScaling` or `TargetTrackingScaling`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_type: Option<String>,
    /// `ChangeInCapacity`, `ExactCapacity` or `PercentChangeInCapacity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjustment_type: Option<String>,
    /// With `PercentChangeInCapacity`: at least this many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_adjustment_magnitude: Option<i64>,
    /// Simple scaling's change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaling_adjustment: Option<i64>,
    /// Simple scaling's cooldown (default: the group's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<i64>,
    /// Step scaling's aggregation (taken: `Average`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_aggregation_type: Option<String>,
    /// Step scaling's steps.
    pub step_adjustments: Vec<StepAdjustment>,
    /// Seconds a new instance does not count toward the metric (taken).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_instance_warmup: Option<i64>,
    /// Target tracking's configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_tracking_configuration: Option<TargetTrackingConfiguration>,
    /// Whether alarms may run it (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `PutScalingPolicy` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PolicyARNType {
    /// The policy's ARN: name it in an alarm's actions.
    #[serde(rename = "PolicyARN")]
    pub policy_arn: String,
    /// The alarms target tracking created.
    pub alarms: Vec<Alarm>,
}

/// A policy (`ScalingPolicy`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingPolicy {
    /// The group.
    pub auto_scaling_group_name: String,
    /// Its name.
    pub policy_name: String,
    /// Its ARN.
    #[serde(rename = "PolicyARN")]
    pub policy_arn: String,
    /// `SimpleScaling`, `StepScaling`, `TargetTrackingScaling`.
    pub policy_type: String,
    /// Simple and step scaling's adjustment type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjustment_type: Option<String>,
    /// With `PercentChangeInCapacity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_adjustment_magnitude: Option<i64>,
    /// Simple scaling's change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaling_adjustment: Option<i64>,
    /// Simple scaling's cooldown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<i64>,
    /// Step scaling's steps.
    pub step_adjustments: Vec<StepAdjustment>,
    /// Step scaling's aggregation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_aggregation_type: Option<String>,
    /// Warm-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_instance_warmup: Option<i64>,
    /// The alarms that run it (target tracking's own, or those naming its ARN).
    pub alarms: Vec<Alarm>,
    /// Target tracking's configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_tracking_configuration: Option<TargetTrackingConfiguration>,
    /// Whether alarms may run it.
    pub enabled: bool,
}

/// `DescribePolicies` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribePoliciesType {
    /// Only this group's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group_name: Option<String>,
    /// Only these names or ARNs.
    pub policy_names: Vec<String>,
    /// Only these types.
    pub policy_types: Vec<String>,
    /// Taken; one page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_records: Option<i64>,
    /// Taken; one page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `DescribePolicies` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PoliciesType {
    /// The policies.
    pub scaling_policies: Vec<ScalingPolicy>,
}

/// `DeletePolicy` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeletePolicyType {
    /// The group (not needed with an ARN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group_name: Option<String>,
    /// The policy's name or ARN.
    pub policy_name: String,
}

/// `ExecutePolicy` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecutePolicyType {
    /// The group (not needed with an ARN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group_name: Option<String>,
    /// The policy's name or ARN.
    pub policy_name: String,
    /// Refuse during the cooldown (`ScalingActivityInProgress`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honor_cooldown: Option<bool>,
    /// Step scaling: the metric's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_value: Option<f64>,
    /// Step scaling: the alarm's threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breach_threshold: Option<f64>,
}
