//! VPCs and subnets: CreateVpc, DescribeVpcs, DeleteVpc, CreateSubnet, DescribeSubnets,
//! DeleteSubnet.

use serde::{Deserialize, Serialize};

use super::flag;
use crate::ec2::filters::{Filter, Filterable};
use crate::ec2::tags::{Tag, TagSpecification};

/// CreateVpc's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateVpcRequest {
    /// The VPC's range, `/16` to `/28`; it must not overlap another VPC's.
    pub cidr_block: String,
    /// Tags for the new VPC (resource type `vpc`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<TagSpecification>,
}

/// CreateVpc's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateVpcResult {
    /// The new VPC.
    pub vpc: Vpc,
}

/// DescribeVpcs' input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeVpcsRequest {
    /// Only these VPCs; each must exist.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vpc_ids: Vec<String>,
    /// Filters, see [`Vpc`]'s `Filterable` names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// A page of at most this many (5 to 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// The previous page's `NextToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribeVpcs' output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeVpcsResult {
    /// The VPCs, by id.
    pub vpcs: Vec<Vpc>,
    /// The next page's token, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DeleteVpc's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteVpcRequest {
    /// The VPC, which must have no subnets left.
    pub vpc_id: String,
}

/// A VPC.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Vpc {
    /// `vpc-…`.
    pub vpc_id: String,
    /// Its range.
    pub cidr_block: String,
    /// Whether it is the region's default VPC.
    pub is_default: bool,
    /// Always `available`.
    pub state: String,
    /// The account.
    pub owner_id: String,
    /// Always `default`.
    pub instance_tenancy: String,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// Where it lives on the host.
    #[serde(rename = "Ec2LabInfo")]
    pub ec2lab_info: VpcLabInfo,
}

/// ec2lab's own facts about a VPC (not in EC2's model).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcLabInfo {
    /// The host's Linux bridge for the VPC.
    pub bridge: String,
}

/// CreateSubnet's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateSubnetRequest {
    /// The VPC.
    pub vpc_id: String,
    /// The subnet's range, inside the VPC's.
    pub cidr_block: String,
    /// The zone; default: the region's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Tags for the new subnet (resource type `subnet`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<TagSpecification>,
}

/// CreateSubnet's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSubnetResult {
    /// The new subnet.
    pub subnet: Subnet,
}

/// DescribeSubnets' input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeSubnetsRequest {
    /// Only these subnets; each must exist.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subnet_ids: Vec<String>,
    /// Filters, see [`Subnet`]'s `Filterable` names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// A page of at most this many (5 to 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// The previous page's `NextToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribeSubnets' output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSubnetsResult {
    /// The subnets, by VPC and range.
    pub subnets: Vec<Subnet>,
    /// The next page's token, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DeleteSubnet's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteSubnetRequest {
    /// The subnet, which must have no network interfaces left.
    pub subnet_id: String,
}

/// A subnet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subnet {
    /// `subnet-…`.
    pub subnet_id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its range.
    pub cidr_block: String,
    /// Its zone.
    pub availability_zone: String,
    /// Whether it is the zone's default subnet.
    pub default_for_az: bool,
    /// Whether instances launched here get a public address by default.
    pub map_public_ip_on_launch: bool,
    /// Always `available`.
    pub state: String,
    /// The account.
    pub owner_id: String,
    /// Addresses in its range less the five AWS reserves.
    pub available_ip_address_count: u32,
    /// Its tags.
    pub tags: Vec<Tag>,
}

impl Filterable for Vpc {
    const FILTERS: &'static [&'static str] = &[
        "cidr",
        "cidr-block-association.cidr-block",
        "is-default",
        "owner-id",
        "state",
        "vpc-id",
    ];

    fn filter_values(&self, name: &str) -> Vec<String> {
        let one = match name {
            "cidr" | "cidr-block-association.cidr-block" => self.cidr_block.clone(),
            "is-default" => flag(self.is_default),
            "owner-id" => self.owner_id.clone(),
            "state" => self.state.clone(),
            "vpc-id" => self.vpc_id.clone(),
            _ => return vec![],
        };
        vec![one]
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

impl Filterable for Subnet {
    const FILTERS: &'static [&'static str] = &[
        "availability-zone",
        "available-ip-address-count",
        "cidr-block",
        "default-for-az",
        "map-public-ip-on-launch",
        "owner-id",
        "state",
        "subnet-id",
        "vpc-id",
    ];

    fn filter_values(&self, name: &str) -> Vec<String> {
        let one = match name {
            "availability-zone" => self.availability_zone.clone(),
            "available-ip-address-count" => self.available_ip_address_count.to_string(),
            "cidr-block" => self.cidr_block.clone(),
            "default-for-az" => flag(self.default_for_az),
            "map-public-ip-on-launch" => flag(self.map_public_ip_on_launch),
            "owner-id" => self.owner_id.clone(),
            "state" => self.state.clone(),
            "subnet-id" => self.subnet_id.clone(),
            "vpc-id" => self.vpc_id.clone(),
            _ => return vec![],
        };
        vec![one]
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}
