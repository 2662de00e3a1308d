//! Instances: launching, describing and changing them, the way EC2's instance API does.
//! Every change is one store transaction; the per-instance supervisor carries it out.

pub mod attributes;
pub mod capacity;
pub mod cgroup;
pub mod change;
pub mod console;
pub mod describe;
pub mod disks;
pub mod guest_status;
pub mod hibernation;
mod housekeeping;
pub mod interrupted;
pub mod jail;
pub mod maintenance;
pub mod monitor_daemon;
pub mod monitoring;
pub mod network;
pub mod options;
pub mod process;
pub mod record;
pub mod recover;
pub mod run;
pub mod rundir;
pub mod spot;
pub mod spot_launch;
pub mod spot_price;
pub mod spot_requests;
pub mod spot_rows;
pub mod state;
pub mod status;
pub mod supervisor;
pub mod termination;
pub mod types;
pub mod user_data;
pub mod vmm_start;
mod wait;
pub mod warm;
pub mod warm_boot;

use std::time::{Duration, Instant};

use crate::ec2::shapes::images::{CreateImageRequest, CreateImageResult};
use crate::ec2::shapes::instances::{
    GetConsoleOutputRequest, GetConsoleOutputResult, ModifyInstanceMetadataOptionsRequest,
    ModifyInstanceMetadataOptionsResult,
};
use crate::ec2::tags;
use crate::error::Ec2Error;
use crate::images::{self, Image};
use crate::storage::volumes;
use crate::store::{iso8601_now, Store};
pub use attributes::{describe_instance_attribute, modify_instance_attribute};
pub use change::{reboot_instances, start_instances, stop_instances, terminate_instances};
pub use describe::describe_instances;
pub use housekeeping::{housekeeping, resume_state_dir};
pub use monitoring::{monitor_instances, unmonitor_instances};
use record::Instance;
pub use record::MetadataOptions;
use record::RebootPending;
pub use run::run_instances;
use rundir::RunDir;
use state::State;
pub use status::describe_instance_status;
pub use types::DEFAULT_INSTANCE_TYPE;
pub use wait::Waiter;

pub use capacity::HOST_CAPACITY_ENV;
pub use user_data::MAX_USER_DATA;
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
