//! SNS's actions on `ec2lab serve` (API 2010-03-31, awsQuery): each decodes its typed
//! request ([`crate::sns::shapes`]), calls the SNS service and encodes the result, as
//! EC2's handlers do ([`super::actions`]).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::actions::{to_result, ApiCtx, Handler};
use crate::ec2::members;
use crate::error::Ec2Error;
use crate::sns::shapes::*;
use crate::sns::{messages, subscriptions as subs, topics};

/// The typed request; a member ec2lab's SNS has no place for, or a value of the wrong
/// type, is SNS's `InvalidParameter`.
fn from_request<T: DeserializeOwned + Serialize>(req: Value) -> Result<T, Ec2Error> {
    members::decode(req, "", &[]).map_err(|e| match e.code.as_ref() {
        "InternalError" => e,
        _ => Ec2Error::new(
            "InvalidParameter",
            format!("Invalid parameter: {}", e.message),
        ),
    })
}

macro_rules! sns_action {
    ($name:ident, $req:ty, |$store:ident, $r:ident| $call:expr) => {
        fn $name(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
            let $r: $req = from_request(req)?;
            #[allow(unused_mut)]
            let mut $store = ctx.store()?;
            to_result(&$call?)
        }
    };
}

sns_action!(create_topic, CreateTopicInput, |s, r| topics::create_topic(
    &mut s, &r
));
sns_action!(delete_topic, TopicArnInput, |s, r| topics::delete_topic(
    &mut s, &r
));
sns_action!(list_topics, PageInput, |s, r| topics::list_topics(&s, &r));
sns_action!(get_topic_attributes, TopicArnInput, |s, r| {
    topics::get_topic_attributes(&s, &r)
});
sns_action!(set_topic_attributes, SetTopicAttributesInput, |s, r| {
    topics::set_topic_attributes(&mut s, &r)
});
sns_action!(subscribe, SubscribeInput, |s, r| subs::subscribe(
    &mut s, &r
));
sns_action!(confirm_subscription, ConfirmSubscriptionInput, |s, r| {
    subs::confirm_subscription(&mut s, &r)
});
sns_action!(unsubscribe, SubscriptionArnInput, |s, r| subs::unsubscribe(
    &mut s, &r
));
sns_action!(list_subscriptions, PageInput, |s, r| {
    subs::list_subscriptions(&s, &r)
});
sns_action!(
    list_subscriptions_by_topic,
    ListSubscriptionsByTopicInput,
    |s, r| { subs::list_subscriptions_by_topic(&s, &r) }
);
sns_action!(get_subscription_attributes, SubscriptionArnInput, |s, r| {
    subs::get_subscription_attributes(&s, &r)
});
sns_action!(publish, PublishInput, |s, r| messages::publish_request(
    &mut s, &r
));

/// SNS's actions and their handlers.
pub const ACTIONS: &[(&str, Handler)] = &[
    ("CreateTopic", create_topic),
    ("DeleteTopic", delete_topic),
    ("ListTopics", list_topics),
    ("GetTopicAttributes", get_topic_attributes),
    ("SetTopicAttributes", set_topic_attributes),
    ("Subscribe", subscribe),
    ("ConfirmSubscription", confirm_subscription),
    ("Unsubscribe", unsubscribe),
    ("ListSubscriptions", list_subscriptions),
    ("ListSubscriptionsByTopic", list_subscriptions_by_topic),
    ("GetSubscriptionAttributes", get_subscription_attributes),
    ("Publish", publish),
];
