#!/usr/bin/env python3
"""Storage benchmark for ec2lab guests: guest I/O against host I/O on the same kind of file.

Measures four things with one small C program, tools/bench/iobench.c:

  seq write   MiB/s writing SIZE bytes from offset 0 in BS blocks, then fdatasync
  seq read    MiB/s reading them back
  rand write  IOPS of OPS 4 KiB writes at random 4 KiB-aligned offsets in [0, SIZE),
              then fdatasync (inside the timed interval)
  rand read   IOPS of OPS 4 KiB reads at random offsets in [0, SIZE)

(in that order, so the reads find written data rather than holes), on two backings:

  ebs             a raw sparse file on the host's disk (EBS-style volume; what
                  `ec2lab create-volume` makes), in the work directory
  instance-store  a raw sparse file on tmpfs (/dev/shm; what m5d/c5d instances get)

each measured twice:

  guest  inside an ec2lab guest: the file is the guest's second virtio-blk disk
         (/dev/vdb) and iobench opens the device with O_DIRECT, so the guest page
         cache is out of the way
  host   on the host, by the same iobench, on a fresh file of the same kind and size,
         with O_DIRECT when the file system allows it (else buffered; the writes end
         with fdatasync either way; the `direct` column says which)

and reports guest/host for each measure and backing: the virtualization overhead
(1.00 = no overhead; below 1 the guest is slower).

How the guest run works: iobench is built static (gcc -O2 -static), and a copy of the
root image gets it as /usr/bin/iobench plus a boot hook /etc/ec2lab/rc.d/50-iobench.sh,
both written with e2fsprogs' `debugfs -w` (no mount, no root-only loop devices). The
image's rcS sources the hook during boot; the hook runs all four measures in one
iobench process against /dev/vdb, prints IOBENCH lines to the console and powers the
guest off with `poweroff -f`. The VMM (`ec2lab vmm --kernel K --disk ROOT --disk DATA
--serial-out FILE`) then exits with code 0 and the lines are read from the console file.
Only one guest runs at a time.

Results are printed as a markdown table and appended, as a dated section with host
facts and the command line, to docs/benchmarks.md (--output to change, --output - to
only print).

Python 3 standard library only. Needs /dev/kvm, gcc with a static libc (Debian:
libc6-dev), and debugfs (e2fsprogs).
"""

import argparse
import datetime
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402  (the boot benchmark beside this file: host facts, process helpers)

REPO = boot.REPO
HERE = os.path.dirname(os.path.abspath(__file__))
MODES = ("seqwrite", "seqread", "randwrite", "randread")
MEASURES = (  # (mode, label, key of the IOBENCH line, number format)
    ("seqread", "seq read (MiB/s)", "mibps", "{:.2f}"),
    ("seqwrite", "seq write (MiB/s)", "mibps", "{:.2f}"),
    ("randread", "rand 4 KiB read (IOPS)", "iops", "{:.1f}"),
    ("randwrite", "rand 4 KiB write (IOPS)", "iops", "{:.1f}"),
)
BACKINGS = ("ebs", "instance-store")
LINE = re.compile(r"IOBENCH (mode=\S+(?: \w+=\S+)*)")
POLL_S = 0.2

EXAMPLES = """\
examples:
  # defaults (sized for a host whose guest kernel is emulated): 8 MiB sequential
  # in 1 MiB blocks, 400 random 4 KiB ops, one guest boot per backing; on kvm_pvm
  # a boot to power-off takes about 40 s, of which about 8 s is the I/O itself
  python3 tools/bench/storage.py --ec2lab /tmp/target-bench/release/ec2lab

  # on hardware KVM: 1 GiB sequential, 20000 random ops, 3 boots per backing
  python3 tools/bench/storage.py --seq-mib 1024 --rand-ops 20000 --runs 3

  # only the host side of the measurement (no guest), print only
  python3 tools/bench/storage.py --host-only --output -

  # keep the work directory (consoles, VMM logs, the prepared root image)
  python3 tools/bench/storage.py --keep --workdir /tmp/storage-bench

reading the numbers:
  guest/host near 1.00 means the VMM and the guest's block path cost little. On a
  host whose KVM is the software-assisted nested kvm_pvm (see /sys/module/kvm_pvm),
  every guest block request runs emulated guest-kernel code (about a microsecond
  per instruction) and the guest side is slowed by that, not by the VMM: ratios
  there say little about hardware KVM, where they are the VMM's own overhead.

  The VMM serves virtio-blk from the host file with ordinary (buffered) reads and
  writes, and a guest FLUSH becomes fdatasync; the host side uses O_DIRECT. So on the
  ebs backing a guest read can come from the host's page cache while the host
  measurement reads the disk: guest/host above 1 is possible there.

  The sizes are small by default so that a run takes a few minutes here; small transfers
  make the host numbers noisy (the host side is therefore run --host-runs times
  and the median is used). Scale up with --seq-mib, --seq-bs-kib and --rand-ops.
"""


class BenchError(Exception):
    """A failure worth a clear one-line message rather than a traceback."""


# --------------------------------------------------------------------------- helpers


def run(argv, **kw):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)


def fs_type(path):
    """(mount point, file system type) of the mount holding path, from /proc/mounts."""
    path = os.path.realpath(path)
    best = ("/", "unknown")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mnt = parts[1].replace("\\040", " ")
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
                    best = (mnt, parts[2])
    except OSError:
        pass
    return best


def parse_lines(text):
    """{mode: {key: value}} from IOBENCH lines (numbers as float, others as str)."""
    out = {}
    for m in LINE.finditer(text):
        fields = {}
        for kv in m.group(1).split():
            k, _, v = kv.partition("=")
            try:
                fields[k] = float(v)
            except ValueError:
                fields[k] = v
        out[fields["mode"]] = fields
    return out


def sparse_file(path, size):
    with open(path, "wb") as f:
        f.truncate(size)


def build_iobench(work):
    src = os.path.join(HERE, "iobench.c")
    exe = os.path.join(work, "iobench")
    r = run(["nice", "-n", "10", "gcc", "-O2", "-static", "-o", exe, src])
    if r.returncode != 0:
        raise BenchError(f"building iobench failed (gcc -O2 -static; Debian needs libc6-dev):\n"
                         f"{r.stderr.strip()}")
    return exe


def hook_script(args):
    return f"""\
# Written by tools/bench/storage.py: measure /dev/vdb, print, power off.
echo IOBENCH-BEGIN >/dev/console
/usr/bin/iobench /dev/vdb {','.join(MODES)} {args.seq_bytes} {args.bs_bytes} {args.rand_ops} >/dev/console 2>&1
echo "IOBENCH-END rc=$?" >/dev/console
poweroff -f
"""


def prepare_rootfs(args, work, iobench):
    """A copy of the root image with /usr/bin/iobench and the boot hook, via debugfs -w."""
    image = os.path.join(work, "rootfs-iobench.ext4")
    shutil.copyfile(args.rootfs, image)
    hook = os.path.join(work, "50-iobench.sh")
    with open(hook, "w") as f:
        f.write(hook_script(args))
    cmds = os.path.join(work, "debugfs.cmds")
    with open(cmds, "w") as f:
        f.write("\n".join([
            "cd /usr/bin", "rm iobench", f"write {iobench} iobench",
            "cd /etc/ec2lab/rc.d", "rm 50-iobench.sh", f"write {hook} 50-iobench.sh", ""]))
    # `rm` of a file that is not there only prints an error; debugfs still exits 0.
    r = run(["debugfs", "-w", "-f", cmds, image])
    if r.returncode != 0:
        raise BenchError(f"debugfs -w failed on {image}:\n{r.stderr.strip()}")
    for path, mode in (("/usr/bin/iobench", "0100755"), ("/etc/ec2lab/rc.d/50-iobench.sh", "0100644")):
        for field, value in (("mode", mode), ("uid", "0"), ("gid", "0")):
            r = run(["debugfs", "-w", "-R", f"sif {path} {field} {value}", image])
            if r.returncode != 0 or "sif:" in r.stderr:
                raise BenchError(f"debugfs sif {path} {field} failed: {r.stderr.strip()}")
    r = run(["debugfs", "-R", "stat /usr/bin/iobench", image])
    size = re.search(r"Size: (\d+)", r.stdout)
    if not size or int(size.group(1)) != os.path.getsize(iobench):
        raise BenchError(f"/usr/bin/iobench did not land in {image}:\n{r.stdout}{r.stderr}")
    r = run(["debugfs", "-R", "ls /etc/ec2lab/rc.d", image])
    if "50-iobench.sh" not in r.stdout:
        raise BenchError(f"the boot hook did not land in {image}: {r.stdout}{r.stderr}")
    return image


# --------------------------------------------------------------------------- guest


def guest_once(args, work, template, backing, data_dir, n):
    """Boots one guest with a fresh data file in data_dir; returns its measurements."""
    tag = f"guest-{backing}-{n}"
    root = os.path.join(work, f"{tag}-root.ext4")
    shutil.copyfile(template, root)
    data = os.path.join(data_dir, f"{tag}.img")
    sparse_file(data, args.seq_bytes)
    console = os.path.join(work, f"{tag}.console")
    log = os.path.join(work, f"{tag}.log")
    open(console, "wb").close()
    argv = [args.ec2lab, "vmm", "--kernel", args.kernel, "--mem-mib", str(args.mem_mib),
            "--disk", root, "--disk", data, "--serial-out", console]
    t0 = time.monotonic()
    seen = {}
    with open(log, "wb") as lf:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                                start_new_session=True)
    boot.LIVE[proc.pid] = proc
    try:
        while proc.poll() is None:
            if time.monotonic() - t0 > args.timeout:
                raise BenchError(f"{tag}: the guest did not power off within {args.timeout:.0f} s"
                                 f" (--timeout).\n  console ({console}):\n{boot.last_lines(console)}")
            with open(console, "rb") as f:
                text = f.read()
            for marker in (b"EC2LAB-GUEST-READY", b"IOBENCH-BEGIN", b"IOBENCH-END", b"Run /"):
                if marker in text and marker not in seen:
                    seen[marker] = time.monotonic() - t0
            time.sleep(POLL_S)
        wall = time.monotonic() - t0
    finally:
        boot.kill_tree(proc)
        for path in (data,) if args.keep else (data, root):
            try:
                os.unlink(path)
            except OSError:
                pass
    with open(console, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    lines = parse_lines(text)
    missing = [m for m in MODES if m not in lines]
    if missing:
        errors = "\n".join("    | " + l for l in text.splitlines() if "IOBENCH" in l) or "    (none)"
        raise BenchError(
            f"{tag}: no IOBENCH result for {', '.join(missing)} (VMM exit code {proc.returncode}).\n"
            f"  IOBENCH lines:\n{errors}\n  console ({console}):\n{boot.last_lines(console)}\n"
            f"  VMM log ({log}):\n{boot.last_lines(log, 5)}")
    clock = re.findall(r"clocksource: Switched to clocksource (\S+)", text)
    cmdline = re.search(r"Command line: (.*)", text)
    begin, end = seen.get(b"IOBENCH-BEGIN"), seen.get(b"IOBENCH-END")
    return {"lines": lines, "wall_s": wall, "exit": proc.returncode,
            "init_s": seen.get(b"Run /"),
            "observed_s": (end - begin) if begin is not None and end is not None else None,
            "clocksource": clock[-1] if clock else "unknown",
            "cmdline": cmdline.group(1).strip() if cmdline else None}


def host_once(args, iobench, backing, data_dir, n):
    path = os.path.join(data_dir, f"host-{backing}-{n}.img")
    sparse_file(path, args.seq_bytes)
    try:
        r = run([iobench, path, ",".join(MODES), str(args.seq_bytes), str(args.bs_bytes),
                 str(args.rand_ops)], timeout=args.timeout)
    finally:
        os.unlink(path)
    lines = parse_lines(r.stdout)
    if r.returncode != 0 or any(m not in lines for m in MODES):
        raise BenchError(f"iobench on the host ({path}) failed (exit {r.returncode}):\n"
                         f"{r.stdout}{r.stderr}")
    return {"lines": lines}


# --------------------------------------------------------------------------- report


def fmt_ratio(guest, host):
    """guest/host to three significant digits, and as 1/N when the guest is much slower."""
    if not host:
        return "n/a"
    r = guest / host
    return f"{r:.3g} (1/{1 / r:.0f})" if 0 < r < 0.1 else f"{r:.3g}"


def other_vmms():
    """Command lines of VMM processes on this host that this script did not start."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in boot.LIVE:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        name = os.path.basename(argv[0].decode(errors="replace"))
        if (name == "ec2lab" and b"vmm" in argv[1:3]) or name in ("firecracker", "qemu-system-x86_64"):
            out.append(f"{pid} {name}")
    return out


def median_of(runs, mode, key):
    return statistics.median(r["lines"][mode][key] for r in runs)


def directs(runs, mode):
    vals = sorted({int(r["lines"][mode]["direct"]) for r in runs})
    return "/".join("yes" if v else "no" for v in vals)


def results_table(res, args):
    out = ["| backing | measure | guest | host | guest/host | O_DIRECT guest/host |",
           "|---|---|---|---|---|---|"]
    for backing in BACKINGS:
        g, h = res[backing].get("guest"), res[backing]["host"]
        for mode, label, key, f in MEASURES:
            hv = median_of(h, mode, key)
            if g:
                gv = median_of(g, mode, key)
                ratio = f"**{fmt_ratio(gv, hv)}**"
                out.append(f"| {backing} | {label} | {f.format(gv)} | {f.format(hv)} | {ratio} | "
                           f"{directs(g, mode)}/{directs(h, mode)} |")
            else:
                out.append(f"| {backing} | {label} | - | {f.format(hv)} | - | -/{directs(h, mode)} |")
    return "\n".join(out)


def ratio_lines(res):
    lines = []
    for backing in BACKINGS:
        g, h = res[backing].get("guest"), res[backing]["host"]
        if not g:
            continue
        parts = []
        for mode, label, key, _ in MEASURES:
            hv = median_of(h, mode, key)
            parts.append(f"{label.split(' (')[0]} {fmt_ratio(median_of(g, mode, key), hv)}")
        lines.append(f"- {backing}: " + ", ".join(parts))
    return "\n".join(lines)


def per_run(res):
    out = ["| backing | side | run | " + " | ".join(f"{m} secs" for m in MODES) + " |",
           "|---|---|---|" + "---|" * len(MODES)]
    for backing in BACKINGS:
        for side in ("guest", "host"):
            for i, r in enumerate(res[backing].get(side) or []):
                out.append(f"| {backing} | {side} | {i + 1} | " +
                           " | ".join(f"{r['lines'][m]['secs']:.6f}" for m in MODES) + " |")
    return "\n".join(out)


def guest_notes(res):
    out = []
    for backing in BACKINGS:
        for i, r in enumerate(res[backing].get("guest") or []):
            timed = sum(r["lines"][m]["secs"] for m in MODES)
            seen = "n/a" if r["observed_s"] is None else f"{r['observed_s']:.1f} s"
            init = "n/a" if r["init_s"] is None else f"{r['init_s']:.1f} s"
            out.append(f"- {backing} boot {i + 1}: VMM exit code {r['exit']}, wall {r['wall_s']:.1f} s "
                       f"(init ran at {init}); the four measures took {timed:.2f} s by the guest's "
                       f"clock ({r['clocksource']}), IOBENCH-BEGIN to -END seen on the console "
                       f"{seen} by the host's (that includes starting iobench, about a second here)")
    return "\n".join(out)


def report(args, res, started, dirs):
    facts = boot.host_facts()
    cmd = "python3 tools/bench/storage.py " + shlex.join(sys.argv[1:])
    guest_runs = [r for b in BACKINGS for r in (res[b].get("guest") or [])]
    lines = [f"## Storage benchmark, {started:%Y-%m-%d %H:%M} UTC", ""]
    lines += [f"- {k}: {v}" for k, v in facts]
    lines.append(f"- Other VMM processes running at start (not started by this script): "
                 f"{', '.join(args.others) if args.others else 'none'}")
    if not args.host_only:
        ver = run([args.ec2lab, "--version"]).stdout.strip() or "ec2lab"
        git = run(["git", "-C", REPO, "describe", "--always", "--dirty"]).stdout.strip()
        lines.append(f"- ec2lab: {ver}" + (f" (source {git})" if git else "") + f" (`{args.ec2lab}`)")
        lines.append(f"- Guest: `{args.kernel}`, copy of `{args.rootfs}` with iobench and a boot "
                     f"hook added, {args.mem_mib} MiB, 1 vCPU; data disk = /dev/vdb")
        cmdlines = {r["cmdline"] for r in guest_runs if r["cmdline"]}
        if cmdlines:
            lines.append(f"- Guest kernel command line: `{' | '.join(sorted(cmdlines))}`")
    for backing in BACKINGS:
        mnt, fst = dirs[backing][1]
        lines.append(f"- {backing} files: `{dirs[backing][0]}` ({fst} mounted on `{mnt}`)")
    lines.append(f"- Workload: sequential {args.seq_mib} MiB in {args.seq_bs_kib} KiB blocks; "
                 f"{args.rand_ops} random 4 KiB ops over that span; order "
                 f"{', '.join(MODES)}; writes end with fdatasync (timed); fresh sparse file of "
                 f"{args.seq_mib} MiB per run")
    lines.append(f"- Runs: {args.runs} guest boot(s) and {args.host_runs} host run(s) per backing; "
                 "medians")
    lines += ["", "Command:", "", "```sh", cmd, "```", "", results_table(res, args), ""]
    if guest_runs:
        lines += ["Ratios guest/host (1.00 = no virtualization overhead; below 1 the guest is slower):",
                  "", ratio_lines(res), ""]
    lines += ["Seconds per measure, every run:", "", per_run(res), ""]
    if guest_runs:
        lines += ["Guest boots:", "", guest_notes(res), ""]
    if os.path.exists("/sys/module/kvm_pvm"):
        lines += ["This host's KVM is kvm_pvm (software-assisted nested KVM): guest kernel code is "
                  "emulated at about a microsecond per instruction, so every guest block request "
                  "(system call, virtio-blk driver, interrupt) is slow for reasons that have nothing "
                  "to do with the VMM. The ratios here say little about hardware KVM; measure there, "
                  "with larger sizes (`--seq-mib`, `--rand-ops`), for the VMM's own overhead.", ""]
    lines += ["The VMM serves virtio-blk with buffered reads and writes on the host file (a guest "
              "FLUSH becomes fdatasync), while the host-side measurement uses O_DIRECT where the "
              "file system allows it: guest reads of the ebs file can be served from the host's "
              "page cache. On tmpfs O_DIRECT opens succeed (Linux 6.6 and later) but everything is "
              "memory anyway.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args():
    p = argparse.ArgumentParser(
        prog="tools/bench/storage.py",
        description="Measure sequential read/write MiB/s and random 4 KiB read/write IOPS inside "
                    "an ec2lab guest on an EBS-style volume (sparse file on the host disk) and on an "
                    "instance store (sparse file on tmpfs), the same on the host, and report "
                    "guest/host.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    boot.add_guest_args(p, rootfs_help="root image to copy and add iobench to (default "
                                       "guest-images/out/rootfs.ext4; its /etc/init.d/rcS must "
                                       "source /etc/ec2lab/rc.d/*.sh)")
    p.add_argument("--seq-mib", type=int, default=8,
                   help="MiB moved by each sequential measure; also the data file size and the "
                        "random span (default 8; use 1024 or more on hardware KVM)")
    p.add_argument("--seq-bs-kib", type=int, default=1024,
                   help="block size of the sequential measures in KiB (default 1024)")
    p.add_argument("--rand-ops", type=int, default=400,
                   help="4 KiB operations per random measure (default 400; 20000 or more on "
                        "hardware KVM)")
    p.add_argument("--runs", type=int, default=1,
                   help="guest boots per backing (default 1; each boot takes a minute or more here)")
    p.add_argument("--host-runs", type=int, default=5,
                   help="host-side runs per backing, median reported (default 5)")
    p.add_argument("--host-only", action="store_true",
                   help="measure the host side only (no guest; no ratios)")
    p.add_argument("--timeout", type=float, default=900,
                   help="seconds a guest may take from VMM start to power-off (default 900)")
    p.add_argument("--shm-dir", default="/dev/shm",
                   help="tmpfs directory for the instance-store files (default /dev/shm; a "
                        "subdirectory is made and removed)")
    p.add_argument("--output", default=os.path.join(REPO, "docs", "benchmarks.md"),
                   help="markdown file to append the results to (default docs/benchmarks.md; "
                        "'-' to only print)")
    p.add_argument("--workdir", help="where the root image copy, consoles, logs and the ebs files "
                                     "go; it must be on a disk, not tmpfs (default: a new "
                                     "directory under /var/tmp, removed at the end)")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory (consoles, VMM logs, prepared root image)")
    args = p.parse_args()
    for name in ("seq_mib", "seq_bs_kib", "rand_ops", "runs", "host_runs"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.seq_mib * 1024 < args.seq_bs_kib or (args.seq_mib * 1024) % args.seq_bs_kib:
        p.error("--seq-mib must be a whole number of --seq-bs-kib blocks")
    if args.seq_bs_kib % 4:
        p.error("--seq-bs-kib must be a multiple of 4")
    args.seq_bytes = args.seq_mib << 20
    args.bs_bytes = args.seq_bs_kib << 10
    for attr in ("ec2lab", "kernel", "rootfs"):
        setattr(args, attr, os.path.abspath(getattr(args, attr)))
    return args


def check_inputs(args):
    for tool in ("gcc", "debugfs"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} is not installed (Debian: gcc libc6-dev e2fsprogs)")
    if args.host_only:
        return
    for what, path in (("guest kernel", args.kernel), ("root image", args.rootfs)):
        if not os.path.isfile(path):
            raise BenchError(f"{what} {path} is missing: run guest-images/build.sh "
                             "(or pass --kernel/--rootfs)")
    if not (os.path.isfile(args.ec2lab) and os.access(args.ec2lab, os.X_OK)):
        raise BenchError(f"ec2lab binary {args.ec2lab} is missing: run `cargo build --release` "
                         "(or pass --ec2lab PATH)")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise BenchError("/dev/kvm is missing or not readable and writable by this user")


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, boot.on_sigterm)
    started = datetime.datetime.now(datetime.timezone.utc)
    args.others = other_vmms()
    work = shm = None
    try:
        check_inputs(args)
        work = args.workdir or tempfile.mkdtemp(prefix="ec2lab-storage-", dir="/var/tmp")
        os.makedirs(work, exist_ok=True)
        work = os.path.abspath(work)
        shm = tempfile.mkdtemp(prefix="ec2lab-storage-", dir=args.shm_dir)
        dirs = {"ebs": (work, fs_type(work)), "instance-store": (shm, fs_type(shm))}
        if dirs["ebs"][1][1] in ("tmpfs", "ramfs"):
            raise BenchError(f"the work directory {work} is on {dirs['ebs'][1][1]}; the ebs files "
                             "must be on a disk: pass --workdir")
        if dirs["instance-store"][1][1] != "tmpfs":
            print(f"warning: {shm} is on {dirs['instance-store'][1][1]}, not tmpfs", file=sys.stderr)
        print(f"work directory: {work}; instance-store files in {shm}", file=sys.stderr)
        iobench = build_iobench(work)
        template = None if args.host_only else prepare_rootfs(args, work, iobench)
        res = {b: {"host": []} for b in BACKINGS}
        for backing in BACKINGS:
            data_dir = dirs[backing][0]
            if not args.host_only:
                res[backing]["guest"] = []
                for n in range(1, args.runs + 1):
                    print(f"[{backing}] guest boot {n}/{args.runs} ...", end="", flush=True,
                          file=sys.stderr)
                    r = guest_once(args, work, template, backing, data_dir, n)
                    res[backing]["guest"].append(r)
                    print(f" powered off after {r['wall_s']:.1f} s (exit {r['exit']}): " +
                          ", ".join(f"{m} {r['lines'][m]['secs']:.3f} s" for m in MODES),
                          file=sys.stderr)
            for n in range(1, args.host_runs + 1):
                r = host_once(args, iobench, backing, data_dir, n)
                res[backing]["host"].append(r)
                print(f"[{backing}] host run {n}/{args.host_runs}: " +
                      ", ".join(f"{m} {r['lines'][m]['secs']:.4f} s" for m in MODES), file=sys.stderr)
        text = report(args, res, started, dirs)
        print(text)
        if args.output != "-":
            boot.append_results(args.output, text)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; stopping the guest", file=sys.stderr)
        return 130
    except BenchError as e:
        print(f"\nstorage.py: error: {e}", file=sys.stderr)
        return 1
    finally:
        boot.kill_leftovers()
        if shm:
            shutil.rmtree(shm, ignore_errors=True)
        if work and not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
        elif work:
            print(f"kept {work}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
