//! botocore's service models, cut down by `tools/ec2-model/extract.py` to the operations
//! `ec2lab serve` answers and what the codecs read of their shapes: EC2's (API 2016-11-15,
//! [`Model::get`]) here, CloudWatch's, SNS's and Auto Scaling's beside their services, in
//! the same form.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The model's text, generated and committed (re-run the script to refresh it).
const MODEL_JSON: &str = include_str!("ec2-model.json");

/// The EC2 API version ec2lab speaks.
pub const API_VERSION: &str = "2016-11-15";

/// The cut-down model: operations and the closure of their shapes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    /// The API version the model describes.
    pub api_version: String,
    /// The protocol metadata (absent in EC2's model, which has one protocol of its own).
    #[serde(default)]
    pub metadata: Metadata,
    /// Operation name (`DescribeInstances`) to its input and output shapes.
    pub operations: HashMap<String, Operation>,
    /// Shape name to shape.
    pub shapes: HashMap<String, Shape>,
}

/// What the codecs read of a model's metadata.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// The XML namespace of Query answers.
    pub xml_namespace: Option<String>,
    /// The `X-Amz-Target` prefix of AWS JSON requests (before the `.`).
    pub target_prefix: Option<String>,
    /// Present when the JSON protocol keeps the Query protocol's error codes (sent in the
    /// `x-amzn-query-error` header).
    pub aws_query_compatible: Option<serde_json::Value>,
}

/// One operation's input and output shape names.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// The request shape, if the operation takes parameters.
    pub input: Option<String>,
    /// The result shape; operations without one answer `<return>true</return>`.
    pub output: Option<String>,
    /// The element that wraps the result in an awsQuery answer (`ListTopicsResult`).
    pub result_wrapper: Option<String>,
}

/// The kinds of shape the EC2 model uses for ec2lab's operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A structure of named members.
    Structure,
    /// A list of one member shape.
    List,
    /// Text.
    String,
    /// A 32-bit integer.
    Integer,
    /// A 64-bit integer.
    Long,
    /// `true` or `false`.
    Boolean,
    /// A floating-point number.
    Double,
    /// A floating-point number.
    Float,
    /// A time: ISO 8601 on the wire.
    Timestamp,
    /// Bytes: base64 on the wire.
    Blob,
    /// A map of a key shape to a value shape (not in EC2's operations).
    Map,
}

/// A shape: a structure's members, a list's member, or a scalar.
#[derive(Debug, Deserialize)]
pub struct Shape {
    /// What kind of value this is.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// A structure's members, in the model's order.
    #[serde(default)]
    pub members: Vec<Member>,
    /// A list's element.
    pub member: Option<Member>,
    /// The members a request must have (by member name).
    #[serde(default)]
    pub required: Vec<String>,
    /// A list written as repeated elements without a wrapper (none in ec2lab's operations
    /// today; kept so the encoder stays right if one comes).
    #[serde(default)]
    pub flattened: bool,
    /// A map's key.
    pub key: Option<Member>,
    /// A map's value.
    pub value: Option<Member>,
}

/// A member of a structure, or a list's element.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The member name (the JSON key; empty for a list's element).
    #[serde(default)]
    pub name: String,
    /// Its shape's name.
    pub shape: String,
    /// The element name in XML answers (and, capitalized, the request parameter name).
    pub location_name: Option<String>,
    /// The request parameter name, where the EC2 protocol gives one.
    pub query_name: Option<String>,
}

impl Member {
    /// The parameter name in a Query request: `queryName`, else `locationName` with its
    /// first letter upper-cased, else the member name (botocore's EC2 serializer).
    pub fn wire_name(&self) -> String {
        if let Some(q) = &self.query_name {
            return q.clone();
        }
        match &self.location_name {
            Some(l) => {
                let mut c = l.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().chain(c).collect(),
                    None => self.name.clone(),
                }
            }
            None => self.name.clone(),
        }
    }

    /// The element name in an XML answer: `locationName`, else the member name.
    pub fn xml_name(&self) -> &str {
        self.location_name.as_deref().unwrap_or(&self.name)
    }
}

impl Model {
    /// The embedded EC2 model, parsed once.
    pub fn get() -> &'static Model {
        static MODEL: OnceLock<Model> = OnceLock::new();
        MODEL.get_or_init(|| {
            let m = Model::parse(MODEL_JSON);
            assert_eq!(m.api_version, API_VERSION);
            m
        })
    }

    /// A model generated by `tools/ec2-model/extract.py` (embedded, so well-formed).
    pub fn parse(text: &str) -> Model {
        serde_json::from_str(text).expect("the models are generated by tools/ec2-model/extract.py")
    }

    /// The shape called `name`. Every name in the model resolves (checked by a test).
    pub fn shape(&self, name: &str) -> &Shape {
        &self.shapes[name]
    }
}

/// botocore's CloudWatch model (API 2010-08-01), cut down to the served operations, parsed
/// once; the API's codecs and the CLI's `ec2lab cloudwatch` verbs read it.
pub fn cloudwatch() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::parse(include_str!("../cloudwatch/cloudwatch-model.json")))
}

/// botocore's SNS model (API 2010-03-31), cut down to the served operations, parsed once.
pub fn sns() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::parse(include_str!("../sns/sns-model.json")))
}

/// botocore's Auto Scaling model (API 2011-01-01), cut down to the served operations,
/// parsed once; the API's codec and `ec2lab autoscaling`'s verbs read it.
pub fn autoscaling() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::parse(include_str!("../autoscaling/autoscaling-model.json")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn every_shape_reference_resolves() {
        resolves(Model::get());
    }

    /// Every name in `m` resolves; lists have a member, maps a key and a value.
    pub fn resolves(m: &Model) {
        for (name, op) in &m.operations {
            for s in op.input.iter().chain(&op.output) {
                assert!(m.shapes.contains_key(s), "{name}: {s}");
            }
        }
        for (name, s) in &m.shapes {
            for mem in s
                .members
                .iter()
                .chain(&s.member)
                .chain(&s.key)
                .chain(&s.value)
            {
                assert!(m.shapes.contains_key(&mem.shape), "{name}: {}", mem.shape);
            }
            assert_eq!(s.kind == Kind::List, s.member.is_some(), "{name}");
            assert_eq!(
                s.kind == Kind::Map,
                s.key.is_some() && s.value.is_some(),
                "{name}"
            );
        }
    }

    #[test]
    fn wire_names_follow_the_ec2_protocol() {
        let m = Model::get();
        let req = m.shape("DescribeInstancesRequest");
        let names: Vec<String> = req.members.iter().map(Member::wire_name).collect();
        assert!(names.contains(&"InstanceId".to_string()));
        assert!(names.contains(&"Filter".to_string()));
        assert!(names.contains(&"DryRun".to_string()));
        assert!(names.contains(&"MaxResults".to_string()));
    }
}
