//! `ec2lab top`: every instance's CPU, network, disk and status checks, live in the
//! terminal, read straight from the VMMs (`cloudwatch::live`). On a terminal it redraws
//! one screen (alternate screen, clear and home: plain ANSI) and gives the terminal back
//! on Ctrl-C; elsewhere (a pipe, a file) it prints one plain table per interval.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use nix::sys::signal::{SigSet, Signal};

use super::ctx::Ctx;
use crate::cloudwatch::live::{Check, Live, Row};
use crate::error::EXIT_SERVICE_ERROR;

/// Watch every instance live: CPU, network, disk and status checks, read from the VMMs.
#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  ec2lab top                                   # every instance with a VMM; Ctrl-C to quit
  ec2lab top --instance-ids i-0123456789abcdef0 --interval 5
  ec2lab top --once --sort net                 # one table after one interval, for scripts

The columns (each a rate over the last interval):
  CPU%      the vCPU threads' CPU time over wall time, all vCPUs (CloudWatch's
            CPUUtilization); VCPU% the same for each vCPU (\"97 3\": vCPU 0 busy).
            On a nested host the VMM's emulation of the guest kernel counts too.
  NET-IN    bytes/s to the guest (NetworkIn), NET-OUT from it (NetworkOut);
  PKT-IN    PKT-OUT packets/s (NetworkPacketsIn/Out). All interfaces.
  DISK-R    DISK-W bytes/s read and written; R-OPS W-OPS requests/s. Instance store and
            EBS volumes together (CloudWatch has them as Disk* and AWS/EBS Volume*).
  CHECKS    status checks passed: system (the VMM answers within 2 s) and instance
            (the guest answers ARP on its primary interface within 1 s), as EC2's
            console shows them: 2/2, or which failed. Without root no ARP can be sent:
            the instance check then fails.
Sizes: K = 1024 bytes, M = 1024 K. \"-\" = no reading yet (the first interval), or the VMM
did not answer.

The numbers come from the VMMs' own counters (two readings, their differences), not from
CloudWatch's store: top works without the monitor daemon and shows what happens now. For
history use `ec2lab cloudwatch get-metric-statistics`.

On a terminal the screen is redrawn in place; anywhere else (a pipe, a file) each interval
prints one plain table (no escape codes) until stopped, as --once would repeatedly.")]
pub struct Top {
    /// Seconds between refreshes; the rates are over this interval (at least 0.2).
    #[arg(long, default_value_t = 2.0, value_parser = parse_interval)]
    pub interval: f64,
    /// Order of the rows (largest first for the rates).
    #[arg(long, value_enum, default_value_t = SortKey::Cpu)]
    pub sort: SortKey,
    /// Print one table, after one interval (so the rates are real), and exit.
    #[arg(long)]
    pub once: bool,
    /// Only these instances (also shown when they are not running).
    #[arg(long, num_args = 1..)]
    pub instance_ids: Vec<String>,
}

/// What `--sort` orders by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SortKey {
    /// CPU%, busiest first.
    Cpu,
    /// Network bytes in and out, busiest first.
    Net,
    /// Disk bytes read and written, busiest first.
    Disk,
    /// Instance id.
    Id,
    /// Name tag.
    Name,
    /// Instance type.
    Type,
    /// State.
    State,
}

fn parse_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(0.2..=3600.0).contains(&v) {
        return Err("the interval must be between 0.2 and 3600 seconds".into());
    }
    Ok(v)
}

/// Runs `ec2lab top`; returns the exit code.
pub fn run(ctx: &Ctx, a: Top) -> i32 {
    match watch(ctx, &a) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("\n{}", e.cli_message("Top"));
            EXIT_SERVICE_ERROR
        }
    }
}

/// The terminal while top draws on it: alternate screen, cursor hidden; given back on
/// drop (Ctrl-C, an error, the end).
struct Screen {
    tty: bool,
}

impl Screen {
    fn new(tty: bool) -> Self {
        if tty {
            print!("\x1b[?1049h\x1b[?25l");
        }
        Screen { tty }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if self.tty {
            print!("\x1b[?25h\x1b[?1049l");
            let _ = std::io::stdout().flush();
        }
    }
}

/// Waits until `until`, or until Ctrl-C (SIGINT), SIGTERM or SIGHUP: `true` if one came.
/// The signals are blocked, so they wait here rather than kill the process with the
/// terminal still in top's state.
fn wait_or_signal(signals: &SigSet, until: Instant) -> bool {
    let left = until.saturating_duration_since(Instant::now());
    let ts = libc::timespec {
        tv_sec: left.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(left.subsec_nanos() as i32),
    };
    loop {
        // SAFETY: the set and the timespec are valid for the call; no siginfo is wanted.
        let r = unsafe { libc::sigtimedwait(signals.as_ref(), std::ptr::null_mut(), &ts) };
        if r > 0 {
            return true;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

fn watch(ctx: &Ctx, a: &Top) -> Result<(), crate::error::Ec2Error> {
    let store = ctx.store()?;
    let mut live = Live::new(&store, &a.instance_ids)?;
    let interval = Duration::from_secs_f64(a.interval);
    let tty = !a.once && std::io::stdout().is_terminal();
    let mut signals = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        signals.add(s);
    }
    // Before any thread starts (the readers inherit the mask): the signals wait for us.
    if !a.once {
        signals
            .thread_block()
            .map_err(|e| crate::error::Ec2Error::internal(format!("signal mask: {e}")))?;
    }
    let screen = Screen::new(tty);
    let mut next = Instant::now();
    let mut first = true;
    loop {
        let rows = live.refresh(&store)?;
        // Without rates the first table says little: only a terminal shows it at once.
        if !first || tty {
            let mut rows = rows;
            sort(&mut rows, a.sort);
            let width = if tty { terminal_width() } else { None };
            let text = render(&rows, ctx, a, tty, width);
            let mut out = std::io::stdout().lock();
            let written = if tty {
                out.write_all(b"\x1b[H\x1b[2J")
                    .and_then(|()| out.write_all(text.as_bytes()))
            } else {
                out.write_all(text.as_bytes())
            };
            // A reader that went away (`| head`) ends top quietly.
            if written.and_then(|()| out.flush()).is_err() {
                break;
            }
            if a.once {
                break;
            }
        }
        first = false;
        next += interval;
        let now = Instant::now();
        if next < now {
            // Reading took longer than the interval: measure from now on.
            next = now;
        }
        if a.once {
            std::thread::sleep(next - now);
        } else if wait_or_signal(&signals, next) {
            break;
        }
    }
    drop(screen);
    Ok(())
}

fn net_total(r: &Row) -> f64 {
    r.rates
        .as_ref()
        .map_or(-1.0, |r| r.net_in_bytes + r.net_out_bytes)
}

fn disk_total(r: &Row) -> f64 {
    r.rates
        .as_ref()
        .map_or(-1.0, |r| r.disk_read_bytes + r.disk_write_bytes)
}

/// Orders the rows by `key`; ties by instance id, so the order is stable between screens.
pub fn sort(rows: &mut [Row], key: SortKey) {
    let desc = |a: f64, b: f64| b.total_cmp(&a);
    rows.sort_by(|x, y| {
        let by = match key {
            SortKey::Cpu => {
                let c = |r: &Row| r.rates.as_ref().map_or(-1.0, |r| r.cpu_percent);
                desc(c(x), c(y))
            }
            SortKey::Net => desc(net_total(x), net_total(y)),
            SortKey::Disk => desc(disk_total(x), disk_total(y)),
            SortKey::Id => std::cmp::Ordering::Equal,
            SortKey::Name => x.name.cmp(&y.name),
            SortKey::Type => x.instance_type.cmp(&y.instance_type),
            SortKey::State => x.state.cmp(y.state),
        };
        by.then_with(|| x.instance_id.cmp(&y.instance_id))
    });
}

/// Bytes per second, short: `0`, `512`, `12.3K`, `1.5M` (K = 1024).
pub fn bytes(v: f64) -> String {
    if v < 1023.5 {
        return format!("{v:.0}");
    }
    let mut v = v / 1024.0;
    for unit in ["K", "M", "G", "T"] {
        if v < 1023.5 || unit == "T" {
            return if v < 99.95 {
                format!("{v:.1}{unit}")
            } else {
                format!("{v:.0}{unit}")
            };
        }
        v /= 1024.0;
    }
    unreachable!("the loop returns at T")
}

/// A count per second: `0.5`, `12.0`, `340`, `12.3k` (k = 1000).
pub fn count(v: f64) -> String {
    if v < 99.95 {
        format!("{v:.1}")
    } else if v < 9999.5 {
        format!("{v:.0}")
    } else {
        format!("{:.1}k", v / 1000.0)
    }
}

fn checks(r: &Row) -> String {
    match (r.system, r.instance) {
        (Check::NotChecked, _) => "-".into(),
        (Check::Passed, Check::Passed) => "2/2".into(),
        (Check::Passed, Check::NotChecked) => "1/1".into(),
        (Check::Passed, Check::Failed) => "1/2 instance".into(),
        (Check::Failed, _) => "0/2 system".into(),
    }
}

const HEADERS: [&str; 15] = [
    "INSTANCE", "NAME", "TYPE", "STATE", "CPU%", "VCPU%", "NET-IN", "NET-OUT", "PKT-IN", "PKT-OUT",
    "DISK-R", "DISK-W", "R-OPS", "W-OPS", "CHECKS",
];
/// Columns written left-aligned (text); the others are numbers, right-aligned.
const LEFT: [usize; 6] = [0, 1, 2, 3, 5, 14];

fn cells(r: &Row) -> Vec<String> {
    let mut c = vec![
        r.instance_id.clone(),
        r.name.clone().unwrap_or_else(|| "-".into()),
        r.instance_type.clone(),
        r.state.to_string(),
    ];
    match &r.rates {
        Some(x) => {
            c.push(format!("{:.1}", x.cpu_percent));
            c.push(
                x.vcpu_percent
                    .iter()
                    .map(|p| format!("{p:.0}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            c.extend([
                bytes(x.net_in_bytes),
                bytes(x.net_out_bytes),
                count(x.net_in_packets),
                count(x.net_out_packets),
                bytes(x.disk_read_bytes),
                bytes(x.disk_write_bytes),
                count(x.disk_read_ops),
                count(x.disk_write_ops),
            ]);
        }
        None => c.extend(std::iter::repeat_n("-".to_string(), 10)),
    }
    c.push(checks(r));
    c
}

/// The table: a title line, the column headers, one line per instance.
pub fn table(title: &str, rows: &[Row], width: Option<usize>) -> String {
    let lines: Vec<Vec<String>> = std::iter::once(HEADERS.map(String::from).to_vec())
        .chain(rows.iter().map(cells))
        .collect();
    let widths: Vec<usize> = (0..HEADERS.len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!("{title}\n");
    for l in &lines {
        let mut line = String::new();
        for (i, cell) in l.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let w = widths[i];
            if LEFT.contains(&i) {
                line.push_str(&format!("{cell:<w$}"));
            } else {
                line.push_str(&format!("{cell:>w$}"));
            }
        }
        let line = line.trim_end();
        // A line wider than the terminal would wrap and scroll the screen away.
        match width {
            Some(w) => out.extend(line.chars().take(w)),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no instance has a VMM in this region)\n");
    }
    out
}

fn render(rows: &[Row], ctx: &Ctx, a: &Top, tty: bool, width: Option<usize>) -> String {
    let hint = if tty { "  (Ctrl-C to quit)" } else { "" };
    let title = format!(
        "ec2lab top  {}  {} instance{}  every {} s  {}{hint}",
        ctx.region,
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        a.interval,
        crate::store::iso8601_now(),
    );
    let mut text = table(&title, rows, width);
    if !tty {
        // Tables one after another stay apart.
        text.push('\n');
    }
    text
}

/// The terminal's width in columns, if stdout is one that says.
fn terminal_width() -> Option<usize> {
    // SAFETY: winsize is plain data, valid all-zero; TIOCGWINSZ only writes it.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: fd 1 with a valid out-pointer of the type TIOCGWINSZ writes.
    let r = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch::live::Rates;

    fn row(id: &str, cpu: Option<f64>) -> Row {
        Row {
            instance_id: id.into(),
            name: Some(format!("n-{id}")),
            instance_type: "t2.micro".into(),
            state: "running",
            rates: cpu.map(|c| Rates {
                interval_s: 2.0,
                cpu_percent: c,
                vcpu_percent: vec![c],
                net_in_bytes: 20_000.0,
                net_out_bytes: 0.0,
                net_in_packets: 20.0,
                net_out_packets: 0.0,
                disk_read_ops: 0.0,
                disk_write_ops: 256.0,
                disk_read_bytes: 0.0,
                disk_write_bytes: 1048576.0,
            }),
            system: Check::Passed,
            instance: Check::Failed,
        }
    }

    #[test]
    fn sizes_and_counts_are_short() {
        assert_eq!(bytes(0.0), "0");
        assert_eq!(bytes(512.0), "512");
        assert_eq!(bytes(20_000.0), "19.5K");
        assert_eq!(bytes(1048576.0), "1.0M");
        assert_eq!(bytes(500.0 * 1048576.0), "500M");
        assert_eq!(count(0.04), "0.0");
        assert_eq!(count(256.0), "256");
        assert_eq!(count(123_456.0), "123.5k");
    }

    #[test]
    fn busiest_first_and_rows_without_rates_last() {
        let mut rows = vec![
            row("i-a", Some(3.0)),
            row("i-b", None),
            row("i-c", Some(97.0)),
        ];
        sort(&mut rows, SortKey::Cpu);
        let ids: Vec<&str> = rows.iter().map(|r| r.instance_id.as_str()).collect();
        assert_eq!(ids, ["i-c", "i-a", "i-b"]);
        sort(&mut rows, SortKey::Id);
        assert_eq!(rows[0].instance_id, "i-a");
    }

    #[test]
    fn the_table_lines_up_and_fits_the_terminal() {
        let rows = vec![row("i-0123456789abcdef0", Some(97.25)), row("i-b", None)];
        let t = table("title", &rows, None);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[1].starts_with("INSTANCE "));
        assert!(
            lines[2].contains("97.2") || lines[2].contains("97.3"),
            "{t}"
        );
        assert!(
            lines[2].contains("19.5K") && lines[2].contains("1.0M"),
            "{t}"
        );
        assert!(lines[2].ends_with("1/2 instance"), "{t}");
        // Columns line up: CPU% ends where its header ends.
        let end = lines[1].find("CPU%").unwrap() + 4;
        assert_eq!(&lines[2][end - 4..end], "97.2");
        assert_eq!(&lines[3][end - 1..end], "-");
        assert!(!t.contains('\x1b'));
        let narrow = table("title", &rows, Some(30));
        assert!(narrow.lines().all(|l| l.chars().count() <= 30), "{narrow}");
    }
}
