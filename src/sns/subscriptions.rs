//! Subscriptions: `Subscribe` (a confirmation request goes out first, as in SNS),
//! `ConfirmSubscription` (by the token in it), `Unsubscribe`, `ListSubscriptions`,
//! `ListSubscriptionsByTopic`, `GetSubscriptionAttributes`.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use super::common::{invalid, not_found, now_ms, page, token, topic_name, uuid};
use super::shapes::*;
use super::{deliver, messages, topics};
use crate::error::Ec2Error;
use crate::store::Store;

/// What a subscriber's answer to `Subscribe` says while it waits for confirmation.
pub const PENDING: &str = "pending confirmation";

/// The protocols ec2lab delivers to.
pub const PROTOCOLS: &[&str] = &["http", "https", "email", "email-json"];

/// One subscription row.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub arn: String,
    pub topic_arn: String,
    pub protocol: String,
    pub endpoint: String,
    pub token: String,
    pub confirmed: bool,
}

fn check_endpoint(protocol: &str, endpoint: &str) -> Result<(), Ec2Error> {
    let ok = match protocol {
        "http" | "https" => endpoint
            .strip_prefix(protocol)
            .and_then(|r| r.strip_prefix("://"))
            .is_some_and(|rest| {
                let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
                !host.is_empty() && !rest.chars().any(char::is_whitespace)
            }),
        _ => is_mail_address(endpoint),
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "Endpoint Reason: {endpoint:?} is not a valid {protocol} endpoint"
        )))
    }
}

/// `local@domain`, nothing a mail header or a path could be abused with.
pub fn is_mail_address(a: &str) -> bool {
    let Some((local, domain)) = a.split_once('@') else {
        return false;
    };
    let fine = |s: &str, extra: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    };
    a.len() <= 254
        && fine(local, ".!#$%&'*+-=?^_`{|}~")
        && fine(domain, ".-")
        && !local.starts_with('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

/// `Subscribe`: a pending subscription and its confirmation request, tried once at once
/// (later tries are [`deliver::deliver_pending`]'s). Subscribing the same endpoint again
/// gives the same subscription.
pub fn subscribe(
    store: &mut Store,
    req: &SubscribeInput,
) -> Result<SubscriptionArnResponse, Ec2Error> {
    topic_name(store, &req.topic_arn, "TopicArn")?;
    if !PROTOCOLS.contains(&req.protocol.as_str()) {
        return Err(invalid(format!(
            "Amazon SNS does not support this protocol string: {} (ec2lab's SNS delivers to {})",
            req.protocol,
            PROTOCOLS.join(", ")
        )));
    }
    let endpoint = req.endpoint.clone().unwrap_or_default();
    check_endpoint(&req.protocol, &endpoint)?;
    if !topics::exists(store, &req.topic_arn)? {
        return Err(not_found("Topic"));
    }
    let existing = rows(store, Some(&req.topic_arn))?
        .into_iter()
        .find(|r| r.protocol == req.protocol && r.endpoint == endpoint);
    if let Some(r) = existing {
        let arn = if r.confirmed || req.return_subscription_arn {
            r.arn
        } else {
            PENDING.to_string()
        };
        return Ok(SubscriptionArnResponse {
            subscription_arn: arn,
        });
    }
    let row = Row {
        arn: format!("{}:{}", req.topic_arn, uuid()),
        topic_arn: req.topic_arn.clone(),
        protocol: req.protocol.clone(),
        endpoint,
        token: token(),
        confirmed: false,
    };
    let attrs = serde_json::to_string(&req.attributes).expect("a map");
    let now = now_ms();
    let delivery = messages::confirmation(store, &row, now)?;
    let id = store.write(|tx| {
        tx.execute(
            "INSERT INTO sns_subscriptions
               (subscription_arn, topic_arn, protocol, endpoint, token, confirmed, attributes, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7)",
            params![row.arn, row.topic_arn, row.protocol, row.endpoint, row.token, attrs, now],
        )?;
        deliver::queue(tx, &row.arn, &delivery, now)
    })?;
    deliver::try_now(store, &[id])?;
    // The region's monitor daemon retries the confirmation if this try failed.
    crate::instances::monitor_daemon::ensure(store)?;
    let subscription_arn = if req.return_subscription_arn {
        row.arn
    } else {
        PENDING.to_string()
    };
    Ok(SubscriptionArnResponse { subscription_arn })
}

/// `ConfirmSubscription`: the subscription the token was sent for, confirmed.
pub fn confirm_subscription(
    store: &mut Store,
    req: &ConfirmSubscriptionInput,
) -> Result<SubscriptionArnResponse, Ec2Error> {
    topic_name(store, &req.topic_arn, "TopicArn")?;
    if !topics::exists(store, &req.topic_arn)? {
        return Err(not_found("Topic"));
    }
    if req.token.is_empty() {
        return Err(invalid("Token"));
    }
    store.write(|tx| {
        let arn: Option<String> = tx
            .query_row(
                "SELECT subscription_arn FROM sns_subscriptions WHERE topic_arn = ?1 AND token = ?2",
                params![req.topic_arn, req.token],
                |r| r.get(0),
            )
            .optional()?;
        let arn = arn.ok_or_else(|| invalid("Token"))?;
        tx.execute(
            "UPDATE sns_subscriptions SET confirmed = 1 WHERE subscription_arn = ?1",
            [&arn],
        )?;
        Ok(SubscriptionArnResponse { subscription_arn: arn })
    })
}

/// `Unsubscribe`: the subscription and its pending deliveries.
pub fn unsubscribe(store: &mut Store, req: &SubscriptionArnInput) -> Result<(), Ec2Error> {
    subscription_topic(store, &req.subscription_arn)?;
    let gone = store.write(|tx| {
        tx.execute(
            "DELETE FROM sns_deliveries WHERE subscription_arn = ?1",
            [&req.subscription_arn],
        )?;
        Ok::<_, Ec2Error>(tx.execute(
            "DELETE FROM sns_subscriptions WHERE subscription_arn = ?1",
            [&req.subscription_arn],
        )?)
    })?;
    if gone == 0 {
        return Err(not_found("Subscription"));
    }
    Ok(())
}

/// The topic ARN of a well-formed subscription ARN (`TOPIC_ARN:ID`).
fn subscription_topic<'a>(store: &Store, arn: &'a str) -> Result<&'a str, Ec2Error> {
    let topic = arn
        .rsplit_once(':')
        .filter(|(_, id)| !id.is_empty())
        .map(|(t, _)| t)
        .ok_or_else(|| invalid("SubscriptionArn"))?;
    topic_name(store, topic, "SubscriptionArn")?;
    Ok(topic)
}

pub(crate) fn rows(store: &Store, topic: Option<&str>) -> Result<Vec<Row>, Ec2Error> {
    let mut stmt = store.conn().prepare(
        "SELECT subscription_arn, topic_arn, protocol, endpoint, token, confirmed
         FROM sns_subscriptions WHERE ?1 IS NULL OR topic_arn = ?1
         ORDER BY created_ms, subscription_arn",
    )?;
    let rows = stmt
        .query_map([topic], |r| {
            Ok(Row {
                arn: r.get(0)?,
                topic_arn: r.get(1)?,
                protocol: r.get(2)?,
                endpoint: r.get(3)?,
                token: r.get(4)?,
                confirmed: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn listed(r: Row) -> Subscription {
    Subscription {
        subscription_arn: if r.confirmed {
            r.arn
        } else {
            "PendingConfirmation".into()
        },
        owner: crate::ids::OWNER_ID.into(),
        protocol: r.protocol,
        endpoint: r.endpoint,
        topic_arn: r.topic_arn,
    }
}

/// `ListSubscriptions`, 100 to a page.
pub fn list_subscriptions(
    store: &Store,
    req: &PageInput,
) -> Result<ListSubscriptionsResponse, Ec2Error> {
    let all = rows(store, None)?.into_iter().map(listed).collect();
    let (subscriptions, next_token) = page(all, req.next_token.as_deref())?;
    Ok(ListSubscriptionsResponse {
        subscriptions,
        next_token,
    })
}

/// `ListSubscriptionsByTopic`, 100 to a page.
pub fn list_subscriptions_by_topic(
    store: &Store,
    req: &ListSubscriptionsByTopicInput,
) -> Result<ListSubscriptionsResponse, Ec2Error> {
    topic_name(store, &req.topic_arn, "TopicArn")?;
    if !topics::exists(store, &req.topic_arn)? {
        return Err(not_found("Topic"));
    }
    let all = rows(store, Some(&req.topic_arn))?
        .into_iter()
        .map(listed)
        .collect();
    let (subscriptions, next_token) = page(all, req.next_token.as_deref())?;
    Ok(ListSubscriptionsResponse {
        subscriptions,
        next_token,
    })
}

/// `GetSubscriptionAttributes`.
pub fn get_subscription_attributes(
    store: &Store,
    req: &SubscriptionArnInput,
) -> Result<AttributesResponse, Ec2Error> {
    let topic = subscription_topic(store, &req.subscription_arn)?;
    let r = rows(store, Some(topic))?
        .into_iter()
        .find(|r| r.arn == req.subscription_arn)
        .ok_or_else(|| not_found("Subscription"))?;
    let mut attributes = BTreeMap::new();
    attributes.insert("SubscriptionArn".into(), r.arn);
    attributes.insert("TopicArn".into(), r.topic_arn);
    attributes.insert("Owner".into(), crate::ids::OWNER_ID.into());
    attributes.insert("Protocol".into(), r.protocol);
    attributes.insert("Endpoint".into(), r.endpoint);
    attributes.insert("PendingConfirmation".into(), (!r.confirmed).to_string());
    attributes.insert("ConfirmationWasAuthenticated".into(), "false".into());
    attributes.insert("RawMessageDelivery".into(), "false".into());
    Ok(AttributesResponse { attributes })
}
