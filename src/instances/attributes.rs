//! DescribeInstanceAttribute and ModifyInstanceAttribute: one attribute at a time, as on
//! EC2. The instance type and the user data change only while the instance is stopped
//! (its next VMM gets them); the security groups change at once.

use base64ct::{Base64, Encoding};

use super::record::Instance;
use super::state::State;
use super::{describe, network, types, user_data};
use crate::ec2::shapes::instance_attributes::{
    AttributeBooleanValue, AttributeValue, DescribeInstanceAttributeRequest, InstanceAttribute,
    ModifyInstanceAttributeRequest,
};
use crate::error::Ec2Error;
use crate::store::Store;

/// The attribute names EC2 has that ec2lab has no value for.
const UNSUPPORTED: &[&str] = &["productCodes", "sriovNetSupport", "enclaveOptions"];

/// `DescribeInstanceAttribute`: the one attribute asked for.
pub fn describe_instance_attribute(
    store: &Store,
    req: &DescribeInstanceAttributeRequest,
) -> Result<InstanceAttribute, Ec2Error> {
    let id = &req.instance_id;
    Ec2Error::check_id(id, "i", "Instance")?;
    let inst = Instance::get(store.conn(), id)?;
    let mut out = InstanceAttribute {
        instance_id: id.clone(),
        ..Default::default()
    };
    let no = || Some(AttributeBooleanValue::of(false));
    match req.attribute.as_str() {
        "instanceType" => out.instance_type = Some(AttributeValue::of(&inst.instance_type)),
        "userData" => {
            out.user_data = Some(AttributeValue {
                value: inst.user_data.as_deref().map(Base64::encode_string),
            })
        }
        "rootDeviceName" => out.root_device_name = Some(AttributeValue::of(&inst.root_device_name)),
        "groupSet" => out.groups = Some(describe::instance(store, &inst)?.security_groups),
        "blockDeviceMapping" => {
            out.block_device_mappings =
                Some(describe::instance(store, &inst)?.block_device_mappings)
        }
        "disableApiTermination" => out.disable_api_termination = no(),
        "disableApiStop" => out.disable_api_stop = no(),
        // A guest that powers itself off is stopped, not terminated (instances::state).
        "instanceInitiatedShutdownBehavior" => {
            out.instance_initiated_shutdown_behavior = Some(AttributeValue::of("stop"))
        }
        "ebsOptimized" => out.ebs_optimized = no(),
        "enaSupport" => out.ena_support = no(),
        "sourceDestCheck" => out.source_dest_check = Some(AttributeBooleanValue::of(true)),
        "kernel" => out.kernel_id = Some(AttributeValue::default()),
        "ramdisk" => out.ramdisk_id = Some(AttributeValue::default()),
        a if UNSUPPORTED.contains(&a) => {
            return Err(Ec2Error::new(
                "Unsupported",
                format!("The instance attribute {a} is not supported by ec2lab"),
            ))
        }
        other => return Err(unknown_attribute(other)),
    }
    Ok(out)
}

fn unknown_attribute(name: &str) -> Ec2Error {
    Ec2Error::invalid_parameter(format!(
        "Value ({name}) for parameter attribute is invalid. Unknown attribute."
    ))
}

/// What one `ModifyInstanceAttribute` call changes.
enum Change {
    InstanceType(String),
    UserData(String),
    Groups(Vec<String>),
}

impl Change {
    /// The one change the request asks for: EC2 takes exactly one attribute per call.
    fn of(req: &ModifyInstanceAttributeRequest) -> Result<Change, Ec2Error> {
        let mut changes = Vec::new();
        if let Some(v) = req.instance_type.as_ref().and_then(|a| a.value.clone()) {
            changes.push(Change::InstanceType(v));
        }
        if let Some(v) = req.user_data.as_ref().and_then(|a| a.value.clone()) {
            changes.push(Change::UserData(v));
        }
        if !req.groups.is_empty() {
            changes.push(Change::Groups(req.groups.clone()));
        }
        if let Some(a) = &req.attribute {
            let value = req
                .value
                .clone()
                .ok_or_else(|| Ec2Error::missing_parameter("Value"))?;
            changes.push(match a.as_str() {
                "instanceType" => Change::InstanceType(value),
                "userData" => Change::UserData(value),
                "groupSet" => {
                    return Err(Ec2Error::invalid_parameter(
                        "groupSet takes GroupId.N (--groups), not Value",
                    ))
                }
                other if describable(other) => {
                    return Err(Ec2Error::new(
                        "Unsupported",
                        format!(
                            "Changing the instance attribute {other} is not supported by ec2lab"
                        ),
                    ))
                }
                other => return Err(unknown_attribute(other)),
            });
        }
        match changes.len() {
            1 => Ok(changes.remove(0)),
            0 => Err(Ec2Error::missing_parameter(
                "Attribute (or InstanceType, UserData, GroupId)",
            )),
            _ => Err(Ec2Error::new(
                "InvalidParameterCombination",
                "Only one attribute can be modified at a time",
            )),
        }
    }
}

/// Names `describe_instance_attribute` knows (so a change of one is Unsupported, not unknown).
fn describable(name: &str) -> bool {
    UNSUPPORTED.contains(&name)
        || [
            "kernel",
            "ramdisk",
            "rootDeviceName",
            "blockDeviceMapping",
            "disableApiTermination",
            "disableApiStop",
            "instanceInitiatedShutdownBehavior",
            "ebsOptimized",
            "enaSupport",
            "sourceDestCheck",
        ]
        .contains(&name)
}

/// The instance must be stopped for a change its running VMM cannot take.
fn require_stopped(inst: &Instance) -> Result<(), Ec2Error> {
    if inst.state == State::Stopped {
        return Ok(());
    }
    Err(Ec2Error::new(
        "IncorrectInstanceState",
        format!(
            "The instance '{}' is not in the 'stopped' state (it is {}): stop it first",
            inst.instance_id,
            inst.state.name()
        ),
    ))
}

/// `ModifyInstanceAttribute`: a new instance type or user data for a stopped instance
/// (checked before anything changes), or new security groups at once.
pub fn modify_instance_attribute(
    store: &mut Store,
    req: &ModifyInstanceAttributeRequest,
) -> Result<(), Ec2Error> {
    let id = &req.instance_id;
    Ec2Error::check_id(id, "i", "Instance")?;
    let change = Change::of(req)?;
    let inst = Instance::get(store.conn(), id)?;
    match change {
        Change::Groups(groups) => {
            if inst.state == State::Terminated {
                return Err(Ec2Error::incorrect_state(id, inst.state.name(), "modified"));
            }
            network::set_groups(store, &inst, &groups)
        }
        Change::InstanceType(name) => {
            let ty = types::find(&name).ok_or_else(|| {
                Ec2Error::invalid_parameter(format!(
                    "Invalid value '{name}' for InstanceType; see describe-instance-types"
                ))
            })?;
            network::check_interface_count(store, &inst, ty.name)?;
            // The state is checked in the transaction that changes it: a start between a
            // check and the change would boot the old type.
            store.write(|tx| {
                require_stopped(&Instance::get(tx, id)?)?;
                Instance::set_type(tx, id, ty)
            })
        }
        Change::UserData(b64) => {
            let data = user_data::decode(&b64)?;
            let data = (!data.is_empty()).then_some(data);
            store.write(|tx| {
                require_stopped(&Instance::get(tx, id)?)?;
                Instance::set_user_data(tx, id, data.as_deref())
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(f: impl FnOnce(&mut ModifyInstanceAttributeRequest)) -> ModifyInstanceAttributeRequest {
        let mut r = ModifyInstanceAttributeRequest {
            instance_id: "i-0123456789abcdef0".into(),
            ..Default::default()
        };
        f(&mut r);
        r
    }

    #[test]
    fn one_change_per_call() {
        let t = req(|r| r.instance_type = Some(AttributeValue::of("t2.small")));
        assert!(matches!(Change::of(&t), Ok(Change::InstanceType(n)) if n == "t2.small"));
        let old_form = req(|r| {
            r.attribute = Some("userData".into());
            r.value = Some("IyEvYmluL3No".into());
        });
        assert!(matches!(Change::of(&old_form), Ok(Change::UserData(v)) if v == "IyEvYmluL3No"));
        let g = req(|r| r.groups = vec!["sg-0123456789abcdef0".into()]);
        assert!(matches!(Change::of(&g), Ok(Change::Groups(_))));

        let none = Change::of(&req(|_| {})).err().unwrap();
        assert_eq!(none.code, "MissingParameter");
        let two = req(|r| {
            r.instance_type = Some(AttributeValue::of("t2.small"));
            r.groups = vec!["sg-0123456789abcdef0".into()];
        });
        assert_eq!(
            Change::of(&two).err().unwrap().code,
            "InvalidParameterCombination"
        );
        let no_value = req(|r| r.attribute = Some("instanceType".into()));
        assert_eq!(
            Change::of(&no_value).err().unwrap().code,
            "MissingParameter"
        );
        let other = req(|r| {
            r.attribute = Some("ebsOptimized".into());
            r.value = Some("true".into());
        });
        assert_eq!(Change::of(&other).err().unwrap().code, "Unsupported");
        let unknown = req(|r| {
            r.attribute = Some("colour".into());
            r.value = Some("blue".into());
        });
        let e = Change::of(&unknown).err().unwrap();
        assert_eq!(e.code, "InvalidParameterValue");
        assert!(e.message.contains("Unknown attribute"), "{e}");
    }
}
