//! Network interfaces (ENIs): CreateNetworkInterface, DescribeNetworkInterfaces,
//! Attach/DetachNetworkInterface, DeleteNetworkInterface, the group change of
//! ModifyNetworkInterfaceAttribute.

use serde::{Deserialize, Serialize};

use super::{flag, GroupIdentifier};
use crate::ec2::filters::{Filter, Filterable};
use crate::ec2::tags::{Tag, TagSpecification};

/// CreateNetworkInterface's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateNetworkInterfaceRequest {
    /// The subnet.
    pub subnet_id: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its groups; default: the VPC's default group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Its address; default: the subnet's first free one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    /// Tags for the new interface (resource type `network-interface`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<TagSpecification>,
}

/// CreateNetworkInterface's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateNetworkInterfaceResult {
    /// The new interface.
    pub network_interface: NetworkInterface,
}

/// DescribeNetworkInterfaces' input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeNetworkInterfacesRequest {
    /// Only these interfaces; each must exist.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_interface_ids: Vec<String>,
    /// Filters, see [`NetworkInterface`]'s `Filterable` names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// A page of at most this many (5 to 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// The previous page's `NextToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribeNetworkInterfaces' output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNetworkInterfacesResult {
    /// The interfaces, by id.
    pub network_interfaces: Vec<NetworkInterface>,
    /// The next page's token, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// AttachNetworkInterface's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AttachNetworkInterfaceRequest {
    /// The available interface.
    pub network_interface_id: String,
    /// The stopped instance.
    pub instance_id: String,
    /// `ethN` in the guest.
    pub device_index: i64,
}

/// AttachNetworkInterface's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachNetworkInterfaceResult {
    /// `eni-attach-…`.
    pub attachment_id: String,
    /// Always 0.
    pub network_card_index: i64,
}

/// DetachNetworkInterface's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DetachNetworkInterfaceRequest {
    /// `eni-attach-…`.
    pub attachment_id: String,
    /// Accepted: ec2lab detaches only from stopped instances anyway.
    pub force: bool,
}

/// DeleteNetworkInterface's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteNetworkInterfaceRequest {
    /// The interface, which must not be attached.
    pub network_interface_id: String,
}

/// ModifyNetworkInterfaceAttribute's input: ec2lab changes the groups.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ModifyNetworkInterfaceAttributeRequest {
    /// The interface.
    pub network_interface_id: String,
    /// Its new groups, replacing the old.
    pub groups: Vec<String>,
}

/// A network interface (an ENI).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterface {
    /// `eni-…`.
    pub network_interface_id: String,
    /// Its subnet.
    pub subnet_id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its subnet's zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Free text.
    pub description: String,
    /// Its MAC, stable for its life.
    pub mac_address: String,
    /// Its private address.
    pub private_ip_address: String,
    /// Its private addresses (one, the primary).
    pub private_ip_addresses: Vec<NetworkInterfacePrivateIpAddress>,
    /// Its groups.
    pub groups: Vec<GroupIdentifier>,
    /// `in-use` or `available`.
    pub status: String,
    /// Always `interface`.
    pub interface_type: String,
    /// The account.
    pub owner_id: String,
    /// Always false.
    pub requester_managed: bool,
    /// Always true.
    pub source_dest_check: bool,
    /// Its instance, when attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<NetworkInterfaceAttachment>,
    /// Its public address, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association: Option<NetworkInterfaceAssociation>,
    /// Its tags (EC2 names this member `TagSet` for interfaces).
    pub tag_set: Vec<Tag>,
    /// Where it lives on the host.
    #[serde(rename = "Ec2LabInfo")]
    pub ec2lab_info: NetworkInterfaceLabInfo,
}

/// One private address of an interface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterfacePrivateIpAddress {
    /// Whether it is the primary address.
    pub primary: bool,
    /// The address.
    pub private_ip_address: String,
    /// The public address that maps to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association: Option<NetworkInterfaceAssociation>,
}

/// An interface's attachment to an instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterfaceAttachment {
    /// `eni-attach-…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<String>,
    /// The instance.
    pub instance_id: String,
    /// The instance's account.
    pub instance_owner_id: String,
    /// `ethN` in the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_index: Option<i64>,
    /// Always 0.
    pub network_card_index: i64,
    /// Always `attached`.
    pub status: String,
    /// When it was attached (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach_time: Option<String>,
    /// Whether terminating the instance deletes the interface.
    pub delete_on_termination: bool,
}

/// An interface's public address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterfaceAssociation {
    /// The public address.
    pub public_ip: String,
    /// Always `amazon`.
    pub ip_owner_id: String,
}

/// ec2lab's own facts about an interface (not in EC2's model).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterfaceLabInfo {
    /// The host's tap device for the interface.
    pub tap: String,
}

impl Filterable for NetworkInterface {
    const FILTERS: &'static [&'static str] = &[
        "addresses.private-ip-address",
        "association.ip-owner-id",
        "association.public-ip",
        "attachment.attach-time",
        "attachment.attachment-id",
        "attachment.delete-on-termination",
        "attachment.device-index",
        "attachment.instance-id",
        "attachment.instance-owner-id",
        "attachment.status",
        "availability-zone",
        "description",
        "group-id",
        "group-name",
        "interface-type",
        "mac-address",
        "network-interface-id",
        "owner-id",
        "private-ip-address",
        "requester-managed",
        "source-dest-check",
        "status",
        "subnet-id",
        "vpc-id",
    ];

    fn filter_values(&self, name: &str) -> Vec<String> {
        let att = self.attachment.as_ref();
        let assoc = self.association.as_ref();
        let opt = |v: Option<String>| v.into_iter().collect::<Vec<_>>();
        match name {
            "addresses.private-ip-address" => self
                .private_ip_addresses
                .iter()
                .map(|a| a.private_ip_address.clone())
                .collect(),
            "association.ip-owner-id" => opt(assoc.map(|a| a.ip_owner_id.clone())),
            "association.public-ip" => opt(assoc.map(|a| a.public_ip.clone())),
            "attachment.attach-time" => opt(att.and_then(|a| a.attach_time.clone())),
            "attachment.attachment-id" => opt(att.and_then(|a| a.attachment_id.clone())),
            "attachment.delete-on-termination" => opt(att.map(|a| flag(a.delete_on_termination))),
            "attachment.device-index" => {
                opt(att.and_then(|a| a.device_index.map(|i| i.to_string())))
            }
            "attachment.instance-id" => opt(att.map(|a| a.instance_id.clone())),
            "attachment.instance-owner-id" => opt(att.map(|a| a.instance_owner_id.clone())),
            "attachment.status" => opt(att.map(|a| a.status.clone())),
            "availability-zone" => opt(self.availability_zone.clone()),
            "description" => vec![self.description.clone()],
            "group-id" => self.groups.iter().map(|g| g.group_id.clone()).collect(),
            "group-name" => self.groups.iter().map(|g| g.group_name.clone()).collect(),
            "interface-type" => vec![self.interface_type.clone()],
            "mac-address" => vec![self.mac_address.clone()],
            "network-interface-id" => vec![self.network_interface_id.clone()],
            "owner-id" => vec![self.owner_id.clone()],
            "private-ip-address" => vec![self.private_ip_address.clone()],
            "requester-managed" => vec![flag(self.requester_managed)],
            "source-dest-check" => vec![flag(self.source_dest_check)],
            "status" => vec![self.status.clone()],
            "subnet-id" => vec![self.subnet_id.clone()],
            "vpc-id" => vec![self.vpc_id.clone()],
            _ => vec![],
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.tag_set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::filters::retain;

    #[test]
    fn an_unattached_interface_matches_no_attachment_filter() {
        let e = NetworkInterface {
            network_interface_id: "eni-1".into(),
            ..Default::default()
        };
        assert!(
            retain(vec![e], &[Filter::new("attachment.instance-id", &["*"])])
                .unwrap()
                .is_empty()
        );
    }
}
