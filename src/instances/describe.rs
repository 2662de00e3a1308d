//! What `DescribeInstances` and `RunInstances` show of an instance: its record, its disks,
//! its network interfaces and, while its guest runs, how the guest fares.

use super::housekeeping::housekeeping;
use super::record::{Instance, OWNER_ID};
use super::rundir::RunDir;
use super::state::State;
use super::{disks, guest_status, network};
use crate::ec2::filters::{self, Filter, Filterable};
use crate::ec2::pages::{self, Limits, PageRequest};
use crate::ec2::shapes::instances::{
    self as shapes, DescribeInstancesRequest, DescribeInstancesResult, Reservation,
};
use crate::ec2::tags::Tag;
use crate::error::Ec2Error;
use crate::net::eni::Eni;
use crate::storage::volumes::Volume;
use crate::store::Store;

/// The instance as `DescribeInstances` shows it.
pub fn instance(store: &Store, inst: &Instance) -> Result<shapes::Instance, Ec2Error> {
    let mut shape = inst.to_shape(store.region());
    shape.block_device_mappings = disks::block_device_mappings(store, inst)?;
    network::describe_into(store, inst, &mut shape)?;
    super::spot_requests::describe_into(store.conn(), &mut shape)?;
    Ok(shape)
}

/// Adds the disks and network interfaces to each listed instance's record-only shape:
/// one query for the volumes and one for the interfaces, however many instances.
fn join(store: &Store, records: &[Instance], listed: &mut [Listed]) -> Result<(), Ec2Error> {
    let ids: Vec<&str> = listed
        .iter()
        .map(|l| l.instance.instance_id.as_str())
        .collect();
    let mut volumes = Volume::of_instances(store.conn(), &ids)?;
    let mut enis = Eni::attached_to_each(store.conn(), &ids)?;
    for l in listed {
        let inst = &records[l.record];
        let vols = volumes.remove(&inst.instance_id).unwrap_or_default();
        l.instance.block_device_mappings = disks::block_device_mappings_of(inst, &vols);
        let nics = enis.remove(&inst.instance_id).unwrap_or_default();
        network::describe_with(store, &nics, &mut l.instance);
        super::spot_requests::describe_into(store.conn(), &mut l.instance)?;
    }
    Ok(())
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

/// The filters whose values come from an instance's network interfaces, which
/// [`join`] reads: the others are answered by the record alone.
const NETWORK_FILTERS: &[&str] = &["subnet-id", "vpc-id", "private-ip-address", "ip-address"];

/// An instance with the reservation it belongs to, which the `reservation-id` filter reads.
struct Listed {
    reservation_id: String,
    instance: shapes::Instance,
    /// Its record's index in the records read.
    record: usize,
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
    // Only the rows asked for: by id, those instances alone.
    let records = if req.instance_ids.is_empty() {
        Instance::all(store.conn())?
    } else {
        Instance::with_ids(store.conn(), &req.instance_ids)?
    };
    for id in &req.instance_ids {
        if !records.iter().any(|i| &i.instance_id == id) {
            return Err(Ec2Error::instance_not_found(id));
        }
    }
    let listed = records
        .iter()
        .enumerate()
        .map(|(record, inst)| Listed {
            reservation_id: inst.reservation_id.clone(),
            instance: inst.to_shape(store.region()),
            record,
        })
        .collect();
    // The filters the record alone answers go first, so that only the instances they
    // keep get their volumes and interfaces read; those on network members go after.
    let (late, early): (Vec<Filter>, Vec<Filter>) = req
        .filters
        .iter()
        .cloned()
        .partition(|f| NETWORK_FILTERS.contains(&f.name.as_str()));
    let mut listed = filters::retain(listed, &early)?;
    if !late.is_empty() {
        join(store, &records, &mut listed)?;
        listed = filters::retain(listed, &late)?;
    }
    let (mut page, next_token) = pages::page(
        "DescribeInstances",
        listed,
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
    if late.is_empty() {
        join(store, &records, &mut page)?;
    }
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
