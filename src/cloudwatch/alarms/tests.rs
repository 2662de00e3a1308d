//! Alarms: CloudWatch's documented evaluation cases, the actions and messages of state
//! changes, validation codes, describe filters and paging, history.

use super::evaluate::judge;
use super::*;
use crate::cloudwatch::metrics::MetricStore;
use crate::cloudwatch::shapes::alarms::*;
use crate::cloudwatch::shapes::Timestamp;
use crate::cloudwatch::{Dimension, Sample, StatSet};
use crate::store::Store;

const T0: i64 = 1_796_256_000_000; // 2026-12-03T00:00:00Z
const INSTANCE: &str = "i-0123456789abcdef0";

/// A row of the tables in CloudWatch's "Configuring how CloudWatch alarms treat missing
/// data" (section "How alarm state is evaluated when data is missing"): the evaluation
/// range of 5 periods, oldest first, `0` not breaching, `X` breaching, `-` missing; then
/// the state for MISSING, IGNORE, BREACHING, NOT BREACHING (`retain`: the state stays).
fn doc_row(n: usize, m: usize, points: &str, want: [&str; 4]) {
    let range: Vec<(i64, Option<f64>)> = points
        .split(' ')
        .enumerate()
        .map(|(i, p)| {
            let v = match p {
                "0" => Some(10.0),
                "X" => Some(90.0),
                _ => None,
            };
            (i as i64 * 60_000, v)
        })
        .collect();
    for (treat, want) in ["missing", "ignore", "breaching", "notBreaching"]
        .iter()
        .zip(want)
    {
        let j = judge(&range, n, m, "GreaterThanThreshold", 50.0, treat);
        let got = j.state.unwrap_or("retain");
        assert_eq!(got, want, "{m} of {n}, [{points}], {treat}");
    }
}

#[test]
fn evaluates_the_documented_cases_three_of_three() {
    doc_row(3, 3, "0 - X - X", ["OK", "OK", "OK", "OK"]);
    doc_row(3, 3, "- - - - 0", ["OK", "OK", "OK", "OK"]);
    doc_row(
        3,
        3,
        "- - - - -",
        ["INSUFFICIENT_DATA", "retain", "ALARM", "OK"],
    );
    doc_row(3, 3, "0 X X - X", ["ALARM", "ALARM", "ALARM", "ALARM"]);
    doc_row(3, 3, "- - X - -", ["ALARM", "retain", "ALARM", "OK"]);
}

#[test]
fn evaluates_the_documented_cases_two_of_three() {
    doc_row(3, 2, "0 - X - X", ["ALARM", "ALARM", "ALARM", "ALARM"]);
    doc_row(3, 2, "0 0 X 0 X", ["ALARM", "ALARM", "ALARM", "ALARM"]);
    doc_row(3, 2, "0 - X - -", ["OK", "OK", "ALARM", "OK"]);
    doc_row(3, 2, "- - - - 0", ["OK", "OK", "ALARM", "OK"]);
    doc_row(3, 2, "- - X - -", ["ALARM", "retain", "ALARM", "OK"]);
}

#[test]
fn comparison_operators() {
    use super::evaluate::breaches;
    assert!(breaches("GreaterThanOrEqualToThreshold", 5.0, 5.0));
    assert!(!breaches("GreaterThanThreshold", 5.0, 5.0));
    assert!(breaches("LessThanThreshold", 4.9, 5.0));
    assert!(breaches("LessThanOrEqualToThreshold", 5.0, 5.0));
    assert!(!breaches("LessThanThreshold", 5.0, 5.0));
}

struct Lab {
    _dir: tempfile::TempDir,
    store: Store,
    metrics: MetricStore,
}

fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "lab-1").unwrap();
    let metrics = MetricStore::open(store.root()).unwrap();
    Lab {
        _dir: dir,
        store,
        metrics,
    }
}

fn cpu_alarm(name: &str) -> PutMetricAlarmInput {
    PutMetricAlarmInput {
        alarm_name: name.into(),
        alarm_description: Some("CPU over 80% on the lab instance".into()),
        metric_name: Some("CPUUtilization".into()),
        namespace: Some("AWS/EC2".into()),
        statistic: Some("Average".into()),
        dimensions: vec![Dimension::new("InstanceId", INSTANCE)],
        period: Some(10),
        evaluation_periods: Some(3),
        datapoints_to_alarm: Some(2),
        threshold: Some(80.0),
        comparison_operator: Some("GreaterThanThreshold".into()),
        alarm_actions: vec![
            "arn:aws:automate:lab-1:ec2:stop".into(),
            "arn:aws:sns:lab-1:111122223333:admin-mail".into(),
        ],
        ok_actions: vec!["arn:aws:sns:lab-1:111122223333:admin-mail".into()],
        ..Default::default()
    }
}

/// High-resolution CPU points of `value` at every 10 s in [from, to).
fn burn(metrics: &mut MetricStore, from: i64, to: i64, value: f64) {
    let samples: Vec<Sample> = (from..to)
        .step_by(10_000)
        .map(|t| {
            let mut s = Sample::new(
                "AWS/EC2",
                "CPUUtilization",
                vec![Dimension::new("InstanceId", INSTANCE)],
                t,
                "Percent",
                StatSet::one(value),
            );
            s.storage_resolution = 1;
            s
        })
        .collect();
    metrics.put(&samples).unwrap();
}

fn describe(store: &Store, name: &str) -> MetricAlarm {
    let out = describe_alarms(
        store,
        &DescribeAlarmsInput {
            alarm_names: vec![name.into()],
            ..Default::default()
        },
    )
    .unwrap();
    out.metric_alarms
        .into_iter()
        .next()
        .expect("the alarm exists")
}

#[test]
fn an_alarm_goes_to_alarm_runs_its_actions_and_comes_back() {
    let mut l = lab();
    put_metric_alarm_at(&mut l.store, &cpu_alarm("cpu-high"), T0).unwrap();
    let a = describe(&l.store, "cpu-high");
    assert_eq!(a.state_value, "INSUFFICIENT_DATA");
    assert_eq!(a.state_reason, "Unchecked: Initial alarm creation");
    assert_eq!(
        a.alarm_arn,
        "arn:aws:cloudwatch:lab-1:111122223333:alarm:cpu-high"
    );
    assert!(a.actions_enabled);
    // No data: missing data keeps it INSUFFICIENT_DATA, no change to report.
    assert!(evaluate(&mut l.store, &l.metrics, T0 + 60_000)
        .unwrap()
        .is_empty());
    // The guest burns CPU for 30 s: two of the last three periods breach.
    burn(&mut l.metrics, T0 + 60_000, T0 + 90_000, 97.5);
    let now = T0 + 90_000;
    let changes = evaluate(&mut l.store, &l.metrics, now).unwrap();
    assert_eq!(changes.len(), 1);
    let t = &changes[0];
    assert_eq!(
        (t.old_state.as_str(), t.new_state.as_str()),
        ("INSUFFICIENT_DATA", "ALARM")
    );
    assert_eq!(
        t.actions,
        vec![
            AlarmAction::Ec2 {
                arn: "arn:aws:automate:lab-1:ec2:stop".into(),
                operation: "stop".into(),
                instance_id: INSTANCE.into()
            },
            AlarmAction::Sns {
                topic_arn: "arn:aws:sns:lab-1:111122223333:admin-mail".into()
            }
        ]
    );
    assert!(
        t.reason.starts_with("Threshold Crossed: 3 out of the last 3 datapoints [97.5 (03/12/26 00:01:20), 97.5 (03/12/26 00:01:10), 97.5 (03/12/26 00:01:00)] were greater than the threshold (80.0)"),
        "{}",
        t.reason
    );
    assert_eq!(t.subject, "ALARM: \"cpu-high\" in lab-1");
    let msg: serde_json::Value = serde_json::from_str(&t.message).unwrap();
    assert_eq!(msg["AlarmName"], "cpu-high");
    assert_eq!(msg["AlarmDescription"], "CPU over 80% on the lab instance");
    assert_eq!(msg["AWSAccountId"], "111122223333");
    assert_eq!(msg["NewStateValue"], "ALARM");
    assert_eq!(msg["OldStateValue"], "INSUFFICIENT_DATA");
    assert_eq!(msg["NewStateReason"], t.reason.as_str());
    assert_eq!(msg["StateChangeTime"], "2026-12-03T00:01:30.000+0000");
    assert_eq!(msg["Region"], "lab-1");
    assert_eq!(msg["AlarmArn"], a.alarm_arn.as_str());
    let trig = &msg["Trigger"];
    assert_eq!(trig["MetricName"], "CPUUtilization");
    assert_eq!(trig["Namespace"], "AWS/EC2");
    assert_eq!(trig["StatisticType"], "Statistic");
    assert_eq!(trig["Statistic"], "AVERAGE");
    assert_eq!(trig["Dimensions"][0]["name"], "InstanceId");
    assert_eq!(trig["Dimensions"][0]["value"], INSTANCE);
    assert_eq!(trig["Period"], 10);
    assert_eq!(trig["EvaluationPeriods"], 3);
    assert_eq!(trig["DatapointsToAlarm"], 2);
    assert_eq!(trig["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(trig["Threshold"], 80.0);
    let data: serde_json::Value = serde_json::from_str(t.reason_data.as_ref().unwrap()).unwrap();
    assert_eq!(data["statistic"], "Average");
    assert_eq!(
        data["recentDatapoints"],
        serde_json::json!([97.5, 97.5, 97.5])
    );
    let a = describe(&l.store, "cpu-high");
    assert_eq!(a.state_value, "ALARM");
    assert_eq!(a.state_transitioned_timestamp, Timestamp(now));
    // Evaluated again with the same data: no new change, no actions run twice.
    assert!(evaluate(&mut l.store, &l.metrics, now + 1_000)
        .unwrap()
        .is_empty());
    // The load stops: three quiet periods bring it back to OK, with the OK actions.
    burn(&mut l.metrics, T0 + 90_000, T0 + 120_000, 3.0);
    let changes = evaluate(&mut l.store, &l.metrics, T0 + 120_000).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].new_state, "OK");
    assert_eq!(
        changes[0].actions,
        vec![AlarmAction::Sns {
            topic_arn: "arn:aws:sns:lab-1:111122223333:admin-mail".into()
        }]
    );
    assert!(
        changes[0]
            .reason
            .contains("were not greater than the threshold (80.0)"),
        "{}",
        changes[0].reason
    );
    // The instance stops sending data: with missing data treated as missing the alarm
    // goes back to INSUFFICIENT_DATA once the whole range is empty (no actions listed).
    let changes = evaluate(&mut l.store, &l.metrics, T0 + 180_000).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].new_state, "INSUFFICIENT_DATA");
    assert_eq!(
        changes[0].reason,
        "Insufficient Data: 3 datapoints were unknown."
    );
    assert!(changes[0].actions.is_empty());
    // History, newest first: the three state changes, then the creation.
    let h = describe_alarm_history(
        &l.store,
        &DescribeAlarmHistoryInput {
            alarm_name: Some("cpu-high".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let summaries: Vec<_> = h
        .alarm_history_items
        .iter()
        .map(|i| i.history_summary.as_str())
        .collect();
    assert_eq!(
        summaries,
        [
            "Alarm updated from OK to INSUFFICIENT_DATA",
            "Alarm updated from ALARM to OK",
            "Alarm updated from INSUFFICIENT_DATA to ALARM",
            "Alarm \"cpu-high\" created"
        ]
    );
    let d: serde_json::Value =
        serde_json::from_str(&h.alarm_history_items[2].history_data).unwrap();
    assert_eq!(d["oldState"]["stateValue"], "INSUFFICIENT_DATA");
    assert_eq!(d["newState"]["stateValue"], "ALARM");
    assert_eq!(d["newState"]["stateReasonData"]["period"], 10);
    let d: serde_json::Value =
        serde_json::from_str(&h.alarm_history_items[3].history_data).unwrap();
    assert_eq!(d["type"], "Create");
    assert_eq!(d["createdAlarm"]["metricName"], "CPUUtilization");
}

#[test]
fn actions_run_only_while_enabled_and_set_alarm_state_queues_its_change() {
    let mut l = lab();
    put_metric_alarm_at(&mut l.store, &cpu_alarm("a"), T0).unwrap();
    disable_alarm_actions(
        &mut l.store,
        &AlarmNamesInput {
            alarm_names: vec!["a".into(), "nope".into()],
        },
    )
    .unwrap();
    assert!(!describe(&l.store, "a").actions_enabled);
    burn(&mut l.metrics, T0, T0 + 30_000, 99.0);
    let changes = evaluate(&mut l.store, &l.metrics, T0 + 30_000).unwrap();
    assert_eq!(changes[0].new_state, "ALARM");
    assert!(changes[0].actions.is_empty(), "actions disabled");
    enable_alarm_actions(
        &mut l.store,
        &AlarmNamesInput {
            alarm_names: vec!["a".into()],
        },
    )
    .unwrap();
    // SetAlarmState: the change and its actions come out of the next evaluation, which
    // then puts the alarm back where its data says.
    set_alarm_state_at(
        &mut l.store,
        &SetAlarmStateInput {
            alarm_name: "a".into(),
            state_value: "OK".into(),
            state_reason: "testing the OK notification".into(),
            state_reason_data: Some("{\"by\":\"test\"}".into()),
        },
        T0 + 31_000,
    )
    .unwrap();
    assert_eq!(describe(&l.store, "a").state_value, "OK");
    let changes = evaluate(&mut l.store, &l.metrics, T0 + 32_000).unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(
        (changes[0].new_state.as_str(), changes[0].reason.as_str()),
        ("OK", "testing the OK notification")
    );
    assert_eq!(changes[0].actions.len(), 1, "the OK action");
    assert_eq!(changes[1].new_state, "ALARM", "the data still breaches");
    assert_eq!(changes[1].actions.len(), 2);
    assert!(evaluate(&mut l.store, &l.metrics, T0 + 33_000)
        .unwrap()
        .is_empty());
    // SetAlarmState's errors.
    let set = |name: &str, state: &str, data: Option<&str>| SetAlarmStateInput {
        alarm_name: name.into(),
        state_value: state.into(),
        state_reason: "r".into(),
        state_reason_data: data.map(String::from),
    };
    assert_eq!(
        set_alarm_state_at(&mut l.store, &set("nope", "OK", None), T0)
            .unwrap_err()
            .code,
        "ResourceNotFound"
    );
    assert_eq!(
        set_alarm_state_at(&mut l.store, &set("a", "BROKEN", None), T0)
            .unwrap_err()
            .code,
        "ValidationError"
    );
    assert_eq!(
        set_alarm_state_at(&mut l.store, &set("a", "OK", Some("{not json")), T0)
            .unwrap_err()
            .code,
        "InvalidFormat"
    );
}

#[test]
fn missing_data_treated_as_breaching_alarms_without_data() {
    let mut l = lab();
    let mut req = cpu_alarm("b");
    req.treat_missing_data = Some("breaching".into());
    put_metric_alarm_at(&mut l.store, &req, T0).unwrap();
    let changes = evaluate(&mut l.store, &l.metrics, T0 + 60_000).unwrap();
    assert_eq!(changes[0].new_state, "ALARM");
    assert_eq!(
        changes[0].reason,
        "Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as [Breaching]."
    );
}

#[test]
fn an_update_keeps_the_state_and_records_what_changed() {
    let mut l = lab();
    put_metric_alarm_at(&mut l.store, &cpu_alarm("c"), T0).unwrap();
    burn(&mut l.metrics, T0, T0 + 30_000, 99.0);
    evaluate(&mut l.store, &l.metrics, T0 + 30_000).unwrap();
    let mut req = cpu_alarm("c");
    req.threshold = Some(95.0);
    req.tags = vec![crate::cloudwatch::shapes::Tag {
        key: "k".into(),
        value: "v".into(),
    }];
    put_metric_alarm_at(&mut l.store, &req, T0 + 40_000).unwrap();
    let a = describe(&l.store, "c");
    assert_eq!(a.state_value, "ALARM");
    assert_eq!(a.threshold, 95.0);
    assert_eq!(
        a.alarm_configuration_updated_timestamp,
        Timestamp(T0 + 40_000)
    );
    let h = describe_alarm_history(
        &l.store,
        &DescribeAlarmHistoryInput {
            history_item_type: Some("ConfigurationUpdate".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        h.alarm_history_items[0].history_summary,
        "Alarm \"c\" updated"
    );
    let d: serde_json::Value =
        serde_json::from_str(&h.alarm_history_items[0].history_data).unwrap();
    assert_eq!(d["originalUpdatedFields"]["threshold"], 80.0);
}

fn code(r: Result<(), crate::error::Ec2Error>) -> String {
    r.unwrap_err().code.to_string()
}

#[test]
fn put_metric_alarm_refuses_what_cloudwatch_refuses_and_changes_nothing() {
    let mut l = lab();
    let mut bad: Vec<(PutMetricAlarmInput, &str)> = Vec::new();
    let with = |f: &dyn Fn(&mut PutMetricAlarmInput)| {
        let mut r = cpu_alarm("x");
        f(&mut r);
        r
    };
    bad.push((with(&|r| r.period = Some(15)), "ValidationError"));
    bad.push((with(&|r| r.period = Some(90)), "ValidationError"));
    bad.push((with(&|r| r.period = Some(0)), "ValidationError"));
    bad.push((with(&|r| r.period = None), "MissingParameter"));
    bad.push((with(&|r| r.evaluation_periods = Some(0)), "ValidationError"));
    bad.push((
        with(&|r| {
            r.period = Some(3600);
            r.evaluation_periods = Some(25)
        }),
        "ValidationError",
    ));
    bad.push((
        with(&|r| r.datapoints_to_alarm = Some(4)),
        "ValidationError",
    ));
    bad.push((
        with(&|r| r.statistic = Some("Median".into())),
        "ValidationError",
    ));
    bad.push((with(&|r| r.statistic = None), "InvalidParameterCombination"));
    bad.push((
        with(&|r| r.extended_statistic = Some("p90".into())),
        "InvalidParameterCombination",
    ));
    bad.push((
        with(&|r| {
            r.statistic = None;
            r.extended_statistic = Some("p200".into())
        }),
        "InvalidParameterValue",
    ));
    bad.push((
        with(&|r| r.comparison_operator = Some("Above".into())),
        "ValidationError",
    ));
    bad.push((
        with(&|r| r.comparison_operator = Some("LessThanLowerOrGreaterThanUpperThreshold".into())),
        "InvalidParameterValue",
    ));
    bad.push((
        with(&|r| r.comparison_operator = Some("GreaterThanUpperThreshold".into())),
        "InvalidParameterValue",
    ));
    bad.push((
        with(&|r| r.treat_missing_data = Some("zero".into())),
        "InvalidParameterValue",
    ));
    bad.push((with(&|r| r.threshold = None), "MissingParameter"));
    bad.push((
        with(&|r| r.metric_name = Some("CPUUtilisation".into())),
        "InvalidParameterValue",
    ));
    bad.push((
        with(&|r| r.namespace = Some("AWS/Lambda".into())),
        "InvalidParameterValue",
    ));
    bad.push((
        with(&|r| r.unit = Some("Furlongs".into())),
        "ValidationError",
    ));
    bad.push((
        with(&|r| r.alarm_actions = vec!["stop-it".into()]),
        "ValidationError",
    ));
    bad.push((
        with(&|r| r.alarm_actions = vec!["arn:aws:automate:lab-1:ec2:explode".into()]),
        "ValidationError",
    ));
    bad.push((
        with(&|r| r.alarm_actions = vec!["arn:aws:automate:us-east-1:ec2:stop".into()]),
        "ValidationError",
    ));
    bad.push((
        with(&|r| r.ok_actions = vec!["arn:aws:sns:lab-1:12:t".into()]),
        "ValidationError",
    ));
    bad.push((
        with(&|r| r.alarm_actions = vec!["arn:aws:automate:lab-1:ec2:recover".into()]),
        "ValidationError",
    ));
    bad.push((
        with(&|r| r.alarm_actions = vec!["arn:aws:sns:lab-1:111122223333:t".into(); 6]),
        "ValidationError",
    ));
    bad.push((
        with(&|r| r.dimensions = vec![Dimension::new("ImageId", "ami-1")]),
        "ValidationError",
    ));
    bad.push((with(&|r| r.alarm_name = String::new()), "MissingParameter"));
    for (req, want) in &bad {
        let got = code(put_metric_alarm_at(&mut l.store, req, T0));
        assert_eq!(&got, want, "{req:?}");
    }
    let all = describe_alarms(&l.store, &DescribeAlarmsInput::default()).unwrap();
    assert!(all.metric_alarms.is_empty(), "nothing was created");
    let h = describe_alarm_history(&l.store, &DescribeAlarmHistoryInput::default()).unwrap();
    assert!(h.alarm_history_items.is_empty());
    // The EC2 recover action on a status check, and custom metrics: accepted.
    let mut ok = cpu_alarm("recover");
    ok.metric_name = Some("StatusCheckFailed_System".into());
    ok.statistic = Some("Maximum".into());
    ok.threshold = Some(0.0);
    ok.alarm_actions = vec!["arn:aws:automate:lab-1:ec2:recover".into()];
    put_metric_alarm_at(&mut l.store, &ok, T0).unwrap();
    let mut custom = cpu_alarm("custom");
    custom.namespace = Some("Lab/App".into());
    custom.metric_name = Some("QueueDepth".into());
    custom.period = Some(60);
    custom.alarm_actions = vec!["arn:aws:sns:lab-1:111122223333:ops".into()];
    custom.dimensions = vec![];
    custom.ok_actions = vec![];
    put_metric_alarm_at(&mut l.store, &custom, T0).unwrap();
}

#[test]
fn describe_filters_pages_and_deletes_all_or_nothing() {
    let mut l = lab();
    for i in 0..120 {
        let mut r = cpu_alarm(&format!("web-{i:03}"));
        if i % 2 == 0 {
            r.alarm_actions = vec!["arn:aws:sns:lab-1:111122223333:pager".into()];
            r.ok_actions = vec![];
        }
        put_metric_alarm_at(&mut l.store, &r, T0).unwrap();
    }
    put_metric_alarm_at(&mut l.store, &cpu_alarm("db-1"), T0).unwrap();
    // Pages of 50: every alarm once, by name.
    let mut req = DescribeAlarmsInput {
        alarm_name_prefix: Some("web-".into()),
        ..Default::default()
    };
    let mut names = Vec::new();
    loop {
        let out = describe_alarms(&l.store, &req).unwrap();
        assert!(out.metric_alarms.len() <= 50);
        names.extend(out.metric_alarms.into_iter().map(|a| a.alarm_name));
        match out.next_token {
            Some(t) => req.next_token = Some(t),
            None => break,
        }
    }
    let want: Vec<String> = (0..120).map(|i| format!("web-{i:03}")).collect();
    assert_eq!(names, want);
    let pager = describe_alarms(
        &l.store,
        &DescribeAlarmsInput {
            action_prefix: Some("arn:aws:sns:lab-1:111122223333:pager".into()),
            max_records: Some(100),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(pager.metric_alarms.len(), 60);
    let insufficient = describe_alarms(
        &l.store,
        &DescribeAlarmsInput {
            state_value: Some("INSUFFICIENT_DATA".into()),
            max_records: Some(100),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(insufficient.metric_alarms.len(), 100);
    assert!(insufficient.next_token.is_some());
    let composite = describe_alarms(
        &l.store,
        &DescribeAlarmsInput {
            alarm_types: vec!["CompositeAlarm".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert!(composite.metric_alarms.is_empty());
    for (r, want) in [
        (
            DescribeAlarmsInput {
                max_records: Some(101),
                ..Default::default()
            },
            "ValidationError",
        ),
        (
            DescribeAlarmsInput {
                next_token: Some("bogus".into()),
                ..Default::default()
            },
            "InvalidNextToken",
        ),
        (
            DescribeAlarmsInput {
                state_value: Some("RED".into()),
                ..Default::default()
            },
            "ValidationError",
        ),
        (
            DescribeAlarmsInput {
                alarm_names: vec!["a".into()],
                alarm_name_prefix: Some("a".into()),
                ..Default::default()
            },
            "InvalidParameterCombination",
        ),
    ] {
        assert_eq!(describe_alarms(&l.store, &r).unwrap_err().code, want);
    }
    // DescribeAlarmsForMetric: the exact metric.
    let for_metric = describe_alarms_for_metric(
        &l.store,
        &DescribeAlarmsForMetricInput {
            metric_name: "CPUUtilization".into(),
            namespace: "AWS/EC2".into(),
            dimensions: vec![Dimension::new("InstanceId", INSTANCE)],
            period: Some(10),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(for_metric.metric_alarms.len(), 121);
    let none = describe_alarms_for_metric(
        &l.store,
        &DescribeAlarmsForMetricInput {
            metric_name: "CPUUtilization".into(),
            namespace: "AWS/EC2".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        none.metric_alarms.is_empty(),
        "no dimensions is another metric"
    );
    // History pages, oldest first when asked.
    let mut hreq = DescribeAlarmHistoryInput {
        max_records: Some(40),
        scan_by: Some("TimestampAscending".into()),
        ..Default::default()
    };
    let mut items = Vec::new();
    loop {
        let out = describe_alarm_history(&l.store, &hreq).unwrap();
        items.extend(out.alarm_history_items);
        match out.next_token {
            Some(t) => hreq.next_token = Some(t),
            None => break,
        }
    }
    assert_eq!(items.len(), 121);
    assert_eq!(items[0].alarm_name, "web-000");
    assert_eq!(items[120].alarm_name, "db-1");
    // DeleteAlarms: one unknown name, nothing deleted.
    let e = delete_alarms_at(
        &mut l.store,
        &DeleteAlarmsInput {
            alarm_names: vec!["db-1".into(), "ghost".into()],
        },
        T0,
    )
    .unwrap_err();
    assert_eq!(e.code, "ResourceNotFound");
    assert_eq!(describe(&l.store, "db-1").alarm_name, "db-1");
    delete_alarms_at(
        &mut l.store,
        &DeleteAlarmsInput {
            alarm_names: vec!["db-1".into()],
        },
        T0 + 1,
    )
    .unwrap();
    let left = describe_alarms(
        &l.store,
        &DescribeAlarmsInput {
            alarm_names: vec!["db-1".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert!(left.metric_alarms.is_empty());
    let h = describe_alarm_history(
        &l.store,
        &DescribeAlarmHistoryInput {
            alarm_name: Some("db-1".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        h.alarm_history_items[0].history_summary,
        "Alarm \"db-1\" deleted"
    );
    assert_eq!(
        code(delete_alarms_at(
            &mut l.store,
            &DeleteAlarmsInput::default(),
            T0
        )),
        "MissingParameter"
    );
}

#[test]
fn action_results_are_recorded_in_the_history() {
    let mut l = lab();
    put_metric_alarm_at(&mut l.store, &cpu_alarm("act"), T0).unwrap();
    burn(&mut l.metrics, T0, T0 + 30_000, 99.0);
    let changes = evaluate(&mut l.store, &l.metrics, T0 + 30_000).unwrap();
    let t = &changes[0];
    record_action(
        &mut l.store,
        t,
        "arn:aws:automate:lab-1:ec2:stop",
        true,
        "stopping i-0123456789abcdef0",
    )
    .unwrap();
    record_action(
        &mut l.store,
        t,
        "arn:aws:sns:lab-1:111122223333:admin-mail",
        false,
        "NotFound: Topic does not exist",
    )
    .unwrap();
    let h = describe_alarm_history(
        &l.store,
        &DescribeAlarmHistoryInput {
            history_item_type: Some("Action".into()),
            scan_by: Some("TimestampAscending".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(h.alarm_history_items.len(), 2);
    assert_eq!(
        h.alarm_history_items[0].history_summary,
        "Successfully executed action arn:aws:automate:lab-1:ec2:stop"
    );
    assert!(h.alarm_history_items[1]
        .history_summary
        .starts_with("Failed to execute action arn:aws:sns:"));
    let d: serde_json::Value =
        serde_json::from_str(&h.alarm_history_items[1].history_data).unwrap();
    assert_eq!(d["actionState"], "Failed");
    assert_eq!(
        d["notificationResource"],
        "arn:aws:sns:lab-1:111122223333:admin-mail"
    );
}
