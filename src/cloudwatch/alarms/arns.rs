//! The actions an alarm may name, as CloudWatch parses them: EC2 actions
//! (`arn:aws:automate:REGION:ec2:stop|terminate|reboot|recover`, and the older
//! `arn:aws:swf:REGION:ACCOUNT:action/actions/AWS_EC2.InstanceId.Stop/1.0` form) and SNS
//! topics (`arn:aws:sns:REGION:ACCOUNT:NAME`) and Auto Scaling policies
//! (`arn:aws:autoscaling:REGION:ACCOUNT:scalingPolicy:...`).

use serde::{Deserialize, Serialize};

use crate::cloudwatch::metrics::validate::validation;
use crate::error::Ec2Error;

/// One action to run on a state change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlarmAction {
    /// An EC2 action on the alarm's instance (its `InstanceId` dimension).
    Ec2 {
        /// The ARN as the alarm names it.
        arn: String,
        /// `stop`, `terminate`, `reboot` or `recover`.
        operation: String,
        /// The instance.
        instance_id: String,
    },
    /// Publish the alarm message to an SNS topic.
    Sns {
        /// The topic's ARN.
        topic_arn: String,
    },
    /// Run an Auto Scaling policy.
    AutoScaling {
        /// The policy's ARN.
        policy_arn: String,
    },
}

impl AlarmAction {
    /// The ARN the alarm names.
    pub fn arn(&self) -> &str {
        match self {
            AlarmAction::Ec2 { arn, .. } => arn,
            AlarmAction::Sns { topic_arn } => topic_arn,
            AlarmAction::AutoScaling { policy_arn } => policy_arn,
        }
    }
}

/// What an ARN names, before the alarm's instance is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An EC2 action: `stop`, `terminate`, `reboot`, `recover`.
    Ec2(String),
    /// An SNS topic.
    Sns,
    /// An Auto Scaling policy.
    AutoScaling,
}

fn bad_arn(arn: &str) -> Ec2Error {
    validation(format!("Invalid arn syntax: {arn}"))
}

fn check_region(arn: &str, region: &str, want: &str) -> Result<(), Ec2Error> {
    if region != want {
        return Err(validation(format!(
            "Invalid region {region} specified in {arn}. Only {want} is supported."
        )));
    }
    Ok(())
}

/// Parses an action ARN of an alarm in `region`; a malformed one is `ValidationError`.
pub fn parse(arn: &str, region: &str) -> Result<Target, Ec2Error> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[1] != "aws" {
        return Err(bad_arn(arn));
    }
    let (service, arn_region, account, resource) = (parts[2], parts[3], parts[4], parts[5]);
    match service {
        "automate" => {
            if account != "ec2" {
                return Err(bad_arn(arn));
            }
            check_region(arn, arn_region, region)?;
            match resource {
                "stop" | "terminate" | "reboot" | "recover" => Ok(Target::Ec2(resource.into())),
                _ => Err(validation(format!(
                    "Invalid EC2 action in {arn}: use stop, terminate, reboot or recover"
                ))),
            }
        }
        "swf" => {
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad_arn(arn));
            }
            check_region(arn, arn_region, region)?;
            let op = match resource {
                "action/actions/AWS_EC2.InstanceId.Stop/1.0" => "stop",
                "action/actions/AWS_EC2.InstanceId.Terminate/1.0" => "terminate",
                "action/actions/AWS_EC2.InstanceId.Reboot/1.0" => "reboot",
                _ => return Err(bad_arn(arn)),
            };
            Ok(Target::Ec2(op.into()))
        }
        "sns" => {
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad_arn(arn));
            }
            let name = resource.strip_suffix(".fifo").unwrap_or(resource);
            if name.is_empty()
                || name.len() > 256
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(bad_arn(arn));
            }
            check_region(arn, arn_region, region)?;
            Ok(Target::Sns)
        }
        "autoscaling" => {
            if account.len() != 12
                || !account.bytes().all(|b| b.is_ascii_digit())
                || !resource.starts_with("scalingPolicy:")
            {
                return Err(bad_arn(arn));
            }
            check_region(arn, arn_region, region)?;
            Ok(Target::AutoScaling)
        }
        _ => Err(bad_arn(arn)),
    }
}

/// The runnable action of a (valid) ARN for an alarm on `instance_id`.
pub fn action(arn: &str, region: &str, instance_id: Option<&str>) -> Option<AlarmAction> {
    match parse(arn, region).ok()? {
        Target::Sns => Some(AlarmAction::Sns {
            topic_arn: arn.into(),
        }),
        Target::AutoScaling => Some(AlarmAction::AutoScaling {
            policy_arn: arn.into(),
        }),
        Target::Ec2(operation) => Some(AlarmAction::Ec2 {
            arn: arn.into(),
            operation,
            instance_id: instance_id?.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_cloudwatch_takes() {
        let r = "lab-1";
        assert_eq!(
            parse("arn:aws:automate:lab-1:ec2:stop", r).unwrap(),
            Target::Ec2("stop".into())
        );
        assert_eq!(
            parse("arn:aws:automate:lab-1:ec2:recover", r).unwrap(),
            Target::Ec2("recover".into())
        );
        assert_eq!(
            parse(
                "arn:aws:swf:lab-1:111122223333:action/actions/AWS_EC2.InstanceId.Reboot/1.0",
                r
            )
            .unwrap(),
            Target::Ec2("reboot".into())
        );
        assert_eq!(
            parse("arn:aws:sns:lab-1:111122223333:ops-mail", r).unwrap(),
            Target::Sns
        );
        for bad in [
            "stop",
            "arn:aws:automate:lab-1:ec2",
            "arn:aws:sns:lab-1:1111:x",
            "arn:aws:sns:lab-1:111122223333:bad name",
            "arn:aws:lambda:lab-1:111122223333:function:f",
            "arn:aws:automate:lab-1:s3:stop",
        ] {
            let e = parse(bad, r).unwrap_err();
            assert_eq!(e.code, "ValidationError", "{bad}");
            assert!(e.message.starts_with("Invalid arn syntax"), "{bad}: {e}");
        }
        let e = parse("arn:aws:automate:lab-1:ec2:explode", r).unwrap_err();
        assert_eq!(e.code, "ValidationError");
        let e = parse("arn:aws:automate:us-east-1:ec2:stop", r).unwrap_err();
        assert!(e.message.contains("Invalid region us-east-1"), "{e}");
        assert_eq!(
            action("arn:aws:automate:lab-1:ec2:stop", r, Some("i-1")),
            Some(AlarmAction::Ec2 {
                arn: "arn:aws:automate:lab-1:ec2:stop".into(),
                operation: "stop".into(),
                instance_id: "i-1".into()
            })
        );
    }
}
