#!/usr/bin/env bash
# Runs ec2lab-agent on this host against tests/fake_imds.py, in a scratch root
# (EC2LAB_AGENT_ROOT), and checks what a guest would see: console lines, hostname,
# authorized_keys (mode, owner), user data once per instance, IMDSv1 fallback,
# token renewal, unsupported formats, an unreachable service. Run as root (chown).
#   guest-images/agent/tests/host-test.sh [path/to/ec2lab-agent]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AGENT_DIR=$(dirname "$HERE")
TARGET_DIR=${CARGO_TARGET_DIR:-${EC2LAB_CACHE_DIR:-/var/cache/ec2lab}/agent-target}
if (($#)); then
    AGENT=$1
else
    CARGO_TARGET_DIR=$TARGET_DIR cargo build --quiet --manifest-path "$AGENT_DIR/Cargo.toml"
    AGENT=$TARGET_DIR/debug/ec2lab-agent
fi
((EUID == 0)) || { echo "host-test.sh: run as root (the agent chowns to 1000:1000)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/ec2lab-agent-test-XXXXXX)
SERVER_PID=
cleanup() {
    [[ -z $SERVER_PID ]] || kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
FAILS=0
pass() { printf '  ok    %s\n' "$*"; }
fail() { printf '  FAIL  %s\n' "$*"; FAILS=$((FAILS + 1)); }
check() { # description, command...
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
has() { grep -qF -- "$2" "$1"; }

serve() { # mode instance-id key-file user-data-file
    [[ -z $SERVER_PID ]] || { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; }
    rm -f "$WORK/port"
    local args=(--mode "$1" --instance-id "$2" --port 0 --port-file "$WORK/port")
    [[ -z $3 ]] || args+=(--key-file "$3")
    [[ -z $4 ]] || args+=(--user-data-file "$4")
    python3 "$HERE/fake_imds.py" "${args[@]}" 2>>"$WORK/imds.log" &
    SERVER_PID=$!
    for _ in $(seq 50); do [[ -s $WORK/port ]] && break; sleep 0.1; done
    PORT=$(cat "$WORK/port")
}

ROOT=$WORK/root
mkdir -p "$ROOT"/{proc/sys/kernel,etc,var/log,home/ec2-user}
echo 'console=ttyS0 ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off' >"$ROOT/proc/cmdline"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tec2lab\n' >"$ROOT/etc/hosts"
echo ec2lab >"$ROOT/etc/hostname"
mkdir -p "$ROOT/etc/dropbear" && echo old >"$ROOT/etc/dropbear/dropbear_ed25519_host_key"

run_agent() { # output file
    EC2LAB_AGENT_ROOT=$ROOT EC2LAB_AGENT_IMDS=127.0.0.1:$PORT EC2LAB_AGENT_BUDGET_SECS=${BUDGET:-20} \
        "$AGENT" boot --foreground >"$1" 2>&1
}

echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostTestKeyOnlyForParsingxxxxxxxxxxxxxxxx test@host" >"$WORK/key.pub"
cat >"$WORK/ud.sh" <<'UD'
#!/bin/bash
echo "user data ran as $(id -u)" 
echo run >>"$EC2LAB_TEST_ROOT/runs"
exit 3
UD
sed -i "s|\$EC2LAB_TEST_ROOT|$ROOT|" "$WORK/ud.sh"

echo "1. IMDSv2, key and a #!/bin/bash script"
serve v2 i-aaaa "$WORK/key.pub" "$WORK/ud.sh"
run_agent "$WORK/out1"
check "key line" has "$WORK/out1" "ec2lab-agent: ssh key installed for ec2-user"
check "running line" has "$WORK/out1" "ec2lab-agent: running user data"
check "status line" has "$WORK/out1" "ec2lab-agent: user data exited with status 3"
check "script output on the console" has "$WORK/out1" "user data ran as 0"
check "hostname set" test "$(cat "$ROOT/proc/sys/kernel/hostname")" = ip-10-254-99-2.lab-1.compute.internal
check "/etc/hostname" test "$(cat "$ROOT/etc/hostname")" = ip-10-254-99-2.lab-1.compute.internal
check "/etc/hosts" has "$ROOT/etc/hosts" $'127.0.1.1\tip-10-254-99-2.lab-1.compute.internal ip-10-254-99-2'
AK=$ROOT/home/ec2-user/.ssh/authorized_keys
check "authorized_keys content" cmp -s "$AK" "$WORK/key.pub"
check "authorized_keys 0600 1000:1000" test "$(stat -c '%a %u:%g' "$AK")" = "600 1000:1000"
check ".ssh 0700 1000:1000" test "$(stat -c '%a %u:%g' "$(dirname "$AK")")" = "700 1000:1000"
check "saved script 0700" test "$(stat -c '%a' "$ROOT/var/lib/ec2lab-agent/i-aaaa/user-data")" = 700
check "status recorded" test "$(cat "$ROOT/var/lib/ec2lab-agent/i-aaaa/user-data.status")" = 3
check "cloud-init-output.log" has "$ROOT/var/log/cloud-init-output.log" "user data ran as 0"
check "image host keys removed on first boot" test ! -e "$ROOT/etc/dropbear/dropbear_ed25519_host_key"
check "IMDSv2 token used" grep -q '"PUT /latest/api/token' "$WORK/imds.log"

echo "2. second boot of the same instance"
run_agent "$WORK/out2"
check "already-ran line" has "$WORK/out2" "ec2lab-agent: user data already ran for i-aaaa"
check "ran exactly once" test "$(wc -l <"$ROOT/runs")" = 1
check "key not duplicated" test "$(wc -l <"$AK")" = 1

echo "3. an image of it launched as a new instance, IMDSv1 only"
serve v1 i-bbbb "" "$WORK/ud.sh"
run_agent "$WORK/out3"
check "IMDSv1 fallback logged" has "$WORK/out3" "using IMDSv1"
check "no key line" has "$WORK/out3" "ec2lab-agent: no ssh key in metadata"
check "user data runs for the new instance" test "$(wc -l <"$ROOT/runs")" = 2
check "old key kept (cloud-init keeps keys too)" cmp -s "$AK" "$WORK/key.pub"

echo "4. expired token renewed once"
serve expire i-cccc "$WORK/key.pub" ""
run_agent "$WORK/out4"
check "renewal logged" has "$WORK/out4" "HTTP 401 (token rejected), getting a new token"
check "no user data line" has "$WORK/out4" "ec2lab-agent: no user data"
check "key installed after renewal" has "$WORK/out4" "ssh key installed for ec2-user"

echo "5. #cloud-config and gzip user data"
printf '#cloud-config\npackages: [httpd]\n' >"$WORK/cc"
serve v2 i-dddd "" "$WORK/cc"
run_agent "$WORK/out5"
check "cloud-config refused clearly" has "$WORK/out5" "ec2lab-agent: error: user data is #cloud-config"
printf '#!/bin/sh\necho hi\n' | gzip >"$WORK/gz"
serve v2 i-eeee "" "$WORK/gz"
run_agent "$WORK/out6"
check "gzip refused clearly" has "$WORK/out6" "ec2lab-agent: error: user data is gzip-compressed"

echo "6. a script that leaves a daemon holding its output"
printf '#!/bin/sh\necho started\nsleep 30 &\nexit 0\n' >"$WORK/daemon.sh"
serve v2 i-ffff "" "$WORK/daemon.sh"
start=$SECONDS
run_agent "$WORK/out8"
check "status line printed without waiting for the daemon" test $((SECONDS - start)) -le 8
check "its status" has "$WORK/out8" "ec2lab-agent: user data exited with status 0"

echo "7. metadata service unreachable (budget 3 s)"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
start=$SECONDS
BUDGET=3 run_agent "$WORK/out7"
check "gives up within the budget" test $((SECONDS - start)) -le 8
check "each failure logged" test "$(grep -c 'ec2lab-agent: error: PUT /latest/api/token' "$WORK/out7")" -ge 2
check "final error line" has "$WORK/out7" "ec2lab-agent: error: instance metadata from"

echo "8. the applets: curl (compared with the host's curl where it has one), ec2-metadata, lsblk"
BIN=$WORK/bin
mkdir -p "$BIN"
for applet in curl ec2-metadata lsblk; do ln -s "$AGENT" "$BIN/$applet"; done
serve v2 i-gggg "$WORK/key.pub" ""
IMDS=http://127.0.0.1:$PORT
# The AWS documentation's IMDSv2 lines, unchanged but for the address.
TOKEN=$("$BIN/curl" -X PUT "$IMDS/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 21600" 2>"$WORK/meter")
check "curl -X PUT gets a token" test -n "$TOKEN"
check "progress meter on stderr without -s" has "$WORK/meter" "% Total    % Received"
check "curl -H token: the instance id" test "$("$BIN/curl" -s -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/instance-id")" = i-gggg
check "curl -w http_code without a token: 401" test "$("$BIN/curl" -s -o /dev/null -w '%{http_code}' "$IMDS/latest/meta-data/instance-id")" = 401
"$BIN/curl" -sf "$IMDS/latest/meta-data/instance-id" >"$WORK/f.out" 2>"$WORK/f.err" && rc=0 || rc=$?
check "curl -f on 401: exit 22, no output, silent" test "$rc:$(cat "$WORK/f.out" "$WORK/f.err")" = "22:"
"$BIN/curl" -sSf "$IMDS/nothing" 2>"$WORK/f.err" && rc=0 || rc=$?
check "curl -sSf shows the error" test "$rc:$(cat "$WORK/f.err")" = "22:curl: (22) The requested URL returned error: 401"
"$BIN/curl" -s "http://127.0.0.1:1/" && rc=0 || rc=$?
check "curl: refused connection exits 7" test "$rc" = 7
"$BIN/curl" -s "https://bit.ly/afbtest01" && rc=0 || rc=$?
check "curl: https exits 1 (no TLS in the image)" test "$rc" = 1
check "curl -L follows a redirect" test "$("$BIN/curl" -sL -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/redirect")" = i-gggg
"$BIN/curl" -s -H "X-aws-ec2-metadata-token: $TOKEN" -o "$WORK/o.txt" "$IMDS/latest/meta-data/instance-id"
check "curl -o writes the file" test "$(cat "$WORK/o.txt")" = i-gggg
"$BIN/curl" -v -s -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/instance-id" >/dev/null 2>"$WORK/v.err"
check "curl -v shows the request and the response" grep -q '^> X-aws-ec2-metadata-token: ' "$WORK/v.err"
check "curl -v response status" grep -q '^< HTTP/1.1 200 OK' "$WORK/v.err"
check "curl -i includes the status line" grep -q '^HTTP/1.1 200 OK' <("$BIN/curl" -si -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/instance-id")
if [[ -x /usr/bin/curl ]]; then
    same() { # args...: stdout and exit code equal to the host's curl
        local a b ra rb
        a=$(/usr/bin/curl "$@" 2>/dev/null) && ra=0 || ra=$?
        b=$("$BIN/curl" "$@" 2>/dev/null) && rb=0 || rb=$?
        [[ $a == "$b" && $ra == "$rb" ]] || { echo "    curl $*: host '$a' ($ra), applet '$b' ($rb)"; return 1; }
    }
    H="X-aws-ec2-metadata-token: $TOKEN"
    check "same as curl: -s -H" same -s -H "$H" "$IMDS/latest/meta-data/instance-id"
    check "same as curl: -w http_code" same -s -w '%{http_code}\n' -H "$H" "$IMDS/latest/meta-data/hostname"
    check "same as curl: -w size/content type" same -s -o /dev/null -w '%{size_download} %{content_type} %{num_redirects}' -H "$H" "$IMDS/redirect" -L
    check "same as curl: -f 404" same -sf -H "$H" "$IMDS/latest/meta-data/nothing"
    check "same as curl: 404 body" same -s -H "$H" "$IMDS/latest/meta-data/nothing"
    check "same as curl: -fsSL" same -fsSL -H "$H" "$IMDS/redirect"
    check "same as curl: -X PUT token ttl 0 (400)" same -s -w '%{http_code}' -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 0" "$IMDS/latest/api/token"
fi
out=$(EC2LAB_AGENT_IMDS=127.0.0.1:$PORT "$BIN/ec2-metadata" -i)
check "ec2-metadata -i" test "$out" = "instance-id: i-gggg"
out=$(EC2LAB_AGENT_IMDS=127.0.0.1:$PORT "$BIN/ec2-metadata" --instance-id --quiet)
check "ec2-metadata --instance-id --quiet" test "$out" = "i-gggg"
out=$(EC2LAB_AGENT_IMDS=127.0.0.1:$PORT "$BIN/ec2-metadata" -v)
check "ec2-metadata -v: not available" test "$out" = "public-ipv4: not available"
EC2LAB_AGENT_IMDS=127.0.0.1:$PORT "$BIN/ec2-metadata" >"$WORK/all"
check "ec2-metadata (all): instance id and key" grep -qx "instance-id: i-gggg" "$WORK/all"
"$BIN/ec2-metadata" -x 2>/dev/null && rc=0 || rc=$?
check "ec2-metadata -x: an error" test "$rc" = 1
"$BIN/lsblk" >"$WORK/lsblk"
check "lsblk heading" grep -q '^NAME  *MAJ:MIN RM  *SIZE RO TYPE MOUNTPOINTS$' "$WORK/lsblk"
if command -v lsblk >/dev/null && [[ $(command -v lsblk) != "$BIN/lsblk" ]]; then
    check "same as util-linux lsblk -d -b" diff <(lsblk -d -b -e 7 -o NAME,MAJ:MIN,RM,SIZE,RO,TYPE | awk 'NF >= 6 {print $1,$2,$3,$4,$5,$6}' | sort) \
        <("$BIN/lsblk" -d -b | grep -v '^loop' | awk 'NF >= 6 {print $1,$2,$3,$4,$5,$6}' | sort)
fi

if ((FAILS)); then
    echo "host-test.sh: $FAILS check(s) failed; agent output:"
    tail -n +1 "$WORK"/out*
    exit 1
fi
echo "host-test.sh: all checks passed"
