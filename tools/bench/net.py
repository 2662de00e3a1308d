#!/usr/bin/env python3
"""Network benchmark for ec2lab guests: host <-> guest over virtio-net against a veth pair.

Measures, between the host and a peer:

  tcp in     MiB/s sending SIZE bytes host -> peer on one TCP connection (timed from
             the request line to the peer's "got them all" answer, so it includes the
             last round trip)
  tcp out    MiB/s receiving SIZE bytes peer -> host on one TCP connection (request
             line to EOF)
  tcp rr     latency of REQUESTS round trips of a small message (--rr-bytes, default 64)
             on one persistent connection with TCP_NODELAY: median and p99, ms
  http       latency of REQUESTS HTTP/1.0 GETs, each on a new connection (connect,
             request, 13-byte body, close): median and p99, ms

with two peers:

  guest  an ec2lab guest: `ec2lab vmm --net tap=TAP --append ip=...`, a virtio-net
         interface on a host tap with a /30 between host and guest (10.254.N.0/30 by
         default, N = --subnet); no control plane, bridge or firewall involved
  veth   the baseline: a network namespace joined to the host by a veth pair
         (10.254.N+1.0/30)

and reports guest/veth for each measure: the cost of the VM (VMM, virtio-net, tap and
guest kernel) over plain kernel networking between two namespaces.

Both peers run the same server, tools/bench/netbench.c (built static with gcc; one
connection at a time, no fork). The client is this script, in the host's root
namespace, for both peers. The guest gets the server through a copy of the root image:
/usr/bin/netbench and a boot hook /etc/ec2lab/rc.d/50-netbench.sh written with
e2fsprogs' `debugfs -w`; the image's rcS sources the hook, which starts the server in
the background, and the server prints NETBENCH-LISTENING on the console. The guest is
stopped (`ec2lab vmm-ctl stop`) when the measures are done. Only one guest runs.

Traffic goes only to the guest's address on the tap and to this script's own namespace.
The tap, the veth pair, the namespace and every process started here are removed at the
end, also on Ctrl-C and on errors; the server also ends by itself (alarm) after a
lifetime a little longer than --timeout.

Results are printed as a markdown table and appended, as a dated section with host facts
and the command line, to docs/benchmarks.md (--output to change, --output - to only
print).

Python 3 standard library only. Needs root (ip tuntap, ip netns), /dev/kvm, /dev/net/tun,
gcc with a static libc (Debian: libc6-dev), debugfs (e2fsprogs) and iproute2.
"""

import argparse
import datetime
import math
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402  (the boot benchmark: host facts, process helpers, results writer)
import storage  # noqa: E402  (the storage benchmark: other_vmms, fmt_ratio)

REPO = boot.REPO
HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = ("guest", "veth")
LISTENING = re.compile(rb"NETBENCH-LISTENING port=(\d+)")
SINK_REPLY = re.compile(rb"NETBENCH sink bytes=(\d+) secs=([0-9.]+)")
HTTP_REQUEST = b"GET / HTTP/1.0\r\nHost: netbench\r\nUser-Agent: ec2lab-net.py\r\n\r\n"
HTTP_BODY = b"hello, world\n"
CHUNK = 256 * 1024
WARMUP = 5

EXAMPLES = """\
examples:
  # defaults (sized for a host whose guest kernel is emulated): 8 MiB each way,
  # 1 transfer per direction with the guest (5 with the veth), 200 round trips and
  # 200 HTTP requests, one guest boot; about 2.5 minutes on kvm_pvm

  python3 tools/bench/net.py --ec2lab /tmp/target-bench/release/ec2lab

  # on hardware KVM: 1 GiB each way, 5 transfers, 5000 requests
  python3 tools/bench/net.py --mib 1024 --runs 5 --veth-runs 5 --requests 5000

  # only the veth baseline (no guest), print only
  python3 tools/bench/net.py --baseline-only --output -

  # another address block (10.254.40.0/30 for the tap, 10.254.41.0/30 for the veth)
  python3 tools/bench/net.py --subnet 40

reading the numbers:
  guest/veth is the share of the baseline the guest reaches: for MiB/s below 1 means
  the guest is slower, for latencies above 1 means the guest is slower. On a host whose
  KVM is the software-assisted nested kvm_pvm (see /sys/module/kvm_pvm), every packet
  the guest sends or receives runs emulated guest-kernel code (about a microsecond per
  instruction: driver, TCP/IP stack, interrupts, system calls), so the guest side is
  slowed by that, not by the VMM, and the ratios say little about hardware KVM.

  ec2lab's tap has its offloads off (no TSO/checksum offload; every frame is at most
  1514 bytes), while the veth keeps the kernel's defaults (large segments). The client
  is Python on both sides: on the baseline its own per-request cost is a good part of
  the latency.
"""


class BenchError(Exception):
    """A failure worth a clear one-line message rather than a traceback."""


# --------------------------------------------------------------------------- host set-up

# Undo actions for what this script created (taps, veths, namespaces), run last-first.
CLEANUP = []


def run(argv, check=True, **kw):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise BenchError(f"`{shlex.join(argv)}` failed (exit {r.returncode}): "
                         f"{(r.stderr or r.stdout).strip()}")
    return r


def cleanup():
    while CLEANUP:
        what, argv = CLEANUP.pop()
        r = run(argv, check=False)
        if r.returncode != 0:
            print(f"warning: removing {what} failed: {r.stderr.strip()}", file=sys.stderr)


def link_exists(name, netns=None):
    argv = ["ip"] + (["-n", netns] if netns else []) + ["link", "show", name]
    return run(argv, check=False).returncode == 0


def check_free(args):
    """Refuses to touch names or address blocks that are already in use."""
    for name in (args.tap, args.veth_host):
        if link_exists(name):
            raise BenchError(f"a network interface {name} exists already (left over from an "
                             f"earlier run? `ip link del {name}`); or pick --subnet")
    if args.netns in run(["ip", "netns", "list"]).stdout.split():
        raise BenchError(f"network namespace {args.netns} exists already (left over from an "
                         f"earlier run? `ip netns del {args.netns}`); or pick --subnet")
    routes = run(["ip", "-4", "route", "show", "table", "all"]).stdout
    addrs = run(["ip", "-4", "-o", "addr", "show"]).stdout
    for net in (args.tap_net, args.veth_net):
        prefix = net.rsplit(".", 1)[0] + "."
        if prefix in routes or prefix in addrs:
            raise BenchError(f"{prefix}0/24 is already in use on this host; pick another --subnet")


def setup_tap(args):
    run(["ip", "tuntap", "add", args.tap, "mode", "tap", "vnet_hdr"])
    CLEANUP.append((f"tap {args.tap}", ["ip", "link", "del", args.tap]))
    run(["ip", "addr", "add", f"{args.tap_host}/30", "dev", args.tap])
    run(["ip", "link", "set", args.tap, "up"])


def setup_veth(args):
    run(["ip", "netns", "add", args.netns])
    CLEANUP.append((f"namespace {args.netns}", ["ip", "netns", "del", args.netns]))
    run(["ip", "link", "add", args.veth_host, "type", "veth", "peer", "name", args.veth_peer])
    CLEANUP.append((f"veth {args.veth_host}", ["ip", "link", "del", args.veth_host]))
    run(["ip", "link", "set", args.veth_peer, "netns", args.netns])
    run(["ip", "addr", "add", f"{args.veth_hostaddr}/30", "dev", args.veth_host])
    run(["ip", "link", "set", args.veth_host, "up"])
    run(["ip", "-n", args.netns, "link", "set", "lo", "up"])
    run(["ip", "-n", args.netns, "addr", "add", f"{args.veth_peeraddr}/30", "dev", args.veth_peer])
    run(["ip", "-n", args.netns, "link", "set", args.veth_peer, "up"])


def build_netbench(work):
    src = os.path.join(HERE, "netbench.c")
    exe = os.path.join(work, "netbench")
    r = run(["nice", "-n", "10", "gcc", "-O2", "-static", "-o", exe, src], check=False)
    if r.returncode != 0:
        raise BenchError(f"building netbench failed (gcc -O2 -static; Debian needs libc6-dev):\n"
                         f"{r.stderr.strip()}")
    return exe


def hook_script(args):
    return f"""\
# Written by tools/bench/net.py: start the netbench server in the background.
/usr/bin/netbench serve {args.port} {args.lifetime} >/dev/console 2>&1 &
"""


def prepare_rootfs(args, work, netbench):
    """A copy of the root image with /usr/bin/netbench and the boot hook, via debugfs -w."""
    image = os.path.join(work, "rootfs-netbench.ext4")
    shutil.copyfile(args.rootfs, image)
    hook = os.path.join(work, "50-netbench.sh")
    with open(hook, "w") as f:
        f.write(hook_script(args))
    cmds = os.path.join(work, "debugfs.cmds")
    with open(cmds, "w") as f:
        f.write("\n".join([
            "cd /usr/bin", "rm netbench", f"write {netbench} netbench",
            "cd /etc/ec2lab/rc.d", "rm 50-netbench.sh", f"write {hook} 50-netbench.sh", ""]))
    # `rm` of a file that is not there only prints an error; debugfs still exits 0.
    r = run(["debugfs", "-w", "-f", cmds, image], check=False)
    if r.returncode != 0:
        raise BenchError(f"debugfs -w failed on {image}:\n{r.stderr.strip()}")
    for path, mode in (("/usr/bin/netbench", "0100755"),
                       ("/etc/ec2lab/rc.d/50-netbench.sh", "0100644")):
        for field, value in (("mode", mode), ("uid", "0"), ("gid", "0")):
            r = run(["debugfs", "-w", "-R", f"sif {path} {field} {value}", image], check=False)
            if r.returncode != 0 or "sif:" in r.stderr:
                raise BenchError(f"debugfs sif {path} {field} failed: {r.stderr.strip()}")
    r = run(["debugfs", "-R", "stat /usr/bin/netbench", image], check=False)
    size = re.search(r"Size: (\d+)", r.stdout)
    if not size or int(size.group(1)) != os.path.getsize(netbench):
        raise BenchError(f"/usr/bin/netbench did not land in {image}:\n{r.stdout}{r.stderr}")
    r = run(["debugfs", "-R", "ls /etc/ec2lab/rc.d", image], check=False)
    if "50-netbench.sh" not in r.stdout:
        raise BenchError(f"the boot hook did not land in {image}: {r.stdout}{r.stderr}")
    return image


# --------------------------------------------------------------------------- client


def connect(addr, port, timeout):
    s = socket.create_connection((addr, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exactly(s, n):
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = s.recv_into(view[got:])
        if k == 0:
            raise BenchError(f"the peer closed the connection after {got} of {n} bytes")
        got += k
    return bytes(buf)


def recv_all(s):
    parts = []
    while True:
        data = s.recv(65536)
        if not data:
            return b"".join(parts)
        parts.append(data)


def tcp_in(addr, port, nbytes, timeout):
    """Host -> peer: (host seconds, peer seconds) for nbytes."""
    payload = memoryview(b"\x5a" * CHUNK)
    with connect(addr, port, timeout) as s:
        t0 = time.perf_counter()
        s.sendall(b"sink\n")
        left = nbytes
        while left:
            n = min(left, CHUNK)
            s.sendall(payload[:n])
            left -= n
        s.shutdown(socket.SHUT_WR)
        reply = recv_all(s)
        secs = time.perf_counter() - t0
    m = SINK_REPLY.search(reply)
    if not m:
        raise BenchError(f"tcp in to {addr}: no sink answer (got {reply[:200]!r})")
    if int(m.group(1)) != nbytes:
        raise BenchError(f"tcp in to {addr}: the peer counted {m.group(1).decode()} of {nbytes} bytes")
    return secs, float(m.group(2))


def tcp_out(addr, port, nbytes, timeout):
    """Peer -> host: host seconds for nbytes."""
    buf = bytearray(CHUNK)
    with connect(addr, port, timeout) as s:
        t0 = time.perf_counter()
        s.sendall(f"source {nbytes}\n".encode())
        got = 0
        while True:
            k = s.recv_into(buf)
            if k == 0:
                break
            got += k
        secs = time.perf_counter() - t0
    if got != nbytes:
        raise BenchError(f"tcp out from {addr}: got {got} of {nbytes} bytes")
    return secs


def tcp_rr(addr, port, count, size, timeout):
    """Round-trip times (s) of count size-byte messages on one connection."""
    msg = bytes((i % 251) + 1 for i in range(size))
    times = []
    with connect(addr, port, timeout) as s:
        s.sendall(b"echo\n")
        for i in range(WARMUP + count):
            t0 = time.perf_counter()
            s.sendall(msg)
            back = recv_exactly(s, size)
            dt = time.perf_counter() - t0
            if back != msg:
                raise BenchError(f"tcp rr with {addr}: the echo differs from the request")
            if i >= WARMUP:
                times.append(dt)
    return times


def http_get(addr, port, count, timeout):
    """Times (s) of count HTTP/1.0 GETs, each on a new connection."""
    times = []
    for i in range(WARMUP + count):
        t0 = time.perf_counter()
        with socket.create_connection((addr, port), timeout=timeout) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(HTTP_REQUEST)
            reply = recv_all(s)
        dt = time.perf_counter() - t0
        if not (reply.startswith(b"HTTP/1.0 200 ") and reply.endswith(b"\r\n\r\n" + HTTP_BODY)):
            raise BenchError(f"http to {addr}: unexpected reply {reply[:200]!r}")
        if i >= WARMUP:
            times.append(dt)
    return times


def wait_connectable(addr, port, timeout):
    """Retries a connection (an HTTP request) until the server answers."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        try:
            http_get(addr, port, 0, 10)
            return
        except (OSError, BenchError) as e:
            last = e
            time.sleep(0.5)
    raise BenchError(f"the netbench server at {addr}:{port} did not answer within {timeout:.0f} s "
                     f"({last})")


def measure(args, peer, addr):
    """All four measures against one peer; returns a result dict."""
    res = {"in": [], "in_peer": [], "out": []}
    t = args.io_timeout
    runs = args.runs if peer == "guest" else args.veth_runs
    print(f"[{peer}] warming up ...", file=sys.stderr)
    wait_connectable(addr, args.port, 60)
    for n in range(1, runs + 1):
        secs, peer_secs = tcp_in(addr, args.port, args.bytes, t)
        res["in"].append(secs)
        res["in_peer"].append(peer_secs)
        print(f"[{peer}] tcp in  {n}/{runs}: {args.mib} MiB in {secs:.3f} s = "
              f"{args.mib / secs:.2f} MiB/s", file=sys.stderr)
        secs = tcp_out(addr, args.port, args.bytes, t)
        res["out"].append(secs)
        print(f"[{peer}] tcp out {n}/{runs}: {args.mib} MiB in {secs:.3f} s = "
              f"{args.mib / secs:.2f} MiB/s", file=sys.stderr)
    t0 = time.monotonic()
    res["rr"] = tcp_rr(addr, args.port, args.requests, args.rr_bytes, t)
    print(f"[{peer}] tcp rr: {args.requests} round trips in {time.monotonic() - t0:.2f} s, "
          f"median {statistics.median(res['rr']) * 1e3:.3f} ms", file=sys.stderr)
    t0 = time.monotonic()
    res["http"] = http_get(addr, args.port, args.requests, t)
    print(f"[{peer}] http: {args.requests} requests in {time.monotonic() - t0:.2f} s, "
          f"median {statistics.median(res['http']) * 1e3:.3f} ms", file=sys.stderr)
    return res


# --------------------------------------------------------------------------- peers


class NetEc2lab(boot.Ec2lab):
    """boot.Ec2lab with a virtio-net interface on the tap and the guest's address."""

    def launch(self, n):
        a = self.args
        disk = os.path.join(self.work, f"guest-{n}-root.ext4")
        shutil.copyfile(a.template, disk)
        console = os.path.join(self.work, f"guest-{n}.console")
        sock = os.path.join(self.work, f"guest-{n}.sock")
        log = os.path.join(self.work, f"guest-{n}.log")
        open(console, "wb").close()
        argv = [self.binary, "vmm", "--kernel", a.kernel, "--disk", disk,
                "--mem-mib", str(a.mem_mib), "--vcpus", "1", "--net", f"tap={a.tap}",
                "--append", a.ip_switch, "--serial-out", console, "--api-sock", sock]
        with open(log, "wb") as lf:
            proc = self.start(argv, lf, lf)
        return proc, console, {"sock": sock, "log": log, "disk": disk}


def run_guest(args, work):
    vmm = NetEc2lab(args.ec2lab, args, work)
    proc, console, state = vmm.launch(1)
    t0 = time.monotonic()
    seen = {}
    try:
        while True:
            with open(console, "rb") as f:
                text = f.read()
            for marker in (b"Run /", b"EC2LAB-GUEST-READY"):
                if marker in text and marker not in seen:
                    seen[marker] = time.monotonic() - t0
            if LISTENING.search(text):
                seen[b"LISTENING"] = time.monotonic() - t0
                break
            if proc.poll() is not None:
                raise BenchError(f"the VMM exited with code {proc.returncode} before the server "
                                 f"listened.\n  console ({console}):\n{boot.last_lines(console)}\n"
                                 f"  VMM log:\n{boot.last_lines(state['log'], 5)}")
            if time.monotonic() - t0 > args.timeout:
                raise BenchError(f"no NETBENCH-LISTENING on the guest console within "
                                 f"{args.timeout:.0f} s (--timeout).\n  console ({console}):\n"
                                 f"{boot.last_lines(console)}")
            time.sleep(0.2)
        print(f"[guest] server listening {seen[b'LISTENING']:.1f} s after VMM start "
              f"(init at {seen.get(b'Run /', float('nan')):.1f} s)", file=sys.stderr)
        res = measure(args, "guest", args.tap_guest)
        with open(console, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        errors = [l.strip() for l in text.splitlines() if "NETBENCH-ERROR" in l]
        cmdline = re.search(r"Command line: (.*)", text)
        res.update(init_s=seen.get(b"Run /"), listening_s=seen[b"LISTENING"], errors=errors,
                   cmdline=cmdline.group(1).strip() if cmdline else None,
                   version=vmm.describe())
        return res
    finally:
        vmm.stop(proc, state)
        if not args.keep:
            try:
                os.unlink(state["disk"])
            except OSError:
                pass


def run_veth(args, work, netbench):
    log = os.path.join(work, "veth-server.log")
    argv = ["ip", "netns", "exec", args.netns, netbench, "serve", str(args.port),
            str(args.lifetime)]
    with open(log, "wb") as lf:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                                start_new_session=True)
    boot.LIVE[proc.pid] = proc
    try:
        t0 = time.monotonic()
        while True:
            with open(log, "rb") as f:
                if LISTENING.search(f.read()):
                    break
            if proc.poll() is not None or time.monotonic() - t0 > 10:
                raise BenchError(f"the netbench server in {args.netns} did not start:\n"
                                 f"{boot.last_lines(log, 5)}")
            time.sleep(0.05)
        res = measure(args, "veth", args.veth_peeraddr)
        with open(log, "rb") as f:
            res["errors"] = [l.strip() for l in f.read().decode("utf-8", "replace").splitlines()
                             if "NETBENCH-ERROR" in l]
        return res
    finally:
        boot.kill_tree(proc)


# --------------------------------------------------------------------------- report


def p99(values):
    """Nearest-rank 99th percentile."""
    v = sorted(values)
    return v[max(0, math.ceil(0.99 * len(v)) - 1)]


def figures(args, res):
    """{measure: value} for one peer: MiB/s medians and latency ms."""
    mib = args.mib
    return {
        "in": mib / statistics.median(res["in"]),
        "out": mib / statistics.median(res["out"]),
        "rr_med": statistics.median(res["rr"]) * 1e3,
        "rr_p99": p99(res["rr"]) * 1e3,
        "http_med": statistics.median(res["http"]) * 1e3,
        "http_p99": p99(res["http"]) * 1e3,
    }


ROWS = (  # (key, label, format, higher is better)
    ("in", "TCP host → peer (MiB/s)", "{:.2f}", True),
    ("out", "TCP peer → host (MiB/s)", "{:.2f}", True),
    ("rr_med", "TCP round trip, median (ms)", "{:.3f}", False),
    ("rr_p99", "TCP round trip, p99 (ms)", "{:.3f}", False),
    ("http_med", "HTTP GET, new connection, median (ms)", "{:.3f}", False),
    ("http_p99", "HTTP GET, new connection, p99 (ms)", "{:.3f}", False),
)


def slowdown(g, v, higher_better):
    if not g or not v:
        return "n/a"
    x = v / g if higher_better else g / v
    return f"{x:.0f}×" if x >= 100 else f"{x:.3g}×"


def results_table(args, res):
    fig = {p: figures(args, res[p]) for p in PEERS if p in res}
    out = ["| measure | guest (virtio-net, tap) | veth (netns) | guest/veth | guest slower by |",
           "|---|---|---|---|---|"]
    for key, label, f, hb in ROWS:
        v = fig["veth"][key]
        if "guest" in fig:
            g = fig["guest"][key]
            out.append(f"| {label} | {f.format(g)} | {f.format(v)} | "
                       f"**{storage.fmt_ratio(g, v)}** | {slowdown(g, v, hb)} |")
        else:
            out.append(f"| {label} | - | {f.format(v)} | - | - |")
    return "\n".join(out)


def per_run(args, res):
    out = ["| peer | transfer | host → peer (s) | peer's own clock (s) | peer → host (s) |",
           "|---|---|---|---|---|"]
    for peer in PEERS:
        if peer not in res:
            continue
        r = res[peer]
        for i in range(len(r["in"])):
            out.append(f"| {peer} | {i + 1} | {r['in'][i]:.4f} | {r['in_peer'][i]:.4f} | "
                       f"{r['out'][i]:.4f} |")
    return "\n".join(out)


def latency_spread(res):
    out = []
    for peer in PEERS:
        if peer not in res:
            continue
        for key, label in (("rr", "round trip"), ("http", "HTTP GET")):
            v = [x * 1e3 for x in res[peer][key]]
            out.append(f"- {peer}, {label} (ms): min {min(v):.3f}, median {statistics.median(v):.3f}, "
                       f"mean {statistics.mean(v):.3f}, p99 {p99(v):.3f}, max {max(v):.3f} "
                       f"({len(v)} requests)")
    return "\n".join(out)


def report(args, res, started):
    facts = boot.host_facts()
    cmd = "python3 tools/bench/net.py " + shlex.join(sys.argv[1:])
    lines = [f"## Network benchmark, {started:%Y-%m-%d %H:%M} UTC", ""]
    lines += [f"- {k}: {v}" for k, v in facts]
    lines.append(f"- Other VMM processes running at start (not started by this script): "
                 f"{', '.join(args.others) if args.others else 'none'}")
    if "guest" in res:
        g = res["guest"]
        lines.append(f"- ec2lab: {g['version']} (`{args.ec2lab}`)")
        lines.append(f"- Guest: `{args.kernel}`, copy of `{args.rootfs}` with netbench and a boot "
                     f"hook added, {args.mem_mib} MiB, 1 vCPU; virtio-net on tap `{args.tap}` "
                     f"(host {args.tap_host}/30, guest {args.tap_guest}); the server listened "
                     f"{g['listening_s']:.1f} s after VMM start")
        if g["cmdline"]:
            lines.append(f"- Guest kernel command line: `{g['cmdline']}`")
    lines.append(f"- Baseline: namespace `{args.netns}` on a veth pair (host {args.veth_hostaddr}/30, "
                 f"namespace {args.veth_peeraddr}), kernel default offloads")
    lines.append(f"- Workload: {args.mib} MiB per transfer each way, {args.runs} transfer(s) per "
                 f"direction with the guest and {args.veth_runs} with the veth (medians), "
                 f"{args.requests} round trips of {args.rr_bytes} bytes on one connection, "
                 f"{args.requests} HTTP/1.0 GETs on new connections (after {WARMUP} warm-up "
                 "requests each); server tools/bench/netbench.c on both peers, client this "
                 "script (Python) in the host's root namespace")
    lines += ["", "Command:", "", "```sh", cmd, "```", "", results_table(args, res), ""]
    lines += ["guest/veth: for MiB/s the share of the baseline the guest reaches (below 1: "
              "slower); for latencies the guest's time over the baseline's (above 1: slower).", ""]
    lines += ["Transfers, every run (host clock; the peer's clock for host → peer from its first "
              "data byte to EOF):", "", per_run(args, res), "",
              "Latency spread:", "", latency_spread(res), ""]
    errors = [f"{p}: {e}" for p in PEERS if p in res for e in res[p]["errors"]]
    if errors:
        lines += ["Server errors:", ""] + [f"- `{e}`" for e in errors] + [""]
    if os.path.exists("/sys/module/kvm_pvm"):
        lines += ["This host's KVM is kvm_pvm (software-assisted nested KVM): guest kernel code is "
                  "emulated at about a microsecond per instruction, so every packet the guest "
                  "handles (virtio-net driver, TCP/IP, interrupts, system calls) is slow for "
                  "reasons that have nothing to do with the VMM. The absolute guest numbers and "
                  "the ratios say little about hardware KVM; measure there, with larger sizes "
                  "(`--mib`, `--requests`), for the VMM's own overhead.", ""]
    lines += ["ec2lab's tap runs with offloads off (every frame at most 1514 bytes through the "
              "guest's stack), the veth with the kernel's default offloads. The client is Python "
              "for both peers, so on the baseline its own per-request cost is a good part of the "
              "latency.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args():
    p = argparse.ArgumentParser(
        prog="tools/bench/net.py",
        description="Measure TCP throughput both ways and request latency (TCP round trips, "
                    "HTTP GETs) between the host and an ec2lab guest over virtio-net on a tap, and "
                    "the same between the host and a network namespace over a veth pair, and "
                    "report guest/veth.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    boot.add_guest_args(p, rootfs_help="root image to copy and add netbench to (default "
                                       "guest-images/out/rootfs.ext4; its /etc/init.d/rcS must "
                                       "source /etc/ec2lab/rc.d/*.sh)",
                        ec2lab_help="ec2lab binary with `vmm --net` (default "
                                    "target/release/ec2lab; build it with `cargo build --release`)")
    p.add_argument("--mib", type=int, default=8,
                   help="MiB per transfer, each way (default 8, about 25 s in and 45 s out on "
                        "kvm_pvm; 1024 or more on hardware KVM)")
    p.add_argument("--runs", type=int, default=1,
                   help="guest transfers per direction, median reported (default 1)")
    p.add_argument("--veth-runs", type=int, default=5,
                   help="baseline transfers per direction, median reported (default 5; they "
                        "take milliseconds)")
    p.add_argument("--requests", type=int, default=200,
                   help="TCP round trips and HTTP requests per peer (default 200)")
    p.add_argument("--rr-bytes", type=int, default=64,
                   help="size of each round-trip message (default 64)")
    p.add_argument("--port", type=int, default=5201, help="server port (default 5201)")
    p.add_argument("--subnet", type=int, default=250,
                   help="N in 10.254.N.0/30 for the tap; the veth gets N+1 (default 250)")
    p.add_argument("--baseline-only", action="store_true",
                   help="measure the veth baseline only (no guest; no ratios)")
    p.add_argument("--timeout", type=float, default=300,
                   help="seconds from VMM start until the guest's server listens (default 300)")
    p.add_argument("--io-timeout", type=float, default=120,
                   help="seconds any single socket operation may block (default 120)")
    p.add_argument("--output", default=os.path.join(REPO, "docs", "benchmarks.md"),
                   help="markdown file to append the results to (default docs/benchmarks.md; "
                        "'-' to only print)")
    p.add_argument("--workdir", help="where the root image copy, console and logs go "
                                     "(default: a new directory under /var/tmp, removed at the end)")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory (console, VMM log, prepared root image)")
    args = p.parse_args()
    for name in ("mib", "runs", "veth_runs", "requests", "rr_bytes"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 <= args.subnet <= 254:
        p.error("--subnet must be 0-254 (the veth uses N+1)")
    if not 1 <= args.port <= 65535:
        p.error("--port must be 1-65535")
    args.bytes = args.mib << 20
    n = args.subnet
    args.tap_net, args.veth_net = f"10.254.{n}.0", f"10.254.{n + 1}.0"
    args.tap_host, args.tap_guest = f"10.254.{n}.1", f"10.254.{n}.2"
    args.veth_hostaddr, args.veth_peeraddr = f"10.254.{n + 1}.1", f"10.254.{n + 1}.2"
    args.ip_switch = f"ip={args.tap_guest}::{args.tap_host}:255.255.255.252::eth0:off"
    args.tap, args.veth_host, args.veth_peer = f"ec2lnb{n}t", f"ec2lnb{n}h", f"ec2lnb{n}n"
    args.netns = f"ec2lab-netbench-{n}"
    # The servers end by themselves a while after the longest the run could take.
    args.lifetime = int(args.timeout + 4 * args.io_timeout + 600)
    for attr in ("ec2lab", "kernel", "rootfs"):
        setattr(args, attr, os.path.abspath(getattr(args, attr)))
    return args


def check_inputs(args):
    for tool in ("gcc", "debugfs", "ip"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} is not installed (Debian: gcc libc6-dev e2fsprogs iproute2)")
    if os.geteuid() != 0:
        raise BenchError("needs root (taps, veth pairs and network namespaces)")
    if args.baseline_only:
        return
    for what, path in (("guest kernel", args.kernel), ("root image", args.rootfs)):
        if not os.path.isfile(path):
            raise BenchError(f"{what} {path} is missing: run guest-images/build.sh "
                             "(or pass --kernel/--rootfs)")
    if not (os.path.isfile(args.ec2lab) and os.access(args.ec2lab, os.X_OK)):
        raise BenchError(f"ec2lab binary {args.ec2lab} is missing: run `cargo build --release` "
                         "(or pass --ec2lab PATH)")
    if "--net" not in run([args.ec2lab, "vmm", "--help"], check=False).stdout:
        raise BenchError(f"{args.ec2lab} has no `vmm --net`: rebuild it (cargo build --release)")
    for dev in ("/dev/kvm", "/dev/net/tun"):
        if not os.access(dev, os.R_OK | os.W_OK):
            raise BenchError(f"{dev} is missing or not readable and writable by this user")


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, boot.on_sigterm)
    started = datetime.datetime.now(datetime.timezone.utc)
    args.others = storage.other_vmms()
    work = None
    try:
        check_inputs(args)
        check_free(args)
        work = args.workdir or tempfile.mkdtemp(prefix="ec2lab-net-", dir="/var/tmp")
        os.makedirs(work, exist_ok=True)
        work = os.path.abspath(work)
        print(f"work directory: {work}", file=sys.stderr)
        netbench = build_netbench(work)
        res = {}
        setup_veth(args)
        res["veth"] = run_veth(args, work, netbench)
        if not args.baseline_only:
            args.template = prepare_rootfs(args, work, netbench)
            setup_tap(args)
            print("[guest] booting ...", file=sys.stderr)
            res["guest"] = run_guest(args, work)
        text = report(args, res, started)
        print(text)
        if args.output != "-":
            boot.append_results(args.output, text)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except BenchError as e:
        print(f"\nnet.py: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # a socket error or time-out while measuring
        print(f"\nnet.py: error: {e}", file=sys.stderr)
        return 1
    finally:
        boot.kill_leftovers()
        cleanup()
        if work and not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
        elif work:
            print(f"kept {work}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
