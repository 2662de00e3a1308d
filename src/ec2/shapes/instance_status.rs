//! Instance status checks: DescribeInstanceStatus, which boto3's `instance_status_ok` and
//! `system_status_ok` waiters poll.

use serde::{Deserialize, Serialize};

use super::instances::InstanceState;
use super::{Filter, Tag};
use crate::ec2::filters::Filterable;

/// `DescribeInstanceStatus` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInstanceStatusRequest {
    /// Only these instances; each must exist.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_ids: Vec<String>,
    /// Filters (see [`InstanceStatus`]'s `Filterable`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// Also instances that are not running (by default only running ones are shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_all_instances: Option<bool>,
    /// A page of at most this many (5 to 1000); not with `InstanceIds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// The previous page's `NextToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `DescribeInstanceStatus` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInstanceStatusResult {
    /// One entry per instance, in launch order.
    pub instance_statuses: Vec<InstanceStatus>,
    /// The next page's token, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One instance's state and status checks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceStatus {
    /// Its availability zone.
    pub availability_zone: String,
    /// The instance.
    pub instance_id: String,
    /// Its lifecycle state.
    pub instance_state: InstanceState,
    /// The guest's own check: `ok` once it printed its ready marker, `impaired` when its
    /// user data failed or a program crashed, `initializing` before.
    pub instance_status: InstanceStatusSummary,
    /// The host's check: `ok` while the instance's VMM process is alive.
    pub system_status: InstanceStatusSummary,
}

/// One status check: a summary and its one detail, `reachability`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceStatusSummary {
    /// The detail: `reachability` and how it fares.
    pub details: Vec<InstanceStatusDetails>,
    /// `ok`, `impaired`, `initializing`, `insufficient-data` or `not-applicable`.
    pub status: String,
}

/// A status check's detail.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceStatusDetails {
    /// Since when it fails, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impaired_since: Option<String>,
    /// `reachability`.
    pub name: String,
    /// `passed`, `failed`, `initializing` or `insufficient-data`.
    pub status: String,
}

impl InstanceStatusSummary {
    /// A summary from its status: the `reachability` detail follows it, as on EC2.
    pub fn of(status: &str) -> Self {
        let detail = match status {
            "ok" => Some("passed"),
            "impaired" => Some("failed"),
            "initializing" => Some("initializing"),
            "insufficient-data" => Some("insufficient-data"),
            _ => None,
        };
        InstanceStatusSummary {
            details: detail
                .map(|d| InstanceStatusDetails {
                    impaired_since: None,
                    name: "reachability".into(),
                    status: d.into(),
                })
                .into_iter()
                .collect(),
            status: status.into(),
        }
    }

    fn reachability(&self) -> Vec<String> {
        self.details.iter().map(|d| d.status.clone()).collect()
    }
}

impl Filterable for InstanceStatus {
    const FILTERS: &'static [&'static str] = &[
        "availability-zone",
        "instance-state-name",
        "instance-state-code",
        "instance-status.status",
        "instance-status.reachability",
        "system-status.status",
        "system-status.reachability",
    ];

    fn filter_values(&self, name: &str) -> Vec<String> {
        match name {
            "availability-zone" => vec![self.availability_zone.clone()],
            "instance-state-name" => vec![self.instance_state.name.clone()],
            "instance-state-code" => vec![self.instance_state.code.to_string()],
            "instance-status.status" => vec![self.instance_status.status.clone()],
            "instance-status.reachability" => self.instance_status.reachability(),
            "system-status.status" => vec![self.system_status.status.clone()],
            "system-status.reachability" => self.system_status.reachability(),
            _ => vec![],
        }
    }

    /// EC2 has no tag filters on instance status: there are no tags to match.
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reachability_follows_the_summary() {
        let detail = |s: &str| InstanceStatusSummary::of(s).details[0].status.clone();
        assert_eq!(detail("ok"), "passed");
        assert_eq!(detail("impaired"), "failed");
        assert_eq!(detail("initializing"), "initializing");
        assert_eq!(detail("insufficient-data"), "insufficient-data");
        assert!(InstanceStatusSummary::of("not-applicable")
            .details
            .is_empty());
        let s = InstanceStatus {
            instance_status: InstanceStatusSummary::of("ok"),
            system_status: InstanceStatusSummary::of("impaired"),
            ..Default::default()
        };
        assert_eq!(s.filter_values("instance-status.reachability"), ["passed"]);
        assert_eq!(s.filter_values("system-status.status"), ["impaired"]);
    }
}
