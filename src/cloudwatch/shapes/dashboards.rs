//! The dashboard actions' shapes: PutDashboard, GetDashboard, ListDashboards,
//! DeleteDashboards.

use serde::{Deserialize, Serialize};

use super::{Tag, Timestamp};

/// `PutDashboard` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutDashboardInput {
    /// Up to 255 letters, digits, `-` and `_`.
    pub dashboard_name: String,
    /// The dashboard's JSON (an object with `widgets`).
    pub dashboard_body: String,
    /// Tags for the dashboard.
    pub tags: Vec<Tag>,
}

/// A problem found in a dashboard's body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DashboardValidationMessage {
    /// Where in the body, as a JSON pointer (`/widgets/0/properties`).
    pub data_path: String,
    /// What is wrong.
    pub message: String,
}

/// `PutDashboard` output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutDashboardOutput {
    /// Warnings about a body that was saved anyway.
    pub dashboard_validation_messages: Vec<DashboardValidationMessage>,
}

/// `GetDashboard` input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetDashboardInput {
    /// The dashboard.
    pub dashboard_name: String,
}

/// `GetDashboard` output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetDashboardOutput {
    /// `arn:aws:cloudwatch::ACCOUNT:dashboard/NAME`.
    pub dashboard_arn: String,
    /// The body, as put.
    pub dashboard_body: String,
    /// The name.
    pub dashboard_name: String,
}

/// `ListDashboards` input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListDashboardsInput {
    /// Only dashboards whose name starts so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dashboard_name_prefix: Option<String>,
    /// The previous answer's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `ListDashboards` output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListDashboardsOutput {
    /// The dashboards, by name (up to 1,000 per answer).
    pub dashboard_entries: Vec<DashboardEntry>,
    /// Where the next answer starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One dashboard in `ListDashboards`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DashboardEntry {
    /// Its name.
    pub dashboard_name: String,
    /// Its ARN.
    pub dashboard_arn: String,
    /// When it was last put.
    pub last_modified: Timestamp,
    /// Its body's size in bytes.
    pub size: i64,
}

/// `DeleteDashboards` input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteDashboardsInput {
    /// The dashboards; all must exist, or none is deleted.
    pub dashboard_names: Vec<String>,
}
