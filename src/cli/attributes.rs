//! The instance attribute and status verbs, shaped like `aws ec2`'s:
//! describe-instance-attribute, modify-instance-attribute, describe-instance-status.

use clap::Args;
use serde_json::Value;

use super::ctx::{filters_from, to_json, Ctx, Failure};
use super::shorthand;
use crate::ec2::shapes::instance_attributes::{
    AttributeValue, BlobAttributeValue, DescribeInstanceAttributeRequest,
    ModifyInstanceAttributeRequest,
};
use crate::ec2::shapes::instance_status::DescribeInstanceStatusRequest;
use crate::ec2::shapes::maintenance::ModifyInstanceMaintenanceOptionsRequest;
use crate::instances;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab describe-instance-attribute --instance-id i-… --attribute instanceType\n  \
  ec2lab describe-instance-attribute --instance-id i-… --attribute userData --query UserData.Value --output text | base64 -d\n\n\
  Attributes: instanceType, userData (base64, as EC2 returns it), groupSet, rootDeviceName,\n  \
  blockDeviceMapping, disableApiTermination, disableApiStop, instanceInitiatedShutdownBehavior,\n  \
  ebsOptimized, enaSupport, sourceDestCheck, kernel, ramdisk.")]
/// Describe one attribute of an instance.
pub struct DescribeInstanceAttribute {
    /// The instance.
    #[arg(long)]
    pub instance_id: String,
    /// The attribute, e.g. instanceType or userData.
    #[arg(long)]
    pub attribute: String,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab modify-instance-attribute --instance-id i-… --groups sg-1 sg-2\n  \
  ec2lab modify-instance-attribute --instance-id i-… --instance-type Value=t2.small\n  \
  ec2lab modify-instance-attribute --instance-id i-… --attribute instanceType --value t2.small\n  \
  ec2lab modify-instance-attribute --instance-id i-… --user-data file://setup.sh\n\n\
  One attribute per call, as on EC2. --groups replaces the security groups of the instance's\n\
  interface at once; the instance type and the user data change only while the instance is\n\
  stopped (IncorrectInstanceState otherwise) and apply from its next start. --user-data takes\n\
  Value=BASE64 (as the aws CLI), or file://PATH or fileb://PATH (the file itself).")]
/// Change an instance's security groups, instance type or user data.
pub struct ModifyInstanceAttribute {
    /// The instance.
    #[arg(long)]
    pub instance_id: String,
    /// Its new groups, replacing the old.
    #[arg(long, num_args = 1..)]
    pub groups: Vec<String>,
    /// Its new type (stopped instances): Value=TYPE, or TYPE.
    #[arg(long)]
    pub instance_type: Option<String>,
    /// Its new user data (stopped instances): Value=BASE64, file://PATH or fileb://PATH.
    #[arg(long)]
    pub user_data: Option<String>,
    /// The attribute to set with --value: instanceType or userData (base64).
    #[arg(long, requires = "value")]
    pub attribute: Option<String>,
    /// The new value of --attribute.
    #[arg(long, requires = "attribute")]
    pub value: Option<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab describe-instance-status --instance-ids i-…\n  \
  ec2lab describe-instance-status --include-all-instances --filters Name=instance-status.status,Values=impaired\n\n\
  SystemStatus is ok while the instance's VMM runs; InstanceStatus is ok once the guest has\n\
  printed its ready marker, impaired when its user data failed or a program crashed\n\
  (describe-instances shows why: Ec2LabInfo.GuestStatus).")]
/// Describe the status checks of instances (running ones unless --include-all-instances).
pub struct DescribeInstanceStatus {
    /// Only these instances.
    #[arg(long, num_args = 1..)]
    pub instance_ids: Vec<String>,
    /// Filters: Name=instance-state-name|instance-state-code|availability-zone|
    /// instance-status.status|instance-status.reachability|system-status.status|
    /// system-status.reachability,Values=…
    #[arg(long, num_args = 1..)]
    pub filters: Vec<String>,
    /// Also instances that are not running.
    #[arg(long)]
    pub include_all_instances: bool,
}

/// describe-instance-attribute.
pub fn describe_instance_attribute(
    ctx: &Ctx,
    a: DescribeInstanceAttribute,
) -> Result<Value, Failure> {
    let req = DescribeInstanceAttributeRequest {
        instance_id: a.instance_id,
        attribute: a.attribute,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&instances::describe_instance_attribute(
        &ctx.tidy_store()?,
        &req,
    )?)
}

/// The `Value` of a structure parameter given as shorthand or JSON (`Value=t2.small`,
/// `{"Value": "t2.small"}`), or the plain value.
fn wrapped_value(param: &str, raw: &str) -> Result<String, Failure> {
    let t = raw.trim_start();
    if !t.starts_with('{') && !t.starts_with("Value=") {
        return Ok(raw.to_string());
    }
    let v = shorthand::parse_param(param, raw)?;
    v.get("Value")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Failure::Param(format!("Error parsing parameter '{param}': give Value=…")))
}

/// `--user-data`: base64 text, as the service takes it.
fn user_data(raw: &str) -> Result<String, Failure> {
    use base64ct::{Base64, Encoding};
    if raw.starts_with("file://") || raw.starts_with("fileb://") {
        let file = raw.replacen("file://", "fileb://", 1);
        let bytes = shorthand::load_param(&file)
            .map_err(|e| e.with_param("--user-data"))?
            .into_bytes();
        return Ok(Base64::encode_string(&bytes));
    }
    wrapped_value("--user-data", raw)
}

/// modify-instance-attribute: prints nothing.
pub fn modify_instance_attribute(ctx: &Ctx, a: ModifyInstanceAttribute) -> Result<Value, Failure> {
    let req = ModifyInstanceAttributeRequest {
        instance_id: a.instance_id,
        attribute: a.attribute,
        value: a.value,
        instance_type: a
            .instance_type
            .map(|t| wrapped_value("--instance-type", &t).map(AttributeValue::of))
            .transpose()?,
        user_data: a
            .user_data
            .map(|u| user_data(&u).map(|v| BlobAttributeValue { value: Some(v) }))
            .transpose()?,
        groups: a.groups,
    };
    ctx.answer_dry_run(&req)?;
    instances::modify_instance_attribute(&mut ctx.tidy_store()?, &req)?;
    Ok(Value::Null)
}

/// describe-instance-status.
pub fn describe_instance_status(ctx: &Ctx, a: DescribeInstanceStatus) -> Result<Value, Failure> {
    let req = DescribeInstanceStatusRequest {
        filters: filters_from(&a.filters)?,
        instance_ids: a.instance_ids,
        include_all_instances: a.include_all_instances.then_some(true),
        ..Default::default()
    };
    ctx.answer_dry_run(&req)?;
    to_json(&instances::describe_instance_status(
        &mut ctx.store()?,
        &req,
    )?)
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab modify-instance-maintenance-options --instance-id i-… --auto-recovery disabled\n  \
  ec2lab modify-instance-maintenance-options --instance-id i-… --auto-recovery default\n\n\
  With the default, a running instance whose VMM fails (killed, or the VMM itself erred)\n  \
  stays running with its system status check impaired, and gets a new VMM for the same\n  \
  instance (same id, disks and addresses) after EC2LAB_AUTO_RECOVERY_SECS (60 s). With\n  \
  disabled it stays impaired until you stop, reboot or terminate it.")]
/// Turn simplified automatic recovery of an instance on (default) or off (disabled).
pub struct ModifyInstanceMaintenanceOptions {
    /// The instance.
    #[arg(long)]
    pub instance_id: String,
    /// default or disabled.
    #[arg(long)]
    pub auto_recovery: Option<String>,
}

/// modify-instance-maintenance-options.
pub fn modify_instance_maintenance_options(
    ctx: &Ctx,
    a: ModifyInstanceMaintenanceOptions,
) -> Result<Value, Failure> {
    let req = ModifyInstanceMaintenanceOptionsRequest {
        instance_id: a.instance_id,
        auto_recovery: a.auto_recovery,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&instances::maintenance::modify_maintenance_options(
        &mut ctx.tidy_store()?,
        &req,
    )?)
}
