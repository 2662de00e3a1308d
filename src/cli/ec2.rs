//! The `aws ec2`-shaped verbs: parse flags the way the AWS CLI does, call the control
//! plane, print AWS-shaped output, and fail the way the AWS CLI fails.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::ctx::{filters_from, tag_specifications, to_json, Ctx, Failure};
use super::shorthand;
use crate::ec2::shapes::images::{
    CopyImageRequest, CreateImageRequest, DeregisterImageRequest, DescribeImagesRequest,
    RegisterImageRequest,
};
use crate::ec2::shapes::instances::{
    BlockDeviceMapping, DescribeInstanceTypesRequest, DescribeInstancesRequest, EbsBlockDevice,
    GetConsoleOutputRequest, InstanceMetadataOptionsRequest, InstanceNetworkInterfaceSpecification,
    LaunchPlacement, ModifyInstanceMetadataOptionsRequest, MonitorInstancesRequest,
    RebootInstancesRequest, RunInstancesMonitoringEnabled, RunInstancesRequest,
    StartInstancesRequest, StopInstancesRequest, TerminateInstancesRequest,
};
use crate::images;
use crate::instances::{self, types, Waiter};
use crate::store::Store;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab run-instances --image-id ami-0123456789abcdef0 --instance-type t2.micro\n  \
  ec2lab run-instances --image-id ami-0123456789abcdef0 --instance-type t3.small --count 2 \\\n      \
  --tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=web}]' --user-data file://setup.sh\n\n\
  The instance starts as 'pending' and becomes 'running' once its kernel has started init;\n  \
  `ec2lab wait instance-running --instance-ids i-…` waits for that. `describe-images` lists AMIs.")]
/// Launch instances from an AMI.
pub struct RunInstances {
    /// The AMI to launch (see describe-images); needed unless the launch template has one
    /// (EC2's MissingParameter otherwise).
    #[arg(long)]
    pub image_id: Option<String>,
    /// Instance type: vCPUs and memory of the guest (see describe-instance-types); default
    /// the launch template's, else t2.micro.
    #[arg(long)]
    pub instance_type: Option<String>,
    /// A launch template, e.g. 'LaunchTemplateName=web,Version=2' or
    /// 'LaunchTemplateId=lt-0123456789abcdef0' (Version: a number, $Latest or $Default,
    /// the default); the other flags override its settings.
    #[arg(long)]
    pub launch_template: Option<String>,
    /// How many: N, or MIN:MAX to launch as many as fit but at least MIN.
    #[arg(long, default_value = "1")]
    pub count: String,
    /// Key pair whose public key the instance receives.
    #[arg(long)]
    pub key_name: Option<String>,
    /// Security groups of the instance's network interface.
    #[arg(long, num_args = 1..)]
    pub security_group_ids: Vec<String>,
    /// Subnet to launch into.
    #[arg(long)]
    pub subnet_id: Option<String>,
    /// User data: text, or file://PATH (fileb://PATH for binary); at most 16 KiB.
    #[arg(long)]
    pub user_data: Option<String>,
    /// Block devices, e.g. 'DeviceName=/dev/xvda,Ebs={VolumeSize=8,DeleteOnTermination=false}'
    /// or 'DeviceName=/dev/xvda,Ebs={VolumeType=io2,Iops=4000}'.
    #[arg(long, num_args = 1..)]
    pub block_device_mappings: Vec<String>,
    /// Where to launch, e.g. 'AvailabilityZone=lab-1a' (the region's one zone).
    #[arg(long)]
    pub placement: Option<String>,
    /// Tags, e.g. 'ResourceType=instance,Tags=[{Key=Name,Value=web}]'.
    #[arg(long, num_args = 1..)]
    pub tag_specifications: Vec<String>,
    /// Give the instance a public address (default: on in the default subnet).
    #[arg(long, overrides_with = "no_associate_public_ip_address")]
    pub associate_public_ip_address: bool,
    /// Launch without a public address.
    #[arg(long)]
    pub no_associate_public_ip_address: bool,
    /// Instance metadata service options, e.g. 'HttpTokens=required' (IMDSv2 only),
    /// 'HttpEndpoint=disabled', 'HttpPutResponseHopLimit=2'.
    #[arg(long)]
    pub metadata_options: Option<String>,
    /// Detailed monitoring: 'Enabled=true' (10-second CPUUtilization and the rest in
    /// CloudWatch) or 'Enabled=false' (basic: one point per 5 minutes).
    #[arg(long)]
    pub monitoring: Option<String>,
    /// Automatic recovery: 'AutoRecovery=default' (a failed VMM is replaced) or
    /// 'AutoRecovery=disabled'.
    #[arg(long)]
    pub maintenance_options: Option<String>,
    /// 'Configured=true': the instance can hibernate (stop-instances --hibernate keeps its
    /// memory beside its root volume, start-instances resumes from it).
    #[arg(long)]
    pub hibernation_options: Option<String>,
    /// ec2lab's own: boot the AMI instead of starting from its warm-launch template (the
    /// memory of the AMI's first boot, restored in well under a second; see README, "Warm
    /// launches"). Also EC2LAB_WARM=0 for every launch.
    #[arg(long)]
    pub no_warm: bool,
    /// Spot rather than on-demand: `MarketType=spot,SpotOptions={MaxPrice=0.01,
    /// SpotInstanceType=one-time|persistent,InstanceInterruptionBehavior=terminate|stop|hibernate}`.
    #[arg(long)]
    pub instance_market_options: Option<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab modify-instance-metadata-options --instance-id i-0123456789abcdef0 --http-tokens required\n  \
  ec2lab modify-instance-metadata-options --instance-id i-0123456789abcdef0 --http-endpoint disabled\n\n\
  With --http-tokens required the guest must first PUT /latest/api/token (IMDSv2); plain GETs\n  \
  get 401. The change applies to the next request, also on a running instance.")]
/// Change how the instance metadata service (169.254.169.254) answers an instance.
pub struct ModifyInstanceMetadataOptions {
    /// The instance.
    #[arg(long)]
    pub instance_id: String,
    /// optional (IMDSv1 and v2) or required (v2 session tokens only).
    #[arg(long)]
    pub http_tokens: Option<String>,
    /// enabled or disabled.
    #[arg(long)]
    pub http_endpoint: Option<String>,
    /// 1 to 64 (recorded; every guest is one hop from the service here).
    #[arg(long)]
    pub http_put_response_hop_limit: Option<i64>,
}

/// Instance ids, as most instance verbs take them.
#[derive(Args, Debug)]
pub struct InstanceIds {
    /// One or more instance ids (i-…).
    #[arg(long, num_args = 1.., required = true)]
    pub instance_ids: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  ec2lab describe-instances\n  \
  ec2lab describe-instances --instance-ids i-0123456789abcdef0\n  \
  ec2lab describe-instances --filters Name=instance-state-name,Values=running,stopped\n  \
  ec2lab describe-instances --filters 'Name=tag:Name,Values=web*' --output table")]
/// Describe instances (terminated ones stay visible for an hour).
pub struct DescribeInstances {
    /// One or more instance ids (i-…).
    #[arg(long, num_args = 1..)]
    pub instance_ids: Vec<String>,
    /// Filters: Name=instance-state-name|instance-state-code|instance-id|instance-type|image-id|
    /// reservation-id|key-name|subnet-id|vpc-id|private-ip-address|ip-address|tag:KEY|tag-key|
    /// tag-value,Values=V1,V2
    #[arg(long, num_args = 1..)]
    pub filters: Vec<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab stop-instances --instance-ids i-0123456789abcdef0\n\n\
  The guest is asked to shut down (Ctrl-Alt-Del) and is stopped hard if it has not powered off\n\
  within EC2LAB_STOP_TIMEOUT_SECS (180 s); --force stops it hard at once. Its root disk is kept."
)]
/// Stop running instances (their root disks are kept).
pub struct StopInstances {
    /// The instances.
    #[command(flatten)]
    pub ids: InstanceIds,
    /// Stop at once without a graceful shutdown (data not yet flushed by the guest is lost).
    #[arg(long)]
    pub force: bool,
    /// Hibernate: keep the memory (processes, open files) and resume from it at the next
    /// start; only for instances launched with --hibernation-options Configured=true.
    #[arg(long, conflicts_with = "force")]
    pub hibernate: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab get-console-output --instance-id i-0123456789abcdef0 --output text"
)]
/// Show an instance's console output (the last 64 KiB).
pub struct GetConsoleOutput {
    /// The instance.
    #[arg(long)]
    pub instance_id: String,
    /// Accepted for compatibility: the output is always the latest.
    #[arg(long)]
    pub latest: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ec2lab describe-instance-types\n  ec2lab describe-instance-types --instance-types t2.micro m5d.large --output table"
)]
/// Describe instance types: vCPUs, memory, instance store.
pub struct DescribeInstanceTypes {
    /// Only these types (default: all).
    #[arg(long, num_args = 1..)]
    pub instance_types: Vec<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ec2lab describe-images\n  ec2lab describe-images --image-ids ami-0123456789abcdef0\n  \
  ec2lab describe-images --filters 'Name=name,Values=ec2lab-*'\n\n\
  The image guest-images/build.sh builds is registered as the quick-start AMI 'ec2lab-linux'."
)]
/// Describe AMIs.
pub struct DescribeImages {
    /// Only these AMIs (ami-…).
    #[arg(long, num_args = 1..)]
    pub image_ids: Vec<String>,
    /// Accepted for compatibility (self, amazon, an account id): all AMIs here are local.
    #[arg(long, num_args = 1..)]
    pub owners: Vec<String>,
    /// Filters: Name=name|image-id|state|architecture,Values=…
    #[arg(long, num_args = 1..)]
    pub filters: Vec<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab register-image --name my-linux --kernel-file vmlinux --root-image-file rootfs.ext4\n\n\
  The files are copied (sparse) into the AMI, which never changes afterwards."
)]
/// Register an AMI from a kernel and a root disk image.
pub struct RegisterImage {
    /// The AMI's name: 3-128 letters, numbers, spaces and ()[]./-'@_.
    #[arg(long)]
    pub name: String,
    /// The AMI's description.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Guest kernel (ELF vmlinux or bzImage).
    #[arg(long)]
    pub kernel_file: PathBuf,
    /// Root disk image (raw, e.g. ext4).
    #[arg(long)]
    pub root_image_file: PathBuf,
    /// Optional initial ramdisk.
    #[arg(long)]
    pub initrd_file: Option<PathBuf>,
    /// x86_64 or arm64.
    #[arg(long, default_value = "x86_64")]
    pub architecture: String,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ec2lab create-image --instance-id i-0123456789abcdef0 --name web-v1\n  \
  ec2lab create-image --instance-id i-0123456789abcdef0 --name web-v2 --no-reboot\n\n\
  Without --no-reboot a running instance is shut down, copied and started again (a clean\n\
  file system); with it, its vCPUs are paused for the copy (crash-consistent)."
)]
/// Create an AMI from an instance's root disk.
pub struct CreateImage {
    /// The instance whose root disk becomes the AMI.
    #[arg(long)]
    pub instance_id: String,
    /// The AMI's name.
    #[arg(long)]
    pub name: String,
    /// The AMI's description.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Do not shut the instance down: pause it for a crash-consistent copy.
    #[arg(long)]
    pub no_reboot: bool,
    /// Tags for the AMI, e.g. 'ResourceType=image,Tags=[{Key=Name,Value=web-v1}]'.
    #[arg(long, num_args = 1..)]
    pub tag_specifications: Vec<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab --region lab-2 copy-image --source-region lab-1 --source-image-id ami-0123456789abcdef0 --name web-v1\n\n\
  A region is a separate state root under --state-dir; --region names the destination."
)]
/// Copy an AMI from another region into this one.
pub struct CopyImage {
    /// The AMI in the source region.
    #[arg(long)]
    pub source_image_id: String,
    /// The region to copy from.
    #[arg(long)]
    pub source_region: String,
    /// The copy's name.
    #[arg(long)]
    pub name: String,
    /// The copy's description (default: the source's).
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab deregister-image --image-id ami-0123456789abcdef0\n\n\
  Instances already launched from it keep running."
)]
/// Deregister an AMI.
pub struct DeregisterImage {
    /// The AMI.
    #[arg(long)]
    pub image_id: String,
}

/// What `wait` waits for.
#[derive(Subcommand, Debug)]
pub enum WaitWhat {
    /// Wait until the instances are running (their guests have started init; how their
    /// programs fare after that is in describe-instances, Ec2LabInfo.GuestStatus).
    InstanceRunning(WaitArgs),
    /// Wait until the instances are stopped.
    InstanceStopped(WaitArgs),
    /// Wait until the instances are terminated.
    InstanceTerminated(WaitArgs),
}

/// The instances to wait for, and for how long.
#[derive(Args, Debug)]
pub struct WaitArgs {
    /// The instances.
    #[command(flatten)]
    pub ids: InstanceIds,
    /// Give up after this many seconds (the AWS CLI waits 40 x 15 s).
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
}

fn parse_count(s: &str) -> Result<(i64, i64), Failure> {
    let bad = || {
        Failure::Param(format!(
            "Error parsing parameter '--count': expected N or MIN:MAX, got '{s}'"
        ))
    };
    let n = |t: &str| t.parse::<u32>().map(i64::from).map_err(|_| bad());
    match s.split_once(':') {
        Some((a, b)) => Ok((n(a)?, n(b)?)),
        None => {
            let c = n(s)?;
            Ok((c, c))
        }
    }
}

/// `--block-device-mappings`: shorthand gives strings where the model has numbers and
/// booleans, so members are converted as the aws CLI converts them.
fn block_device_mappings(raw: &[String]) -> Result<Vec<BlockDeviceMapping>, Failure> {
    let list = shorthand::parse_list(raw).map_err(|e| e.with_param("--block-device-mappings"))?;
    Ok(list
        .iter()
        .map(|m| BlockDeviceMapping {
            device_name: m
                .get("DeviceName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            ebs: m.get("Ebs").map(|ebs| EbsBlockDevice {
                volume_size: ebs.get("VolumeSize").and_then(shorthand::as_i64),
                delete_on_termination: ebs.get("DeleteOnTermination").and_then(shorthand::as_bool),
                volume_type: ebs
                    .get("VolumeType")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                iops: ebs.get("Iops").and_then(shorthand::as_i64),
                throughput: ebs.get("Throughput").and_then(shorthand::as_i64),
            }),
        })
        .collect())
}

/// `--placement`, e.g. `AvailabilityZone=lab-1a`: a member ec2lab does not place by
/// (tenancy, placement groups, …) is EC2's `Unsupported`, naming it.
fn placement(raw: &str) -> Result<LaunchPlacement, Failure> {
    let v = shorthand::parse_param("--placement", raw)?;
    Ok(crate::ec2::members::decode(v, "Placement", &[])?)
}

/// A structure flag in shorthand or JSON (`Configured=true`), typed by the EC2 model's
/// `shape`, as the aws CLI reads it.
fn by_model<T: serde::de::DeserializeOwned + serde::Serialize>(
    flag: &str,
    raw: &str,
    shape: &str,
) -> Result<T, Failure> {
    let v = shorthand::parse_param(flag, raw)?;
    let v = super::modelverbs::coerce(crate::ec2::model::Model::get(), shape, v)
        .map_err(|e| Failure::Param(format!("Error parsing parameter '{flag}': {e}")))?;
    Ok(crate::ec2::members::decode(v, shape, &[])?)
}

/// `--metadata-options`, e.g. `HttpTokens=required,HttpPutResponseHopLimit=2`.
fn metadata_options(raw: &str) -> Result<InstanceMetadataOptionsRequest, Failure> {
    let v = shorthand::parse_param("--metadata-options", raw)?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let hop_limit = match v.get("HttpPutResponseHopLimit") {
        Some(h) => Some(shorthand::as_i64(h).ok_or_else(|| {
            Failure::Param(format!(
                "Error parsing parameter '--metadata-options': HttpPutResponseHopLimit must be a number, got {h}"
            ))
        })?),
        None => None,
    };
    Ok(InstanceMetadataOptionsRequest {
        http_tokens: text("HttpTokens"),
        http_put_response_hop_limit: hop_limit,
        http_endpoint: text("HttpEndpoint"),
    })
}

/// `--monitoring`, e.g. `Enabled=true` or `{"Enabled":true}`.
fn monitoring(raw: &str) -> Result<RunInstancesMonitoringEnabled, Failure> {
    let v = shorthand::parse_param("--monitoring", raw)?;
    let enabled = v
        .get("Enabled")
        .and_then(shorthand::as_bool)
        .ok_or_else(|| {
            Failure::Param(format!(
            "Error parsing parameter '--monitoring': Enabled must be true or false, got {raw:?}"
        ))
        })?;
    Ok(RunInstancesMonitoringEnabled { enabled })
}

/// run-instances.
pub fn run_instances(ctx: &Ctx, a: RunInstances) -> Result<Value, Failure> {
    let (min_count, max_count) = parse_count(&a.count)?;
    let user_data = match &a.user_data {
        Some(u) => {
            use base64ct::{Base64, Encoding};
            let bytes = shorthand::load_param(u)
                .map_err(|e| e.with_param("--user-data"))?
                .into_bytes();
            // The model's user data is base64, as the aws CLI sends it.
            Some(Base64::encode_string(&bytes))
        }
        None => None,
    };
    let associate = match (
        a.associate_public_ip_address,
        a.no_associate_public_ip_address,
    ) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    let req = RunInstancesRequest {
        maintenance_options: a
            .maintenance_options
            .as_deref()
            .map(|raw| {
                by_model(
                    "--maintenance-options",
                    raw,
                    "InstanceMaintenanceOptionsRequest",
                )
            })
            .transpose()?,
        hibernation_options: a
            .hibernation_options
            .as_deref()
            .map(|raw| by_model("--hibernation-options", raw, "HibernationOptionsRequest"))
            .transpose()?,
        instance_market_options: a
            .instance_market_options
            .as_deref()
            .map(|raw| {
                by_model(
                    "--instance-market-options",
                    raw,
                    "InstanceMarketOptionsRequest",
                )
            })
            .transpose()?,
        monitoring: a.monitoring.as_deref().map(monitoring).transpose()?,
        block_device_mappings: block_device_mappings(&a.block_device_mappings)?,
        metadata_options: a
            .metadata_options
            .as_deref()
            .map(metadata_options)
            .transpose()?,
        tag_specifications: tag_specifications(&a.tag_specifications)?,
        image_id: a.image_id.unwrap_or_default(),
        instance_type: a.instance_type,
        launch_template: a
            .launch_template
            .as_deref()
            .map(|raw| by_model("--launch-template", raw, "LaunchTemplateSpecification"))
            .transpose()?,
        min_count,
        max_count,
        key_name: a.key_name,
        security_group_ids: a.security_group_ids,
        subnet_id: a.subnet_id,
        user_data,
        network_interfaces: associate
            .map(|p| InstanceNetworkInterfaceSpecification {
                associate_public_ip_address: Some(p),
                device_index: Some(0),
            })
            .into_iter()
            .collect(),
        placement: a.placement.as_deref().map(placement).transpose()?,
        no_warm: a.no_warm,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&instances::run_instances(&mut ctx.store()?, &req)?)
}

/// describe-instances.
pub fn describe_instances(ctx: &Ctx, a: DescribeInstances) -> Result<Value, Failure> {
    let req = DescribeInstancesRequest {
        filters: filters_from(&a.filters)?,
        instance_ids: a.instance_ids,
        ..Default::default()
    };
    ctx.answer_dry_run(&req)?;
    to_json(&instances::describe_instances(&mut ctx.store()?, &req)?)
}

/// describe-instance-types.
pub fn describe_instance_types(ctx: &Ctx, a: DescribeInstanceTypes) -> Result<Value, Failure> {
    let req = DescribeInstanceTypesRequest {
        instance_types: a.instance_types,
        ..Default::default()
    };
    ctx.answer_dry_run(&req)?;
    to_json(&types::describe_instance_types(&req)?)
}

/// describe-images.
pub fn describe_images(ctx: &Ctx, a: DescribeImages) -> Result<Value, Failure> {
    let req = DescribeImagesRequest {
        filters: filters_from(&a.filters)?,
        image_ids: a.image_ids,
        owners: a.owners,
        ..Default::default()
    };
    ctx.answer_dry_run(&req)?;
    to_json(&images::describe_images(&mut ctx.store()?, &req)?)
}

/// register-image.
pub fn register_image(ctx: &Ctx, a: RegisterImage) -> Result<Value, Failure> {
    let req = RegisterImageRequest {
        name: a.name,
        description: a.description,
        architecture: a.architecture,
        kernel_file: a.kernel_file,
        root_image_file: a.root_image_file,
        initrd_file: a.initrd_file,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&images::register_image(&mut ctx.store()?, &req)?)
}

/// create-image.
pub fn create_image(ctx: &Ctx, a: CreateImage) -> Result<Value, Failure> {
    let req = CreateImageRequest {
        instance_id: a.instance_id,
        name: a.name,
        description: Some(a.description),
        no_reboot: Some(a.no_reboot),
        tag_specifications: tag_specifications(&a.tag_specifications)?,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&instances::create_image(&mut ctx.tidy_store()?, &req)?)
}

/// copy-image: `--region` is the destination.
pub fn copy_image(ctx: &Ctx, a: CopyImage) -> Result<Value, Failure> {
    let req = CopyImageRequest {
        source_image_id: a.source_image_id,
        source_region: a.source_region,
        name: a.name,
        description: a.description,
    };
    ctx.answer_dry_run(&req)?;
    let source = Store::open(&ctx.state_dir, &req.source_region)?;
    to_json(&images::copy_image(&mut ctx.store()?, &source, &req)?)
}

/// deregister-image: prints nothing.
pub fn deregister_image(ctx: &Ctx, a: DeregisterImage) -> Result<Value, Failure> {
    let req = DeregisterImageRequest {
        image_id: a.image_id,
    };
    ctx.answer_dry_run(&req)?;
    images::deregister_image(&mut ctx.store()?, &req)?;
    Ok(Value::Null)
}

/// The lifecycle verbs that take a list of instance ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// start-instances.
    Start,
    /// stop-instances (`force`: without a graceful shutdown).
    Stop {
        /// Stop at once.
        force: bool,
        /// Keep the memory.
        hibernate: bool,
    },
    /// reboot-instances: prints nothing.
    Reboot,
    /// terminate-instances.
    Terminate,
}

/// monitor-instances (`enable`) and unmonitor-instances.
pub fn monitoring_verb(
    ctx: &Ctx,
    enable: bool,
    instance_ids: Vec<String>,
) -> Result<Value, Failure> {
    let req = MonitorInstancesRequest { instance_ids };
    ctx.answer_dry_run(&req)?;
    let mut store = ctx.tidy_store()?;
    to_json(&if enable {
        instances::monitor_instances(&mut store, &req)?
    } else {
        instances::unmonitor_instances(&mut store, &req)?
    })
}

/// start-, stop-, reboot- and terminate-instances.
pub fn lifecycle(ctx: &Ctx, verb: Lifecycle, instance_ids: Vec<String>) -> Result<Value, Failure> {
    match verb {
        Lifecycle::Start => {
            let req = StartInstancesRequest { instance_ids };
            ctx.answer_dry_run(&req)?;
            to_json(&instances::start_instances(&mut ctx.tidy_store()?, &req)?)
        }
        Lifecycle::Stop { force, hibernate } => {
            let req = StopInstancesRequest {
                instance_ids,
                force,
                hibernate: hibernate.then_some(true),
            };
            ctx.answer_dry_run(&req)?;
            to_json(&instances::stop_instances(&mut ctx.tidy_store()?, &req)?)
        }
        Lifecycle::Reboot => {
            let req = RebootInstancesRequest { instance_ids };
            ctx.answer_dry_run(&req)?;
            instances::reboot_instances(&mut ctx.tidy_store()?, &req)?;
            Ok(Value::Null)
        }
        Lifecycle::Terminate => {
            let req = TerminateInstancesRequest { instance_ids };
            ctx.answer_dry_run(&req)?;
            to_json(&instances::terminate_instances(
                &mut ctx.tidy_store()?,
                &req,
            )?)
        }
    }
}

/// get-console-output.
pub fn console_output(ctx: &Ctx, a: GetConsoleOutput) -> Result<Value, Failure> {
    let req = GetConsoleOutputRequest {
        instance_id: a.instance_id,
        latest: Some(a.latest),
    };
    ctx.answer_dry_run(&req)?;
    to_json(&instances::console_output(&mut ctx.tidy_store()?, &req)?)
}

/// `wait instance-running|stopped|terminated`: prints nothing.
pub fn wait(ctx: &Ctx, w: WaitWhat) -> Result<Value, Failure> {
    let (waiter, args) = match w {
        WaitWhat::InstanceRunning(a) => (Waiter::Running, a),
        WaitWhat::InstanceStopped(a) => (Waiter::Stopped, a),
        WaitWhat::InstanceTerminated(a) => (Waiter::Terminated, a),
    };
    let mut store = ctx.store()?;
    instances::wait(
        &mut store,
        waiter,
        &args.ids.instance_ids,
        Duration::from_secs(args.timeout_secs),
    )?;
    Ok(Value::Null)
}

/// modify-instance-metadata-options.
pub fn modify_instance_metadata_options(
    ctx: &Ctx,
    a: ModifyInstanceMetadataOptions,
) -> Result<Value, Failure> {
    let req = ModifyInstanceMetadataOptionsRequest {
        instance_id: a.instance_id,
        http_tokens: a.http_tokens,
        http_put_response_hop_limit: a.http_put_response_hop_limit,
        http_endpoint: a.http_endpoint,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&instances::modify_metadata_options(
        &mut ctx.tidy_store()?,
        &req,
    )?)
}
