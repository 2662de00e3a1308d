//! The metric store and the metric actions, against real SQLite files in a temporary
//! directory.

use super::*;
use crate::cloudwatch::shapes::metrics::*;
use crate::cloudwatch::shapes::{Metric, MetricDataQuery, MetricStat, Timestamp};
use crate::cloudwatch::{Dimension, Sample, StatSet};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// 2026-12-03T00:00:00Z.
const T0: i64 = 1_796_256_000_000;

fn store() -> (tempfile::TempDir, MetricStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = MetricStore::open(dir.path()).unwrap();
    (dir, s)
}

fn inst() -> Vec<Dimension> {
    vec![Dimension::new("InstanceId", "i-0123456789abcdef0")]
}

fn cpu(ts: i64, v: f64) -> Sample {
    Sample::new(
        "AWS/EC2",
        "CPUUtilization",
        inst(),
        ts,
        "Percent",
        StatSet::one(v),
    )
}

fn datum(name: &str, value: f64) -> MetricDatum {
    MetricDatum {
        metric_name: name.into(),
        value: Some(value),
        ..Default::default()
    }
}

fn put(
    m: &mut MetricStore,
    data: Vec<MetricDatum>,
    now: i64,
) -> Result<(), crate::error::Ec2Error> {
    put_metric_data_at(
        m,
        &PutMetricDataInput {
            namespace: "Lab/App".into(),
            metric_data: data,
        },
        now,
    )
}

fn code(r: Result<impl std::fmt::Debug, crate::error::Ec2Error>) -> String {
    r.unwrap_err().code.to_string()
}

#[test]
fn statistics_group_points_into_periods_in_every_tier() {
    let (_d, mut m) = store();
    // One point a minute for two hours: 0, 1, 2, ... (value = minute index).
    let samples: Vec<Sample> = (0..120)
        .map(|i| cpu(T0 + i * MIN + 5_000, i as f64))
        .collect();
    m.put(&samples).unwrap();
    assert_eq!(m.rows(60).unwrap(), 120);
    assert_eq!(m.rows(300).unwrap(), 24);
    assert_eq!(m.rows(3600).unwrap(), 2);
    assert_eq!(
        m.rows(1).unwrap(),
        120,
        "standard points by the minute in tier 1"
    );
    for period in [60u32, 300, 600, 3600] {
        let st = m
            .statistics(
                "AWS/EC2",
                "CPUUtilization",
                &inst(),
                T0,
                T0 + 2 * HOUR,
                period,
            )
            .unwrap();
        let per = period as i64 / 60;
        assert_eq!(st.len() as i64, 120 / per, "period {period}");
        let (ts, first) = st[0];
        assert_eq!(ts, T0);
        assert_eq!(first.sample_count, per as f64);
        assert_eq!(first.minimum, 0.0);
        assert_eq!(first.maximum, (per - 1) as f64);
        assert_eq!(first.sum, (0..per).sum::<i64>() as f64);
    }
    // Another metric's or another dimension set's data is not mixed in.
    let other = vec![Dimension::new("InstanceId", "i-1")];
    assert!(m
        .statistics("AWS/EC2", "CPUUtilization", &other, T0, T0 + HOUR, 60)
        .unwrap()
        .is_empty());
}

#[test]
fn points_at_the_same_time_merge_and_high_resolution_keeps_seconds() {
    let (_d, mut m) = store();
    let mut a = cpu(T0 + 10_000, 10.0);
    a.storage_resolution = 1;
    let mut b = cpu(T0 + 20_000, 30.0);
    b.storage_resolution = 1;
    m.put(&[a.clone(), b]).unwrap();
    m.put(&[a]).unwrap();
    let ten = m
        .statistics("AWS/EC2", "CPUUtilization", &inst(), T0, T0 + MIN, 10)
        .unwrap();
    assert_eq!(ten.len(), 2);
    assert_eq!(
        ten[0],
        (
            T0 + 10_000,
            StatSet {
                sample_count: 2.0,
                sum: 20.0,
                minimum: 10.0,
                maximum: 10.0
            }
        )
    );
    assert_eq!(ten[1].0, T0 + 20_000);
    let minute = m
        .statistics("AWS/EC2", "CPUUtilization", &inst(), T0, T0 + MIN, 60)
        .unwrap();
    assert_eq!(minute.len(), 1);
    assert_eq!(minute[0].1.sample_count, 3.0);
    assert_eq!(minute[0].1.average(), 50.0 / 3.0);
}

#[test]
fn retention_drops_each_tier_after_its_time_and_keeps_the_roll_ups() {
    let (_d, mut m) = store();
    let mut hi = cpu(T0 + 1_000, 5.0);
    hi.storage_resolution = 1;
    m.put(&[hi, cpu(T0 + 2 * MIN, 7.0)]).unwrap();
    let stats = |m: &MetricStore, period| {
        m.statistics("AWS/EC2", "CPUUtilization", &inst(), T0, T0 + HOUR, period)
            .unwrap()
    };
    m.expire(T0 + 2 * HOUR).unwrap();
    assert_eq!(stats(&m, 1).len(), 2, "within 3 hours: by the second");
    m.expire(T0 + 3 * HOUR + 5 * MIN).unwrap();
    assert!(
        stats(&m, 1).is_empty(),
        "high resolution gone after 3 hours"
    );
    assert_eq!(stats(&m, 60).len(), 2, "the minutes are kept 15 days");
    m.expire(T0 + 15 * DAY + 5 * MIN).unwrap();
    assert!(stats(&m, 60).is_empty(), "minutes gone after 15 days");
    let five = stats(&m, 300);
    assert_eq!(five.len(), 1, "5 minutes kept 63 days");
    assert_eq!(five[0].1.sum, 12.0, "the roll-up holds both points");
    m.expire(T0 + 63 * DAY + 10 * MIN).unwrap();
    assert!(stats(&m, 300).is_empty());
    assert_eq!(
        stats(&m, 3600)[0].1.sample_count,
        2.0,
        "hours kept 455 days"
    );
    m.expire(T0 + 455 * DAY + 2 * HOUR).unwrap();
    assert!(stats(&m, 3600).is_empty());
    assert!(
        m.list(0).unwrap().is_empty(),
        "a metric without data is forgotten"
    );
}

#[test]
fn put_metric_data_takes_values_counts_and_statistic_sets() {
    let (_d, mut m) = store();
    let now = T0 + HOUR;
    let mut many = datum("Latency", 0.0);
    many.value = None;
    many.values = vec![1.0, 2.0, 10.0];
    many.counts = vec![2.0, 1.0, 1.0];
    many.unit = Some("Milliseconds".into());
    many.timestamp = Some(Timestamp(T0));
    let mut set = datum("Latency", 0.0);
    set.value = None;
    set.statistic_values = Some(StatisticSet {
        sample_count: 4.0,
        sum: 20.0,
        minimum: 3.0,
        maximum: 8.0,
    });
    set.unit = Some("Milliseconds".into());
    set.timestamp = Some(Timestamp(T0 + 10_000));
    put(&mut m, vec![many, set], now).unwrap();
    let out = get_metric_statistics_at(
        &m,
        &GetMetricStatisticsInput {
            namespace: "Lab/App".into(),
            metric_name: "Latency".into(),
            start_time: Some(Timestamp(T0)),
            end_time: Some(Timestamp(T0 + MIN)),
            period: Some(60),
            statistics: vec![
                "SampleCount".into(),
                "Sum".into(),
                "Minimum".into(),
                "Maximum".into(),
                "Average".into(),
            ],
            ..Default::default()
        },
        now,
    )
    .unwrap();
    assert_eq!(out.label, "Latency");
    let dp = &out.datapoints[0];
    assert_eq!(dp.sample_count, Some(8.0));
    assert_eq!(dp.sum, Some(34.0));
    assert_eq!((dp.minimum, dp.maximum), (Some(1.0), Some(10.0)));
    assert_eq!(dp.average, Some(34.0 / 8.0));
    assert_eq!(dp.unit, "Milliseconds");
    // Another unit asked for: nothing.
    let out = get_metric_statistics_at(
        &m,
        &GetMetricStatisticsInput {
            namespace: "Lab/App".into(),
            metric_name: "Latency".into(),
            start_time: Some(Timestamp(T0)),
            end_time: Some(Timestamp(T0 + MIN)),
            period: Some(60),
            statistics: vec!["Sum".into()],
            unit: Some("Seconds".into()),
            ..Default::default()
        },
        now,
    )
    .unwrap();
    assert!(out.datapoints.is_empty());
}

#[test]
fn put_metric_data_refuses_what_cloudwatch_refuses_and_writes_nothing() {
    let (_d, mut m) = store();
    let now = T0;
    let aws = PutMetricDataInput {
        namespace: "AWS/EC2".into(),
        metric_data: vec![datum("CPUUtilization", 1.0)],
    };
    assert_eq!(
        code(put_metric_data_at(&mut m, &aws, now)),
        "InvalidParameterValue"
    );
    assert_eq!(code(put(&mut m, vec![], now)), "MissingParameter");
    let mut both = datum("X", 1.0);
    both.statistic_values = Some(StatisticSet {
        sample_count: 1.0,
        sum: 1.0,
        minimum: 1.0,
        maximum: 1.0,
    });
    assert_eq!(
        code(put(&mut m, vec![both], now)),
        "InvalidParameterCombination"
    );
    let mut none = datum("X", 1.0);
    none.value = None;
    assert_eq!(
        code(put(&mut m, vec![none], now)),
        "InvalidParameterCombination"
    );
    let mut uneven = datum("X", 0.0);
    uneven.value = None;
    uneven.values = vec![1.0, 2.0];
    uneven.counts = vec![1.0];
    assert_eq!(
        code(put(&mut m, vec![uneven], now)),
        "InvalidParameterValue"
    );
    let mut too_many = datum("X", 0.0);
    too_many.value = None;
    too_many.values = vec![1.0; 151];
    assert_eq!(
        code(put(&mut m, vec![too_many], now)),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(put(&mut m, vec![datum("X", f64::NAN)], now)),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(put(&mut m, vec![datum("X", 1e200)], now)),
        "InvalidParameterValue"
    );
    let mut bad_set = datum("X", 0.0);
    bad_set.value = None;
    bad_set.statistic_values = Some(StatisticSet {
        sample_count: 2.0,
        sum: 1.0,
        minimum: 5.0,
        maximum: 1.0,
    });
    assert_eq!(
        code(put(&mut m, vec![bad_set], now)),
        "InvalidParameterValue"
    );
    let mut res = datum("X", 1.0);
    res.storage_resolution = Some(10);
    assert_eq!(code(put(&mut m, vec![res], now)), "InvalidParameterValue");
    let mut unit = datum("X", 1.0);
    unit.unit = Some("Furlongs".into());
    assert_eq!(code(put(&mut m, vec![unit], now)), "InvalidParameterValue");
    let mut old = datum("X", 1.0);
    old.timestamp = Some(Timestamp(now - 14 * DAY - MIN));
    assert_eq!(code(put(&mut m, vec![old], now)), "InvalidParameterValue");
    let mut future = datum("X", 1.0);
    future.timestamp = Some(Timestamp(now + 2 * HOUR + MIN));
    assert_eq!(
        code(put(&mut m, vec![future], now)),
        "InvalidParameterValue"
    );
    let over: Vec<_> = (0..1001).map(|i| datum(&format!("m{i}"), 1.0)).collect();
    assert_eq!(code(put(&mut m, over, now)), "InvalidParameterValue");
    // One bad datum after a good one: nothing of the request is written.
    let mut late = datum("Y", 1.0);
    late.timestamp = Some(Timestamp(now + 3 * HOUR));
    assert!(put(&mut m, vec![datum("Good", 1.0), late], now).is_err());
    assert!(m.list(0).unwrap().is_empty());
    // Within the limits: written.
    let mut edge = datum("Edge", 1.0);
    edge.timestamp = Some(Timestamp(now - 14 * DAY + MIN));
    put(&mut m, vec![edge, datum("Now", 2.0)], now).unwrap();
    assert_eq!(m.list(0).unwrap().len(), 2);
}

fn gms(period: i64, start: i64, end: i64) -> GetMetricStatisticsInput {
    GetMetricStatisticsInput {
        namespace: "AWS/EC2".into(),
        metric_name: "CPUUtilization".into(),
        dimensions: inst(),
        start_time: Some(Timestamp(start)),
        end_time: Some(Timestamp(end)),
        period: Some(period),
        statistics: vec!["Average".into()],
        ..Default::default()
    }
}

#[test]
fn get_metric_statistics_checks_periods_ranges_and_statistics() {
    let (_d, m) = store();
    let now = T0 + DAY;
    let ok = |r: &GetMetricStatisticsInput| get_metric_statistics_at(&m, r, now).map(|_| ());
    assert!(ok(&gms(60, T0, T0 + DAY)).is_ok(), "1,440 points exactly");
    let e = ok(&gms(60, T0, T0 + DAY + MIN)).unwrap_err();
    assert_eq!(e.code, "InvalidParameterCombination");
    assert!(
        e.message.contains("1,441 datapoints") || e.message.contains("1441 datapoints"),
        "{e}"
    );
    for p in [1, 5, 10, 30, 120, 3600] {
        assert!(ok(&gms(p, now - 10 * MIN, now)).is_ok(), "period {p}");
    }
    for p in [0, 2, 15, 45, 61, 90] {
        assert_eq!(
            code(ok(&gms(p, now - 10 * MIN, now))),
            "InvalidParameterValue",
            "period {p}"
        );
    }
    assert_eq!(
        code(ok(&gms(60, now, now))),
        "InvalidParameterValue",
        "start not before end"
    );
    assert_eq!(code(ok(&gms(60, now, now - MIN))), "InvalidParameterValue");
    let mut neither = gms(60, T0, T0 + HOUR);
    neither.statistics.clear();
    assert_eq!(code(ok(&neither)), "InvalidParameterCombination");
    let mut both = gms(60, T0, T0 + HOUR);
    both.extended_statistics = vec!["p90".into()];
    assert_eq!(code(ok(&both)), "InvalidParameterCombination");
    let mut bad = gms(60, T0, T0 + HOUR);
    bad.statistics = vec!["Median".into()];
    assert_eq!(code(ok(&bad)), "InvalidParameterValue");
    let mut pct = gms(60, T0, T0 + HOUR);
    pct.statistics.clear();
    pct.extended_statistics = vec!["p101".into()];
    assert_eq!(code(ok(&pct)), "InvalidParameterValue");
    let mut no_start = gms(60, T0, T0 + HOUR);
    no_start.start_time = None;
    assert_eq!(code(ok(&no_start)), "MissingParameter");
    let mut no_period = gms(60, T0, T0 + HOUR);
    no_period.period = None;
    assert_eq!(code(ok(&no_period)), "MissingParameter");
}

#[test]
fn percentiles_and_start_rounding() {
    let (_d, mut m) = store();
    // 10 points in one minute (high resolution), values 1..=10.
    let samples: Vec<Sample> = (1..=10)
        .map(|i| {
            let mut s = cpu(T0 + i * 5_000, i as f64);
            s.storage_resolution = 1;
            s
        })
        .collect();
    m.put(&samples).unwrap();
    let mut req = gms(60, T0 + 17_000, T0 + 2 * MIN);
    req.statistics.clear();
    req.extended_statistics = vec!["p50".into(), "p90".into(), "p100".into()];
    let out = get_metric_statistics_at(&m, &req, T0 + HOUR).unwrap();
    // The start 00:00:17 is rounded down to the minute, so every point counts.
    assert_eq!(out.datapoints.len(), 1);
    assert_eq!(out.datapoints[0].timestamp, Timestamp(T0));
    let ext = &out.datapoints[0].extended_statistics;
    assert_eq!(ext["p50"], 5.0);
    assert_eq!(ext["p90"], 9.0);
    assert_eq!(ext["p100"], 10.0);
    assert_eq!(out.datapoints[0].average, None);
    // Standard-resolution points (one a minute) over an hour by the hour: one value per
    // minute, each counted once.
    let (_d2, mut m2) = store();
    let mins: Vec<Sample> = (0..60).map(|i| cpu(T0 + i * MIN, (i + 1) as f64)).collect();
    m2.put(&mins).unwrap();
    let mut req = gms(3600, T0, T0 + HOUR);
    req.statistics.clear();
    req.extended_statistics = vec!["p50".into(), "p99".into()];
    let out = get_metric_statistics_at(&m2, &req, T0 + HOUR).unwrap();
    assert_eq!(out.datapoints[0].extended_statistics["p50"], 30.0);
    assert_eq!(out.datapoints[0].extended_statistics["p99"], 60.0);
}

#[test]
fn list_metrics_filters_and_pages() {
    let (_d, mut m) = store();
    let now = T0 + 20 * DAY;
    let mut samples = Vec::new();
    for i in 0..1203 {
        samples.push(Sample::new(
            "Lab/App",
            "Requests",
            vec![
                Dimension::new("Host", format!("h{i:04}")),
                Dimension::new("Tier", "web"),
            ],
            now - MIN,
            "Count",
            StatSet::one(1.0),
        ));
    }
    samples.push(cpu(now - 5 * HOUR, 1.0));
    samples.push(Sample::new(
        "AWS/EC2",
        "CPUUtilization",
        vec![Dimension::new("InstanceType", "t3.micro")],
        now - MIN,
        "Percent",
        StatSet::one(1.0),
    ));
    // Older than two weeks: not listed.
    samples.push(Sample::new(
        "Lab/Old",
        "Gone",
        vec![],
        now - 15 * DAY,
        "None",
        StatSet::one(1.0),
    ));
    m.put(&samples).unwrap();
    let list = |req: &ListMetricsInput| list_metrics_at(&m, req, now).unwrap();
    // Paging: 500 a page, every metric once.
    let mut seen = Vec::new();
    let mut req = ListMetricsInput {
        namespace: Some("Lab/App".into()),
        ..Default::default()
    };
    loop {
        let page = list(&req);
        assert!(page.metrics.len() <= 500);
        seen.extend(page.metrics);
        match page.next_token {
            Some(t) => req.next_token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1203);
    let mut hosts: Vec<_> = seen.iter().map(|m| m.dimensions[0].value.clone()).collect();
    hosts.dedup();
    assert_eq!(hosts.len(), 1203);
    // Filters.
    let ec2 = list(&ListMetricsInput {
        namespace: Some("AWS/EC2".into()),
        ..Default::default()
    });
    assert_eq!(ec2.metrics.len(), 2);
    let by_dim = list(&ListMetricsInput {
        dimensions: vec![DimensionFilter {
            name: "InstanceId".into(),
            value: None,
        }],
        ..Default::default()
    });
    assert_eq!(by_dim.metrics.len(), 1);
    assert_eq!(by_dim.metrics[0].dimensions, inst());
    let by_value = list(&ListMetricsInput {
        dimensions: vec![DimensionFilter {
            name: "Host".into(),
            value: Some("h0007".into()),
        }],
        ..Default::default()
    });
    assert_eq!(by_value.metrics.len(), 1);
    let recent = list(&ListMetricsInput {
        namespace: Some("AWS/EC2".into()),
        recently_active: Some("PT3H".into()),
        ..Default::default()
    });
    assert_eq!(
        recent.metrics.len(),
        1,
        "the instance's metric is 5 hours old"
    );
    assert!(list(&ListMetricsInput {
        namespace: Some("Lab/Old".into()),
        ..Default::default()
    })
    .metrics
    .is_empty());
    let e = list_metrics_at(
        &m,
        &ListMetricsInput {
            next_token: Some("junk".into()),
            ..Default::default()
        },
        now,
    )
    .unwrap_err();
    assert_eq!(e.code, "InvalidNextToken");
    let e = list_metrics_at(
        &m,
        &ListMetricsInput {
            recently_active: Some("PT1H".into()),
            ..Default::default()
        },
        now,
    )
    .unwrap_err();
    assert_eq!(e.code, "ValidationError");
}

fn query(id: &str, stat: &str, period: i64) -> MetricDataQuery {
    MetricDataQuery {
        id: id.into(),
        metric_stat: Some(MetricStat {
            metric: Metric {
                namespace: Some("AWS/EC2".into()),
                metric_name: Some("CPUUtilization".into()),
                dimensions: inst(),
            },
            period,
            stat: stat.into(),
            unit: None,
        }),
        ..Default::default()
    }
}

#[test]
fn get_metric_data_answers_series_in_order_and_pages_them() {
    let (_d, mut m) = store();
    let samples: Vec<Sample> = (0..10).map(|i| cpu(T0 + i * MIN, i as f64)).collect();
    m.put(&samples).unwrap();
    let now = T0 + HOUR;
    let mut req = GetMetricDataInput {
        metric_data_queries: vec![query("avg", "Average", 60), query("mx", "Maximum", 300)],
        start_time: Some(Timestamp(T0)),
        end_time: Some(Timestamp(T0 + 10 * MIN)),
        ..Default::default()
    };
    let out = get_metric_data_at(&m, &req, now).unwrap();
    assert_eq!(out.metric_data_results.len(), 2);
    let avg = &out.metric_data_results[0];
    assert_eq!(avg.label, "CPUUtilization");
    assert_eq!(avg.values.len(), 10);
    assert_eq!(avg.values[0], 9.0, "newest first by default");
    assert_eq!(avg.timestamps[0], Timestamp(T0 + 9 * MIN));
    assert_eq!(avg.status_code, "Complete");
    assert_eq!(out.metric_data_results[1].values, vec![9.0, 4.0]);
    // Pages of 4 points: every point once, in order.
    req.max_datapoints = Some(4);
    req.scan_by = Some("TimestampAscending".into());
    let mut got: Vec<(String, f64)> = Vec::new();
    loop {
        let out = get_metric_data_at(&m, &req, now).unwrap();
        let n: usize = out.metric_data_results.iter().map(|r| r.values.len()).sum();
        assert!(n <= 4);
        for r in &out.metric_data_results {
            got.extend(r.values.iter().map(|v| (r.id.clone(), *v)));
        }
        match out.next_token {
            Some(t) => req.next_token = Some(t),
            None => break,
        }
    }
    let want: Vec<(String, f64)> = (0..10)
        .map(|i| ("avg".to_string(), i as f64))
        .chain([("mx".to_string(), 4.0), ("mx".to_string(), 9.0)])
        .collect();
    assert_eq!(got, want);
    // ReturnData false: computed, not answered.
    let mut hidden = query("h", "Sum", 60);
    hidden.return_data = Some(false);
    let out = get_metric_data_at(
        &m,
        &GetMetricDataInput {
            metric_data_queries: vec![hidden, query("s", "Sum", 60)],
            start_time: Some(Timestamp(T0)),
            end_time: Some(Timestamp(T0 + 10 * MIN)),
            ..Default::default()
        },
        now,
    )
    .unwrap();
    assert_eq!(out.metric_data_results.len(), 1);
    assert_eq!(out.metric_data_results[0].id, "s");
}

#[test]
fn get_metric_data_refuses_expressions_and_bad_queries() {
    let (_d, m) = store();
    let base = |qs: Vec<MetricDataQuery>| GetMetricDataInput {
        metric_data_queries: qs,
        start_time: Some(Timestamp(T0)),
        end_time: Some(Timestamp(T0 + HOUR)),
        ..Default::default()
    };
    let run = |r: GetMetricDataInput| get_metric_data_at(&m, &r, T0 + HOUR).map(|_| ());
    let expr = MetricDataQuery {
        id: "e1".into(),
        expression: Some("SUM(METRICS())".into()),
        ..Default::default()
    };
    let e = run(base(vec![expr])).unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    assert!(e.message.contains("metric math"), "{e}");
    assert_eq!(code(run(base(vec![]))), "MissingParameter");
    assert_eq!(
        code(run(base(vec![MetricDataQuery {
            id: "x".into(),
            ..Default::default()
        }]))),
        "MissingParameter"
    );
    assert_eq!(
        code(run(base(vec![query("Upper", "Average", 60)]))),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(run(base(vec![
            query("a", "Average", 60),
            query("a", "Sum", 60)
        ]))),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(run(base(vec![query("a", "Median", 60)]))),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(run(base(vec![query("a", "Average", 45)]))),
        "InvalidParameterValue"
    );
    assert!(run(base(vec![query("a", "p99", 60)])).is_ok());
    let mut tok = base(vec![query("a", "Average", 60)]);
    tok.next_token = Some("nope".into());
    assert_eq!(code(run(tok)), "InvalidNextToken");
}

#[test]
fn shapes_read_both_wire_forms() {
    // AWS JSON 1.0: epoch seconds as numbers; Query: ISO 8601 text (as decoded members).
    let json = serde_json::json!({
        "Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "InstanceId", "Value": "i-1"}],
        "StartTime": 1796256000, "EndTime": 1796259600.5, "Period": 60,
        "Statistics": ["Average"]
    });
    let a: GetMetricStatisticsInput = serde_json::from_value(json).unwrap();
    let query = serde_json::json!({
        "Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "InstanceId", "Value": "i-1"}],
        "StartTime": "2026-12-03T00:00:00Z", "EndTime": "2026-12-03T01:00:00.500Z", "Period": 60,
        "Statistics": ["Average"]
    });
    let b: GetMetricStatisticsInput = serde_json::from_value(query).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.start_time, Some(Timestamp(T0)));
    // Through the house decoder: nothing is dropped.
    let r: PutMetricDataInput = crate::ec2::members::decode(
        serde_json::json!({"Namespace": "Lab", "MetricData": [{"MetricName": "m", "Values": [1.0], "Counts": [2.0], "StorageResolution": 1, "Timestamp": "2026-12-03T00:00:00Z", "Unit": "Count"}]}),
        "",
        &[],
    )
    .unwrap();
    assert_eq!(r.metric_data[0].storage_resolution, Some(1));
    let out = serde_json::to_value(GetMetricStatisticsOutput {
        label: "l".into(),
        datapoints: vec![Datapoint {
            timestamp: Timestamp(T0),
            average: Some(1.0),
            unit: "Percent".into(),
            ..Default::default()
        }],
    })
    .unwrap();
    assert_eq!(
        out["Datapoints"][0]["Timestamp"],
        "2026-12-03T00:00:00.000Z"
    );
    assert_eq!(out["Datapoints"][0].get("Sum"), None);
}
