//! SNS on `ec2lab serve` with the unmodified aws CLI and boto3 (the awsQuery protocol), no
//! VMs: topics, an http subscriber on this host that gets the confirmation request,
//! confirms by fetching its SubscribeURL and then gets a notification; an email
//! subscription whose mail lands in the Maildir; bad input with SNS's codes and nothing
//! changed. And CloudWatch's two protocols reaching its (empty) table.

#[path = "api_common/mod.rs"]
mod api_common;
mod common;

use std::time::Duration;

use api_common::subscriber::{mails, subscriber};
use api_common::{ok, Api};
use serde_json::Value;

fn json(out: &std::process::Output, what: &str) -> Value {
    serde_json::from_str(&ok(out, what)).unwrap()
}

/// Checks an envelope's `Signature` (SignatureVersion 1: SHA1withRSA over SNS's string to
/// sign) against the certificate served at its `SigningCertURL`, as a subscriber would.
fn check_signature(api: &Api, env: &Value) {
    use base64ct::{Base64, Encoding};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    use x509_cert::der::{DecodePem, Encode};
    assert_eq!(env["SignatureVersion"], "1");
    let url = env["SigningCertURL"].as_str().unwrap();
    assert!(url.starts_with(&api.endpoint), "{url}");
    let fetched = ok(&api.python(FETCH, &[url]), "GET SigningCertURL");
    let pem = fetched
        .strip_prefix("200\n")
        .unwrap_or_else(|| panic!("{fetched}"));
    let cert = x509_cert::Certificate::from_pem(pem.trim_end().as_bytes()).unwrap();
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let key = rsa::RsaPublicKey::from_public_key_der(&spki).unwrap();
    let names: &[&str] = if env["Type"] == "Notification" {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    let mut text = String::new();
    for n in names {
        if let Some(v) = env[n].as_str() {
            text.push_str(&format!("{n}\n{v}\n"));
        }
    }
    let raw = Base64::decode_vec(env["Signature"].as_str().unwrap()).unwrap();
    let sig = rsa::pkcs1v15::Signature::try_from(raw.as_slice()).unwrap();
    rsa::pkcs1v15::VerifyingKey::<sha1::Sha1>::new(key)
        .verify(text.as_bytes(), &sig)
        .unwrap_or_else(|e| panic!("the signature does not check: {e}: {env}"));
}

/// boto3 fetching a URL unsigned, as a person's browser would (the SubscribeURL).
const FETCH: &str = r#"
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1]) as r:
    print(r.status)
    print(r.read().decode())
"#;

#[test]
fn topics_http_and_email_subscribers_and_publish() {
    let Some(api) = Api::start_with(&[("EC2LAB_SENDMAIL", "none")]) else {
        return;
    };
    let sns = |args: &[&str]| api.aws_service("sns", args);
    let topic = json(&sns(&["create-topic", "--name", "alerts"]), "create-topic");
    let arn = topic["TopicArn"].as_str().unwrap().to_string();
    assert_eq!(arn, "arn:aws:sns:lab-1:111122223333:alerts");
    // Idempotent by name.
    let again = json(
        &sns(&["create-topic", "--name", "alerts"]),
        "create-topic again",
    );
    assert_eq!(again["TopicArn"], arn.as_str());
    let list = json(&sns(&["list-topics"]), "list-topics");
    assert_eq!(list["Topics"], serde_json::json!([{"TopicArn": arn}]));

    // An http subscriber on this host: the confirmation request comes first.
    let (url, rx) = subscriber("/sns");
    let sub = json(
        &sns(&[
            "subscribe",
            "--topic-arn",
            &arn,
            "--protocol",
            "http",
            "--notification-endpoint",
            &url,
        ]),
        "subscribe http",
    );
    assert_eq!(sub["SubscriptionArn"], "pending confirmation");
    let conf = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a confirmation request");
    assert_eq!(conf.method, "POST");
    assert_eq!(
        conf.headers["x-amz-sns-message-type"],
        "SubscriptionConfirmation"
    );
    assert_eq!(conf.headers["x-amz-sns-topic-arn"], arn);
    let env: Value = serde_json::from_str(&conf.body).unwrap();
    assert_eq!(env["Type"], "SubscriptionConfirmation");
    assert_eq!(env["TopicArn"], arn.as_str());
    assert_eq!(
        conf.headers["x-amz-sns-message-id"],
        env["MessageId"].as_str().unwrap()
    );
    for field in [
        "MessageId",
        "Token",
        "Message",
        "SubscribeURL",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
    ] {
        assert!(env.get(field).is_some(), "{field} missing: {env}");
    }
    check_signature(&api, &env);
    let subscribe_url = env["SubscribeURL"].as_str().unwrap();
    assert!(
        subscribe_url.starts_with(&format!(
            "{}/?Action=ConfirmSubscription&TopicArn=",
            api.endpoint
        )),
        "{subscribe_url}"
    );
    // Still pending until confirmed.
    let subs = json(
        &sns(&["list-subscriptions-by-topic", "--topic-arn", &arn]),
        "list-subscriptions-by-topic",
    );
    assert_eq!(
        subs["Subscriptions"][0]["SubscriptionArn"],
        "PendingConfirmation"
    );
    // A publish now reaches nobody.
    ok(
        &sns(&["publish", "--topic-arn", &arn, "--message", "too early"]),
        "publish early",
    );
    assert!(
        rx.recv_timeout(Duration::from_secs(2)).is_err(),
        "a pending subscription got a notification"
    );

    // Confirm as a subscriber does: fetch the SubscribeURL, unsigned.
    let fetched = ok(&api.python(FETCH, &[subscribe_url]), "GET SubscribeURL");
    assert!(fetched.starts_with("200\n"), "{fetched}");
    assert!(
        fetched.contains("<ConfirmSubscriptionResult><SubscriptionArn>"),
        "{fetched}"
    );
    let subs = json(&sns(&["list-subscriptions"]), "list-subscriptions");
    let sub_arn = subs["Subscriptions"][0]["SubscriptionArn"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(sub_arn.starts_with(&format!("{arn}:")), "{subs}");
    assert_eq!(subs["Subscriptions"][0]["Protocol"], "http");
    assert_eq!(subs["Subscriptions"][0]["Endpoint"], url.as_str());

    // boto3 publishes; the subscriber gets SNS's notification envelope.
    let script = r#"
import boto3, sys
c = boto3.Session(profile_name="ec2lab").client("sns")
r = c.publish(TopicArn=sys.argv[1], Subject="CPU alarm", Message="CPUUtilization > 80")
print(r["MessageId"])
"#;
    let message_id = ok(&api.python(script, &[&arn]), "boto3 publish")
        .trim()
        .to_string();
    let note = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a notification");
    assert_eq!(note.headers["x-amz-sns-message-type"], "Notification");
    assert_eq!(note.headers["x-amz-sns-message-id"], message_id);
    assert_eq!(note.headers["x-amz-sns-topic-arn"], arn);
    assert_eq!(note.headers["x-amz-sns-subscription-arn"], sub_arn);
    let env: Value = serde_json::from_str(&note.body).unwrap();
    assert_eq!(env["Type"], "Notification");
    assert_eq!(env["MessageId"], message_id.as_str());
    assert_eq!(env["TopicArn"], arn.as_str());
    assert_eq!(env["Subject"], "CPU alarm");
    assert_eq!(env["Message"], "CPUUtilization > 80");
    assert_eq!(env["SignatureVersion"], "1");
    for field in ["Timestamp", "Signature", "SigningCertURL", "UnsubscribeURL"] {
        assert!(env.get(field).is_some(), "{field} missing: {env}");
    }
    check_signature(&api, &env);

    // An email subscription: the confirmation mail lands in the region's Maildir.
    let maildir = api.lab.state_dir().join("lab-1/mail/admin@lab.example");
    let sub = json(
        &sns(&[
            "subscribe",
            "--topic-arn",
            &arn,
            "--protocol",
            "email",
            "--notification-endpoint",
            "admin@lab.example",
        ]),
        "subscribe email",
    );
    assert_eq!(sub["SubscriptionArn"], "pending confirmation");
    let first = mails(&maildir);
    assert_eq!(first.len(), 1, "{first:?}");
    let mail = &first[0];
    assert!(mail.contains("\nTo: admin@lab.example\n"), "{mail}");
    assert!(
        mail.contains("\nSubject: AWS Notification - Subscription Confirmation\n"),
        "{mail}"
    );
    let link = mail
        .lines()
        .find(|l| l.contains("Action=ConfirmSubscription"))
        .expect("the confirmation link")
        .trim()
        .to_string();
    let fetched = ok(&api.python(FETCH, &[&link]), "GET the mail's link");
    assert!(fetched.contains("<SubscriptionArn>"), "{fetched}");

    // A structured message: each protocol its own text.
    let body = r#"{"default": "plain", "http": "for http", "email": "for the admin"}"#;
    ok(
        &sns(&[
            "publish",
            "--topic-arn",
            &arn,
            "--subject",
            "Stopped",
            "--message-structure",
            "json",
            "--message",
            body,
        ]),
        "publish json",
    );
    let note = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a notification");
    let env: Value = serde_json::from_str(&note.body).unwrap();
    assert_eq!(env["Message"], "for http");
    let all = mails(&maildir);
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all[1].contains("\nSubject: Stopped\n"), "{}", all[1]);
    assert!(all[1].contains("\n\nfor the admin\n"), "{}", all[1]);
    assert!(
        all[1].contains("Action=Unsubscribe&SubscriptionArn="),
        "{}",
        all[1]
    );

    // Unsubscribe the http endpoint: it gets nothing more; the topic goes, with the rest.
    ok(
        &sns(&["unsubscribe", "--subscription-arn", &sub_arn]),
        "unsubscribe",
    );
    ok(
        &sns(&["publish", "--topic-arn", &arn, "--message", "after"]),
        "publish after",
    );
    assert!(rx.recv_timeout(Duration::from_secs(2)).is_err());
    assert_eq!(mails(&maildir).len(), 3);
    ok(&sns(&["delete-topic", "--topic-arn", &arn]), "delete-topic");
    let list = json(&sns(&["list-topics"]), "list-topics");
    assert_eq!(list["Topics"], serde_json::json!([]));
    let subs = json(&sns(&["list-subscriptions"]), "list-subscriptions");
    assert_eq!(subs["Subscriptions"], serde_json::json!([]));
}

/// Bad input answers SNS's codes through boto3 and leaves the topics and subscriptions
/// as they were.
#[test]
fn bad_input_gets_sns_codes_and_changes_nothing() {
    let Some(api) = Api::start_with(&[("EC2LAB_SENDMAIL", "none")]) else {
        return;
    };
    let script = r#"
import boto3, botocore, json, sys
c = boto3.Session(profile_name="ec2lab").client("sns")
arn = c.create_topic(Name="t1")["TopicArn"]
c.subscribe(TopicArn=arn, Protocol="email", Endpoint="ops@lab.example")
def state():
    return (c.list_topics()["Topics"],
            [(s["Protocol"], s["Endpoint"], s["SubscriptionArn"]) for s in c.list_subscriptions()["Subscriptions"]])
before = state()
missing = arn.replace(":t1", ":nope")
cases = [
    ("bad topic name", lambda: c.create_topic(Name="has space")),
    ("unknown attribute", lambda: c.create_topic(Name="t2", Attributes={"Bogus": "1"})),
    ("different attributes", lambda: c.create_topic(Name="t1", Attributes={"DisplayName": "other"})),
    ("sms", lambda: c.subscribe(TopicArn=arn, Protocol="sms", Endpoint="+15555550100")),
    ("sqs", lambda: c.subscribe(TopicArn=arn, Protocol="sqs", Endpoint="arn:aws:sqs:lab-1:111122223333:q")),
    ("http endpoint", lambda: c.subscribe(TopicArn=arn, Protocol="http", Endpoint="ftp://x")),
    ("email endpoint", lambda: c.subscribe(TopicArn=arn, Protocol="email", Endpoint="not-an-address")),
    ("malformed arn", lambda: c.subscribe(TopicArn="arn:aws:sns:bad", Protocol="email", Endpoint="a@b.c")),
    ("missing topic", lambda: c.subscribe(TopicArn=missing, Protocol="email", Endpoint="a@b.c")),
    ("publish missing", lambda: c.publish(TopicArn=missing, Message="x")),
    ("no default", lambda: c.publish(TopicArn=arn, MessageStructure="json", Message='{"http": "x"}')),
    ("not json", lambda: c.publish(TopicArn=arn, MessageStructure="json", Message="{")),
    ("bad token", lambda: c.confirm_subscription(TopicArn=arn, Token="00")),
    ("unsubscribe missing", lambda: c.unsubscribe(SubscriptionArn=arn + ":0f7b1e7c-0000-4000-8000-000000000000")),
    ("attributes of missing", lambda: c.get_topic_attributes(TopicArn=missing)),
]
out = {}
for name, call in cases:
    try:
        call()
        out[name] = "no error"
    except botocore.exceptions.ClientError as e:
        out[name] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
out["unchanged"] = state() == before
attrs = c.get_topic_attributes(TopicArn=arn)["Attributes"]
out["pending"] = attrs["SubscriptionsPending"]
print(json.dumps(out))
"#;
    let v: Value = serde_json::from_str(&ok(&api.python(script, &[]), "boto3 bad input")).unwrap();
    let invalid = serde_json::json!(["InvalidParameter", 400]);
    let not_found = serde_json::json!(["NotFound", 404]);
    for case in [
        "bad topic name",
        "unknown attribute",
        "different attributes",
        "sms",
        "sqs",
        "http endpoint",
        "email endpoint",
        "malformed arn",
        "no default",
        "not json",
        "bad token",
    ] {
        assert_eq!(v[case], invalid, "{case}: {v}");
    }
    for case in [
        "missing topic",
        "publish missing",
        "unsubscribe missing",
        "attributes of missing",
    ] {
        assert_eq!(v[case], not_found, "{case}: {v}");
    }
    assert_eq!(v["unchanged"], true, "{v}");
    assert_eq!(v["pending"], "1", "{v}");
}

/// CloudWatch in AWS JSON 1.0 (what botocore picks) and in the Query protocol (botocore
/// made to pick it) reaches its table; an action outside it (ListTagsForResource): each
/// protocol answers its own error, and boto3 raises ClientError with that code. A signature error keeps
/// the Query protocol's code through JSON (`x-amzn-query-error`).
#[test]
fn cloudwatch_json_and_query_reach_the_table() {
    let Some(api) = Api::start() else { return };
    let script = r#"
import boto3, botocore, copy, json, os, sys, tempfile
from botocore.loaders import Loader
session = boto3.Session(profile_name="ec2lab")
out = {}
events = []
json_client = session.client("cloudwatch")
json_client.meta.events.register("before-send", lambda request, **kw: events.append(
    (request.headers.get("X-Amz-Target", b""), request.headers.get("Content-Type", b""))))
try:
    json_client.list_tags_for_resource(ResourceARN="arn:aws:cloudwatch:lab-1:111122223333:alarm:a")
    out["json"] = "no error"
except botocore.exceptions.ClientError as e:
    out["json"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
out["json_wire"] = [v.decode() if isinstance(v, bytes) else v for v in events[0]]

# The same model with only the Query protocol: botocore's Query serializer and parser.
model = Loader().load_service_model("cloudwatch", "service-2")
model = copy.deepcopy(model)
model["metadata"]["protocol"] = "query"
model["metadata"]["protocols"] = ["query"]
d = tempfile.mkdtemp()
ver = os.path.join(d, "cloudwatch", model["metadata"]["apiVersion"])
os.makedirs(ver)
json.dump(model, open(os.path.join(ver, "service-2.json"), "w"))
core = botocore.session.Session(profile="ec2lab")
core.get_component("data_loader").search_paths.insert(0, d)
query_client = boto3.Session(botocore_session=core).client("cloudwatch")
out["query_protocol"] = query_client.meta.service_model.resolved_protocol
try:
    query_client.list_tags_for_resource(ResourceARN="arn:aws:cloudwatch:lab-1:111122223333:alarm:a")
    out["query"] = "no error"
except botocore.exceptions.ClientError as e:
    out["query"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]

# A wrong secret: the JSON answer carries the Query code in x-amzn-query-error.
bad = boto3.client("cloudwatch", region_name="lab-1", endpoint_url=json_client.meta.endpoint_url,
    aws_access_key_id=json_client._request_signer._credentials.access_key,
    aws_secret_access_key="wrong")
try:
    bad.list_dashboards()
except botocore.exceptions.ClientError as e:
    out["bad_secret"] = [e.response["Error"]["Code"], e.response["Error"].get("QueryErrorCode"),
                         e.response["Error"].get("Type")]
print(json.dumps(out))
"#;
    let v: Value = serde_json::from_str(&ok(&api.python(script, &[]), "boto3 cloudwatch")).unwrap();
    assert_eq!(
        v["json_wire"],
        serde_json::json!([
            "GraniteServiceVersion20100801.ListTagsForResource",
            "application/x-amz-json-1.0"
        ]),
        "{v}"
    );
    assert_eq!(
        v["json"],
        serde_json::json!(["UnknownOperationException", 400]),
        "{v}"
    );
    assert_eq!(v["query_protocol"], "query", "{v}");
    assert_eq!(v["query"], serde_json::json!(["InvalidAction", 400]), "{v}");
    assert_eq!(
        v["bad_secret"],
        serde_json::json!(["SignatureDoesNotMatch", "SignatureDoesNotMatch", "Sender"]),
        "{v}"
    );

    // The aws CLI too.
    let out = api.aws_service(
        "cloudwatch",
        &[
            "list-tags-for-resource",
            "--resource-arn",
            "arn:aws:cloudwatch:lab-1:111122223333:alarm:a",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(UnknownOperationException)"), "{err}");
}

/// `ec2lab sns` verbs, with the aws CLI's flags, on the same service (no server): mail
/// confirmed with the token of the confirmation mail, then a notification in the Maildir;
/// SNS's codes for bad input (exit 254), --query and --output.
#[test]
fn cli_verbs_and_the_maildir() {
    let lab = common::Lab::new();
    let run = |args: &[&str]| {
        let mut c = lab.cmd(args);
        c.env("EC2LAB_SENDMAIL", "none");
        common::run_with_timeout(c, 60)
    };
    let arn = ok(
        &run(&[
            "sns",
            "create-topic",
            "--name",
            "ops",
            "--attributes",
            "DisplayName=Lab alerts",
            "--query",
            "TopicArn",
            "--output",
            "text",
        ]),
        "create-topic",
    )
    .trim()
    .to_string();
    assert_eq!(arn, "arn:aws:sns:lab-1:111122223333:ops");
    let v = json(
        &run(&["sns", "get-topic-attributes", "--topic-arn", &arn]),
        "get-topic-attributes",
    );
    assert_eq!(v["Attributes"]["DisplayName"], "Lab alerts");
    assert_eq!(v["Attributes"]["SubscriptionsConfirmed"], "0");
    let sub = json(
        &run(&[
            "sns",
            "subscribe",
            "--topic-arn",
            &arn,
            "--protocol",
            "email",
            "--notification-endpoint",
            "root@localhost.localdomain",
            "--return-subscription-arn",
        ]),
        "subscribe",
    );
    let sub_arn = sub["SubscriptionArn"].as_str().unwrap().to_string();
    assert!(sub_arn.starts_with(&format!("{arn}:")), "{sub}");
    let maildir = lab
        .state_dir()
        .join("lab-1/mail/root@localhost.localdomain");
    let first = mails(&maildir);
    assert_eq!(first.len(), 1);
    assert!(
        first[0].starts_with("From: \"Lab alerts\" <"),
        "{}",
        first[0]
    );
    let token = first[0]
        .split("Token=")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_hexdigit())
        .next()
        .unwrap()
        .to_string();
    assert_eq!(token.len(), 128);

    let bad = run(&[
        "sns",
        "confirm-subscription",
        "--topic-arn",
        &arn,
        "--token",
        "ab",
    ]);
    assert_eq!(bad.status.code(), Some(254));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains(
            "An error occurred (InvalidParameter) when calling the ConfirmSubscription operation"
        ),
        "{err}"
    );
    let confirmed = json(
        &run(&[
            "sns",
            "confirm-subscription",
            "--topic-arn",
            &arn,
            "--token",
            &token,
        ]),
        "confirm",
    );
    assert_eq!(confirmed["SubscriptionArn"], sub_arn.as_str());

    let bad = run(&[
        "sns",
        "publish",
        "--topic-arn",
        "arn:aws:sns:lab-1:111122223333:none",
        "--message",
        "x",
    ]);
    assert_eq!(bad.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("(NotFound)"));
    ok(
        &run(&[
            "sns",
            "publish",
            "--topic-arn",
            &arn,
            "--subject",
            "Disk full",
            "--message",
            "vol-1 is 95% full",
        ]),
        "publish",
    );
    let all = mails(&maildir);
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all[1].contains("\nSubject: Disk full\n"), "{}", all[1]);
    assert!(all[1].contains("\n\nvol-1 is 95% full\n"), "{}", all[1]);
    let out = ok(
        &run(&[
            "sns",
            "list-subscriptions",
            "--query",
            "Subscriptions[].[Protocol,Endpoint]",
            "--output",
            "text",
        ]),
        "list",
    );
    assert_eq!(out, "email\troot@localhost.localdomain\n");
    ok(
        &run(&["sns", "unsubscribe", "--subscription-arn", &sub_arn]),
        "unsubscribe",
    );
    let bad = run(&["sns", "unsubscribe", "--subscription-arn", &sub_arn]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("(NotFound)"));
}
