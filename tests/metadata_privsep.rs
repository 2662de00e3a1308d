//! The metadata service's HTTP is parsed without root: each supervisor starts a worker
//! process (`__metadata-worker`) that accepts and parses the guests' requests as its own
//! unprivileged user, chrooted, without capabilities, and asks the supervisor for the
//! answers. Real supervisors and tiny guests, stand-in guests in network namespaces
//! (see `common::netns`). Skipped without root, `ip netns`, nft or python3.

mod common;
use common::*;

use std::os::fd::AsRawFd;

use std::time::{Duration, Instant};

/// IMDSv2 from the guest: a token, a read with it, a read with a wrong one, and a token
/// asked for through a proxy; one line each.
const IMDS_V2: &str = r#"
import http.client
def req(method, path, headers):
    c = http.client.HTTPConnection('169.254.169.254', 80, timeout=5)
    c.request(method, path, headers=headers)
    r = c.getresponse()
    return r.status, r.read().decode(), r.getheader('X-aws-ec2-metadata-token-ttl-seconds')
ttl = {'X-aws-ec2-metadata-token-ttl-seconds': '60'}
s, tok, t = req('PUT', '/latest/api/token', ttl)
print(s, t)
s, body, _ = req('GET', '/latest/meta-data/instance-id', {'X-aws-ec2-metadata-token': tok})
print(s, body)
s, _, _ = req('GET', '/latest/meta-data/instance-id', {'X-aws-ec2-metadata-token': tok + 'x'})
print(s)
s, _, _ = req('PUT', '/latest/api/token', dict(ttl, **{'X-Forwarded-For': '10.0.0.9'}))
print(s)
"#;

fn pid_of(pattern: &str) -> Option<u32> {
    let out = std::process::Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut pids = text.lines().filter_map(|l| l.trim().parse().ok());
    let pid = pids.next();
    assert_eq!(pids.next(), None, "more than one process matches {pattern}");
    pid
}

/// `/proc/<pid>/status`'s line `key`, without the key.
fn status_line(pid: u32, key: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {s}"))
        .trim()
        .to_string()
}

fn soon<T>(what: &str, f: impl Fn() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "{what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn assert_answers(g: &str, id: &str) {
    let (status, secs, body) = imds(g, "GET", "/latest/meta-data/instance-id", 5.0);
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("200", id),
        "IMDSv1, {secs} s"
    );
    let out = py(g, IMDS_V2, &[]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["200 60", &format!("200 {id}"), "401", "403"],
        "IMDSv2: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The worker `worker` (of the supervisor `supervisor`) runs unprivileged: its own uid
/// and gid, no capability, `no_new_privs`, its own network namespace, an empty root, only its own descriptors; its
/// root is returned. Asked once it has answered a guest (it drops all before it accepts).
fn assert_unprivileged(worker: u32, supervisor: u32) -> std::path::PathBuf {
    assert_eq!(status_line(worker, "PPid"), supervisor.to_string());
    for key in ["Uid", "Gid"] {
        let ids = status_line(worker, key);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        assert_eq!(ids.len(), 4, "{key}: {ids:?}");
        assert!(ids.iter().all(|i| *i != "0"), "{key}: {ids:?}");
        assert!(ids.iter().all(|i| *i == ids[0]), "{key}: {ids:?}");
    }
    assert_eq!(status_line(worker, "Groups"), "", "no supplementary groups");
    for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_line(worker, key), "0000000000000000", "{key}");
    }
    assert_eq!(status_line(worker, "NoNewPrivs"), "1");
    assert_all_threads_filtered(worker);
    // A network namespace of its own: it can accept on the listener it was given, and
    // reach no network (nor make a socket that could pass for a guest's connection).
    let net = |pid: String| std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_ne!(net(worker.to_string()), net(supervisor.to_string()));
    let root = std::fs::read_link(format!("/proc/{worker}/root")).unwrap();
    assert_ne!(root, std::path::Path::new("/"));
    assert_eq!(
        std::fs::read_dir(&root).unwrap().count(),
        0,
        "{root:?} is empty"
    );
    // stdin, the supervisor's log (stdout, stderr), the listener and 16 channels: no
    // descriptor of the supervisor's besides.
    let fds: Vec<u32> = std::fs::read_dir(format!("/proc/{worker}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    assert!(fds.iter().all(|fd| *fd < 3 + 1 + 16), "open: {fds:?}");
    let fd = |n: u32| std::fs::read_link(format!("/proc/{worker}/fd/{n}")).unwrap();
    assert_eq!(fd(1), std::path::Path::new("/dev/null"));
    assert!(
        fd(2).to_string_lossy().starts_with("pipe:"),
        "its log goes through the supervisor: {:?}",
        fd(2)
    );
    root
}

/// The worker runs as its own user and group, with no capability in any set,
/// `no_new_privs`, an empty root, only its sockets open, as the supervisor's child; the
/// guest is answered through it (IMDSv1 and v2); killed, it is started again; it ends
/// with its instance.
#[test]
fn guest_http_is_parsed_by_an_unprivileged_worker() {
    let started = Instant::now();
    let Some(OneGuest {
        nss: _nss,
        h,
        lab,
        inst,
        g,
    }) = one_guest()
    else {
        return;
    };
    assert_answers(&g, &inst.id);

    let pattern = format!("__metadata-worker {}", inst.id);
    let worker = pid_of(&pattern).expect("the metadata worker runs");
    let supervisor = pid_of(&format!("__supervise {}", inst.id)).unwrap();
    let root = assert_unprivileged(worker, supervisor);

    // A worker that dies is replaced, and the guest is answered again.
    std::process::Command::new("kill")
        .args(["-9", &worker.to_string()])
        .status()
        .unwrap();
    let again = soon("a new worker", || pid_of(&pattern).filter(|p| *p != worker));
    soon("answered by the new worker", || {
        let (status, _, _) = imds(&g, "GET", "/latest/meta-data/instance-id", 2.0);
        (status == "200").then_some(())
    });
    assert_answers(&g, &inst.id);
    assert_eq!(pid_of(&pattern), Some(again), "one worker, the new one");
    assert_eq!(assert_unprivileged(again, supervisor), root);
    let log = std::fs::read_to_string(lab.run_dir(&inst.id).join("supervisor.log")).unwrap();
    assert!(
        log.contains("metadata: the worker ended (signal: 9"),
        "the supervisor logs the worker's end: {log}"
    );

    ec2(
        &lab,
        &h,
        "lab-1",
        &["terminate-instances", "--instance-ids", &inst.id],
    );
    soon("the worker ends with its instance", || {
        (!alive(&pattern)).then_some(())
    });
    soon("its root is removed with the instance", || {
        (!root.exists()).then_some(())
    });
    eprintln!(
        "took {:?} (uname -r: {})",
        started.elapsed(),
        sh(&["uname", "-r"]).trim()
    );
}

/// Every thread of `pid` runs under a seccomp filter (mode 2).
fn assert_all_threads_filtered(pid: u32) {
    let tasks: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|t| t.unwrap().path())
        .collect();
    assert!(tasks.len() > 1, "the worker's pool threads run: {tasks:?}");
    for t in tasks {
        let status = std::fs::read_to_string(t.join("status")).unwrap_or_default();
        let mode = status.lines().find_map(|l| l.strip_prefix("Seccomp:"));
        assert_eq!(mode.map(str::trim), Some("2"), "{t:?} is not filtered");
    }
}

/// A worker started by hand as a supervisor starts it: a TCP listener at fd 3 and 16
/// channels from fd 4 on, one per pool thread (the test holds their other ends),
/// chrooted to an empty directory, as an unprivileged uid.
struct HandStarted {
    child: std::process::Child,
    listener: std::net::SocketAddr,
    channels: Vec<std::os::fd::OwnedFd>,
    _root: tempfile::TempDir,
}

/// As many as a supervisor passes: glibc's malloc looks at the CPUs (an open(2)) only
/// once a process has more than 8 threads with arenas of their own.
const CHANNELS: usize = 16;

fn start_worker_by_hand(env: &[(&str, &str)]) -> Option<HandStarted> {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (chroot, a network namespace, setuid)");
        return None;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = listener.local_addr().unwrap();
    let (mut ours, mut theirs) = (Vec::new(), vec![OwnedFd::from(listener)]);
    for _ in 0..CHANNELS {
        let (a, b) = ec2lab::metadata::ipc::channel().unwrap();
        ours.push(a);
        theirs.push(b);
    }
    let mut fds = [-1; 1 + CHANNELS];
    for (slot, fd) in fds.iter_mut().zip(&theirs) {
        *slot = fd.as_raw_fd();
    }
    let root = tempfile::tempdir().unwrap();
    let mut cmd = ec2lab();
    cmd.args([
        "__metadata-worker",
        "i-0123456789abcdef0",
        "--uid",
        "1999000000",
    ])
    .args(["--gid", "1999000000", "--channels", &CHANNELS.to_string()])
    .arg("--root")
    .arg(root.path())
    .envs(env.iter().copied())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped());
    // SAFETY: place_fds makes only async-signal-safe calls (fcntl, dup2) on numbers
    // copied before the fork, and allocates nothing, as a supervisor's start does.
    unsafe {
        cmd.pre_exec(move || ec2lab::metadata::server::place_fds(&fds));
    }
    let child = cmd.spawn().unwrap();
    drop(theirs);
    Some(HandStarted {
        child,
        listener: at,
        channels: ours,
        _root: root,
    })
}

/// The worker's filter lets it do its whole job: start its pool, accept connections,
/// parse requests, pass each on with its connection, and write the supervisor's answers
/// back, here for 16 requests at once.
#[test]
fn a_filtered_worker_answers_requests() {
    use ec2lab::metadata::ipc::{self, Query, Reply};
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    let Some(mut w) = start_worker_by_hand(&[]) else {
        return;
    };
    let pid = w.child.id();
    soon("the pool's threads", || {
        let n = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.count();
        (n > CHANNELS).then_some(())
    });
    assert_all_threads_filtered(pid);
    let path = |i: usize| format!("/latest/meta-data/tags/instance/t{i}");
    let mut guests: Vec<_> = (0..CHANNELS)
        .map(|i| {
            // From addresses of their own: the service takes at most 4 at once from one.
            let mut g = connect_from(std::net::Ipv4Addr::new(127, 0, 0, 1 + i as u8), w.listener);
            write!(g, "GET {} HTTP/1.1\r\nHost: x\r\n\r\n", path(i)).unwrap();
            g.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            g
        })
        .collect();
    let mut answered = 0;
    while answered < CHANNELS {
        let mut polls: Vec<_> = w
            .channels
            .iter()
            .map(|c| nix::poll::PollFd::new(c.as_fd(), nix::poll::PollFlags::POLLIN))
            .collect();
        let n = nix::poll::poll(&mut polls, 10_000u16).unwrap();
        assert!(n > 0, "{answered} of {CHANNELS} queries came");
        let ready: Vec<usize> = (0..polls.len())
            .filter(|&i| polls[i].any().unwrap_or(false))
            .collect();
        drop(polls);
        for i in ready {
            let (msg, conn) = ipc::recv_with_fd(&w.channels[i], ipc::MAX_QUERY)
                .unwrap()
                .expect("a query from the worker");
            let q = Query::decode(&msg).expect("a well-formed query");
            assert_eq!(q.method, "GET");
            assert!(
                q.peer.is_loopback() && q.path.ends_with(&format!("t{}", q.peer.octets()[3] - 1))
            );
            assert!(conn.is_some(), "the guest's connection comes with it");
            let reply = Reply {
                seq: q.seq,
                status: 200,
                hop_limit: Some(1),
                token_ttl: None,
                body: format!("answer to {}", q.path).into_bytes(),
            };
            ipc::send(&w.channels[i], &reply.encode().unwrap()).unwrap();
            answered += 1;
        }
    }
    for (i, g) in guests.iter_mut().enumerate() {
        let mut answer = String::new();
        let _ = g.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.ends_with(&format!("answer to {}", path(i))),
            "{answer}"
        );
    }
    assert_eq!(w.child.try_wait().unwrap(), None, "still running");
    w.child.kill().unwrap();
    let mut err = String::new();
    w.child.wait().unwrap();
    w.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("seccomp filter on"), "{err}");
}

/// A TCP connection to `to` from the local address `from`.
fn connect_from(from: std::net::Ipv4Addr, to: std::net::SocketAddr) -> std::net::TcpStream {
    use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn};
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    let std::net::SocketAddr::V4(to) = to else {
        panic!("{to} is not IPv4")
    };
    bind(
        fd.as_raw_fd(),
        &SockaddrIn::from(std::net::SocketAddrV4::new(from, 0)),
    )
    .unwrap();
    connect(fd.as_raw_fd(), &SockaddrIn::from(to)).unwrap();
    std::net::TcpStream::from(fd)
}

/// A worker that makes a call outside its list dies of SIGSYS at once.
#[test]
fn a_forbidden_call_kills_the_worker() {
    use std::os::unix::process::ExitStatusExt;
    let hook = [("EC2LAB_TEST_SECCOMP_VIOLATION", "metadata-worker")];
    let Some(mut w) = start_worker_by_hand(&hook) else {
        return;
    };
    let end = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = w.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "the worker still runs");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(w.child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.signal(), Some(libc::SIGSYS), "{status:?}: {err}");
    assert!(!err.contains("was not stopped"), "{err}");
}
