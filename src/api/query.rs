//! The EC2 Query protocol's requests: form parameters such as `InstanceId.1`,
//! `Filter.1.Value.1` or `BlockDeviceMapping.1.Ebs.VolumeSize`, decoded by the model into
//! a JSON object keyed by the model's member names (what `serde_json::from_value` of a
//! request shape wants). The wire is botocore's `EC2Serializer`: a member's parameter name
//! is [`Member::wire_name`], lists are `Prefix.N` from 1, booleans `true`/`false`, blobs
//! base64 (kept so in the JSON).

use std::collections::BTreeMap;

use base64ct::{Base64, Encoding};
use serde_json::{Map, Number, Value};

use crate::ec2::model::{Kind, Member, Model, Shape};
use crate::error::Ec2Error;

/// A parameter tree before it is typed: a scalar's text, a structure's members by
/// member name, or a list's elements by their 1-based index.
enum Node {
    Leaf(String),
    Struct(BTreeMap<String, Node>),
    List(BTreeMap<u32, Node>),
}

/// EC2's answer to a parameter the action does not take.
pub fn unknown_parameter(name: &str) -> Ec2Error {
    Ec2Error::new(
        "UnknownParameter",
        format!("The parameter {name} is not recognized"),
    )
}

/// Decodes the parameters of one action (without `Action`, `Version` and the signature's
/// own) against the action's input shape, or `None` for an action that takes none.
pub fn decode(
    model: &Model,
    input: Option<&str>,
    params: &[(String, String)],
) -> Result<Value, Ec2Error> {
    let Some(input) = input else {
        return match params.first() {
            Some((k, _)) => Err(unknown_parameter(k)),
            None => Ok(Value::Object(Map::new())),
        };
    };
    let shape = model.shape(input);
    let mut root = BTreeMap::new();
    for (key, value) in params {
        insert(model, shape, &mut root, key, value)?;
    }
    typed(model, shape, Node::Struct(root), "")
}

/// Places one parameter in the tree, walking the shapes along its dotted name.
fn insert(
    model: &Model,
    top: &Shape,
    root: &mut BTreeMap<String, Node>,
    key: &str,
    value: &str,
) -> Result<(), Ec2Error> {
    let unknown = || unknown_parameter(key);
    let mut segments = key.split('.');
    // The first segment always names a member of the request structure.
    let mut shape = top;
    let mut members = root;
    let mut seg = segments.next().ok_or_else(unknown)?;
    loop {
        let member = find_member(shape, seg).ok_or_else(unknown)?;
        let mut mshape = model.shape(&member.shape);
        let mut next = segments.next();
        // The slot this member's value goes in, and through lists down to a non-list.
        let mut slot = members
            .entry(member.name.clone())
            .or_insert_with(|| empty_node(mshape));
        while mshape.kind == Kind::List {
            let index: u32 = next
                .and_then(|s| s.parse().ok())
                .filter(|&i| i >= 1)
                .ok_or_else(unknown)?;
            let element = mshape.member.as_ref().expect("a list has a member");
            mshape = model.shape(&element.shape);
            let Node::List(items) = slot else {
                return Err(unknown());
            };
            slot = items.entry(index).or_insert_with(|| empty_node(mshape));
            next = segments.next();
        }
        match (mshape.kind, next) {
            (Kind::Structure, Some(s)) => {
                let Node::Struct(m) = slot else {
                    return Err(unknown());
                };
                shape = mshape;
                members = m;
                seg = s;
            }
            (Kind::Structure, None) | (_, Some(_)) => return Err(unknown()),
            (_, None) => {
                *slot = Node::Leaf(value.to_string());
                return Ok(());
            }
        }
    }
}

fn find_member<'m>(shape: &'m Shape, wire: &str) -> Option<&'m Member> {
    shape.members.iter().find(|m| m.wire_name() == wire)
}

fn empty_node(shape: &Shape) -> Node {
    match shape.kind {
        Kind::Structure => Node::Struct(BTreeMap::new()),
        Kind::List => Node::List(BTreeMap::new()),
        _ => Node::Leaf(String::new()),
    }
}

/// Turns the tree into JSON typed by the model; `path` names the parameter in errors.
fn typed(model: &Model, shape: &Shape, node: Node, path: &str) -> Result<Value, Ec2Error> {
    let join = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    Ok(match node {
        Node::Struct(members) => {
            // A required member that is missing is EC2's MissingParameter, named as on
            // the wire.
            for name in &shape.required {
                if !members.contains_key(name) {
                    let wire = shape
                        .members
                        .iter()
                        .find(|m| &m.name == name)
                        .map_or_else(|| name.clone(), Member::wire_name);
                    return Err(Ec2Error::missing_parameter(&join(&wire)));
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
                    &join(&member.wire_name()),
                )?;
                out.insert(name, v);
            }
            Value::Object(out)
        }
        Node::List(items) => {
            let element = model.shape(&shape.member.as_ref().expect("a list").shape);
            let mut out = Vec::with_capacity(items.len());
            for (i, child) in items {
                out.push(typed(model, element, child, &join(&i.to_string()))?);
            }
            Value::Array(out)
        }
        Node::Leaf(text) => scalar(shape.kind, &text, path)?,
    })
}

fn invalid(path: &str, text: &str, expected: &str) -> Ec2Error {
    Ec2Error::invalid_parameter(format!(
        "Value ({text}) for parameter {path} is invalid. Expected {expected}."
    ))
}

/// A leaf of the tree as JSON of its kind (shared with the awsQuery codec).
pub(crate) fn scalar(kind: Kind, text: &str, path: &str) -> Result<Value, Ec2Error> {
    Ok(match kind {
        Kind::Integer | Kind::Long => {
            let n: i64 = text
                .trim()
                .parse()
                .map_err(|_| invalid(path, text, "an integer"))?;
            Value::Number(n.into())
        }
        Kind::Double | Kind::Float => {
            let n: f64 = text
                .trim()
                .parse()
                .map_err(|_| invalid(path, text, "a number"))?;
            Value::Number(Number::from_f64(n).ok_or_else(|| invalid(path, text, "a number"))?)
        }
        Kind::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(invalid(path, text, "true or false")),
        },
        // Bytes stay base64 text, checked: the JSON form of a blob, as the typed shapes
        // (and the aws CLI's JSON input) take it. User data may be binary (gzip).
        Kind::Blob => {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            Base64::decode_vec(&compact).map_err(|_| invalid(path, text, "base64 data"))?;
            Value::String(compact)
        }
        Kind::String | Kind::Timestamp => Value::String(text.to_string()),
        Kind::Structure | Kind::List | Kind::Map => unreachable!("leaves are scalars"),
    })
}

/// Takes `Action` (and `Version`, which every answer fixes) out of a Query request's
/// parameters; without `Action`, `MissingAction`.
pub fn take_action(params: &mut Vec<(String, String)>) -> Result<String, Ec2Error> {
    let mut action = None;
    params.retain(|(k, v)| match k.as_str() {
        "Action" => {
            action = Some(v.clone());
            false
        }
        "Version" => false,
        _ => true,
    });
    let Some(action) = action else {
        return Err(Ec2Error::new(
            "MissingAction",
            "The request must contain the parameter Action",
        ));
    };
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn decode_op(op: &str, pairs: &[(&str, &str)]) -> Result<Value, Ec2Error> {
        let m = Model::get();
        decode(m, m.operations[op].input.as_deref(), &params(pairs))
    }

    /// Bodies exactly as botocore serializes them (tools/ec2-model/fixtures.py) decode to
    /// the member-name JSON botocore was given.
    #[test]
    fn botocore_request_bodies() {
        let fixtures: Value =
            serde_json::from_str(include_str!("testdata/botocore-requests.json")).unwrap();
        let requests = fixtures["requests"].as_array().unwrap();
        assert!(requests.len() > 20);
        for r in requests {
            let op = r["operation"].as_str().unwrap();
            let body = r["body"].as_str().unwrap();
            let mut pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            let action = pairs.remove(0);
            assert_eq!(action, ("Action".into(), op.into()));
            let version = pairs.remove(0);
            assert_eq!(version, ("Version".into(), "2016-11-15".into()));
            let m = Model::get();
            let v = decode(m, m.operations[op].input.as_deref(), &pairs)
                .unwrap_or_else(|e| panic!("{op}: {e}"));
            assert_eq!(v, r["expected"], "{op}: {body}");
        }
    }

    #[test]
    fn lists_filters_and_typed_scalars() {
        let v = decode_op(
            "DescribeInstances",
            &[
                ("InstanceId.2", "i-2"),
                ("InstanceId.1", "i-1"),
                ("Filter.1.Name", "instance-state-name"),
                ("Filter.1.Value.1", "running"),
                ("Filter.1.Value.2", "pending"),
                ("Filter.2.Name", "tag:Name"),
                ("Filter.2.Value.1", "web"),
                ("MaxResults", "5"),
                ("DryRun", "false"),
            ],
        )
        .unwrap();
        assert_eq!(
            v,
            json!({
                "InstanceIds": ["i-1", "i-2"],
                "Filters": [
                    {"Name": "instance-state-name", "Values": ["running", "pending"]},
                    {"Name": "tag:Name", "Values": ["web"]},
                ],
                "MaxResults": 5,
                "DryRun": false,
            })
        );
    }

    #[test]
    fn nested_structures_and_query_names() {
        let v = decode_op(
            "RunInstances",
            &[
                ("ImageId", "ami-1"),
                ("MinCount", "1"),
                ("MaxCount", "2"),
                ("BlockDeviceMapping.1.DeviceName", "/dev/sdb"),
                ("BlockDeviceMapping.1.Ebs.VolumeSize", "8"),
                ("BlockDeviceMapping.1.Ebs.DeleteOnTermination", "true"),
                ("TagSpecification.1.ResourceType", "instance"),
                ("TagSpecification.1.Tag.1.Key", "Name"),
                ("TagSpecification.1.Tag.1.Value", "web"),
                ("SecurityGroupId.1", "sg-1"),
                ("UserData", "IyEvYmluL3No"),
            ],
        )
        .unwrap();
        assert_eq!(v["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"], json!(8));
        assert_eq!(
            v["BlockDeviceMappings"][0]["Ebs"]["DeleteOnTermination"],
            json!(true)
        );
        assert_eq!(
            v["TagSpecifications"],
            json!([{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}])
        );
        assert_eq!(v["SecurityGroupIds"], json!(["sg-1"]));
        // UserData is a string in the model: it stays base64, as EC2 takes it.
        assert_eq!(v["UserData"], json!("IyEvYmluL3No"));
    }

    #[test]
    fn ip_permissions() {
        let v = decode_op(
            "AuthorizeSecurityGroupIngress",
            &[
                ("GroupId", "sg-1"),
                ("IpPermissions.1.IpProtocol", "tcp"),
                ("IpPermissions.1.FromPort", "22"),
                ("IpPermissions.1.ToPort", "22"),
                ("IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"),
                ("IpPermissions.1.IpRanges.1.Description", "ssh"),
            ],
        )
        .unwrap();
        assert_eq!(
            v["IpPermissions"],
            json!([{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh"}]}])
        );
    }

    #[test]
    fn blobs_are_base64() {
        let v = decode_op(
            "ImportKeyPair",
            &[
                ("KeyName", "k"),
                ("PublicKeyMaterial", "c3NoLWVkMjU1MTkgQUFBQQ=="),
            ],
        )
        .unwrap();
        assert_eq!(v["PublicKeyMaterial"], json!("c3NoLWVkMjU1MTkgQUFBQQ=="));
        let e = decode_op(
            "ImportKeyPair",
            &[("KeyName", "k"), ("PublicKeyMaterial", "ssh-ed25519 AAAA")],
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
    }

    #[test]
    fn unknown_and_malformed_parameters() {
        for bad in [
            "Bogus",
            "InstanceId",
            "InstanceId.0",
            "InstanceId.x",
            "InstanceId.1.Extra",
            "Filter.1",
            "Filter.1.Nope",
            "instanceId.1",
        ] {
            let e = decode_op("DescribeInstances", &[(bad, "v")]).unwrap_err();
            assert_eq!(e.code, "UnknownParameter", "{bad}");
            assert_eq!(e.message, format!("The parameter {bad} is not recognized"));
        }
        let e = decode_op("RunInstances", &[("ImageId", "ami-1"), ("MinCount", "1")]).unwrap_err();
        assert_eq!(e.code, "MissingParameter");
        assert_eq!(e.message, "The request must contain the parameter MaxCount");
        let e = decode_op("CreateTags", &[("ResourceId.1", "i-1")]).unwrap_err();
        assert_eq!(e.message, "The request must contain the parameter Tag");
        let e = decode_op("DescribeInstances", &[("MaxResults", "many")]).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        let e = decode_op("DescribeInstances", &[("DryRun", "yes")]).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
    }
}
