//! Elastic IPs: AllocateAddress, AssociateAddress, DisassociateAddress, ReleaseAddress,
//! DescribeAddresses.

use serde::{Deserialize, Serialize};

use crate::ec2::filters::{Filter, Filterable};
use crate::ec2::tags::{Tag, TagSpecification};

/// AllocateAddress's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocateAddressRequest {
    /// `vpc`, the only domain there is (EC2-Classic's `standard` is gone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Tags for the new address (resource type `elastic-ip`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<TagSpecification>,
}

/// AllocateAddress's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocateAddressResult {
    /// `eipalloc-…`.
    pub allocation_id: String,
    /// The address.
    pub public_ip: String,
    /// Always `vpc`.
    pub domain: String,
    /// Always `amazon`.
    pub public_ipv4_pool: String,
}

/// AssociateAddress's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AssociateAddressRequest {
    /// The address.
    pub allocation_id: String,
    /// The instance whose primary interface gets it.
    pub instance_id: String,
}

/// AssociateAddress's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociateAddressResult {
    /// `eipassoc-…`.
    pub association_id: String,
}

/// DisassociateAddress's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DisassociateAddressRequest {
    /// `eipassoc-…`.
    pub association_id: String,
}

/// ReleaseAddress's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReleaseAddressRequest {
    /// The address, which must not be associated.
    pub allocation_id: String,
}

/// DescribeAddresses' input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeAddressesRequest {
    /// Only these addresses; each must exist.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub public_ips: Vec<String>,
    /// Only these allocations; each must exist.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allocation_ids: Vec<String>,
    /// Filters, see [`Address`]'s `Filterable` names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
}

/// DescribeAddresses' output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAddressesResult {
    /// The addresses, by address.
    pub addresses: Vec<Address>,
}

/// An Elastic IP address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    /// `eipalloc-…`.
    pub allocation_id: String,
    /// The address.
    pub public_ip: String,
    /// Always `vpc`.
    pub domain: String,
    /// Always `amazon`.
    pub public_ipv4_pool: String,
    /// `eipassoc-…`, when associated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_id: Option<String>,
    /// The interface it is on, when associated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_interface_id: Option<String>,
    /// The interface's instance, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The interface's private address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    /// Its tags.
    pub tags: Vec<Tag>,
}

impl Filterable for Address {
    const FILTERS: &'static [&'static str] = &[
        "allocation-id",
        "association-id",
        "domain",
        "instance-id",
        "network-interface-id",
        "private-ip-address",
        "public-ip",
        "public-ipv4-pool",
    ];

    fn filter_values(&self, name: &str) -> Vec<String> {
        let one = match name {
            "allocation-id" => Some(self.allocation_id.clone()),
            "association-id" => self.association_id.clone(),
            "domain" => Some(self.domain.clone()),
            "instance-id" => self.instance_id.clone(),
            "network-interface-id" => self.network_interface_id.clone(),
            "private-ip-address" => self.private_ip_address.clone(),
            "public-ip" => Some(self.public_ip.clone()),
            "public-ipv4-pool" => Some(self.public_ipv4_pool.clone()),
            _ => None,
        };
        one.into_iter().collect()
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}
