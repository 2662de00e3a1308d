//! `DeleteAutoScalingGroup`, apart from the group records (`groups`) because it also
//! removes what the group's policies made (their target tracking alarms, `policies`),
//! which themselves name groups.

use super::groups::{in_progress, members, not_found, remove_group, Group};
use super::policies;
use super::shapes::DeleteAutoScalingGroupType;
use crate::clock::iso8601_now;
use crate::error::Ec2Error;
use crate::store::Store;

/// `DeleteAutoScalingGroup`: a group with instances is `ResourceInUse` unless
/// `ForceDelete`, which terminates them; the reconciler removes the group once they are
/// gone. Its target tracking alarms go with it.
pub fn delete_auto_scaling_group(
    store: &mut Store,
    req: &DeleteAutoScalingGroupType,
) -> Result<(), Ec2Error> {
    let name = &req.auto_scaling_group_name;
    let (g, deleting) = Group::find(store.conn(), name)?.ok_or_else(|| not_found(name))?;
    if deleting {
        return Err(in_progress(name));
    }
    let live = members(store.conn(), name)?;
    if !live.is_empty() && req.force_delete != Some(true) {
        return Err(Ec2Error::new(
            "ResourceInUse",
            "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group. (Set its desired capacity and minimum to 0 first, or use --force-delete.)",
        ));
    }
    let alarms = policies::group_alarm_names(store.conn(), name)?;
    if live.is_empty() {
        store.write(|tx| remove_group(tx, name))?;
    } else {
        store.write(|tx| {
            tx.execute("UPDATE asg_groups SET deleting = 1 WHERE name = ?1", [name])?;
            let mut g = g.clone();
            g.min = 0;
            g.max = 0;
            g.desired = 0;
            g.desired_cause = format!(
                "At {} a user request deleted the AutoScalingGroup with ForceDelete, terminating its instances.",
                iso8601_now()
            );
            g.save(tx)
        })?;
        crate::instances::monitor_daemon::ensure(store)?;
    }
    policies::delete_alarms(store, alarms)
}
