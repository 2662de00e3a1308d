//! SNS's messages: `Publish`, and what each subscriber gets, as SNS sends it: for `http`,
//! `https` and `email-json` the JSON envelope (`SubscriptionConfirmation` with `Token` and
//! `SubscribeURL`; `Notification` with `UnsubscribeURL`), for `email` a mail whose text
//! is the message and the link. Each is queued as a delivery for [`super::deliver`].

use super::common::{endpoint, invalid, iso_ms, not_found, now_ms, state_dir, topic_name, uuid};
use super::deliver::{self, Delivery};
use super::shapes::{PublishInput, PublishResponse};
use super::subscriptions::{self, Row};
use super::{signing, topics};
use crate::error::Ec2Error;
use crate::store::Store;

/// The most a message may be, in bytes (SNS's limit).
pub const MAX_MESSAGE: usize = 256 * 1024;

/// The envelope's fields in SNS's order, as JSON text.
fn envelope(fields: &[(&str, Option<&str>)]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .filter_map(|(k, v)| {
            v.map(|v| {
                format!(
                    "  {} : {}",
                    serde_json::to_string(k).expect("text"),
                    serde_json::to_string(v).expect("text")
                )
            })
        })
        .collect();
    format!("{{\n{}\n}}", parts.join(",\n"))
}

fn form_escape(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn from_name(store: &Store, topic_arn: &str) -> Result<String, Ec2Error> {
    Ok(topics::display_name(store, topic_arn)?.unwrap_or_else(|| "AWS Notifications".into()))
}

/// The confirmation request a new subscription gets.
pub(crate) fn confirmation(store: &Store, sub: &Row, now: i64) -> Result<Delivery, Ec2Error> {
    let endpoint = endpoint(state_dir(store));
    let url = format!(
        "{endpoint}/?Action=ConfirmSubscription&TopicArn={}&Token={}",
        form_escape(&sub.topic_arn),
        sub.token
    );
    let message_id = uuid();
    let message = format!(
        "You have chosen to subscribe to the topic {}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
        sub.topic_arn
    );
    let timestamp = iso_ms(now);
    let cert = signing_cert_url(&endpoint);
    let mut fields = vec![
        ("Type", Some("SubscriptionConfirmation")),
        ("MessageId", Some(message_id.as_str())),
        ("Token", Some(sub.token.as_str())),
        ("TopicArn", Some(sub.topic_arn.as_str())),
        ("Message", Some(message.as_str())),
        ("SubscribeURL", Some(url.as_str())),
        ("Timestamp", Some(timestamp.as_str())),
    ];
    let signature = signing::sign(state_dir(store), &signing::canonical(&fields))?;
    fields.extend([
        ("SignatureVersion", Some("1")),
        ("Signature", Some(signature.as_str())),
        ("SigningCertURL", Some(cert.as_str())),
    ]);
    let env = envelope(&fields);
    let mail_text = format!(
        "You have chosen to subscribe to the topic: \n{}\n\nTo confirm this subscription, click or visit the link below (If this was in error no action is necessary): \n{url}\n\n(or run: ec2lab sns confirm-subscription --topic-arn {} --token {})\n",
        sub.topic_arn, sub.topic_arn, sub.token
    );
    Ok(Delivery {
        message_type: "SubscriptionConfirmation".into(),
        message_id,
        topic_arn: sub.topic_arn.clone(),
        envelope: env,
        mail_subject: "AWS Notification - Subscription Confirmation".into(),
        mail_text,
        mail_from_name: from_name(store, &sub.topic_arn)?,
    })
}

/// Where the envelope says its signing certificate is.
fn signing_cert_url(endpoint: &str) -> String {
    format!("{endpoint}{}", signing::CERT_PATH)
}

/// A notification of `message` for one confirmed subscription.
fn notification(
    store: &Store,
    sub: &Row,
    message_id: &str,
    subject: Option<&str>,
    message: &str,
    now: i64,
) -> Result<Delivery, Ec2Error> {
    let endpoint = endpoint(state_dir(store));
    let unsubscribe = format!(
        "{endpoint}/?Action=Unsubscribe&SubscriptionArn={}",
        form_escape(&sub.arn)
    );
    let timestamp = iso_ms(now);
    let cert = signing_cert_url(&endpoint);
    let mut fields = vec![
        ("Type", Some("Notification")),
        ("MessageId", Some(message_id)),
        ("TopicArn", Some(sub.topic_arn.as_str())),
        ("Subject", subject),
        ("Message", Some(message)),
        ("Timestamp", Some(timestamp.as_str())),
    ];
    let signature = signing::sign(state_dir(store), &signing::canonical(&fields))?;
    fields.extend([
        ("SignatureVersion", Some("1")),
        ("Signature", Some(signature.as_str())),
        ("SigningCertURL", Some(cert.as_str())),
        ("UnsubscribeURL", Some(unsubscribe.as_str())),
    ]);
    let env = envelope(&fields);
    let mail_text = format!(
        "{message}\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the link below to unsubscribe:\n{unsubscribe}\n"
    );
    Ok(Delivery {
        message_type: "Notification".into(),
        message_id: message_id.into(),
        topic_arn: sub.topic_arn.clone(),
        envelope: env,
        mail_subject: subject.unwrap_or("AWS Notification Message").into(),
        mail_text,
        mail_from_name: from_name(store, &sub.topic_arn)?,
    })
}

/// The message each protocol gets: `Message` itself, or with `MessageStructure` `json`
/// the protocol's entry of the JSON object, else its `default`.
fn per_protocol(
    req: &PublishInput,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, Ec2Error> {
    match req.message_structure.as_deref() {
        None | Some("") => Ok(None),
        Some("json") => {
            let v: serde_json::Value = serde_json::from_str(&req.message)
                .map_err(|_| invalid("Message Structure - JSON message body failed to parse"))?;
            let serde_json::Value::Object(map) = v else {
                return Err(invalid(
                    "Message Structure - JSON message body failed to parse",
                ));
            };
            if !map.get("default").is_some_and(serde_json::Value::is_string) {
                return Err(invalid(
                    "Message Structure - No default entry in JSON message body",
                ));
            }
            Ok(Some(map))
        }
        Some(other) => Err(invalid(format!(
            "MessageStructure Reason: {other:?} is not json"
        ))),
    }
}

/// `Publish` with the request's members (the API and the CLI call this).
pub fn publish_request(store: &mut Store, req: &PublishInput) -> Result<PublishResponse, Ec2Error> {
    let arn = match (&req.topic_arn, &req.target_arn) {
        (Some(a), None) | (None, Some(a)) => a.clone(),
        (Some(a), Some(b)) if a == b => a.clone(),
        (None, None) => {
            return Err(invalid(
                "TopicArn or TargetArn Reason: no value for required parameter",
            ))
        }
        _ => {
            return Err(invalid(
                "TopicArn Reason: both TopicArn and TargetArn, and they differ",
            ))
        }
    };
    topic_name(store, &arn, "TopicArn")?;
    if req.message.is_empty() {
        return Err(invalid("Empty message"));
    }
    if req.message.len() > MAX_MESSAGE {
        return Err(invalid("Message too long"));
    }
    if let Some(s) = &req.subject {
        let ok = !s.is_empty()
            && s.len() < 100
            && s.chars().all(|c| c.is_ascii() && !c.is_ascii_control())
            && !s.starts_with(char::is_whitespace);
        if !ok {
            return Err(invalid("Subject"));
        }
    }
    let structured = per_protocol(req)?;
    if !topics::exists(store, &arn)? {
        return Err(not_found("Topic"));
    }
    let message_id = uuid();
    let now = now_ms();
    let mut deliveries = Vec::new();
    for sub in subscriptions::rows(store, Some(&arn))?
        .into_iter()
        .filter(|s| s.confirmed)
    {
        let text = match &structured {
            None => req.message.clone(),
            Some(map) => map
                .get(&sub.protocol)
                .or_else(|| map.get("default"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
        };
        let d = notification(store, &sub, &message_id, req.subject.as_deref(), &text, now)?;
        deliveries.push((sub.arn.clone(), d));
    }
    let ids = store.write(|tx| {
        deliveries
            .iter()
            .map(|(sub, d)| deliver::queue(tx, sub, d, now))
            .collect::<Result<Vec<_>, Ec2Error>>()
    })?;
    deliver::try_now(store, &ids)?;
    // The region's monitor daemon retries the deliveries that failed.
    crate::instances::monitor_daemon::ensure(store)?;
    Ok(PublishResponse { message_id })
}

/// `Publish` to a topic (what CloudWatch's alarms call): queues a delivery for each
/// confirmed subscription and tries each once; the region's monitoring daemon retries
/// the ones that failed ([`super::deliver_pending`]).
pub fn publish(
    store: &mut Store,
    topic_arn: &str,
    subject: Option<&str>,
    message: &str,
) -> Result<String, Ec2Error> {
    let req = PublishInput {
        topic_arn: Some(topic_arn.into()),
        subject: subject.map(str::to_string),
        message: message.into(),
        ..PublishInput::default()
    };
    Ok(publish_request(store, &req)?.message_id)
}
