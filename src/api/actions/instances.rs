//! The instance actions: launch, the lifecycle, console output, metadata options, status
//! checks and attributes. Each decodes its typed request, calls the service the CLI calls,
//! and returns the typed result.

use base64ct::{Base64, Encoding};
use serde_json::Value;

use super::{from_request, to_result, ApiCtx};
use crate::ec2::shapes::instance_attributes::{
    DescribeInstanceAttributeRequest, ModifyInstanceAttributeRequest,
};
use crate::ec2::shapes::instance_status::DescribeInstanceStatusRequest;
use crate::ec2::shapes::instances::{
    GetConsoleOutputRequest, ModifyInstanceMetadataOptionsRequest, MonitorInstancesRequest,
    RebootInstancesRequest, RunInstancesRequest, StartInstancesRequest, StopInstancesRequest,
    TerminateInstancesRequest,
};
use crate::ec2::shapes::maintenance::ModifyInstanceMaintenanceOptionsRequest;
use crate::error::Ec2Error;
use crate::instances;

/// `RunInstances` (the service does the housekeeping and registers the quick-start AMI).
pub fn run_instances(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: RunInstancesRequest = from_request(req)?;
    to_result(&instances::run_instances(&mut ctx.store()?, &req)?)
}

/// `StartInstances`.
pub fn start_instances(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: StartInstancesRequest = from_request(req)?;
    to_result(&instances::start_instances(&mut ctx.tidy_store()?, &req)?)
}

/// `StopInstances`.
pub fn stop_instances(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: StopInstancesRequest = from_request(req)?;
    to_result(&instances::stop_instances(&mut ctx.tidy_store()?, &req)?)
}

/// `RebootInstances`: answers `<return>true</return>`.
pub fn reboot_instances(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: RebootInstancesRequest = from_request(req)?;
    instances::reboot_instances(&mut ctx.tidy_store()?, &req)?;
    Ok(Value::Object(Default::default()))
}

/// `TerminateInstances`.
pub fn terminate_instances(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: TerminateInstancesRequest = from_request(req)?;
    to_result(&instances::terminate_instances(
        &mut ctx.tidy_store()?,
        &req,
    )?)
}

/// `GetConsoleOutput`: the Query API sends `Output` base64-encoded, as EC2 does (the aws
/// CLI and boto3 decode it).
pub fn get_console_output(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: GetConsoleOutputRequest = from_request(req)?;
    let mut result = instances::console_output(&mut ctx.tidy_store()?, &req)?;
    result.output = Base64::encode_string(result.output.as_bytes());
    to_result(&result)
}

/// `MonitorInstances`.
pub fn monitor_instances(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: MonitorInstancesRequest = from_request(req)?;
    to_result(&instances::monitor_instances(&mut ctx.tidy_store()?, &req)?)
}

/// `UnmonitorInstances`.
pub fn unmonitor_instances(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: MonitorInstancesRequest = from_request(req)?;
    to_result(&instances::unmonitor_instances(
        &mut ctx.tidy_store()?,
        &req,
    )?)
}

/// `ModifyInstanceMetadataOptions`.
pub fn modify_instance_metadata_options(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: ModifyInstanceMetadataOptionsRequest = from_request(req)?;
    to_result(&instances::modify_metadata_options(
        &mut ctx.tidy_store()?,
        &req,
    )?)
}

/// `ModifyInstanceMaintenanceOptions`.
pub fn modify_instance_maintenance_options(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: ModifyInstanceMaintenanceOptionsRequest = from_request(req)?;
    to_result(&instances::maintenance::modify_maintenance_options(
        &mut ctx.tidy_store()?,
        &req,
    )?)
}

/// `DescribeInstanceStatus` (what the `instance_status_ok` and `system_status_ok` waiters
/// poll).
pub fn describe_instance_status(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: DescribeInstanceStatusRequest = from_request(req)?;
    to_result(&instances::describe_instance_status(
        &mut ctx.store()?,
        &req,
    )?)
}

/// `DescribeInstanceAttribute`.
pub fn describe_instance_attribute(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: DescribeInstanceAttributeRequest = from_request(req)?;
    to_result(&instances::describe_instance_attribute(
        &ctx.tidy_store()?,
        &req,
    )?)
}

/// `ModifyInstanceAttribute`: answers `<return>true</return>`.
pub fn modify_instance_attribute(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: ModifyInstanceAttributeRequest = from_request(req)?;
    instances::modify_instance_attribute(&mut ctx.tidy_store()?, &req)?;
    Ok(Value::Object(Default::default()))
}
