//! Topics: `CreateTopic` (idempotent by name), `DeleteTopic`, `ListTopics`,
//! `GetTopicAttributes`, `SetTopicAttributes`.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use super::common::{invalid, not_found, now_ms, page, topic_arn, topic_name, valid_name};
use super::shapes::*;
use crate::error::Ec2Error;
use crate::store::Store;

/// The topic attributes a request may set.
const SETTABLE: &[&str] = &["DisplayName", "Policy", "DeliveryPolicy"];

fn check_attributes(attrs: &BTreeMap<String, String>) -> Result<(), Ec2Error> {
    for (k, v) in attrs {
        if !SETTABLE.contains(&k.as_str()) {
            return Err(invalid(format!(
                "AttributeName Reason: ec2lab's SNS takes {} ({k} is not one)",
                SETTABLE.join(", ")
            )));
        }
        if k == "DisplayName" && v.len() > 100 {
            return Err(invalid("DisplayName Reason: at most 100 characters"));
        }
        if matches!(k.as_str(), "Policy" | "DeliveryPolicy")
            && !v.is_empty()
            && serde_json::from_str::<serde_json::Value>(v).is_err()
        {
            return Err(invalid(format!("{k} Reason: not valid JSON")));
        }
    }
    Ok(())
}

/// `CreateTopic`: a new topic, or the existing one of that name (when the attributes
/// asked for agree with it, as SNS requires).
pub fn create_topic(
    store: &mut Store,
    req: &CreateTopicInput,
) -> Result<CreateTopicResponse, Ec2Error> {
    if !valid_name(&req.name) {
        return Err(invalid("Topic Name"));
    }
    if req.name.ends_with(".fifo") || req.attributes.contains_key("FifoTopic") {
        return Err(invalid(
            "FifoTopic Reason: ec2lab's SNS has standard topics only",
        ));
    }
    check_attributes(&req.attributes)?;
    let arn = topic_arn(store, &req.name);
    let attrs = serde_json::to_string(&req.attributes).expect("a map of strings");
    let tags = serde_json::to_string(&req.tags).expect("tags");
    store.write(|tx| {
        let existing: Option<String> = tx
            .query_row(
                "SELECT attributes FROM sns_topics WHERE topic_arn = ?1",
                [&arn],
                |r| r.get(0),
            )
            .optional()?;
        match existing {
            Some(old) => {
                let old: BTreeMap<String, String> = serde_json::from_str(&old).unwrap_or_default();
                let differs = req.attributes.iter().any(|(k, v)| old.get(k) != Some(v));
                if differs {
                    return Err(invalid(
                        "Attributes Reason: Topic already exists with different attributes",
                    ));
                }
            }
            None => {
                tx.execute(
                    "INSERT INTO sns_topics (topic_arn, name, attributes, tags, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![arn, req.name, attrs, tags, now_ms()],
                )?;
            }
        }
        Ok(CreateTopicResponse {
            topic_arn: arn.clone(),
        })
    })
}

/// Whether the topic exists.
pub(crate) fn exists(store: &Store, arn: &str) -> Result<bool, Ec2Error> {
    Ok(store
        .conn()
        .query_row(
            "SELECT 1 FROM sns_topics WHERE topic_arn = ?1",
            [arn],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// `DeleteTopic`: the topic, its subscriptions and their pending deliveries. Deleting a
/// topic that does not exist is not an error (as in SNS).
pub fn delete_topic(store: &mut Store, req: &TopicArnInput) -> Result<(), Ec2Error> {
    topic_name(store, &req.topic_arn, "TopicArn")?;
    store.write(|tx| {
        tx.execute(
            "DELETE FROM sns_deliveries WHERE subscription_arn IN
               (SELECT subscription_arn FROM sns_subscriptions WHERE topic_arn = ?1)",
            [&req.topic_arn],
        )?;
        tx.execute(
            "DELETE FROM sns_subscriptions WHERE topic_arn = ?1",
            [&req.topic_arn],
        )?;
        tx.execute(
            "DELETE FROM sns_topics WHERE topic_arn = ?1",
            [&req.topic_arn],
        )?;
        Ok(())
    })
}

/// `ListTopics`, 100 to a page.
pub fn list_topics(store: &Store, req: &PageInput) -> Result<ListTopicsResponse, Ec2Error> {
    let mut stmt = store
        .conn()
        .prepare("SELECT topic_arn FROM sns_topics ORDER BY topic_arn")?;
    let all = stmt
        .query_map([], |r| {
            Ok(Topic {
                topic_arn: r.get(0)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let (topics, next_token) = page(all, req.next_token.as_deref())?;
    Ok(ListTopicsResponse { topics, next_token })
}

/// `GetTopicAttributes`: what SNS reports of a topic that ec2lab has.
pub fn get_topic_attributes(
    store: &Store,
    req: &TopicArnInput,
) -> Result<AttributesResponse, Ec2Error> {
    topic_name(store, &req.topic_arn, "TopicArn")?;
    let row: Option<String> = store
        .conn()
        .query_row(
            "SELECT attributes FROM sns_topics WHERE topic_arn = ?1",
            [&req.topic_arn],
            |r| r.get(0),
        )
        .optional()?;
    let set: BTreeMap<String, String> =
        serde_json::from_str(&row.ok_or_else(|| not_found("Topic"))?).unwrap_or_default();
    let count = |confirmed: bool| -> Result<i64, Ec2Error> {
        Ok(store.conn().query_row(
            "SELECT count(*) FROM sns_subscriptions WHERE topic_arn = ?1 AND confirmed = ?2",
            params![req.topic_arn, confirmed],
            |r| r.get(0),
        )?)
    };
    let mut attributes = BTreeMap::new();
    let owner = crate::ids::OWNER_ID.to_string();
    attributes.insert("TopicArn".into(), req.topic_arn.clone());
    attributes.insert("Owner".into(), owner.clone());
    attributes.insert("DisplayName".into(), String::new());
    attributes.insert("Policy".into(), default_policy(&req.topic_arn));
    attributes.insert("SubscriptionsConfirmed".into(), count(true)?.to_string());
    attributes.insert("SubscriptionsPending".into(), count(false)?.to_string());
    attributes.insert("SubscriptionsDeleted".into(), "0".into());
    attributes.insert(
        "EffectiveDeliveryPolicy".into(),
        super::deliver::EFFECTIVE_DELIVERY_POLICY.into(),
    );
    attributes.extend(set);
    Ok(AttributesResponse { attributes })
}

/// The policy SNS gives a new topic: its owner may do everything with it.
fn default_policy(arn: &str) -> String {
    serde_json::json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                       "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                       "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": crate::ids::OWNER_ID}},
        }],
    })
    .to_string()
}

/// `SetTopicAttributes`.
pub fn set_topic_attributes(
    store: &mut Store,
    req: &SetTopicAttributesInput,
) -> Result<(), Ec2Error> {
    topic_name(store, &req.topic_arn, "TopicArn")?;
    let value = req.attribute_value.clone().unwrap_or_default();
    let one = BTreeMap::from([(req.attribute_name.clone(), value.clone())]);
    check_attributes(&one)?;
    store.write(|tx| {
        let row: Option<String> = tx
            .query_row(
                "SELECT attributes FROM sns_topics WHERE topic_arn = ?1",
                [&req.topic_arn],
                |r| r.get(0),
            )
            .optional()?;
        let mut attrs: BTreeMap<String, String> =
            serde_json::from_str(&row.ok_or_else(|| not_found("Topic"))?).unwrap_or_default();
        attrs.insert(req.attribute_name.clone(), value);
        tx.execute(
            "UPDATE sns_topics SET attributes = ?2 WHERE topic_arn = ?1",
            params![req.topic_arn, serde_json::to_string(&attrs).expect("a map")],
        )?;
        Ok(())
    })
}

/// A topic's display name (the sender's name in mail), if set.
pub(crate) fn display_name(store: &Store, arn: &str) -> Result<Option<String>, Ec2Error> {
    let row: Option<String> = store
        .conn()
        .query_row(
            "SELECT attributes FROM sns_topics WHERE topic_arn = ?1",
            [arn],
            |r| r.get(0),
        )
        .optional()?;
    let attrs: BTreeMap<String, String> = row
        .and_then(|r| serde_json::from_str(&r).ok())
        .unwrap_or_default();
    Ok(attrs.get("DisplayName").filter(|d| !d.is_empty()).cloned())
}
