//! Benchmark of CloudWatch's metric store: `GetMetricStatistics` over a week of one-minute
//! data for one instance, as issue 13 asks, and the cost of writing that data. Not a test:
//! `cargo bench --bench cloudwatch` runs it (`-- --help` for its flags), `cargo test`
//! never does.
//!
//! Method. A throw-away region root gets the metrics one instance publishes, as the
//! collector writes them (namespace `AWS/EC2`, 12 metrics, each under the three dimension
//! sets `[InstanceId]`, `[InstanceType]`, `[ImageId]`), one standard-resolution point a
//! minute for 7 days, written through `MetricStore::put` in batches of one minute of
//! samples (the collector's own batching is finer; this is the volume of a week). Then
//! retention runs once (`expire`, as the daemon does), and each query runs through the
//! service function `get_metric_statistics_at` (validation, rounding, the store's query,
//! the answer's shape) N times after 5 warm-up runs, on the `[InstanceId]` CPU metric.

use std::io::Write;
use std::time::Instant;

use ec2lab::cloudwatch::metrics::{get_metric_statistics_at, MetricStore};
use ec2lab::cloudwatch::shapes::metrics::GetMetricStatisticsInput;
use ec2lab::cloudwatch::shapes::Timestamp;
use ec2lab::cloudwatch::{Dimension, Sample, StatSet};

const USAGE: &str =
    "usage: cargo bench --bench cloudwatch -- [--days N] [--runs N] [--output FILE|-]

  --days N     days of one-minute data (default 7)
  --runs N     measured runs per query (default 200)
  --output FILE  where the results are appended (default docs/benchmarks.md; - prints only)";

const METRICS: &[(&str, &str)] = &[
    ("CPUUtilization", "Percent"),
    ("NetworkIn", "Bytes"),
    ("NetworkOut", "Bytes"),
    ("NetworkPacketsIn", "Count"),
    ("NetworkPacketsOut", "Count"),
    ("DiskReadOps", "Count"),
    ("DiskWriteOps", "Count"),
    ("DiskReadBytes", "Bytes"),
    ("DiskWriteBytes", "Bytes"),
    ("StatusCheckFailed", "Count"),
    ("StatusCheckFailed_System", "Count"),
    ("StatusCheckFailed_Instance", "Count"),
];

const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;
/// 2026-12-03T00:00:00Z: the end of the data, "now" for every query.
const NOW: i64 = 1_796_256_000_000;

fn sh(cmd: &str) -> String {
    std::process::Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    let (mut days, mut runs, mut output) = (7i64, 200usize, "docs/benchmarks.md".to_string());
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| panic!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--days" => days = value().parse().expect(USAGE),
            "--runs" => runs = value().parse().expect(USAGE),
            "--output" => output = value(),
            "--bench" => {}
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => panic!("unknown argument {other}\n{USAGE}"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = MetricStore::open(dir.path()).unwrap();
    let dims = [
        Dimension::new("InstanceId", "i-0123456789abcdef0"),
        Dimension::new("InstanceType", "t3.micro"),
        Dimension::new("ImageId", "ami-0123456789abcdef0"),
    ];
    let start = NOW - days * DAY;
    let minutes = days * 24 * 60;
    let t = Instant::now();
    let mut written = 0usize;
    for i in 0..minutes {
        let ts = start + i * MIN;
        let mut batch = Vec::with_capacity(METRICS.len() * dims.len());
        for (m, (name, unit)) in METRICS.iter().enumerate() {
            // A CPU that wanders between 5% and 95% over the day; the others, counts.
            let v = if m == 0 {
                50.0 + 45.0 * ((i as f64) / 240.0).sin()
            } else {
                ((i * 37 + m as i64 * 11) % 1000) as f64
            };
            for d in &dims {
                batch.push(Sample::new(
                    "AWS/EC2",
                    name,
                    vec![d.clone()],
                    ts,
                    unit,
                    StatSet::one(v),
                ));
            }
        }
        written += batch.len();
        store.put(&batch).unwrap();
    }
    let write_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    store.expire(NOW).unwrap();
    let expire_ms = t.elapsed().as_secs_f64() * 1000.0;
    let db_mib = std::fs::metadata(dir.path().join("cloudwatch.db"))
        .map(|m| m.len())
        .unwrap_or(0) as f64
        / 1048576.0;

    let query = |from: i64, period: i64, ext: bool| GetMetricStatisticsInput {
        namespace: "AWS/EC2".into(),
        metric_name: "CPUUtilization".into(),
        dimensions: vec![dims[0].clone()],
        start_time: Some(Timestamp(from)),
        end_time: Some(Timestamp(NOW)),
        period: Some(period),
        statistics: if ext {
            vec![]
        } else {
            ["SampleCount", "Average", "Sum", "Minimum", "Maximum"]
                .map(String::from)
                .to_vec()
        },
        extended_statistics: if ext { vec!["p99".into()] } else { vec![] },
        ..Default::default()
    };
    let week = NOW - days * DAY;
    let cases = [
        (
            format!("{days} days, period 3600 (hour rows)"),
            query(week, 3600, false),
        ),
        (
            format!("{days} days, period 420 (minute rows)"),
            query(week, 60 * ((days * 24 * 60 + 1439) / 1440).max(1), false),
        ),
        (
            "1 day, period 60 (minute rows)".to_string(),
            query(NOW - DAY, 60, false),
        ),
        (
            format!("{days} days, period 3600, p99"),
            query(week, 3600, true),
        ),
    ];
    let mut rows = Vec::new();
    for (name, req) in &cases {
        let mut points = 0;
        for _ in 0..5 {
            points = get_metric_statistics_at(&store, req, NOW)
                .unwrap()
                .datapoints
                .len();
        }
        let mut ms: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                let out = get_metric_statistics_at(&store, req, NOW).unwrap();
                std::hint::black_box(out);
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        ms.sort_by(|a, b| a.total_cmp(b));
        rows.push(format!(
            "| {name} | {points} | {:.2} | {:.2} | {:.2} |",
            percentile(&ms, 50.0),
            percentile(&ms, 99.0),
            ms[ms.len() - 1]
        ));
    }
    let report = format!(
        "\n## CloudWatch metric store benchmark (GetMetricStatistics), {now}\n\n\
         - Kernel: {kernel}\n\
         - CPU: {cpu}, {cores} CPUs\n\
         - Load at start: {load}\n\
         - ec2lab: source {source}, release build (`cargo bench`)\n\
         - Data: one instance's 12 `AWS/EC2` metrics under 3 dimension sets, one point a \
         minute for {days} days: {written} samples written through `MetricStore::put` in \
         {minutes} one-minute batches in {write_s:.1} s ({rate:.0} samples/s, each into 4 \
         tiers); `expire` afterwards {expire_ms:.0} ms; `cloudwatch.db` {db_mib:.1} MiB\n\
         - Queries: `get_metric_statistics_at` on `CPUUtilization` `[InstanceId]`, all five \
         statistics (or p99), {runs} runs after 5 warm-up runs, in-process (no wire)\n\n\
         Command:\n\n```sh\ncargo bench --bench cloudwatch -- --days {days} --runs {runs}\n```\n\n\
         | query | data points | p50 (ms) | p99 (ms) | max (ms) |\n\
         |---|---|---|---|---|\n{rows}\n",
        now = sh("date -u '+%Y-%m-%d %H:%M UTC'"),
        kernel = sh("uname -r"),
        cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'"),
        cores = sh("nproc"),
        load = sh("cut -d' ' -f1-3 /proc/loadavg"),
        source = sh(
            "git rev-parse --short HEAD 2>/dev/null; git diff --quiet 2>/dev/null || echo -dirty"
        )
        .replace('\n', ""),
        rate = written as f64 / write_s,
        rows = rows.join("\n"),
    );
    print!("{report}");
    if output != "-" {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&output)
            .unwrap();
        f.write_all(report.as_bytes()).unwrap();
        eprintln!("appended to {output}");
    }
}
