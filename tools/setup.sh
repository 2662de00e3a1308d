#!/usr/bin/env bash
# Installs what ec2lab needs on a fresh Debian 12 machine (run as root): build tools,
# the guest-image inputs (Debian packages only), nftables, and the cross targets the
# tests use. Idempotent: a second run only checks.
set -euo pipefail

packages=(
  build-essential bc bison flex libelf-dev cpio xz-utils    # guest kernel build
  linux-source-6.1                                          # guest kernel source
  busybox-static e2fsprogs dropbear-bin libc6-dev          # guest root file system (+ its sshd, static agent)
  nftables iproute2 iputils-ping                            # host networking
  openssh-client openssl putty-tools python3                # ec2lab ssh; key pair format tests; agent host test
  python3-venv                                              # the AWS clients' venv (API tests)
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static  # aarch64 checks and tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if command -v rustup >/dev/null; then
  rustup target list --installed | grep -q aarch64-unknown-linux-gnu ||
    rustup target add aarch64-unknown-linux-gnu
  rustup component list --installed | grep -q clippy || rustup component add clippy rustfmt
fi

# The unmodified AWS clients (aws CLI, boto3) that the API tests drive, pinned, in a venv
# of their own; a second run only compares the pins.
venv=${EC2LAB_VENV:-/opt/ec2lab-venv}
pins="$(cd "$(dirname "$0")" && pwd)/api-clients.txt"
if ! cmp -s "$pins" "$venv/ec2lab-pins.txt" 2>/dev/null; then
  echo "setup: installing the AWS clients into $venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$pins"
  cp "$pins" "$venv/ec2lab-pins.txt"
fi

[ -c /dev/kvm ] || { echo "setup: /dev/kvm is missing: enable KVM (or nested virtualization) on this host" >&2; exit 1; }
echo "setup: ok"
