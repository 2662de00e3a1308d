#!/usr/bin/env python3
"""Jail benchmark: what jailing a VMM costs, jailed launches against EC2LAB_JAIL=0 ones
measured in the same run, alternating, on one fresh state directory.

Each launch is a warm launch of the quick-start AMI (the host's template cache; the first
launch makes the template if there is none, and is not counted), so the VMM's own start
is what is timed, not a guest's boot:

  setup     the VMM's own set-up time (its status' setup_ms: KVM, memory, devices, the
            restore, and for a jailed VMM its namespaces, mounts and privilege drop)
  answers   `run-instances` returning -> the VMM's control socket answering
  rss/pss   the VMM process's VmRSS and Pss once its guest printed its ready marker
            (guest memory the guest touched is most of it; the difference is the jail's)

Prints a markdown table with jailed/unjailed ratios and appends it to docs/benchmarks.md
with the host kernel (--output - to only print). Python 3 standard library only. As root,
with the release build:
  cargo build --release && python3 tools/bench/jail.py --runs 5
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
READY = "EC2LAB-GUEST-READY"


def ec2lab(exe, env, *args):
    p = subprocess.run([exe, *args], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"ec2lab {' '.join(args)}: {p.stderr}{p.stdout}")
    return json.loads(p.stdout) if p.stdout.strip().startswith(("{", "[")) else p.stdout


def status_field(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def launch(exe, env, state, ami, itype):
    t0 = time.monotonic()
    iid = ec2lab(exe, env, "run-instances", "--image-id", ami, "--instance-type", itype)[
        "Instances"][0]["InstanceId"]
    t_ret = time.monotonic()
    run = os.path.join(state, "lab-1", "instances", iid)
    sock = os.path.join(run, "vmm.sock")
    deadline = time.monotonic() + 300
    status = None
    while time.monotonic() < deadline:
        p = subprocess.run([exe, "vmm-ctl", "--api-sock", sock, "status"],
                           capture_output=True, text=True)
        if p.returncode == 0:
            status = json.loads(p.stdout)["status"]
            break
        time.sleep(0.02)
    if status is None:
        sys.exit(f"{iid}: the VMM never answered")
    answers = time.monotonic() - t_ret
    console = os.path.join(run, "vmm", "console.log")
    while time.monotonic() < deadline:
        with open(console, errors="replace") as f:
            text = f.read()
        if READY in text.rsplit("EC2LAB-BOOT", 1)[-1]:
            break
        time.sleep(0.2)
    pid = status["pid"]
    row = {
        "setup_ms": status["setup_ms"],
        "answers_ms": answers * 1000,
        "rss_kib": status_field(pid, "VmRSS"),
        "pss_kib": pss_kib(pid),
        "jailed": status_field(pid, "Uid") != 0,
        "warm": "restored from" in text or "warm" in text.lower(),
    }
    ec2lab(exe, env, "terminate-instances", "--instance-ids", iid)
    ec2lab(exe, env, "wait", "instance-terminated", "--instance-ids", iid)
    return row, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--type", default="t2.micro")
    ap.add_argument("--exe", default=os.path.join(REPO, "target/release/ec2lab"))
    ap.add_argument("--output", default=os.path.join(REPO, "docs/benchmarks.md"))
    a = ap.parse_args()
    state = tempfile.mkdtemp(prefix="ec2lab-bench-jail-")
    base = dict(os.environ, EC2LAB_STATE_DIR=state,
                EC2LAB_GUEST_IMAGES=os.path.join(REPO, "guest-images/out"))
    base.pop("EC2LAB_JAIL", None)
    ami = ec2lab(a.exe, base, "describe-images", "--filters",
                 "Name=name,Values=ec2lab-linux")["Images"][0]["ImageId"]
    launch(a.exe, base, state, ami, a.type)  # makes the template if the cache has none
    rows = {"jailed": [], "unjailed": []}
    for _ in range(a.runs):
        for kind in ("unjailed", "jailed"):
            env = dict(base)
            if kind == "unjailed":
                env["EC2LAB_JAIL"] = "0"
            row, _ = launch(a.exe, env, state, ami, a.type)
            if row["jailed"] != (kind == "jailed"):
                sys.exit(f"a {kind} launch's VMM ran with jailed={row['jailed']}")
            rows[kind].append(row)
    ec2lab(a.exe, base, "network-teardown")
    med = {k: {f: statistics.median(r[f] for r in v) for f in
               ("setup_ms", "answers_ms", "rss_kib", "pss_kib")} for k, v in rows.items()}
    j, u = med["jailed"], med["unjailed"]
    kernel = platform.release()
    lines = [
        f"### VMM jail ({datetime.date.today()}, host kernel `{kernel}`)",
        "",
        f"`tools/bench/jail.py --runs {a.runs}`: warm launches of the quick-start AMI "
        f"({a.type}), jailed and `EC2LAB_JAIL=0` alternating in one run; medians.",
        "",
        "| | unjailed | jailed | jailed/unjailed |",
        "|---|---|---|---|",
        f"| VMM set-up (status setup_ms) | {u['setup_ms']:.0f} ms | {j['setup_ms']:.0f} ms "
        f"| {j['setup_ms'] / max(u['setup_ms'], 1):.2f} |",
        f"| run-instances -> control socket answers | {u['answers_ms']:.0f} ms "
        f"| {j['answers_ms']:.0f} ms | {j['answers_ms'] / u['answers_ms']:.2f} |",
        f"| VMM VmRSS at ready | {u['rss_kib'] / 1024:.1f} MiB | {j['rss_kib'] / 1024:.1f} MiB "
        f"| {j['rss_kib'] / u['rss_kib']:.2f} |",
        f"| VMM Pss at ready | {u['pss_kib'] / 1024:.1f} MiB | {j['pss_kib'] / 1024:.1f} MiB "
        f"| {j['pss_kib'] / u['pss_kib']:.2f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if a.output != "-":
        with open(a.output, "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
