//! `curl`, as the agent's applet (started through the `/usr/bin/curl` symlink): the part of
//! curl's command line that AWS's documentation and everyday scripts use, over plain HTTP
//! (the guest has no TLS library; `https://` fails as a curl without TLS does). One static
//! program that is already in the page cache at boot, instead of Debian's curl and its
//! ~20 libraries: every process start and every library mapped is emulated kernel work on
//! the PVM host (guest-images/README.md has the numbers).
//!
//! Options: `-s -S -f -L -i -I -v -o FILE -O -X METHOD -H HEADER -d/--data[-binary|-raw]
//! DATA -w FORMAT -A AGENT -e REFERER -m SECS --connect-timeout SECS --retry N
//! --max-redirs N -k -4 --compressed -#`(accepted), exit codes and error lines as curl's.

use std::fs;
use std::io::{IsTerminal, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::http;

/// What curl itself calls this version (its User-Agent, `-V`).
const VERSION: &str = "7.88.1";
const USAGE: &str = "Usage: curl [options...] <url>
 -d, --data <data>          HTTP POST data (also --data-binary, --data-raw; @FILE reads a file)
 -e, --referer <URL>        Referrer URL
 -f, --fail                 Fail fast with no output on HTTP errors
 -H, --header <header>      Pass custom header(s) to server (\"Name:\" removes one)
 -i, --include              Include protocol response headers in the output
 -I, --head                 Show document info only
 -L, --location             Follow redirects
 -m, --max-time <seconds>   Maximum time allowed for the transfer
     --connect-timeout <s>  Maximum time allowed for connection
 -o, --output <file>        Write to file instead of stdout
 -O, --remote-name          Write output to a file named as the remote file
     --retry <num>          Retry request if transient problems occur
 -s, --silent               Silent mode
 -S, --show-error           Show error even when -s is used
 -A, --user-agent <name>    Send User-Agent <name> to server
 -v, --verbose              Make the operation more talkative
 -w, --write-out <format>   Use output FORMAT after completion
 -X, --request <method>     Specify request method to use
 -V, --version              Show version number and quit
ec2lab Linux's curl: the ec2lab agent's applet, HTTP only (no TLS in this image).";

/// A failure: curl's exit code and its message (`curl: (N) message`).
#[derive(Debug)]
struct Fail(i32, String);

#[derive(Default, Debug)]
struct Opts {
    urls: Vec<String>,
    method: Option<String>,
    headers: Vec<String>,
    data: Option<Vec<u8>>,
    silent: bool,
    show_error: bool,
    fail: bool,
    location: bool,
    include: bool,
    head: bool,
    verbose: bool,
    output: Option<String>,
    remote_name: bool,
    write_out: Option<String>,
    user_agent: Option<String>,
    referer: Option<String>,
    max_time: Option<Duration>,
    connect_timeout: Option<Duration>,
    retry: u32,
    max_redirs: u32,
}

fn secs(v: &str) -> Result<Duration, Fail> {
    v.parse::<f64>()
        .ok()
        .filter(|s| *s >= 0.0 && s.is_finite())
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            Fail(
                2,
                format!("option: expected a proper numerical parameter, got {v:?}"),
            )
        })
}

/// `-d` data: `@FILE` reads the file (`-` is stdin); `-d` drops CR and LF from it, as curl does.
fn data_arg(v: &str, binary: bool, raw: bool) -> Result<Vec<u8>, Fail> {
    let Some(name) = v.strip_prefix('@').filter(|_| !raw) else {
        return Ok(v.as_bytes().to_vec());
    };
    let mut b = Vec::new();
    let r = if name == "-" {
        std::io::stdin().read_to_end(&mut b).map(|_| ())
    } else {
        fs::read(name).map(|d| b = d)
    };
    if let Err(e) = r {
        return Err(Fail(
            26,
            format!("Failed to open/read local data from file/application: {name}: {e}"),
        ));
    }
    if !binary {
        b.retain(|c| *c != b'\r' && *c != b'\n');
    }
    Ok(b)
}

fn parse_args(args: &[String]) -> Result<Opts, Fail> {
    let mut o = Opts {
        max_redirs: 50,
        ..Opts::default()
    };
    let mut i = 0;
    let value = |i: &mut usize, name: &str| -> Result<String, Fail> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| Fail(2, format!("option {name}: requires parameter")))
    };
    while i < args.len() {
        let a = args[i].as_str();
        // Long options, `--name value` or `--name=value`.
        if let Some(long) = a.strip_prefix("--") {
            if long.is_empty() {
                o.urls.extend(args[i + 1..].iter().cloned());
                break;
            }
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let val = |i: &mut usize| match &inline {
                Some(v) => Ok(v.clone()),
                None => value(i, a),
            };
            match name {
                "silent" => o.silent = true,
                "show-error" => o.show_error = true,
                "fail" => o.fail = true,
                "location" => o.location = true,
                "include" => o.include = true,
                "head" => o.head = true,
                "verbose" => o.verbose = true,
                "remote-name" => o.remote_name = true,
                "insecure" | "compressed" | "ipv4" | "progress-bar" | "no-progress-meter"
                | "http1.1" | "globoff" | "no-keepalive" => {
                    if name == "no-progress-meter" {
                        o.silent = o.silent || !o.show_error;
                    }
                }
                "output" => o.output = Some(val(&mut i)?),
                "request" => o.method = Some(val(&mut i)?),
                "header" => o.headers.push(val(&mut i)?),
                "data" | "data-ascii" => o.data = Some(data_arg(&val(&mut i)?, false, false)?),
                "data-binary" => o.data = Some(data_arg(&val(&mut i)?, true, false)?),
                "data-raw" => o.data = Some(data_arg(&val(&mut i)?, true, true)?),
                "write-out" => o.write_out = Some(val(&mut i)?),
                "user-agent" => o.user_agent = Some(val(&mut i)?),
                "referer" => o.referer = Some(val(&mut i)?),
                "max-time" => o.max_time = Some(secs(&val(&mut i)?)?),
                "connect-timeout" => o.connect_timeout = Some(secs(&val(&mut i)?)?),
                "retry" => {
                    o.retry = val(&mut i)?
                        .parse()
                        .map_err(|_| Fail(2, "option --retry: expected a proper numerical parameter".into()))?
                }
                "max-redirs" => {
                    o.max_redirs = val(&mut i)?
                        .parse()
                        .map_err(|_| Fail(2, "option --max-redirs: expected a proper numerical parameter".into()))?
                }
                "url" => o.urls.push(val(&mut i)?),
                "help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                "version" => {
                    println!("curl {VERSION} (x86_64-pc-linux-gnu) ec2lab-agent/{}\nProtocols: http\nFeatures: IPv4", env!("CARGO_PKG_VERSION"));
                    std::process::exit(0);
                }
                _ => return Err(Fail(2, format!("option {a}: is unknown (ec2lab Linux's curl knows the options in curl --help)"))),
            }
            i += 1;
            continue;
        }
        // Short options, bundled (`-fsSL`), a value attached (`-XPUT`) or next.
        if let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) {
            let chars: Vec<char> = flags.chars().collect();
            let mut k = 0;
            while k < chars.len() {
                let c = chars[k];
                let takes_value = "oXHdwAemu".contains(c);
                let v = if takes_value {
                    let rest: String = chars[k + 1..].iter().collect();
                    k = chars.len();
                    if rest.is_empty() {
                        Some(value(&mut i, &format!("-{c}"))?)
                    } else {
                        Some(rest)
                    }
                } else {
                    k += 1;
                    None
                };
                match (c, v) {
                    ('s', _) => o.silent = true,
                    ('S', _) => o.show_error = true,
                    ('f', _) => o.fail = true,
                    ('L', _) => o.location = true,
                    ('i', _) => o.include = true,
                    ('I', _) => o.head = true,
                    ('v', _) => o.verbose = true,
                    ('O', _) => o.remote_name = true,
                    ('k' | '4' | '#' | 'g', _) => {}
                    ('o', Some(v)) => o.output = Some(v),
                    ('X', Some(v)) => o.method = Some(v),
                    ('H', Some(v)) => o.headers.push(v),
                    ('d', Some(v)) => o.data = Some(data_arg(&v, false, false)?),
                    ('w', Some(v)) => o.write_out = Some(v),
                    ('A', Some(v)) => o.user_agent = Some(v),
                    ('e', Some(v)) => o.referer = Some(v),
                    ('m', Some(v)) => o.max_time = Some(secs(&v)?),
                    ('h', _) => {
                        println!("{USAGE}");
                        std::process::exit(0);
                    }
                    ('V', _) => {
                        println!("curl {VERSION} (x86_64-pc-linux-gnu) ec2lab-agent/{}\nProtocols: http\nFeatures: IPv4", env!("CARGO_PKG_VERSION"));
                        std::process::exit(0);
                    }
                    _ => return Err(Fail(2, format!("option -{c}: is unknown (ec2lab Linux's curl knows the options in curl --help)"))),
                }
            }
            i += 1;
            continue;
        }
        o.urls.push(a.to_string());
        i += 1;
    }
    if o.urls.is_empty() {
        return Err(Fail(
            2,
            "no URL specified\ncurl: try 'curl --help' for more information".into(),
        ));
    }
    Ok(o)
}

/// A parsed `http://host[:port]/path?query` URL.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Url {
    host: String,
    port: u16,
    /// The path and query, at least "/".
    target: String,
}

impl Url {
    fn parse(s: &str) -> Result<Url, Fail> {
        let rest = match s.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(Fail(
                    1,
                    format!("Protocol \"{scheme}\" not supported or disabled in libcurl"),
                ))
            }
            None => s, // curl assumes http:// without a scheme
        };
        let (authority, target) = match rest.find(['/', '?']) {
            Some(p) if rest.as_bytes()[p] == b'?' => (&rest[..p], format!("/{}", &rest[p..])),
            Some(p) => (&rest[..p], rest[p..].to_string()),
            None => (rest, "/".to_string()),
        };
        let target = target.split('#').next().unwrap_or("/").replace(' ', "%20");
        let authority = authority.rsplit('@').next().unwrap_or_default();
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.contains(']') || h.ends_with(']') => (
                h,
                p.parse::<u16>().map_err(|_| {
                    Fail(
                        3,
                        format!("URL using bad/illegal format or missing URL: {s}"),
                    )
                })?,
            ),
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(Fail(
                3,
                format!("URL using bad/illegal format or missing URL: {s}"),
            ));
        }
        Ok(Url {
            host: host.to_string(),
            port,
            target,
        })
    }

    fn host_header(&self) -> String {
        if self.port == 80 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn text(&self) -> String {
        format!("http://{}{}", self.host_header(), self.target)
    }

    /// Where a `Location` header points, relative to this URL.
    fn join(&self, loc: &str) -> Result<Url, Fail> {
        if loc.contains("://") {
            return Url::parse(loc);
        }
        if let Some(rest) = loc.strip_prefix("//") {
            return Url::parse(&format!("http://{rest}"));
        }
        let target = if loc.starts_with('/') {
            loc.to_string()
        } else {
            let path = self.target.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |p| p + 1)];
            format!("{dir}{loc}")
        };
        Ok(Url {
            target,
            ..self.clone()
        })
    }
}

/// The host's address: an IP literal, /etc/hosts, then the system resolver.
fn resolve(host: &str, port: u16) -> Result<SocketAddr, Fail> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let hosts = fs::read_to_string("/etc/hosts").unwrap_or_default();
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        if let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) {
            if words.any(|w| w.eq_ignore_ascii_case(host)) {
                return Ok(SocketAddr::new(ip, port));
            }
        }
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.find(SocketAddr::is_ipv4))
        .ok_or_else(|| Fail(6, format!("Could not resolve host: {host}")))
}

/// One exchange's result.
struct Exchange {
    status: u16,
    status_line: String,
    headers: Vec<(String, String)>,
    raw_head: Vec<u8>,
    body: Vec<u8>,
    remote: SocketAddr,
    connect_time: Duration,
    first_byte: Duration,
}

impl Exchange {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The request bytes curl would send: its default headers, overridden or removed
/// (`-H "Name:"`) by the user's, then the user's others.
fn build(o: &Opts, method: &str, url: &Url, body: Option<&[u8]>, verbose: bool) -> Vec<u8> {
    let ua = o
        .user_agent
        .clone()
        .unwrap_or_else(|| format!("curl/{VERSION}"));
    let mut defaults: Vec<(String, String)> = vec![
        ("Host".into(), url.host_header()),
        ("User-Agent".into(), ua),
        ("Accept".into(), "*/*".into()),
    ];
    if let Some(r) = &o.referer {
        defaults.push(("Referer".into(), r.clone()));
    }
    if let Some(b) = body {
        defaults.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        defaults.push(("Content-Length".into(), b.len().to_string()));
    }
    let mut extra: Vec<String> = Vec::new();
    for h in &o.headers {
        let (name, value) = match h.split_once(':') {
            Some((n, v)) => (n.trim(), v.trim()),
            None => match h.strip_suffix(';') {
                Some(n) => (n.trim(), ""),
                None => continue, // curl ignores a header without a colon
            },
        };
        if let Some(d) = defaults
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            d.1 = if value.is_empty() && h.contains(':') {
                String::new() // "Name:" removes it
            } else {
                value.to_string()
            };
            d.0 = name.to_string();
            continue;
        }
        if value.is_empty() && h.contains(':') {
            continue;
        }
        extra.push(format!("{name}: {value}"));
    }
    let mut r = format!("{method} {} HTTP/1.1\r\n", url.target);
    for (k, v) in defaults.iter().filter(|(_, v)| !v.is_empty()) {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    for e in extra {
        r.push_str(&e);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    if verbose {
        for line in r.trim_end_matches("\r\n").split("\r\n") {
            eprintln!("> {line}");
        }
        eprintln!("> ");
    }
    let mut bytes = r.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    bytes
}

fn connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    match addr {
        SocketAddr::V4(a) => crate::sys::connect_bound(a, timeout),
        SocketAddr::V6(_) => TcpStream::connect_timeout(&addr, timeout),
    }
}

fn exchange(
    o: &Opts,
    method: &str,
    url: &Url,
    body: Option<&[u8]>,
    deadline: Option<Instant>,
) -> Result<Exchange, Fail> {
    let started = Instant::now();
    let addr = resolve(&url.host, url.port)?;
    if o.verbose {
        eprintln!("*   Trying {addr}...");
    }
    let left = |d: Option<Instant>| d.map(|d| d.saturating_duration_since(Instant::now()));
    let mut ct = o.connect_timeout.unwrap_or(Duration::from_secs(300));
    if let Some(l) = left(deadline) {
        ct = ct.min(l);
    }
    let timed_out = |started: Instant| {
        Fail(
            28,
            format!(
                "Operation timed out after {} milliseconds with 0 bytes received",
                started.elapsed().as_millis()
            ),
        )
    };
    let mut s = connect(addr, ct.max(Duration::from_millis(1))).map_err(|e| {
        if e.kind() == std::io::ErrorKind::TimedOut {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return timed_out(started);
            }
            return Fail(
                28,
                format!(
                    "Failed to connect to {} port {} after {} ms: Timeout was reached",
                    url.host,
                    url.port,
                    started.elapsed().as_millis()
                ),
            );
        }
        Fail(
            7,
            format!(
                "Failed to connect to {} port {} after {} ms: Couldn't connect to server",
                url.host,
                url.port,
                started.elapsed().as_millis()
            ),
        )
    })?;
    let connect_time = started.elapsed();
    if o.verbose {
        eprintln!(
            "* Connected to {} ({}) port {} (#0)",
            url.host,
            addr.ip(),
            url.port
        );
    }
    let req = build(o, method, url, body, o.verbose);
    let io_timeout = left(deadline).unwrap_or(Duration::from_secs(3600));
    let _ = s.set_read_timeout(Some(io_timeout.max(Duration::from_millis(1))));
    let _ = s.set_write_timeout(Some(io_timeout.max(Duration::from_millis(1))));
    s.write_all(&req)
        .map_err(|e| Fail(55, format!("Failed sending data to the peer: {e}")))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    let mut first_byte = None;
    let head_request = method == "HEAD";
    loop {
        if let Some(l) = left(deadline) {
            if l.is_zero() {
                return Err(timed_out(started));
            }
            let _ = s.set_read_timeout(Some(l));
        }
        let n = match s.read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return Err(timed_out(started))
            }
            Err(e) => return Err(Fail(56, format!("Recv failure: {e}"))),
        };
        first_byte.get_or_insert_with(|| started.elapsed());
        if n == 0 && raw.is_empty() {
            return Err(Fail(52, "Empty reply from server".into()));
        }
        raw.extend_from_slice(&buf[..n]);
        let parsed = http::parse_response_to(&raw, n == 0, head_request)
            .map_err(|e| Fail(8, format!("Weird server reply: {e}")))?;
        if let Some(r) = parsed {
            let (status_line, headers, body_at) =
                http::parse_head(&raw).expect("a parsed response has a head");
            if o.verbose {
                for line in String::from_utf8_lossy(&raw[..body_at])
                    .trim_end_matches("\r\n")
                    .split("\r\n")
                {
                    eprintln!("< {line}");
                }
                eprintln!("< ");
            }
            return Ok(Exchange {
                status: r.status,
                status_line,
                headers,
                raw_head: raw[..body_at].to_vec(),
                body: r.body,
                remote: addr,
                connect_time,
                first_byte: first_byte.unwrap_or_default(),
            });
        }
    }
}

/// curl's progress meter, shown (on stderr) when the output is not a terminal and not
/// `-s`; this curl prints it once, at the end of the transfer.
fn progress_meter(total: usize, elapsed: Duration) {
    let speed = if elapsed.as_secs_f64() > 0.0 {
        (total as f64 / elapsed.as_secs_f64()) as u64
    } else {
        total as u64
    };
    let size = |n: u64| -> String {
        if n < 100_000 {
            n.to_string()
        } else if n < 10_000 * 1024 {
            format!("{}k", n / 1024)
        } else {
            format!("{}M", n / (1024 * 1024))
        }
    };
    // curl's time2str: "--:--:--" under a second, else " H:MM:SS".
    let t = |d: Duration| {
        let s = d.as_secs();
        if s == 0 {
            "--:--:--".to_string()
        } else {
            format!("{:2}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
        }
    };
    eprintln!("  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current");
    eprintln!("                                 Dload  Upload   Total   Spent    Left  Speed");
    eprintln!(
        "{:>3} {:>5}  {:>3} {:>5}    0     0  {:>5}      0 --:--:-- {} --:--:-- {:>5}",
        100,
        size(total as u64),
        100,
        size(total as u64),
        size(speed),
        t(elapsed),
        size(speed)
    );
}

/// The `-w` format with this transfer's values: `%{name}`, `%header{name}`, `%%`, `\n`...
fn write_out(
    fmt: &str,
    x: &Exchange,
    url: &Url,
    method: &str,
    redirects: u32,
    total: Duration,
    code: i32,
) -> String {
    let fmt = match fmt.strip_prefix('@') {
        Some(f) => fs::read_to_string(f).unwrap_or_default(),
        None => fmt.to_string(),
    };
    let mut out = String::new();
    let mut rest = fmt.as_str();
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("%%") {
            out.push('%');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("%{") {
            let Some(end) = r.find('}') else {
                out.push_str(rest);
                break;
            };
            let name = &r[..end];
            let ms = |d: Duration| format!("{:.6}", d.as_secs_f64());
            let v = match name {
                "http_code" | "response_code" => format!("{:03}", x.status),
                "http_version" => x
                    .status_line
                    .split(' ')
                    .next()
                    .and_then(|v| v.strip_prefix("HTTP/"))
                    .unwrap_or("1.1")
                    .to_string(),
                "size_download" => x.body.len().to_string(),
                "size_header" => x.raw_head.len().to_string(),
                "content_type" => x.header("content-type").unwrap_or_default().to_string(),
                "url_effective" | "url" => url.text(),
                "redirect_url" => x
                    .header("location")
                    .and_then(|l| url.join(l).ok())
                    .map(|u| u.text())
                    .unwrap_or_default(),
                "num_redirects" => redirects.to_string(),
                "remote_ip" => x.remote.ip().to_string(),
                "remote_port" => x.remote.port().to_string(),
                "method" => method.to_string(),
                "scheme" => "HTTP".to_string(),
                "exitcode" => code.to_string(),
                "time_total" => ms(total),
                "time_connect" | "time_namelookup" | "time_appconnect" | "time_pretransfer" => {
                    ms(x.connect_time)
                }
                "time_starttransfer" => ms(x.first_byte),
                "speed_download" => format!(
                    "{}",
                    (x.body.len() as f64 / total.as_secs_f64().max(1e-6)) as u64
                ),
                "stdout" | "stderr" => String::new(),
                _ => String::new(),
            };
            out.push_str(&v);
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix("%header{") {
            let end = r.find('}').unwrap_or(r.len());
            out.push_str(x.header(&r[..end]).unwrap_or_default());
            rest = r.get(end + 1..).unwrap_or_default();
        } else if let Some(r) = rest.strip_prefix('\\') {
            let (ch, r2) = match r.chars().next() {
                Some('n') => ('\n', &r[1..]),
                Some('t') => ('\t', &r[1..]),
                Some('r') => ('\r', &r[1..]),
                Some('\\') => ('\\', &r[1..]),
                _ => ('\\', r),
            };
            out.push(ch);
            rest = r2;
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// One URL, following redirects with `-L`; writes the output. Ok(exit code).
fn transfer(o: &Opts, url_text: &str, out: &mut dyn Write) -> Result<(), Fail> {
    let started = Instant::now();
    let deadline = o.max_time.map(|m| started + m);
    let mut url = Url::parse(url_text)?;
    let mut method = o.method.clone().unwrap_or_else(|| {
        if o.head {
            "HEAD".into()
        } else if o.data.is_some() {
            "POST".into()
        } else {
            "GET".into()
        }
    });
    let mut body = o.data.clone();
    let mut redirects = 0;
    let mut attempt = 0;
    let x = loop {
        let x = match exchange(o, &method, &url, body.as_deref(), deadline) {
            Ok(x) => x,
            Err(f) if attempt < o.retry && [6, 7, 28, 52, 56].contains(&f.0) => {
                attempt += 1;
                if !o.silent {
                    eprintln!(
                        "Warning: Problem : {}. Will retry in 1 seconds. {} retries left.",
                        f.1,
                        o.retry - attempt + 1
                    );
                }
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
            Err(f) => return Err(f),
        };
        if o.include || o.head {
            out.write_all(&x.raw_head)
                .map_err(|e| Fail(23, format!("Failure writing output to destination: {e}")))?;
        }
        let loc = x.header("location").map(str::to_string);
        if o.location && (300..400).contains(&x.status) && loc.is_some() {
            if redirects >= o.max_redirs {
                return Err(Fail(
                    47,
                    format!("Maximum ({}) redirects followed", o.max_redirs),
                ));
            }
            redirects += 1;
            let next = url.join(loc.as_deref().unwrap_or_default())?;
            if o.verbose {
                eprintln!("* Issue another request to this URL: '{}'", next.text());
            }
            // As curl: 303 turns into GET; 301/302 turn a POST into GET.
            let post_to_get = (x.status == 301 || x.status == 302) && method == "POST";
            if x.status == 303 || (post_to_get && o.method.is_none()) {
                method = if o.head { "HEAD".into() } else { "GET".into() };
                body = None;
            }
            url = next;
            continue;
        }
        break x;
    };
    let total = started.elapsed();
    let failed = o.fail && x.status >= 400;
    if !failed && !o.head {
        out.write_all(&x.body)
            .and_then(|_| out.flush())
            .map_err(|e| Fail(23, format!("Failure writing output to destination: {e}")))?;
    }
    let code = if failed { 22 } else { 0 };
    if let Some(f) = &o.write_out {
        print!(
            "{}",
            write_out(f, &x, &url, &method, redirects, total, code)
        );
        let _ = std::io::stdout().flush();
    }
    if !o.silent && (o.output.is_some() || o.remote_name || !std::io::stdout().is_terminal()) {
        progress_meter(x.body.len(), total);
    }
    if o.verbose {
        eprintln!("* Connection #0 to host {} left intact", url.host);
    }
    if failed {
        return Err(Fail(
            22,
            format!("The requested URL returned error: {}", x.status),
        ));
    }
    Ok(())
}

/// curl's main: the exit code.
pub fn main(args: &[String]) -> i32 {
    let o = match parse_args(args) {
        Ok(o) => o,
        Err(Fail(code, msg)) => {
            eprintln!("curl: {msg}");
            return code;
        }
    };
    let mut code = 0;
    for u in &o.urls {
        let target: Result<Box<dyn Write>, Fail> = if let Some(f) = &o.output {
            if f == "-" {
                Ok(Box::new(std::io::stdout()))
            } else {
                fs::File::create(f)
                    .map(|f| Box::new(f) as Box<dyn Write>)
                    .map_err(|e| {
                        Fail(
                            23,
                            format!("Failure writing output to destination: {f}: {e}"),
                        )
                    })
            }
        } else if o.remote_name {
            let name = u
                .split(['?', '#'])
                .next()
                .and_then(|p| p.rsplit('/').next())
                .unwrap_or_default()
                .to_string();
            if name.is_empty() {
                Err(Fail(23, "Remote file name has no length".into()))
            } else {
                fs::File::create(&name)
                    .map(|f| Box::new(f) as Box<dyn Write>)
                    .map_err(|e| {
                        Fail(
                            23,
                            format!("Failure writing output to destination: {name}: {e}"),
                        )
                    })
            }
        } else {
            Ok(Box::new(std::io::stdout()))
        };
        let r = target.and_then(|mut w| transfer(&o, u, &mut *w));
        if let Err(Fail(c, msg)) = r {
            if !o.silent || o.show_error {
                eprintln!("curl: ({c}) {msg}");
            }
            code = c;
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_as_the_aws_docs_write_them() {
        let o = parse_args(&args(&[
            "-X",
            "PUT",
            "http://169.254.169.254/latest/api/token",
            "-H",
            "X-aws-ec2-metadata-token-ttl-seconds: 21600",
        ]))
        .unwrap();
        assert_eq!(o.method.as_deref(), Some("PUT"));
        assert_eq!(o.headers, ["X-aws-ec2-metadata-token-ttl-seconds: 21600"]);
        assert_eq!(o.urls, ["http://169.254.169.254/latest/api/token"]);
        let o = parse_args(&args(&[
            "-fsSL",
            "-XPOST",
            "-w%{http_code}",
            "--max-time=3",
            "h/x",
        ]))
        .unwrap();
        assert!(o.fail && o.silent && o.show_error && o.location);
        assert_eq!(o.method.as_deref(), Some("POST"));
        assert_eq!(o.write_out.as_deref(), Some("%{http_code}"));
        assert_eq!(o.max_time, Some(Duration::from_secs(3)));
        assert_eq!(parse_args(&args(&["-Z", "x"])).unwrap_err().0, 2);
        assert_eq!(parse_args(&args(&["-s"])).unwrap_err().0, 2);
        assert_eq!(parse_args(&args(&["-o"])).unwrap_err().0, 2);
    }

    #[test]
    fn urls() {
        let u = Url::parse("http://169.254.169.254/latest/meta-data/").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.target.as_str()),
            ("169.254.169.254", 80, "/latest/meta-data/")
        );
        let u = Url::parse("localhost:8080?a=b#frag").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.target.as_str()),
            ("localhost", 8080, "/?a=b")
        );
        assert_eq!(Url::parse("https://bit.ly/x").unwrap_err().0, 1);
        assert_eq!(Url::parse("http://h:99999/").unwrap_err().0, 3);
        let base = Url::parse("http://h:81/a/b?q").unwrap();
        assert_eq!(base.join("/c").unwrap().text(), "http://h:81/c");
        assert_eq!(base.join("c").unwrap().text(), "http://h:81/a/c");
        assert_eq!(base.join("http://o/").unwrap().text(), "http://o/");
    }

    #[test]
    fn request_headers_as_curl_sends_them() {
        let o = parse_args(&args(&[
            "-H",
            "Accept: text/plain",
            "-H",
            "User-Agent:",
            "-H",
            "X-A: 1",
            "u",
        ]))
        .unwrap();
        let u = Url::parse("http://h/p").unwrap();
        let r = String::from_utf8(build(&o, "PUT", &u, None, false)).unwrap();
        assert_eq!(
            r,
            "PUT /p HTTP/1.1\r\nHost: h\r\nAccept: text/plain\r\nX-A: 1\r\n\r\n"
        );
        let r = String::from_utf8(build(&o, "POST", &u, Some(b"k=v"), false)).unwrap();
        assert!(
            r.contains("Content-Length: 3\r\n") && r.ends_with("\r\n\r\nk=v"),
            "{r}"
        );
    }
}
