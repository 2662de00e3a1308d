//! AMIs: RegisterImage, DescribeImages, CreateImage, CopyImage, DeregisterImage.
//!
//! ec2lab registers an AMI from files on the host (a kernel, a root disk image, an optional
//! initrd): `RegisterImageRequest` carries those as ec2lab's own members.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Filter, Tag, TagSpecification};
use crate::ec2::filters::Filterable;

/// An AMI as `DescribeImages` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Image {
    /// `x86_64` or `arm64`.
    pub architecture: String,
    /// When it was registered.
    pub creation_date: String,
    /// Its id (`ami-…`).
    pub image_id: String,
    /// `<owner>/<name>`.
    pub image_location: String,
    /// `machine`.
    pub image_type: String,
    /// Whether every account may launch it (the quick-start AMI).
    pub public: bool,
    /// The account.
    pub owner_id: String,
    /// `available`.
    pub state: String,
    /// Its root disk.
    pub block_device_mappings: Vec<ImageBlockDeviceMapping>,
    /// Its description.
    pub description: String,
    /// Always false.
    pub ena_support: bool,
    /// `kvm`.
    pub hypervisor: String,
    /// Its name.
    pub name: String,
    /// The root device's name.
    pub root_device_name: String,
    /// `ebs`.
    pub root_device_type: String,
    /// `hvm`.
    pub virtualization_type: String,
    /// `legacy-bios`.
    pub boot_mode: String,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// ec2lab's own facts about the image.
    pub ec2_lab_info: Ec2LabImageInfo,
}

impl Filterable for Image {
    const FILTERS: &'static [&'static str] = &["name", "image-id", "state", "architecture"];

    fn filter_values(&self, name: &str) -> Vec<String> {
        match name {
            "name" => vec![self.name.clone()],
            "image-id" => vec![self.image_id.clone()],
            "state" => vec![self.state.clone()],
            "architecture" => vec![self.architecture.clone()],
            _ => vec![],
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// One block device of an AMI.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageBlockDeviceMapping {
    /// The device name.
    pub device_name: String,
    /// The volume an instance gets for it.
    pub ebs: ImageEbsBlockDevice,
}

/// The EBS volume an instance of the AMI gets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageEbsBlockDevice {
    /// Always true.
    pub delete_on_termination: bool,
    /// The root image's size, rounded up to GiB.
    pub volume_size: i64,
    /// `gp3`.
    pub volume_type: String,
    /// Always false.
    pub encrypted: bool,
}

/// ec2lab's own facts about an AMI.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ec2LabImageInfo {
    /// It is the image guest-images/build.sh built.
    pub quick_start: bool,
    /// Where it came from (files, an instance, another region).
    pub source: String,
}

/// `DescribeImages` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeImagesRequest {
    /// Only these AMIs; each must exist.
    pub image_ids: Vec<String>,
    /// Accepted (self, amazon, an account id): every AMI here is local.
    pub owners: Vec<String>,
    /// Filters: name, image-id, state, architecture, tags.
    pub filters: Vec<Filter>,
    /// A page of at most this many (1 to 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// The previous page's `NextToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `DescribeImages` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeImagesResult {
    /// The AMIs, oldest first.
    pub images: Vec<Image>,
    /// The next page's token, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `RegisterImage` input: from files on the host (ec2lab's own members).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RegisterImageRequest {
    /// 3-128 letters, digits, spaces and `()[]./-'@_`; unique.
    pub name: String,
    /// Its description.
    pub description: String,
    /// `x86_64` or `arm64`.
    pub architecture: String,
    /// The guest kernel (ELF vmlinux or bzImage).
    pub kernel_file: PathBuf,
    /// The root disk image (raw).
    pub root_image_file: PathBuf,
    /// An initial ramdisk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initrd_file: Option<PathBuf>,
}

impl Default for RegisterImageRequest {
    fn default() -> Self {
        RegisterImageRequest {
            name: String::new(),
            description: String::new(),
            architecture: "x86_64".into(),
            kernel_file: PathBuf::new(),
            root_image_file: PathBuf::new(),
            initrd_file: None,
        }
    }
}

/// `RegisterImage` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RegisterImageResult {
    /// The new AMI.
    pub image_id: String,
}

/// `CreateImage` input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateImageRequest {
    /// The instance whose root disk becomes the AMI.
    pub instance_id: String,
    /// The AMI's name.
    pub name: String,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Pause the instance for a crash-consistent copy instead of shutting it down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_reboot: Option<bool>,
    /// Tags for the new AMI (resource type `image`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<TagSpecification>,
}

/// `CreateImage` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateImageResult {
    /// The new AMI.
    pub image_id: String,
}

/// `CopyImage` input; a region is a separate state root.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CopyImageRequest {
    /// The AMI in the source region.
    pub source_image_id: String,
    /// The region to copy from.
    pub source_region: String,
    /// The copy's name.
    pub name: String,
    /// The copy's description (default: the source's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `CopyImage` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CopyImageResult {
    /// The copy.
    pub image_id: String,
}

/// `DeregisterImage` input (the action returns nothing).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeregisterImageRequest {
    /// The AMI.
    pub image_id: String,
}

/// `DeregisterImage` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeregisterImageResult {
    /// Always true (a failure is an error).
    #[serde(rename = "Return")]
    pub return_: bool,
}
