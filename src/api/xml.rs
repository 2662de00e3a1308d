//! EC2's XML answers: `<{Action}Response xmlns=…><requestId>` and the result's members
//! under their model `locationName`s, lists as `<name><item>…</item></name>`; and EC2's
//! error document. What botocore's `EC2QueryParser` reads.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde_json::Value;

use crate::ec2::model::{Kind, Model, Shape, API_VERSION};
use crate::error::Ec2Error;

/// EC2's XML namespace for the API version ec2lab speaks.
pub fn namespace() -> String {
    format!("http://ec2.amazonaws.com/doc/{API_VERSION}/")
}

/// An XML document written into memory: the one writer of EC2's and awsQuery's answers.
pub(super) struct Xml(Writer<Vec<u8>>);

impl Xml {
    pub(super) fn new() -> Self {
        let mut w = Xml(Writer::new(Vec::new()));
        w.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        w
    }

    // Writing into a Vec cannot fail.
    pub(super) fn event(&mut self, e: Event<'_>) {
        self.0.write_event(e).expect("writing XML to memory");
    }

    /// Opens `name`, with an `xmlns` attribute when `ns` is given.
    pub(super) fn start_ns(&mut self, name: &str, ns: Option<&str>) {
        let mut s = BytesStart::new(name);
        if let Some(ns) = ns {
            s.push_attribute(("xmlns", ns));
        }
        self.event(Event::Start(s));
    }

    pub(super) fn start(&mut self, name: &str) {
        self.start_ns(name, None);
    }

    pub(super) fn end(&mut self, name: &str) {
        self.event(Event::End(BytesEnd::new(name)));
    }

    pub(super) fn text_element(&mut self, name: &str, text: &str) {
        self.start(name);
        self.event(Event::Text(BytesText::new(text)));
        self.end(name);
    }

    pub(super) fn finish(self) -> String {
        String::from_utf8(self.0.into_inner()).expect("the writer writes UTF-8")
    }
}

/// The answer to `action`: its result (a JSON object keyed by the output shape's member
/// names) as EC2 sends it. Members the model does not have are left out; an action without
/// an output shape answers `<return>true</return>`, as EC2 does.
pub fn response(model: &Model, action: &str, request_id: &str, result: &Value) -> String {
    let root = format!("{action}Response");
    let mut w = Xml::new();
    w.start_ns(&root, Some(&namespace()));
    w.text_element("requestId", request_id);
    match model
        .operations
        .get(action)
        .and_then(|o| o.output.as_deref())
    {
        Some(output) => members(&mut w, model, model.shape(output), result),
        None => w.text_element("return", "true"),
    }
    w.end(&root);
    w.finish()
}

/// EC2's error document (the same for every action).
pub fn error(err: &Ec2Error, request_id: &str) -> String {
    let mut w = Xml::new();
    w.start("Response");
    w.start("Errors");
    w.start("Error");
    w.text_element("Code", &err.code);
    w.text_element("Message", &err.message);
    w.end("Error");
    w.end("Errors");
    w.text_element("RequestID", request_id);
    w.end("Response");
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
        if mshape.kind == Kind::List && mshape.flattened {
            // A flattened list repeats its element under the member's own name.
            let element = mshape.member.as_ref().expect("a list");
            let name = element.location_name.as_deref().unwrap_or(m.xml_name());
            for item in v.as_array().into_iter().flatten() {
                node(w, model, model.shape(&element.shape), name, item);
            }
        } else {
            node(w, model, mshape, m.xml_name(), v);
        }
    }
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
        kind => w.text_element(name, &scalar(kind, value)),
    }
}

fn scalar(kind: Kind, value: &Value) -> String {
    match (kind, value) {
        (Kind::Timestamp, Value::Number(n)) => {
            crate::store::iso8601(n.as_i64().unwrap_or_default(), 0)
        }
        (_, Value::String(s)) => s.clone(),
        // Booleans print as `true`/`false`, numbers as JSON prints them.
        (_, other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_are_items_under_location_names() {
        let m = Model::get();
        let xml = response(
            m,
            "DescribeRegions",
            "req-1",
            &json!({"Regions": [
                {"RegionName": "lab-1", "Endpoint": "127.0.0.1:8773", "OptInStatus": "opt-in-not-required", "NotInModel": 1},
            ]}),
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <DescribeRegionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
             <requestId>req-1</requestId><regionInfo><item>\
             <optInStatus>opt-in-not-required</optInStatus><regionName>lab-1</regionName>\
             <regionEndpoint>127.0.0.1:8773</regionEndpoint></item></regionInfo>\
             </DescribeRegionsResponse>"
        );
    }

    #[test]
    fn scalars_booleans_and_no_output() {
        let m = Model::get();
        let xml = response(
            m,
            "DescribeKeyPairs",
            "r",
            &json!({"KeyPairs": [{"KeyName": "a<b", "Tags": []}]}),
        );
        assert!(
            xml.contains(
                "<keySet><item><tagSet></tagSet><keyName>a&lt;b</keyName></item></keySet>"
            ),
            "{xml}"
        );
        let xml = response(m, "DeleteTags", "r", &json!({}));
        assert!(xml.ends_with("<requestId>r</requestId><return>true</return></DeleteTagsResponse>"));
        let xml = response(
            m,
            "DescribeInstanceAttribute",
            "r",
            &json!({"InstanceId": "i-1", "DisableApiTermination": {"Value": false}}),
        );
        assert!(
            xml.contains("<disableApiTermination><value>false</value></disableApiTermination>"),
            "{xml}"
        );
    }

    #[test]
    fn errors_as_ec2_sends_them() {
        let e = Ec2Error::new(
            "AuthFailure",
            "AWS was not able to validate the provided access credentials",
        );
        assert_eq!(
            error(&e, "r-1"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error>\
             <Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message>\
             </Error></Errors><RequestID>r-1</RequestID></Response>"
        );
    }
}
