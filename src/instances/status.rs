//! DescribeInstanceStatus: EC2's two status checks, from what ec2lab really knows. The
//! system check is the host's side: the instance's VMM process is alive. The instance
//! check is the guest's own, read from its console's current boot
//! ([`GuestStatus`](super::guest_status::GuestStatus)): `ok` once the image printed its ready
//! marker, `impaired` when its user data failed or a program crashed, `initializing`
//! before.

use super::guest_status::GuestStatus;
use super::housekeeping::housekeeping;
use super::process;
use super::record::Instance;
use super::rundir::RunDir;
use super::state::State;
use crate::ec2::filters;
use crate::ec2::pages::{self, Limits, PageRequest};
use crate::ec2::shapes::instance_status::{
    DescribeInstanceStatusRequest, DescribeInstanceStatusResult, InstanceStatus,
    InstanceStatusSummary,
};
use crate::error::Ec2Error;
use crate::store::Store;

/// `DescribeInstanceStatus`: running instances (every state with `IncludeAllInstances`),
/// named ones or all, through the filters. A named instance that is not running is left
/// out, as on EC2; one that does not exist is an error.
pub fn describe_instance_status(
    store: &mut Store,
    req: &DescribeInstanceStatusRequest,
) -> Result<DescribeInstanceStatusResult, Ec2Error> {
    for id in &req.instance_ids {
        Ec2Error::check_id(id, "i", "Instance")?;
    }
    filters::check::<InstanceStatus>(&req.filters)?;
    pages::refuse_ids_with_max_results(
        "instancesSet",
        !req.instance_ids.is_empty(),
        req.max_results,
    )?;
    housekeeping(store)?;
    let all = Instance::all(store.conn())?;
    for id in &req.instance_ids {
        if !all.iter().any(|i| &i.instance_id == id) {
            return Err(Ec2Error::instance_not_found(id));
        }
    }
    let include_all = req.include_all_instances.unwrap_or(false);
    let listed = all
        .iter()
        .filter(|i| req.instance_ids.is_empty() || req.instance_ids.contains(&i.instance_id))
        .filter(|i| include_all || i.state == State::Running)
        .map(|i| status_of(store, i))
        .collect();
    // Launch order, as DescribeInstances pages.
    let order = |id: &str| {
        all.iter()
            .find(|i| i.instance_id == id)
            .map(|i| pages::key(&[&i.launch_time, &i.reservation_id, &i.instance_id]))
            .unwrap_or_default()
    };
    let (instance_statuses, next_token) = pages::page(
        "DescribeInstanceStatus",
        filters::retain(listed, &req.filters)?,
        |s: &InstanceStatus| order(&s.instance_id),
        PageRequest::new(req.max_results, &req.next_token),
        Limits::between(5, 1000),
    )?;
    Ok(DescribeInstanceStatusResult {
        instance_statuses,
        next_token,
    })
}

/// One instance's checks.
fn status_of(store: &Store, inst: &Instance) -> InstanceStatus {
    let vmm_alive = match (inst.vmm_pid, inst.vmm_start_ticks) {
        (Some(pid), Some(ticks)) => process::alive(pid, ticks),
        _ => false,
    };
    let (system, instance) = match inst.state {
        State::Running if vmm_alive => {
            let console = RunDir(store.instance_dir(&inst.instance_id)).console();
            ("ok", GuestStatus::read(&console).status())
        }
        // Running without a live VMM: the host failed it (a reboot's restart shows this
        // for a moment too); the guest cannot be judged.
        State::Running => ("impaired", "insufficient-data"),
        State::Pending => ("initializing", "initializing"),
        _ => ("not-applicable", "not-applicable"),
    };
    let mut system_status = InstanceStatusSummary::of(system);
    // Since when its VMM is gone (until the automatic recovery's new VMM runs); a death
    // its supervisor has not recorded yet (it polls every 250 ms) counts from now.
    if system == "impaired" {
        if let Some(d) = system_status.details.first_mut() {
            let ms = inst
                .maintenance
                .impaired_since_ms
                .unwrap_or_else(crate::clock::now_ms);
            d.impaired_since = Some(crate::clock::iso8601(ms / 1000, (ms % 1000) as u32));
        }
    }
    InstanceStatus {
        availability_zone: format!("{}a", store.region()),
        instance_id: inst.instance_id.clone(),
        instance_state: inst.state.to_shape(),
        instance_status: InstanceStatusSummary::of(instance),
        system_status,
    }
}
