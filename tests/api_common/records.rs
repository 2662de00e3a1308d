//! Instances written straight into a state directory's store through the store's own
//! record type, for tests and benchmarks that need many instances and no VM: each is a
//! stopped instance (no VMM to start, so housekeeping leaves it alone) with its root
//! volume attached, as `stop-instances` leaves one.
#![allow(dead_code)]

use std::path::Path;

use ec2lab::ec2::tags::Tag;
use ec2lab::error::Ec2Error;
use ec2lab::ids::new_id;
use ec2lab::instances::record::{Instance, MetadataOptions, RebootPending};
use ec2lab::instances::state::State;
use ec2lab::store::{iso8601_now, Store};

/// Instance types the records cycle through, with their vCPUs and memory.
const TYPES: &[(&str, u8, u64)] = &[
    ("t2.micro", 1, 1024),
    ("t3.small", 2, 2048),
    ("m5.large", 2, 8192),
];

/// Writes `count` stopped instances of `image_id` in one transaction; instance `i` has
/// the tags `tags(i)`. Returns their ids in order.
pub fn insert_stopped(
    state_dir: &Path,
    region: &str,
    image_id: &str,
    count: usize,
    tags: impl Fn(usize) -> Vec<(String, String)>,
) -> Vec<String> {
    let mut store = Store::open(state_dir, region).unwrap();
    let now = iso8601_now();
    store
        .write(|tx| -> Result<Vec<String>, Ec2Error> {
            let mut ids = Vec::with_capacity(count);
            for i in 0..count {
                let (instance_type, vcpus, mem_mib) = TYPES[i % TYPES.len()];
                let inst = Instance {
                    instance_id: new_id("i"),
                    reservation_id: new_id("r"),
                    launch_index: 0,
                    image_id: image_id.into(),
                    instance_type: instance_type.into(),
                    state: State::Stopped,
                    transition_reason: format!("User initiated ({now})"),
                    state_reason: Some((
                        "Client.UserInitiatedShutdown".into(),
                        "Client.UserInitiatedShutdown: User initiated shutdown".into(),
                    )),
                    launch_time: now.clone(),
                    ended_at: None,
                    key_name: Some("lab".into()),
                    public_key: None,
                    user_data: None,
                    vcpus,
                    mem_mib,
                    warnings: vec![],
                    tags: tags(i).into_iter().map(|(k, v)| Tag::new(k, v)).collect(),
                    security_groups: vec![],
                    subnet_id: None,
                    root_device_name: "/dev/xvda".into(),
                    root_delete_on_termination: true,
                    reboot_pending: RebootPending::No,
                    force_stop: false,
                    vmm_pid: None,
                    vmm_start_ticks: None,
                    boots: 1,
                    last_boot_ms: None,
                    metadata_options: MetadataOptions::default(),
                    monitoring: Default::default(),
                    maintenance: Default::default(),
                    hibernation: Default::default(),
                };
                inst.insert(tx)?;
                tx.execute(
                    "INSERT INTO volumes (volume_id, size_gib, volume_type, availability_zone,
                       state, create_time, instance_id, device, attach_time,
                       delete_on_termination, tags)
                     VALUES (?1, 8, 'gp3', ?2, 'in-use', ?3, ?4, '/dev/xvda', ?3, 1, '[]')",
                    [
                        new_id("vol").as_str(),
                        &format!("{region}a"),
                        &now,
                        &inst.instance_id,
                    ],
                )?;
                ids.push(inst.instance_id);
            }
            Ok(ids)
        })
        .unwrap()
}
