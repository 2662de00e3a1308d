#!/usr/bin/env bash
# Fuzzes ec2lab's guest- and user-facing parsers with libFuzzer (libfuzzer-sys, on the
# stable toolchain: coverage through rustc's sancov pass, no sanitizer, no nightly).
#
#   tools/bench/fuzz.sh                 every target for 10 million executions, one at a
#                                       time at nice 19; figures into docs/benchmarks.md
#   tools/bench/fuzz.sh --runs N [T…]   N executions of targets T… (default: all)
#   tools/bench/fuzz.sh --from-logs [T…] the figures of the last runs again (e.g. of a
#                                       run cut short), into docs/benchmarks.md
#   tools/bench/fuzz.sh --ci            CI's short run: each target for 100,000
#                                       executions or 12 s, whichever ends first; docs
#                                       untouched; fails on any crash, hang or
#                                       runaway allocation
#
# Each target starts from its committed seeds (fuzz/corpus/T) and grows a working corpus
# under the build cache, so later runs go on from what earlier ones found. A crash, a
# timeout (10 s for one input) or an out-of-memory (2 GiB) stops the target; its input
# is kept as fuzz/artifacts/T/… to turn into a regression test.
set -euo pipefail
cd "$(dirname "$0")/../.."

runs=10000000
max_time=0
ci=0
from_logs=0
targets=()
while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --ci) ci=1; runs=100000; max_time=12; shift ;;
    --from-logs) from_logs=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(virtio_block virtio_net virtio_mmio metadata_http metadata_ipc api_params aws_query_json cli_shorthand key_formats)
((${#targets[@]})) || targets=("${all[@]}")

# Outside the checkout, like the guest kernel's cache: the instrumented dependency build
# takes minutes once and is reused by every later run (and CI's fresh clones).
cache=${EC2LAB_CACHE_DIR:-/var/cache/ec2lab}
export CARGO_TARGET_DIR=${EC2LAB_FUZZ_TARGET_DIR:-$cache/fuzz-target}
triple=x86_64-unknown-linux-gnu
# cargo-fuzz's flags, minus the sanitizer: inline 8-bit edge counters, the PC table
# libFuzzer's coverage figures come from, and comparison tracing. --target keeps them off
# build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth"

work=$CARGO_TARGET_DIR/corpus
artifacts=$PWD/fuzz/artifacts
# Logs and table rows per target; CI's short runs keep theirs apart from the benchmark's.
logdir=$CARGO_TARGET_DIR/logs
((ci)) && logdir+=-ci
rowdir=$logdir/rows
mkdir -p "$rowdir"
failed=0

# Figures of target $1 from its log ($2: wall seconds, or empty to take them from the
# log), printed and kept as its row of the table.
figures() {
  local t=$1 secs=$2 log=$logdir/$1.log execs rate last cov ft corp crashes
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  # A run cut short has no final stats: its last status line "#N … exec/s: R" has them.
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
  if [ -z "$secs" ]; then
    rate=$(sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p' <<<"$last")
    secs=$(awk -v n="${execs:-0}" -v r="${rate:-0}" 'BEGIN { printf "%.1f", (r > 0 ? n / r : 0) }')
  fi
  # libFuzzer's own average is whole seconds only (0 for a run under a second).
  rate=$(awk -v n="${execs:-0}" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(find "$artifacts/$t" -type f 2>/dev/null | wc -l)
  printf 'fuzz: %-15s %10s execs %8s/s %8.1f s  cov %5s  ft %6s  corpus %5s  crashes %s\n' \
    "$t" "${execs:-?}" "${rate:-?}" "$secs" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
  echo "| \`$t\` | ${execs:-?} | ${rate:-?} | $(printf '%.0f' "$secs") | ${cov:-?} | ${ft:-?} | ${corp:-?} | $crashes |" \
    >"$rowdir/$t"
}

start=$(date +%s)
if ((from_logs)); then
  for t in "${targets[@]}"; do figures "$t" ""; done
else
  echo "== fuzz: building ${#targets[@]} targets (target dir $CARGO_TARGET_DIR)"
  bins=()
  for t in "${targets[@]}"; do bins+=(--bin "$t"); done
  nice -n 19 cargo build --release --manifest-path fuzz/Cargo.toml --target "$triple" "${bins[@]}"
  echo "fuzz: built in $(($(date +%s) - start)) s"
  for t in "${targets[@]}"; do
    corpus=$work/$t
    mkdir -p "$corpus" "$artifacts/$t"
    log=$logdir/$t.log
    args=("$corpus" "fuzz/corpus/$t" -runs="$runs" -print_final_stats=1 -timeout=10
          -rss_limit_mb=2048 -max_len=4096 -artifact_prefix="$artifacts/$t/")
    ((max_time)) && args+=(-max_total_time="$max_time")
    t0=$(date +%s.%N)
    status=0
    nice -n 19 "$CARGO_TARGET_DIR/$triple/release/$t" "${args[@]}" >"$log" 2>&1 || status=$?
    figures "$t" "$(echo "$(date +%s.%N) - $t0" | bc)"
    if ((status == 72)); then
      # libFuzzer's exit on SIGINT: stopped by hand, figures up to then.
      echo "fuzz: $t interrupted; the figures above are up to then" >&2
    elif ((status != 0)); then
      failed=1
      echo "fuzz: $t FAILED (exit $status): see $log and $artifacts/$t" >&2
      grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5 >&2 || true
    fi
  done
  echo "fuzz: total $(($(date +%s) - start)) s"
fi

if ((ci == 0)); then
  doc=docs/benchmarks.md
  section=$(mktemp)
  {
    echo "## Fuzzing (tools/bench/fuzz.sh)"
    echo
    echo "libFuzzer through libfuzzer-sys on stable Rust ($(rustc -V | cut -d' ' -f2)), sancov"
    echo "instrumentation, debug assertions and overflow checks on; one target at a time at nice 19"
    echo "on a shared 2-core host, kernel $(uname -r), $(date -u +%Y-%m-%d)."
    echo "\"cov\" is libFuzzer's count of covered edges (PCs), \"ft\" its features (edges by hit count"
    echo "and compared values), \"corpus\" the inputs kept; a crash is any panic, abort, hang"
    echo "(10 s) or allocation past 2 GiB."
    echo
    echo "| target | executions | execs/s | seconds | cov | ft | corpus | crashes |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    # Every target's latest row, this run's or an earlier one's.
    for t in "${all[@]}"; do [ -f "$rowdir/$t" ] && cat "$rowdir/$t"; done
  } >"$section"
  if grep -q '^## Fuzzing (tools/bench/fuzz.sh)' "$doc"; then
    # Replace the old section (up to the next "## " heading) with the new one.
    awk -v new="$section" '
      /^## Fuzzing \(tools\/bench\/fuzz.sh\)/ { while ((getline l < new) > 0) print l; skip = 1; next }
      skip && /^## / { skip = 0; print ""; }
      !skip { print }' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
  else
    { echo; cat "$section"; } >>"$doc"
  fi
  rm -f "$section"
  echo "fuzz: figures written to $doc"
fi
exit "$failed"
