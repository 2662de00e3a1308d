//! `RunInstances`: a request (with its launch template's settings under it) decoded and
//! checked, capacity found (taken back from spot instances if it must be), and each
//! instance's run directory, root volume, interface and store row made before its
//! supervisor boots it. Its own module so that spot requests and Auto Scaling, which launch
//! instances, sit above it rather than beside `instances/mod.rs`.

use super::capacity::{capacity, check_capacity, footprint_mib};
use super::housekeeping::housekeeping;
use super::record::{Instance, MetadataOptions, RebootPending};
use super::rundir::RunDir;
use super::state::State;
use super::types::DEFAULT_INSTANCE_TYPE;
use super::{
    describe, hibernation, monitoring, network, options, spot, spot_price, supervisor, types,
    user_data, warm,
};
use crate::ec2::shapes::instances::{Reservation, RunInstancesRequest};
use crate::ec2::tags;
use crate::error::Ec2Error;
use crate::fsutil;
use crate::ids;
use crate::images::{self, Image};
use crate::storage::volumes::{self, Attachment, NewVolume, VolumeSource};
use crate::store::{iso8601_now, Store};

/// The resources a RunInstances request's `TagSpecifications` may tag.
const TAGGED: &[&str] = &["instance", "volume", "network-interface"];

/// The root volume's type when the launch names none.
const ROOT_VOLUME_TYPE: &str = "gp3";

/// What a service that launches on the user's behalf adds to a RunInstances request.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The open spot request the launch fulfils (the monitor daemon's), which the
    /// instance is recorded under, rather than a request made for the launch.
    pub spot_request: Option<String>,
    /// Tags in the `aws:` namespace, which users may not set but AWS does (Auto Scaling's
    /// `aws:autoscaling:groupName`): put on the instance after the user's are checked, and
    /// not counted in the 50-tag limit, as on EC2.
    pub system_tags: Vec<tags::Tag>,
}

/// The launch settings of a `RunInstances` request, decoded and checked.
struct Launch {
    user_data: Option<Vec<u8>>,
    /// The `TagSpecifications` of each resource the launch makes (a launch template's
    /// under the request's, merged by key).
    tags: Vec<tags::Tag>,
    volume_tags: Vec<tags::Tag>,
    eni_tags: Vec<tags::Tag>,
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
            tags: tags::for_resource(&req.tag_specifications, TAGGED, "instance")?,
            volume_tags: tags::for_resource(&req.tag_specifications, TAGGED, "volume")?,
            eni_tags: tags::for_resource(&req.tag_specifications, TAGGED, "network-interface")?,
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
    launch(store, req, &Origin::default())
}

/// [`run_instances`] for a service that launches on the user's behalf (spot requests,
/// Auto Scaling), with what it adds.
pub fn launch(
    store: &mut Store,
    req: &RunInstancesRequest,
    origin: &Origin,
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
                mem_mib: ty.mem_mib,
                warnings: Vec::new(),
                tags: launch
                    .tags
                    .iter()
                    .chain(&origin.system_tags)
                    .cloned()
                    .collect(),
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
                    tags: launch.volume_tags.clone(),
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
                match (&market, &origin.spot_request) {
                    (Some(_), Some(request_id)) => {
                        super::spot_rows::record_fulfilment(tx, inst, request_id, &zone)?
                    }
                    (Some(m), None) => {
                        super::spot_rows::record_launch(tx, inst, m, &zone, req)?;
                    }
                    (None, _) => {}
                }
                if crate::net::enabled() {
                    crate::net::eni::create(
                        tx,
                        &subnet,
                        &crate::net::eni::NewEni {
                            groups: &groups,
                            public,
                            instance_id: Some(&inst.instance_id),
                            tags: &launch.eni_tags,
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
    // From here the instances are recorded: a step that fails must not leave them
    // behind, pending with no supervisor and in no Auto Scaling group (whose reconciler
    // would launch again, and again). They are terminated with EC2's reason for a launch
    // that failed inside EC2, and the caller gets the error.
    let started = (|| -> Result<Reservation, Ec2Error> {
        if !reclaim.is_empty() {
            spot::give_notice(store, &reclaim, spot::Cause::NoCapacity)?;
        }
        for inst in &made {
            crate::testhook::fail_point("supervisor-spawn")?;
            supervisor::ensure(store, &inst.instance_id)?;
        }
        spot_price::record_prices(store)?;
        let instances = made
            .iter()
            .map(|i| describe::instance(store, i))
            .collect::<Result<Vec<_>, Ec2Error>>()?;
        Ok(describe::reservation(&reservation_id, instances))
    })();
    if let Err(e) = &started {
        let ids: Vec<&str> = made.iter().map(|i| i.instance_id.as_str()).collect();
        if let Err(undo) = super::termination::fail_launch(store, &ids, e) {
            eprintln!(
                "ec2lab: cannot terminate the instances of a failed launch {ids:?}: {}",
                crate::causes::chain(&undo)
            );
        }
    }
    started
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
