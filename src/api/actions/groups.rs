//! The security group actions that change something: CreateSecurityGroup,
//! DeleteSecurityGroup and the four rule actions with `IpPermissions`.

use serde_json::Value;

use super::{from_request, to_result, ApiCtx};
use crate::ec2::shapes::network::{
    CreateSecurityGroupRequest, DeleteSecurityGroupRequest, SecurityGroupRulesRequest,
};
use crate::error::Ec2Error;
use crate::net::actions::groups as group_actions;
use crate::net::groups::Direction;

/// `CreateSecurityGroup`.
pub fn create_security_group(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: CreateSecurityGroupRequest = from_request(req)?;
    to_result(&group_actions::create_security_group(
        &mut ctx.tidy_store()?,
        &req,
    )?)
}

/// `DeleteSecurityGroup`.
pub fn delete_security_group(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: DeleteSecurityGroupRequest = from_request(req)?;
    to_result(&group_actions::delete_security_group(
        &mut ctx.tidy_store()?,
        &req,
    )?)
}

fn rules(ctx: &ApiCtx, req: Value, dir: Direction, grant: bool) -> Result<Value, Ec2Error> {
    let req: SecurityGroupRulesRequest = from_request(req)?;
    let store = &mut ctx.tidy_store()?;
    to_result(&if grant {
        group_actions::authorize_rules(store, &req, dir)?
    } else {
        group_actions::revoke_rules(store, &req, dir)?
    })
}

/// `AuthorizeSecurityGroupIngress`.
pub fn authorize_ingress(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    rules(ctx, req, Direction::Ingress, true)
}

/// `AuthorizeSecurityGroupEgress`.
pub fn authorize_egress(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    rules(ctx, req, Direction::Egress, true)
}

/// `RevokeSecurityGroupIngress`.
pub fn revoke_ingress(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    rules(ctx, req, Direction::Ingress, false)
}

/// `RevokeSecurityGroupEgress`.
pub fn revoke_egress(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    rules(ctx, req, Direction::Egress, false)
}
