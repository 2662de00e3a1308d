# Sourced by build.sh and build-cloudinit.sh (under set -euo pipefail) at their start:
# their progress lines and errors, and the Debian packages they install when missing.
# shellcheck shell=bash

START_TIME=$SECONDS # log's clock

log() { printf '==> [%4ds] %s\n' "$((SECONDS - START_TIME))" "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

pkg_installed() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

# apt-get installs those of the named packages that are not installed (as root).
ensure_packages() {
    local missing=() p
    for p in "$@"; do
        pkg_installed "$p" || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    log "installing missing Debian packages: ${missing[*]}"
    ((EUID == 0)) || die "need root to apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
        apt-get update
        apt-get install -y --no-install-recommends "${missing[@]}"
    fi
}
