//! Instances: RunInstances, DescribeInstances, the lifecycle verbs, console output, metadata options.
//!
//! `Ec2LabInfo` members are ec2lab's own (vCPUs actually running, boots, guest status); the
//! aws CLI shows them like any other member.

use serde::{Deserialize, Serialize};

use super::{Filter, Tag, TagSpecification};
use crate::ec2::filters::Filterable;

/// `RunInstances` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RunInstancesRequest {
    /// The AMI to launch.
    pub image_id: String,
    /// The instance type; ec2lab's default is `t2.micro`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Launch at least this many, or none.
    pub min_count: i64,
    /// Launch as many as fit, up to this many.
    pub max_count: i64,
    /// The key pair whose public key the instances receive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// Security groups of the primary network interface.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<String>,
    /// The subnet to launch into (default: the default subnet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// User data, base64-encoded as the model has it (at most 16 KiB decoded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// Block devices; ec2lab takes only the root device's size and DeleteOnTermination.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    /// Tags for the instances (`ResourceType=instance`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<TagSpecification>,
    /// Interface settings; ec2lab reads `AssociatePublicIpAddress` of device index 0.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<InstanceNetworkInterfaceSpecification>,
    /// How the metadata service answers the instances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_options: Option<InstanceMetadataOptionsRequest>,
    /// Where to launch: the region's one zone, or none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<LaunchPlacement>,
    /// Detailed monitoring (`Monitoring.Enabled=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<RunInstancesMonitoringEnabled>,
    /// Automatic recovery (`MaintenanceOptions.AutoRecovery`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_options: Option<super::maintenance::InstanceMaintenanceOptionsRequest>,
    /// Whether the instances can hibernate (`HibernationOptions.Configured`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hibernation_options: Option<super::maintenance::HibernationOptionsRequest>,
    /// ec2lab's own, not EC2's (`run-instances --no-warm`): boot the AMI instead of
    /// starting from its warm-launch template. Never on the wire.
    #[serde(skip)]
    pub no_warm: bool,
    /// Spot (`MarketType=spot`) rather than on-demand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_market_options: Option<InstanceMarketOptionsRequest>,
    /// The launch template whose settings the request's own override.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplateSpecification>,
}

/// `Placement` of `RunInstances`: ec2lab places by zone only (each region has one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchPlacement {
    /// The zone; it must be the region's (`<region>a`, as DescribeAvailabilityZones
    /// answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
}

/// `RunInstances`' `Monitoring`: whether detailed monitoring is on from launch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RunInstancesMonitoringEnabled {
    /// `true` for detailed (high-resolution in ec2lab) monitoring.
    pub enabled: bool,
}

/// `InstanceMarketOptions` of `RunInstances`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceMarketOptionsRequest {
    /// `spot` (the only market; capacity-block is not kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market_type: Option<String>,
    /// The spot options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot_options: Option<SpotMarketOptions>,
}

/// `SpotMarketOptions`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SpotMarketOptions {
    /// The most per hour (default: the on-demand price).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_price: Option<String>,
    /// `one-time` (default) or `persistent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot_instance_type: Option<String>,
    /// Until when a persistent request stays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// `terminate` (default), `stop` or `hibernate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_interruption_behavior: Option<String>,
}

/// Which template and version a launch uses (`LaunchTemplateSpecification`; Auto Scaling's
/// shape of the same name has the same members).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateSpecification {
    /// The template's id (`lt-…`); this or the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_id: Option<String>,
    /// The template's name; this or the id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_name: Option<String>,
    /// A version number, `$Latest` or `$Default` (the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One block device of `RunInstances` (and of an image).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BlockDeviceMapping {
    /// The device name, such as `/dev/xvda`.
    pub device_name: String,
    /// The EBS volume behind it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ebs: Option<EbsBlockDevice>,
}

/// The EBS part of a [`BlockDeviceMapping`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EbsBlockDevice {
    /// Whether the volume goes with the instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_on_termination: Option<bool>,
    /// Size in GiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_size: Option<i64>,
    /// `gp2`, `gp3` (the default), `io1`, `io2`, `st1`, `sc1` or `standard`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<String>,
    /// Provisioned IOPS (`gp3`, `io1`, `io2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iops: Option<i64>,
    /// Provisioned throughput in MiB/s (`gp3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput: Option<i64>,
}

/// One network interface of `RunInstances`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceNetworkInterfaceSpecification {
    /// Give the interface an automatic public address (default: the subnet's setting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub associate_public_ip_address: Option<bool>,
    /// Where the interface sits on the instance; 0 is the primary one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_index: Option<i64>,
}

/// `MetadataOptions` of `RunInstances`: unset members keep their defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceMetadataOptionsRequest {
    /// `optional` (IMDSv1 and v2) or `required` (v2 session tokens only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_tokens: Option<String>,
    /// 1 to 64 (recorded; every guest is one hop from the service here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_put_response_hop_limit: Option<i64>,
    /// `enabled` or `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_endpoint: Option<String>,
}

/// `RunInstances` output, and one element of `DescribeInstancesResult`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Reservation {
    /// EC2-Classic groups: always empty.
    pub groups: Vec<GroupIdentifier>,
    /// The instances launched together.
    pub instances: Vec<Instance>,
    /// The account.
    pub owner_id: String,
    /// The reservation's id (`r-…`).
    pub reservation_id: String,
}

/// `DescribeInstances` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInstancesRequest {
    /// Only these instances; each must exist.
    pub instance_ids: Vec<String>,
    /// Filters (see [`Instance`]'s `Filterable`).
    pub filters: Vec<Filter>,
    /// A page of at most this many (5 to 1000; not with `InstanceIds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// The previous page's `NextToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `DescribeInstances` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInstancesResult {
    /// The instances, grouped by reservation in launch order.
    pub reservations: Vec<Reservation>,
    /// The next page's token, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// An instance as `DescribeInstances` and `RunInstances` show it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Instance {
    /// Its index within the launch (0-based).
    pub ami_launch_index: i64,
    /// The AMI it was launched from.
    pub image_id: String,
    /// Its id (`i-…`).
    pub instance_id: String,
    /// Its type, such as `t2.micro`.
    pub instance_type: String,
    /// The key pair it was launched with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// When it was launched.
    pub launch_time: String,
    /// Detailed monitoring's state.
    pub monitoring: Monitoring,
    /// Its availability zone.
    pub placement: Placement,
    /// The private DNS name of its primary interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_dns_name: Option<String>,
    /// The private address of its primary interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    /// The public DNS name, while it has a public address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_dns_name: Option<String>,
    /// The public address of its primary interface, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_ip_address: Option<String>,
    /// Its lifecycle state.
    pub state: InstanceState,
    /// Why it last changed state, as text.
    pub state_transition_reason: String,
    /// Its subnet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// Its VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// `x86_64`.
    pub architecture: String,
    /// Its disks: EBS volumes and the instance store.
    pub block_device_mappings: Vec<InstanceBlockDeviceMapping>,
    /// Always false.
    pub ebs_optimized: bool,
    /// Always false.
    pub ena_support: bool,
    /// `kvm`.
    pub hypervisor: String,
    /// Its network interfaces, primary first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<InstanceNetworkInterface>,
    /// The root device's name.
    pub root_device_name: String,
    /// `ebs`.
    pub root_device_type: String,
    /// The groups of all its interfaces.
    pub security_groups: Vec<GroupIdentifier>,
    /// Always true, when it has an interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_dest_check: Option<bool>,
    /// Why it last changed state, as a code and message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<StateReason>,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// `hvm`.
    pub virtualization_type: String,
    /// Its vCPUs as the type defines them.
    pub cpu_options: CpuOptions,
    /// How the metadata service answers it.
    pub metadata_options: InstanceMetadataOptionsResponse,
    /// Whether a failed VMM is replaced on its own (simplified automatic recovery).
    pub maintenance_options: super::maintenance::InstanceMaintenanceOptions,
    /// Whether it can hibernate.
    pub hibernation_options: super::maintenance::HibernationOptions,
    /// `spot` for a spot instance (absent for on-demand).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_lifecycle: Option<String>,
    /// The spot request it fulfils.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot_instance_request_id: Option<String>,
    /// ec2lab's own facts about the instance.
    pub ec2_lab_info: Ec2LabInstanceInfo,
}

impl Filterable for Instance {
    const FILTERS: &'static [&'static str] = &[
        "instance-state-name",
        "instance-state-code",
        "instance-id",
        "instance-type",
        "image-id",
        "key-name",
        "subnet-id",
        "vpc-id",
        "private-ip-address",
        "ip-address",
    ];

    fn filter_values(&self, name: &str) -> Vec<String> {
        let opt = |v: &Option<String>| v.iter().cloned().collect();
        match name {
            "instance-state-name" => vec![self.state.name.clone()],
            "instance-state-code" => vec![self.state.code.to_string()],
            "instance-id" => vec![self.instance_id.clone()],
            "instance-type" => vec![self.instance_type.clone()],
            "image-id" => vec![self.image_id.clone()],
            "key-name" => opt(&self.key_name),
            "subnet-id" => opt(&self.subnet_id),
            "vpc-id" => opt(&self.vpc_id),
            "private-ip-address" => opt(&self.private_ip_address),
            "ip-address" => opt(&self.public_ip_address),
            _ => vec![],
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// An instance's state: EC2's code and name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceState {
    /// 0 pending, 16 running, 32 shutting-down, 48 terminated, 64 stopping, 80 stopped.
    pub code: u8,
    /// The state's name.
    pub name: String,
}

/// Detailed monitoring's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Monitoring {
    /// `disabled`, `pending`, `enabled` or `disabling`.
    pub state: String,
}

/// `MonitorInstances` input (and `UnmonitorInstances`', which has the same members).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MonitorInstancesRequest {
    /// The instances.
    pub instance_ids: Vec<String>,
}

/// `UnmonitorInstances` input.
pub type UnmonitorInstancesRequest = MonitorInstancesRequest;

/// One instance's monitoring state, as Monitor/UnmonitorInstances answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceMonitoring {
    /// The instance.
    pub instance_id: String,
    /// Its monitoring state after the call.
    pub monitoring: Monitoring,
}

/// `MonitorInstances` output (and `UnmonitorInstances`').
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MonitorInstancesResult {
    /// One entry per instance asked for.
    pub instance_monitorings: Vec<InstanceMonitoring>,
}

/// `UnmonitorInstances` output.
pub type UnmonitorInstancesResult = MonitorInstancesResult;

/// Where an instance runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Placement {
    /// `<region>a`.
    pub availability_zone: String,
    /// The placement group: none.
    pub group_name: String,
    /// `default`.
    pub tenancy: String,
}

/// Why an instance changed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StateReason {
    /// EC2's reason code, such as `Client.UserInitiatedShutdown`.
    pub code: String,
    /// The message.
    pub message: String,
}

/// A security group as instances and interfaces name it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GroupIdentifier {
    /// The group's id.
    pub group_id: String,
    /// The group's name, when ec2lab knows the group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
}

/// One disk of an instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceBlockDeviceMapping {
    /// The device name, such as `/dev/xvda`.
    pub device_name: String,
    /// The attached EBS volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ebs: Option<EbsInstanceBlockDevice>,
    /// `ephemeral0` for the instance store (ec2lab shows it here as the launch mapping does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_name: Option<String>,
}

/// An EBS volume attached to an instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EbsInstanceBlockDevice {
    /// When it was attached.
    pub attach_time: String,
    /// Whether it goes with the instance.
    pub delete_on_termination: bool,
    /// `attached`.
    pub status: String,
    /// The volume.
    pub volume_id: String,
}

/// A network interface as `DescribeInstances` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceNetworkInterface {
    /// The public address, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association: Option<InstanceNetworkInterfaceAssociation>,
    /// How it is attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<InstanceNetworkInterfaceAttachment>,
    /// Its subnet's availability zone (an ec2lab addition, as the interface's own shape has it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Its description.
    pub description: String,
    /// Its security groups.
    pub groups: Vec<GroupIdentifier>,
    /// `interface`.
    pub interface_type: String,
    /// Its MAC address.
    pub mac_address: String,
    /// Its id (`eni-…`).
    pub network_interface_id: String,
    /// The account.
    pub owner_id: String,
    /// Its private address.
    pub private_ip_address: String,
    /// Its private addresses: the one primary address.
    pub private_ip_addresses: Vec<InstancePrivateIpAddress>,
    /// Always false.
    pub requester_managed: bool,
    /// Always true.
    pub source_dest_check: bool,
    /// `in-use` (attached) or `available`.
    pub status: String,
    /// Its subnet.
    pub subnet_id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// ec2lab's own facts: the host tap.
    pub ec2_lab_info: Ec2LabInterfaceInfo,
}

/// A public address on an interface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceNetworkInterfaceAssociation {
    /// `amazon` (an automatic address) as ec2lab records it.
    pub ip_owner_id: String,
    /// The public address.
    pub public_ip: String,
}

/// How an interface is attached to its instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceNetworkInterfaceAttachment {
    /// When.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach_time: Option<String>,
    /// The attachment's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<String>,
    /// Whether it goes with the instance.
    pub delete_on_termination: bool,
    /// Its place on the instance; 0 is eth0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_index: Option<i64>,
    /// The instance.
    pub instance_id: String,
    /// The instance's account.
    pub instance_owner_id: String,
    /// Always 0.
    pub network_card_index: i64,
    /// `attached`.
    pub status: String,
}

/// One private address of an interface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstancePrivateIpAddress {
    /// The public address that maps to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association: Option<InstanceNetworkInterfaceAssociation>,
    /// Whether it is the primary address.
    pub primary: bool,
    /// The address.
    pub private_ip_address: String,
}

/// ec2lab's own facts about an interface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ec2LabInterfaceInfo {
    /// The host's tap device for it.
    pub tap: String,
}

/// An instance's vCPUs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CpuOptions {
    /// The type's vCPUs.
    pub core_count: u8,
    /// Always 1.
    pub threads_per_core: u8,
}

/// How the metadata service answers an instance, as `DescribeInstances` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceMetadataOptionsResponse {
    /// `applied`: changes take effect at once.
    pub state: String,
    /// `optional` or `required`.
    pub http_tokens: String,
    /// 1 to 64.
    pub http_put_response_hop_limit: i64,
    /// `enabled` or `disabled`.
    pub http_endpoint: String,
    /// `disabled`.
    pub http_protocol_ipv6: String,
    /// `disabled`.
    pub instance_metadata_tags: String,
}

impl Default for InstanceMetadataOptionsResponse {
    fn default() -> Self {
        InstanceMetadataOptionsResponse {
            state: "applied".into(),
            http_tokens: "optional".into(),
            http_put_response_hop_limit: 1,
            http_endpoint: "enabled".into(),
            http_protocol_ipv6: "disabled".into(),
            instance_metadata_tags: "disabled".into(),
        }
    }
}

/// ec2lab's own facts about an instance (`Ec2LabInfo`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ec2LabInstanceInfo {
    /// The type's vCPUs.
    #[serde(rename = "VCpusRequested")]
    pub vcpus_requested: u8,
    /// The vCPUs the guest runs on (this host may allow only one).
    #[serde(rename = "VCpusRunning")]
    pub vcpus_running: u8,
    /// The guest's memory.
    #[serde(rename = "MemoryMiB")]
    pub memory_mib: u64,
    /// How many times a VMM was started for it.
    #[serde(rename = "Boots")]
    pub boots: i64,
    /// Milliseconds from the last VMM start to init (null before the first).
    #[serde(rename = "LastBootToInitMs")]
    pub last_boot_to_init_ms: Option<i64>,
    /// What the launch warned about.
    #[serde(rename = "Warnings")]
    pub warnings: Vec<String>,
    /// When it was terminated.
    #[serde(rename = "TerminatedAt", skip_serializing_if = "Option::is_none")]
    pub terminated_at: Option<String>,
    /// How the current boot's programs fare (pending and running instances only).
    #[serde(rename = "GuestStatus", skip_serializing_if = "Option::is_none")]
    pub guest_status: Option<Ec2LabGuestStatus>,
}

/// `StartInstances` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StartInstancesRequest {
    /// The instances.
    pub instance_ids: Vec<String>,
}

/// `StopInstances` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StopInstancesRequest {
    /// The instances.
    pub instance_ids: Vec<String>,
    /// Stop at once, without a graceful shutdown.
    pub force: bool,
    /// Hibernate: keep the memory, and resume from it at the next start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hibernate: Option<bool>,
}

/// `RebootInstances` input (the action returns nothing).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RebootInstancesRequest {
    /// The instances.
    pub instance_ids: Vec<String>,
}

/// `TerminateInstances` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TerminateInstancesRequest {
    /// The instances.
    pub instance_ids: Vec<String>,
}

/// One instance's change of state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceStateChange {
    /// The state now.
    pub current_state: InstanceState,
    /// The instance.
    pub instance_id: String,
    /// The state before.
    pub previous_state: InstanceState,
}

/// `StartInstances` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StartInstancesResult {
    /// One change per instance, in the request's order.
    pub starting_instances: Vec<InstanceStateChange>,
}

/// `StopInstances` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StopInstancesResult {
    /// One change per instance, in the request's order.
    pub stopping_instances: Vec<InstanceStateChange>,
}

/// `TerminateInstances` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TerminateInstancesResult {
    /// One change per instance, in the request's order.
    pub terminating_instances: Vec<InstanceStateChange>,
}

/// `GetConsoleOutput` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetConsoleOutputRequest {
    /// The instance.
    pub instance_id: String,
    /// Accepted: the output is always the latest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest: Option<bool>,
}

/// `GetConsoleOutput` output. `Output` is the text itself, as the aws CLI prints it after
/// decoding; the Query API base64-encodes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetConsoleOutputResult {
    /// The instance.
    pub instance_id: String,
    /// When the output was read.
    pub timestamp: String,
    /// The last 64 KiB of the console.
    pub output: String,
}

/// `ModifyInstanceMetadataOptions` input: unset members keep their values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ModifyInstanceMetadataOptionsRequest {
    /// The instance.
    pub instance_id: String,
    /// `optional` or `required`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_tokens: Option<String>,
    /// 1 to 64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_put_response_hop_limit: Option<i64>,
    /// `enabled` or `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_endpoint: Option<String>,
}

/// `ModifyInstanceMetadataOptions` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ModifyInstanceMetadataOptionsResult {
    /// The instance.
    pub instance_id: String,
    /// The options now.
    pub instance_metadata_options: InstanceMetadataOptionsResponse,
}

/// `DescribeInstanceTypes` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInstanceTypesRequest {
    /// Only these types (default: all); each must exist.
    pub instance_types: Vec<String>,
    /// A page of at most this many (5 to 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// The previous page's `NextToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `DescribeInstanceTypes` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInstanceTypesResult {
    /// The types, in the catalogue's order or the request's.
    pub instance_types: Vec<InstanceTypeInfo>,
    /// The next page's token, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// An instance type as `DescribeInstanceTypes` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceTypeInfo {
    /// Its name, such as `t2.micro`.
    pub instance_type: String,
    /// Always true.
    pub current_generation: bool,
    /// `t2.micro` and `t3.micro`.
    pub free_tier_eligible: bool,
    /// `on-demand` and `spot`.
    pub supported_usage_classes: Vec<String>,
    /// `ebs`.
    pub supported_root_device_types: Vec<String>,
    /// `hvm`.
    pub supported_virtualization_types: Vec<String>,
    /// Always false.
    pub bare_metal: bool,
    /// `kvm`.
    pub hypervisor: String,
    /// Its architectures.
    pub processor_info: ProcessorInfo,
    /// Its vCPUs.
    pub v_cpu_info: VCpuInfo,
    /// Its memory.
    pub memory_info: MemoryInfo,
    /// Whether it has an instance store.
    pub instance_storage_supported: bool,
    /// Its instance store, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_storage_info: Option<InstanceStorageInfo>,
    /// EBS optimization.
    pub ebs_info: EbsInfo,
    /// The T family earns CPU credits on AWS.
    pub burstable_performance_supported: bool,
}

/// The architectures of an instance type.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ProcessorInfo {
    /// `x86_64`.
    pub supported_architectures: Vec<String>,
}

/// The vCPUs of an instance type.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VCpuInfo {
    /// vCPUs.
    pub default_v_cpus: u8,
    /// Cores (one thread each).
    pub default_cores: u8,
    /// Always 1.
    pub default_threads_per_core: u8,
}

/// The memory of an instance type.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryInfo {
    /// MiB.
    #[serde(rename = "SizeInMiB")]
    pub size_in_mib: u64,
}

/// The instance store of an instance type.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceStorageInfo {
    /// GB in all.
    #[serde(rename = "TotalSizeInGB")]
    pub total_size_in_gb: u64,
    /// Its disks: one SSD.
    pub disks: Vec<DiskInfo>,
    /// `required`.
    pub nvme_support: String,
}

/// One instance-store disk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiskInfo {
    /// GB.
    #[serde(rename = "SizeInGB")]
    pub size_in_gb: u64,
    /// How many.
    pub count: u32,
    /// `ssd`.
    #[serde(rename = "Type")]
    pub disk_type: String,
}

/// EBS optimization of an instance type.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EbsInfo {
    /// `unsupported` (burstable types) or `default`.
    pub ebs_optimized_support: String,
}

/// How the current boot of a live guest fares (`Ec2LabInfo.GuestStatus`, ec2lab's own).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ec2LabGuestStatus {
    /// `impaired`, `ok` (ready, nothing wrong) or `initializing`.
    pub status: String,
    /// How the user data fared.
    pub user_data: Ec2LabUserDataStatus,
    /// The first few user-mode fault lines, as the guest kernel logged them.
    pub user_mode_faults: Vec<String>,
    /// How many user-mode faults the guest kernel logged.
    pub user_mode_fault_count: usize,
}

/// How the user data of the current boot fared.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ec2LabUserDataStatus {
    /// `unknown`, `none`, `already-ran`, `running`, `succeeded` or `failed`.
    pub status: String,
    /// Its exit status, once it exited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
    /// The signal that ended it, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// The agent's line that told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
}

/// An instance's view of one of its interfaces is the interface's own description,
/// told with the instance shapes' names.
impl From<super::network::NetworkInterface> for InstanceNetworkInterface {
    fn from(n: super::network::NetworkInterface) -> Self {
        let association =
            |a: super::network::NetworkInterfaceAssociation| InstanceNetworkInterfaceAssociation {
                ip_owner_id: a.ip_owner_id,
                public_ip: a.public_ip,
            };
        InstanceNetworkInterface {
            association: n.association.map(association),
            attachment: n.attachment.map(|a| InstanceNetworkInterfaceAttachment {
                attach_time: a.attach_time,
                attachment_id: a.attachment_id,
                delete_on_termination: a.delete_on_termination,
                device_index: a.device_index,
                instance_id: a.instance_id,
                instance_owner_id: a.instance_owner_id,
                network_card_index: a.network_card_index,
                status: a.status,
            }),
            availability_zone: n.availability_zone,
            description: n.description,
            groups: n
                .groups
                .into_iter()
                .map(|g| GroupIdentifier {
                    group_id: g.group_id,
                    group_name: Some(g.group_name),
                })
                .collect(),
            interface_type: n.interface_type,
            mac_address: n.mac_address,
            network_interface_id: n.network_interface_id,
            owner_id: n.owner_id,
            private_ip_address: n.private_ip_address,
            private_ip_addresses: n
                .private_ip_addresses
                .into_iter()
                .map(|p| InstancePrivateIpAddress {
                    association: p.association.map(association),
                    primary: p.primary,
                    private_ip_address: p.private_ip_address,
                })
                .collect(),
            requester_managed: n.requester_managed,
            source_dest_check: n.source_dest_check,
            status: n.status,
            subnet_id: n.subnet_id,
            vpc_id: n.vpc_id,
            ec2_lab_info: Ec2LabInterfaceInfo {
                tap: n.ec2lab_info.tap,
            },
        }
    }
}
