#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, guest images (cached), formatting and lint,
# unit and real-KVM tests on x86_64, and the aarch64 build and unit tests under qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
guest-images/build.sh

echo "== fmt and clippy"
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo fmt --check --manifest-path fuzz/Cargo.toml
agent=guest-images/agent/Cargo.toml
cargo fmt --check --manifest-path "$agent"
cargo clippy --manifest-path "$agent" --all-targets -- -D warnings

echo "== guest agent: unit tests, and the agent on this host against a fake metadata service"
cargo test --manifest-path "$agent"
guest-images/agent/tests/host-test.sh

echo "== guest self-check (ec2lab-stress) on this host; in a real guest it runs in boot_linux"
guest-images/stress/selftest.sh

echo "== aarch64: check and unit tests (qemu-user)"
cargo check --target aarch64-unknown-linux-gnu
cargo test --target aarch64-unknown-linux-gnu --lib -- vmm::arch::aarch64 vmm::snapshot

echo "== x86_64: unit tests and real-KVM tests"
# Tests that boot the real guest image fail (not skip) when the image is missing.
export EC2LAB_REQUIRE_IMAGES=1
# Two tests at a time across all the test binaries, each in its own process (cargo
# nextest; .config/nextest.toml says which must run alone): each busy real-Linux guest
# takes a whole core on a nested KVM. Then the doc tests, which nextest does not run.
cargo nextest run --no-fail-fast
cargo test --doc

echo "== the VMM's own memory, release build (tests/vmm_memory.rs: below Firecracker's)"
cargo build --release
EC2LAB_MEMORY_BIN="$PWD/target/release/ec2lab" cargo test --test vmm_memory

echo "== fuzz: a short run of every target (tools/bench/fuzz.sh --ci; the full run is a benchmark)"
tools/bench/fuzz.sh --ci
