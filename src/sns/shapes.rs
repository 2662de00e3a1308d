//! SNS's typed requests and results, named and shaped as in botocore's SNS model
//! (`sns-model.json`, API 2010-03-31): PascalCase member names, maps as JSON objects.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A tag on a topic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// `CreateTopic`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateTopicInput {
    /// The topic's name: letters, digits, `-` and `_`, 1 to 256 of them.
    pub name: String,
    /// Topic attributes (`DisplayName`, `Policy`, `DeliveryPolicy`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// `CreateTopic`'s result.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTopicResponse {
    /// The topic's ARN.
    pub topic_arn: String,
}

/// A request naming one topic (`DeleteTopic`, `GetTopicAttributes`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TopicArnInput {
    /// The topic's ARN.
    pub topic_arn: String,
}

/// `ListTopics`, `ListSubscriptions`: one page.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PageInput {
    /// Where the previous page ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A topic in `ListTopics`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Topic {
    /// The topic's ARN.
    pub topic_arn: String,
}

/// `ListTopics`'s result.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTopicsResponse {
    /// The topics of this page.
    pub topics: Vec<Topic>,
    /// The next page, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `GetTopicAttributes`' and `GetSubscriptionAttributes`' result.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributesResponse {
    /// Attribute name to value.
    pub attributes: BTreeMap<String, String>,
}

/// `SetTopicAttributes`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SetTopicAttributesInput {
    /// The topic's ARN.
    pub topic_arn: String,
    /// The attribute (`DisplayName`, `Policy`, `DeliveryPolicy`).
    pub attribute_name: String,
    /// Its new value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute_value: Option<String>,
}

/// `Subscribe`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SubscribeInput {
    /// The topic's ARN.
    pub topic_arn: String,
    /// `http`, `https`, `email` or `email-json`.
    pub protocol: String,
    /// The URL or the mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Subscription attributes (taken and kept; ec2lab acts on none of them).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Answer the subscription's ARN even while it waits for confirmation.
    pub return_subscription_arn: bool,
}

/// `Subscribe`'s and `ConfirmSubscription`'s result.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscriptionArnResponse {
    /// The subscription's ARN, or `pending confirmation`.
    pub subscription_arn: String,
}

/// `ConfirmSubscription`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConfirmSubscriptionInput {
    /// The topic's ARN.
    pub topic_arn: String,
    /// The token sent with the confirmation request.
    pub token: String,
    /// Whether unsubscribing needs a signed request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authenticate_on_unsubscribe: Option<String>,
}

/// A request naming one subscription (`Unsubscribe`, `GetSubscriptionAttributes`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SubscriptionArnInput {
    /// The subscription's ARN.
    pub subscription_arn: String,
}

/// `ListSubscriptionsByTopic`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListSubscriptionsByTopicInput {
    /// The topic's ARN.
    pub topic_arn: String,
    /// Where the previous page ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A subscription in the lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subscription {
    /// Its ARN, or `PendingConfirmation`.
    pub subscription_arn: String,
    /// The topic owner's account.
    pub owner: String,
    /// The protocol.
    pub protocol: String,
    /// The URL or mail address.
    pub endpoint: String,
    /// The topic's ARN.
    pub topic_arn: String,
}

/// `ListSubscriptions`' and `ListSubscriptionsByTopic`'s result.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSubscriptionsResponse {
    /// The subscriptions of this page.
    pub subscriptions: Vec<Subscription>,
    /// The next page, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A message attribute (taken on `Publish`, passed on in the JSON envelope).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MessageAttributeValue {
    /// `String`, `Number`, `Binary` or `String.Array`.
    pub data_type: String,
    /// A text value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// A binary value (base64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<String>,
}

/// `Publish`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PublishInput {
    /// The topic's ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_arn: Option<String>,
    /// The same, as SNS also takes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_arn: Option<String>,
    /// The message.
    pub message: String,
    /// The subject (email's subject line, the envelope's `Subject`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `json`: `Message` is a JSON object of a message per protocol, with `default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_structure: Option<String>,
    /// Message attributes.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub message_attributes: BTreeMap<String, MessageAttributeValue>,
}

/// `Publish`'s result.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishResponse {
    /// The message's id.
    pub message_id: String,
}
