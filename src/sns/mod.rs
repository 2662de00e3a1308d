//! SNS in ec2lab: topics, subscriptions and `Publish`, enough for "notify the administrator"
//! (issue 13). A service beside `instances/`: the front ends (`cli/sns.rs`, `api/sns.rs`)
//! call it, and so do CloudWatch's alarms (through [`publish`]) and the region's monitoring
//! daemon (through [`deliver_pending`]).
//!
//! - [`shapes`]: the typed requests and results, as in botocore's SNS model.
//! - [`topics`]: CreateTopic, DeleteTopic, ListTopics, Get/SetTopicAttributes.
//! - [`subscriptions`]: Subscribe, ConfirmSubscription, Unsubscribe, the lists,
//!   GetSubscriptionAttributes.
//! - [`messages`]: Publish, and SNS's messages (the JSON envelope, the mails) queued as
//!   deliveries.
//! - [`deliver`]: sending deliveries (HTTP POST, Maildir or `sendmail`), with retries and
//!   back-off recorded in the store.
//!
//! State: the tables `sns_topics`, `sns_subscriptions`, `sns_deliveries` of the region's
//! store; every change is one `Store::write` transaction, and no transaction is open while
//! a delivery is on the network.

pub mod common;
pub mod deliver;
pub mod messages;
pub mod shapes;
pub mod signing;
pub mod subscriptions;
pub mod topics;

pub use common::{topic_arn, DEFAULT_ENDPOINT, ENDPOINT_FILE};
pub use deliver::deliver_pending;
pub use messages::publish;
