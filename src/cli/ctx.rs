//! What every CLI verb shares: where it runs ([`Ctx`]), how it fails ([`Failure`]), and the
//! parsing of the list parameters many verbs take (`--filters`, `--tag-specifications`)
//! into the EC2 core's typed shapes.

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::shorthand;
use crate::ec2::filters::Filter;
use crate::ec2::tags::TagSpecification;
use crate::error::Ec2Error;
use crate::instances;
use crate::store::Store;

/// The AWS CLI's exit code for a parameter it could not parse.
pub const EXIT_PARAM_ERROR: i32 = 252;

/// Failures of a verb: a service error, or a parameter that did not parse.
pub enum Failure {
    /// The service refused or failed: printed with its EC2 code, exit code 254.
    Service(Ec2Error),
    /// A parameter did not parse: printed as is, exit code 252.
    Param(String),
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Service(e) => write!(f, "Service({}: {})", e.code, e.message),
            Failure::Param(m) => write!(f, "Param({m})"),
        }
    }
}

impl From<Ec2Error> for Failure {
    fn from(e: Ec2Error) -> Self {
        Failure::Service(e)
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Failure::Service(e.into())
    }
}

impl From<shorthand::ShorthandError> for Failure {
    fn from(e: shorthand::ShorthandError) -> Self {
        Failure::Param(e.to_string())
    }
}

/// Where a verb runs: the store of the chosen region.
pub struct Ctx {
    /// The state directory (`--state-dir`).
    pub state_dir: PathBuf,
    /// The region (`--region`): a separate state root under the state directory.
    pub region: String,
    /// `--dry-run`: check the request, answer `DryRunOperation`, change nothing.
    pub dry_run: bool,
}

impl Ctx {
    /// The region's store, as it is.
    pub fn store(&self) -> Result<Store, Ec2Error> {
        Ok(Store::open(&self.state_dir, &self.region)?)
    }

    /// Under `--dry-run`, EC2's answer to a request that would have been carried out:
    /// called by each verb once it has read its request (every parameter parsed into the
    /// typed request, ids well formed) and before it opens the store, so that nothing
    /// changes. Without `--dry-run`, nothing.
    pub fn answer_dry_run<T: Serialize>(&self, request: &T) -> Result<(), Failure> {
        if !self.dry_run {
            return Ok(());
        }
        check_ids(&to_json(request)?)?;
        Err(Failure::Service(Ec2Error::new(
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        )))
    }

    /// The store after housekeeping (expired records gone, supervisors and the host's
    /// network in step with it), as most verbs want it.
    pub fn tidy_store(&self) -> Result<Store, Ec2Error> {
        let mut store = self.store()?;
        instances::housekeeping(&mut store)?;
        Ok(store)
    }
}

/// The id members of requests, with the prefix and the error kind the services check
/// them with (`Ec2Error::check_id`).
const ID_MEMBERS: &[(&str, &str, &str)] = &[
    ("InstanceId", "i", "Instance"),
    ("InstanceIds", "i", "Instance"),
    ("ImageId", "ami", "AMI"),
    ("ImageIds", "ami", "AMI"),
    ("SourceImageId", "ami", "AMI"),
    ("VolumeId", "vol", "Volume"),
    ("VolumeIds", "vol", "Volume"),
    ("SnapshotId", "snap", "Snapshot"),
    ("SnapshotIds", "snap", "Snapshot"),
    ("SubnetId", "subnet", "Subnet"),
    ("NetworkInterfaceId", "eni", "NetworkInterface"),
    ("NetworkInterfaceIds", "eni", "NetworkInterface"),
];

/// Every id of a request (as JSON, at any depth) that has one of [`ID_MEMBERS`]'s names
/// is well formed, or EC2's `Invalid…ID.Malformed`.
fn check_ids(v: &Value) -> Result<(), Ec2Error> {
    match v {
        Value::Object(m) => {
            m.iter().try_for_each(
                |(k, v)| match ID_MEMBERS.iter().find(|(name, _, _)| name == k) {
                    Some((_, prefix, kind)) => {
                        let ids = match v {
                            Value::Array(a) => a.iter().collect(),
                            other => vec![other],
                        };
                        ids.into_iter()
                            .filter_map(Value::as_str)
                            .try_for_each(|id| Ec2Error::check_id(id, prefix, kind))
                    }
                    None => check_ids(v),
                },
            )
        }
        Value::Array(a) => a.iter().try_for_each(check_ids),
        _ => Ok(()),
    }
}

/// A service's result as the JSON the CLI prints (the aws CLI's JSON: the model's member
/// names).
pub fn to_json<T: Serialize>(result: &T) -> Result<Value, Failure> {
    serde_json::to_value(result)
        .map_err(|e| Failure::Service(Ec2Error::internal(format!("result to JSON: {e}"))))
}

/// Reads one element of a list parameter (shorthand or JSON) into its shape, as the AWS CLI
/// converts parameters by the model; a value of the wrong type is a parameter error.
fn from_param<T: DeserializeOwned>(param: &str, value: Value) -> Result<T, Failure> {
    serde_json::from_value(value)
        .map_err(|e| Failure::Param(format!("Error parsing parameter '{param}': {e}")))
}

/// `--filters`: `Name=…,Values=…` entries (shorthand or JSON) as the core's [`Filter`]s.
pub fn filters_from(raw: &[String]) -> Result<Vec<Filter>, Failure> {
    let mut out = Vec::new();
    for mut f in shorthand::parse_list(raw).map_err(|e| e.with_param("--filters"))? {
        // Shorthand `Values=running` is one string; the model's member is a list.
        if let Some(values) = f.get_mut("Values") {
            *values = Value::Array(shorthand::as_list(values));
        }
        let filter: Filter = from_param("--filters", f)?;
        if filter.name.is_empty() {
            return Err(Failure::Param(
                "Error parsing parameter '--filters': each filter needs Name=…,Values=…".into(),
            ));
        }
        out.push(filter);
    }
    Ok(out)
}

/// `--tag-specifications`: `ResourceType=…,Tags=[{Key=…,Value=…}]` entries as the core's
/// [`TagSpecification`]s; the service picks and checks them (`ec2::tags::for_resource`).
pub fn tag_specifications(raw: &[String]) -> Result<Vec<TagSpecification>, Failure> {
    shorthand::parse_list(raw)
        .map_err(|e| e.with_param("--tag-specifications"))?
        .into_iter()
        .map(|mut spec| {
            if let Some(tags) = spec.get_mut("Tags") {
                *tags = Value::Array(shorthand::as_list(tags));
            }
            from_param("--tag-specifications", spec)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::tags::Tag;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn filters_read_shorthand_and_json() {
        let f = filters_from(&strings(&[
            "Name=instance-state-name,Values=running,stopped",
            "Name=tag:Name,Values=web",
            r#"[{"Name":"image-id","Values":["ami-1"]}]"#,
        ]))
        .unwrap();
        assert_eq!(
            f,
            vec![
                Filter::new("instance-state-name", &["running", "stopped"]),
                Filter::new("tag:Name", &["web"]),
                Filter::new("image-id", &["ami-1"]),
            ]
        );
        assert!(matches!(
            filters_from(&strings(&["Values=x"])),
            Err(Failure::Param(_))
        ));
        assert!(matches!(
            filters_from(&strings(&["Name=x]"])),
            Err(Failure::Param(_))
        ));
    }

    #[test]
    fn dry_run_checks_ids_then_answers_dry_run_operation() {
        let ctx = |dry_run| Ctx {
            state_dir: PathBuf::from("/nonexistent"),
            region: "lab-1".into(),
            dry_run,
        };
        let req = serde_json::json!({"InstanceIds": ["i-0123456789abcdef0"], "Filters": []});
        ctx(false).answer_dry_run(&req).unwrap();
        match ctx(true).answer_dry_run(&req) {
            Err(Failure::Service(e)) => {
                assert_eq!(e.code, "DryRunOperation");
                assert_eq!(
                    e.cli_message("StopInstances"),
                    "An error occurred (DryRunOperation) when calling the StopInstances \
                     operation: Request would have succeeded, but DryRun flag is set."
                );
            }
            other => panic!("{other:?}"),
        }
        let bad = serde_json::json!({"InstanceIds": ["i-1", "bogus"]});
        match ctx(true).answer_dry_run(&bad) {
            Err(Failure::Service(e)) => assert_eq!(e.code, "InvalidInstanceID.Malformed"),
            other => panic!("{other:?}"),
        }
        let nested = serde_json::json!({"Spec": [{"ImageId": "vol-0123456789abcdef0"}]});
        match ctx(true).answer_dry_run(&nested) {
            Err(Failure::Service(e)) => assert_eq!(e.code, "InvalidAMIID.Malformed"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tag_specifications_read_shorthand() {
        let s = tag_specifications(&strings(&[
            "ResourceType=instance,Tags=[{Key=Name,Value=web},{Key=env,Value=lab}]",
        ]))
        .unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].resource_type, "instance");
        assert_eq!(
            s[0].tags,
            vec![Tag::new("Name", "web"), Tag::new("env", "lab")]
        );
    }
}
