//! CloudWatch on `ec2lab serve` with the unmodified clients, no VMs: boto3 in AWS JSON 1.0
//! (what botocore picks) and in the Query protocol (botocore made to pick it), and the aws
//! CLI: metric data put and read back exactly (standard and high resolution), alarms,
//! dashboards, a widget drawn as a PNG of the asked size, and bad input answered with
//! CloudWatch's codes and nothing changed. Then `ec2lab cloudwatch` on the same service.

#[path = "api_common/mod.rs"]
mod api_common;
mod common;

use api_common::{ok, Api};
use serde_json::{json, Value};

/// The whole flow with boto3, over `sys.argv[1]` (`json` or `query`), in namespace
/// `sys.argv[2]`; prints what it saw as JSON.
const FLOW: &str = r#"
import copy, datetime as dt, json, os, struct, sys, tempfile, time
import boto3, botocore
from botocore.loaders import Loader

proto, ns = sys.argv[1], sys.argv[2]
if proto == "query":
    # The same model with only the Query protocol: botocore's Query serializer and parser.
    model = copy.deepcopy(Loader().load_service_model("cloudwatch", "service-2"))
    model["metadata"]["protocol"] = "query"
    model["metadata"]["protocols"] = ["query"]
    d = tempfile.mkdtemp()
    ver = os.path.join(d, "cloudwatch", model["metadata"]["apiVersion"])
    os.makedirs(ver)
    json.dump(model, open(os.path.join(ver, "service-2.json"), "w"))
    core = botocore.session.Session(profile="ec2lab")
    core.get_component("data_loader").search_paths.insert(0, d)
    cw = boto3.Session(botocore_session=core).client("cloudwatch")
else:
    cw = boto3.Session(profile_name="ec2lab").client("cloudwatch")
sns = boto3.Session(profile_name="ec2lab").client("sns")
out = {"protocol": cw.meta.service_model.resolved_protocol}

def code(f, **kw):
    try:
        f(**kw)
        return None
    except botocore.exceptions.ClientError as e:
        return [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]

now = int(time.time())
t0 = now - now % 60 - 600
out["t0"] = t0
T = lambda s: dt.datetime.fromtimestamp(t0 + s, dt.timezone.utc)
host = [{"Name": "Host", "Value": "h1"}]

cw.put_metric_data(Namespace=ns, MetricData=[
    {"MetricName": "Latency", "Dimensions": host, "Timestamp": T(5), "Value": 10, "Unit": "Milliseconds"},
    {"MetricName": "Latency", "Dimensions": host, "Timestamp": T(15), "Value": 20, "Unit": "Milliseconds"},
    {"MetricName": "Latency", "Dimensions": host, "Timestamp": T(65), "Values": [30, 40],
     "Counts": [1, 3], "Unit": "Milliseconds"},
    {"MetricName": "Fast", "Timestamp": T(1), "Value": 1, "StorageResolution": 1},
    {"MetricName": "Fast", "Timestamp": T(2), "Value": 2, "StorageResolution": 1},
    {"MetricName": "Fast", "Timestamp": T(11), "Value": 5, "StorageResolution": 1},
])

def points(r):
    return sorted([int(p["Timestamp"].timestamp()) - t0, p.get("SampleCount"), p.get("Sum"),
                   p.get("Average"), p.get("Minimum"), p.get("Maximum"), p.get("Unit")]
                  for p in r["Datapoints"])

stats = ["SampleCount", "Sum", "Average", "Minimum", "Maximum"]
out["latency"] = points(cw.get_metric_statistics(Namespace=ns, MetricName="Latency",
    Dimensions=host, StartTime=T(0), EndTime=T(120), Period=60, Statistics=stats))
out["fast_1s"] = points(cw.get_metric_statistics(Namespace=ns, MetricName="Fast",
    StartTime=T(0), EndTime=T(20), Period=1, Statistics=["Sum"]))
out["fast_10s"] = points(cw.get_metric_statistics(Namespace=ns, MetricName="Fast",
    StartTime=T(0), EndTime=T(20), Period=10, Statistics=["Sum"]))
r = cw.get_metric_data(StartTime=T(0), EndTime=T(120), ScanBy="TimestampAscending",
    MetricDataQueries=[
        {"Id": "lat", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "Latency",
            "Dimensions": host}, "Period": 60, "Stat": "Maximum"}},
        {"Id": "fast", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "Fast"},
            "Period": 10, "Stat": "Sum"}, "Label": "fast sums"},
    ])
out["data"] = {q["Id"]: [q["Label"], [int(t.timestamp()) - t0 for t in q["Timestamps"]],
                         q["Values"], q["StatusCode"]] for q in r["MetricDataResults"]}
def metrics(**kw):
    return sorted([m["MetricName"], m["Dimensions"]] for m in cw.list_metrics(Namespace=ns, **kw)["Metrics"])
out["metrics"] = metrics()
out["metrics_host"] = metrics(Dimensions=[{"Name": "Host"}])

# Bad input: CloudWatch's codes, and nothing changed.
bad = {}
alarm = dict(AlarmName=ns + "-bad", Namespace="AWS/EC2", MetricName="CPUUtilization",
             Dimensions=[{"Name": "InstanceId", "Value": "i-0123456789abcdef0"}],
             Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=80,
             ComparisonOperator="GreaterThanThreshold")
bad["unknown_metric"] = code(cw.put_metric_alarm, **dict(alarm, MetricName="CPUUtilisation"))
bad["alarm_period"] = code(cw.put_metric_alarm, **dict(alarm, Period=45))
bad["malformed_arn"] = code(cw.put_metric_alarm, **dict(alarm, AlarmActions=["arn:aws:sns:lab-1"]))
bad["start_after_end"] = code(cw.get_metric_statistics, Namespace=ns, MetricName="Latency",
    StartTime=T(120), EndTime=T(0), Period=60, Statistics=["Sum"])
bad["query_period"] = code(cw.get_metric_statistics, Namespace=ns, MetricName="Latency",
    StartTime=T(0), EndTime=T(120), Period=45, Statistics=["Sum"])
bad["both_statistics"] = code(cw.get_metric_statistics, Namespace=ns, MetricName="Latency",
    StartTime=T(0), EndTime=T(120), Period=60, Statistics=["Sum"], ExtendedStatistics=["p99"])
bad["aws_namespace_put"] = code(cw.put_metric_data, Namespace="AWS/EC2",
    MetricData=[{"MetricName": "CPUUtilization", "Value": 1}])
bad["unsupported_member"] = code(cw.list_metrics, Namespace=ns, OwningAccount="123456789012")
bad["set_state_unknown"] = code(cw.set_alarm_state, AlarmName=ns + "-none", StateValue="OK",
    StateReason="x")
out["bad"] = bad
out["after_bad"] = [a["AlarmName"] for a in
                    cw.describe_alarms(AlarmNamePrefix=ns)["MetricAlarms"]]
out["metrics_after_bad"] = metrics()

# Alarms.
topic = sns.create_topic(Name="alerts-" + proto)["TopicArn"]
high, cpu = ns + "-high", ns + "-cpu"
cw.put_metric_alarm(AlarmName=high, Namespace=ns, MetricName="Latency", Dimensions=host,
    Statistic="Average", Period=60, EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=100,
    ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
    AlarmActions=[topic], AlarmDescription="latency")
cw.put_metric_alarm(**dict(alarm, AlarmName=cpu, Period=10, EvaluationPeriods=3,
    AlarmActions=[topic, "arn:aws:automate:lab-1:ec2:stop"]))
def names(**kw):
    return [a["AlarmName"] for a in cw.describe_alarms(**kw)["MetricAlarms"]]
out["alarms"] = names(AlarmNamePrefix=ns)
out["alarms_by_name"] = names(AlarmNames=[high])
out["alarms_by_action"] = names(AlarmNamePrefix=ns, ActionPrefix="arn:aws:automate:")
a = cw.describe_alarms(AlarmNames=[high])["MetricAlarms"][0]
out["high"] = {k: a.get(k) for k in ["AlarmArn", "Namespace", "MetricName", "Statistic",
    "Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
    "TreatMissingData", "AlarmActions", "ActionsEnabled", "AlarmDescription", "Dimensions"]}
out["for_metric"] = [m["AlarmName"] for m in cw.describe_alarms_for_metric(Namespace=ns,
    MetricName="Latency", Dimensions=host)["MetricAlarms"]]
cw.set_alarm_state(AlarmName=high, StateValue="ALARM", StateReason="set by the test")
a = cw.describe_alarms(AlarmNames=[high])["MetricAlarms"][0]
out["set_state"] = [a["StateValue"], a["StateReason"]]
h = cw.describe_alarm_history(AlarmName=high)["AlarmHistoryItems"]
out["history_types"] = sorted({i["HistoryItemType"] for i in h})
out["history_alarm"] = any(i["HistoryItemType"] == "StateUpdate" and "to ALARM" in i["HistorySummary"]
                           for i in h)
cw.disable_alarm_actions(AlarmNames=[high])
out["disabled"] = cw.describe_alarms(AlarmNames=[high])["MetricAlarms"][0]["ActionsEnabled"]
cw.enable_alarm_actions(AlarmNames=[high])
out["enabled"] = cw.describe_alarms(AlarmNames=[high])["MetricAlarms"][0]["ActionsEnabled"]
cw.delete_alarms(AlarmNames=[high, cpu])
out["deleted"] = names(AlarmNamePrefix=ns)

# Dashboards.
dash = ns.replace("/", "-") + "-dash"
body = json.dumps({"widgets": [{"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6,
    "properties": {"metrics": [[ns, "Latency", "Host", "h1"]], "region": "lab-1",
                   "period": 60, "stat": "Average"}}]})
out["put_dashboard"] = cw.put_dashboard(DashboardName=dash, DashboardBody=body)["DashboardValidationMessages"]
g = cw.get_dashboard(DashboardName=dash)
out["get_dashboard"] = [g["DashboardName"], g["DashboardArn"], g["DashboardBody"] == body]
out["list_dashboards"] = [[e["DashboardName"], e["Size"] == len(body)] for e in
                          cw.list_dashboards(DashboardNamePrefix=dash)["DashboardEntries"]]
out["bad_body"] = code(cw.put_dashboard, DashboardName=dash, DashboardBody='{"widgets": 3}')
out["bad_body_new"] = code(cw.put_dashboard, DashboardName=dash + "-2", DashboardBody="not json")
out["after_bad_body"] = [cw.get_dashboard(DashboardName=dash)["DashboardBody"] == body,
                         code(cw.get_dashboard, DashboardName=dash + "-2")]
cw.delete_dashboards(DashboardNames=[dash])
out["after_delete"] = [cw.list_dashboards(DashboardNamePrefix=dash)["DashboardEntries"],
                       code(cw.get_dashboard, DashboardName=dash),
                       code(cw.delete_dashboards, DashboardNames=[dash])]

# A graph.
widget = {"metrics": [[ns, "Latency", "Host", "h1"]], "start": "-PT1H", "period": 60,
          "stat": "Average", "width": 400, "height": 250, "title": "latency"}
img = cw.get_metric_widget_image(MetricWidget=json.dumps(widget), OutputFormat="png")["MetricWidgetImage"]
out["png"] = [img[:8] == b"\x89PNG\r\n\x1a\n", list(struct.unpack(">II", img[16:24]))]
out["png_other_region"] = code(cw.get_metric_widget_image,
    MetricWidget=json.dumps(dict(widget, region="lab-9")))
out["png_format"] = code(cw.get_metric_widget_image, MetricWidget=json.dumps(widget),
    OutputFormat="jpeg")
out["png_bad_widget"] = code(cw.get_metric_widget_image, MetricWidget='{"metrics": 3}')
print(json.dumps(out))
"#;

fn check_flow(v: &Value, proto: &str, ns: &str) {
    assert_eq!(v["protocol"], proto, "{v}");
    let ms = "Milliseconds";
    assert_eq!(
        v["latency"],
        json!([
            [0, 2.0, 30.0, 15.0, 10.0, 20.0, ms],
            [60, 4.0, 150.0, 37.5, 30.0, 40.0, ms]
        ]),
        "{proto}: {v}"
    );
    assert_eq!(
        v["fast_1s"],
        json!([
            [1, null, 1.0, null, null, null, "None"],
            [2, null, 2.0, null, null, null, "None"],
            [11, null, 5.0, null, null, null, "None"]
        ]),
        "{proto}: {v}"
    );
    assert_eq!(
        v["fast_10s"],
        json!([
            [0, null, 3.0, null, null, null, "None"],
            [10, null, 5.0, null, null, null, "None"]
        ]),
        "{proto}: {v}"
    );
    assert_eq!(
        v["data"],
        json!({
            "lat": ["Latency", [0, 60], [20.0, 40.0], "Complete"],
            "fast": ["fast sums", [0, 10], [3.0, 5.0], "Complete"]
        }),
        "{proto}: {v}"
    );
    let host = json!([{"Name": "Host", "Value": "h1"}]);
    assert_eq!(
        v["metrics"],
        json!([["Fast", []], ["Latency", host]]),
        "{proto}: {v}"
    );
    assert_eq!(
        v["metrics_host"],
        json!([["Latency", host]]),
        "{proto}: {v}"
    );

    let bad = &v["bad"];
    assert_eq!(
        bad["unknown_metric"],
        json!(["InvalidParameterValue", 400]),
        "{proto}: {v}"
    );
    assert_eq!(
        bad["alarm_period"],
        json!(["ValidationError", 400]),
        "{proto}: {v}"
    );
    assert_eq!(
        bad["malformed_arn"],
        json!(["ValidationError", 400]),
        "{proto}: {v}"
    );
    assert_eq!(
        bad["start_after_end"],
        json!(["InvalidParameterValue", 400]),
        "{proto}: {v}"
    );
    assert_eq!(
        bad["query_period"],
        json!(["InvalidParameterValue", 400]),
        "{proto}: {v}"
    );
    assert_eq!(
        bad["both_statistics"],
        json!(["InvalidParameterCombination", 400]),
        "{proto}: {v}"
    );
    assert_eq!(
        bad["aws_namespace_put"],
        json!(["InvalidParameterValue", 400]),
        "{proto}: {v}"
    );
    assert_eq!(
        bad["unsupported_member"],
        json!(["InvalidParameterValue", 400]),
        "{proto}: {v}"
    );
    assert_eq!(
        bad["set_state_unknown"],
        json!(["ResourceNotFound", 404]),
        "{proto}: {v}"
    );
    assert_eq!(v["after_bad"], json!([]), "{proto}: {v}");
    assert_eq!(v["metrics_after_bad"], v["metrics"], "{proto}: {v}");

    let (high, cpu) = (format!("{ns}-high"), format!("{ns}-cpu"));
    assert_eq!(v["alarms"], json!([cpu, high]), "{proto}: {v}");
    assert_eq!(v["alarms_by_name"], json!([high]), "{proto}: {v}");
    assert_eq!(v["alarms_by_action"], json!([cpu]), "{proto}: {v}");
    let topic = format!("arn:aws:sns:lab-1:111122223333:alerts-{proto}");
    assert_eq!(
        v["high"],
        json!({
            "AlarmArn": format!("arn:aws:cloudwatch:lab-1:111122223333:alarm:{high}"),
            "Namespace": ns, "MetricName": "Latency", "Statistic": "Average", "Period": 60,
            "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "Threshold": 100.0,
            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
            "AlarmActions": [topic], "ActionsEnabled": true, "AlarmDescription": "latency",
            "Dimensions": host,
        }),
        "{proto}: {v}"
    );
    assert_eq!(v["for_metric"], json!([high]), "{proto}: {v}");
    assert_eq!(
        v["set_state"],
        json!(["ALARM", "set by the test"]),
        "{proto}: {v}"
    );
    assert_eq!(v["history_alarm"], true, "{proto}: {v}");
    let types = v["history_types"].as_array().unwrap();
    assert!(
        types.contains(&json!("ConfigurationUpdate")),
        "{proto}: {v}"
    );
    assert!(types.contains(&json!("StateUpdate")), "{proto}: {v}");
    assert_eq!(
        (&v["disabled"], &v["enabled"]),
        (&json!(false), &json!(true)),
        "{proto}: {v}"
    );
    assert_eq!(v["deleted"], json!([]), "{proto}: {v}");

    let dash = format!("{}-dash", ns.replace('/', "-"));
    assert_eq!(v["put_dashboard"], json!([]), "{proto}: {v}");
    assert_eq!(
        v["get_dashboard"],
        json!([
            dash,
            format!("arn:aws:cloudwatch::111122223333:dashboard/{dash}"),
            true
        ]),
        "{proto}: {v}"
    );
    assert_eq!(v["list_dashboards"], json!([[dash, true]]), "{proto}: {v}");
    assert_eq!(
        v["bad_body"],
        json!(["InvalidParameterInput", 400]),
        "{proto}: {v}"
    );
    assert_eq!(
        v["bad_body_new"],
        json!(["InvalidParameterInput", 400]),
        "{proto}: {v}"
    );
    assert_eq!(
        v["after_bad_body"],
        json!([true, ["ResourceNotFound", 404]]),
        "{proto}: {v}"
    );
    assert_eq!(
        v["after_delete"],
        json!([[], ["ResourceNotFound", 404], ["ResourceNotFound", 404]]),
        "{proto}: {v}"
    );

    assert_eq!(v["png"], json!([true, [400, 250]]), "{proto}: {v}");
    assert_eq!(
        v["png_other_region"],
        json!(["InvalidParameterValue", 400]),
        "{proto}: {v}"
    );
    assert_eq!(
        v["png_format"],
        json!(["InvalidParameterValue", 400]),
        "{proto}: {v}"
    );
    assert_eq!(
        v["png_bad_widget"],
        json!(["InvalidParameterValue", 400]),
        "{proto}: {v}"
    );
}

/// boto3 in both of CloudWatch's protocols, each in its own namespace on one server.
#[test]
fn boto3_json_and_query() {
    let Some(api) = Api::start() else { return };
    for (proto, ns) in [("json", "Lab/Json"), ("query", "Lab/Query")] {
        let out = ok(&api.python(FLOW, &[proto, ns]), proto);
        let v: Value = serde_json::from_str(&out).unwrap();
        check_flow(&v, proto, ns);
    }
}

/// `aws cloudwatch` (the same botocore, AWS JSON 1.0) for a few verbs as a person types
/// them, including the aws CLI's own put-metric-data flags and its error lines.
#[test]
fn aws_cli() {
    let Some(api) = Api::start() else { return };
    let cw = |args: &[&str]| api.aws_service("cloudwatch", args);
    let json = |args: &[&str]| -> Value { serde_json::from_str(&ok(&cw(args), args[0])).unwrap() };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t0 = now - now % 60 - 300;
    let at = |s: u64| (t0 + s).to_string();
    for (s, v) in [(1, "3"), (2, "4"), (61, "10")] {
        ok(
            &cw(&[
                "put-metric-data",
                "--namespace",
                "Lab/Cli",
                "--metric-name",
                "Hits",
                "--dimensions",
                "App=web",
                "--value",
                v,
                "--unit",
                "Count",
                "--timestamp",
                &at(s),
            ]),
            "put-metric-data",
        );
    }
    let v = json(&[
        "get-metric-statistics",
        "--namespace",
        "Lab/Cli",
        "--metric-name",
        "Hits",
        "--dimensions",
        "Name=App,Value=web",
        "--start-time",
        &at(0),
        "--end-time",
        &at(120),
        "--period",
        "60",
        "--statistics",
        "Sum",
        "Maximum",
    ]);
    let mut points: Vec<(f64, f64)> = v["Datapoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["Sum"].as_f64().unwrap(), p["Maximum"].as_f64().unwrap()))
        .collect();
    points.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(points, [(7.0, 4.0), (10.0, 10.0)], "{v}");
    assert_eq!(v["Label"], "Hits");

    ok(
        &cw(&[
            "put-metric-alarm",
            "--alarm-name",
            "hits",
            "--namespace",
            "Lab/Cli",
            "--metric-name",
            "Hits",
            "--dimensions",
            "Name=App,Value=web",
            "--statistic",
            "Sum",
            "--period",
            "60",
            "--evaluation-periods",
            "1",
            "--threshold",
            "100",
            "--comparison-operator",
            "GreaterThanOrEqualToThreshold",
        ]),
        "put-metric-alarm",
    );
    let v = json(&["describe-alarms", "--alarm-names", "hits"]);
    assert_eq!(v["MetricAlarms"][0]["Threshold"], 100.0, "{v}");
    ok(
        &cw(&[
            "set-alarm-state",
            "--alarm-name",
            "hits",
            "--state-value",
            "ALARM",
            "--state-reason",
            "by hand",
        ]),
        "set-alarm-state",
    );
    let v = json(&["describe-alarm-history", "--alarm-name", "hits"]);
    assert!(
        v["AlarmHistoryItems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["HistoryItemType"] == "StateUpdate"),
        "{v}"
    );
    ok(
        &cw(&["delete-alarms", "--alarm-names", "hits"]),
        "delete-alarms",
    );
    let v = json(&["describe-alarms"]);
    assert_eq!(v["MetricAlarms"], json!([]), "{v}");

    // CloudWatch's error line; nothing created.
    let out = cw(&[
        "put-dashboard",
        "--dashboard-name",
        "d",
        "--dashboard-body",
        "{\"widgets\": [{\"type\": \"metric\"}]}",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(
            "An error occurred (InvalidParameterInput) when calling the PutDashboard operation"
        ),
        "{err}"
    );
    let v = json(&["list-dashboards"]);
    assert_eq!(v["DashboardEntries"], json!([]), "{v}");

    // The image, base64 in the JSON as the aws CLI prints it.
    let widget = json!({"metrics": [["Lab/Cli", "Hits", "App", "web"]], "start": "-PT1H",
        "stat": "Sum", "period": 60, "width": 320, "height": 200})
    .to_string();
    let v = json(&[
        "get-metric-widget-image",
        "--metric-widget",
        &widget,
        "--output-format",
        "png",
    ]);
    use base64ct::{Base64, Encoding};
    let png = Base64::decode_vec(v["MetricWidgetImage"].as_str().unwrap()).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        (
            u32::from_be_bytes(png[16..20].try_into().unwrap()),
            u32::from_be_bytes(png[20..24].try_into().unwrap())
        ),
        (320, 200)
    );
}

/// `ec2lab cloudwatch` on the same service, no server: the aws CLI's flags (timestamps as
/// epoch seconds and ISO 8601), --query/--output, CloudWatch's codes (exit 254), a bad
/// timestamp as a parameter error (exit 252), and `--output-file` writing the PNG.
#[test]
fn ec2lab_cloudwatch_cli() {
    let lab = common::Lab::new();
    let run = |args: &[&str]| common::run_with_timeout(lab.cmd(args), 60);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t0 = now - now % 60 - 300;
    let iso = |s: u64| {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{}", t0 + s), "+%Y-%m-%dT%H:%M:%SZ"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let data = json!([
        {"MetricName": "Hits", "Dimensions": [{"Name": "App", "Value": "web"}],
         "Timestamp": t0 + 1, "Value": 3, "StorageResolution": 1},
        {"MetricName": "Hits", "Dimensions": [{"Name": "App", "Value": "web"}],
         "Timestamp": t0 + 2, "Value": 4, "StorageResolution": 1}
    ])
    .to_string();
    // The region's monitor daemon (which evaluates alarms) is started by the first change.
    let log = lab.dir.path().join("lab-1/monitor.log");
    ok(&run(&["cloudwatch", "list-metrics"]), "list-metrics");
    assert!(!log.exists(), "a read started the monitor");
    ok(
        &run(&[
            "cloudwatch",
            "put-metric-data",
            "--namespace",
            "Lab/Cli",
            "--metric-data",
            &data,
        ]),
        "put-metric-data",
    );
    assert!(log.exists(), "put-metric-data did not start the monitor");
    // The aws CLI's own put-metric-data flags: one datum without the list.
    ok(
        &run(&[
            "cloudwatch",
            "put-metric-data",
            "--namespace",
            "Lab/Cli",
            "--metric-name",
            "Hits",
            "--dimensions",
            "App=web",
            "--value",
            "5",
            "--timestamp",
            &iso(3),
            "--storage-resolution",
            "1",
        ]),
        "put-metric-data --metric-name",
    );
    let both = run(&[
        "cloudwatch",
        "put-metric-data",
        "--namespace",
        "Lab/Cli",
        "--metric-data",
        &data,
        "--value",
        "1",
    ]);
    assert!(!both.status.success(), "--metric-data with --value");
    let sums = ok(
        &run(&[
            "cloudwatch",
            "get-metric-statistics",
            "--namespace",
            "Lab/Cli",
            "--metric-name",
            "Hits",
            "--dimensions",
            "Name=App,Value=web",
            "--start-time",
            &(t0).to_string(),
            "--end-time",
            &iso(60),
            "--period",
            "1",
            "--statistics",
            "Sum",
            "--query",
            "sort_by(Datapoints, &Timestamp)[].Sum",
            "--output",
            "text",
        ]),
        "get-metric-statistics",
    );
    assert_eq!(
        sums.split_whitespace().collect::<Vec<_>>(),
        ["3.0", "4.0", "5.0"]
    );

    ok(
        &run(&[
            "cloudwatch",
            "put-metric-alarm",
            "--alarm-name",
            "cpu-high",
            "--namespace",
            "AWS/EC2",
            "--metric-name",
            "CPUUtilization",
            "--dimensions",
            "Name=InstanceId,Value=i-0123456789abcdef0",
            "--statistic",
            "Average",
            "--period",
            "10",
            "--evaluation-periods",
            "3",
            "--threshold",
            "80",
            "--comparison-operator",
            "GreaterThanThreshold",
            "--alarm-actions",
            "arn:aws:automate:lab-1:ec2:stop",
            "--no-actions-enabled",
        ]),
        "put-metric-alarm",
    );
    let v: Value = serde_json::from_str(&ok(
        &run(&["cloudwatch", "describe-alarms", "--alarm-names", "cpu-high"]),
        "describe-alarms",
    ))
    .unwrap();
    let a = &v["MetricAlarms"][0];
    assert_eq!(
        (&a["Period"], &a["ActionsEnabled"], &a["AlarmActions"]),
        (
            &json!(10),
            &json!(false),
            &json!(["arn:aws:automate:lab-1:ec2:stop"])
        ),
        "{v}"
    );

    // CloudWatch's code, exit 254, nothing changed.
    let bad = run(&[
        "cloudwatch",
        "put-metric-alarm",
        "--alarm-name",
        "cpu-high",
        "--namespace",
        "AWS/EC2",
        "--metric-name",
        "CPUUtilization",
        "--statistic",
        "Average",
        "--period",
        "45",
        "--evaluation-periods",
        "3",
        "--threshold",
        "80",
        "--comparison-operator",
        "GreaterThanThreshold",
    ]);
    assert_eq!(bad.status.code(), Some(254));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains(
            "An error occurred (ValidationError) when calling the PutMetricAlarm operation"
        ),
        "{err}"
    );
    let period = ok(
        &run(&[
            "cloudwatch",
            "describe-alarms",
            "--query",
            "MetricAlarms[].Period",
            "--output",
            "text",
        ]),
        "describe-alarms",
    );
    assert_eq!(period.trim(), "10");

    // Pages put together as the aws CLI does: all the items, no NextToken.
    ok(
        &run(&[
            "cloudwatch",
            "put-metric-alarm",
            "--alarm-name",
            "cpu-low",
            "--namespace",
            "AWS/EC2",
            "--metric-name",
            "CPUUtilization",
            "--statistic",
            "Average",
            "--period",
            "60",
            "--evaluation-periods",
            "1",
            "--threshold",
            "1",
            "--comparison-operator",
            "LessThanThreshold",
        ]),
        "put-metric-alarm cpu-low",
    );
    let v: Value = serde_json::from_str(&ok(
        &run(&["cloudwatch", "describe-alarms", "--max-records", "1"]),
        "describe-alarms --max-records 1",
    ))
    .unwrap();
    let names: Vec<&str> = v["MetricAlarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AlarmName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cpu-high", "cpu-low"], "{v}");
    assert!(v.get("NextToken").is_none(), "{v}");
    // A token given is the caller's paging: passed on as is.
    let bad = run(&[
        "cloudwatch",
        "describe-alarms",
        "--next-token",
        "not-a-token",
    ]);
    assert_eq!(bad.status.code(), Some(254));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("(InvalidNextToken)"), "{err}");

    // A timestamp the aws CLI would not take: a parameter error, exit 252.
    let bad = run(&[
        "cloudwatch",
        "get-metric-statistics",
        "--namespace",
        "Lab/Cli",
        "--metric-name",
        "Hits",
        "--start-time",
        "yesterday",
        "--end-time",
        &iso(60),
        "--period",
        "60",
        "--statistics",
        "Sum",
    ]);
    assert_eq!(bad.status.code(), Some(252));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--start-time") && err.contains("yesterday"),
        "{err}"
    );

    // The graph into a file.
    let png_path = lab.dir.path().join("hits.png");
    let widget = json!({"metrics": [["Lab/Cli", "Hits", "App", "web"]], "start": "-PT1H",
        "stat": "Sum", "period": 10, "width": 500, "height": 300, "title": "hits"})
    .to_string();
    let out = ok(
        &run(&[
            "cloudwatch",
            "get-metric-widget-image",
            "--metric-widget",
            &widget,
            "--output-file",
            png_path.to_str().unwrap(),
        ]),
        "get-metric-widget-image",
    );
    assert_eq!(out, "");
    let png = std::fs::read(&png_path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        (
            u32::from_be_bytes(png[16..20].try_into().unwrap()),
            u32::from_be_bytes(png[20..24].try_into().unwrap())
        ),
        (500, 300)
    );
    ok(
        &run(&[
            "cloudwatch",
            "delete-alarms",
            "--alarm-names",
            "cpu-high",
            "cpu-low",
        ]),
        "delete-alarms",
    );
}
