#!/usr/bin/env bash
# pass never fails, so "cond && pass ... || fail ..." is an if-then-else here.
# shellcheck disable=SC2015
# The classic EC2 httpd lab on a real guest of out/rootfs.ext4, with this host's
# OpenSSH client and curl, and a fake instance metadata service
# (agent/tests/fake_imds.py) on the host end of a tap:
#   boot (ec2lab vmm, ec2lab.imds=HOST:PORT) -> READY -> ssh as ec2-user (ed25519 and
#   RSA keys, a pty, sudo id) -> another key refused -> user data (yum install httpd,
#   systemctl start/enable httpd, index.html) done -> curl the page ->
#   `sudo reboot` (the VMM exits on the reset; started again on the same disk) ->
#   user data not run again, httpd back (enabled) -> Ctrl-Alt-Del power-off
#   (vmm-ctl shutdown) -> start again -> still not run again.
# Prints timings. Holds the host-wide real-guest lock (one guest at a time).
#   guest-images/lab-test.sh [--keep]     (--keep: leave the work directory)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
EC2LAB=${EC2LAB:-$REPO/target/debug/ec2lab}
KERNEL=$HERE/out/vmlinux
IMAGE=$HERE/out/rootfs.ext4
TAP=${LAB_TAP:-ec2lab-lab0}
NET=${LAB_NET:-10.254.98}
HOST_IP=$NET.1
GUEST_IP=$NET.2
IMDS_PORT=8080
INSTANCE_ID=i-0ab1c2d3e4f5a6b7c
BOOT_TIMEOUT=300
KEEP=0
[[ ${1:-} == --keep ]] && KEEP=1

[[ -x $EC2LAB ]] || { echo "lab-test.sh: $EC2LAB missing: cargo build first" >&2; exit 1; }
[[ -f $KERNEL && -f $IMAGE ]] || { echo "lab-test.sh: run guest-images/build.sh first" >&2; exit 1; }
((EUID == 0)) || { echo "lab-test.sh: run as root (tap device)" >&2; exit 1; }

exec 8>/run/ec2lab-real-guest-tests.lock
echo "lab-test.sh: waiting for the real-guest lock..."
flock 8

WORK=$(mktemp -d /tmp/ec2lab-lab-XXXXXX)
VMM_PID=
IMDS_PID=
cleanup() {
    [[ -z $VMM_PID ]] || kill "$VMM_PID" 2>/dev/null || true
    [[ -z $IMDS_PID ]] || kill "$IMDS_PID" 2>/dev/null || true
    ip link del "$TAP" 2>/dev/null || true
    if ((KEEP)); then echo "lab-test.sh: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
FAILS=0
pass() { printf '  ok    %s\n' "$*"; }
fail() { printf '  FAIL  %s\n' "$*"; FAILS=$((FAILS + 1)); }
now() { date +%s.%N; }
since() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }

ip link del "$TAP" 2>/dev/null || true
ip tuntap add "$TAP" mode tap
ip addr add "$HOST_IP/30" dev "$TAP"
ip link set "$TAP" up

ssh-keygen -q -t ed25519 -N '' -C lab-ed25519 -f "$WORK/id_ed25519"
ssh-keygen -q -t rsa -b 3072 -N '' -C lab-rsa -f "$WORK/id_rsa"
ssh-keygen -q -t ed25519 -N '' -C other -f "$WORK/id_other"
# The key pair's public key (EC2 serves one; both lines here, to try both algorithms).
cat "$WORK/id_ed25519.pub" "$WORK/id_rsa.pub" >"$WORK/keypair.pub"
# The AWS lab's user data, unchanged (Amazon Linux 2); LAB_USER_DATA=FILE replaces it.
cat >"$WORK/user-data" <<'EOF'
#!/bin/bash
yum update -y
yum install -y httpd
systemctl start httpd
systemctl enable httpd
echo "<h1>Hello World from $(hostname -f)</h1>" > /var/www/html/index.html
EOF
[[ -z ${LAB_USER_DATA:-} ]] || cp "$LAB_USER_DATA" "$WORK/user-data"

python3 "$HERE/agent/tests/fake_imds.py" --bind "$HOST_IP" --port "$IMDS_PORT" \
    --instance-id "$INSTANCE_ID" --key-file "$WORK/keypair.pub" \
    --user-data-file "$WORK/user-data" 2>"$WORK/imds.log" &
IMDS_PID=$!

DISK=$WORK/root.ext4
cp --sparse=always "$IMAGE" "$DISK"
CONSOLE=$WORK/console
SOCK=$WORK/api.sock

boot() { # boots the guest (appending to the console file); sets BOOT_START
    rm -f "$SOCK"
    : >"$CONSOLE.mark"
    BOOT_START=$(now)
    # Where this boot's output begins: taken before the VMM can write any of it.
    CONSOLE_FROM=$(stat -c %s "$CONSOLE" 2>/dev/null || echo 0)
    "$EC2LAB" vmm --kernel "$KERNEL" --disk "$DISK" --net "tap=$TAP" \
        --append "ip=$GUEST_IP::$HOST_IP:255.255.255.252::eth0:off ec2lab.imds=$HOST_IP:$IMDS_PORT" \
        --serial-out "$CONSOLE" --api-sock "$SOCK" </dev/null 2>>"$WORK/vmm.err" &
    VMM_PID=$!
}
console_since_boot() { tail -c +$((CONSOLE_FROM + 1)) "$CONSOLE" 2>/dev/null; }
wait_for() { # text, timeout seconds
    local end=$((SECONDS + $2))
    while ((SECONDS < end)); do
        console_since_boot | grep -qF -- "$1" && return 0
        kill -0 "$VMM_PID" 2>/dev/null || { console_since_boot | grep -qF -- "$1"; return; }
        sleep 0.2
    done
    return 1
}
SSH=(ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o LogLevel=ERROR -o ConnectTimeout=20)
vmm_times() { "$EC2LAB" vmm-ctl --api-sock "$SOCK" status | python3 -c 'import json,sys; s=json.load(sys.stdin)["status"]; print(s.get("init_started_ms"), s.get("ready_ms"))'; }
vmm_exited() { # wanted exit code, what it means, what made the VMM exit: waits for it
    local rc=0
    wait "$VMM_PID" || rc=$?
    VMM_PID=
    [[ $rc == "$1" ]] && pass "$2 (exit $1)" || fail "VMM exit $rc after $3 (want $1)"
}
boot_again() { # what the boot follows: boots and waits for READY, or gives up
    boot
    if wait_for EC2LAB-GUEST-READY $BOOT_TIMEOUT; then
        read -r init_ms ready_ms < <(vmm_times)
        pass "READY after $(since "$BOOT_START") s (init ${init_ms} ms, ready ${ready_ms} ms)"
    else
        fail "no READY after $1"; tail -30 "$CONSOLE"; exit 1
    fi
}

echo "== boot 1 (first boot of $INSTANCE_ID)"
boot
if wait_for EC2LAB-GUEST-READY $BOOT_TIMEOUT; then
    read -r init_ms ready_ms < <(vmm_times)
    pass "READY after $(since "$BOOT_START") s wall (init at ${init_ms} ms, ready at ${ready_ms} ms)"
    READY_AT=$(now)
else
    fail "no READY marker"; tail -30 "$CONSOLE"; exit 1
fi
for l in "ec2lab-agent: ssh key installed for ec2-user" "ec2lab-agent: first boot of instance $INSTANCE_ID"; do
    if console_since_boot | grep -qF "$l"; then pass "console: $l"; else fail "console lacks: $l"; fi
done

t=$(now)
if out=$("${SSH[@]}" -i "$WORK/id_ed25519" "ec2-user@$GUEST_IP" 'id; hostname; sudo id' 2>&1); then
    pass "ssh (ed25519) as ec2-user in $(since "$t") s (first connection: host key made)"
    printf '        %s\n' "${out//$'\n'/$'\n'        }"
    echo "$out" | grep -q '^uid=0(root)' && pass "sudo id gives root" || fail "sudo id: $out"
else
    fail "ssh ed25519: $out"
fi
t=$(now)
if out=$("${SSH[@]}" -i "$WORK/id_ed25519" "ec2-user@$GUEST_IP" true 2>&1); then
    pass "second ssh login (ed25519) in $(since "$t") s"
else fail "second ssh: $out"; fi
t=$(now)
if out=$("${SSH[@]}" -v -i "$WORK/id_rsa" -o IdentitiesOnly=yes "ec2-user@$GUEST_IP" 'echo rsa-ok' 2>&1) \
    && echo "$out" | grep -q rsa-ok; then
    pass "ssh (RSA, $(echo "$out" | grep -oE 'Server accepts key: .* RSA|rsa-sha2-(256|512)' | tail -n1)) in $(since "$t") s"
else
    fail "ssh RSA: $(echo "$out" | tail -5)"
fi
if out=$("${SSH[@]}" -i "$WORK/id_other" -o IdentitiesOnly=yes "ec2-user@$GUEST_IP" true 2>&1); then
    fail "a key not in the metadata logged in"
elif [[ $out == *"Permission denied (publickey)"* ]]; then
    pass "another key refused: $(echo "$out" | tail -n1)"
else
    fail "another key: unexpected error: $out"
fi
if out=$("${SSH[@]}" -tt -i "$WORK/id_ed25519" "ec2-user@$GUEST_IP" 'tty' 2>&1) && echo "$out" | grep -q /dev/pts/; then
    pass "interactive session gets a pty: $(echo "$out" | tr -d '\r' | grep /dev/pts/)"
else
    fail "no pty: $out"
fi

if wait_for "ec2lab-agent: user data exited with status" 180; then
    status=$(console_since_boot | grep -oE 'user data exited with status [0-9]+' | tail -n1)
    pass "$status, $(since "$READY_AT") s after READY"
    [[ $status == *"status 0" ]] || fail "user data failed"
else
    fail "user data did not finish"
fi
t=$(now)
if page=$(curl -sS --max-time 20 "http://$GUEST_IP/"); then
    pass "curl http://$GUEST_IP/ in $(since "$t") s: $page"
    [[ $page == *"Hello World from"* ]] || fail "unexpected page"
else
    fail "curl: $page"
fi

echo "== reboot from inside (sudo reboot)"
"${SSH[@]}" -i "$WORK/id_ed25519" "ec2-user@$GUEST_IP" 'sudo reboot' >/dev/null 2>&1 || true
vmm_exited 5 "the VMM saw the guest reset" reboot
boot_again reboot
console_since_boot | grep -qF "ec2lab-agent: user data already ran for $INSTANCE_ID" \
    && pass "console: user data already ran for $INSTANCE_ID" || fail "no already-ran line"
console_since_boot | grep -qF "ec2lab-agent: running user data" && fail "user data ran again" || true
console_since_boot | grep -q "EXT4-fs.*unchecked\|not clean" && fail "root fs not clean after reboot" || pass "root fs clean after reboot"
if page=$(curl -sS --max-time 20 "http://$GUEST_IP/"); then
    pass "httpd back after reboot (systemctl enable): $page"
else
    fail "httpd not back after reboot"
fi

echo "== stop (Ctrl-Alt-Del power-off) and start"
"$EC2LAB" vmm-ctl --api-sock "$SOCK" shutdown --timeout-secs 120 >/dev/null
vmm_exited 0 "powered off" shutdown
boot_again start
console_since_boot | grep -qF "ec2lab-agent: user data already ran for $INSTANCE_ID" \
    && pass "console: user data already ran (stop/start)" || fail "no already-ran line after start"
grep -c "ec2lab-agent: running user data" "$CONSOLE" | grep -qx 1 \
    && pass "user data ran exactly once over three boots" || fail "user data ran more than once"
"$EC2LAB" vmm-ctl --api-sock "$SOCK" shutdown --timeout-secs 120 >/dev/null
wait "$VMM_PID" || true
VMM_PID=

echo "== agent lines on the console"
grep -a 'ec2lab-agent:' "$CONSOLE" | sed 's/^/    /'
if ((FAILS)); then
    echo "lab-test.sh: $FAILS check(s) failed (console: $CONSOLE)"
    KEEP=1
    exit 1
fi
echo "lab-test.sh: all checks passed"
