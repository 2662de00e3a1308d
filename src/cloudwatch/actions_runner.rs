//! Runs what an alarm's state change asks for: EC2 actions through the same instance
//! services the CLI and the API call (stop, terminate, reboot; recover = a fresh VMM for
//! the same instance), and SNS notifications with CloudWatch's alarm message. Each
//! action's outcome goes into the alarm's history as an `Action` item, success or
//! failure with its reason, as CloudWatch's history shows it.

use super::alarms::{self, AlarmAction, AlarmTransition};
use crate::ec2::shapes::instances::{
    RebootInstancesRequest, StopInstancesRequest, TerminateInstancesRequest,
};
use crate::error::Ec2Error;
use crate::instances;
use crate::store::Store;

/// Runs one action of a transition; the error says why it failed.
pub fn run_action(
    store: &mut Store,
    t: &AlarmTransition,
    action: &AlarmAction,
) -> Result<(), Ec2Error> {
    match action {
        AlarmAction::Ec2 {
            operation,
            instance_id,
            ..
        } => {
            let ids = vec![instance_id.clone()];
            match operation.as_str() {
                "stop" => instances::stop_instances(
                    store,
                    &StopInstancesRequest {
                        instance_ids: ids,
                        force: false,
                        hibernate: None,
                    },
                )
                .map(drop),
                "terminate" => instances::terminate_instances(
                    store,
                    &TerminateInstancesRequest { instance_ids: ids },
                )
                .map(drop),
                "reboot" => instances::reboot_instances(
                    store,
                    &RebootInstancesRequest { instance_ids: ids },
                ),
                "recover" => instances::recover::recover_instance(store, instance_id),
                other => Err(Ec2Error::internal(format!(
                    "ec2lab has no EC2 alarm action {other:?}"
                ))),
            }
        }
        AlarmAction::Sns { topic_arn } => {
            crate::sns::publish(store, topic_arn, Some(&t.subject), &t.message).map(drop)
        }
        AlarmAction::AutoScaling { policy_arn } => match super::extension::get() {
            Some(x) => x.scaling_action(store, policy_arn, t),
            None => Err(Ec2Error::internal(
                "this process has no Auto Scaling to run the policy (only the monitor daemon runs alarm actions)",
            )),
        },
    }
}

/// Runs every action of `t` and records each outcome in the alarm's history. Returns the
/// failures (action ARN, reason) for the daemon's log; a failure never stops the others.
pub fn run_transition(store: &mut Store, t: &AlarmTransition) -> Vec<(String, String)> {
    let mut failures = Vec::new();
    for action in &t.actions {
        let outcome = run_action(store, t, action);
        let (ok, detail) = match &outcome {
            Ok(()) => (true, String::new()),
            Err(e) => (false, format!("{}: {}", e.code, e.message)),
        };
        if let Err(e) = alarms::record_action(store, t, action.arn(), ok, &detail) {
            failures.push((
                action.arn().to_string(),
                format!("its outcome could not be recorded: {e}"),
            ));
        }
        if !ok {
            failures.push((action.arn().to_string(), detail));
        }
    }
    failures
}
