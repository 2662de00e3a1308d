//! Security groups: stateful allow-lists attached to network interfaces. Ingress is denied
//! unless a rule allows it; a new group allows all egress; an interface in several groups
//! gets the union of their rules. The firewall module turns them into nftables rules.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::cidr::Ipv4Cidr;
use crate::ec2::shapes::network::{self as shapes, IpPermission, IpRange, UserIdGroupPair};
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::ids::{self, OWNER_ID};

/// One permission: a protocol and port range, from (or to) CIDRs or group members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    /// "tcp", "udp", "icmp" or "-1" (all).
    pub protocol: String,
    /// The first port (tcp and udp).
    pub from_port: Option<u16>,
    /// The last port (tcp and udp).
    pub to_port: Option<u16>,
    /// IPv4 ranges.
    #[serde(default)]
    pub cidrs: Vec<String>,
    /// Groups whose members the rule covers.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The descriptions given to its CIDRs and groups (`IpRanges.N.Description`,
    /// `UserIdGroupPairs.N.Description`), by CIDR or group id. Not part of the rule's
    /// identity: EC2 finds duplicates and revokes without looking at them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub descriptions: BTreeMap<String, String>,
}

impl Permission {
    /// The rule as EC2 shows it.
    pub fn to_shape(&self) -> IpPermission {
        let ports = match (self.from_port, self.to_port) {
            (Some(f), Some(t)) => (Some(i32::from(f)), Some(i32::from(t))),
            _ => (None, None),
        };
        IpPermission {
            ip_protocol: self.protocol.clone(),
            from_port: ports.0,
            to_port: ports.1,
            ip_ranges: self
                .cidrs
                .iter()
                .map(|c| IpRange {
                    cidr_ip: c.clone(),
                    description: self.descriptions.get(c).cloned(),
                })
                .collect(),
            user_id_group_pairs: self
                .groups
                .iter()
                .map(|g| UserIdGroupPair {
                    group_id: g.clone(),
                    user_id: Some(OWNER_ID.into()),
                    description: self.descriptions.get(g).cloned(),
                })
                .collect(),
        }
    }

    /// A rule from a request's permission; a negative port (ICMP's -1) means none.
    pub fn from_shape(p: &IpPermission) -> Result<Permission, Ec2Error> {
        let port = |n: Option<i32>| -> Result<Option<u16>, Ec2Error> {
            match n {
                None => Ok(None),
                Some(n) if n < 0 => Ok(None),
                Some(n) => u16::try_from(n).map(Some).map_err(|_| {
                    Ec2Error::invalid_parameter(format!(
                        "Invalid port {n}: use a number 0-65535, or -1 for all"
                    ))
                }),
            }
        };
        Ok(Permission {
            protocol: p.ip_protocol.clone(),
            from_port: port(p.from_port)?,
            to_port: port(p.to_port)?,
            cidrs: p.ip_ranges.iter().map(|r| r.cidr_ip.clone()).collect(),
            groups: p
                .user_id_group_pairs
                .iter()
                .map(|g| g.group_id.clone())
                .collect(),
            descriptions: p
                .ip_ranges
                .iter()
                .map(|r| (&r.cidr_ip, &r.description))
                .chain(
                    p.user_id_group_pairs
                        .iter()
                        .map(|g| (&g.group_id, &g.description)),
                )
                .filter_map(|(k, d)| Some((k.clone(), d.clone()?)))
                .collect(),
        })
    }
}

/// Which of a group's rule lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Inbound.
    Ingress,
    /// Outbound.
    Egress,
}

impl Direction {
    fn column(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// A `security_groups` row.
#[derive(Clone, Debug, PartialEq)]
pub struct SecurityGroup {
    /// `sg-…`.
    pub group_id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its name, unique in its VPC.
    pub group_name: String,
    /// Free text.
    pub description: String,
    /// Inbound rules.
    pub ingress: Vec<Permission>,
    /// Outbound rules.
    pub egress: Vec<Permission>,
    /// Its tags.
    pub tags: Vec<Tag>,
}

fn perms(r: &Row, col: &str) -> rusqlite::Result<Vec<Permission>> {
    Ok(serde_json::from_str(&r.get::<_, String>(col)?).unwrap_or_default())
}

impl SecurityGroup {
    fn from_row(r: &Row) -> rusqlite::Result<SecurityGroup> {
        Ok(SecurityGroup {
            group_id: r.get("group_id")?,
            vpc_id: r.get("vpc_id")?,
            group_name: r.get("group_name")?,
            description: r.get("description")?,
            ingress: perms(r, "ingress")?,
            egress: perms(r, "egress")?,
            tags: tags::from_column(&r.get::<_, String>("tags")?),
        })
    }

    /// Every group, by VPC and name.
    pub fn all(c: &Connection) -> Result<Vec<SecurityGroup>, Ec2Error> {
        let mut stmt = c.prepare("SELECT * FROM security_groups ORDER BY vpc_id, group_name")?;
        let rows = stmt.query_map([], SecurityGroup::from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The group `id`, or EC2's not-found error.
    pub fn get(c: &Connection, id: &str) -> Result<SecurityGroup, Ec2Error> {
        c.query_row(
            "SELECT * FROM security_groups WHERE group_id = ?1",
            [id],
            SecurityGroup::from_row,
        )
        .optional()?
        .ok_or_else(|| {
            Ec2Error::new(
                "InvalidGroup.NotFound",
                format!("The security group '{id}' does not exist"),
            )
        })
    }

    /// A VPC's group "default".
    pub fn default_of(c: &Connection, vpc_id: &str) -> Result<SecurityGroup, Ec2Error> {
        let id: String = c.query_row(
            "SELECT group_id FROM security_groups WHERE vpc_id = ?1 AND group_name = 'default'",
            [vpc_id],
            |r| r.get(0),
        )?;
        Self::get(c, &id)
    }

    /// The group as EC2 shows it.
    pub fn to_shape(&self) -> shapes::SecurityGroup {
        shapes::SecurityGroup {
            group_id: self.group_id.clone(),
            group_name: self.group_name.clone(),
            description: self.description.clone(),
            vpc_id: self.vpc_id.clone(),
            owner_id: OWNER_ID.into(),
            ip_permissions: self.ingress.iter().map(Permission::to_shape).collect(),
            ip_permissions_egress: self.egress.iter().map(Permission::to_shape).collect(),
            tags: self.tags.clone(),
        }
    }

    fn rules_mut(&mut self, dir: Direction) -> &mut Vec<Permission> {
        match dir {
            Direction::Ingress => &mut self.ingress,
            Direction::Egress => &mut self.egress,
        }
    }

    fn save(&self, c: &Connection) -> Result<(), Ec2Error> {
        c.execute(
            "UPDATE security_groups SET ingress = ?2, egress = ?3 WHERE group_id = ?1",
            params![
                self.group_id,
                serde_json::to_string(&self.ingress).unwrap_or_default(),
                serde_json::to_string(&self.egress).unwrap_or_default()
            ],
        )?;
        Ok(())
    }
}

fn all_traffic(cidr: Option<&str>, group: Option<&str>) -> Permission {
    Permission {
        protocol: "-1".into(),
        from_port: None,
        to_port: None,
        cidrs: cidr.into_iter().map(String::from).collect(),
        groups: group.into_iter().map(String::from).collect(),
        descriptions: Default::default(),
    }
}

/// Creates a group. Every group allows all egress; the VPC's "default" group also lets
/// its own members reach each other, as on AWS.
pub fn create(
    c: &Connection,
    vpc_id: &str,
    name: &str,
    description: &str,
    is_default: bool,
) -> Result<SecurityGroup, Ec2Error> {
    if name.is_empty()
        || name.len() > 255
        || (!is_default && name == "default")
        || name.starts_with("sg-")
    {
        return Err(Ec2Error::invalid_parameter(format!(
            "Group name '{name}' is not valid: 1-255 characters, not 'default', not starting with sg-"
        )));
    }
    if let Some(id) = id_by_name(c, vpc_id, name)? {
        return Err(Ec2Error::new(
            "InvalidGroup.Duplicate",
            format!("The security group '{name}' already exists for VPC '{vpc_id}' ({id})"),
        ));
    }
    let group_id = ids::new_id("sg");
    let ingress = if is_default {
        vec![all_traffic(None, Some(&group_id))]
    } else {
        vec![]
    };
    let g = SecurityGroup {
        group_id,
        vpc_id: vpc_id.into(),
        group_name: name.into(),
        description: description.into(),
        ingress,
        egress: vec![all_traffic(Some("0.0.0.0/0"), None)],
        tags: vec![],
    };
    c.execute(
        "INSERT INTO security_groups (group_id, vpc_id, group_name, description) VALUES (?1,?2,?3,?4)",
        params![g.group_id, g.vpc_id, g.group_name, g.description],
    )?;
    g.save(c)?;
    Ok(g)
}

/// Sets the tags of group `group_id` (CreateSecurityGroup's `TagSpecifications`).
pub fn set_tags(c: &Connection, group_id: &str, tags: &[Tag]) -> Result<(), Ec2Error> {
    c.execute(
        "UPDATE security_groups SET tags = ?2 WHERE group_id = ?1",
        params![group_id, tags::to_column(tags)],
    )?;
    Ok(())
}

/// The id of the group named `name` in `vpc_id`, if there is one.
pub fn id_by_name(c: &Connection, vpc_id: &str, name: &str) -> Result<Option<String>, Ec2Error> {
    Ok(c.query_row(
        "SELECT group_id FROM security_groups WHERE vpc_id = ?1 AND group_name = ?2",
        params![vpc_id, name],
        |r| r.get(0),
    )
    .optional()?)
}

/// Checks a permission as EC2 does: protocol, ports, CIDR, source group in the same VPC.
pub fn validate(c: &Connection, vpc_id: &str, p: &mut Permission) -> Result<(), Ec2Error> {
    p.protocol = match p.protocol.to_ascii_lowercase().as_str() {
        "tcp" | "6" => "tcp",
        "udp" | "17" => "udp",
        "icmp" | "1" => "icmp",
        "-1" | "all" => "-1",
        other => {
            return Err(Ec2Error::invalid_parameter(format!(
                "Invalid value '{other}' for IP protocol. Use tcp, udp, icmp or -1 (all)"
            )))
        }
    }
    .into();
    match p.protocol.as_str() {
        "tcp" | "udp" => {
            let (Some(f), Some(t)) = (p.from_port, p.to_port) else {
                return Err(Ec2Error::missing_parameter(
                    "port (--port 80 or --port 8000-8100)",
                ));
            };
            if f > t {
                return Err(Ec2Error::invalid_parameter(format!(
                    "Invalid port range {f}-{t}: the first port must not be above the last"
                )));
            }
        }
        _ => {
            p.from_port = None;
            p.to_port = None;
        }
    }
    for cidr in &p.cidrs {
        cidr.parse::<Ipv4Cidr>().map_err(|e| {
            Ec2Error::invalid_parameter(format!(
                "Value ({cidr}) for parameter cidrIp is invalid: {e}"
            ))
        })?;
    }
    for g in &p.groups {
        let sg = SecurityGroup::get(c, g)?;
        if sg.vpc_id != vpc_id {
            return Err(Ec2Error::invalid_parameter(format!(
                "Security group {g} is in another VPC ({}); source groups must be in the same VPC",
                sg.vpc_id
            )));
        }
    }
    if p.cidrs.is_empty() && p.groups.is_empty() {
        return Err(Ec2Error::missing_parameter("cidr or source-group"));
    }
    Ok(())
}

/// Parses `--port 80`, `--port 8000-8100`, `--port -1`.
pub fn parse_ports(s: &str) -> Result<(Option<u16>, Option<u16>), Ec2Error> {
    let bad = || {
        Ec2Error::invalid_parameter(format!(
            "Invalid port '{s}': use a number 0-65535, a range like 8000-8100, or -1 for all"
        ))
    };
    if s == "-1" {
        return Ok((None, None));
    }
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    Ok((Some(a), Some(b)))
}

fn same_rule(a: &Permission, b: &Permission) -> bool {
    a.protocol == b.protocol && a.from_port == b.from_port && a.to_port == b.to_port
}

/// Adds one rule, unless it is already there.
pub fn authorize(
    c: &Connection,
    group_id: &str,
    dir: Direction,
    mut p: Permission,
) -> Result<SecurityGroup, Ec2Error> {
    let mut g = SecurityGroup::get(c, group_id)?;
    validate(c, &g.vpc_id, &mut p)?;
    let list = g.rules_mut(dir);
    let dup = list.iter().any(|q| {
        same_rule(q, &p)
            && (p.cidrs.iter().any(|x| q.cidrs.contains(x))
                || p.groups.iter().any(|x| q.groups.contains(x)))
    });
    if dup {
        return Err(Ec2Error::new(
            "InvalidPermission.Duplicate",
            format!(
                "the specified rule already exists in {group_id} ({})",
                dir.column()
            ),
        ));
    }
    list.push(p);
    g.save(c)?;
    Ok(g)
}

/// Takes away one rule, which must be there.
pub fn revoke(
    c: &Connection,
    group_id: &str,
    dir: Direction,
    mut p: Permission,
) -> Result<SecurityGroup, Ec2Error> {
    let mut g = SecurityGroup::get(c, group_id)?;
    validate(c, &g.vpc_id, &mut p)?;
    let list = g.rules_mut(dir);
    let mut found = false;
    for q in list.iter_mut().filter(|q| same_rule(q, &p)) {
        let before = q.cidrs.len() + q.groups.len();
        q.cidrs.retain(|x| !p.cidrs.contains(x));
        q.groups.retain(|x| !p.groups.contains(x));
        let (cidrs, groups) = (&q.cidrs, &q.groups);
        q.descriptions
            .retain(|k, _| cidrs.contains(k) || groups.contains(k));
        found |= q.cidrs.len() + q.groups.len() < before;
    }
    list.retain(|q| !q.cidrs.is_empty() || !q.groups.is_empty());
    if !found {
        return Err(Ec2Error::new(
            "InvalidPermission.NotFound",
            format!(
                "The specified rule does not exist in {group_id} ({})",
                dir.column()
            ),
        ));
    }
    g.save(c)?;
    Ok(g)
}

/// Deletes a group that no interface and no other group's rule names.
pub fn delete(c: &Connection, group_id: &str) -> Result<(), Ec2Error> {
    let g = SecurityGroup::get(c, group_id)?;
    if g.group_name == "default" {
        return Err(Ec2Error::new(
            "CannotDelete",
            format!("The default security group {group_id} cannot be deleted"),
        ));
    }
    let mut stmt = c.prepare("SELECT eni_id, groups FROM enis")?;
    let users: Vec<String> = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .filter_map(Result::ok)
        .filter(|(_, gs)| {
            serde_json::from_str::<Vec<String>>(gs)
                .unwrap_or_default()
                .contains(&g.group_id)
        })
        .map(|(e, _)| e)
        .collect();
    if let Some(eni) = users.first() {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!("resource {group_id} has a dependent object ({eni})"),
        ));
    }
    let referenced = SecurityGroup::all(c)?.into_iter().find(|o| {
        o.group_id != g.group_id
            && o.ingress
                .iter()
                .chain(&o.egress)
                .any(|p| p.groups.contains(&g.group_id))
    });
    if let Some(o) = referenced {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!(
                "resource {group_id} is referenced by a rule of {}",
                o.group_id
            ),
        ));
    }
    c.execute(
        "DELETE FROM security_groups WHERE group_id = ?1",
        [group_id],
    )?;
    Ok(())
}

/// The groups an interface in a subnet gets: the VPC's default group when none are
/// named, otherwise the named ones, which must exist in the subnet's VPC.
pub fn for_interface(
    c: &Connection,
    vpc_id: &str,
    subnet_id: &str,
    group_ids: &[String],
) -> Result<Vec<String>, Ec2Error> {
    if group_ids.is_empty() {
        return Ok(vec![SecurityGroup::default_of(c, vpc_id)?.group_id]);
    }
    for g in group_ids {
        let sg = SecurityGroup::get(c, g)?;
        if sg.vpc_id != vpc_id {
            return Err(Ec2Error::invalid_parameter(format!(
                "Security group {g} and subnet {subnet_id} belong to different networks"
            )));
        }
    }
    Ok(group_ids.to_vec())
}
