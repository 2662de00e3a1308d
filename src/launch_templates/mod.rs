//! EC2 launch templates: named, versioned launch settings (one store transaction per
//! action), and what `RunInstances --launch-template` launches: the version's settings with
//! the request's own on top, as EC2 merges them.

use base64ct::Encoding;
use rusqlite::{params, OptionalExtension};

use crate::clock::iso8601_now;
use crate::ec2::filters::{self, Filterable};
use crate::ec2::shapes::instances::RunInstancesRequest;
use crate::ec2::shapes::launch_templates::*;
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::ids;
use crate::store::Store;

/// The resource types a template's data may tag (what RunInstances creates).
const DATA_TAG_TYPES: &[&str] = &["instance", "volume", "network-interface"];

/// A list the request sets replaces the other; an empty one keeps it.
fn list<T>(new: Vec<T>, old: Vec<T>) -> Vec<T> {
    if new.is_empty() {
        old
    } else {
        new
    }
}

fn created_by() -> String {
    format!("arn:aws:iam::{}:root", ids::OWNER_ID)
}

/// `InvalidLaunchTemplateName.MalformedException` unless `name` is 3 to 128 of
/// `a-zA-Z0-9().-/_`.
fn check_name(name: &str) -> Result<(), Ec2Error> {
    let ok = (3..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "().-/_".contains(c));
    if ok {
        return Ok(());
    }
    Err(Ec2Error::new(
        "InvalidLaunchTemplateName.MalformedException",
        format!(
            "A launch template name must be between 3 and 128 characters, and may contain \
             letters, numbers, and the following characters: - ( ) . / _; got {name:?}"
        ),
    ))
}

fn check_id(id: &str) -> Result<(), Ec2Error> {
    if ids::is_valid(id, "lt") {
        return Ok(());
    }
    Err(Ec2Error::new(
        "InvalidLaunchTemplateId.Malformed",
        format!("The specified ID for the launch template is malformed: {id:?} (expecting \"lt-\" and 17 hex digits)"),
    ))
}

/// The settings a version may hold, checked before anything is stored.
fn check_data(data: &LaunchTemplateData) -> Result<(), Ec2Error> {
    tags::for_resource(&data.tag_specifications, DATA_TAG_TYPES, "instance")?;
    if let Some(u) = &data.user_data {
        // RunInstances checks its size when it launches; here only that it is base64.
        if base64ct::Base64::decode_vec(u.trim()).is_err() {
            return Err(Ec2Error::invalid_parameter(
                "Invalid BASE64 encoding of user data: LaunchTemplateData.UserData is base64 (the aws CLI does not encode it for you here)",
            ));
        }
    }
    Ok(())
}

fn template_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LaunchTemplate> {
    Ok(LaunchTemplate {
        launch_template_id: r.get(0)?,
        launch_template_name: r.get(1)?,
        create_time: r.get(2)?,
        created_by: created_by(),
        default_version_number: r.get(3)?,
        latest_version_number: r.get(4)?,
        tags: tags::from_column(&r.get::<_, String>(5)?),
    })
}

const TEMPLATE_COLUMNS: &str =
    "launch_template_id, name, created, default_version, latest_version, tags";

fn all(conn: &rusqlite::Connection) -> Result<Vec<LaunchTemplate>, Ec2Error> {
    let mut st = conn.prepare(&format!(
        "SELECT {TEMPLATE_COLUMNS} FROM launch_templates ORDER BY created, name"
    ))?;
    let rows = st.query_map([], template_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The template a request names by id or by name (one of them).
fn find(
    conn: &rusqlite::Connection,
    id: Option<&str>,
    name: Option<&str>,
) -> Result<LaunchTemplate, Ec2Error> {
    let (column, key) = match (id, name) {
        (Some(_), Some(_)) => {
            return Err(Ec2Error::new(
                "InvalidParameterCombination",
                "Specify either a launch template ID or a launch template name, not both",
            ))
        }
        (Some(id), None) => {
            check_id(id)?;
            ("launch_template_id", id)
        }
        (None, Some(name)) => ("name", name),
        (None, None) => {
            return Err(Ec2Error::missing_parameter(
                "LaunchTemplateId or LaunchTemplateName",
            ))
        }
    };
    let found = conn
        .query_row(
            &format!("SELECT {TEMPLATE_COLUMNS} FROM launch_templates WHERE {column} = ?1"),
            [key],
            template_row,
        )
        .optional()?;
    found.ok_or_else(|| match id {
        Some(id) => Ec2Error::new(
            "InvalidLaunchTemplateId.NotFound",
            format!("The specified launch template, with template ID {id}, does not exist."),
        ),
        None => name_not_found(key),
    })
}

fn name_not_found(name: &str) -> Ec2Error {
    Ec2Error::new(
        "InvalidLaunchTemplateName.NotFoundException",
        format!(
            "The specified launch template, with template name {name}, does not exist \
             (see describe-launch-templates)."
        ),
    )
}

/// A version string (`3`, `$Latest`, `$Default`) of `t` to its number.
fn version_number(t: &LaunchTemplate, v: &str) -> Result<i64, Ec2Error> {
    match v {
        "$Latest" => Ok(t.latest_version_number),
        "$Default" => Ok(t.default_version_number),
        n => match n.parse::<i64>() {
            Ok(n) if n >= 1 && n <= t.latest_version_number => Ok(n),
            Ok(n) if n >= 1 => Err(version_not_found(t, n)),
            _ => Err(Ec2Error::invalid_parameter(format!(
                "Invalid launch template version {n:?}: use a version number, $Latest or $Default"
            ))),
        },
    }
}

fn version_not_found(t: &LaunchTemplate, n: i64) -> Ec2Error {
    Ec2Error::new(
        "InvalidLaunchTemplateId.VersionNotFound",
        format!(
            "Could not find launch template version {n} for template {} (versions 1 to {})",
            t.launch_template_id, t.latest_version_number
        ),
    )
}

fn version(
    conn: &rusqlite::Connection,
    t: &LaunchTemplate,
    n: i64,
) -> Result<LaunchTemplateVersion, Ec2Error> {
    let row = conn
        .query_row(
            "SELECT version, description, created, data FROM launch_template_versions
             WHERE launch_template_id = ?1 AND version = ?2",
            params![t.launch_template_id, n],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )
        .optional()?;
    let (number, description, created, data) = row.ok_or_else(|| version_not_found(t, n))?;
    Ok(LaunchTemplateVersion {
        launch_template_id: t.launch_template_id.clone(),
        launch_template_name: t.launch_template_name.clone(),
        version_number: number,
        version_description: description,
        create_time: created,
        created_by: created_by(),
        default_version: number == t.default_version_number,
        launch_template_data: serde_json::from_str(&data)
            .map_err(|e| Ec2Error::internal(format!("launch template data: {e}")))?,
    })
}

fn insert_version(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    n: i64,
    description: Option<&str>,
    data: &LaunchTemplateData,
) -> Result<(), Ec2Error> {
    let json = serde_json::to_string(data).map_err(|e| Ec2Error::internal(e.to_string()))?;
    tx.execute(
        "INSERT INTO launch_template_versions (launch_template_id, version, description, created, data)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, n, description, iso8601_now(), json],
    )?;
    Ok(())
}

/// `CreateLaunchTemplate`: the template and its version 1, the default.
pub fn create_launch_template(
    store: &mut Store,
    req: &CreateLaunchTemplateRequest,
) -> Result<CreateLaunchTemplateResult, Ec2Error> {
    check_name(&req.launch_template_name)?;
    check_data(&req.launch_template_data)?;
    let tags = tags::for_resource(
        &req.tag_specifications,
        &["launch-template"],
        "launch-template",
    )?;
    let t = LaunchTemplate {
        launch_template_id: ids::new_id("lt"),
        launch_template_name: req.launch_template_name.clone(),
        create_time: iso8601_now(),
        created_by: created_by(),
        default_version_number: 1,
        latest_version_number: 1,
        tags,
    };
    store.write(|tx| {
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM launch_templates WHERE name = ?1)",
            [&t.launch_template_name],
            |r| r.get(0),
        )?;
        if taken {
            return Err(Ec2Error::new(
                "InvalidLaunchTemplateName.AlreadyExistsException",
                format!(
                    "Launch template name already in use: {} (pick another name, or add a \
                     version with create-launch-template-version)",
                    t.launch_template_name
                ),
            ));
        }
        tx.execute(
            "INSERT INTO launch_templates (launch_template_id, name, created, default_version, latest_version, tags)
             VALUES (?1, ?2, ?3, 1, 1, ?4)",
            params![
                t.launch_template_id,
                t.launch_template_name,
                t.create_time,
                tags::to_column(&t.tags)
            ],
        )?;
        insert_version(
            tx,
            &t.launch_template_id,
            1,
            req.version_description.as_deref(),
            &req.launch_template_data,
        )
    })?;
    Ok(CreateLaunchTemplateResult { launch_template: t })
}

/// `data` over `base`: every member `data` sets replaces the base's (as a version made
/// from a `SourceVersion`).
fn overlay(base: LaunchTemplateData, data: &LaunchTemplateData) -> LaunchTemplateData {
    let d = data.clone();
    LaunchTemplateData {
        image_id: d.image_id.or(base.image_id),
        instance_type: d.instance_type.or(base.instance_type),
        key_name: d.key_name.or(base.key_name),
        security_group_ids: list(d.security_group_ids, base.security_group_ids),
        user_data: d.user_data.or(base.user_data),
        block_device_mappings: list(d.block_device_mappings, base.block_device_mappings),
        network_interfaces: list(d.network_interfaces, base.network_interfaces),
        tag_specifications: list(d.tag_specifications, base.tag_specifications),
        metadata_options: d.metadata_options.or(base.metadata_options),
        monitoring: d.monitoring.or(base.monitoring),
        placement: d.placement.or(base.placement),
        maintenance_options: d.maintenance_options.or(base.maintenance_options),
        hibernation_options: d.hibernation_options.or(base.hibernation_options),
    }
}

/// `CreateLaunchTemplateVersion`: the next number; from `SourceVersion`'s settings when
/// given, the request's on top. The default version stays.
pub fn create_launch_template_version(
    store: &mut Store,
    req: &CreateLaunchTemplateVersionRequest,
) -> Result<CreateLaunchTemplateVersionResult, Ec2Error> {
    check_data(&req.launch_template_data)?;
    let (t, n) = store.write(|tx| {
        let t = find(
            tx,
            req.launch_template_id.as_deref(),
            req.launch_template_name.as_deref(),
        )?;
        let data = match &req.source_version {
            Some(v) => {
                let base = version(tx, &t, version_number(&t, v)?)?.launch_template_data;
                overlay(base, &req.launch_template_data)
            }
            None => req.launch_template_data.clone(),
        };
        let n = t.latest_version_number + 1;
        insert_version(
            tx,
            &t.launch_template_id,
            n,
            req.version_description.as_deref(),
            &data,
        )?;
        tx.execute(
            "UPDATE launch_templates SET latest_version = ?2 WHERE launch_template_id = ?1",
            params![t.launch_template_id, n],
        )?;
        Ok::<_, Ec2Error>((t, n))
    })?;
    let t = find(store.conn(), Some(&t.launch_template_id), None)?;
    Ok(CreateLaunchTemplateVersionResult {
        launch_template_version: version(store.conn(), &t, n)?,
    })
}

impl Filterable for LaunchTemplate {
    const FILTERS: &'static [&'static str] = &["launch-template-name", "create-time"];

    fn filter_values(&self, name: &str) -> Vec<String> {
        match name {
            "launch-template-name" => vec![self.launch_template_name.clone()],
            "create-time" => vec![self.create_time.clone()],
            _ => Vec::new(),
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// `DescribeLaunchTemplates`: every named template must exist.
pub fn describe_launch_templates(
    store: &Store,
    req: &DescribeLaunchTemplatesRequest,
) -> Result<DescribeLaunchTemplatesResult, Ec2Error> {
    filters::check::<LaunchTemplate>(&req.filters)?;
    for id in &req.launch_template_ids {
        check_id(id)?;
    }
    let mut list = all(store.conn())?;
    for id in &req.launch_template_ids {
        if !list.iter().any(|t| &t.launch_template_id == id) {
            return Err(find(store.conn(), Some(id), None).unwrap_err());
        }
    }
    for name in &req.launch_template_names {
        if !list.iter().any(|t| &t.launch_template_name == name) {
            return Err(name_not_found(name));
        }
    }
    list.retain(|t| {
        (req.launch_template_ids.is_empty()
            || req.launch_template_ids.contains(&t.launch_template_id))
            && (req.launch_template_names.is_empty()
                || req.launch_template_names.contains(&t.launch_template_name))
    });
    Ok(DescribeLaunchTemplatesResult {
        launch_templates: filters::retain(list, &req.filters)?,
    })
}

/// `DescribeLaunchTemplateVersions`: the named versions, or those between `MinVersion` and
/// `MaxVersion`, newest first.
pub fn describe_launch_template_versions(
    store: &Store,
    req: &DescribeLaunchTemplateVersionsRequest,
) -> Result<DescribeLaunchTemplateVersionsResult, Ec2Error> {
    let conn = store.conn();
    let t = find(
        conn,
        req.launch_template_id.as_deref(),
        req.launch_template_name.as_deref(),
    )?;
    let mut numbers: Vec<i64> = if req.versions.is_empty() {
        let bound = |v: &Option<String>, dflt: i64| match v {
            Some(v) => version_number(&t, v),
            None => Ok(dflt),
        };
        let (lo, hi) = (
            bound(&req.min_version, 1)?,
            bound(&req.max_version, t.latest_version_number)?,
        );
        (lo..=hi).collect()
    } else {
        req.versions
            .iter()
            .map(|v| version_number(&t, v))
            .collect::<Result<_, _>>()?
    };
    numbers.sort_unstable_by(|a, b| b.cmp(a));
    numbers.dedup();
    let mut out = Vec::new();
    for n in numbers {
        out.push(version(conn, &t, n)?);
    }
    Ok(DescribeLaunchTemplateVersionsResult {
        launch_template_versions: out,
    })
}

/// `ModifyLaunchTemplate`: sets the default version.
pub fn modify_launch_template(
    store: &mut Store,
    req: &ModifyLaunchTemplateRequest,
) -> Result<LaunchTemplateResult, Ec2Error> {
    let id = store.write(|tx| {
        let t = find(
            tx,
            req.launch_template_id.as_deref(),
            req.launch_template_name.as_deref(),
        )?;
        if let Some(v) = &req.default_version {
            let n = match v.parse::<i64>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(Ec2Error::invalid_parameter(format!(
                        "Invalid default version {v:?}: use a version number"
                    )))
                }
            };
            if n > t.latest_version_number {
                return Err(version_not_found(&t, n));
            }
            tx.execute(
                "UPDATE launch_templates SET default_version = ?2 WHERE launch_template_id = ?1",
                params![t.launch_template_id, n],
            )?;
        }
        Ok(t.launch_template_id)
    })?;
    Ok(LaunchTemplateResult {
        launch_template: find(store.conn(), Some(&id), None)?,
    })
}

/// `DeleteLaunchTemplate`: the template and every version. Instances launched from it
/// keep running; an Auto Scaling group that uses it cannot launch until it gets another.
pub fn delete_launch_template(
    store: &mut Store,
    req: &DeleteLaunchTemplateRequest,
) -> Result<LaunchTemplateResult, Ec2Error> {
    let t = store.write(|tx| {
        let t = find(
            tx,
            req.launch_template_id.as_deref(),
            req.launch_template_name.as_deref(),
        )?;
        tx.execute(
            "DELETE FROM launch_template_versions WHERE launch_template_id = ?1",
            [&t.launch_template_id],
        )?;
        tx.execute(
            "DELETE FROM launch_templates WHERE launch_template_id = ?1",
            [&t.launch_template_id],
        )?;
        Ok::<_, Ec2Error>(t)
    })?;
    Ok(LaunchTemplateResult { launch_template: t })
}

/// The template and version a specification names (`$Default` when it names none).
pub fn resolve(
    store: &Store,
    spec: &LaunchTemplateSpecification,
) -> Result<LaunchTemplateVersion, Ec2Error> {
    let t = find(
        store.conn(),
        spec.launch_template_id.as_deref(),
        spec.launch_template_name.as_deref(),
    )?;
    let n = version_number(&t, spec.version.as_deref().unwrap_or("$Default"))?;
    version(store.conn(), &t, n)
}

/// The request RunInstances carries out: with a `LaunchTemplate`, the version's settings
/// with every parameter the request sets on top (EC2's rule: the request overrides the
/// template); tags are merged by key, the request's winning. Without one, `req` itself.
pub fn merged_request(
    store: &Store,
    req: &RunInstancesRequest,
) -> Result<RunInstancesRequest, Ec2Error> {
    let Some(spec) = &req.launch_template else {
        if req.image_id.is_empty() {
            return Err(Ec2Error::missing_parameter("ImageId"));
        }
        return Ok(req.clone());
    };
    let t = resolve(store, spec)?.launch_template_data;
    let r = req.clone();
    let image_id = if r.image_id.is_empty() {
        t.image_id
            .ok_or_else(|| Ec2Error::missing_parameter("ImageId"))?
    } else {
        r.image_id
    };
    let mut tag_specifications = t.tag_specifications;
    tag_specifications.extend(r.tag_specifications);
    Ok(RunInstancesRequest {
        image_id,
        instance_type: r.instance_type.or(t.instance_type),
        min_count: r.min_count,
        max_count: r.max_count,
        key_name: r.key_name.or(t.key_name),
        security_group_ids: list(r.security_group_ids, t.security_group_ids),
        subnet_id: r.subnet_id,
        user_data: r.user_data.or(t.user_data),
        block_device_mappings: list(r.block_device_mappings, t.block_device_mappings),
        tag_specifications,
        network_interfaces: list(r.network_interfaces, t.network_interfaces),
        metadata_options: r.metadata_options.or(t.metadata_options),
        placement: r.placement.or(t.placement),
        monitoring: r.monitoring.or(t.monitoring),
        maintenance_options: r.maintenance_options.or(t.maintenance_options),
        hibernation_options: r.hibernation_options.or(t.hibernation_options),
        instance_market_options: r.instance_market_options,
        no_warm: r.no_warm,
        launch_template: None,
    })
}

#[cfg(test)]
mod tests;
