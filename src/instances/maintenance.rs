//! Simplified automatic recovery, as EC2 has it (`MaintenanceOptions.AutoRecovery`): when
//! the VMM of a running instance dies (the host's side failed, not the guest), the
//! instance stays `running` with its system status check failed, and unless recovery is
//! `disabled` its supervisor starts a new VMM for it (same id, disks and addresses) after
//! [`super::options::auto_recovery_delay`]. The delay leaves the failure visible for a while, to
//! `describe-instance-status` and to CloudWatch's `StatusCheckFailed_System`, as on EC2.

use super::options::Maintenance;
use super::record::Instance;
use super::state::State;
use crate::ec2::shapes::maintenance::{
    ModifyInstanceMaintenanceOptionsRequest, ModifyInstanceMaintenanceOptionsResult,
};
use crate::error::Ec2Error;
use crate::store::Store;

/// `ModifyInstanceMaintenanceOptions`: applies to the next failure.
pub fn modify_maintenance_options(
    store: &mut Store,
    req: &ModifyInstanceMaintenanceOptionsRequest,
) -> Result<ModifyInstanceMaintenanceOptionsResult, Ec2Error> {
    let id = &req.instance_id;
    Ec2Error::check_instance_ids(std::slice::from_ref(id))?;
    let out = store.write(|tx| -> Result<Maintenance, Ec2Error> {
        let inst = Instance::get(tx, id)?;
        if inst.state == State::Terminated {
            return Err(Ec2Error::incorrect_state(id, inst.state.name(), "modified"));
        }
        let mut m = inst.maintenance;
        if let Some(v) = &req.auto_recovery {
            m.set_auto_recovery(v)?;
        }
        m.save(tx, id)?;
        Ok(m)
    })?;
    Ok(ModifyInstanceMaintenanceOptionsResult {
        instance_id: id.clone(),
        auto_recovery: out.auto_recovery().into(),
    })
}
