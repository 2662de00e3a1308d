//! The global `--query`: a JMESPath expression applied to a verb's JSON result before
//! `--output` formats it, as the aws CLI does. The expression is compiled before the verb
//! runs, so a bad one changes nothing; its error and exit code are the aws CLI's.

use serde_json::Value;

use super::output::{self, OutputFormat};

/// The aws CLI's exit code for a `--query` it cannot compile or evaluate (it raises a
/// plain `ValueError`, which both v1 and v2 turn into 255).
pub const EXIT_QUERY_ERROR: i32 = 255;

/// A compiled `--query` expression.
pub struct Query {
    expr: jmespath::Expression<'static>,
}

impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Query({})", self.expr.as_str())
    }
}

/// `--query` could not be compiled or evaluated; the message is the aws CLI's.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(String);

impl Query {
    /// Compiles `text`, or gives the aws CLI's `Bad value for --query …` message.
    pub fn compile(text: &str) -> Result<Query, QueryError> {
        jmespath::compile(text)
            .map(|expr| Query { expr })
            .map_err(|e| {
                QueryError(format!(
                    "Bad value for --query {text}: Invalid jmespath expression: {}",
                    located(text, &e)
                ))
            })
    }

    /// The expression applied to `value`.
    pub fn apply(&self, value: &Value) -> Result<Value, QueryError> {
        let found = self
            .expr
            .search(value)
            .map_err(|e| QueryError(reason(&e)))?;
        serde_json::to_value(&*found).map_err(|e| QueryError(e.to_string()))
    }
}

/// The reason without the crate's "Parse error: " or "Runtime error: " prefix.
fn reason(e: &jmespath::JmespathError) -> String {
    match &e.reason {
        jmespath::ErrorReason::Parse(p) => p.clone(),
        jmespath::ErrorReason::Runtime(r) => r.to_string(),
    }
}

/// Python jmespath's layout: the reason, the expression quoted, a caret under the column.
fn located(text: &str, e: &jmespath::JmespathError) -> String {
    format!("{}:\n\"{text}\"\n{}^", reason(e), " ".repeat(e.column + 1))
}

/// Renders a verb's result: without a query exactly as [`output::render`] does; with one,
/// the query's result as the aws CLI prints it (`null` in JSON and `None` in text when it
/// selects nothing, since only an empty object prints nothing there).
pub fn render(
    value: &Value,
    format: OutputFormat,
    title: &str,
    query: Option<&Query>,
) -> Result<String, QueryError> {
    let Some(q) = query else {
        return Ok(output::render(value, format, title));
    };
    let found = q.apply(value)?;
    Ok(match (&found, format) {
        (Value::Null, OutputFormat::Json) => "null\n".to_string(),
        (Value::Null, OutputFormat::Text) => "None\n".to_string(),
        _ => output::render(&found, format, title),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reservations() -> Value {
        json!({"Reservations": [
            {"Instances": [
                {"InstanceId": "i-1", "State": {"Name": "running"}, "Tags": [{"Key": "Name", "Value": "web"}]},
                {"InstanceId": "i-2", "State": {"Name": "stopped"}, "Tags": []}
            ]}
        ]})
    }

    #[test]
    fn selects_projects_and_filters_like_jmespath() {
        let v = reservations();
        let q = Query::compile("Reservations[].Instances[].InstanceId").unwrap();
        assert_eq!(q.apply(&v).unwrap(), json!(["i-1", "i-2"]));
        let q = Query::compile("Reservations[].Instances[?State.Name=='running'].InstanceId[]")
            .unwrap();
        assert_eq!(q.apply(&v).unwrap(), json!(["i-1"]));
        let q = Query::compile(
            "Reservations[].Instances[].{Id: InstanceId, Name: Tags[?Key=='Name'] | [0].Value}",
        )
        .unwrap();
        assert_eq!(
            q.apply(&v).unwrap(),
            json!([{"Id": "i-1", "Name": "web"}, {"Id": "i-2", "Name": null}])
        );
        let q = Query::compile("length(Reservations[].Instances[])").unwrap();
        assert_eq!(q.apply(&v).unwrap(), json!(2));
    }

    #[test]
    fn renders_as_the_aws_cli() {
        let v = reservations();
        let q = Query::compile("Reservations[].Instances[].InstanceId").unwrap();
        assert_eq!(
            render(&v, OutputFormat::Text, "DescribeInstances", Some(&q)).unwrap(),
            "i-1\ti-2\n"
        );
        assert_eq!(
            render(&v, OutputFormat::Json, "DescribeInstances", Some(&q)).unwrap(),
            "[\n    \"i-1\",\n    \"i-2\"\n]\n"
        );
        let q = Query::compile("Nothing").unwrap();
        assert_eq!(
            render(&v, OutputFormat::Json, "X", Some(&q)).unwrap(),
            "null\n"
        );
        assert_eq!(
            render(&v, OutputFormat::Text, "X", Some(&q)).unwrap(),
            "None\n"
        );
        assert_eq!(render(&v, OutputFormat::Table, "X", Some(&q)).unwrap(), "");
        let q = Query::compile("Reservations[0].Instances[0].InstanceId").unwrap();
        assert_eq!(
            render(&v, OutputFormat::Text, "X", Some(&q)).unwrap(),
            "i-1\n"
        );
        // Without a query, what output.rs renders.
        assert_eq!(
            render(&Value::Null, OutputFormat::Json, "X", None).unwrap(),
            ""
        );
    }

    #[test]
    fn bad_expressions_read_like_the_aws_cli() {
        let e = Query::compile("foo[").unwrap_err().to_string();
        assert!(
            e.starts_with("Bad value for --query foo[: Invalid jmespath expression: "),
            "{e}"
        );
        assert!(e.ends_with(":\n\"foo[\"\n     ^"), "{e}");
        // Evaluation errors (a function given the wrong type) are errors too.
        let q = Query::compile("length(`1`)").unwrap();
        assert!(q.apply(&json!({})).is_err());
    }
}
