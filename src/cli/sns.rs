//! `ec2lab sns <verb>`: SNS's verbs with the aws CLI's names and flags (`aws sns
//! create-topic --name …`), over the same service functions as the API.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::ctx::{to_json, Ctx, Failure};
use super::shorthand;
use crate::sns::shapes::*;
use crate::sns::{messages, subscriptions as subs, topics};

/// SNS: topics, subscriptions (http/https endpoints, mail) and notifications.
#[derive(Args, Debug)]
#[command(after_help = "Notify the administrator by mail:\n  \
  ec2lab sns create-topic --name alerts\n  \
  ec2lab sns subscribe --topic-arn arn:aws:sns:lab-1:111122223333:alerts --protocol email \\\n    \
    --notification-endpoint admin@example.com\n  \
  # the confirmation mail (the host's sendmail, else the Maildir\n  \
  # <state-dir>/<region>/mail/admin@example.com/new/) has the link to confirm; or:\n  \
  ec2lab sns confirm-subscription --topic-arn arn:aws:sns:lab-1:111122223333:alerts --token TOKEN\n  \
  ec2lab sns publish --topic-arn arn:aws:sns:lab-1:111122223333:alerts --subject Test --message hello")]
pub struct Sns {
    /// The verb.
    #[command(subcommand)]
    pub verb: Verb,
}

/// SNS's verbs.
#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Create a topic (or get the one of that name).
    CreateTopic(CreateTopic),
    /// Delete a topic and its subscriptions.
    DeleteTopic(TopicArn),
    /// List the topics.
    ListTopics(Page),
    /// Show a topic's attributes.
    GetTopicAttributes(TopicArn),
    /// Set one of a topic's attributes (DisplayName, Policy, DeliveryPolicy).
    SetTopicAttributes(SetTopicAttributes),
    /// Subscribe an endpoint (http, https, email, email-json); it is sent a confirmation
    /// request first.
    Subscribe(Subscribe),
    /// Confirm a subscription with the token its confirmation request carried.
    ConfirmSubscription(ConfirmSubscription),
    /// Delete a subscription.
    Unsubscribe(SubscriptionArn),
    /// List the subscriptions.
    ListSubscriptions(Page),
    /// List a topic's subscriptions.
    ListSubscriptionsByTopic(ListByTopic),
    /// Show a subscription's attributes.
    GetSubscriptionAttributes(SubscriptionArn),
    /// Publish a message to a topic's confirmed subscribers.
    Publish(Publish),
}

impl Verb {
    /// The SNS operation, for error messages.
    pub fn operation(&self) -> &'static str {
        match self {
            Verb::CreateTopic(_) => "CreateTopic",
            Verb::DeleteTopic(_) => "DeleteTopic",
            Verb::ListTopics(_) => "ListTopics",
            Verb::GetTopicAttributes(_) => "GetTopicAttributes",
            Verb::SetTopicAttributes(_) => "SetTopicAttributes",
            Verb::Subscribe(_) => "Subscribe",
            Verb::ConfirmSubscription(_) => "ConfirmSubscription",
            Verb::Unsubscribe(_) => "Unsubscribe",
            Verb::ListSubscriptions(_) => "ListSubscriptions",
            Verb::ListSubscriptionsByTopic(_) => "ListSubscriptionsByTopic",
            Verb::GetSubscriptionAttributes(_) => "GetSubscriptionAttributes",
            Verb::Publish(_) => "Publish",
        }
    }
}

/// `create-topic`.
#[derive(Args, Debug)]
pub struct CreateTopic {
    /// The name: letters, digits, `-` and `_`, up to 256.
    #[arg(long)]
    pub name: String,
    /// Attributes, e.g. `DisplayName=Alerts` or JSON.
    #[arg(long)]
    pub attributes: Option<String>,
    /// Tags, e.g. `Key=team,Value=ops`.
    #[arg(long, num_args = 1..)]
    pub tags: Vec<String>,
}

/// A verb naming a topic.
#[derive(Args, Debug)]
pub struct TopicArn {
    /// The topic's ARN.
    #[arg(long)]
    pub topic_arn: String,
}

/// A verb naming a subscription.
#[derive(Args, Debug)]
pub struct SubscriptionArn {
    /// The subscription's ARN.
    #[arg(long)]
    pub subscription_arn: String,
}

/// A listing verb.
#[derive(Args, Debug)]
pub struct Page {
    /// Where the previous page ended.
    #[arg(long, alias = "starting-token")]
    pub next_token: Option<String>,
}

/// `list-subscriptions-by-topic`.
#[derive(Args, Debug)]
pub struct ListByTopic {
    /// The topic's ARN.
    #[arg(long)]
    pub topic_arn: String,
    /// Where the previous page ended.
    #[arg(long, alias = "starting-token")]
    pub next_token: Option<String>,
}

/// `set-topic-attributes`.
#[derive(Args, Debug)]
pub struct SetTopicAttributes {
    /// The topic's ARN.
    #[arg(long)]
    pub topic_arn: String,
    /// DisplayName, Policy or DeliveryPolicy.
    #[arg(long)]
    pub attribute_name: String,
    /// The new value (`file://` reads a file).
    #[arg(long)]
    pub attribute_value: Option<String>,
}

/// `subscribe`.
#[derive(Args, Debug)]
pub struct Subscribe {
    /// The topic's ARN.
    #[arg(long)]
    pub topic_arn: String,
    /// http, https, email or email-json.
    #[arg(long)]
    pub protocol: String,
    /// The URL (http/https) or the mail address (email/email-json).
    #[arg(long)]
    pub notification_endpoint: Option<String>,
    /// Subscription attributes, e.g. `RawMessageDelivery=false` or JSON.
    #[arg(long)]
    pub attributes: Option<String>,
    /// Print the subscription's ARN even while it waits for confirmation.
    #[arg(long, overrides_with = "no_return_subscription_arn")]
    pub return_subscription_arn: bool,
    /// The default: print `pending confirmation` until it is confirmed.
    #[arg(long)]
    pub no_return_subscription_arn: bool,
}

/// `confirm-subscription`.
#[derive(Args, Debug)]
pub struct ConfirmSubscription {
    /// The topic's ARN.
    #[arg(long)]
    pub topic_arn: String,
    /// The token from the confirmation request (the SubscribeURL's `Token`).
    #[arg(long)]
    pub token: String,
    /// Taken as SNS takes it; unsubscribing is never signed-only in ec2lab.
    #[arg(long)]
    pub authenticate_on_unsubscribe: Option<String>,
}

/// `publish`.
#[derive(Args, Debug)]
pub struct Publish {
    /// The topic's ARN.
    #[arg(long)]
    pub topic_arn: Option<String>,
    /// The same, as the aws CLI also takes it.
    #[arg(long)]
    pub target_arn: Option<String>,
    /// The message (`file://` reads a file).
    #[arg(long)]
    pub message: String,
    /// The subject (the mail's subject line).
    #[arg(long)]
    pub subject: Option<String>,
    /// `json`: the message is a JSON object with a message per protocol and `default`.
    #[arg(long)]
    pub message_structure: Option<String>,
    /// Message attributes, e.g. '{"k":{"DataType":"String","StringValue":"v"}}'.
    #[arg(long)]
    pub message_attributes: Option<String>,
}

fn text(name: &str, value: &str) -> Result<String, Failure> {
    let v = shorthand::load_param(value).map_err(|e| e.with_param(name))?;
    v.as_text()
        .map(str::to_string)
        .ok_or_else(|| Failure::Param(format!("Error parsing parameter '{name}': not text")))
}

fn map<T: serde::de::DeserializeOwned>(
    name: &str,
    value: Option<&str>,
) -> Result<BTreeMap<String, T>, Failure> {
    let Some(value) = value else {
        return Ok(BTreeMap::new());
    };
    let v = shorthand::parse_param(name, &text(name, value)?)?;
    serde_json::from_value(v)
        .map_err(|e| Failure::Param(format!("Error parsing parameter '{name}': {e}")))
}

/// Runs one SNS verb.
pub fn run(ctx: &Ctx, a: Sns) -> Result<Value, Failure> {
    let mut store = ctx.store()?;
    let s = &mut store;
    match a.verb {
        Verb::CreateTopic(a) => {
            let tags = shorthand::parse_list(&a.tags)
                .map_err(|e| e.with_param("--tags"))?
                .into_iter()
                .map(|t| {
                    serde_json::from_value(t).map_err(|e| {
                        Failure::Param(format!("Error parsing parameter '--tags': {e}"))
                    })
                })
                .collect::<Result<Vec<Tag>, _>>()?;
            let req = CreateTopicInput {
                name: a.name,
                attributes: map("--attributes", a.attributes.as_deref())?,
                tags,
            };
            to_json(&topics::create_topic(s, &req)?)
        }
        Verb::DeleteTopic(a) => {
            topics::delete_topic(
                s,
                &TopicArnInput {
                    topic_arn: a.topic_arn,
                },
            )?;
            Ok(Value::Null)
        }
        Verb::ListTopics(a) => to_json(&topics::list_topics(
            s,
            &PageInput {
                next_token: a.next_token,
            },
        )?),
        Verb::GetTopicAttributes(a) => to_json(&topics::get_topic_attributes(
            s,
            &TopicArnInput {
                topic_arn: a.topic_arn,
            },
        )?),
        Verb::SetTopicAttributes(a) => {
            let req = SetTopicAttributesInput {
                topic_arn: a.topic_arn,
                attribute_name: a.attribute_name,
                attribute_value: a
                    .attribute_value
                    .map(|v| text("--attribute-value", &v))
                    .transpose()?,
            };
            topics::set_topic_attributes(s, &req)?;
            Ok(Value::Null)
        }
        Verb::Subscribe(a) => {
            let req = SubscribeInput {
                topic_arn: a.topic_arn,
                protocol: a.protocol,
                endpoint: a.notification_endpoint,
                attributes: map("--attributes", a.attributes.as_deref())?,
                return_subscription_arn: a.return_subscription_arn && !a.no_return_subscription_arn,
            };
            to_json(&subs::subscribe(s, &req)?)
        }
        Verb::ConfirmSubscription(a) => {
            let req = ConfirmSubscriptionInput {
                topic_arn: a.topic_arn,
                token: a.token,
                authenticate_on_unsubscribe: a.authenticate_on_unsubscribe,
            };
            to_json(&subs::confirm_subscription(s, &req)?)
        }
        Verb::Unsubscribe(a) => {
            subs::unsubscribe(
                s,
                &SubscriptionArnInput {
                    subscription_arn: a.subscription_arn,
                },
            )?;
            Ok(Value::Null)
        }
        Verb::ListSubscriptions(a) => to_json(&subs::list_subscriptions(
            s,
            &PageInput {
                next_token: a.next_token,
            },
        )?),
        Verb::ListSubscriptionsByTopic(a) => {
            let req = ListSubscriptionsByTopicInput {
                topic_arn: a.topic_arn,
                next_token: a.next_token,
            };
            to_json(&subs::list_subscriptions_by_topic(s, &req)?)
        }
        Verb::GetSubscriptionAttributes(a) => to_json(&subs::get_subscription_attributes(
            s,
            &SubscriptionArnInput {
                subscription_arn: a.subscription_arn,
            },
        )?),
        Verb::Publish(a) => {
            let req = PublishInput {
                topic_arn: a.topic_arn,
                target_arn: a.target_arn,
                message: text("--message", &a.message)?,
                subject: a.subject,
                message_structure: a.message_structure,
                message_attributes: map("--message-attributes", a.message_attributes.as_deref())?,
            };
            to_json(&messages::publish_request(s, &req)?)
        }
    }
}
