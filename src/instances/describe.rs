//! What `DescribeInstances` and `RunInstances` show of an instance: its record, its disks,
//! its network interfaces and, while its guest runs, how the guest fares.

use super::housekeeping::housekeeping;
use super::record::{Instance, OWNER_ID};
use super::rundir::RunDir;
use super::state::State;
use super::{disks, guest_status, network};
use crate::ec2::filters::{self, Filterable};
use crate::ec2::pages::{self, Limits, PageRequest};
use crate::ec2::shapes::instances::{
    self as shapes, DescribeInstancesRequest, DescribeInstancesResult, Reservation,
};
use crate::ec2::tags::Tag;
use crate::error::Ec2Error;
use crate::store::Store;

/// The instance as `DescribeInstances` shows it.
pub fn instance(store: &Store, inst: &Instance) -> Result<shapes::Instance, Ec2Error> {
    let mut shape = inst.to_shape(store.region());
    shape.block_device_mappings = disks::block_device_mappings(store, inst)?;
    network::describe_into(store, inst, &mut shape)?;
    Ok(shape)
}

/// A reservation of instances that were launched together.
pub fn reservation(reservation_id: &str, instances: Vec<shapes::Instance>) -> Reservation {
    Reservation {
        groups: vec![],
        instances,
        owner_id: OWNER_ID.into(),
        reservation_id: reservation_id.into(),
    }
}

/// An instance with the reservation it belongs to, which the `reservation-id` filter reads.
struct Listed {
    reservation_id: String,
    instance: shapes::Instance,
}

impl Filterable for Listed {
    const FILTERS: &'static [&'static str] = &[
        "instance-state-name",
        "instance-state-code",
        "instance-id",
        "instance-type",
        "image-id",
        "reservation-id",
        "key-name",
        "subnet-id",
        "vpc-id",
        "private-ip-address",
        "ip-address",
    ];

    fn filter_values(&self, name: &str) -> Vec<String> {
        match name {
            "reservation-id" => vec![self.reservation_id.clone()],
            other => self.instance.filter_values(other),
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.instance.tags
    }
}

/// `DescribeInstances`: terminated instances stay visible for an hour; naming an instance
/// that does not exist is an error. Pages count instances, in launch order; each page
/// groups its instances by reservation.
pub fn describe_instances(
    store: &mut Store,
    req: &DescribeInstancesRequest,
) -> Result<DescribeInstancesResult, Ec2Error> {
    for id in &req.instance_ids {
        Ec2Error::check_id(id, "i", "Instance")?;
    }
    // Unknown filter names are errors even when nothing would be filtered.
    filters::check::<Listed>(&req.filters)?;
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
    let mut listed = Vec::new();
    for inst in &all {
        if !req.instance_ids.is_empty() && !req.instance_ids.contains(&inst.instance_id) {
            continue;
        }
        listed.push(Listed {
            reservation_id: inst.reservation_id.clone(),
            instance: instance(store, inst)?,
        });
    }
    let (page, next_token) = pages::page(
        "DescribeInstances",
        filters::retain(listed, &req.filters)?,
        // Launch order, a reservation's instances together by launch index.
        |l| {
            pages::key(&[
                &l.instance.launch_time,
                &l.reservation_id,
                &format!("{:06}", l.instance.ami_launch_index),
                &l.instance.instance_id,
            ])
        },
        PageRequest::new(req.max_results, &req.next_token),
        Limits::between(5, 1000),
    )?;
    let mut reservations: Vec<Reservation> = Vec::new();
    for mut l in page {
        // Only a live guest has a current boot to judge (its console keeps earlier ones).
        let live = [State::Pending, State::Running].map(State::code);
        if live.contains(&l.instance.state.code) {
            let console = RunDir(store.instance_dir(&l.instance.instance_id)).console();
            l.instance.ec2_lab_info.guest_status =
                Some(guest_status::GuestStatus::read(&console).to_shape());
        }
        match reservations
            .iter_mut()
            .find(|r| r.reservation_id == l.reservation_id)
        {
            Some(r) => r.instances.push(l.instance),
            None => reservations.push(reservation(&l.reservation_id, vec![l.instance])),
        }
    }
    Ok(DescribeInstancesResult {
        reservations,
        next_token,
    })
}
