#!/usr/bin/env bash
# ec2lab-stress on this host, in seconds: it passes on a sound kernel, and it catches a
# register that a signal return did not restore (--selftest-corrupt changes r13 in the
# interrupted context), naming the register and both values.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -Wall -Wextra -Werror -static -pthread -o "$tmp/ec2lab-stress" "$here/ec2lab-stress.c"

out=$("$tmp/ec2lab-stress" -t 2) || { echo "$out"; echo "selftest: ec2lab-stress failed on this host" >&2; exit 1; }
echo "$out"
grep -q '^EC2LAB-STRESS: PASS .* forks, .* execs' <<<"$out"

set +e
bad=$("$tmp/ec2lab-stress" --selftest-corrupt -t 2)
rc=$?
set -e
echo "$bad" | tail -n 1
[[ $rc == 1 ]] || { echo "selftest: a corrupted r13 gave exit status $rc, not 1" >&2; exit 1; }
grep -q '^EC2LAB-STRESS: FAIL .*register r13 after .*: got 0x[0-9a-f]*, want 0x' <<<"$bad" \
    || { echo "selftest: the corrupted r13 was not named: $bad" >&2; exit 1; }
echo "selftest: ok"
