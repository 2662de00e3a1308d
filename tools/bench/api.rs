//! Benchmark of the EC2 API: `DescribeInstances` through `ec2lab serve` with 1,000 instance
//! records in the store, against the CLI's own cost per call (`ec2lab describe-instances`)
//! on the same state, measured in the same run. Not a test: `tools/bench/api.sh` (or
//! `cargo bench --bench api -- --help`) runs it, `cargo test` never does.
//!
//! Method. A throw-away state directory gets N stopped instances (default 1,000), written
//! in one transaction through the store's own record type (`tests/api_common/records.rs`),
//! each with its root volume and two tags; no VM runs and host networking is off
//! (`EC2LAB_NETWORKING=off`). The release `ec2lab serve` listens on a free loopback port.
//! The load generator (this program: tokio and hyper's HTTP/1.1 client, keep-alive)
//! signs every request with SigV4 (aws-sigv4, the keys `configure-aws` would write), as
//! the AWS SDKs do, and reads each whole answer. For each query it sends warm-up requests,
//! then requests one at a time on one connection (latency: p50, p99, max; requests per
//! second), then the same number spread over C connections at once (throughput). The
//! baseline runs `ec2lab describe-instances` with the same parameters as a new process
//! each time (fork, exec, open the store, housekeeping, query, JSON), as a script would.

#[path = "../../tests/api_common/records.rs"]
mod records;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

const USAGE: &str = "usage: cargo bench --bench api -- [--instances N] [--requests N] \
    [--concurrency C] [--cli-calls N] [--output FILE|-]

  --instances N    instance records in the store (default 1000)
  --requests N     measured requests per query and mode (default 300; the full listing
                   is capped at 30 s per mode)
  --concurrency C  connections at once in the throughput run (default 4)
  --cli-calls N    ec2lab describe-instances runs per query for the baseline (default 20)
  --output FILE    where the results are appended (default docs/benchmarks.md; - prints only)";

struct Args {
    instances: usize,
    requests: usize,
    concurrency: usize,
    cli_calls: usize,
    output: String,
}

fn args() -> Args {
    let mut a = Args {
        instances: 1000,
        requests: 300,
        concurrency: 4,
        cli_calls: 20,
        output: "docs/benchmarks.md".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| panic!("{flag} needs a value\n{USAGE}"))
        };
        let number = |v: String| v.parse::<usize>().unwrap_or_else(|_| panic!("{USAGE}"));
        match flag.as_str() {
            "--instances" => a.instances = number(value()),
            "--requests" => a.requests = number(value()),
            "--concurrency" => a.concurrency = number(value()),
            "--cli-calls" => a.cli_calls = number(value()),
            "--output" => a.output = value(),
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => panic!("unknown argument {other}\n{USAGE}"),
        }
    }
    a
}

/// One query of the benchmark: its name, its Query-protocol parameters, and the same
/// request as `ec2lab describe-instances` flags.
struct Case {
    name: String,
    params: Vec<(String, String)>,
    cli: Vec<String>,
    /// How many instances the answer holds.
    expect: usize,
}

fn cases(ids: &[String], n: usize) -> Vec<Case> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    let tagged = (0..n).filter(|i| i % 10 == 0).count();
    vec![
        Case {
            name: "one instance by id".into(),
            params: vec![pair("InstanceId.1", &ids[n / 2])],
            cli: s(&["--instance-ids", &ids[n / 2]]),
            expect: 1,
        },
        Case {
            name: format!("tag filter ({tagged} of {n})"),
            params: vec![
                pair("Filter.1.Name", "tag:role"),
                pair("Filter.1.Value.1", "cache"),
            ],
            cli: s(&["--filters", "Name=tag:role,Values=cache"]),
            expect: tagged,
        },
        Case {
            name: format!("all {n}"),
            params: vec![],
            cli: vec![],
            expect: n,
        },
    ]
}

/// `ec2lab serve`, stopped (SIGTERM) when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) of our own child: SIGTERM asks for a graceful stop.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn ec2lab(state_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ec2lab"));
    c.env("EC2LAB_STATE_DIR", state_dir)
        .env("EC2LAB_NETWORKING", "off")
        .env_remove("EC2LAB_REGION")
        .env_remove("EC2LAB_OUTPUT");
    c
}

fn serve(state_dir: &Path) -> (Server, String) {
    let mut child = ec2lab(state_dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start ec2lab serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("ec2lab serve said {line:?}"))
        .to_string();
    (Server(child), addr)
}

/// Signs and sends `DescribeInstances` with `params`; returns the answer's size.
struct Signer {
    credentials: Credentials,
    host: String,
}

impl Signer {
    fn request(&self, params: &[(String, String)]) -> hyper::Request<Full<Bytes>> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", "DescribeInstances")
            .append_pair("Version", "2016-11-15");
        for (k, v) in params {
            form.append_pair(k, v);
        }
        let body = form.finish();
        let url = format!("http://{}/", self.host);
        let headers = [
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("host", self.host.as_str()),
        ];
        let identity = self.credentials.clone().into();
        let signing = v4::SigningParams::builder()
            .identity(&identity)
            .region("lab-1")
            .name("ec2")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            "POST",
            &url,
            headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &signing).unwrap().into_parts();
        let mut req = hyper::Request::post("/");
        for (k, v) in headers.iter().copied().chain(instructions.headers()) {
            req = req.header(k, v);
        }
        req.body(Full::new(Bytes::from(body))).unwrap()
    }
}

/// One keep-alive connection.
async fn connect(addr: &str) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// Sends one request and reads the whole answer; returns its latency and size.
async fn call(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    signer: &Signer,
    case: &Case,
) -> (Duration, usize) {
    let req = signer.request(&case.params);
    let start = Instant::now();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let took = start.elapsed();
    assert!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
    (took, body.len())
}

/// Latencies in milliseconds, sorted.
struct Sample {
    ms: Vec<f64>,
    wall: Duration,
}

impl Sample {
    fn new(mut ms: Vec<f64>, wall: Duration) -> Sample {
        ms.sort_by(f64::total_cmp);
        Sample { ms, wall }
    }
    fn pct(&self, p: f64) -> f64 {
        let i = ((p / 100.0) * self.ms.len() as f64).ceil() as usize;
        self.ms[i.clamp(1, self.ms.len()) - 1]
    }
    fn rps(&self) -> f64 {
        self.ms.len() as f64 / self.wall.as_secs_f64()
    }
}

/// Requests one at a time on one connection, after warming up; stops early after `cap`.
async fn sequential(
    addr: &str,
    signer: &Signer,
    case: &Case,
    n: usize,
    cap: Duration,
) -> (Sample, usize) {
    let mut sender = connect(addr).await;
    let mut size = 0;
    for _ in 0..10 {
        size = call(&mut sender, signer, case).await.1;
    }
    let mut ms = Vec::with_capacity(n);
    let start = Instant::now();
    while ms.len() < n && (start.elapsed() < cap || ms.len() < 20) {
        ms.push(call(&mut sender, signer, case).await.0.as_secs_f64() * 1e3);
    }
    (Sample::new(ms, start.elapsed()), size)
}

/// `n` requests spread over `c` connections at once.
fn concurrent(
    addr: &str,
    signer: &Signer,
    case: &Case,
    n: usize,
    c: usize,
    cap: Duration,
) -> Sample {
    let start = Instant::now();
    let per = n.div_ceil(c);
    let ms = std::thread::scope(|scope| {
        let tasks: Vec<_> = (0..c)
            .map(|_| {
                scope.spawn(|| {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        let mut sender = connect(addr).await;
                        let mut ms = Vec::with_capacity(per);
                        while ms.len() < per && (start.elapsed() < cap || ms.len() < 5) {
                            ms.push(call(&mut sender, signer, case).await.0.as_secs_f64() * 1e3);
                        }
                        ms
                    })
                })
            })
            .collect();
        tasks
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect::<Vec<f64>>()
    });
    Sample::new(ms, start.elapsed())
}

/// `ec2lab describe-instances` as a new process each time, as a script runs it.
fn cli_baseline(state_dir: &Path, case: &Case, n: usize) -> Sample {
    let run = || {
        let t = Instant::now();
        let out = ec2lab(state_dir)
            .arg("describe-instances")
            .args(&case.cli)
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (t.elapsed(), out.stdout)
    };
    let (_, first) = run();
    let v: serde_json::Value = serde_json::from_slice(&first).unwrap();
    let found: usize = v["Reservations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Instances"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        found, case.expect,
        "the CLI found {found} for {}",
        case.name
    );
    let start = Instant::now();
    let ms = (0..n).map(|_| run().0.as_secs_f64() * 1e3).collect();
    Sample::new(ms, start.elapsed())
}

fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap();
    let state: PathBuf = dir.path().into();
    let t = Instant::now();
    let ids = records::insert_stopped(&state, "lab-1", "ami-0123456789abcdef0", a.instances, |i| {
        let role = if i % 10 == 0 {
            "cache"
        } else if i % 2 == 0 {
            "web"
        } else {
            "db"
        };
        vec![
            ("Name".to_string(), format!("{role}-{i}")),
            ("role".to_string(), role.to_string()),
        ]
    });
    eprintln!(
        "{} instance records written in {:.2?}",
        ids.len(),
        t.elapsed()
    );
    let key = ec2lab::api::keys::load_or_create(&state).unwrap().remove(0);
    let (_server, addr) = serve(&state);
    let signer = Signer {
        credentials: Credentials::new(
            &key.access_key_id,
            &key.secret_access_key,
            None,
            None,
            "bench",
        ),
        host: addr.clone(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cap = Duration::from_secs(30);

    let mut rows = Vec::new();
    for case in cases(&ids, a.instances) {
        eprintln!("{} ...", case.name);
        let (seq, size) = rt.block_on(sequential(&addr, &signer, &case, a.requests, cap));
        let par = concurrent(&addr, &signer, &case, a.requests, a.concurrency, cap);
        let cli = cli_baseline(&state, &case, a.cli_calls);
        rows.push(format!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} |",
            case.name,
            size / 1024,
            seq.pct(50.0),
            seq.pct(99.0),
            seq.pct(100.0),
            seq.rps(),
            par.rps(),
            cli.pct(50.0),
            cli.pct(99.0),
            cli.pct(50.0) / seq.pct(50.0),
        ));
        eprintln!("{}", rows.last().unwrap());
    }

    let now = sh("date -u '+%Y-%m-%d %H:%M UTC'");
    let report = format!(
        "\n## EC2 API benchmark (DescribeInstances), {now}\n\n\
         - Kernel: {kernel}\n\
         - CPU: {cpu}, {cores} CPUs\n\
         - Load at start: {load}\n\
         - ec2lab: {version} (source {source}), release build (`cargo bench`)\n\
         - Store: {n} stopped instance records (each with its root volume and two tags, no \
         network interface), written through the store's record type; no VM; \
         `EC2LAB_NETWORKING=off`\n\
         - Load generator: this benchmark's tokio + hyper HTTP/1.1 client on loopback, every \
         request signed (SigV4) as the AWS SDKs sign; {r} requests per query after 10 \
         warm-up ones, one at a time on one keep-alive connection (latency), then {r} over \
         {c} connections at once (throughput); the full listing stops after 30 s per mode\n\
         - Baseline: `ec2lab describe-instances` with the same parameters, a new process per \
         call, {k} calls per query\n\n\
         Command:\n\n```sh\ntools/bench/api.sh --instances {n} --requests {r} --concurrency {c} \
         --cli-calls {k}\n```\n\n\
         | query | answer (KiB) | API p50 (ms) | API p99 (ms) | API max (ms) | API req/s (1 conn) \
         | API req/s ({c} conns) | CLI p50 (ms) | CLI p99 (ms) | CLI p50 / API p50 |\n\
         |---|---|---|---|---|---|---|---|---|---|\n{rows}\n",
        kernel = sh("uname -r"),
        cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'"),
        cores = sh("nproc"),
        load = sh("cut -d' ' -f1-3 /proc/loadavg"),
        version = sh(&format!("{} --version", env!("CARGO_BIN_EXE_ec2lab"))),
        source = sh(
            "git rev-parse --short HEAD 2>/dev/null; git diff --quiet 2>/dev/null || echo -dirty"
        )
        .replace('\n', ""),
        n = a.instances,
        r = a.requests,
        c = a.concurrency,
        k = a.cli_calls,
        rows = rows.join("\n"),
    );
    print!("{report}");
    if a.output != "-" {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&a.output)
            .unwrap();
        f.write_all(report.as_bytes()).unwrap();
        eprintln!("appended to {}", a.output);
    }
}
