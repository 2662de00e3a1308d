//! The image actions: CreateImage, CopyImage, DeregisterImage; RegisterImage names what
//! ec2lab takes instead.

use serde_json::Value;

use super::{from_request, to_result, ApiCtx};
use crate::ec2::shapes::images::{
    CopyImageRequest, CreateImageRequest, DeregisterImageRequest, DeregisterImageResult,
};
use crate::error::Ec2Error;
use crate::images;
use crate::store::Store;

/// `CreateImage`.
pub fn create_image(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: CreateImageRequest = from_request(req)?;
    to_result(&crate::instances::create_image(
        &mut ctx.tidy_store()?,
        &req,
    )?)
}

/// `CopyImage` from another region of this ec2lab (a state root); an unknown region is
/// refused rather than made.
pub fn copy_image(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: CopyImageRequest = from_request(req)?;
    if !ctx.regions.contains(&req.source_region) {
        return Err(Ec2Error::invalid_parameter(format!(
            "Invalid region: {}; this ec2lab has {}",
            req.source_region,
            ctx.regions.join(", ")
        )));
    }
    let source = Store::open(&ctx.state_dir, &req.source_region)?;
    to_result(&images::copy_image(&mut ctx.store()?, &source, &req)?)
}

/// `DeregisterImage`.
pub fn deregister_image(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: DeregisterImageRequest = from_request(req)?;
    images::deregister_image(&mut ctx.store()?, &req)?;
    to_result(&DeregisterImageResult { return_: true })
}

/// `RegisterImage`: EC2's takes an S3 manifest or EBS snapshots; ec2lab registers a kernel
/// and a root disk image from files on its host, which the Query API cannot name.
pub fn register_image(_ctx: &ApiCtx, _req: Value) -> Result<Value, Ec2Error> {
    Err(Ec2Error::new(
        "Unsupported",
        "RegisterImage from an S3 manifest or EBS snapshots is not supported by ec2lab: \
         register a kernel and a root disk image with `ec2lab register-image --kernel-file \
         … --root-image-file …` on the host, or CreateImage from an instance",
    ))
}
