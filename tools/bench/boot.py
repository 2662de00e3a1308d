#!/usr/bin/env python3
"""Boot benchmark for ec2lab's VMM (and, side by side, another VMM).

Boots the guest image that guest-images/build.sh makes N times and reports, per VMM:

  boot      wall time from starting the VMM process to the init marker
            (EC2LAB-GUEST-READY on the serial console; the console file is polled
            every 20 ms, so the figure has up to 20 ms of polling slack)
  set-up    time the VMM spent before the first vCPU ran
            - ec2lab: `setup_ms` from `ec2lab vmm-ctl status`
            - firecracker: process start -> its "Successfully started microvm" log line
  overhead  the VMM process's resident memory BEYOND guest RAM, from /proc/PID/smaps
            taken at the marker: the sum of Rss over all mappings except the guest-memory
            mapping(s), i.e. the anonymous mapping(s) whose size is the configured guest
            memory (--mem-mib). Total RSS is reported for context, and the overhead's
            Pss too (shared pages divided among the processes mapping them: the
            C library's and, for ec2lab, the binary's pages the control plane shares).

Every boot uses a fresh copy of the root image (the guest writes to it). After the
marker the VM is stopped (ec2lab: `vmm-ctl stop`; others: SIGKILL) before the next
boot starts: only one guest runs at a time. With --other-vmm, the two VMMs are
interleaved run by run (A B A B ...) so machine noise hits both alike, and the
ratios ec2lab/other are printed for median boot time and median memory overhead.

Results are printed as a markdown table and appended, as a dated section with host
facts and the command line, to docs/benchmarks.md (--output to change, --output -
to only print).

Python 3 standard library only. Needs /dev/kvm; run as a user that may open it.
"""

import argparse
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

MARKER = b"EC2LAB-GUEST-READY"
POLL_S = 0.020
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EXAMPLES = """\
examples:
  # ec2lab alone, 3 boots (build first: cargo build --release)
  python3 tools/bench/boot.py --runs 3

  # a binary built elsewhere, ec2lab vs Firecracker, interleaved, 5 boots each
  python3 tools/bench/boot.py --ec2lab /tmp/target/release/ec2lab \\
      --other-vmm /path/to/firecracker --other-kind firecracker

  # print only, do not touch docs/benchmarks.md
  python3 tools/bench/boot.py --runs 1 --output -

reading the numbers:
  On a host whose KVM is the software-assisted nested kvm_pvm (see
  /sys/module/kvm_pvm), guest kernel code is emulated and a boot takes tens of
  seconds; the VMM hardly matters to boot time there, while set-up time and memory
  overhead are the VMM's own. On hardware KVM the same boot is well under a second.

  The other VMM gets the same kernel, a fresh copy of the same root image, the same
  guest memory and vCPUs (--vcpus) and the same kernel command line ec2lab composes on this host
  (guest-images/kernel/base-cmdline.txt, root=/dev/vda rw, and on kvm_pvm hosts
  guest-images/kernel/pvm-cmdline.txt; '#' lines dropped). Each VMM adds its own
  virtio-mmio device entries.
"""


class BenchError(Exception):
    """A failure worth a clear one-line message rather than a traceback."""


# --------------------------------------------------------------------------- helpers

# Processes this script started and has not reaped yet: killed on Ctrl-C / errors.
LIVE = {}


def kill_tree(proc):
    """Kills a VMM we started (its own session/process group) and reaps it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:
            proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    LIVE.pop(proc.pid, None)


def kill_leftovers():
    for proc in list(LIVE.values()):
        kill_tree(proc)


def on_sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def kvm_flavor():
    if os.environ.get("EC2LAB_KVM_FLAVOR") in ("pvm", "hardware"):
        return os.environ["EC2LAB_KVM_FLAVOR"]
    return "pvm" if os.path.exists("/sys/module/kvm_pvm") else "hardware"


def switches(path):
    """A guest-images/kernel/*-cmdline.txt file without its '#' comment lines."""
    with open(path) as f:
        lines = [l.strip() for l in f]
    return " ".join(l for l in lines if l and not l.startswith("#"))


def ec2lab_cmdline(flavor):
    """The kernel command line ec2lab composes for a root disk (src/vmm/config.rs)."""
    kdir = os.path.join(REPO, "guest-images", "kernel")
    parts = [switches(os.path.join(kdir, "base-cmdline.txt")), "root=/dev/vda rw"]
    if flavor == "pvm":
        parts.append(switches(os.path.join(kdir, "pvm-cmdline.txt")))
    return " ".join(p for p in parts if p)


def parse_smaps(pid):
    """[(start, end, name, size_kib, rss_kib, pss_kib)] from /proc/PID/smaps."""
    maps = []
    header = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$")
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = header.match(line)
            if m:
                maps.append([int(m.group(1), 16), int(m.group(2), 16), m.group(3).strip(), 0, 0, 0])
            elif line.startswith("Size:"):
                maps[-1][3] = int(line.split()[1])
            elif line.startswith("Rss:"):
                maps[-1][4] = int(line.split()[1])
            elif line.startswith("Pss:"):
                maps[-1][5] = int(line.split()[1])
    return [tuple(m) for m in maps]


def is_anon(name):
    return name == "" or name.startswith("[anon")


def guest_memory(maps, mem_kib):
    """Indices of the mapping(s) holding guest RAM, and how they were found.

    1. anonymous mappings whose size equals the guest memory;
    2. else a run of adjacent anonymous mappings totalling it (one region split by
       madvise/mprotect);
    3. else a set of large anonymous mappings totalling it (regions around a hole).
    """
    exact = [i for i, m in enumerate(maps) if is_anon(m[2]) and m[3] == mem_kib]
    if exact:
        # Several equal-sized candidates: the one with most pages in is the guest's.
        best = max(exact, key=lambda i: maps[i][4])
        return [best], "one mapping of exactly the guest size"
    for i in range(len(maps)):
        total, j = 0, i
        while j < len(maps) and is_anon(maps[j][2]) and (j == i or maps[j][0] == maps[j - 1][1]):
            total += maps[j][3]
            if total == mem_kib:
                return list(range(i, j + 1)), "adjacent anonymous mappings totalling the guest size"
            if total > mem_kib:
                break
            j += 1
    big = sorted((i for i, m in enumerate(maps) if is_anon(m[2]) and m[3] >= 1024),
                 key=lambda i: -maps[i][3])[:14]
    for mask in range(1, 1 << len(big)):
        chosen = [big[b] for b in range(len(big)) if mask >> b & 1]
        if sum(maps[i][3] for i in chosen) == mem_kib:
            return sorted(chosen), "anonymous mappings totalling the guest size"
    return None, "no anonymous mapping(s) of the guest size found"


def memory_sample(pid, mem_mib):
    maps = parse_smaps(pid)
    total = sum(m[4] for m in maps)
    idx, how = guest_memory(maps, mem_mib * 1024)
    if idx is None:
        raise BenchError(f"pid {pid}: {how} ({mem_mib} MiB); cannot separate VMM memory")
    guest = sum(maps[i][4] for i in idx)
    pss = sum(m[5] for i, m in enumerate(maps) if i not in idx)
    by_name = {}
    for i, m in enumerate(maps):
        if i in idx or m[4] == 0:
            continue
        name = m[2] or "[anon]"
        by_name[name] = by_name.get(name, 0) + m[4]
    top = sorted(by_name.items(), key=lambda kv: -kv[1])[:8]
    return {"total_kib": total, "guest_kib": guest, "overhead_kib": total - guest,
            "overhead_pss_kib": pss,
            "guest_maps": len(idx), "how": how, "top": top}


class Console:
    """Watches a growing console file for the marker."""

    def __init__(self, path):
        self.path, self.offset, self.tail = path, 0, b""

    def seen(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return False
        self.offset += len(data)
        window = self.tail + data
        if MARKER in window:
            return True
        self.tail = window[-(len(MARKER) - 1):]
        return False


def last_lines(path, n=15):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "(nothing)"
    lines = data.decode("utf-8", "replace").replace("\r", "").splitlines()
    return "\n".join("    | " + l for l in lines[-n:]) or "(empty)"


# --------------------------------------------------------------------------- VMMs


class Vmm:
    kind = "?"

    def __init__(self, binary, args, work):
        self.binary, self.args, self.work = binary, args, work

    def launch(self, n):
        """Starts one guest; returns (Popen, console path, extra state)."""
        raise NotImplementedError

    def at_ready(self, proc, state, t_start):
        """Reads what the VMM itself knows once the marker was seen; returns set-up ms."""
        raise NotImplementedError

    def stop(self, proc, state):
        kill_tree(proc)

    def describe(self):
        return self.binary

    def fresh_disk(self, n):
        disk = os.path.join(self.work, f"{self.kind}-{n}.ext4")
        shutil.copyfile(self.args.rootfs, disk)
        return disk

    def start(self, argv, stdout, stderr):
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                start_new_session=True)
        LIVE[proc.pid] = proc
        return proc


class Ec2lab(Vmm):
    kind = "ec2lab"

    def launch(self, n):
        disk = self.fresh_disk(n)
        console = os.path.join(self.work, f"ec2lab-{n}.console")
        sock = os.path.join(self.work, f"ec2lab-{n}.sock")
        log = os.path.join(self.work, f"ec2lab-{n}.log")
        open(console, "wb").close()
        argv = [self.binary, "vmm", "--kernel", self.args.kernel, "--disk", disk,
                "--mem-mib", str(self.args.mem_mib), "--vcpus", str(getattr(self.args, "vcpus", 1)),
                "--serial-out", console, "--api-sock", sock]
        with open(log, "wb") as lf:
            proc = self.start(argv, lf, lf)
        return proc, console, {"sock": sock, "log": log, "disk": disk}

    def ctl(self, state, *action, timeout=15):
        return subprocess.run([self.binary, "vmm-ctl", "--api-sock", state["sock"], *action],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)

    def at_ready(self, proc, state, t_start):
        r = self.ctl(state, "status")
        if r.returncode != 0:
            raise BenchError(f"ec2lab vmm-ctl status failed: {r.stderr.decode().strip()}")
        doc = json.loads(r.stdout)
        st = doc.get("status", doc)
        state["status"] = st
        return st.get("setup_ms")

    def stop(self, proc, state):
        if proc.poll() is None:
            try:
                self.ctl(state, "stop")
                proc.wait(timeout=20)
            except (subprocess.TimeoutExpired, OSError):
                pass
        kill_tree(proc)

    def describe(self):
        r = subprocess.run([self.binary, "--version"], capture_output=True, text=True)
        ver = r.stdout.strip() if r.returncode == 0 else "ec2lab"
        git = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                             capture_output=True, text=True)
        rev = f" (source {git.stdout.strip()})" if git.returncode == 0 else ""
        return f"{ver}{rev}"


class Firecracker(Vmm):
    kind = "firecracker"
    started_line = re.compile(
        r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+) .*Successfully started microvm", re.M)

    def launch(self, n):
        disk = self.fresh_disk(n)
        console = os.path.join(self.work, f"firecracker-{n}.console")
        log = os.path.join(self.work, f"firecracker-{n}.log")
        err = os.path.join(self.work, f"firecracker-{n}.stderr")
        cfg_path = os.path.join(self.work, f"firecracker-{n}.json")
        config = {
            "boot-source": {"kernel_image_path": self.args.kernel,
                            "boot_args": self.args.cmdline},
            "drives": [{"drive_id": "rootfs", "path_on_host": disk,
                        "is_root_device": True, "is_read_only": False}],
            "machine-config": {"vcpu_count": getattr(self.args, "vcpus", 1), "mem_size_mib": self.args.mem_mib},
        }
        with open(cfg_path, "w") as f:
            json.dump(config, f, indent=2)
        open(log, "wb").close()  # Firecracker opens --log-path, it does not create it
        argv = [self.binary, "--no-api", "--config-file", cfg_path, "--id", f"bench-{n}",
                "--log-path", log, "--level", "Info"]
        # The serial console is Firecracker's stdout.
        with open(console, "wb") as cf, open(err, "wb") as ef:
            proc = self.start(argv, cf, ef)
        return proc, console, {"log": log, "stderr": err, "disk": disk}

    def at_ready(self, proc, state, t_start):
        with open(state["log"]) as f:
            m = self.started_line.search(f.read())
        if not m:
            return None
        # Firecracker stamps its log in local time with nanoseconds.
        stamp = time.mktime(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
        stamp += int(m.group(2)) / 10 ** len(m.group(2))
        return round((stamp - t_start) * 1000)

    def describe(self):
        r = subprocess.run([self.binary, "--version"], capture_output=True, text=True)
        first = (r.stdout.strip().splitlines() or ["firecracker"])[0]
        return first


KINDS = {"firecracker": Firecracker}


def boot_once(vmm, n, timeout):
    proc, console_path, state = vmm.launch(n)
    t_wall = time.time()
    t0 = time.monotonic()
    console = Console(console_path)
    try:
        while True:
            if console.seen():
                boot_s = time.monotonic() - t0
                break
            if proc.poll() is not None:
                raise BenchError(
                    f"{vmm.kind} run {n}: the VMM exited with code {proc.returncode} before "
                    f"the marker.\n  console ({console_path}):\n{last_lines(console_path)}\n"
                    f"  log:\n{last_lines(state.get('stderr', state['log']))}")
            if time.monotonic() - t0 > timeout:
                raise BenchError(
                    f"{vmm.kind} run {n}: no {MARKER.decode()} within {timeout:.0f} s.\n"
                    f"  console ({console_path}):\n{last_lines(console_path)}")
            time.sleep(POLL_S)
        mem = memory_sample(proc.pid, vmm.args.mem_mib)
        setup_ms = vmm.at_ready(proc, state, t_wall)
    finally:
        vmm.stop(proc, state)
        if not vmm.args.keep:
            for key in ("disk",):
                try:
                    os.unlink(state[key])
                except OSError:
                    pass
    result = {"boot_s": boot_s, "setup_ms": setup_ms, **mem}
    if "status" in state:
        result["vmm_ready_ms"] = state["status"].get("ready_ms")
        result["vmm_init_ms"] = state["status"].get("init_started_ms")
    return result


# --------------------------------------------------------------------------- report


def host_facts():
    def read(path):
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            return ""
    cpu = next((l.split(":", 1)[1].strip() for l in read("/proc/cpuinfo").splitlines()
                if l.startswith("model name")), "unknown")
    mem = next((l.split()[1] for l in read("/proc/meminfo").splitlines()
                if l.startswith("MemTotal:")), "0")
    if os.path.exists("/sys/module/kvm_pvm"):
        kvm = "kvm_pvm (software-assisted nested KVM: guest kernel code is emulated)"
    elif os.path.exists("/sys/module/kvm_intel"):
        kvm = "kvm_intel (hardware)"
    elif os.path.exists("/sys/module/kvm_amd"):
        kvm = "kvm_amd (hardware)"
    else:
        kvm = "unknown"
    return [("Kernel", os.uname().release), ("KVM", kvm), ("CPU", f"{cpu}, {os.cpu_count()} CPUs"),
            ("Memory", f"{int(mem) // 1024} MiB"), ("Load at start", " ".join(
                f"{x:.2f}" for x in os.getloadavg()))]


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def fmt(st, unit_fmt):
    if st is None:
        return "n/a", "n/a", "n/a"
    return tuple(unit_fmt(v) for v in st)


def table(results, order):
    rows = [("boot to marker (s)", "boot_s", lambda v: f"{v:.2f}"),
            ("VMM set-up (ms)", "setup_ms", lambda v: f"{v:.0f}"),
            ("VMM memory overhead (KiB)", "overhead_kib", lambda v: f"{v:.0f}"),
            ("VMM memory overhead, Pss (KiB)", "overhead_pss_kib", lambda v: f"{v:.0f}"),
            ("total RSS (KiB)", "total_kib", lambda v: f"{v:.0f}"),
            ("guest RAM resident (KiB)", "guest_kib", lambda v: f"{v:.0f}")]
    out = ["| VMM | metric | median | min | max | runs |", "|---|---|---|---|---|---|"]
    for kind in order:
        runs = results[kind]
        for label, key, f in rows:
            med, lo, hi = fmt(stats([r[key] for r in runs]), f)
            out.append(f"| {kind} | {label} | {med} | {lo} | {hi} | {len(runs)} |")
    return "\n".join(out)


def ratios(results, other):
    lines = []
    for label, key in (("median boot time", "boot_s"), ("median memory overhead", "overhead_kib")):
        a, b = stats([r[key] for r in results["ec2lab"]]), stats([r[key] for r in results[other]])
        if a and b and b[0]:
            lines.append(f"- ec2lab/{other}, {label}: **{a[0] / b[0]:.2f}**")
        else:
            lines.append(f"- ec2lab/{other}, {label}: n/a")
    return "\n".join(lines)


def per_run(results, order):
    out = ["| run | VMM | boot (s) | set-up (ms) | overhead (KiB) | total RSS (KiB) |",
           "|---|---|---|---|---|---|"]
    n = max(len(results[k]) for k in order)
    for i in range(n):
        for kind in order:
            if i < len(results[kind]):
                r = results[kind][i]
                setup = "n/a" if r["setup_ms"] is None else f"{r['setup_ms']}"
                out.append(f"| {i + 1} | {kind} | {r['boot_s']:.2f} | {setup} | "
                           f"{r['overhead_kib']} | {r['total_kib']} |")
    return "\n".join(out)


def top_mappings(results, order):
    out = []
    for kind in order:
        last = results[kind][-1]
        parts = ", ".join(f"`{name}` {kib}" for name, kib in last["top"])
        out.append(f"- {kind} (last run; guest memory: {last['guest_maps']} mapping(s), "
                   f"{last['how']}): {parts}")
    return "\n".join(out)


def report(args, results, order, vmms, started):
    facts = host_facts()
    cmd = "python3 tools/bench/boot.py " + shlex.join(sys.argv[1:])
    lines = [f"## Boot benchmark, {started:%Y-%m-%d %H:%M} UTC", ""]
    lines += [f"- {k}: {v}" for k, v in facts]
    for kind in order:
        lines.append(f"- {kind}: {vmms[kind].describe()} (`{vmms[kind].binary}`)")
    lines += [f"- Guest: `{args.kernel}`, fresh copy of `{args.rootfs}` per boot, "
              f"{args.mem_mib} MiB, {args.vcpus} vCPU{'s' if args.vcpus > 1 else ''}",
              f"- Kernel command line (ec2lab's on this host; the other VMM got the same): "
              f"`{args.cmdline}`",
              "", "Command:", "", "```sh", cmd, "```", "",
              table(results, order), ""]
    if len(order) > 1:
        lines += ["Ratios (below 1: ec2lab is faster / smaller):", "", ratios(results, order[1]), ""]
    lines += ["Per run (interleaved in this order):", "", per_run(results, order), "",
              "Largest resident mappings outside guest memory, KiB (smaps Rss by name):", "",
              top_mappings(results, order), ""]
    ec = [r for r in results["ec2lab"] if r.get("vmm_ready_ms") is not None]
    if ec:
        lines += ["ec2lab's own milestones (vmm-ctl status), median: init started "
                  f"{statistics.median(r['vmm_init_ms'] for r in ec if r['vmm_init_ms'] is not None) / 1000:.2f} s, "
                  f"ready marker {statistics.median(r['vmm_ready_ms'] for r in ec) / 1000:.2f} s.", ""]
    lines += ["Boot = VMM process start to `EC2LAB-GUEST-READY` on the console file (polled "
              "every 20 ms). Set-up: ec2lab `setup_ms` (VMM start to first vCPU run); Firecracker: "
              "process start to its `Successfully started microvm` log line. Overhead = smaps Rss "
              "of everything but the guest-memory mapping(s), at the marker.", ""]
    if "firecracker" in order:
        lines += ["Firecracker ran with `--no-api --config-file` (same vCPUs, same memory, root drive "
                  "with `is_root_device`), its serial console on stdout redirected to the console "
                  "file, logging to a file at level Info; it appends `pci=off`, its own "
                  "`root=/dev/vda rw` (a harmless repeat) and its virtio-mmio device entries to "
                  "the command line above. A build for the gnu target has no default seccomp "
                  "filter (Firecracker falls back to an empty one).", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def add_guest_args(p, rootfs_help, mem_help="guest memory (default 256)",
                   ec2lab_help="ec2lab binary (default target/release/ec2lab; build it with "
                               "`cargo build --release`)"):
    """The options every benchmark here has: the ec2lab binary, the guest's kernel, root
    image and memory. Used by storage.py and net.py too."""
    p.add_argument("--ec2lab", default=os.path.join(REPO, "target", "release", "ec2lab"),
                   help=ec2lab_help)
    p.add_argument("--kernel", default=os.path.join(REPO, "guest-images", "out", "vmlinux"),
                   help="guest kernel (default guest-images/out/vmlinux)")
    p.add_argument("--rootfs", default=os.path.join(REPO, "guest-images", "out", "rootfs.ext4"),
                   help=rootfs_help)
    p.add_argument("--mem-mib", type=int, default=256, help=mem_help)


def parse_args():
    p = argparse.ArgumentParser(
        prog="tools/bench/boot.py",
        description="Boot the ec2lab guest image N times and report boot time to init, VMM "
                    "set-up time and VMM memory overhead (RSS beyond guest RAM), optionally "
                    "side by side with another VMM.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5, help="boots per VMM (default 5)")
    add_guest_args(p, rootfs_help="root image; each boot gets a fresh copy (default "
                                  "guest-images/out/rootfs.ext4)",
                   mem_help="guest memory for every VMM (default 256, ec2lab's default)")
    p.add_argument("--vcpus", type=int, default=1,
                   help="guest vCPUs for every VMM (default 1)")
    p.add_argument("--timeout", type=float, default=300,
                   help="seconds to wait for the marker per boot (default 300)")
    p.add_argument("--other-vmm", metavar="PATH", help="another VMM binary to measure alongside")
    p.add_argument("--other-kind", choices=sorted(KINDS), default="firecracker",
                   help="what --other-vmm is (default firecracker)")
    p.add_argument("--output", default=os.path.join(REPO, "docs", "benchmarks.md"),
                   help="markdown file to append the results to (default docs/benchmarks.md; "
                        "'-' to only print)")
    p.add_argument("--workdir", help="where disk copies, consoles and logs go "
                                     "(default: a new directory under /tmp, removed at the end)")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory (consoles, logs, configs, disk copies)")
    args = p.parse_args()
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def check_inputs(args):
    for what, path in (("guest kernel", args.kernel), ("root image", args.rootfs)):
        if not os.path.isfile(path):
            raise BenchError(f"{what} {path} is missing: run guest-images/build.sh "
                             "(or pass --kernel/--rootfs)")
    if not (os.path.isfile(args.ec2lab) and os.access(args.ec2lab, os.X_OK)):
        raise BenchError(f"ec2lab binary {args.ec2lab} is missing: run `cargo build --release` "
                         "(or pass --ec2lab PATH)")
    if args.other_vmm and not (os.path.isfile(args.other_vmm) and os.access(args.other_vmm, os.X_OK)):
        raise BenchError(f"--other-vmm {args.other_vmm} is not an executable file")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise BenchError("/dev/kvm is missing or not readable and writable by this user")


def append_results(path, text):
    """Appends a dated section to the results file (created with a heading if new)."""
    new = not os.path.exists(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as f:
        if new:
            f.write("# Benchmarks\n\nBenchmarks made with the scripts in `tools/bench/` "
                    "(see their `--help` for what each number means). Newest last.\n\n")
        else:
            f.write("\n")
        f.write(text)
    print(f"appended to {path}", file=sys.stderr)


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    for attr in ("ec2lab", "kernel", "rootfs", "other_vmm"):
        if getattr(args, attr):
            setattr(args, attr, os.path.abspath(getattr(args, attr)))
    started = datetime.datetime.now(datetime.timezone.utc)
    work = None
    try:
        check_inputs(args)
        args.cmdline = ec2lab_cmdline(kvm_flavor())
        work = args.workdir or tempfile.mkdtemp(prefix="ec2lab-bench-")
        os.makedirs(work, exist_ok=True)
        vmms = {"ec2lab": Ec2lab(args.ec2lab, args, work)}
        order = ["ec2lab"]
        if args.other_vmm:
            other = KINDS[args.other_kind](args.other_vmm, args, work)
            vmms[other.kind] = other
            order.append(other.kind)
        results = {k: [] for k in order}
        print(f"work directory: {work}", file=sys.stderr)
        for n in range(1, args.runs + 1):
            for kind in order:
                print(f"[run {n}/{args.runs}] {kind}: booting ...", end="", flush=True,
                      file=sys.stderr)
                r = boot_once(vmms[kind], n, args.timeout)
                results[kind].append(r)
                setup = "n/a" if r["setup_ms"] is None else f"{r['setup_ms']} ms"
                print(f" marker after {r['boot_s']:.2f} s, set-up {setup}, overhead "
                      f"{r['overhead_kib']} KiB, RSS {r['total_kib']} KiB", file=sys.stderr)
        text = report(args, results, order, vmms, started)
        print(text)
        if args.output != "-":
            append_results(args.output, text)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; stopping the guest", file=sys.stderr)
        return 130
    except BenchError as e:
        print(f"\nboot.py: error: {e}", file=sys.stderr)
        return 1
    finally:
        kill_leftovers()
        if work and not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
        elif work:
            print(f"kept {work}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
