//! Tags on every resource ec2lab has: CreateTags, DeleteTags and DescribeTags.
//!
//! Each resource's table keeps its tags in a JSON `tags` column (read by its own module,
//! shown in its describe); this module is the one place that knows which table holds
//! which resource, by the id's prefix. A request is one transaction over every resource it
//! names: all of them change, or (on any error) none.

use rusqlite::{params, Connection, OptionalExtension};

use crate::ec2::filters::{self, Filterable};
use crate::ec2::pages::{self, Limits, PageRequest};
use crate::ec2::shapes::tagging::{
    CreateTagsRequest, DeleteTagsRequest, DescribeTagsRequest, DescribeTagsResult, TagDescription,
};
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::ids;
use crate::store::Store;

/// A kind of taggable resource: where its rows are and how EC2 names it.
struct Kind {
    /// The id's prefix, `vol` in `vol-0123…`.
    prefix: &'static str,
    /// EC2's resource type, as DescribeTags shows it.
    resource_type: &'static str,
    /// Its table.
    table: &'static str,
    /// Its id column.
    id_column: &'static str,
    /// The rows EC2 would still show (an SQL condition).
    live: &'static str,
    /// EC2's code for an id of this kind that does not exist.
    not_found: &'static str,
    /// Its message, `{id}` standing for the id.
    message: &'static str,
}

/// Every kind of resource ec2lab has.
const KINDS: &[Kind] = &[
    Kind {
        prefix: "i",
        resource_type: "instance",
        table: "instances",
        id_column: "instance_id",
        live: "1",
        not_found: "InvalidInstanceID.NotFound",
        message: "The instance ID '{id}' does not exist",
    },
    Kind {
        prefix: "ami",
        resource_type: "image",
        table: "images",
        id_column: "image_id",
        live: "state != 'deregistered'",
        not_found: "InvalidAMIID.NotFound",
        message: "The image id '[{id}]' does not exist",
    },
    Kind {
        prefix: "vol",
        resource_type: "volume",
        table: "volumes",
        id_column: "volume_id",
        live: "1",
        not_found: "InvalidVolume.NotFound",
        message: "The volume '{id}' does not exist.",
    },
    Kind {
        prefix: "snap",
        resource_type: "snapshot",
        table: "snapshots",
        id_column: "snapshot_id",
        live: "1",
        not_found: "InvalidSnapshot.NotFound",
        message: "The snapshot '{id}' does not exist.",
    },
    Kind {
        prefix: "vpc",
        resource_type: "vpc",
        table: "vpcs",
        id_column: "vpc_id",
        live: "1",
        not_found: "InvalidVpcID.NotFound",
        message: "The vpc ID '{id}' does not exist",
    },
    Kind {
        prefix: "subnet",
        resource_type: "subnet",
        table: "subnets",
        id_column: "subnet_id",
        live: "1",
        not_found: "InvalidSubnetID.NotFound",
        message: "The subnet ID '{id}' does not exist",
    },
    Kind {
        prefix: "sg",
        resource_type: "security-group",
        table: "security_groups",
        id_column: "group_id",
        live: "1",
        not_found: "InvalidGroup.NotFound",
        message: "The security group '{id}' does not exist",
    },
    Kind {
        prefix: "eni",
        resource_type: "network-interface",
        table: "enis",
        id_column: "eni_id",
        live: "1",
        not_found: "InvalidNetworkInterfaceID.NotFound",
        message: "The networkInterface ID '{id}' does not exist",
    },
    Kind {
        prefix: "eipalloc",
        resource_type: "elastic-ip",
        table: "addresses",
        id_column: "allocation_id",
        live: "1",
        not_found: "InvalidAllocationID.NotFound",
        message: "The allocation ID '{id}' does not exist",
    },
    Kind {
        prefix: "key",
        resource_type: "key-pair",
        table: "key_pairs",
        id_column: "key_pair_id",
        live: "1",
        not_found: "InvalidKeyPair.NotFound",
        message: "The key pair '{id}' does not exist",
    },
];

/// EC2's bounds on DescribeTags' `MaxResults`.
const PAGE_LIMITS: Limits = Limits::between(5, 1000);

/// The kind of `id`, or EC2's `InvalidID` for an id that is malformed or of a kind ec2lab
/// does not have.
fn kind_of(id: &str) -> Result<&'static Kind, Ec2Error> {
    KINDS
        .iter()
        .find(|k| ids::is_valid(id, k.prefix))
        .ok_or_else(|| {
            Ec2Error::new(
                "InvalidID",
                format!(
                    "The ID '{id}' is not valid: ec2lab tags ids such as i-…, ami-…, vol-…, snap-…, vpc-…, subnet-…, sg-…, eni-…, eipalloc-… and key-…"
                ),
            )
        })
}

/// The tags of resource `id`, or its kind's not-found error.
fn read(c: &Connection, kind: &Kind, id: &str) -> Result<Vec<Tag>, Ec2Error> {
    let sql = format!(
        "SELECT tags FROM {} WHERE {} = ?1 AND {}",
        kind.table, kind.id_column, kind.live
    );
    let text: Option<String> = c.query_row(&sql, [id], |r| r.get(0)).optional()?;
    text.map(|t| tags::from_column(&t))
        .ok_or_else(|| Ec2Error::new(kind.not_found, kind.message.replace("{id}", id)))
}

fn write(c: &Connection, kind: &Kind, id: &str, tags: &[Tag]) -> Result<(), Ec2Error> {
    let sql = format!(
        "UPDATE {} SET tags = ?2 WHERE {} = ?1",
        kind.table, kind.id_column
    );
    c.execute(&sql, params![id, tags::to_column(tags)])?;
    Ok(())
}

/// Every resource's kind, checked before anything changes.
fn kinds(resources: &[String]) -> Result<Vec<(&String, &'static Kind)>, Ec2Error> {
    if resources.is_empty() {
        return Err(Ec2Error::missing_parameter("ResourceId"));
    }
    resources.iter().map(|id| Ok((id, kind_of(id)?))).collect()
}

/// CreateTags: adds the tags to every resource (a key it has already gets the new value),
/// in one transaction. A resource may have at most 50 tags (`TagLimitExceeded`).
pub fn create_tags(store: &mut Store, req: &CreateTagsRequest) -> Result<(), Ec2Error> {
    let targets = kinds(&req.resources)?;
    if req.tags.is_empty() {
        return Err(Ec2Error::missing_parameter("Tag"));
    }
    tags::check_keys(&req.tags)?;
    store.write(|tx| -> Result<(), Ec2Error> {
        for (id, kind) in &targets {
            let mut have = read(tx, kind, id)?;
            tags::merge(&mut have, &req.tags);
            tags::check_count(have.len(), id)?;
            write(tx, kind, id, &have)?;
        }
        Ok(())
    })
}

/// DeleteTags: removes the named tags (a key without a value whatever its value, with a
/// value only if it matches), or every tag when none are named, from every resource, in
/// one transaction.
pub fn delete_tags(store: &mut Store, req: &DeleteTagsRequest) -> Result<(), Ec2Error> {
    let targets = kinds(&req.resources)?;
    for t in &req.tags {
        tags::check_not_reserved(&t.key)?;
    }
    let gone: Vec<(String, Option<String>)> = req
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    store.write(|tx| -> Result<(), Ec2Error> {
        for (id, kind) in &targets {
            let mut have = read(tx, kind, id)?;
            if gone.is_empty() {
                have.clear();
            } else {
                tags::remove(&mut have, &gone);
            }
            write(tx, kind, id, &have)?;
        }
        Ok(())
    })
}

/// A tag as DescribeTags lists it, with itself as a one-tag list for the `tag:<key>`
/// filter.
struct Listed {
    description: TagDescription,
    tag: [Tag; 1],
}

impl Filterable for Listed {
    const FILTERS: &'static [&'static str] = &["key", "resource-id", "resource-type", "value"];

    fn filter_values(&self, name: &str) -> Vec<String> {
        let d = &self.description;
        let one = match name {
            "key" => &d.key,
            "resource-id" => &d.resource_id,
            "resource-type" => &d.resource_type,
            "value" => &d.value,
            _ => return vec![],
        };
        vec![one.clone()]
    }

    fn tags(&self) -> &[Tag] {
        &self.tag
    }
}

/// DescribeTags: every tag of every resource, through the filters (`key`, `value`,
/// `resource-id`, `resource-type`, `tag:<key>`), by resource id and key, in pages.
pub fn describe_tags(
    store: &Store,
    req: &DescribeTagsRequest,
) -> Result<DescribeTagsResult, Ec2Error> {
    filters::check::<Listed>(&req.filters)?;
    // One read transaction: the tables are read as of one moment.
    let tx = store.conn().unchecked_transaction()?;
    let mut listed = Vec::new();
    for kind in KINDS {
        let sql = format!(
            "SELECT {}, tags FROM {} WHERE {} AND tags != '[]'",
            kind.id_column, kind.table, kind.live
        );
        let mut stmt = tx.prepare(&sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (id, text) = row?;
            for t in tags::from_column(&text) {
                listed.push(Listed {
                    description: TagDescription {
                        key: t.key.clone(),
                        resource_id: id.clone(),
                        resource_type: kind.resource_type.into(),
                        value: t.value.clone(),
                    },
                    tag: [t],
                });
            }
        }
    }
    drop(tx);
    let (page, next_token) = pages::page(
        "DescribeTags",
        filters::retain(listed, &req.filters)?,
        |l| pages::key(&[&l.description.resource_id, &l.description.key]),
        PageRequest::new(req.max_results, &req.next_token),
        PAGE_LIMITS,
    )?;
    Ok(DescribeTagsResult {
        tags: page.into_iter().map(|l| l.description).collect(),
        next_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::shapes::tagging::TagToDelete;

    fn lab() -> (tempfile::TempDir, Store, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), "lab-1").unwrap();
        crate::net::vpc::ensure_default(&mut s).unwrap();
        let vpc: String = s
            .conn()
            .query_row("SELECT vpc_id FROM vpcs", [], |r| r.get(0))
            .unwrap();
        let sg: String = s
            .conn()
            .query_row("SELECT group_id FROM security_groups", [], |r| r.get(0))
            .unwrap();
        (dir, s, vpc, sg)
    }

    fn create(s: &mut Store, ids: &[&str], tags: &[(&str, &str)]) -> Result<(), Ec2Error> {
        create_tags(
            s,
            &CreateTagsRequest {
                resources: ids.iter().map(|i| i.to_string()).collect(),
                tags: tags.iter().map(|(k, v)| Tag::new(*k, *v)).collect(),
            },
        )
    }

    fn described(s: &Store, filters: Vec<crate::ec2::filters::Filter>) -> Vec<(String, String)> {
        describe_tags(
            s,
            &DescribeTagsRequest {
                filters,
                ..Default::default()
            },
        )
        .unwrap()
        .tags
        .into_iter()
        .map(|t| (t.resource_id, format!("{}={}", t.key, t.value)))
        .collect()
    }

    #[test]
    fn tags_go_on_several_kinds_at_once_or_not_at_all() {
        let (_d, mut s, vpc, sg) = lab();
        create(&mut s, &[&vpc, &sg], &[("Name", "lab"), ("env", "test")]).unwrap();
        let all = described(&s, vec![]);
        assert_eq!(all.len(), 4, "{all:?}");
        let f = crate::ec2::filters::Filter::new("resource-type", &["security-group"]);
        assert_eq!(
            described(&s, vec![f]),
            vec![
                (sg.clone(), "Name=lab".into()),
                (sg.clone(), "env=test".into())
            ]
        );
        let f = crate::ec2::filters::Filter::new("tag:env", &["te*"]);
        assert_eq!(described(&s, vec![f]).len(), 2);

        // An unknown id among good ones: nothing changes.
        let e = create(&mut s, &[&vpc, "vol-0123456789abcdef0"], &[("x", "1")]).unwrap_err();
        assert_eq!(e.code, "InvalidVolume.NotFound");
        let e = create(&mut s, &[&vpc, "bogus-1"], &[("x", "1")]).unwrap_err();
        assert_eq!(e.code, "InvalidID");
        let e = create(&mut s, &[&vpc, "vpc-xyz"], &[("x", "1")]).unwrap_err();
        assert_eq!(e.code, "InvalidID");
        assert_eq!(described(&s, vec![]).len(), 4);

        // 50 tags at most, counting those it has.
        let many: Vec<(String, String)> =
            (0..49).map(|i| (format!("k{i}"), String::new())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let e = create(&mut s, &[&vpc], &many).unwrap_err();
        assert_eq!(e.code, "TagLimitExceeded");
        create(&mut s, &[&vpc], &many[..48]).unwrap();
        // Overwriting a key does not count twice.
        create(&mut s, &[&vpc], &[("Name", "again")]).unwrap();
    }

    #[test]
    fn delete_tags_follows_ec2() {
        let (_d, mut s, vpc, _sg) = lab();
        create(
            &mut s,
            &[&vpc],
            &[("a", "1"), ("b", "2"), ("c", ""), ("d", "4")],
        )
        .unwrap();
        let del = |s: &mut Store, tags: Vec<TagToDelete>| {
            delete_tags(
                s,
                &DeleteTagsRequest {
                    resources: vec![vpc.clone()],
                    tags,
                },
            )
        };
        let t = |k: &str, v: Option<&str>| TagToDelete {
            key: k.into(),
            value: v.map(String::from),
        };
        del(
            &mut s,
            vec![
                t("a", Some("9")),
                t("b", None),
                t("c", Some("")),
                t("d", Some("")),
            ],
        )
        .unwrap();
        assert_eq!(
            described(&s, vec![]),
            vec![(vpc.clone(), "a=1".into()), (vpc.clone(), "d=4".into())]
        );
        del(&mut s, vec![]).unwrap();
        assert!(described(&s, vec![]).is_empty());
    }

    #[test]
    fn describe_tags_pages() {
        let (_d, mut s, vpc, _sg) = lab();
        let keys: Vec<String> = (0..12).map(|i| format!("k{i:02}")).collect();
        let tags: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
        create(&mut s, &[&vpc], &tags).unwrap();
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let r = describe_tags(
                &s,
                &DescribeTagsRequest {
                    max_results: Some(5),
                    next_token: token,
                    ..Default::default()
                },
            )
            .unwrap();
            assert!(r.tags.len() <= 5);
            seen.extend(r.tags.into_iter().map(|t| t.key));
            match r.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, keys);
    }
}
