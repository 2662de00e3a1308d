//! EC2-style errors: a code users and scripts match on (`InvalidInstanceID.NotFound`),
//! and a message that says what to do. Printed the way the AWS CLI prints them.
//!
//! Error messages in this crate do not repeat their `#[source]`: whatever turns an error
//! into text for a user walks the chain with [`chain`].

use crate::causes::chain;
use std::borrow::Cow;

use crate::store::StoreError;

/// The AWS CLI's exit code for an error the service returned.
pub const EXIT_SERVICE_ERROR: i32 = 254;

/// An error in EC2's terms, the way the service returns it: a code and a message.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{code}: {message}")]
pub struct Ec2Error {
    /// The code scripts match on, e.g. `InvalidInstanceID.NotFound`.
    pub code: Cow<'static, str>,
    /// What went wrong and what to do, for a person.
    pub message: String,
}

impl Ec2Error {
    /// An error with any code; prefer the named constructors below where one fits.
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Ec2Error {
            code: code.into(),
            message: message.into(),
        }
    }

    /// `InvalidParameterValue`: a parameter has a value the action cannot take.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValue", message)
    }

    /// `MissingParameter`: a required parameter (`name`) was not given.
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            "MissingParameter",
            format!("The request must contain the parameter {name}"),
        )
    }

    /// `Invalid<Kind>ID.Malformed` unless `id` looks like `prefix-` and hex digits.
    pub fn check_id(id: &str, prefix: &str, kind: &str) -> Result<(), Self> {
        if crate::ids::is_valid(id, prefix) {
            return Ok(());
        }
        Err(Self::new(
            format!("Invalid{kind}ID.Malformed"),
            format!("Invalid id: \"{id}\" (expecting \"{prefix}-...\")"),
        ))
    }

    /// `MissingParameter` for no ids, `InvalidInstanceID.Malformed` for one that is not
    /// an instance id.
    pub fn check_instance_ids(ids: &[String]) -> Result<(), Self> {
        if ids.is_empty() {
            return Err(Self::missing_parameter("InstanceIds"));
        }
        for id in ids {
            Self::check_id(id, "i", "Instance")?;
        }
        Ok(())
    }

    /// `InvalidInstanceID.NotFound`.
    pub fn instance_not_found(id: &str) -> Self {
        Self::new(
            "InvalidInstanceID.NotFound",
            format!("The instance ID '{id}' does not exist"),
        )
    }

    /// `InvalidAMIID.NotFound`.
    pub fn image_not_found(id: &str) -> Self {
        Self::new(
            "InvalidAMIID.NotFound",
            format!("The image id '[{id}]' does not exist"),
        )
    }

    /// `IncorrectInstanceState`: instance `id` is `state`, and cannot be `wanted` from there.
    pub fn incorrect_state(id: &str, state: &str, wanted: &str) -> Self {
        Self::new(
            "IncorrectInstanceState",
            format!("The instance '{id}' is not in a state from which it can be {wanted}: it is {state}"),
        )
    }

    /// `InternalError`: ec2lab or the host failed, not the request.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("InternalError", message)
    }

    /// The AWS CLI's wording, with the operation name (e.g. `StopInstances`).
    pub fn cli_message(&self, operation: &str) -> String {
        format!(
            "An error occurred ({}) when calling the {operation} operation: {}",
            self.code, self.message
        )
    }
}

impl From<StoreError> for Ec2Error {
    fn from(e: StoreError) -> Self {
        Ec2Error::internal(chain(&e))
    }
}

impl From<rusqlite::Error> for Ec2Error {
    fn from(e: rusqlite::Error) -> Self {
        Ec2Error::from(StoreError::from(e))
    }
}

impl From<std::io::Error> for Ec2Error {
    fn from(e: std::io::Error) -> Self {
        Ec2Error::internal(format!("a host file operation failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_the_aws_cli() {
        let e = Ec2Error::instance_not_found("i-0123456789abcdef0");
        assert_eq!(
            e.cli_message("StopInstances"),
            "An error occurred (InvalidInstanceID.NotFound) when calling the StopInstances operation: The instance ID 'i-0123456789abcdef0' does not exist"
        );
    }

    #[test]
    fn store_errors_keep_their_cause() {
        let e = Ec2Error::from(StoreError::Sql(rusqlite::Error::InvalidQuery));
        assert!(e.message.starts_with("The state database failed: "), "{e}");
        assert!(e.message.len() > "The state database failed: ".len(), "{e}");
    }
}
