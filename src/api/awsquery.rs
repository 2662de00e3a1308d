//! The awsQuery protocol of CloudWatch and SNS (botocore's `QuerySerializer` and
//! `QueryParser`), which differs from EC2's: parameters are named by member name (or
//! `locationName`), lists are `Name.member.N`, maps `Name.entry.N.key`/`.value`; answers are
//! `<XResponse xmlns=…><XResult>…</XResult><ResponseMetadata><RequestId>`, lists
//! `<member>` elements, maps `<entry><key/><value/></entry>`; errors `<ErrorResponse>`.
//! Timestamps are ISO 8601 both ways.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::timestamps;
use super::xml::Xml;
use crate::ec2::model::{Kind, Member, Model, Shape};
use crate::error::Ec2Error;

/// A parameter tree before it is typed.
enum Node {
    Leaf(String),
    Struct(BTreeMap<String, Node>),
    List(BTreeMap<u32, Node>),
    /// Entries by index: the key's text and the value.
    Map(BTreeMap<u32, (Option<String>, Option<Node>)>),
}

/// The codes a service answers bad parameters with.
#[derive(Clone, Copy, Debug)]
pub struct ParamCodes {
    /// A parameter the action does not take, or a value of the wrong type.
    pub invalid: &'static str,
    /// A required parameter that is missing.
    pub missing: &'static str,
}

fn unknown(codes: ParamCodes, key: &str) -> Ec2Error {
    Ec2Error::new(
        codes.invalid,
        format!("The parameter {key} is not recognized"),
    )
}

/// Decodes the form parameters of one action (without `Action` and `Version`) against its
/// input shape into a JSON object keyed by member names.
pub fn decode(
    model: &Model,
    input: Option<&str>,
    params: &[(String, String)],
    codes: ParamCodes,
) -> Result<Value, Ec2Error> {
    let Some(input) = input else {
        return match params.first() {
            Some((k, _)) => Err(unknown(codes, k)),
            None => Ok(Value::Object(Map::new())),
        };
    };
    let shape = model.shape(input);
    let mut root = BTreeMap::new();
    for (key, value) in params {
        let segments: Vec<&str> = key.split('.').collect();
        insert_struct(model, shape, &mut root, &segments, value)
            .ok_or_else(|| unknown(codes, key))?;
    }
    typed(model, shape, Node::Struct(root), "", codes)
}

fn member_name(m: &Member) -> &str {
    m.location_name.as_deref().unwrap_or(&m.name)
}

fn empty(shape: &Shape) -> Node {
    match shape.kind {
        Kind::Structure => Node::Struct(BTreeMap::new()),
        Kind::List => Node::List(BTreeMap::new()),
        Kind::Map => Node::Map(BTreeMap::new()),
        _ => Node::Leaf(String::new()),
    }
}

fn insert_struct(
    model: &Model,
    shape: &Shape,
    members: &mut BTreeMap<String, Node>,
    segs: &[&str],
    value: &str,
) -> Option<()> {
    let (first, rest) = segs.split_first()?;
    let member = shape.members.iter().find(|m| member_name(m) == *first)?;
    let mshape = model.shape(&member.shape);
    let slot = members
        .entry(member.name.clone())
        .or_insert_with(|| empty(mshape));
    insert_value(model, mshape, slot, rest, value)
}

/// Places `value` at `segs` below a node of `shape`.
fn insert_value(
    model: &Model,
    shape: &Shape,
    slot: &mut Node,
    segs: &[&str],
    value: &str,
) -> Option<()> {
    match (shape.kind, slot) {
        (Kind::Structure, Node::Struct(m)) => insert_struct(model, shape, m, segs, value),
        (Kind::List, Node::List(items)) => {
            let element = shape.member.as_ref()?;
            let segs = if shape.flattened {
                segs
            } else {
                let (tag, rest) = segs.split_first()?;
                (*tag == element.location_name.as_deref().unwrap_or("member")).then_some(rest)?
            };
            let (index, rest) = segs.split_first()?;
            let index: u32 = index.parse().ok().filter(|&i| i >= 1)?;
            let eshape = model.shape(&element.shape);
            let child = items.entry(index).or_insert_with(|| empty(eshape));
            insert_value(model, eshape, child, rest, value)
        }
        (Kind::Map, Node::Map(entries)) => {
            let segs = if shape.flattened {
                segs
            } else {
                let (tag, rest) = segs.split_first()?;
                (*tag == "entry").then_some(rest)?
            };
            let (index, rest) = segs.split_first()?;
            let index: u32 = index.parse().ok().filter(|&i| i >= 1)?;
            let (kname, vname) = (
                shape
                    .key
                    .as_ref()?
                    .location_name
                    .as_deref()
                    .unwrap_or("key"),
                shape
                    .value
                    .as_ref()?
                    .location_name
                    .as_deref()
                    .unwrap_or("value"),
            );
            let (part, rest) = rest.split_first()?;
            let entry = entries.entry(index).or_insert((None, None));
            if *part == kname && rest.is_empty() {
                entry.0 = Some(value.to_string());
                Some(())
            } else if *part == vname {
                let vshape = model.shape(&shape.value.as_ref()?.shape);
                let child = entry.1.get_or_insert_with(|| empty(vshape));
                insert_value(model, vshape, child, rest, value)
            } else {
                None
            }
        }
        (_, slot @ Node::Leaf(_)) if segs.is_empty() => {
            *slot = Node::Leaf(value.to_string());
            Some(())
        }
        _ => None,
    }
}

fn typed(
    model: &Model,
    shape: &Shape,
    node: Node,
    path: &str,
    codes: ParamCodes,
) -> Result<Value, Ec2Error> {
    let join = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    Ok(match node {
        Node::Struct(members) => {
            for name in &shape.required {
                if !members.contains_key(name) {
                    return Err(Ec2Error::new(
                        codes.missing,
                        format!("The request must contain the parameter {}", join(name)),
                    ));
                }
            }
            let mut out = Map::new();
            for (name, child) in members {
                let member = shape
                    .members
                    .iter()
                    .find(|m| m.name == name)
                    .expect("the tree holds model members only");
                let v = typed(
                    model,
                    model.shape(&member.shape),
                    child,
                    &join(member_name(member)),
                    codes,
                )?;
                out.insert(name, v);
            }
            Value::Object(out)
        }
        Node::List(items) => {
            let element = model.shape(&shape.member.as_ref().expect("a list").shape);
            let mut out = Vec::with_capacity(items.len());
            for (i, child) in items {
                out.push(typed(model, element, child, &join(&i.to_string()), codes)?);
            }
            Value::Array(out)
        }
        Node::Map(entries) => {
            let vshape = model.shape(&shape.value.as_ref().expect("a map").shape);
            let mut out = Map::new();
            for (i, (k, v)) in entries {
                let at = join(&format!("entry.{i}"));
                let k = k.ok_or_else(|| {
                    Ec2Error::new(codes.missing, format!("The map entry {at} has no key"))
                })?;
                let v = match v {
                    Some(v) => typed(model, vshape, v, &at, codes)?,
                    None => Value::String(String::new()),
                };
                out.insert(k, v);
            }
            Value::Object(out)
        }
        Node::Leaf(text) => match shape.kind {
            Kind::Timestamp => {
                let ms = timestamps::parse_ms(&text).ok_or_else(|| {
                    Ec2Error::new(
                        codes.invalid,
                        format!("Value ({text}) for parameter {path} is invalid. Expected an ISO 8601 timestamp."),
                    )
                })?;
                Value::String(timestamps::iso_ms(ms))
            }
            kind => super::query::scalar(kind, &text, path).map_err(|e| Ec2Error {
                code: codes.invalid.into(),
                ..e
            })?,
        },
    })
}

/// The answer to `action`: the result (keyed by the output shape's member names) under
/// the operation's result wrapper, then the request id.
pub fn response(model: &Model, action: &str, request_id: &str, result: &Value) -> String {
    let root = format!("{action}Response");
    let mut w = Xml::new();
    w.start_ns(&root, model.metadata.xml_namespace.as_deref());
    if let Some(op) = model.operations.get(action) {
        if let Some(output) = op.output.as_deref() {
            let wrapper = op
                .result_wrapper
                .clone()
                .unwrap_or_else(|| format!("{action}Result"));
            w.start(&wrapper);
            members(&mut w, model, model.shape(output), result);
            w.end(&wrapper);
        }
    }
    w.start("ResponseMetadata");
    w.text_element("RequestId", request_id);
    w.end("ResponseMetadata");
    w.end(&root);
    w.finish()
}

/// The awsQuery error document: `Sender` for the client's errors, `Receiver` for ours.
pub fn error(model: &Model, err: &Ec2Error, sender: bool, request_id: &str) -> String {
    let mut w = Xml::new();
    w.start_ns("ErrorResponse", model.metadata.xml_namespace.as_deref());
    w.start("Error");
    w.text_element("Type", if sender { "Sender" } else { "Receiver" });
    w.text_element("Code", &err.code);
    w.text_element("Message", &err.message);
    w.end("Error");
    w.text_element("RequestId", request_id);
    w.end("ErrorResponse");
    w.finish()
}

fn members(w: &mut Xml, model: &Model, shape: &Shape, value: &Value) {
    let Value::Object(obj) = value else { return };
    for m in &shape.members {
        let Some(v) = obj.get(&m.name) else { continue };
        if v.is_null() {
            continue;
        }
        let mshape = model.shape(&m.shape);
        let name = member_name(m);
        match mshape.kind {
            Kind::List if mshape.flattened => {
                let element = mshape.member.as_ref().expect("a list");
                let ename = element.location_name.as_deref().unwrap_or(name);
                for item in v.as_array().into_iter().flatten() {
                    node(w, model, model.shape(&element.shape), ename, item);
                }
            }
            Kind::Map if mshape.flattened => {
                for (k, item) in v.as_object().into_iter().flatten() {
                    w.start(name);
                    entry(w, model, mshape, k, item);
                    w.end(name);
                }
            }
            _ => node(w, model, mshape, name, v),
        }
    }
}

fn entry(w: &mut Xml, model: &Model, map: &Shape, k: &str, v: &Value) {
    let key = map.key.as_ref().expect("a map");
    let value = map.value.as_ref().expect("a map");
    w.text_element(key.location_name.as_deref().unwrap_or("key"), k);
    node(
        w,
        model,
        model.shape(&value.shape),
        value.location_name.as_deref().unwrap_or("value"),
        v,
    );
}

fn node(w: &mut Xml, model: &Model, shape: &Shape, name: &str, value: &Value) {
    match shape.kind {
        Kind::Structure => {
            w.start(name);
            members(w, model, shape, value);
            w.end(name);
        }
        Kind::List => {
            let element = shape.member.as_ref().expect("a list");
            let item_name = element.location_name.as_deref().unwrap_or("member");
            let eshape = model.shape(&element.shape);
            w.start(name);
            for item in value.as_array().into_iter().flatten() {
                node(w, model, eshape, item_name, item);
            }
            w.end(name);
        }
        Kind::Map => {
            w.start(name);
            for (k, v) in value.as_object().into_iter().flatten() {
                w.start("entry");
                entry(w, model, shape, k, v);
                w.end("entry");
            }
            w.end(name);
        }
        Kind::Timestamp => {
            let text = match timestamps::value_ms(value) {
                Some(ms) => timestamps::iso_ms(ms),
                None => value.as_str().unwrap_or_default().to_string(),
            };
            w.text_element(name, &text);
        }
        _ => {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            w.text_element(name, &text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::services::Service;
    use serde_json::json;

    const CODES: ParamCodes = ParamCodes {
        invalid: "InvalidParameter",
        missing: "InvalidParameter",
    };

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn maps_lists_and_structures() {
        let m = Service::Sns.model();
        let v = decode(
            m,
            Some("CreateTopicInput"),
            &params(&[
                ("Name", "alerts"),
                ("Attributes.entry.1.key", "DisplayName"),
                ("Attributes.entry.1.value", "Alerts"),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", "ops"),
            ]),
            CODES,
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"Name": "alerts", "Attributes": {"DisplayName": "Alerts"},
                   "Tags": [{"Key": "team", "Value": "ops"}]})
        );
        let v = decode(
            m,
            Some("PublishInput"),
            &params(&[
                ("TopicArn", "arn:aws:sns:lab-1:111122223333:t"),
                ("Message", "hi"),
                ("MessageAttributes.entry.1.Name", "k"),
                ("MessageAttributes.entry.1.Value.DataType", "String"),
                ("MessageAttributes.entry.1.Value.StringValue", "v"),
            ]),
            CODES,
        )
        .unwrap();
        assert_eq!(
            v["MessageAttributes"],
            json!({"k": {"DataType": "String", "StringValue": "v"}})
        );
        for bad in [
            "Bogus",
            "Tags.1.Key",
            "Attributes.entry.x.key",
            "Name.member.1",
        ] {
            let e = decode(
                m,
                Some("CreateTopicInput"),
                &params(&[("Name", "t"), (bad, "v")]),
                CODES,
            )
            .unwrap_err();
            assert_eq!(e.code, "InvalidParameter", "{bad}");
        }
        let e = decode(m, Some("CreateTopicInput"), &[], CODES).unwrap_err();
        assert_eq!(e.message, "The request must contain the parameter Name");
    }

    #[test]
    fn answers_and_errors() {
        let m = Service::Sns.model();
        let xml = response(
            m,
            "ListTopics",
            "r-1",
            &json!({"Topics": [{"TopicArn": "arn:a"}], "NextToken": null}),
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <ListTopicsResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
             <ListTopicsResult><Topics><member><TopicArn>arn:a</TopicArn></member></Topics>\
             </ListTopicsResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>\
             </ListTopicsResponse>"
        );
        let xml = response(
            m,
            "GetTopicAttributes",
            "r",
            &json!({"Attributes": {"Owner": "1"}}),
        );
        assert!(
            xml.contains(
                "<Attributes><entry><key>Owner</key><value>1</value></entry></Attributes>"
            ),
            "{xml}"
        );
        let xml = response(m, "DeleteTopic", "r", &json!({}));
        assert!(xml.contains("<DeleteTopicResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><ResponseMetadata>"), "{xml}");
        let e = Ec2Error::new("NotFound", "Topic does not exist");
        assert_eq!(
            error(m, &e, true, "r"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type>\
             <Code>NotFound</Code><Message>Topic does not exist</Message></Error>\
             <RequestId>r</RequestId></ErrorResponse>"
        );
    }

    #[test]
    fn timestamps_are_iso_8601_both_ways() {
        let m = Service::CloudWatch.model();
        let v = decode(
            m,
            Some("GetMetricStatisticsInput"),
            &params(&[
                ("Namespace", "AWS/EC2"),
                ("MetricName", "CPUUtilization"),
                ("StartTime", "2026-12-03T15:00:00Z"),
                ("EndTime", "2026-12-03T16:00:00.5Z"),
                ("Period", "60"),
                ("Statistics.member.1", "Average"),
                ("Dimensions.member.1.Name", "InstanceId"),
                ("Dimensions.member.1.Value", "i-1"),
            ]),
            CODES,
        )
        .unwrap();
        assert_eq!(v["StartTime"], "2026-12-03T15:00:00.000Z");
        assert_eq!(v["EndTime"], "2026-12-03T16:00:00.500Z");
        assert_eq!(v["Statistics"], json!(["Average"]));
        let xml = response(
            m,
            "GetMetricStatistics",
            "r",
            &json!({"Label": "CPUUtilization", "Datapoints": [{"Timestamp": 1796310000, "Average": 1.5, "Unit": "Percent"}]}),
        );
        assert!(
            xml.contains("<Datapoints><member><Timestamp>2026-12-03T15:00:00.000Z</Timestamp><Average>1.5</Average><Unit>Percent</Unit></member></Datapoints>"),
            "{xml}"
        );
    }
}
