#!/usr/bin/env bash
# EC2 API benchmark: DescribeInstances through `ec2lab serve` with 1,000 instance records in
# a throw-away state directory (no VM), p50/p99 latency and requests per second, against the
# CLI's own cost per call on the same state. Results are appended to docs/benchmarks.md
# (--output - only prints them). Options: tools/bench/api.sh --help. The program is
# tools/bench/api.rs, a cargo bench target (release build); `cargo test` never runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo bench --bench api -- "$@"
