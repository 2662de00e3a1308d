//! The `ec2lab` command line. Verbs mirror `aws ec2` (same names, flags, JSON shapes and
//! error wording); `vmm` is the low-level launcher the instance supervisor runs, one
//! process per guest.

pub mod attributes;
pub mod autoscaling;
pub mod awsflags;
pub mod ce;
pub mod cloudwatch;
pub mod console;
pub mod ctx;
pub mod ebs;
pub mod ec2;
pub mod groups;
pub mod keys;
pub mod lab;
pub mod launch_templates;
pub mod market;
pub mod modelverbs;
pub mod output;
pub mod query;
pub mod serve;
pub mod shorthand;
pub mod sns;
pub mod ssh;
pub mod systemd;
pub mod tags;
pub mod top;
pub mod vmm;
pub mod vpc;

use std::path::PathBuf;

use std::ffi::OsString;

use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::error::EXIT_SERVICE_ERROR;
use crate::net::groups::Direction;
use crate::store::{DEFAULT_REGION, DEFAULT_STATE_DIR};
use awsflags::AwsArgs;
use ctx::{Ctx, Failure};
use ec2::Lifecycle;
use output::OutputFormat;
use query::Query;

/// The command line: global options and one verb.
#[derive(Parser, Debug)]
#[command(
    name = "ec2lab",
    version,
    about = "A small EC2 on one Linux host: AMIs become real KVM micro-VMs",
    long_about = "ec2lab gives one Linux host its own small EC2: AMI disk images become real KVM guests \
                  with an instance lifecycle, instance types and more. Verbs, flags and output follow \
                  `aws ec2`.",
    after_help = "Getting started:\n  \
        guest-images/build.sh                                   # build the quick-start AMI's files\n  \
        ec2lab describe-images                                  # shows ami-… 'ec2lab-linux'\n  \
        ec2lab run-instances --image-id ami-… --instance-type t2.micro\n  \
        ec2lab wait instance-running --instance-ids i-…\n  \
        ec2lab get-console-output --instance-id i-… --output text\n  \
        ec2lab terminate-instances --instance-ids i-…\n\n\
        Low level: ec2lab vmm --kernel guest-images/out/vmlinux --disk guest-images/out/rootfs.ext4"
)]
pub struct Cli {
    /// Where ec2lab keeps its state (SQLite database, AMIs, instance disks).
    #[arg(long, global = true, env = "EC2LAB_STATE_DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Region: a separate state root under --state-dir.
    #[arg(long, global = true, env = "EC2LAB_REGION", default_value = DEFAULT_REGION)]
    pub region: String,
    /// Output format: json, table or text.
    #[arg(long, global = true, env = "EC2LAB_OUTPUT", default_value = "json")]
    pub output: OutputFormat,
    /// A JMESPath query applied to the result before --output formats it, e.g.
    /// 'Reservations[].Instances[].InstanceId'.
    #[arg(long, global = true)]
    pub query: Option<String>,
    /// What the verb's aws CLI flags that ec2lab's own arguments lack say (`--dry-run`,
    /// unsupported ones); filled in by [`main`] from the parsed command line.
    #[arg(skip)]
    pub aws: AwsArgs,
    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs. A variant's help is its argument struct's doc comment, which clap would
/// replace with a doc comment on the variant: so variants with such a struct have none.
#[allow(missing_docs)]
#[derive(Subcommand, Debug)]
pub enum Command {
    RunInstances(ec2::RunInstances),
    DescribeInstances(ec2::DescribeInstances),
    /// Start stopped instances.
    #[command(
        after_help = "Example:\n  ec2lab start-instances --instance-ids i-0123456789abcdef0"
    )]
    StartInstances(ec2::InstanceIds),
    StopInstances(ec2::StopInstances),
    /// Reboot running instances (they stay running; their ids and disks do not change).
    #[command(
        after_help = "Example:\n  ec2lab reboot-instances --instance-ids i-0123456789abcdef0"
    )]
    RebootInstances(ec2::InstanceIds),
    /// Terminate instances: they shut down, their root disks are deleted (DeleteOnTermination).
    #[command(
        after_help = "Example:\n  ec2lab terminate-instances --instance-ids i-0123456789abcdef0\n\n\
        Terminated instances stay visible in describe-instances for an hour."
    )]
    TerminateInstances(ec2::InstanceIds),
    /// Turn on detailed monitoring: 10-second points in CloudWatch (state `pending`, then
    /// `enabled` once the collector takes it on).
    #[command(
        after_help = "Example:\n  ec2lab monitor-instances --instance-ids i-0123456789abcdef0"
    )]
    MonitorInstances(ec2::InstanceIds),
    /// Back to basic monitoring: one point per 5 minutes (state `disabling`, then `disabled`).
    #[command(
        after_help = "Example:\n  ec2lab unmonitor-instances --instance-ids i-0123456789abcdef0"
    )]
    UnmonitorInstances(ec2::InstanceIds),
    GetConsoleOutput(ec2::GetConsoleOutput),
    ConnectSerialConsole(console::ConnectSerialConsole),
    DescribeInstanceTypes(ec2::DescribeInstanceTypes),
    DescribeImages(ec2::DescribeImages),
    RegisterImage(ec2::RegisterImage),
    CreateImage(ec2::CreateImage),
    CopyImage(ec2::CopyImage),
    DeregisterImage(ec2::DeregisterImage),
    CreateVolume(ebs::CreateVolume),
    DescribeVolumes(ebs::DescribeVolumes),
    AttachVolume(ebs::AttachVolume),
    DetachVolume(ebs::DetachVolume),
    DeleteVolume(ebs::VolumeId),
    ModifyVolume(ebs::ModifyVolume),
    CreateSnapshot(ebs::CreateSnapshot),
    DescribeSnapshots(ebs::DescribeSnapshots),
    DeleteSnapshot(ebs::DeleteSnapshot),
    CreateKeyPair(keys::CreateKeyPair),
    ImportKeyPair(keys::ImportKeyPair),
    DescribeKeyPairs(keys::DescribeKeyPairs),
    DeleteKeyPair(keys::DeleteKeyPair),
    Ssh(ssh::SshArgs),
    /// Ready-made labs; `lab httpd` runs the classic EC2 web server lab end to end.
    Lab(lab::LabArgs),
    CreateVpc(vpc::CreateVpc),
    DescribeVpcs(vpc::DescribeVpcs),
    DeleteVpc(vpc::DeleteVpc),
    CreateSubnet(vpc::CreateSubnet),
    DescribeSubnets(vpc::DescribeSubnets),
    DeleteSubnet(vpc::DeleteSubnet),
    CreateSecurityGroup(groups::CreateSecurityGroup),
    DescribeSecurityGroups(groups::DescribeSecurityGroups),
    DeleteSecurityGroup(groups::DeleteSecurityGroup),
    AuthorizeSecurityGroupIngress(groups::RuleArgs),
    /// Allow outbound traffic (same flags as authorize-security-group-ingress).
    AuthorizeSecurityGroupEgress(groups::RuleArgs),
    /// Remove an inbound rule (same flags as authorize-security-group-ingress).
    RevokeSecurityGroupIngress(groups::RuleArgs),
    /// Remove an outbound rule (same flags as authorize-security-group-ingress).
    RevokeSecurityGroupEgress(groups::RuleArgs),
    DescribeNetworkInterfaces(vpc::DescribeNetworkInterfaces),
    CreateNetworkInterface(vpc::CreateNetworkInterface),
    AttachNetworkInterface(vpc::AttachNetworkInterface),
    DetachNetworkInterface(vpc::DetachNetworkInterface),
    DeleteNetworkInterface(vpc::NetworkInterfaceId),
    ModifyNetworkInterfaceAttribute(vpc::ModifyNetworkInterfaceAttribute),
    ModifyInstanceAttribute(attributes::ModifyInstanceAttribute),
    DescribeInstanceAttribute(attributes::DescribeInstanceAttribute),
    DescribeInstanceStatus(attributes::DescribeInstanceStatus),
    ModifyInstanceMetadataOptions(ec2::ModifyInstanceMetadataOptions),
    ModifyInstanceMaintenanceOptions(attributes::ModifyInstanceMaintenanceOptions),
    AllocateAddress(vpc::AllocateAddress),
    AssociateAddress(vpc::AssociateAddress),
    DisassociateAddress(vpc::DisassociateAddress),
    ReleaseAddress(vpc::ReleaseAddress),
    DescribeAddresses(vpc::DescribeAddresses),
    CreateTags(tags::CreateTags),
    DeleteTags(tags::DeleteTags),
    DescribeTags(tags::DescribeTags),
    Top(top::Top),
    /// Remove this state directory's bridges, taps and nftables tables from the host
    /// (they come back from the store on the next command that needs them).
    NetworkTeardown,
    /// Wait until instances reach a state.
    #[command(
        subcommand,
        after_help = "Example:\n  ec2lab wait instance-running --instance-ids i-0123456789abcdef0"
    )]
    Wait(ec2::WaitWhat),
    /// Serve the EC2 API (Query protocol, 2016-11-15), and SNS, CloudWatch and Cost
    /// Explorer on the same endpoint, over HTTP for the aws CLI, boto3 and the AWS SDKs.
    /// Requests must be signed (SigV4) with this ec2lab's keys.
    Serve(serve::Serve),
    /// Write a profile for the AWS tools (endpoint, region, output, this ec2lab's access
    /// keys) into the aws config and credentials files; other profiles stay as they are.
    ConfigureAws(serve::ConfigureAws),
    Sns(sns::Sns),
    Cloudwatch(cloudwatch::Cloudwatch),
    Ce(ce::Ce),
    Savingsplans(ce::SavingsPlans),
    /// Spot requests and prices, Reserved Instances (the aws CLI's verbs and flags).
    #[command(flatten)]
    Market(market::Market),
    /// What this region's instances, volumes, snapshots and addresses cost over a period,
    /// by EC2's rules (per-second instances with a one-minute minimum, GiB-months).
    Billing(ce::Billing),
    Autoscaling(autoscaling::Autoscaling),
    #[command(flatten)]
    LaunchTemplate(launch_templates::LaunchTemplateVerb),
    Vmm(vmm::VmmArgs),
    VmmCtl(vmm::VmmCtlArgs),
    /// Internal: supervise one instance's VMM (started by ec2lab itself).
    #[command(name = "__supervise", hide = true)]
    Supervise {
        instance_id: String,
    },
    /// Internal: the region's monitor daemon (CloudWatch collection; started by ec2lab).
    #[command(name = "__monitor", hide = true)]
    Monitor {
        region: String,
    },
    /// Internal: an instance's metadata worker, which parses guests' HTTP without root
    /// (started by its supervisor, with its sockets at fixed descriptors).
    #[command(name = "__metadata-worker", hide = true)]
    MetadataWorker {
        instance_id: String,
        #[arg(long)]
        uid: u32,
        #[arg(long)]
        gid: u32,
        #[arg(long)]
        root: std::path::PathBuf,
        #[arg(long)]
        channels: usize,
    },
}

/// The operation name the AWS CLI shows in errors and table titles.
fn operation(cmd: &Command) -> &'static str {
    match cmd {
        Command::RunInstances(_) => "RunInstances",
        Command::DescribeInstances(_) => "DescribeInstances",
        Command::StartInstances(_) => "StartInstances",
        Command::StopInstances(_) => "StopInstances",
        Command::RebootInstances(_) => "RebootInstances",
        Command::TerminateInstances(_) => "TerminateInstances",
        Command::MonitorInstances(_) => "MonitorInstances",
        Command::UnmonitorInstances(_) => "UnmonitorInstances",
        Command::GetConsoleOutput(_) => "GetConsoleOutput",
        Command::ConnectSerialConsole(_) => "ConnectSerialConsole",
        Command::DescribeInstanceTypes(_) => "DescribeInstanceTypes",
        Command::DescribeImages(_) => "DescribeImages",
        Command::RegisterImage(_) => "RegisterImage",
        Command::CreateImage(_) => "CreateImage",
        Command::CopyImage(_) => "CopyImage",
        Command::DeregisterImage(_) => "DeregisterImage",
        Command::Wait(_) => "Wait",
        Command::CreateVpc(_) => "CreateVpc",
        Command::DescribeVpcs(_) => "DescribeVpcs",
        Command::DeleteVpc(_) => "DeleteVpc",
        Command::CreateSubnet(_) => "CreateSubnet",
        Command::DescribeSubnets(_) => "DescribeSubnets",
        Command::DeleteSubnet(_) => "DeleteSubnet",
        Command::CreateSecurityGroup(_) => "CreateSecurityGroup",
        Command::DescribeSecurityGroups(_) => "DescribeSecurityGroups",
        Command::DeleteSecurityGroup(_) => "DeleteSecurityGroup",
        Command::AuthorizeSecurityGroupIngress(_) => "AuthorizeSecurityGroupIngress",
        Command::AuthorizeSecurityGroupEgress(_) => "AuthorizeSecurityGroupEgress",
        Command::RevokeSecurityGroupIngress(_) => "RevokeSecurityGroupIngress",
        Command::RevokeSecurityGroupEgress(_) => "RevokeSecurityGroupEgress",
        Command::DescribeNetworkInterfaces(_) => "DescribeNetworkInterfaces",
        Command::CreateNetworkInterface(_) => "CreateNetworkInterface",
        Command::AttachNetworkInterface(_) => "AttachNetworkInterface",
        Command::DetachNetworkInterface(_) => "DetachNetworkInterface",
        Command::DeleteNetworkInterface(_) => "DeleteNetworkInterface",
        Command::ModifyNetworkInterfaceAttribute(_) => "ModifyNetworkInterfaceAttribute",
        Command::ModifyInstanceAttribute(_) => "ModifyInstanceAttribute",
        Command::DescribeInstanceAttribute(_) => "DescribeInstanceAttribute",
        Command::DescribeInstanceStatus(_) => "DescribeInstanceStatus",
        Command::ModifyInstanceMetadataOptions(_) => "ModifyInstanceMetadataOptions",
        Command::ModifyInstanceMaintenanceOptions(_) => "ModifyInstanceMaintenanceOptions",
        Command::NetworkTeardown => "NetworkTeardown",
        Command::AllocateAddress(_) => "AllocateAddress",
        Command::CreateTags(_) => "CreateTags",
        Command::DeleteTags(_) => "DeleteTags",
        Command::DescribeTags(_) => "DescribeTags",
        Command::AssociateAddress(_) => "AssociateAddress",
        Command::DisassociateAddress(_) => "DisassociateAddress",
        Command::ReleaseAddress(_) => "ReleaseAddress",
        Command::DescribeAddresses(_) => "DescribeAddresses",
        Command::CreateVolume(_) => "CreateVolume",
        Command::DescribeVolumes(_) => "DescribeVolumes",
        Command::AttachVolume(_) => "AttachVolume",
        Command::DetachVolume(_) => "DetachVolume",
        Command::DeleteVolume(_) => "DeleteVolume",
        Command::ModifyVolume(_) => "ModifyVolume",
        Command::CreateSnapshot(_) => "CreateSnapshot",
        Command::DescribeSnapshots(_) => "DescribeSnapshots",
        Command::DeleteSnapshot(_) => "DeleteSnapshot",
        Command::CreateKeyPair(_) => "CreateKeyPair",
        Command::ImportKeyPair(_) => "ImportKeyPair",
        Command::DescribeKeyPairs(_) => "DescribeKeyPairs",
        Command::DeleteKeyPair(_) => "DeleteKeyPair",
        Command::Ssh(_) => "Ssh",
        Command::Lab(_) => "Lab",
        Command::Serve(_) => "Serve",
        Command::ConfigureAws(_) => "ConfigureAws",
        Command::Sns(s) => s.verb.operation(),
        Command::Cloudwatch(c) => c.operation(),
        Command::Ce(c) => c.operation(),
        Command::Savingsplans(c) => c.operation(),
        Command::Market(m) => m.operation(),
        Command::Billing(_) => "Billing",
        Command::Autoscaling(c) => c.operation(),
        Command::LaunchTemplate(v) => v.operation(),
        Command::Top(_) => "Top",
        Command::Vmm(_)
        | Command::VmmCtl(_)
        | Command::Supervise { .. }
        | Command::MetadataWorker { .. }
        | Command::Monitor { .. } => "",
    }
}

/// Parses the process's command line and runs it; returns the exit code.
pub fn main() -> i32 {
    main_from(std::env::args_os())
}

/// Parses `args` (the program name first), with the aws CLI's flags that a verb's own
/// arguments lack (see [`awsflags`]), and runs the command; returns the exit code. Usage
/// errors and `--help` print and exit as clap does.
pub fn main_from<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if let Some(vmm_args) = vmm::parse_alone(&args) {
        return vmm::run_vmm(vmm_args);
    }
    let cmd = Cli::command();
    let verb = awsflags::verb_of(&cmd, &args);
    let cmd = match &verb {
        Some(v) => awsflags::augment(cmd, v),
        None => cmd,
    };
    let matches = match cmd.clone().try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => return usage_error(cmd, verb.as_deref(), &args, e),
    };
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    cli.aws = AwsArgs::from_matches(&matches);
    run(cli)
}

/// A usage error, except when a required argument is missing and the line also has aws
/// CLI flags that ec2lab does not support: EC2 would refuse those first, so they are named
/// (`Unsupported`, exit 254) rather than a usage error given.
fn usage_error(cmd: clap::Command, verb: Option<&str>, args: &[OsString], e: clap::Error) -> i32 {
    if let (ErrorKind::MissingRequiredArgument, Some(verb)) = (e.kind(), verb) {
        if let Ok(m) = awsflags::relaxed(cmd, verb).try_get_matches_from(args) {
            let aws = AwsArgs::from_matches(&m);
            if let (Some(refusal), Some((verb, _))) = (aws.refusal(), m.subcommand()) {
                if let Some(Err(q)) = m.get_one::<String>("query").map(|q| Query::compile(q)) {
                    eprintln!("\n{q}");
                    return query::EXIT_QUERY_ERROR;
                }
                let op = awsflags::operation_of(verb);
                eprintln!("\n{}", refusal.cli_message(&op));
                return EXIT_SERVICE_ERROR;
            }
        }
    }
    e.exit()
}

/// `ec2lab __monitor <region>`: the monitor daemon until it has nothing left to do.
fn monitor(state_dir: &std::path::Path, region: &str) -> i32 {
    use crate::cloudwatch::daemon::{self, JsonLines, SampleSink};
    // The daemon always writes to the metric store; EC2LAB_MONITOR_SAMPLES=<file> writes
    // every sample as a JSON line as well (inspection, tests).
    let sink: Box<dyn SampleSink> = match std::env::var_os("EC2LAB_MONITOR_SAMPLES") {
        Some(path) => match JsonLines::open(std::path::Path::new(&path)) {
            Ok(s) => Box::new(s),
            Err(e) => {
                eprintln!("ec2lab monitor {region}: {e}");
                return 1;
            }
        },
        None => Box::new(|_: &[crate::cloudwatch::Sample]| Ok(())),
    };
    // Auto Scaling's reconciler and policies run in this daemon; its group metrics are
    // derived from the samples.
    crate::cloudwatch::extension::register(&crate::autoscaling::MONITOR_HOOKS);
    let mut sink = crate::autoscaling::metrics::GroupMetrics::new(state_dir, region, sink);
    match daemon::run(state_dir, region, &mut sink) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ec2lab monitor {region}: {e}");
            1
        }
    }
}

/// Runs the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let op = operation(&cli.command);
    // As in the aws CLI, a --query that does not compile stops the command before it does
    // anything, and so does an aws CLI flag ec2lab does not support (EC2's answer to it).
    let query = match cli.query.as_deref().map(Query::compile).transpose() {
        Ok(q) => q,
        Err(e) => {
            eprintln!("\n{e}");
            return query::EXIT_QUERY_ERROR;
        }
    };
    if let Some(e) = cli.aws.refusal() {
        eprintln!("\n{}", e.cli_message(op));
        return EXIT_SERVICE_ERROR;
    }
    let ctx = Ctx {
        state_dir: cli.state_dir,
        region: cli.region,
        dry_run: cli.aws.dry_run,
    };
    // Host resources follow their state directory: those of deleted ones go first. Not in
    // the VMM (it knows nothing of EC2) nor in supervisors (the commands that start them
    // have just done it).
    if !matches!(
        cli.command,
        Command::Vmm(_)
            | Command::VmmCtl(_)
            | Command::Supervise { .. }
            | Command::Monitor { .. }
            | Command::MetadataWorker { .. }
    ) {
        crate::net::sweep_deleted_roots();
    }
    let result = match cli.command {
        Command::Vmm(args) => return vmm::run_vmm(args),
        Command::VmmCtl(args) => return vmm::run_ctl(args),
        Command::Serve(args) => return serve::serve(&ctx, args),
        Command::Top(args) => return top::run(&ctx, args),
        Command::ConfigureAws(a) => return serve::configure_aws(&ctx, a, cli.output),
        Command::Supervise { instance_id } => {
            return match crate::instances::supervisor::run(
                &ctx.state_dir,
                &ctx.region,
                &instance_id,
                || crate::metadata::server::spawn(&ctx.state_dir, &ctx.region, &instance_id),
            ) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("ec2lab supervisor {instance_id}: {e}");
                    1
                }
            };
        }
        Command::Monitor { region } => return monitor(&ctx.state_dir, &region),
        Command::MetadataWorker {
            instance_id,
            uid,
            gid,
            root,
            channels,
        } => {
            return crate::metadata::worker::run(&crate::metadata::worker::Setup {
                instance_id: &instance_id,
                uid,
                gid,
                root: &root,
                channels,
            })
        }
        Command::RunInstances(a) => ec2::run_instances(&ctx, a),
        Command::DescribeInstances(a) => ec2::describe_instances(&ctx, a),
        Command::StartInstances(a) => ec2::lifecycle(&ctx, Lifecycle::Start, a.instance_ids),
        Command::StopInstances(a) => ec2::lifecycle(
            &ctx,
            Lifecycle::Stop {
                force: a.force,
                hibernate: a.hibernate,
            },
            a.ids.instance_ids,
        ),
        Command::RebootInstances(a) => ec2::lifecycle(&ctx, Lifecycle::Reboot, a.instance_ids),
        Command::TerminateInstances(a) => {
            ec2::lifecycle(&ctx, Lifecycle::Terminate, a.instance_ids)
        }
        Command::MonitorInstances(a) => ec2::monitoring_verb(&ctx, true, a.instance_ids),
        Command::UnmonitorInstances(a) => ec2::monitoring_verb(&ctx, false, a.instance_ids),
        Command::GetConsoleOutput(a) => ec2::console_output(&ctx, a),
        Command::ConnectSerialConsole(a) => console::connect(&ctx, a),
        Command::DescribeInstanceTypes(a) => ec2::describe_instance_types(&ctx, a),
        Command::DescribeImages(a) => ec2::describe_images(&ctx, a),
        Command::RegisterImage(a) => ec2::register_image(&ctx, a),
        Command::CreateImage(a) => ec2::create_image(&ctx, a),
        Command::CopyImage(a) => ec2::copy_image(&ctx, a),
        Command::DeregisterImage(a) => ec2::deregister_image(&ctx, a),
        Command::Wait(w) => ec2::wait(&ctx, w),
        Command::CreateVpc(a) => vpc::create_vpc(&ctx, a),
        Command::DescribeVpcs(a) => vpc::describe_vpcs(&ctx, a),
        Command::DeleteVpc(a) => vpc::delete_vpc(&ctx, a),
        Command::CreateSubnet(a) => vpc::create_subnet(&ctx, a),
        Command::DescribeSubnets(a) => vpc::describe_subnets(&ctx, a),
        Command::DeleteSubnet(a) => vpc::delete_subnet(&ctx, a),
        Command::CreateSecurityGroup(a) => groups::create_security_group(&ctx, a),
        Command::DescribeSecurityGroups(a) => groups::describe_security_groups(&ctx, a),
        Command::DeleteSecurityGroup(a) => groups::delete_security_group(&ctx, a),
        Command::AuthorizeSecurityGroupIngress(a) => {
            groups::change_rule(&ctx, a, Direction::Ingress, true)
        }
        Command::AuthorizeSecurityGroupEgress(a) => {
            groups::change_rule(&ctx, a, Direction::Egress, true)
        }
        Command::RevokeSecurityGroupIngress(a) => {
            groups::change_rule(&ctx, a, Direction::Ingress, false)
        }
        Command::RevokeSecurityGroupEgress(a) => {
            groups::change_rule(&ctx, a, Direction::Egress, false)
        }
        Command::DescribeNetworkInterfaces(a) => vpc::describe_network_interfaces(&ctx, a),
        Command::CreateNetworkInterface(a) => vpc::create_network_interface(&ctx, a),
        Command::AttachNetworkInterface(a) => vpc::attach_network_interface(&ctx, a),
        Command::DetachNetworkInterface(a) => vpc::detach_network_interface(&ctx, a),
        Command::DeleteNetworkInterface(a) => vpc::delete_network_interface(&ctx, a),
        Command::ModifyNetworkInterfaceAttribute(a) => {
            vpc::modify_network_interface_attribute(&ctx, a)
        }
        Command::ModifyInstanceAttribute(a) => attributes::modify_instance_attribute(&ctx, a),
        Command::DescribeInstanceAttribute(a) => attributes::describe_instance_attribute(&ctx, a),
        Command::DescribeInstanceStatus(a) => attributes::describe_instance_status(&ctx, a),
        Command::ModifyInstanceMetadataOptions(a) => ec2::modify_instance_metadata_options(&ctx, a),
        Command::ModifyInstanceMaintenanceOptions(a) => {
            attributes::modify_instance_maintenance_options(&ctx, a)
        }
        Command::NetworkTeardown => vpc::network_teardown(&ctx),
        Command::AllocateAddress(a) => vpc::allocate_address(&ctx, a),
        Command::CreateTags(a) => tags::create_tags(&ctx, a),
        Command::DeleteTags(a) => tags::delete_tags(&ctx, a),
        Command::DescribeTags(a) => tags::describe_tags(&ctx, a),
        Command::AssociateAddress(a) => vpc::associate_address(&ctx, a),
        Command::DisassociateAddress(a) => vpc::disassociate_address(&ctx, a),
        Command::ReleaseAddress(a) => vpc::release_address(&ctx, a),
        Command::DescribeAddresses(a) => vpc::describe_addresses(&ctx, a),
        Command::CreateVolume(a) => ebs::create_volume(&ctx, a),
        Command::DescribeVolumes(a) => ebs::describe_volumes(&ctx, a),
        Command::AttachVolume(a) => ebs::attach_volume(&ctx, a),
        Command::DetachVolume(a) => ebs::detach_volume(&ctx, a),
        Command::DeleteVolume(a) => ebs::delete_volume(&ctx, a),
        Command::ModifyVolume(a) => ebs::modify_volume(&ctx, a),
        Command::CreateSnapshot(a) => ebs::create_snapshot(&ctx, a),
        Command::DescribeSnapshots(a) => ebs::describe_snapshots(&ctx, a),
        Command::DeleteSnapshot(a) => ebs::delete_snapshot(&ctx, a),
        Command::CreateKeyPair(a) => keys::create_key_pair(&ctx, a),
        Command::ImportKeyPair(a) => keys::import_key_pair(&ctx, a),
        Command::DescribeKeyPairs(a) => keys::describe_key_pairs(&ctx, a),
        Command::DeleteKeyPair(a) => keys::delete_key_pair(&ctx, a),
        Command::Ssh(a) => ssh::ssh(&ctx, a),
        Command::Lab(a) => lab::run(&ctx, a),
        Command::Sns(a) => sns::run(&ctx, a),
        Command::Cloudwatch(a) => cloudwatch::run(&ctx, a),
        Command::Ce(a) => ce::run(&ctx, a),
        Command::Savingsplans(a) => ce::savings(&ctx, a),
        Command::Market(a) => market::run(&ctx, a),
        Command::Billing(a) => ce::billing(&ctx, a),
        Command::Autoscaling(a) => autoscaling::run(&ctx, a),
        Command::LaunchTemplate(a) => launch_templates::run(&ctx, a),
    };
    match result {
        Ok(value) => match query::render(&value, cli.output, op, query.as_ref()) {
            Ok(text) => {
                print!("{text}");
                0
            }
            // The aws CLI has made the request by then, and still exits 255.
            Err(e) => {
                eprintln!("\n{e}");
                query::EXIT_QUERY_ERROR
            }
        },
        Err(Failure::Service(e)) => {
            eprintln!("\n{}", e.cli_message(op));
            if e.code == "WaiterFailed" {
                255
            } else {
                EXIT_SERVICE_ERROR
            }
        }
        Err(Failure::Param(msg)) => {
            eprintln!("\n{msg}");
            ctx::EXIT_PARAM_ERROR
        }
    }
}
