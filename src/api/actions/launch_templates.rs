//! The launch template actions: CreateLaunchTemplate, CreateLaunchTemplateVersion,
//! DescribeLaunchTemplates, DescribeLaunchTemplateVersions, ModifyLaunchTemplate,
//! DeleteLaunchTemplate.

use serde_json::Value;

use super::{from_request, to_result, ApiCtx};
use crate::ec2::shapes::launch_templates::*;
use crate::error::Ec2Error;
use crate::launch_templates as lt;

action!(
    /// `CreateLaunchTemplate`.
    create_launch_template,
    CreateLaunchTemplateRequest,
    |s, r| lt::create_launch_template(&mut s, &r)?
);
action!(
    /// `CreateLaunchTemplateVersion`.
    create_launch_template_version,
    CreateLaunchTemplateVersionRequest,
    |s, r| lt::create_launch_template_version(&mut s, &r)?
);
action!(
    /// `DescribeLaunchTemplates`.
    describe_launch_templates,
    DescribeLaunchTemplatesRequest,
    |s, r| lt::describe_launch_templates(&s, &r)?
);
action!(
    /// `DescribeLaunchTemplateVersions`.
    describe_launch_template_versions,
    DescribeLaunchTemplateVersionsRequest,
    |s, r| lt::describe_launch_template_versions(&s, &r)?
);
action!(
    /// `ModifyLaunchTemplate`.
    modify_launch_template,
    ModifyLaunchTemplateRequest,
    |s, r| lt::modify_launch_template(&mut s, &r)?
);
action!(
    /// `DeleteLaunchTemplate`.
    delete_launch_template,
    DeleteLaunchTemplateRequest,
    |s, r| lt::delete_launch_template(&mut s, &r)?
);
