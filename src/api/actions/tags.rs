//! CreateTags, DeleteTags and DescribeTags, on every kind of resource, through `tagging`
//! (the CLI's tag verbs call the same functions).

use serde_json::Value;

use super::{from_request, to_result, ApiCtx};
use crate::ec2::shapes::tagging::{CreateTagsRequest, DeleteTagsRequest, DescribeTagsRequest};
use crate::error::Ec2Error;
use crate::tagging;

/// `CreateTags`.
pub fn create_tags(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: CreateTagsRequest = from_request(req)?;
    tagging::create_tags(&mut ctx.tidy_store()?, &req)?;
    Ok(Value::Null)
}

/// `DeleteTags`.
pub fn delete_tags(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: DeleteTagsRequest = from_request(req)?;
    tagging::delete_tags(&mut ctx.tidy_store()?, &req)?;
    Ok(Value::Null)
}

/// `DescribeTags`.
pub fn describe_tags(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: DescribeTagsRequest = from_request(req)?;
    to_result(&tagging::describe_tags(&ctx.tidy_store()?, &req)?)
}
