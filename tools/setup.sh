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
  chromium                                                  # the web console's browser test
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
# The test runner tools/test.sh uses (two tests at a time across the test binaries).
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest (crates.io; a few minutes to build)"
  cargo install --locked cargo-nextest
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

# The web console (console/): its npm packages as package-lock.json pins them (npm ci), then
# its build (Vite) into console/dist/, which `cargo build` embeds in the binary. Skipped
# when the hash of its inputs is the last build's.
root="$(cd "$(dirname "$0")/.." && pwd)"
console="$root/console"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: the web console needs Node.js 20.19 or newer and npm: install them, then run this again" >&2
  exit 1
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "setup: Node.js $(node --version) is too old for the web console's Vite: install 20.19 or newer" >&2
  exit 1
fi
stamp="$console/node_modules/.ec2lab-console-inputs"
inputs=$(cd "$console" && cat package.json package-lock.json index.html vite.config.ts tsconfig.json \
  $(find src -type f | LC_ALL=C sort) | sha256sum | cut -d' ' -f1)
if [ ! -f "$console/dist/index.html" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$inputs" ]; then
  echo "setup: building the web console (npm ci, vite build)"
  (cd "$console" && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
  echo "$inputs" >"$stamp"
fi

[ -c /dev/kvm ] || { echo "setup: /dev/kvm is missing: enable KVM (or nested virtualization) on this host" >&2; exit 1; }
echo "setup: ok"
