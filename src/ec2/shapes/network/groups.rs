//! Security groups: CreateSecurityGroup, DescribeSecurityGroups, DeleteSecurityGroup and the
//! four rule actions, with `IpPermission`, `IpRange` and `UserIdGroupPair`.

use serde::{Deserialize, Serialize};

use crate::ec2::filters::{Filter, Filterable};
use crate::ec2::tags::{Tag, TagSpecification};

/// CreateSecurityGroup's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateSecurityGroupRequest {
    /// The name, unique in its VPC.
    pub group_name: String,
    /// Free text.
    pub description: String,
    /// The VPC; default: the default VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Tags for the new group (resource type `security-group`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<TagSpecification>,
}

/// CreateSecurityGroup's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSecurityGroupResult {
    /// `sg-…`.
    pub group_id: String,
    /// The tags it was created with.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// DescribeSecurityGroups' input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeSecurityGroupsRequest {
    /// Only these groups; each must exist.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_ids: Vec<String>,
    /// Filters, see [`SecurityGroup`]'s `Filterable` names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// A page of at most this many (5 to 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// The previous page's `NextToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribeSecurityGroups' output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSecurityGroupsResult {
    /// The groups, by VPC and name.
    pub security_groups: Vec<SecurityGroup>,
    /// The next page's token, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DeleteSecurityGroup's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteSecurityGroupRequest {
    /// The group, which no interface and no other group's rule may name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Or the group by name, in the default VPC (as EC2 takes it); the id wins if both
    /// are given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
}

/// DeleteSecurityGroup's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSecurityGroupResult {
    /// Always true (a failure is an error).
    #[serde(rename = "Return")]
    pub return_: bool,
    /// The group that was deleted.
    pub group_id: String,
}

/// The input of the four rule actions (AuthorizeSecurityGroupIngress/Egress,
/// RevokeSecurityGroupIngress/Egress): the group and its permissions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SecurityGroupRulesRequest {
    /// The group.
    pub group_id: String,
    /// The permissions to add or take away.
    pub ip_permissions: Vec<IpPermission>,
}

/// AuthorizeSecurityGroupIngress's input.
pub type AuthorizeSecurityGroupIngressRequest = SecurityGroupRulesRequest;
/// AuthorizeSecurityGroupEgress's input.
pub type AuthorizeSecurityGroupEgressRequest = SecurityGroupRulesRequest;
/// RevokeSecurityGroupIngress's input.
pub type RevokeSecurityGroupIngressRequest = SecurityGroupRulesRequest;
/// RevokeSecurityGroupEgress's input.
pub type RevokeSecurityGroupEgressRequest = SecurityGroupRulesRequest;

/// The output of the four rule actions: the change was made (a failure is an error).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroupRulesResult {
    /// Always true.
    #[serde(rename = "Return")]
    pub return_: bool,
}

/// AuthorizeSecurityGroupIngress's output.
pub type AuthorizeSecurityGroupIngressResult = SecurityGroupRulesResult;
/// AuthorizeSecurityGroupEgress's output.
pub type AuthorizeSecurityGroupEgressResult = SecurityGroupRulesResult;
/// RevokeSecurityGroupIngress's output.
pub type RevokeSecurityGroupIngressResult = SecurityGroupRulesResult;
/// RevokeSecurityGroupEgress's output.
pub type RevokeSecurityGroupEgressResult = SecurityGroupRulesResult;

/// A security group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroup {
    /// `sg-…`.
    pub group_id: String,
    /// Its name, unique in its VPC.
    pub group_name: String,
    /// Free text.
    pub description: String,
    /// Its VPC.
    pub vpc_id: String,
    /// The account.
    pub owner_id: String,
    /// Inbound rules.
    pub ip_permissions: Vec<IpPermission>,
    /// Outbound rules.
    pub ip_permissions_egress: Vec<IpPermission>,
    /// Its tags.
    pub tags: Vec<Tag>,
}

/// One rule: a protocol and port range, from (or to) address ranges or group members.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpPermission {
    /// `tcp`, `udp`, `icmp` or `-1` (all).
    pub ip_protocol: String,
    /// The first port (tcp and udp).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    /// The last port (tcp and udp).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
    /// IPv4 ranges.
    pub ip_ranges: Vec<IpRange>,
    /// Groups whose members the rule covers.
    pub user_id_group_pairs: Vec<UserIdGroupPair>,
}

/// An IPv4 range of a rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpRange {
    /// Such as `0.0.0.0/0`.
    pub cidr_ip: String,
    /// What the range is for (kept with the rule, shown by DescribeSecurityGroups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A group a rule names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UserIdGroupPair {
    /// `sg-…`.
    pub group_id: String,
    /// The group's account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// What the rule is for (kept with it, shown by DescribeSecurityGroups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A group as an interface or instance lists it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupIdentifier {
    /// `sg-…`.
    pub group_id: String,
    /// Its name.
    pub group_name: String,
}

/// The values of a rule filter (`cidr`, `from-port`, …) over a list of permissions.
fn permission_values(perms: &[IpPermission], field: &str) -> Vec<String> {
    let port = |p: Option<i32>| p.map(|p| p.to_string());
    perms
        .iter()
        .flat_map(|p| -> Vec<String> {
            match field {
                "cidr" => p.ip_ranges.iter().map(|r| r.cidr_ip.clone()).collect(),
                "from-port" => port(p.from_port).into_iter().collect(),
                "to-port" => port(p.to_port).into_iter().collect(),
                "group-id" => p
                    .user_id_group_pairs
                    .iter()
                    .map(|g| g.group_id.clone())
                    .collect(),
                "protocol" => vec![p.ip_protocol.clone()],
                "user-id" => p
                    .user_id_group_pairs
                    .iter()
                    .filter_map(|g| g.user_id.clone())
                    .collect(),
                _ => vec![],
            }
        })
        .collect()
}

impl Filterable for SecurityGroup {
    const FILTERS: &'static [&'static str] = &[
        "description",
        "egress.ip-permission.cidr",
        "egress.ip-permission.from-port",
        "egress.ip-permission.group-id",
        "egress.ip-permission.protocol",
        "egress.ip-permission.to-port",
        "egress.ip-permission.user-id",
        "group-id",
        "group-name",
        "ip-permission.cidr",
        "ip-permission.from-port",
        "ip-permission.group-id",
        "ip-permission.protocol",
        "ip-permission.to-port",
        "ip-permission.user-id",
        "owner-id",
        "vpc-id",
    ];

    fn filter_values(&self, name: &str) -> Vec<String> {
        if let Some(field) = name.strip_prefix("egress.ip-permission.") {
            return permission_values(&self.ip_permissions_egress, field);
        }
        if let Some(field) = name.strip_prefix("ip-permission.") {
            return permission_values(&self.ip_permissions, field);
        }
        let one = match name {
            "description" => self.description.clone(),
            "group-id" => self.group_id.clone(),
            "group-name" => self.group_name.clone(),
            "owner-id" => self.owner_id.clone(),
            "vpc-id" => self.vpc_id.clone(),
            _ => return vec![],
        };
        vec![one]
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::filters::retain;

    fn group(id: &str, cidr: &str) -> SecurityGroup {
        SecurityGroup {
            group_id: id.into(),
            group_name: format!("{id}-name"),
            vpc_id: "vpc-1".into(),
            ip_permissions: vec![IpPermission {
                ip_protocol: "tcp".into(),
                from_port: Some(80),
                to_port: Some(80),
                ip_ranges: vec![IpRange {
                    cidr_ip: cidr.into(),
                    description: None,
                }],
                user_id_group_pairs: vec![],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn group_filters_reach_into_the_rules() {
        let gs = || vec![group("sg-1", "0.0.0.0/0"), group("sg-2", "10.0.0.0/8")];
        let kept = retain(gs(), &[Filter::new("ip-permission.cidr", &["10.*"])]).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].group_id, "sg-2");
        let kept = retain(gs(), &[Filter::new("ip-permission.from-port", &["80"])]).unwrap();
        assert_eq!(kept.len(), 2);
        assert!(
            retain(gs(), &[Filter::new("egress.ip-permission.cidr", &["*"])])
                .unwrap()
                .is_empty()
        );
        let kept = retain(gs(), &[Filter::new("group-name", &["sg-1-*"])]).unwrap();
        assert_eq!(kept[0].group_id, "sg-1");
    }

    #[test]
    fn a_rule_without_ports_leaves_them_out() {
        let p = IpPermission {
            ip_protocol: "-1".into(),
            ..Default::default()
        };
        let v = serde_json::to_value(p).unwrap();
        assert!(v.get("FromPort").is_none());
        assert_eq!(v["IpRanges"], serde_json::json!([]));
        let r = serde_json::to_value(SecurityGroupRulesResult { return_: true }).unwrap();
        assert_eq!(r, serde_json::json!({"Return": true}));
    }
}
