//! The `aws ec2`-shaped verbs: parse flags the way the AWS CLI does, call the control
//! plane, print AWS-shaped output, and fail the way the AWS CLI fails.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::ctx::{filters_from, tags_for, Ctx, Failure};
use super::shorthand;
use crate::error::Ec2Error;
use crate::images::{self, Image};
use crate::instances::{self, types, LaunchRequest, Waiter};
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
    /// The AMI to launch (see describe-images).
    #[arg(long)]
    pub image_id: String,
    /// Instance type: vCPUs and memory of the guest (see describe-instance-types).
    #[arg(long, default_value = "t2.micro")]
    pub instance_type: String,
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
    /// Block devices, e.g. 'DeviceName=/dev/xvda,Ebs={VolumeSize=8,DeleteOnTermination=false}'.
    #[arg(long, num_args = 1..)]
    pub block_device_mappings: Vec<String>,
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
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab modify-instance-metadata-options --instance-id i-0123456789abcdef0 --http-tokens required\n  \
  ec2lab modify-instance-metadata-options --instance-id i-0123456789abcdef0 --http-endpoint disabled\n\n\
  With --http-tokens required the guest must first PUT /latest/api/token (IMDSv2); plain GETs\n  \
  get 401. The change applies to the next request, also on a running instance.")]
/// Change how the instance metadata service (169.254.169.254) answers an instance.
pub struct ModifyInstanceMetadataOptions {
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
    #[arg(long, num_args = 1..)]
    pub instance_ids: Vec<String>,
    /// Filters: Name=instance-state-name|instance-id|instance-type|image-id|tag:KEY|tag-key|key-name,Values=V1,V2
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
    #[command(flatten)]
    pub ids: InstanceIds,
    /// Stop at once without a graceful shutdown (data not yet flushed by the guest is lost).
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab get-console-output --instance-id i-0123456789abcdef0 --output text"
)]
/// Show an instance's console output (the last 64 KiB).
pub struct GetConsoleOutput {
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
    #[arg(long)]
    pub name: String,
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
    #[arg(long)]
    pub instance_id: String,
    #[arg(long)]
    pub name: String,
    #[arg(long, default_value = "")]
    pub description: String,
    /// Do not shut the instance down: pause it for a crash-consistent copy.
    #[arg(long)]
    pub no_reboot: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab --region lab-2 copy-image --source-region lab-1 --source-image-id ami-0123456789abcdef0 --name web-v1\n\n\
  A region is a separate state root under --state-dir; --region names the destination."
)]
/// Copy an AMI from another region into this one.
pub struct CopyImage {
    #[arg(long)]
    pub source_image_id: String,
    #[arg(long)]
    pub source_region: String,
    #[arg(long)]
    pub name: String,
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
    #[arg(long)]
    pub image_id: String,
}

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

#[derive(Args, Debug)]
pub struct WaitArgs {
    #[command(flatten)]
    pub ids: InstanceIds,
    /// Give up after this many seconds (the AWS CLI waits 40 x 15 s).
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
}

fn parse_count(s: &str) -> Result<(u32, u32), Failure> {
    let bad = || {
        Failure::Param(format!(
            "Error parsing parameter '--count': expected N or MIN:MAX, got '{s}'"
        ))
    };
    match s.split_once(':') {
        Some((a, b)) => Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?)),
        None => {
            let n = s.parse().map_err(|_| bad())?;
            Ok((n, n))
        }
    }
}

pub fn run_instances(ctx: &Ctx, a: RunInstances) -> Result<Value, Failure> {
    let (min_count, max_count) = parse_count(&a.count)?;
    let user_data = match &a.user_data {
        Some(u) => Some(
            shorthand::load_param(u)
                .map_err(|e| e.with_param("--user-data"))?
                .into_bytes(),
        ),
        None => None,
    };
    let mut root_volume_gib = None;
    let mut root_delete_on_termination = None;
    for m in shorthand::parse_list(&a.block_device_mappings)
        .map_err(|e| e.with_param("--block-device-mappings"))?
    {
        let device = m
            .get("DeviceName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if device != images::ROOT_DEVICE_NAME {
            return Err(Failure::Service(Ec2Error::invalid_parameter(format!(
                "Block device {device:?}: only the root device {} can be set at launch for now",
                images::ROOT_DEVICE_NAME
            ))));
        }
        if let Some(ebs) = m.get("Ebs") {
            root_volume_gib = ebs
                .get("VolumeSize")
                .and_then(shorthand::as_i64)
                .map(|v| v as u64);
            root_delete_on_termination =
                ebs.get("DeleteOnTermination").and_then(shorthand::as_bool);
        }
    }
    let mut metadata_options = instances::MetadataOptions::default();
    if let Some(m) = &a.metadata_options {
        let v = shorthand::parse_param("--metadata-options", m)?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        if let Some(t) = text("HttpTokens") {
            metadata_options.http_tokens = t;
        }
        if let Some(e) = text("HttpEndpoint") {
            metadata_options.http_endpoint = e;
        }
        if let Some(h) = v.get("HttpPutResponseHopLimit") {
            metadata_options.http_put_response_hop_limit = shorthand::as_i64(h).ok_or_else(|| {
                Failure::Param(format!(
                    "Error parsing parameter '--metadata-options': HttpPutResponseHopLimit must be a number, got {h}"
                ))
            })?;
        }
    }
    let req = LaunchRequest {
        metadata_options,
        image_id: a.image_id,
        instance_type: a.instance_type,
        min_count,
        max_count,
        key_name: a.key_name,
        security_group_ids: a.security_group_ids,
        subnet_id: a.subnet_id,
        user_data,
        tags: tags_for(&a.tag_specifications, "instance")?,
        root_volume_gib,
        root_delete_on_termination,
        associate_public_ip: match (
            a.associate_public_ip_address,
            a.no_associate_public_ip_address,
        ) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
    };
    let mut store = ctx.store()?;
    images::ensure_quick_start(&mut store)?;
    instances::housekeeping(&mut store)?;
    Ok(instances::run_instances(&mut store, &req)?)
}

pub fn describe_instances(ctx: &Ctx, a: DescribeInstances) -> Result<Value, Failure> {
    let filters = filters_from(&a.filters)?;
    let mut store = ctx.store()?;
    Ok(instances::describe_instances(
        &mut store,
        &a.instance_ids,
        &filters,
    )?)
}

fn with_store(
    ctx: &Ctx,
    f: impl FnOnce(&mut Store) -> Result<Value, Ec2Error>,
) -> Result<Value, Failure> {
    Ok(f(&mut ctx.tidy_store()?)?)
}

pub fn describe_instance_types(a: DescribeInstanceTypes) -> Result<Value, Failure> {
    let mut out = Vec::new();
    if a.instance_types.is_empty() {
        out.extend(types::TYPES.iter().map(|t| t.describe()));
    }
    for name in &a.instance_types {
        let t = types::find(name).ok_or_else(|| {
            Ec2Error::invalid_parameter(format!(
                "The following supplied instance types do not exist: [{name}]"
            ))
        })?;
        out.push(t.describe());
    }
    Ok(json!({ "InstanceTypes": out }))
}

pub fn describe_images(ctx: &Ctx, a: DescribeImages) -> Result<Value, Failure> {
    let filters = filters_from(&a.filters)?;
    let mut store = ctx.store()?;
    images::ensure_quick_start(&mut store)?;
    let all = Image::all(store.conn())?;
    for id in &a.image_ids {
        if !all.iter().any(|i| &i.image_id == id) {
            return Err(Ec2Error::image_not_found(id).into());
        }
    }
    let mut out = Vec::new();
    for img in all {
        if !a.image_ids.is_empty() && !a.image_ids.contains(&img.image_id) {
            continue;
        }
        let mut keep = true;
        for f in &filters {
            let field = match f.name.as_str() {
                "name" => img.name.clone(),
                "image-id" => img.image_id.clone(),
                "state" => img.state.clone(),
                "architecture" => img.architecture.clone(),
                other => {
                    return Err(Ec2Error::invalid_parameter(format!(
                        "The filter '{other}' is invalid; use name, image-id, state or architecture"
                    ))
                    .into())
                }
            };
            keep &= f.values.iter().any(|p| instances::glob(p, &field));
        }
        if keep {
            out.push(img.describe());
        }
    }
    Ok(json!({ "Images": out }))
}

pub fn register_image(ctx: &Ctx, a: RegisterImage) -> Result<Value, Failure> {
    let mut store = ctx.store()?;
    let img = images::register(
        &mut store,
        &images::Registration {
            name: &a.name,
            description: &a.description,
            architecture: &a.architecture,
            kernel: &a.kernel_file,
            initrd: a.initrd_file.as_deref(),
            root: &a.root_image_file,
            public: false,
            quick_start: false,
            source: "registered from files".into(),
            take_root: false,
        },
    )?;
    Ok(json!({ "ImageId": img.image_id }))
}

pub fn create_image(ctx: &Ctx, a: CreateImage) -> Result<Value, Failure> {
    with_store(ctx, |s| {
        instances::create_image(s, &a.instance_id, &a.name, &a.description, a.no_reboot)
    })
}

pub fn copy_image(ctx: &Ctx, a: CopyImage) -> Result<Value, Failure> {
    let source = Store::open(&ctx.state_dir, &a.source_region)?;
    let mut store = ctx.store()?;
    let img = images::copy_from(
        &mut store,
        &source,
        &a.source_image_id,
        &a.name,
        a.description.as_deref(),
    )?;
    Ok(json!({ "ImageId": img.image_id }))
}

pub fn deregister_image(ctx: &Ctx, a: DeregisterImage) -> Result<Value, Failure> {
    let mut store = ctx.store()?;
    images::deregister(&mut store, &a.image_id)?;
    Ok(Value::Null)
}

pub fn simple(ctx: &Ctx, verb: &str, ids: &[String], force: bool) -> Result<Value, Failure> {
    with_store(ctx, |s| match verb {
        "start" => instances::start_instances(s, ids),
        "stop" => instances::stop_instances(s, ids, force),
        "reboot" => instances::reboot_instances(s, ids),
        _ => instances::terminate_instances(s, ids),
    })
}

pub fn console_output(ctx: &Ctx, a: GetConsoleOutput) -> Result<Value, Failure> {
    with_store(ctx, |s| instances::console_output(s, &a.instance_id))
}

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

pub fn modify_instance_metadata_options(
    ctx: &Ctx,
    a: ModifyInstanceMetadataOptions,
) -> Result<Value, Failure> {
    let mut store = ctx.tidy_store()?;
    Ok(instances::modify_metadata_options(
        &mut store,
        &a.instance_id,
        a.http_tokens.as_deref(),
        a.http_endpoint.as_deref(),
        a.http_put_response_hop_limit,
    )?)
}
