//! The security-group actions as every front end calls them: CreateSecurityGroup,
//! DescribeSecurityGroups, DeleteSecurityGroup and the four rule actions. The default VPC
//! (and its group "default") is made on first use, each change is one store transaction,
//! and then the host's firewall is brought in step with the store ([`sync`](crate::net::sync)).
//! The rules themselves are [`groups`]'.

use rusqlite::Connection;

use crate::ec2::filters;
use crate::ec2::pages::{self, Limits, PageRequest};
use crate::ec2::shapes::network::{
    CreateSecurityGroupRequest, CreateSecurityGroupResult, DeleteSecurityGroupRequest,
    DeleteSecurityGroupResult, DescribeSecurityGroupsRequest, DescribeSecurityGroupsResult,
    SecurityGroupRulesRequest, SecurityGroupRulesResult,
};
use crate::ec2::tags;
use crate::error::Ec2Error;
use crate::net::groups::{self, Direction, Permission, SecurityGroup};
use crate::net::vpc::{self, Subnet, Vpc};
use crate::store::Store;

/// EC2's checks of a group id: given, and shaped `sg-` and hex digits.
fn check_group_id(id: &str) -> Result<(), Ec2Error> {
    if id.is_empty() {
        return Err(Ec2Error::missing_parameter("groupId"));
    }
    if !crate::ids::is_valid(id, "sg") {
        return Err(Ec2Error::new(
            "InvalidGroupId.Malformed",
            format!("Invalid id: \"{id}\" (expecting \"sg-...\")"),
        ));
    }
    Ok(())
}

/// CreateSecurityGroup, in the default VPC unless the request names one. It allows all
/// outbound traffic and no inbound traffic.
pub fn create_security_group(
    store: &mut Store,
    req: &CreateSecurityGroupRequest,
) -> Result<CreateSecurityGroupResult, Ec2Error> {
    if req.group_name.is_empty() {
        return Err(Ec2Error::missing_parameter("GroupName"));
    }
    if req.description.is_empty() {
        return Err(Ec2Error::missing_parameter("GroupDescription"));
    }
    let tags = tags::for_resource(
        &req.tag_specifications,
        &["security-group"],
        "security-group",
    )?;
    vpc::ensure_default(store)?;
    let g = store.write(|tx| -> Result<_, Ec2Error> {
        let vpc_id = match &req.vpc_id {
            Some(v) => Vpc::get(tx, v)?.vpc_id,
            None => Subnet::default(tx)?.vpc_id,
        };
        let g = groups::create(tx, &vpc_id, &req.group_name, &req.description, false)?;
        // In the same transaction: the group never exists without its tags.
        groups::set_tags(tx, &g.group_id, &tags)?;
        Ok(g)
    })?;
    crate::net::sync(store)?;
    Ok(CreateSecurityGroupResult {
        group_id: g.group_id,
        tags,
    })
}

/// DescribeSecurityGroups: the named groups (each must exist) or all, through the filters.
pub fn describe_security_groups(
    store: &mut Store,
    req: &DescribeSecurityGroupsRequest,
) -> Result<DescribeSecurityGroupsResult, Ec2Error> {
    for g in &req.group_ids {
        check_group_id(g)?;
    }
    vpc::ensure_default(store)?;
    let c = store.conn();
    for g in &req.group_ids {
        SecurityGroup::get(c, g)?;
    }
    let named = SecurityGroup::all(c)?
        .iter()
        .filter(|g| req.group_ids.is_empty() || req.group_ids.contains(&g.group_id))
        .map(SecurityGroup::to_shape)
        .collect();
    let (security_groups, next_token) = pages::page(
        "DescribeSecurityGroups",
        filters::retain(named, &req.filters)?,
        // The order of `SecurityGroup::all`: by VPC, then name (unique in a VPC).
        |g| pages::key(&[&g.vpc_id, &g.group_name]),
        PageRequest::new(req.max_results, &req.next_token),
        Limits::between(5, 1000),
    )?;
    Ok(DescribeSecurityGroupsResult {
        security_groups,
        next_token,
    })
}

/// DeleteSecurityGroup: a group that no interface and no other group's rule names, by id
/// or, as EC2 takes it, by name in the default VPC.
pub fn delete_security_group(
    store: &mut Store,
    req: &DeleteSecurityGroupRequest,
) -> Result<DeleteSecurityGroupResult, Ec2Error> {
    let group_id = match (&req.group_id, &req.group_name) {
        (Some(id), _) => {
            check_group_id(id)?;
            id.clone()
        }
        (None, Some(name)) => {
            vpc::ensure_default(store)?;
            let default_vpc = Subnet::default(store.conn())?.vpc_id;
            groups::id_by_name(store.conn(), &default_vpc, name)?.ok_or_else(|| {
                Ec2Error::new(
                    "InvalidGroup.NotFound",
                    format!(
                        "The security group '{name}' does not exist in default VPC '{default_vpc}'"
                    ),
                )
            })?
        }
        (None, None) => return Err(Ec2Error::missing_parameter("groupName or groupId")),
    };
    store.write(|tx| groups::delete(tx, &group_id))?;
    crate::net::sync(store)?;
    Ok(DeleteSecurityGroupResult {
        return_: true,
        group_id,
    })
}

/// AuthorizeSecurityGroupIngress/Egress: every permission of the request is added, or
/// none (`InvalidPermission.Duplicate` for one that is there already).
pub fn authorize_rules(
    store: &mut Store,
    req: &SecurityGroupRulesRequest,
    dir: Direction,
) -> Result<SecurityGroupRulesResult, Ec2Error> {
    change_rules(store, req, dir, groups::authorize)
}

/// RevokeSecurityGroupIngress/Egress: every permission of the request is taken away, or
/// none (`InvalidPermission.NotFound` for one that is not there).
pub fn revoke_rules(
    store: &mut Store,
    req: &SecurityGroupRulesRequest,
    dir: Direction,
) -> Result<SecurityGroupRulesResult, Ec2Error> {
    change_rules(store, req, dir, groups::revoke)
}

type RuleChange = fn(&Connection, &str, Direction, Permission) -> Result<SecurityGroup, Ec2Error>;

fn change_rules(
    store: &mut Store,
    req: &SecurityGroupRulesRequest,
    dir: Direction,
    change: RuleChange,
) -> Result<SecurityGroupRulesResult, Ec2Error> {
    check_group_id(&req.group_id)?;
    let perms = req
        .ip_permissions
        .iter()
        .map(Permission::from_shape)
        .collect::<Result<Vec<_>, _>>()?;
    if perms.is_empty() {
        return Err(Ec2Error::missing_parameter("IpPermissions"));
    }
    store.write(|tx| -> Result<(), Ec2Error> {
        for p in perms {
            change(tx, &req.group_id, dir, p)?;
        }
        Ok(())
    })?;
    crate::net::sync(store)?;
    Ok(SecurityGroupRulesResult { return_: true })
}
