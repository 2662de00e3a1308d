//! Instances: launching, describing and changing them, the way EC2's instance API does.
//! Every change is one store transaction; the per-instance supervisor carries it out.

pub mod attributes;
pub mod capacity;
pub mod cgroup;
pub mod console;
pub mod describe;
pub mod disks;
pub mod guest_status;
pub mod hibernation;
mod housekeeping;
pub mod interrupted;
pub mod maintenance;
pub mod monitor_daemon;
pub mod monitoring;
pub mod network;
pub mod options;
pub mod process;
pub mod record;
pub mod recover;
pub mod rundir;
pub mod spot;
pub mod spot_price;
pub mod spot_requests;
pub mod state;
pub mod status;
pub mod supervisor;
pub mod types;
pub mod user_data;
mod wait;
pub mod warm;
pub mod warm_boot;

use std::time::{Duration, Instant};

use crate::ec2::shapes::images::{CreateImageRequest, CreateImageResult};
use crate::ec2::shapes::instances::{
    GetConsoleOutputRequest, GetConsoleOutputResult, InstanceStateChange,
    ModifyInstanceMetadataOptionsRequest, ModifyInstanceMetadataOptionsResult,
    RebootInstancesRequest, Reservation, RunInstancesRequest, StartInstancesRequest,
    StartInstancesResult, StopInstancesRequest, StopInstancesResult, TerminateInstancesRequest,
    TerminateInstancesResult,
};
use crate::ec2::tags;
use crate::error::Ec2Error;
use crate::fsutil;
use crate::ids;
use crate::images::{self, Image};
use crate::storage::volumes::{self, Attachment, NewVolume, VolumeSource};
use crate::store::{iso8601_now, Store};
pub use attributes::{describe_instance_attribute, modify_instance_attribute};
pub use describe::describe_instances;
pub use housekeeping::{housekeeping, resume_state_dir};
pub use monitoring::{monitor_instances, unmonitor_instances};
use record::Instance;
pub use record::MetadataOptions;
use record::RebootPending;
use rundir::RunDir;
use state::{Action, State};
pub use status::describe_instance_status;
pub use wait::Waiter;

pub use capacity::HOST_CAPACITY_ENV;
use capacity::{capacity, check_capacity, footprint_mib};
pub use user_data::MAX_USER_DATA;
/// The instance type of a `RunInstances` request that names none.
pub const DEFAULT_INSTANCE_TYPE: &str = "t2.micro";
/// `ec2lab wait`: polls the store, with [`housekeeping`], until every instance is in the
/// waiter's state; the error reads like the AWS CLI's waiter errors.
pub fn wait(
    store: &mut Store,
    waiter: Waiter,
    instance_ids: &[String],
    timeout: Duration,
) -> Result<(), Ec2Error> {
    Ec2Error::check_instance_ids(instance_ids)?;
    wait::until(store, waiter, instance_ids, timeout, housekeeping)
}

fn transition(id: &str, prev: State, cur: State) -> InstanceStateChange {
    InstanceStateChange {
        current_state: cur.to_shape(),
        instance_id: id.into(),
        previous_state: prev.to_shape(),
    }
}

/// The root volume's type when the launch names none.
const ROOT_VOLUME_TYPE: &str = "gp3";

/// The launch settings of a `RunInstances` request, decoded and checked.
struct Launch {
    user_data: Option<Vec<u8>>,
    tags: Vec<tags::Tag>,
    root_volume_gib: Option<u64>,
    root_delete_on_termination: Option<bool>,
    /// The root volume's type, IOPS and throughput, checked as CreateVolume checks them.
    root_volume_type: Option<String>,
    root_iops: Option<i64>,
    root_throughput: Option<i64>,
    associate_public_ip: Option<bool>,
    metadata_options: MetadataOptions,
    detailed_monitoring: bool,
    maintenance: options::Maintenance,
    hibernation: bool,
}

impl Launch {
    fn from(req: &RunInstancesRequest, region: &str) -> Result<Launch, Ec2Error> {
        // Each region has one zone (DescribeAvailabilityZones), where everything runs.
        if let Some(az) = req
            .placement
            .as_ref()
            .and_then(|p| p.availability_zone.as_deref())
        {
            if az != format!("{region}a") {
                return Err(Ec2Error::invalid_parameter(format!(
                    "Invalid availability zone: [{az}]"
                )));
            }
        }
        let mut root_volume_gib = None;
        let mut root_delete_on_termination = None;
        let (mut root_volume_type, mut root_iops, mut root_throughput) = (None, None, None);
        for m in &req.block_device_mappings {
            if m.device_name != images::ROOT_DEVICE_NAME {
                return Err(Ec2Error::invalid_parameter(format!(
                    "Block device {:?}: only the root device {} can be set at launch for now",
                    m.device_name,
                    images::ROOT_DEVICE_NAME
                )));
            }
            if let Some(ebs) = &m.ebs {
                root_volume_gib = ebs.volume_size.map(|v| v as u64);
                root_delete_on_termination = ebs.delete_on_termination;
                let volume_type = ebs.volume_type.as_deref().unwrap_or(ROOT_VOLUME_TYPE);
                // Checked now, before anything is made; the volume records what it gives.
                volumes::check_type(volume_type, ebs.iops, ebs.throughput)?;
                root_volume_type = ebs.volume_type.clone();
                root_iops = ebs.iops;
                root_throughput = ebs.throughput;
            }
        }
        let user_data = req
            .user_data
            .as_deref()
            .map(user_data::decode)
            .transpose()?;
        let mut metadata_options = MetadataOptions::default();
        if let Some(m) = &req.metadata_options {
            metadata_options = metadata_options.changed(
                m.http_tokens.as_deref(),
                m.http_endpoint.as_deref(),
                m.http_put_response_hop_limit,
            )?;
        }
        let mut maintenance = options::Maintenance::default();
        if let Some(v) = req
            .maintenance_options
            .as_ref()
            .and_then(|m| m.auto_recovery.as_deref())
        {
            maintenance.set_auto_recovery(v)?;
        }
        Ok(Launch {
            hibernation: req
                .hibernation_options
                .as_ref()
                .and_then(|h| h.configured)
                .unwrap_or(false),
            maintenance,
            user_data,
            tags: tags::for_resource(
                &req.tag_specifications,
                &["instance", "volume", "network-interface"],
                "instance",
            )?,
            root_volume_gib,
            root_delete_on_termination,
            root_volume_type,
            root_iops,
            root_throughput,
            associate_public_ip: req
                .network_interfaces
                .iter()
                .find(|n| n.device_index.unwrap_or(0) == 0)
                .and_then(|n| n.associate_public_ip_address),
            metadata_options,
            detailed_monitoring: req.monitoring.as_ref().is_some_and(|m| m.enabled),
        })
    }
}

/// `RunInstances`: as many as fit, at least `MinCount`; each gets its root volume, its
/// primary interface and a supervisor that boots it. The quick-start AMI is registered
/// first if its files are built, and housekeeping runs, as before every command.
pub fn run_instances(
    store: &mut Store,
    req: &RunInstancesRequest,
) -> Result<Reservation, Ec2Error> {
    images::ensure_quick_start(store)?;
    housekeeping(store)?;
    // `--launch-template`: the version's settings under the request's own.
    let merged = crate::launch_templates::merged_request(store, req)?;
    let req = &merged;
    let launch = Launch::from(req, store.region())?;
    let instance_type = req
        .instance_type
        .as_deref()
        .unwrap_or(DEFAULT_INSTANCE_TYPE);
    let ty = types::find(instance_type).ok_or_else(|| {
        Ec2Error::invalid_parameter(format!(
            "Invalid value '{instance_type}' for InstanceType; see describe-instance-types"
        ))
    })?;
    // Checked before anything else is looked at or created, so a typo changes nothing.
    // The public key is copied now, as on AWS: the instance keeps it whatever happens to
    // the key pair later.
    let public_key = match &req.key_name {
        Some(k) => Some(crate::keypairs::KeyPair::get(store.conn(), k)?.public_key),
        None => None,
    };
    let image = Image::get_available(store.conn(), &req.image_id)?;
    let market = spot::Market::from_request(store, req, ty)?;
    let root_volume_gib = root_volume_size(&image, launch.root_volume_gib)?;
    let (Ok(min_count), Ok(max_count)) =
        (u32::try_from(req.min_count), u32::try_from(req.max_count))
    else {
        return Err(bad_count(req));
    };
    if min_count == 0 || max_count < min_count {
        return Err(bad_count(req));
    }
    // A request EC2 refuses is refused before capacity is looked at.
    if launch.hibernation {
        hibernation::check_launch(ty)?;
    }
    // As many as fit, but at least min_count (EC2's --count min:max).
    let (budget, used) = capacity(store)?;
    let fit = (budget.saturating_sub(used) / footprint_mib(ty)) as u32;
    let count = max_count.min(fit.max(min_count));
    // Spot never takes memory; on-demand takes it back from spot instances if it must.
    let reclaim = match &market {
        Some(m) => {
            spot::check_launch(store, m, ty, count)?;
            Vec::new()
        }
        None => match check_capacity(store, ty, count) {
            Ok(()) => Vec::new(),
            Err(e) => spot::plan_room(store, footprint_mib(ty) * u64::from(count))?.ok_or(e)?,
        },
    };

    let warm_plan = warm::plan(
        store,
        &image,
        &warm::key(
            ty.mem_mib,
            ty.vcpus,
            ty.instance_store_gb > 0,
            root_volume_gib,
        ),
        !req.no_warm && crate::net::enabled(),
    );
    let root_source = match &warm_plan {
        Some(p) if p.mode == warm::Mode::Restore => warm::Template(p.template.clone()).disk(),
        _ => image.root_path(store),
    };
    let (effective, warnings) = ty.vcpus_here();
    let (subnet, groups) =
        network::placement(store, req.subnet_id.as_deref(), &req.security_group_ids)?;
    crate::net::check_overlaps(store, &subnet.vpc_id)?;
    let public = launch.associate_public_ip.unwrap_or(subnet.map_public_ip);
    let reservation_id = ids::new_id("r");
    let zone = format!("{}a", store.region());
    let launch_time = iso8601_now();
    let mut made: Vec<Instance> = Vec::new();
    let prepared = (|| -> Result<(), Ec2Error> {
        for index in 0..count {
            let inst = Instance {
                instance_id: ids::new_id("i"),
                reservation_id: reservation_id.clone(),
                launch_index: i64::from(index),
                image_id: image.image_id.clone(),
                instance_type: ty.name.into(),
                state: State::Pending,
                transition_reason: String::new(),
                state_reason: None,
                launch_time: launch_time.clone(),
                ended_at: None,
                key_name: req.key_name.clone(),
                public_key: public_key.clone(),
                user_data: launch.user_data.clone(),
                vcpus: ty.vcpus,
                effective_vcpus: effective,
                mem_mib: ty.mem_mib,
                warnings: warnings.clone(),
                tags: launch.tags.clone(),
                security_groups: groups.clone(),
                subnet_id: Some(subnet.subnet_id.clone()),
                root_device_name: image.root_device_name.clone(),
                root_delete_on_termination: launch.root_delete_on_termination.unwrap_or(true),
                reboot_pending: RebootPending::No,
                force_stop: false,
                vmm_pid: None,
                vmm_start_ticks: None,
                boots: 0,
                last_boot_ms: None,
                metadata_options: launch.metadata_options.clone(),
                // As EC2: `pending` until the collector takes the instance on.
                monitoring: if launch.detailed_monitoring {
                    monitoring::MonitoringState::Pending
                } else {
                    monitoring::MonitoringState::Disabled
                },
                maintenance: launch.maintenance.clone(),
                hibernation: options::Hibernation {
                    configured: launch.hibernation,
                    requested: false,
                },
            };
            prepare_run_dir(store, &image, &inst)?;
            if let Some(p) = &warm_plan {
                warm::save_plan(&RunDir(store.instance_dir(&inst.instance_id)), p)?;
            }
            made.push(inst);
            volumes::create(
                store,
                &NewVolume {
                    size_gib: Some(root_volume_gib),
                    volume_type: launch
                        .root_volume_type
                        .as_deref()
                        .unwrap_or(ROOT_VOLUME_TYPE),
                    iops: launch.root_iops,
                    throughput: launch.root_throughput,
                    availability_zone: &format!("{}a", store.region()),
                    source: Some(VolumeSource::File(&root_source)),
                    tags: vec![],
                },
                Some(Attachment {
                    instance_id: made.last().expect("just pushed").instance_id.clone(),
                    device: image.root_device_name.clone(),
                    attach_time: launch_time.clone(),
                    delete_on_termination: launch.root_delete_on_termination.unwrap_or(true),
                }),
            )?;
        }
        store.write(|tx| -> Result<(), Ec2Error> {
            for inst in &made {
                inst.insert(tx)?;
                if let Some(m) = &market {
                    spot::record_launch(tx, inst, m, &zone)?;
                }
                if crate::net::enabled() {
                    crate::net::eni::create(
                        tx,
                        &subnet,
                        &crate::net::eni::NewEni {
                            groups: &groups,
                            public,
                            instance_id: Some(&inst.instance_id),
                            ..Default::default()
                        },
                    )?;
                }
            }
            Ok(())
        })
    })();
    if let Err(e) = prepared {
        for inst in &made {
            let _ = std::fs::remove_dir_all(store.instance_dir(&inst.instance_id));
            let _ = volumes::release_for_terminated(store, &inst.instance_id);
        }
        return Err(e);
    }
    if !reclaim.is_empty() {
        spot::give_notice(store, &reclaim, spot::Cause::NoCapacity)?;
    }
    for inst in &made {
        supervisor::ensure(store, &inst.instance_id)?;
    }
    spot_price::record_prices(store)?;
    let instances = made
        .iter()
        .map(|i| describe::instance(store, i))
        .collect::<Result<Vec<_>, Ec2Error>>()?;
    Ok(describe::reservation(&reservation_id, instances))
}

/// The root volume's size in GiB: the AMI's `VolumeSize`, or the size the block device
/// mapping asks for, which EC2 refuses when it is smaller than the AMI's.
fn root_volume_size(image: &Image, asked: Option<u64>) -> Result<u64, Ec2Error> {
    let min = image.root_size_gib.max(1) as u64;
    match asked {
        Some(gib) if gib < min => Err(Ec2Error::new(
            "InvalidBlockDeviceMapping",
            format!(
                "Volume of size {gib}GB is smaller than the root volume of {} ({}), expect size >= {min}GB",
                image.image_id, image.root_device_name
            ),
        )),
        Some(gib) => Ok(gib),
        None => Ok(min),
    }
}

fn bad_count(req: &RunInstancesRequest) -> Ec2Error {
    Ec2Error::invalid_parameter(format!(
        "Count {}:{} is not valid: the minimum must be at least 1 and not above the maximum",
        req.min_count, req.max_count
    ))
}

/// The instance's own run directory with links to its kernel (and initrd).
fn prepare_run_dir(store: &Store, image: &Image, inst: &Instance) -> Result<(), Ec2Error> {
    let run = RunDir(store.instance_dir(&inst.instance_id));
    std::fs::create_dir_all(&run.0)?;
    fsutil::link_or_copy(&image.kernel_path(store), &run.path("kernel"))?;
    if let Some(i) = image.initrd_path(store) {
        fsutil::link_or_copy(&i, &run.path("initrd"))?;
    }
    Ok(())
}

/// Applies a user action to every instance in one transaction: all or none.
fn change(
    store: &mut Store,
    instance_ids: &[String],
    action: Action,
    force: bool,
    hibernate: bool,
) -> Result<Vec<InstanceStateChange>, Ec2Error> {
    Ec2Error::check_instance_ids(instance_ids)?;
    let now = iso8601_now();
    let out = store.write(|tx| -> Result<Vec<InstanceStateChange>, Ec2Error> {
        let mut out = Vec::new();
        for id in instance_ids {
            let inst = Instance::get(tx, id)?;
            let next = state::apply(id, inst.state, action)?;
            let mut cur = inst.state;
            if let Some(mut next) = next {
                // A stopped instance has no VMM to shut down: it is terminated at once.
                if action == Action::Terminate && inst.state == State::Stopped {
                    next = State::Terminated;
                }
                Instance::set_state(tx, id, next, &format!("User initiated ({now})"), None)?;
                Instance::set_force_stop(tx, id, force)?;
                if action == Action::Stop {
                    // Read by the supervisor with the `stopping` state it polls for.
                    let mut h = inst.hibernation.clone();
                    h.requested = hibernate;
                    h.save(tx, id)?;
                }
                if action == Action::Start {
                    // A fresh automatic public address at every start, as on AWS.
                    crate::net::eni::assign_auto_public(tx, id)?;
                }
                cur = next;
            }
            if action == Action::Reboot {
                Instance::set_reboot_pending(tx, id, RebootPending::Restart)?;
            }
            out.push(transition(id, inst.state, cur));
        }
        Ok(out)
    })?;
    for id in instance_ids {
        let inst = Instance::get(store.conn(), id)?;
        if inst.state == State::Terminated {
            supervisor::finalize_termination(store, &inst)?;
        }
        supervisor::ensure(store, id)?;
    }
    Ok(out)
}

/// `StartInstances`: stopped instances get capacity checked and boot again.
pub fn start_instances(
    store: &mut Store,
    req: &StartInstancesRequest,
) -> Result<StartInstancesResult, Ec2Error> {
    let instance_ids = &req.instance_ids;
    Ec2Error::check_instance_ids(instance_ids)?;
    for id in instance_ids {
        let inst = Instance::get(store.conn(), id)?;
        if inst.state == State::Stopped {
            let ty = types::find(&inst.instance_type).ok_or_else(|| {
                Ec2Error::internal(format!("unknown type {}", inst.instance_type))
            })?;
            check_capacity(store, ty, 1)?;
            network::check_overlaps(store, id)?;
        }
    }
    // Before `pending` is recorded: see console::begin_starts.
    console::begin_starts(store, instance_ids)?;
    Ok(StartInstancesResult {
        starting_instances: change(store, instance_ids, Action::Start, false, false)?,
    })
}

/// `StopInstances`: the guest is asked to shut down, or stopped at once with `Force`.
pub fn stop_instances(
    store: &mut Store,
    req: &StopInstancesRequest,
) -> Result<StopInstancesResult, Ec2Error> {
    let hibernate = req.hibernate.unwrap_or(false);
    if hibernate {
        Ec2Error::check_instance_ids(&req.instance_ids)?;
        for id in &req.instance_ids {
            hibernation::check_stop(store, &Instance::get(store.conn(), id)?)?;
        }
    }
    let out = change(store, &req.instance_ids, Action::Stop, req.force, hibernate)?;
    Ok(StopInstancesResult {
        stopping_instances: out,
    })
}

/// `RebootInstances`: the supervisor restarts each guest; it stays running.
pub fn reboot_instances(store: &mut Store, req: &RebootInstancesRequest) -> Result<(), Ec2Error> {
    change(store, &req.instance_ids, Action::Reboot, false, false)?;
    Ok(())
}

/// `TerminateInstances`: the guests shut down and their DeleteOnTermination volumes go.
pub fn terminate_instances(
    store: &mut Store,
    req: &TerminateInstancesRequest,
) -> Result<TerminateInstancesResult, Ec2Error> {
    Ok(TerminateInstancesResult {
        terminating_instances: change(store, &req.instance_ids, Action::Terminate, false, false)?,
    })
}

/// `ModifyInstanceMetadataOptions`: applies to the next metadata request at once.
pub fn modify_metadata_options(
    store: &mut Store,
    req: &ModifyInstanceMetadataOptionsRequest,
) -> Result<ModifyInstanceMetadataOptionsResult, Ec2Error> {
    let id = &req.instance_id;
    Ec2Error::check_instance_ids(std::slice::from_ref(id))?;
    let inst = Instance::get(store.conn(), id)?;
    if inst.state == State::Terminated {
        return Err(Ec2Error::incorrect_state(id, inst.state.name(), "modified"));
    }
    let o = inst.metadata_options.changed(
        req.http_tokens.as_deref(),
        req.http_endpoint.as_deref(),
        req.http_put_response_hop_limit,
    )?;
    store.write(|tx| Instance::set_metadata_options(tx, id, &o))?;
    Ok(ModifyInstanceMetadataOptionsResult {
        instance_id: id.clone(),
        instance_metadata_options: o.to_shape(),
    })
}

/// The last 64 KiB of the console, as EC2 keeps.
pub fn console_output(
    store: &mut Store,
    req: &GetConsoleOutputRequest,
) -> Result<GetConsoleOutputResult, Ec2Error> {
    let id = &req.instance_id;
    Ec2Error::check_instance_ids(std::slice::from_ref(id))?;
    Instance::get(store.conn(), id)?;
    // Only the tail is read, across the log's rotation (`vmm::console_log`).
    let tail =
        crate::vmm::console_log::read_tail(&RunDir(store.instance_dir(id)).console(), 64 * 1024);
    Ok(GetConsoleOutputResult {
        instance_id: id.clone(),
        timestamp: iso8601_now(),
        output: String::from_utf8_lossy(&tail).into_owned(),
    })
}

/// `create-image`: a crash-consistent copy of the instance's root disk becomes an AMI.
/// A running instance is shut down and started again around the copy, unless
/// `no_reboot`, in which case its vCPUs are paused for the copy instead.
pub fn create_image(
    store: &mut Store,
    req: &CreateImageRequest,
) -> Result<CreateImageResult, Ec2Error> {
    let id = req.instance_id.as_str();
    let no_reboot = req.no_reboot.unwrap_or(false);
    Ec2Error::check_instance_ids(&[id.to_string()])?;
    // Checked before the copy; recorded with the AMI, in the transaction that makes it.
    let tags = tags::for_resource(&req.tag_specifications, &["image"], "image")?;
    let inst = Instance::get(store.conn(), id)?;
    let run = RunDir(store.instance_dir(id));
    let snapshot = run.path("image-copy.img");
    let source = Image::load(store.conn(), &inst.image_id)?;
    let root = disks::root_volume(store, &inst)?;
    // Written down first: if this process dies, the next command restarts a held-down
    // instance and removes the scratch copy (`interrupted.rs`).
    let op = crate::operations::begin(
        store,
        crate::operations::Work::CreateImage {
            instance_id: id.into(),
            copy: snapshot.clone(),
        },
    )?;
    let copied = copy_for_image(store, &inst, &root, &snapshot, no_reboot);
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&snapshot);
        op.done(store)?;
        return Err(e);
    }
    crate::testhook::kill_point("image-copied");
    let initrd = run.path("initrd");
    let result = images::register(
        store,
        &images::Registration {
            name: &req.name,
            description: req.description.as_deref().unwrap_or_default(),
            architecture: source
                .as_ref()
                .map(|s| s.architecture.as_str())
                .unwrap_or("x86_64"),
            kernel: &run.path("kernel"),
            initrd: initrd.exists().then_some(initrd.as_path()),
            root: &snapshot,
            public: false,
            quick_start: false,
            source: format!("created from {id}"),
            // The snapshot file is the whole volume, so its size is the volume's.
            volume_size_gib: None,
            take_root: true,
            tags,
        },
    );
    let _ = std::fs::remove_file(&snapshot);
    op.done(store)?;
    let image = result?;
    Ok(CreateImageResult {
        image_id: image.image_id,
    })
}

/// create-image's copy of the root volume: at once for a stopped instance or with
/// `no_reboot`; else with the instance held down, and started again whatever happened.
fn copy_for_image(
    store: &mut Store,
    inst: &Instance,
    root: &volumes::Volume,
    snapshot: &std::path::Path,
    no_reboot: bool,
) -> Result<(), Ec2Error> {
    let id = inst.instance_id.as_str();
    match inst.state {
        State::Stopped => disks::freeze_copy(store, root, snapshot),
        State::Running if no_reboot => disks::freeze_copy(store, root, snapshot),
        State::Running => {
            store.write(|tx| Instance::set_reboot_pending(tx, id, RebootPending::HoldDown))?;
            let end = Instant::now() + Duration::from_secs(supervisor::stop_timeout_secs() + 30);
            let down = loop {
                let now = Instance::get(store.conn(), id)?;
                if now.vmm_pid.is_none() || now.state != State::Running {
                    break now.state == State::Running;
                }
                if Instant::now() > end {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(200));
            };
            let copied = if down {
                crate::testhook::kill_point("image-held-down");
                disks::freeze_copy(store, root, snapshot)
            } else {
                Err(Ec2Error::new(
                    "IncorrectInstanceState",
                    format!(
                        "{id} did not shut down for the image; try --no-reboot or stop it first"
                    ),
                ))
            };
            // Let the supervisor boot it again whatever happened.
            store.write(|tx| Instance::set_reboot_pending(tx, id, RebootPending::Restart))?;
            copied
        }
        other => Err(Ec2Error::incorrect_state(id, other.name(), "imaged")),
    }
}
