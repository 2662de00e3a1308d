//! The EC2 API's parameter decoding, as `ec2lab serve` does it before any handler runs: a
//! Query form (`Action=…&Filter.1.Name=…`) decoded by the model into the member tree, or
//! an AWS JSON body, then the member tree into the action's typed request shape (the
//! `members::decode` every front end uses, which refuses members the shape drops).
#![no_main]

use ec2lab::api::actions::from_request;
use ec2lab::api::query;
use ec2lab::ec2::model::Model;
use ec2lab::ec2::shapes::{
    images, instance_attributes, instance_status, instances, keys, maintenance, network, storage,
    tagging,
};
use serde_json::Value;

/// Decodes `req` into the typed request of `action`, when ec2lab has one.
fn typed(action: &str, req: Value) {
    macro_rules! shapes {
        ($($name:literal => $ty:ty),* $(,)?) => {
            match action {
                $($name => { let _ = from_request::<$ty>(req); })*
                _ => {}
            }
        };
    }
    shapes! {
        "RunInstances" => instances::RunInstancesRequest,
        "DescribeInstances" => instances::DescribeInstancesRequest,
        "MonitorInstances" => instances::MonitorInstancesRequest,
        "StartInstances" => instances::StartInstancesRequest,
        "StopInstances" => instances::StopInstancesRequest,
        "RebootInstances" => instances::RebootInstancesRequest,
        "TerminateInstances" => instances::TerminateInstancesRequest,
        "GetConsoleOutput" => instances::GetConsoleOutputRequest,
        "ModifyInstanceMetadataOptions" => instances::ModifyInstanceMetadataOptionsRequest,
        "DescribeInstanceTypes" => instances::DescribeInstanceTypesRequest,
        "DescribeInstanceStatus" => instance_status::DescribeInstanceStatusRequest,
        "DescribeInstanceAttribute" => instance_attributes::DescribeInstanceAttributeRequest,
        "ModifyInstanceAttribute" => instance_attributes::ModifyInstanceAttributeRequest,
        "ModifyInstanceMaintenanceOptions" => maintenance::ModifyInstanceMaintenanceOptionsRequest,
        "DescribeImages" => images::DescribeImagesRequest,
        "RegisterImage" => images::RegisterImageRequest,
        "CreateImage" => images::CreateImageRequest,
        "CopyImage" => images::CopyImageRequest,
        "DeregisterImage" => images::DeregisterImageRequest,
        "CreateKeyPair" => keys::CreateKeyPairRequest,
        "ImportKeyPair" => keys::ImportKeyPairRequest,
        "DescribeKeyPairs" => keys::DescribeKeyPairsRequest,
        "DeleteKeyPair" => keys::DeleteKeyPairRequest,
        "CreateVolume" => storage::CreateVolumeRequest,
        "DescribeVolumes" => storage::DescribeVolumesRequest,
        "AttachVolume" => storage::AttachVolumeRequest,
        "DetachVolume" => storage::DetachVolumeRequest,
        "DeleteVolume" => storage::DeleteVolumeRequest,
        "ModifyVolume" => storage::ModifyVolumeRequest,
        "CreateSnapshot" => storage::CreateSnapshotRequest,
        "DescribeSnapshots" => storage::DescribeSnapshotsRequest,
        "DeleteSnapshot" => storage::DeleteSnapshotRequest,
        "CreateTags" => tagging::CreateTagsRequest,
        "DeleteTags" => tagging::DeleteTagsRequest,
        "DescribeTags" => tagging::DescribeTagsRequest,
        "CreateSecurityGroup" => network::CreateSecurityGroupRequest,
        "DescribeSecurityGroups" => network::DescribeSecurityGroupsRequest,
        "DeleteSecurityGroup" => network::DeleteSecurityGroupRequest,
        "AuthorizeSecurityGroupIngress" => network::SecurityGroupRulesRequest,
        "RevokeSecurityGroupEgress" => network::SecurityGroupRulesRequest,
        "CreateNetworkInterface" => network::CreateNetworkInterfaceRequest,
        "DescribeNetworkInterfaces" => network::DescribeNetworkInterfacesRequest,
        "AttachNetworkInterface" => network::AttachNetworkInterfaceRequest,
        "DetachNetworkInterface" => network::DetachNetworkInterfaceRequest,
        "DeleteNetworkInterface" => network::DeleteNetworkInterfaceRequest,
        "ModifyNetworkInterfaceAttribute" => network::ModifyNetworkInterfaceAttributeRequest,
        "AllocateAddress" => network::AllocateAddressRequest,
        "AssociateAddress" => network::AssociateAddressRequest,
        "DisassociateAddress" => network::DisassociateAddressRequest,
        "ReleaseAddress" => network::ReleaseAddressRequest,
        "DescribeAddresses" => network::DescribeAddressesRequest,
        "CreateVpc" => network::CreateVpcRequest,
        "DescribeVpcs" => network::DescribeVpcsRequest,
        "DeleteVpc" => network::DeleteVpcRequest,
        "CreateSubnet" => network::CreateSubnetRequest,
        "DescribeSubnets" => network::DescribeSubnetsRequest,
        "DeleteSubnet" => network::DeleteSubnetRequest,
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let model = Model::get();
    // A leading '{' line is the AWS JSON protocol: "{Action}\n{body}"; anything else a form.
    if let Some(rest) = data.strip_prefix(b"{") {
        let (action, body) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        let action = String::from_utf8_lossy(action);
        if let Ok(req) = ec2lab::api::awsjson::json_object(body) {
            typed(&action, req);
        }
        return;
    }
    let mut params: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    let Ok(action) = query::take_action(&mut params) else {
        return;
    };
    // Every operation of the model, served or not: the decoder must hold for all.
    let Some(op) = model.operations.get(&action) else {
        return;
    };
    if let Ok(req) = query::decode(model, op.input.as_deref(), &params) {
        typed(&action, req);
    }
});
