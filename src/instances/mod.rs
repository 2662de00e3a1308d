//! Instances: launching, describing and changing them, the way EC2's instance API does.
//! Every change is one store transaction; the per-instance supervisor carries it out.

pub mod console;
pub mod disks;
pub mod guest_status;
pub mod network;
pub mod process;
pub mod record;
pub mod state;
pub mod supervisor;
pub mod types;
mod wait;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::error::Ec2Error;
use crate::fsutil;
use crate::ids;
use crate::images::{self, Image};
use crate::storage::volumes::{self, Attachment, NewVolume, VolumeSource};
use crate::store::{iso8601_now, Store};
use crate::vmm::host;
pub use record::MetadataOptions;
use record::{Instance, OWNER_ID};
use state::{Action, State};
use supervisor::RunDir;
pub use wait::{wait, Waiter};

/// EC2's limit on user data, before base64.
pub const MAX_USER_DATA: usize = 16 * 1024;
/// Host memory ec2lab leaves to the host itself when placing instances.
const HOST_RESERVE_MIB: u64 = 1024;

/// What `run-instances` asks for.
#[derive(Clone, Debug, Default)]
pub struct LaunchRequest {
    pub image_id: String,
    pub instance_type: String,
    pub min_count: u32,
    pub max_count: u32,
    pub key_name: Option<String>,
    pub security_group_ids: Vec<String>,
    pub subnet_id: Option<String>,
    pub user_data: Option<Vec<u8>>,
    pub tags: Vec<(String, String)>,
    pub root_volume_gib: Option<u64>,
    pub root_delete_on_termination: Option<bool>,
    /// None: the subnet's default (on in the default subnet).
    pub associate_public_ip: Option<bool>,
    pub metadata_options: MetadataOptions,
}

pub use crate::ec2::filters::Filter;

/// EC2 filter values may use `*` (any run) and `?` (one character).
pub fn glob(pattern: &str, text: &str) -> bool {
    fn m(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], t) || (!t.is_empty() && m(p, &t[1..])),
            (Some(b'?'), Some(_)) => m(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &t[1..]),
            _ => false,
        }
    }
    m(pattern.as_bytes(), text.as_bytes())
}

/// The instance filters ec2lab knows, besides `tag:<key>`.
const FILTERS: &[&str] = &[
    "instance-state-name",
    "instance-state-code",
    "instance-id",
    "instance-type",
    "image-id",
    "reservation-id",
    "key-name",
    "tag-key",
];

fn unknown_filter(name: &str) -> Ec2Error {
    Ec2Error::invalid_parameter(format!(
        "The filter '{name}' is invalid; ec2lab knows {} and tag:<key>",
        FILTERS.join(", ")
    ))
}

fn filter_matches(inst: &Instance, f: &Filter) -> Result<bool, Ec2Error> {
    let any = |v: Option<&str>| v.is_some_and(|v| f.values.iter().any(|p| glob(p, v)));
    Ok(match f.name.as_str() {
        "instance-state-name" => any(Some(inst.state.name())),
        "instance-state-code" => any(Some(&inst.state.code().to_string())),
        "instance-id" => any(Some(&inst.instance_id)),
        "instance-type" => any(Some(&inst.instance_type)),
        "image-id" => any(Some(&inst.image_id)),
        "reservation-id" => any(Some(&inst.reservation_id)),
        "key-name" => any(inst.key_name.as_deref()),
        "tag-key" => inst.tags.iter().any(|(k, _)| any(Some(k))),
        name if name.starts_with("tag:") => any(inst.tag(&name[4..])),
        other => return Err(unknown_filter(other)),
    })
}

fn check_instance_ids(ids_: &[String]) -> Result<(), Ec2Error> {
    if ids_.is_empty() {
        return Err(Ec2Error::missing_parameter("InstanceIds"));
    }
    for id in ids_ {
        Ec2Error::check_id(id, "i", "Instance")?;
    }
    Ok(())
}

/// Memory the host has for instances, and what running ones already hold.
fn capacity(store: &Store) -> Result<(u64, u64), Ec2Error> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kib| kib / 1024)
        .unwrap_or(0);
    let used: u64 = Instance::all(store.conn())?
        .iter()
        .filter(|i| i.state.has_vmm())
        .map(|i| i.mem_mib)
        .sum();
    Ok((total.saturating_sub(HOST_RESERVE_MIB), used))
}

fn check_capacity(store: &Store, ty: &types::InstanceType, count: u32) -> Result<(), Ec2Error> {
    let (budget, used) = capacity(store)?;
    let need = ty.mem_mib * u64::from(count);
    if used + need > budget {
        return Err(Ec2Error::new(
            "InsufficientInstanceCapacity",
            format!(
                "We currently do not have sufficient {} capacity: {count} instance(s) need {need} MiB \
                 of memory; this host has {budget} MiB for instances and {used} MiB of it is in use. \
                 Choose a smaller instance type or stop instances",
                ty.name
            ),
        ));
    }
    Ok(())
}

/// Removes terminated instances older than an hour and makes sure every live instance
/// has its supervisor. Every command starts with this.
pub fn housekeeping(store: &mut Store) -> Result<(), Ec2Error> {
    for inst in Instance::all(store.conn())? {
        if inst.expired() {
            store.write(|tx| Instance::delete(tx, &inst.instance_id))?;
            let _ = std::fs::remove_dir_all(store.instance_dir(&inst.instance_id));
        }
    }
    supervisor::ensure_all(store)?;
    // The host's bridges and firewall follow the store: after a host reboot or a flush of
    // the nftables rules, the next command puts them back; idle bridges go down.
    let running = Instance::all(store.conn())?
        .iter()
        .any(|i| i.state.has_vmm());
    crate::net::follow_store(store, running)
}

/// One `Instances[]` element: the record, its disks and its network.
pub fn describe_one(store: &Store, inst: &Instance) -> Result<Value, Ec2Error> {
    let mut v = inst.describe(store.region(), disks::block_device_mappings(store, inst)?);
    if let Some(Value::Object(net)) = network::describe(store, inst)? {
        for (k, val) in net {
            v[k] = val;
        }
    }
    Ok(v)
}

fn transition_json(id: &str, prev: State, cur: State) -> Value {
    json!({"InstanceId": id, "CurrentState": cur.json(), "PreviousState": prev.json()})
}

pub fn run_instances(store: &mut Store, req: &LaunchRequest) -> Result<Value, Ec2Error> {
    let ty = types::find(&req.instance_type).ok_or_else(|| {
        Ec2Error::invalid_parameter(format!(
            "Invalid value '{}' for InstanceType; see describe-instance-types",
            req.instance_type
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
    if req.min_count == 0 || req.max_count < req.min_count {
        return Err(Ec2Error::invalid_parameter(format!(
            "Count {}:{} is not valid: the minimum must be at least 1 and not above the maximum",
            req.min_count, req.max_count
        )));
    }
    if let Some(ud) = &req.user_data {
        if ud.len() > MAX_USER_DATA {
            return Err(Ec2Error::invalid_parameter(format!(
                "User data is limited to {MAX_USER_DATA} bytes; this is {} bytes",
                ud.len()
            )));
        }
    }
    req.metadata_options.validate()?;
    // As many as fit, but at least min_count (EC2's --count min:max).
    let (budget, used) = capacity(store)?;
    let fit = (budget.saturating_sub(used) / ty.mem_mib) as u32;
    let count = req.max_count.min(fit.max(req.min_count));
    check_capacity(store, ty, count)?;

    let flavor = host::detect();
    let effective = if flavor.supports_smp() { ty.vcpus } else { 1 };
    let mut warnings = Vec::new();
    if effective < ty.vcpus {
        warnings.push(format!(
            "{} has {} vCPUs, but this host's KVM ({}) cannot start secondary vCPUs in a Linux guest: the instance runs on 1 vCPU",
            ty.name,
            ty.vcpus,
            flavor.name()
        ));
    }
    let (subnet, groups) =
        network::placement(store, req.subnet_id.as_deref(), &req.security_group_ids)?;
    crate::net::check_overlaps(store, &subnet.vpc_id)?;
    let public = req.associate_public_ip.unwrap_or(subnet.map_public_ip);
    let reservation_id = ids::new_id("r");
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
                user_data: req.user_data.clone(),
                vcpus: ty.vcpus,
                effective_vcpus: effective,
                mem_mib: ty.mem_mib,
                warnings: warnings.clone(),
                tags: req.tags.clone(),
                security_groups: groups.clone(),
                subnet_id: Some(subnet.subnet_id.clone()),
                root_device_name: image.root_device_name.clone(),
                root_delete_on_termination: req.root_delete_on_termination.unwrap_or(true),
                reboot_pending: 0,
                force_stop: false,
                vmm_pid: None,
                vmm_start_ticks: None,
                boots: 0,
                last_boot_ms: None,
                metadata_options: req.metadata_options.clone(),
            };
            prepare_run_dir(store, &image, &inst)?;
            made.push(inst);
            volumes::create(
                store,
                &NewVolume {
                    size_gib: req.root_volume_gib,
                    volume_type: "gp3",
                    iops: None,
                    availability_zone: &format!("{}a", store.region()),
                    source: Some(VolumeSource::File(&image.root_path(store))),
                    tags: vec![],
                },
                Some(Attachment {
                    instance_id: made.last().expect("just pushed").instance_id.clone(),
                    device: image.root_device_name.clone(),
                    attach_time: launch_time.clone(),
                    delete_on_termination: req.root_delete_on_termination.unwrap_or(true),
                }),
            )?;
        }
        store.write(|tx| -> Result<(), Ec2Error> {
            for inst in &made {
                inst.insert(tx)?;
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
    for inst in &made {
        supervisor::ensure(store, &inst.instance_id)?;
    }
    Ok(json!({
        "Groups": [],
        "Instances": made
            .iter()
            .map(|i| describe_one(store, i))
            .collect::<Result<Vec<_>, Ec2Error>>()?,
        "OwnerId": OWNER_ID,
        "ReservationId": reservation_id,
    }))
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

pub fn describe_instances(
    store: &mut Store,
    instance_ids: &[String],
    filters: &[Filter],
) -> Result<Value, Ec2Error> {
    housekeeping(store)?;
    let all = Instance::all(store.conn())?;
    // Unknown filter names are errors even when nothing would be filtered.
    for f in filters {
        if !FILTERS.contains(&f.name.as_str()) && !f.name.starts_with("tag:") {
            return Err(unknown_filter(&f.name));
        }
    }
    for id in instance_ids {
        if !all.iter().any(|i| &i.instance_id == id) {
            return Err(Ec2Error::instance_not_found(id));
        }
    }
    let mut reservations: Vec<(String, Vec<Value>)> = Vec::new();
    for inst in &all {
        if !instance_ids.is_empty() && !instance_ids.contains(&inst.instance_id) {
            continue;
        }
        let mut keep = true;
        for f in filters {
            keep &= filter_matches(inst, f)?;
        }
        if !keep {
            continue;
        }
        let mut v = describe_one(store, inst)?;
        // Only a live guest has a current boot to judge (its console keeps earlier ones).
        if matches!(inst.state, State::Pending | State::Running) {
            let console = RunDir(store.instance_dir(&inst.instance_id)).console();
            v["Ec2LabInfo"]["GuestStatus"] = guest_status::GuestStatus::read(&console).describe();
        }
        match reservations
            .iter_mut()
            .find(|(r, _)| *r == inst.reservation_id)
        {
            Some((_, list)) => list.push(v),
            None => reservations.push((inst.reservation_id.clone(), vec![v])),
        }
    }
    Ok(json!({
        "Reservations": reservations.into_iter().map(|(r, list)| json!({
            "Groups": [], "Instances": list, "OwnerId": OWNER_ID, "ReservationId": r,
        })).collect::<Vec<_>>()
    }))
}

/// Applies a user action to every instance in one transaction: all or none.
fn change(
    store: &mut Store,
    instance_ids: &[String],
    action: Action,
    force: bool,
) -> Result<Vec<Value>, Ec2Error> {
    check_instance_ids(instance_ids)?;
    let now = iso8601_now();
    let out = store.write(|tx| -> Result<Vec<Value>, Ec2Error> {
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
                if action == Action::Start {
                    // A fresh automatic public address at every start, as on AWS.
                    crate::net::eni::assign_auto_public(tx, id)?;
                }
                cur = next;
            }
            if action == Action::Reboot {
                Instance::set_reboot_pending(tx, id, 1)?;
            }
            out.push(transition_json(id, inst.state, cur));
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

pub fn start_instances(store: &mut Store, instance_ids: &[String]) -> Result<Value, Ec2Error> {
    check_instance_ids(instance_ids)?;
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
    let out = change(store, instance_ids, Action::Start, false)?;
    Ok(json!({ "StartingInstances": out }))
}

pub fn stop_instances(
    store: &mut Store,
    instance_ids: &[String],
    force: bool,
) -> Result<Value, Ec2Error> {
    let out = change(store, instance_ids, Action::Stop, force)?;
    Ok(json!({ "StoppingInstances": out }))
}

pub fn reboot_instances(store: &mut Store, instance_ids: &[String]) -> Result<Value, Ec2Error> {
    change(store, instance_ids, Action::Reboot, false)?;
    Ok(Value::Null)
}

pub fn terminate_instances(store: &mut Store, instance_ids: &[String]) -> Result<Value, Ec2Error> {
    let out = change(store, instance_ids, Action::Terminate, false)?;
    Ok(json!({ "TerminatingInstances": out }))
}

/// `modify-instance-metadata-options`: applies to the next metadata request at once.
pub fn modify_metadata_options(
    store: &mut Store,
    id: &str,
    http_tokens: Option<&str>,
    http_endpoint: Option<&str>,
    hop_limit: Option<i64>,
) -> Result<Value, Ec2Error> {
    let inst = Instance::get(store.conn(), id)?;
    if inst.state == State::Terminated {
        return Err(Ec2Error::incorrect_state(id, inst.state.name(), "modified"));
    }
    let mut o = inst.metadata_options.clone();
    if let Some(t) = http_tokens {
        o.http_tokens = t.into();
    }
    if let Some(e) = http_endpoint {
        o.http_endpoint = e.into();
    }
    if let Some(h) = hop_limit {
        o.http_put_response_hop_limit = h;
    }
    o.validate()?;
    store.write(|tx| Instance::set_metadata_options(tx, id, &o))?;
    Ok(json!({"InstanceId": id, "InstanceMetadataOptions": o.describe()}))
}

/// The last 64 KiB of the console, as EC2 keeps.
pub fn console_output(store: &mut Store, id: &str) -> Result<Value, Ec2Error> {
    check_instance_ids(&[id.to_string()])?;
    Instance::get(store.conn(), id)?;
    let bytes = std::fs::read(RunDir(store.instance_dir(id)).console()).unwrap_or_default();
    let tail = &bytes[bytes.len().saturating_sub(64 * 1024)..];
    Ok(json!({
        "InstanceId": id,
        "Timestamp": iso8601_now(),
        "Output": String::from_utf8_lossy(tail),
    }))
}

/// `create-image`: a crash-consistent copy of the instance's root disk becomes an AMI.
/// A running instance is shut down and started again around the copy, unless
/// `no_reboot`, in which case its vCPUs are paused for the copy instead.
pub fn create_image(
    store: &mut Store,
    id: &str,
    name: &str,
    description: &str,
    no_reboot: bool,
) -> Result<Value, Ec2Error> {
    check_instance_ids(&[id.to_string()])?;
    let inst = Instance::get(store.conn(), id)?;
    let run = RunDir(store.instance_dir(id));
    let snapshot = run.path("image-copy.img");
    let source = Image::load(store.conn(), &inst.image_id)?;
    let root = disks::root_volume(store, &inst)?;
    match inst.state {
        State::Stopped => disks::freeze_copy(store, &root, &snapshot)?,
        State::Running if no_reboot => disks::freeze_copy(store, &root, &snapshot)?,
        State::Running => {
            store.write(|tx| Instance::set_reboot_pending(tx, id, 2))?;
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
                disks::freeze_copy(store, &root, &snapshot)
            } else {
                Err(Ec2Error::new(
                    "IncorrectInstanceState",
                    format!(
                        "{id} did not shut down for the image; try --no-reboot or stop it first"
                    ),
                ))
            };
            // Let the supervisor boot it again whatever happened.
            store.write(|tx| Instance::set_reboot_pending(tx, id, 1))?;
            copied?;
        }
        other => {
            return Err(Ec2Error::incorrect_state(id, other.name(), "imaged"));
        }
    }
    let initrd = run.path("initrd");
    let result = images::register(
        store,
        &images::Registration {
            name,
            description,
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
            take_root: true,
        },
    );
    let _ = std::fs::remove_file(&snapshot);
    let image = result?;
    Ok(json!({ "ImageId": image.image_id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_like_ec2_filters() {
        assert!(glob("run*", "running"));
        assert!(glob("?unning", "running"));
        assert!(glob("*", ""));
        assert!(!glob("stop", "stopped"));
        assert!(glob("i-*f0", "i-0123456789abcdef0"));
    }
}
