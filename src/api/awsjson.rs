//! AWS JSON 1.0 for the services that speak it besides their Query protocol (CloudWatch:
//! `X-Amz-Target: GraniteServiceVersion20100801.<Action>`): the request and the result
//! are JSON objects of the model's member names; timestamps are epoch seconds on the wire
//! and ISO 8601 text for the handlers (see [`super::timestamps`]). Errors are
//! `{"__type": CODE, "message": …}`; a model marked `awsQueryCompatible` also sends
//! `x-amzn-query-error: CODE;Sender`, from which botocore takes the Query protocol's code.

use serde_json::{Map, Value};

use super::awsquery::ParamCodes;
use super::timestamps;
use crate::ec2::model::{Kind, Model, Shape};
use crate::error::Ec2Error;

/// An AWS JSON body as the JSON object of the action's members (an empty body is `{}`);
/// anything else is `SerializationException`.
pub fn json_object(body: &[u8]) -> Result<Value, Ec2Error> {
    let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| {
            Ec2Error::new(
                "SerializationException",
                format!("The body is not JSON: {e}"),
            )
        })?
    };
    if !request.is_object() {
        return Err(Ec2Error::new(
            "SerializationException",
            "The body must be a JSON object of the action's members",
        ));
    }
    Ok(request)
}

/// The request of an action from its JSON body, checked and typed by the input shape.
pub fn decode(
    model: &Model,
    input: Option<&str>,
    body: &[u8],
    codes: ParamCodes,
) -> Result<Value, Ec2Error> {
    let request = json_object(body)?;
    match input {
        Some(input) => inbound(model, model.shape(input), request, "", codes),
        None => Ok(request),
    }
}

fn inbound(
    model: &Model,
    shape: &Shape,
    v: Value,
    path: &str,
    codes: ParamCodes,
) -> Result<Value, Ec2Error> {
    let at = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    let wrong = |what: &str| {
        Ec2Error::new(
            codes.invalid,
            format!(
                "The value of {} must be {what}",
                if path.is_empty() { "the request" } else { path }
            ),
        )
    };
    Ok(match shape.kind {
        Kind::Structure => {
            let Value::Object(obj) = v else {
                return Err(wrong("an object"));
            };
            for name in &shape.required {
                if obj.get(name).is_none_or(Value::is_null) {
                    return Err(Ec2Error::new(
                        codes.missing,
                        format!("The request must contain the parameter {}", at(name)),
                    ));
                }
            }
            let mut out = Map::new();
            for (k, child) in obj {
                if child.is_null() {
                    continue;
                }
                let Some(member) = shape.members.iter().find(|m| m.name == k) else {
                    return Err(Ec2Error::new(
                        codes.invalid,
                        format!("The parameter {} is not recognized", at(&k)),
                    ));
                };
                let c = inbound(model, model.shape(&member.shape), child, &at(&k), codes)?;
                out.insert(k, c);
            }
            Value::Object(out)
        }
        Kind::List => {
            let Value::Array(items) = v else {
                return Err(wrong("a list"));
            };
            let element = model.shape(&shape.member.as_ref().expect("a list").shape);
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| inbound(model, element, item, &at(&(i + 1).to_string()), codes))
                .collect::<Result<Vec<_>, _>>()?
                .into()
        }
        Kind::Map => {
            let Value::Object(obj) = v else {
                return Err(wrong("an object"));
            };
            let vshape = model.shape(&shape.value.as_ref().expect("a map").shape);
            let mut out = Map::new();
            for (k, child) in obj {
                let c = inbound(model, vshape, child, &at(&k), codes)?;
                out.insert(k, c);
            }
            Value::Object(out)
        }
        Kind::Timestamp => {
            let ms = match &v {
                Value::Number(_) | Value::String(_) => timestamps::value_ms(&v),
                _ => None,
            }
            .ok_or_else(|| wrong("a timestamp (epoch seconds)"))?;
            Value::String(timestamps::iso_ms(ms))
        }
        Kind::String | Kind::Blob => {
            if !v.is_string() {
                return Err(wrong("a string"));
            }
            v
        }
        Kind::Boolean => {
            if !v.is_boolean() {
                return Err(wrong("true or false"));
            }
            v
        }
        Kind::Integer | Kind::Long => {
            if !(v.is_i64() || v.is_u64()) {
                return Err(wrong("an integer"));
            }
            v
        }
        Kind::Double | Kind::Float => {
            if !v.is_number() {
                return Err(wrong("a number"));
            }
            v
        }
    })
}

/// The result as AWS JSON sends it: members of the output shape only, no nulls,
/// timestamps as epoch seconds.
pub fn response(model: &Model, action: &str, result: &Value) -> String {
    let out = model
        .operations
        .get(action)
        .and_then(|op| op.output.as_deref())
        .map_or_else(
            || Value::Object(Map::new()),
            |o| outbound(model, model.shape(o), result),
        );
    out.to_string()
}

fn outbound(model: &Model, shape: &Shape, v: &Value) -> Value {
    match shape.kind {
        Kind::Structure => {
            let mut out = Map::new();
            if let Value::Object(obj) = v {
                for m in &shape.members {
                    match obj.get(&m.name) {
                        None | Some(Value::Null) => {}
                        Some(c) => {
                            out.insert(m.name.clone(), outbound(model, model.shape(&m.shape), c));
                        }
                    }
                }
            }
            Value::Object(out)
        }
        Kind::List => {
            let element = model.shape(&shape.member.as_ref().expect("a list").shape);
            Value::Array(
                v.as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| outbound(model, element, i))
                    .collect(),
            )
        }
        Kind::Map => {
            let vshape = model.shape(&shape.value.as_ref().expect("a map").shape);
            Value::Object(
                v.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, i)| (k.clone(), outbound(model, vshape, i)))
                    .collect(),
            )
        }
        Kind::Timestamp => timestamps::value_ms(v).map_or(Value::Null, timestamps::epoch_seconds),
        _ => v.clone(),
    }
}

/// The error body.
pub fn error(err: &Ec2Error) -> String {
    serde_json::json!({ "__type": err.code, "message": err.message }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::services::Service;
    use serde_json::json;

    const CODES: ParamCodes = ParamCodes {
        invalid: "InvalidParameterValue",
        missing: "MissingParameter",
    };

    #[test]
    fn timestamps_are_epoch_seconds_on_the_wire() {
        let m = Service::CloudWatch.model();
        let v = decode(
            m,
            Some("GetMetricStatisticsInput"),
            br#"{"Namespace":"AWS/EC2","MetricName":"CPUUtilization","StartTime":1796310000,
                 "EndTime":1796313600.5,"Period":60,"Statistics":["Average"]}"#,
            CODES,
        )
        .unwrap();
        assert_eq!(v["StartTime"], "2026-12-03T15:00:00.000Z");
        assert_eq!(v["EndTime"], "2026-12-03T16:00:00.500Z");
        let out = response(
            m,
            "GetMetricStatistics",
            &json!({"Label": "x", "Datapoints": [{"Timestamp": "2026-12-03T15:00:00.000Z", "Sum": 2.0}], "Extra": 1}),
        );
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap(),
            json!({"Label": "x", "Datapoints": [{"Timestamp": 1796310000, "Sum": 2.0}]})
        );
        let e = decode(
            m,
            Some("GetMetricStatisticsInput"),
            br#"{"Namespace":"n"}"#,
            CODES,
        )
        .unwrap_err();
        assert_eq!(e.code, "MissingParameter");
        let e = decode(
            m,
            Some("ListMetricsInput"),
            br#"{"Namespace":"n","Bogus":1}"#,
            CODES,
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        let e = decode(m, Some("ListMetricsInput"), br#"{"Namespace":5}"#, CODES).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
    }
}
