//! From a member tree (the JSON of the model's member names that the API decodes from the
//! wire and the CLI builds from its flags) to a typed shape, without losing anything: a
//! member the shape has no place for is EC2's `Unsupported`, naming it.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::Ec2Error;

/// A typed request (or part of one, at `path`, e.g. `IpPermissions.1`) from its member
/// tree, the JSON of the model's member names that every front end builds. A value `serde` refuses is EC2's
/// `InvalidParameterValue`; a member of the model that the shape leaves out (something
/// ec2lab does not do) is `Unsupported`, naming it, rather than silently dropped.
pub fn decode<T: DeserializeOwned + Serialize>(
    req: Value,
    path: &str,
    ignored: &[&str],
) -> Result<T, Ec2Error> {
    let typed: T = serde_json::from_value(req.clone())
        .map_err(|e| Ec2Error::invalid_parameter(e.to_string()))?;
    let kept = serde_json::to_value(&typed).map_err(|e| Ec2Error::internal(e.to_string()))?;
    if let Some(path) = dropped(&req, &kept, path, ignored) {
        return Err(Ec2Error::new(
            "Unsupported",
            format!("The parameter {path} is not supported by ec2lab"),
        ));
    }
    Ok(typed)
}

/// The first member path of `req` with a value that `kept` (the request after a trip
/// through its shape) no longer has.
fn dropped(req: &Value, kept: &Value, path: &str, ignored: &[&str]) -> Option<String> {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (req, kept) {
        (Value::Object(r), Value::Object(k)) => r.iter().find_map(|(name, v)| {
            if path.is_empty() && ignored.contains(&name.as_str()) {
                return None;
            }
            match k.get(name) {
                Some(kv) => dropped(v, kv, &join(name), ignored),
                None if is_empty(v) => None,
                None => Some(join(name)),
            }
        }),
        (Value::Array(r), Value::Array(k)) => r
            .iter()
            .zip(k)
            .enumerate()
            .find_map(|(i, (v, kv))| dropped(v, kv, &join(&(i + 1).to_string()), ignored)),
        _ => None,
    }
}

/// Values that ask for nothing: a member ec2lab lacks may carry them (`Encrypted=false`),
/// and shapes may skip them when serializing.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().all(is_empty),
        Value::Object(o) => o.values().all(is_empty),
        Value::Null => true,
        _ => false,
    }
}
