//! Dashboards: PutDashboard, GetDashboard, ListDashboards, DeleteDashboards, kept in the
//! region's store (`cw_dashboards`). A body is checked as CloudWatch checks it (a JSON
//! object with a `widgets` list, each widget with a known `type`, its position and size in
//! the 24-column grid, and the `properties` its type needs); a bad body is
//! `InvalidParameterInput` with CloudWatch's list of validation messages in the text.

use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

use super::now_ms;
use super::paging;
use super::shapes::dashboards::*;
use super::shapes::Timestamp;
use super::ACCOUNT_ID;
use crate::error::Ec2Error;
use crate::store::Store;

/// The largest body CloudWatch takes.
pub const MAX_BODY: usize = 1 << 20;
/// Dashboards per `ListDashboards` answer.
pub const LIST_PAGE: i64 = 1000;
/// The widget types of CloudWatch's dashboard body structure.
pub const WIDGET_TYPES: &[&str] = &["metric", "text", "log", "alarm", "explorer", "custom"];

/// `arn:aws:cloudwatch::ACCOUNT:dashboard/NAME` (dashboards are global: no region).
pub fn dashboard_arn(name: &str) -> String {
    format!("arn:aws:cloudwatch::{ACCOUNT_ID}:dashboard/{name}")
}

fn check_name(name: &str) -> Result<(), Ec2Error> {
    if name.is_empty() {
        return Err(Ec2Error::new(
            "MissingParameter",
            "The parameter DashboardName is required.",
        ));
    }
    if name.len() > 255
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Ec2Error::invalid_parameter(
            "The value for field DashboardName contains invalid characters. It can only contain alphanumerics, dash (-) and underscore (_).",
        ));
    }
    Ok(())
}

fn msg(path: &str, text: &str) -> DashboardValidationMessage {
    DashboardValidationMessage {
        data_path: path.into(),
        message: text.into(),
    }
}

fn int_in(
    w: &serde_json::Map<String, Value>,
    at: &str,
    key: &str,
    min: i64,
    max: i64,
    out: &mut Vec<DashboardValidationMessage>,
) {
    let Some(v) = w.get(key) else { return };
    let path = format!("{at}/{key}");
    match v.as_i64() {
        None => out.push(msg(&path, "Should be integer")),
        Some(n) if n < min => out.push(msg(&path, &format!("Should be >= {min}"))),
        Some(n) if n > max => out.push(msg(&path, &format!("Should be <= {max}"))),
        _ => {}
    }
}

fn check_widget(i: usize, w: &Value, out: &mut Vec<DashboardValidationMessage>) {
    let at = format!("/widgets/{i}");
    let Some(w) = w.as_object() else {
        out.push(msg(&at, "Should be object"));
        return;
    };
    let kind = match w.get("type") {
        None => {
            out.push(msg(&at, "Should have required property 'type'"));
            None
        }
        Some(Value::String(t)) if WIDGET_TYPES.contains(&t.as_str()) => Some(t.as_str()),
        Some(_) => {
            out.push(msg(
                &format!("{at}/type"),
                &format!(
                    "Should be equal to one of the allowed values: {}",
                    WIDGET_TYPES.join(", ")
                ),
            ));
            None
        }
    };
    int_in(w, &at, "x", 0, 23, out);
    int_in(w, &at, "y", 0, i64::MAX, out);
    int_in(w, &at, "width", 1, 24, out);
    int_in(w, &at, "height", 1, 1000, out);
    let props = match w.get("properties") {
        None => {
            out.push(msg(&at, "Should have required property 'properties'"));
            return;
        }
        Some(Value::Object(p)) => p,
        Some(_) => {
            out.push(msg(&format!("{at}/properties"), "Should be object"));
            return;
        }
    };
    let at = format!("{at}/properties");
    match kind {
        Some("metric") => match props.get("metrics") {
            // A metric widget graphs `metrics` (or an Insights `query`, not in ec2lab).
            None => out.push(msg(&at, "Should have required property 'metrics'")),
            Some(Value::Array(ms)) => {
                for (j, m) in ms.iter().enumerate() {
                    let mat = format!("{at}/metrics/{j}");
                    match m.as_array() {
                        None => out.push(msg(&mat, "Should be array")),
                        Some(parts) => {
                            let opts = parts.last().filter(|p| p.is_object()).is_some();
                            let names = &parts[..parts.len() - usize::from(opts)];
                            if names.is_empty() {
                                out.push(msg(&mat, "Should NOT have fewer than 1 items"));
                            }
                            for (k, p) in names.iter().enumerate() {
                                if !p.is_string() {
                                    out.push(msg(&format!("{mat}/{k}"), "Should be string"));
                                }
                            }
                        }
                    }
                }
            }
            Some(_) => out.push(msg(&format!("{at}/metrics"), "Should be array")),
        },
        Some("text") => match props.get("markdown") {
            None => out.push(msg(&at, "Should have required property 'markdown'")),
            Some(Value::String(_)) => {}
            Some(_) => out.push(msg(&format!("{at}/markdown"), "Should be string")),
        },
        Some("alarm") => match props.get("alarms") {
            None => out.push(msg(&at, "Should have required property 'alarms'")),
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
            Some(_) => out.push(msg(&format!("{at}/alarms"), "Should be array of strings")),
        },
        _ => {}
    }
}

/// CloudWatch's validation messages for a dashboard body (none: the body is good).
pub fn validate_body(body: &str) -> Vec<DashboardValidationMessage> {
    if body.len() > MAX_BODY {
        return vec![msg("", "The dashboard body must not be larger than 1 MB")];
    }
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(body) else {
        return vec![msg(
            "",
            "The field DashboardBody must be a valid JSON object",
        )];
    };
    let mut out = Vec::new();
    match doc.get("widgets") {
        None => out.push(msg("", "Should have required property 'widgets'")),
        Some(Value::Array(ws)) => {
            for (i, w) in ws.iter().enumerate() {
                check_widget(i, w, &mut out);
            }
        }
        Some(_) => out.push(msg("/widgets", "Should be array")),
    }
    if let Some(p) = doc.get("periodOverride") {
        if p != "auto" && p != "inherit" {
            out.push(msg(
                "/periodOverride",
                "Should be equal to one of the allowed values: auto, inherit",
            ));
        }
    }
    out
}

/// The `InvalidParameterInput` error of a body with `messages`, worded as CloudWatch's.
pub fn invalid_body(messages: &[DashboardValidationMessage]) -> Ec2Error {
    let list: Vec<Value> = messages
        .iter()
        .map(|m| json!({"dataPath": m.data_path, "message": m.message}))
        .collect();
    Ec2Error::new(
        "InvalidParameterInput",
        format!(
            "The dashboard body is invalid, there are {} validation errors:\n{}",
            messages.len(),
            serde_json::to_string_pretty(&list).unwrap_or_default()
        ),
    )
}

/// `PutDashboard`: creates or replaces the dashboard.
pub fn put_dashboard(
    store: &mut Store,
    req: &PutDashboardInput,
) -> Result<PutDashboardOutput, Ec2Error> {
    check_name(&req.dashboard_name)?;
    if req.dashboard_body.is_empty() {
        return Err(Ec2Error::new(
            "MissingParameter",
            "The parameter DashboardBody is required.",
        ));
    }
    let problems = validate_body(&req.dashboard_body);
    if !problems.is_empty() {
        return Err(invalid_body(&problems));
    }
    let tags = serde_json::to_string(&req.tags).map_err(|e| Ec2Error::internal(e.to_string()))?;
    let now = now_ms();
    store.write(|tx| {
        tx.execute(
            "INSERT INTO cw_dashboards (dashboard_name, body, last_modified_ms, tags) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (dashboard_name) DO UPDATE SET body = excluded.body, last_modified_ms = excluded.last_modified_ms",
            params![req.dashboard_name, req.dashboard_body, now, tags],
        )
        .map_err(Ec2Error::from)
    })?;
    Ok(PutDashboardOutput::default())
}

/// `GetDashboard`.
pub fn get_dashboard(
    store: &Store,
    req: &GetDashboardInput,
) -> Result<GetDashboardOutput, Ec2Error> {
    check_name(&req.dashboard_name)?;
    let body: Option<String> = store
        .conn()
        .query_row(
            "SELECT body FROM cw_dashboards WHERE dashboard_name = ?1",
            [&req.dashboard_name],
            |r| r.get(0),
        )
        .optional()?;
    let body = body.ok_or_else(|| {
        Ec2Error::new(
            "ResourceNotFound",
            format!("Dashboard {} does not exist", req.dashboard_name),
        )
    })?;
    Ok(GetDashboardOutput {
        dashboard_arn: dashboard_arn(&req.dashboard_name),
        dashboard_body: body,
        dashboard_name: req.dashboard_name.clone(),
    })
}

/// `ListDashboards`: by name, 1,000 per answer.
pub fn list_dashboards(
    store: &Store,
    req: &ListDashboardsInput,
) -> Result<ListDashboardsOutput, Ec2Error> {
    if let Some(p) = &req.dashboard_name_prefix {
        if !p.is_empty() {
            check_name(p)?;
        }
    }
    let mut stmt = store.conn().prepare(
        "SELECT dashboard_name, last_modified_ms, length(CAST(body AS BLOB)) FROM cw_dashboards ORDER BY dashboard_name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(DashboardEntry {
            dashboard_arn: dashboard_arn(&r.get::<_, String>(0)?),
            dashboard_name: r.get(0)?,
            last_modified: Timestamp(r.get(1)?),
            size: r.get(2)?,
        })
    })?;
    let prefix = req.dashboard_name_prefix.clone().unwrap_or_default();
    let mut all = Vec::new();
    for row in rows {
        let e = row?;
        if e.dashboard_name.starts_with(&prefix) {
            all.push(e);
        }
    }
    let (page, next_token) = paging::page(
        "ListDashboards",
        all,
        |e| e.dashboard_name.clone(),
        Some(LIST_PAGE),
        &req.next_token,
    )?;
    Ok(ListDashboardsOutput {
        dashboard_entries: page,
        next_token,
    })
}

/// `DeleteDashboards`: all named dashboards must exist, or none is deleted.
pub fn delete_dashboards(store: &mut Store, req: &DeleteDashboardsInput) -> Result<(), Ec2Error> {
    if req.dashboard_names.is_empty() {
        return Err(Ec2Error::new(
            "MissingParameter",
            "The parameter DashboardNames is required.",
        ));
    }
    store.write(|tx| {
        let mut missing = Vec::new();
        for n in &req.dashboard_names {
            let found: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM cw_dashboards WHERE dashboard_name = ?1",
                    [n],
                    |r| r.get(0),
                )
                .optional()?;
            if found.is_none() {
                missing.push(n.as_str());
            }
        }
        if !missing.is_empty() {
            return Err(Ec2Error::new(
                "ResourceNotFound",
                format!(
                    "The specified dashboard does not exist. [{}]: nothing was deleted",
                    missing.join(", ")
                ),
            ));
        }
        for n in &req.dashboard_names {
            tx.execute("DELETE FROM cw_dashboards WHERE dashboard_name = ?1", [n])?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), "lab-1").unwrap();
        (dir, s)
    }

    const GOOD: &str = r##"{"widgets":[{"type":"metric","x":0,"y":0,"width":12,"height":6,
        "properties":{"metrics":[["AWS/EC2","CPUUtilization","InstanceId","i-0123456789abcdef0"]],
        "period":60,"stat":"Average","region":"lab-1","title":"CPU"}},
        {"type":"text","x":12,"y":0,"width":6,"height":3,"properties":{"markdown":"# Lab"}}]}"##;

    fn put(s: &mut Store, name: &str, body: &str) -> Result<PutDashboardOutput, Ec2Error> {
        put_dashboard(
            s,
            &PutDashboardInput {
                dashboard_name: name.into(),
                dashboard_body: body.into(),
                tags: vec![],
            },
        )
    }

    #[test]
    fn put_get_list_delete() {
        let (_d, mut s) = lab();
        assert!(put(&mut s, "lab-overview", GOOD)
            .unwrap()
            .dashboard_validation_messages
            .is_empty());
        let got = get_dashboard(
            &s,
            &GetDashboardInput {
                dashboard_name: "lab-overview".into(),
            },
        )
        .unwrap();
        assert_eq!(got.dashboard_body, GOOD);
        assert_eq!(
            got.dashboard_arn,
            "arn:aws:cloudwatch::111122223333:dashboard/lab-overview"
        );
        put(&mut s, "lab-overview", r#"{"widgets":[]}"#).unwrap();
        put(&mut s, "other", r#"{"widgets":[]}"#).unwrap();
        let list = list_dashboards(&s, &ListDashboardsInput::default()).unwrap();
        let names: Vec<_> = list
            .dashboard_entries
            .iter()
            .map(|e| e.dashboard_name.as_str())
            .collect();
        assert_eq!(names, ["lab-overview", "other"]);
        assert_eq!(
            list.dashboard_entries[0].size, 14,
            "the replaced body's size"
        );
        let lab = list_dashboards(
            &s,
            &ListDashboardsInput {
                dashboard_name_prefix: Some("lab".into()),
                next_token: None,
            },
        )
        .unwrap();
        assert_eq!(lab.dashboard_entries.len(), 1);
        let e = delete_dashboards(
            &mut s,
            &DeleteDashboardsInput {
                dashboard_names: vec!["other".into(), "ghost".into()],
            },
        )
        .unwrap_err();
        assert_eq!(e.code, "ResourceNotFound");
        assert_eq!(
            list_dashboards(&s, &ListDashboardsInput::default())
                .unwrap()
                .dashboard_entries
                .len(),
            2
        );
        delete_dashboards(
            &mut s,
            &DeleteDashboardsInput {
                dashboard_names: vec!["other".into(), "lab-overview".into()],
            },
        )
        .unwrap();
        let e = get_dashboard(
            &s,
            &GetDashboardInput {
                dashboard_name: "other".into(),
            },
        )
        .unwrap_err();
        assert_eq!(e.code, "ResourceNotFound");
    }

    #[test]
    fn bad_bodies_and_names_are_refused_with_cloudwatch_messages() {
        let (_d, mut s) = lab();
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("not json", &[("", "The field DashboardBody must be a valid JSON object")]),
            ("[1]", &[("", "The field DashboardBody must be a valid JSON object")]),
            ("{}", &[("", "Should have required property 'widgets'")]),
            (r#"{"widgets":{}}"#, &[("/widgets", "Should be array")]),
            (
                r#"{"widgets":[{"x":0,"properties":{}}]}"#,
                &[("/widgets/0", "Should have required property 'type'")],
            ),
            (
                r#"{"widgets":[{"type":"metric","x":30,"width":0,"properties":{}}]}"#,
                &[
                    ("/widgets/0/x", "Should be <= 23"),
                    ("/widgets/0/width", "Should be >= 1"),
                    ("/widgets/0/properties", "Should have required property 'metrics'"),
                ],
            ),
            (
                r#"{"widgets":[{"type":"text","properties":{"markdown":3}}]}"#,
                &[("/widgets/0/properties/markdown", "Should be string")],
            ),
            (
                r#"{"widgets":[{"type":"graph","properties":{}}]}"#,
                &[("/widgets/0/type", "Should be equal to one of the allowed values: metric, text, log, alarm, explorer, custom")],
            ),
            (
                r#"{"widgets":[{"type":"metric","properties":{"metrics":[[1,"m"]]}}]}"#,
                &[("/widgets/0/properties/metrics/0/0", "Should be string")],
            ),
        ];
        for (body, want) in cases {
            let got = validate_body(body);
            let got: Vec<(&str, &str)> = got
                .iter()
                .map(|m| (m.data_path.as_str(), m.message.as_str()))
                .collect();
            assert_eq!(&got, want, "{body}");
            let e = put(&mut s, "d", body).unwrap_err();
            assert_eq!(e.code, "InvalidParameterInput");
            assert!(e.message.starts_with(&format!(
                "The dashboard body is invalid, there are {} validation errors:",
                want.len()
            )));
        }
        assert!(list_dashboards(&s, &ListDashboardsInput::default())
            .unwrap()
            .dashboard_entries
            .is_empty());
        assert_eq!(
            put(&mut s, "bad name", GOOD).unwrap_err().code,
            "InvalidParameterValue"
        );
        assert_eq!(put(&mut s, "", GOOD).unwrap_err().code, "MissingParameter");
        assert_eq!(
            delete_dashboards(&mut s, &DeleteDashboardsInput::default())
                .unwrap_err()
                .code,
            "MissingParameter"
        );
    }
}
