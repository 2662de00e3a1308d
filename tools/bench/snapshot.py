#!/usr/bin/env python3
"""Snapshot restore benchmark: ec2lab's VMM against another VMM (Firecracker), same guest.

For each VMM and each guest memory size: boot the ec2lab guest image once to its ready
marker, save a full snapshot (ec2lab: `vmm-ctl snapshot --exit`; Firecracker: pause,
`PUT /snapshot/create` with a Full snapshot), then start --runs fresh VMM processes from that
snapshot and measure, per restore:

  restore    VMM process start -> the guest resumed and the VMM answering: ec2lab, `vmm
             --restore DIR` until its control socket answers `status` with state running;
             Firecracker, `firecracker --api-sock` until `PUT /snapshot/load` (resume_vm:
             true) has answered 204. Both wall clock, from this script, same polling (1 ms).
  vmm set-up ec2lab's own `setup_ms` (process start -> first vCPU run). Firecracker has no
             such figure for a load; its column is the load request's own latency.
  rss        the restored VMM's resident memory (VmRSS) right after the restore: a restore
             that maps memory copy-on-write does not read it in.
  vcpu 1 s   the vCPU thread's CPU time in the first second after the restore, proof the guest
             runs (an idle Linux guest still takes its timer ticks).

Ratios are ec2lab/other on the medians. Results go to docs/benchmarks.md (--output - to only
print) with the host kernel. Run as root with release builds:
  cargo build --release
  python3 tools/bench/snapshot.py --other-vmm /path/to/firecracker --runs 5
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402  (the boot benchmark's guest arguments, VMM launchers and helpers)

READY = "EC2LAB-GUEST-READY"


class UnixHTTP(http.client.HTTPConnection):
    """HTTP over a unix socket (Firecracker's API)."""

    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def fc_call(sock, method, path, body):
    c = UnixHTTP(sock)
    c.request(method, path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    if r.status >= 300:
        raise boot.BenchError(f"firecracker {method} {path}: {r.status} {text}")


def ec2lab_call(sock, request, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock)
    s.sendall((json.dumps(request) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)


def wait_marker(console, proc, timeout):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise boot.BenchError(f"the VMM ended before the marker: {boot.last_lines(console)}")
        with open(console, "rb") as f:
            if READY.encode() in f.read():
                return time.monotonic() - t0
        time.sleep(0.05)
    raise boot.BenchError(f"no marker within {timeout} s: {boot.last_lines(console)}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def vcpu_ticks(pid, names):
    """utime+stime (clock ticks) of the threads whose comm is in `names`."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            if comm not in names:
                continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def wait_path(path, proc, timeout=10):
    t0 = time.monotonic()
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() - t0 > timeout:
            log = os.path.join(os.path.dirname(path), os.path.basename(path)[:-5] + ".log")
            raise boot.BenchError(f"{path} never appeared: {boot.last_lines(log)}")
        time.sleep(0.001)


def start(argv, log):
    with open(log, "ab") as lf:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                                start_new_session=True)
    boot.LIVE[proc.pid] = proc
    return proc


class Ec2labSnap:
    kind = "ec2lab"
    vcpu_names = {"vcpu0"}

    def __init__(self, args, work):
        self.args, self.work, self.bin = args, work, args.ec2lab

    def make(self, mem):
        disk = os.path.join(self.work, f"ec2lab-{mem}.ext4")
        shutil.copyfile(self.args.rootfs, disk)
        console = os.path.join(self.work, f"ec2lab-{mem}.console")
        open(console, "wb").close()
        sock = os.path.join(self.work, f"ec2lab-{mem}.sock")
        proc = start([self.bin, "vmm", "--kernel", self.args.kernel, "--disk", disk,
                      "--mem-mib", str(mem), "--vcpus", "1", "--serial-out", console,
                      "--api-sock", sock], os.path.join(self.work, f"ec2lab-{mem}.log"))
        booted = wait_marker(console, proc, self.args.timeout)
        snap = os.path.join(self.work, f"ec2lab-{mem}.snap")
        t0 = time.monotonic()
        r = ec2lab_call(sock, {"action": "snapshot", "dir": snap, "then": "exit"}, timeout=300)
        saved = time.monotonic() - t0
        if not r.get("ok"):
            raise boot.BenchError(f"ec2lab snapshot: {r}")
        proc.wait(timeout=30)
        self.state = {"disk": disk, "snap": snap}
        return booted, saved, snap

    def restore(self, mem, n):
        console = os.path.join(self.work, f"ec2lab-{mem}-r{n}.console")
        sock = os.path.join(self.work, f"ec2lab-{mem}-r{n}.sock")
        argv = [self.bin, "vmm", "--restore", self.state["snap"], "--disk", self.state["disk"], "--mem-mib", str(mem), "--vcpus", "1",
                "--serial-out", console, "--api-sock", sock]
        t0 = time.monotonic()
        proc = start(argv, os.path.join(self.work, f"ec2lab-{mem}-r{n}.log"))
        wait_path(sock, proc)
        while True:
            try:
                st = ec2lab_call(sock, {"action": "status"})["status"]
                if st["state"] == "running":
                    break
            except (OSError, ValueError, KeyError):
                pass
            if proc.poll() is not None:
                raise boot.BenchError(f"ec2lab restore ended: {boot.last_lines(console)}")
            time.sleep(0.001)
        total = time.monotonic() - t0
        return proc, total * 1000, st["setup_ms"]

    def stop(self, proc):
        boot.kill_tree(proc)


class FirecrackerSnap:
    kind = "firecracker"
    vcpu_names = {"fc_vcpu 0"}

    def __init__(self, args, work):
        self.args, self.work, self.bin = args, work, args.other_vmm

    def make(self, mem):
        disk = os.path.join(self.work, f"fc-{mem}.ext4")
        shutil.copyfile(self.args.rootfs, disk)
        console = os.path.join(self.work, f"fc-{mem}.console")
        cfg = os.path.join(self.work, f"fc-{mem}.json")
        with open(cfg, "w") as f:
            json.dump({
                "boot-source": {"kernel_image_path": self.args.kernel,
                                "boot_args": self.args.cmdline},
                "drives": [{"drive_id": "rootfs", "path_on_host": disk,
                            "is_root_device": True, "is_read_only": False}],
                "machine-config": {"vcpu_count": 1, "mem_size_mib": mem},
            }, f)
        sock = os.path.join(self.work, f"fc-{mem}.sock")
        with open(console, "wb") as cf:
            proc = subprocess.Popen([self.bin, "--api-sock", sock, "--config-file", cfg,
                                     "--id", f"snap-{mem}"], stdin=subprocess.DEVNULL,
                                    stdout=cf, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
        boot.LIVE[proc.pid] = proc
        booted = wait_marker(console, proc, self.args.timeout)
        snap = os.path.join(self.work, f"fc-{mem}.snap")
        os.makedirs(snap)
        t0 = time.monotonic()
        fc_call(sock, "PATCH", "/vm", {"state": "Paused"})
        fc_call(sock, "PUT", "/snapshot/create", {
            "snapshot_type": "Full", "snapshot_path": os.path.join(snap, "vmstate"),
            "mem_file_path": os.path.join(snap, "memory")})
        saved = time.monotonic() - t0
        boot.kill_tree(proc)
        self.state = {"snap": snap}
        return booted, saved, snap

    def restore(self, mem, n):
        sock = os.path.join(self.work, f"fc-{mem}-r{n}.sock")
        snap = self.state["snap"]
        t0 = time.monotonic()
        proc = start([self.bin, "--api-sock", sock, "--id", f"r{mem}-{n}"],
                     os.path.join(self.work, f"fc-{mem}-r{n}.log"))
        wait_path(sock, proc)
        while True:
            try:
                t1 = time.monotonic()
                fc_call(sock, "PUT", "/snapshot/load", {
                    "snapshot_path": os.path.join(snap, "vmstate"),
                    "mem_backend": {"backend_type": "File",
                                    "backend_path": os.path.join(snap, "memory")},
                    "resume_vm": True})
                break
            except (ConnectionRefusedError, FileNotFoundError):
                time.sleep(0.001)
        done = time.monotonic()
        return proc, (done - t0) * 1000, round((done - t1) * 1000, 1)

    def stop(self, proc):
        boot.kill_tree(proc)


def du_mib(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.stat(os.path.join(root, f)).st_blocks * 512
    return total / 2**20


def measure(vmm, mem, runs):
    booted, saved, snap = vmm.make(mem)
    rows = []
    for n in range(1, runs + 1):
        proc, total_ms, setup_ms = vmm.restore(mem, n)
        rss = rss_kib(proc.pid)
        before = vcpu_ticks(proc.pid, vmm.vcpu_names)
        time.sleep(1)
        if proc.poll() is not None:
            raise boot.BenchError(f"{vmm.kind}: the restored VMM ended within a second")
        ran = (vcpu_ticks(proc.pid, vmm.vcpu_names) - before) * 1000 / os.sysconf("SC_CLK_TCK")
        vmm.stop(proc)
        rows.append({"restore_ms": total_ms, "setup_ms": setup_ms, "rss_kib": rss,
                     "vcpu_ms": ran})
        print(f"  {vmm.kind} {mem} MiB restore {n}: {total_ms:.1f} ms (own {setup_ms} ms), "
              f"RSS {rss} KiB, vCPU {ran:.0f} ms in 1 s", file=sys.stderr)
    return {"booted_s": booted, "saved_s": saved, "snap_mib": du_mib(snap), "rows": rows}


def main():
    p = argparse.ArgumentParser(prog="tools/bench/snapshot.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    boot.add_guest_args(p, rootfs_help="root image (copied; default guest-images/out/rootfs.ext4)")
    p.add_argument("--other-vmm", metavar="PATH", help="a Firecracker binary to measure alongside")
    p.add_argument("--mems", default="256,1024", help="guest memory sizes in MiB (default 256,1024)")
    p.add_argument("--runs", type=int, default=5, help="restores per VMM and size (default 5)")
    p.add_argument("--timeout", type=float, default=300, help="seconds to the boot's marker")
    p.add_argument("--output", default=os.path.join(boot.REPO, "docs", "benchmarks.md"))
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, consoles)")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, boot.on_sigterm)
    for attr in ("ec2lab", "kernel", "rootfs", "other_vmm"):
        if getattr(args, attr):
            setattr(args, attr, os.path.abspath(getattr(args, attr)))
    boot.check_inputs(args)
    args.cmdline = boot.ec2lab_cmdline(boot.kvm_flavor())
    mems = [int(m) for m in args.mems.split(",")]
    vmms = [Ec2labSnap(args, None)] + ([FirecrackerSnap(args, None)] if args.other_vmm else [])
    work = tempfile.mkdtemp(prefix="ec2lab-snap-bench-")
    results = {}
    try:
        for vmm in vmms:
            vmm.work = work
            for mem in mems:
                print(f"{vmm.kind}, {mem} MiB: booting and saving ...", file=sys.stderr)
                results[(vmm.kind, mem)] = measure(vmm, mem, args.runs)
    finally:
        boot.kill_leftovers()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    med = statistics.median
    versions = {"ec2lab": boot.Ec2lab(args.ec2lab, args, work).describe()}
    if args.other_vmm:
        versions["firecracker"] = boot.Firecracker(args.other_vmm, args, work).describe()
    lines = [
        f"## Snapshot restore benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"Host kernel `{platform.release()}`, {os.cpu_count()} CPUs, load average at the end "
        f"{os.getloadavg()[0]:.1f}. Command: `python3 tools/bench/snapshot.py "
        f"--runs {args.runs} --mems {args.mems}{' --other-vmm FIRECRACKER' if args.other_vmm else ''}`. "
        f"VMMs: {'; '.join(f'{k}: {v}' for k, v in versions.items())}. 1 vCPU, the ec2lab guest "
        "image, no network device; medians over the restores.",
        "",
        "| VMM | guest MiB | restore (ms) | VMM's own (ms) | RSS after restore (KiB) | vCPU ms in 1 s | save (s) | snapshot on disk (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (kind, mem), r in results.items():
        rows = r["rows"]
        lines.append(
            f"| {kind} | {mem} | {med(x['restore_ms'] for x in rows):.1f} | "
            f"{med(x['setup_ms'] for x in rows)} | {med(x['rss_kib'] for x in rows):.0f} | "
            f"{med(x['vcpu_ms'] for x in rows):.0f} | {r['saved_s']:.2f} | {r['snap_mib']:.0f} |")
    if args.other_vmm:
        lines.append("")
        for mem in mems:
            a, b = results[("ec2lab", mem)]["rows"], results[("firecracker", mem)]["rows"]
            ra = med(x["restore_ms"] for x in a) / med(x["restore_ms"] for x in b)
            rr = med(x["rss_kib"] for x in a) / med(x["rss_kib"] for x in b)
            lines.append(f"- {mem} MiB, ec2lab/firecracker: restore time **{ra:.2f}**, "
                         f"RSS after restore **{rr:.2f}**")
    lines += ["", "Restore = VMM process start to the guest resumed and the VMM answering "
              "(ec2lab: `status` says running; Firecracker: `PUT /snapshot/load` with "
              "`resume_vm` answered). VMM's own = ec2lab's `setup_ms` (start to first vCPU "
              "run); for Firecracker the load request's latency. Both snapshots are Full "
              "(all guest memory in one file) and restored from a file mapping.", ""]
    text = "\n".join(lines)
    print(text)
    if args.output != "-":
        boot.append_results(args.output, text)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except boot.BenchError as e:
        boot.kill_leftovers()
        sys.exit(f"snapshot.py: error: {e}")
