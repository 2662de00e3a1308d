#!/usr/bin/env python3
"""Warm-launch benchmark: cold boots against launches from the AMI's warm template, in
one run, on one fresh state directory and its own template cache.

Measures, per launch kind (cold = `run-instances --no-warm`, warm = from the template):

  running   `run-instances` returning -> the instance `running` (describe-instances,
            polled every 50 ms)
  ready     `run-instances` -> the ready marker (EC2LAB-GUEST-READY) in the console log
  http200   `ec2lab lab httpd` (the lab's key pair, group, user data) -> its page answers
            200 (the lab's own LabToHttp200Secs)
  memory    --guests guests of --type launched together, all ready: the summed Pss of
            their VMM processes (/proc/PID/smaps_rollup), so pages a template's guests
            share count once in all

The template is made first (the AMI's first launch, timed too). Results are printed as a
markdown table with the warm/cold ratios and appended to docs/benchmarks.md with the host
kernel (--output - to only print).

Python 3 standard library only. Run as root with the release build:
  cargo build --release && python3 tools/bench/warm.py --runs 3 --guests 10
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
READY = "EC2LAB-GUEST-READY"


class Lab:
    def __init__(self, exe, state, cache):
        self.exe, self.state = exe, state
        # Volumes are sparse and the guests barely write: the memory figure's --guests 8 GiB
        # roots need not reserve 8 GiB each of the host's disk (EC2LAB_VOLUME_OVERCOMMIT).
        self.env = dict(os.environ, EC2LAB_STATE_DIR=state, EC2LAB_WARM_CACHE=cache,
                        EC2LAB_VOLUME_OVERCOMMIT="1")
        self.env.pop("EC2LAB_WARM", None)

    def run(self, *args, check=True):
        p = subprocess.run([self.exe, *args], env=self.env, capture_output=True, text=True)
        if check and p.returncode != 0:
            sys.exit(f"ec2lab {' '.join(args)}: {p.stderr}{p.stdout}")
        return json.loads(p.stdout) if p.stdout.strip().startswith(("{", "[")) else p.stdout

    def console(self, iid):
        path = os.path.join(self.state, "lab-1", "instances", iid, "vmm", "console.log")
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def state_of(self, iid):
        d = self.run("describe-instances", "--instance-ids", iid)
        return d["Reservations"][0]["Instances"][0]["State"]["Name"]

    def vmm_pid(self, iid):
        import sqlite3
        db = sqlite3.connect(os.path.join(self.state, "lab-1", "ec2lab.db"))
        row = db.execute("SELECT vmm_pid FROM instances WHERE instance_id=?", (iid,)).fetchone()
        return row[0] if row else None


def launch(lab, ami, itype, count, warm, timeout=900):
    """Launches `count` together; returns (ids, running_s, ready_s) per instance."""
    args = ["run-instances", "--image-id", ami, "--instance-type", itype, "--count", str(count)]
    if not warm:
        args.append("--no-warm")
    print(f"{'warm' if warm else 'cold'} launch of {count} x {itype} ...", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    out = lab.run(*args)
    ids = [i["InstanceId"] for i in out["Instances"]]
    running, ready = {}, {}
    while len(ready) < len(ids):
        if time.monotonic() - t0 > timeout:
            sys.exit(f"not ready within {timeout} s: {[i for i in ids if i not in ready]}")
        for i in ids:
            if i not in running and lab.state_of(i) == "running":
                running[i] = time.monotonic() - t0
            if i not in ready and READY in lab.console(i).split("EC2LAB-BOOT")[-1]:
                ready[i] = time.monotonic() - t0
        time.sleep(0.05)
    print(f"  running after {max(running.values()):.2f} s, ready after {max(ready.values()):.1f} s "
          "(slowest)", file=sys.stderr, flush=True)
    return ids, [running[i] for i in ids], [ready[i] for i in ids]


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def terminate(lab, ids):
    lab.run("terminate-instances", "--instance-ids", *ids)
    lab.run("wait", "instance-terminated", "--instance-ids", *ids, "--timeout-secs", "600")


def lab_http(lab, warm):
    args = ["lab", "httpd", "--no-build"] + ([] if warm else ["--no-warm"])
    out = lab.run(*args)
    lab.run("lab", "httpd", "--cleanup")
    return out["Timings"]["RunInstancesToHttp200Secs"], out.get("Launch", "?")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ec2lab", default=os.path.join(REPO, "target/release/ec2lab"))
    ap.add_argument("--runs", type=int, default=3, help="cold and warm launches each (one at a time)")
    ap.add_argument("--guests", type=int, default=10, help="guests at once for the memory figure (0: skip)")
    ap.add_argument("--type", default="t2.nano", help="instance type of the memory guests")
    ap.add_argument("--output", default=os.path.join(REPO, "docs/benchmarks.md"))
    a = ap.parse_args()
    state = tempfile.mkdtemp(prefix="ec2lab-warm-bench-")
    cache = tempfile.mkdtemp(prefix="ec2lab-warm-cache-")
    lab = Lab(a.ec2lab, state, cache)
    ami = lab.run("describe-images", "--filters", "Name=name,Values=ec2lab-linux")["Images"][0]["ImageId"]
    rows = {}
    try:
        ids, run_s, ready_s = launch(lab, ami, "t2.micro", 1, True)
        rows["template"] = (run_s, ready_s)
        terminate(lab, ids)
        cold_r, cold_ready, warm_r, warm_ready = [], [], [], []
        for _ in range(a.runs):  # interleaved: noise hits both alike
            ids, r, d = launch(lab, ami, "t2.micro", 1, False)
            cold_r += r; cold_ready += d
            terminate(lab, ids)
            ids, r, d = launch(lab, ami, "t2.micro", 1, True)
            warm_r += r; warm_ready += d
            terminate(lab, ids)
        http_cold, _ = lab_http(lab, False)
        http_warm, kind = lab_http(lab, True)
        mem = {}
        if a.guests:
            for warm in (True, False):
                # The memory guests' own template (another shape) is made first.
                if warm:
                    ids, _, _ = launch(lab, ami, a.type, 1, True)
                    terminate(lab, ids)
                ids, _, _ = launch(lab, ami, a.type, a.guests, warm, timeout=3600)
                time.sleep(5)
                mem["warm" if warm else "cold"] = sum(pss_kib(lab.vmm_pid(i)) for i in ids) / 1024
                terminate(lab, ids)
    finally:
        subprocess.run([a.ec2lab, "lab", "httpd", "--cleanup"], env=lab.env, capture_output=True)
        shutil.rmtree(cache, ignore_errors=True)
    med = statistics.median
    lines = [
        f"## Warm-launch benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"Host kernel `{platform.release()}`, {os.cpu_count()} CPUs, load average at the end "
        f"{os.getloadavg()[0]:.1f}. Command: `python3 tools/bench/warm.py --runs {a.runs} "
        f"--guests {a.guests} --type {a.type}`. Cold = `run-instances --no-warm`, warm = from "
        "the quick-start AMI's template; t2.micro unless said; medians.",
        "",
        "| measure | cold | warm | warm/cold |",
        "|---|---|---|---|",
        f"| run-instances -> running (s) | {med(cold_r):.2f} | {med(warm_r):.2f} | {med(warm_r)/med(cold_r):.3f} |",
        f"| run-instances -> ready marker (s) | {med(cold_ready):.1f} | {med(warm_ready):.1f} | {med(warm_ready)/med(cold_ready):.3f} |",
        f"| lab httpd: run-instances -> HTTP 200 (s) | {http_cold:.1f} | {http_warm:.1f} ({kind}) | {http_warm/http_cold:.3f} |",
    ]
    if mem:
        lines.append(
            f"| {a.guests} x {a.type} guests, summed VMM Pss (MiB) | {mem['cold']:.0f} | {mem['warm']:.0f} | {mem['warm']/mem['cold']:.3f} |"
        )
    lines += [
        "",
        f"The template's own launch (a cold boot that also saves the template): running after "
        f"{rows['template'][0][0]:.1f} s, ready after {rows['template'][1][0]:.1f} s.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if a.output != "-":
        with open(a.output, "a") as f:
            f.write("\n" + text)
    shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
