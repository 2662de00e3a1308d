#!/usr/bin/env bash
# Build out/cloudinit-rootfs.ext4: a Debian bookworm root file system (debootstrap
# --variant=minbase) with cloud-init and openssh-server, configured for ec2lab's metadata
# service, booted by a tiny busybox init that runs cloud-init's four stages in order.
# Shows that an ordinary cloud-init image picks up keys and user data from ec2lab's IMDS.
# Boot it with out/vmlinux (guest-images/build.sh); stock Debian kernels do not boot here.
set -euo pipefail

# Bump when the debootstrap step below changes in a way that must invalidate the cache.
readonly TREE_RECIPE_VERSION="ec2lab-cloudinit-tree-1"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly OUT_DIR="$HERE/out"
readonly FILES="$HERE/cloudinit/files"
readonly CACHE_DIR="${EC2LAB_CACHE_DIR:-/var/cache/ec2lab}"
readonly SUITE=bookworm
readonly MIRROR="${EC2LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# What --include adds to minbase (debootstrap resolves their Depends, not Recommends).
# cloud-init pulls in python3 and its modules; openssh-server lets `ec2lab ssh` in.
# python3-cffi-backend: python3-cryptography (via python3-oauthlib) depends on a virtual
# package it provides, and debootstrap does not resolve virtual packages.
readonly PACKAGES="cloud-init,openssh-server,python3-cffi-backend"
# Host package whose static busybox becomes /sbin/init (init + poweroff in one binary).
readonly BUSYBOX=/bin/busybox

FORCE_TREE=0
OUTPUT="$OUT_DIR/cloudinit-rootfs.ext4"

usage() {
    cat <<EOF
Usage: guest-images/build-cloudinit.sh [options]      (as root)

Builds a cloud-init root file system for ec2lab from Debian packages only:
  debootstrap --variant=minbase --include=$PACKAGES $SUITE ($MIRROR),
  trimmed (docs, man pages, locales, apt caches), plus:
  - /sbin/init: the host's static busybox (package busybox-static); /etc/inittab runs
    /etc/ec2lab/cloud-init-boot, which mounts /proc /sys /run /dev/pts and runs
    cloud-init init --local, init, modules --mode=config, modules --mode=final
    (output on the console), starts sshd and prints EC2LAB-CLOUD-INIT-DONE;
    Ctrl-Alt-Del (ec2lab stop/reboot) remounts / read-only and powers off.
  - /etc/cloud/cloud.cfg.d/90-ec2lab.cfg: datasource Ec2 (strict_id false,
    http://169.254.169.254), network config disabled (the kernel's ip= sets eth0),
    default user ec2-user, only the modules that matter here.
  - the user ec2-user, made here (the guest kernel has no file locking, which
    useradd needs); cloud-init writes its ~/.ssh/authorized_keys from the IMDS.

Output: $OUTPUT (ext4, no journal; out/ is git-ignored)

Options:
  --force-tree   run debootstrap again even if a cached tree exists
  -o FILE        write the image to FILE instead
  -h, --help     this text

Cache: \${EC2LAB_CACHE_DIR:-/var/cache/ec2lab}/cloudinit-tree-<sha256>.tar.zst
(now: $CACHE_DIR), the debootstrapped tree before ec2lab's files are added. The key
is a sha256 of the recipe version, suite, mirror, package list and the debootstrap
step of this script. First build: a few minutes (download + install); with the cache
about a minute (unpack, trim, mkfs). Mirror: EC2LAB_DEBIAN_MIRROR.
EOF
}

# log, info, die, ensure_packages
# shellcheck source-path=SCRIPTDIR source=build-lib.sh
source "$HERE/build-lib.sh"

while (($#)); do
    case "$1" in
        --force-tree) FORCE_TREE=1 ;;
        -o) (($# >= 2)) || die "-o needs a file"; OUTPUT=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done
((EUID == 0)) || die "must run as root (debootstrap, mknod, file ownership)"

ensure_packages debootstrap busybox-static e2fsprogs zstd

WORK=
cleanup() {
    # debootstrap may leave /proc etc. mounted in the tree if it was interrupted.
    if [[ -n $WORK ]]; then
        local m
        for m in $(awk -v w="$WORK" '$2 ~ "^"w {print $2}' /proc/mounts | sort -r); do
            umount -l "$m" 2>/dev/null || true
        done
        rm -rf --one-file-system "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ the tree
# Debootstraps into $1 (an empty directory). Its text is part of the cache key.
debootstrap_tree() {
    local root=$1
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR"
    rm -f "$root"/var/cache/apt/archives/*.deb
    chroot "$root" apt-get clean
}

tree_inputs() {
    echo "recipe: $TREE_RECIPE_VERSION"
    echo "suite: $SUITE"
    echo "mirror: $MIRROR"
    echo "packages: $PACKAGES"
    echo "debootstrap: $(dpkg-query -W -f='${Version}' debootstrap)"
    echo "code: $(declare -f debootstrap_tree | sha256sum | cut -d' ' -f1)"
}

mkdir -p "$CACHE_DIR" "$OUT_DIR"
key=$(tree_inputs | sha256sum | cut -d' ' -f1)
tarball="$CACHE_DIR/cloudinit-tree-$key.tar.zst"
WORK=$(mktemp -d "$CACHE_DIR/.tmp-cloudinit-XXXXXX")
root="$WORK/root"
mkdir "$root"

exec 9>"$CACHE_DIR/.lock-cloudinit"
flock 9
if ((FORCE_TREE)) || [[ ! -f $tarball ]]; then
    log "debootstrap $SUITE minbase + $PACKAGES (a few minutes; cache key ${key:0:16}...)"
    debootstrap_tree "$root" 2>&1 | while IFS= read -r line; do
        # debootstrap is chatty: show its I: step lines, keep going.
        case "$line" in I:\ Retrieving*|I:\ Validating*|I:\ Extracting*|I:\ Unpacking\ *|I:\ Configuring\ *) ;; *) info "$line" ;; esac
    done
    [[ -x $root/usr/bin/cloud-init ]] || die "debootstrap did not install cloud-init"
    log "caching the tree in $tarball"
    tar -C "$root" --numeric-owner --xattrs -cf - . | zstd -q -T0 -3 -o "$tarball.tmp.$$"
    tree_inputs >"$tarball.inputs.txt"
    mv -f "$tarball.tmp.$$" "$tarball"
else
    log "unpacking cached tree $(basename "$tarball")"
    zstd -q -dc "$tarball" | tar -C "$root" --numeric-owner --xattrs -xf -
fi
flock -u 9

# ------------------------------------------------------------ trim the tree
log "trimming (docs, man pages, locales, apt lists, host keys)"
before=$(du -sm "$root" | cut -f1)
rm -rf "$root"/usr/share/{doc,man,info,lintian,linda,bug,groff}/* \
    "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/debconf/*-old "$root"/var/log/*.log "$root"/var/log/apt/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
# Host keys made by openssh-server's postinst in the chroot would be shared by every
# instance: cloud-init's ssh module makes fresh ones on each instance's first boot.
rm -f "$root"/etc/ssh/ssh_host_*
# A machine id from debootstrap would be shared too (nothing here uses it).
: >"$root/etc/machine-id"
info "tree: ${before} MiB -> $(du -sm "$root" | cut -f1) MiB"

# --------------------------------------------------------- ec2lab's additions
log "adding busybox init, boot script and cloud-init config"
install -m 0755 "$BUSYBOX" "$root/bin/busybox"
# Only init is linked: other applets on PATH (e.g. ip) would be found and run by
# cloud-init, and every process start costs about a second on the PVM host.
rm -f "$root/sbin/init"
ln -s /bin/busybox "$root/sbin/init"
cp -R "$FILES/." "$root/"
chmod 0755 "$root/etc/ec2lab/cloud-init-boot"
# Debian's cloud.cfg sends output through `tee` (one more process per stage) and
# configures datasources itself; our 90-ec2lab.cfg overrides what matters.
[[ -f $root/etc/cloud/cloud.cfg ]] || die "no /etc/cloud/cloud.cfg in the tree"
# The kernel mounts devtmpfs itself; fallback nodes for the moment before.
mkdir -p "$root/dev" "$root/run/sshd"
[[ -e $root/dev/console ]] || mknod -m 0600 "$root/dev/console" c 5 1
[[ -e $root/dev/null ]] || mknod -m 0666 "$root/dev/null" c 1 3
echo ec2lab-cloudinit >"$root/etc/hostname"
# debootstrap copied the build host's resolv.conf, whose name server the guest cannot
# reach: every lookup would time out (cloud-init's DNS-redirect probe took 30 s).
# ec2lab VPCs have no DNS; with no name server glibc asks 127.0.0.1, refused at once.
printf '# ec2lab VPCs have no DNS server.\n' >"$root/etc/resolv.conf"
# The default user exists in the image (password locked, as useradd leaves it): our
# kernel has no CONFIG_FILE_LOCKING, so useradd/passwd in the guest fail on lckpwdf()
# ("cannot lock /etc/group"). cloud-init finds the user and only installs the keys.
chroot "$root" useradd --create-home --shell /bin/bash --comment "EC2 Default User" \
    --groups adm ec2-user

# ------------------------------------------------------------------- image
size_mib=$(( $(du -sm "$root" | cut -f1) * 5 / 4 + 64 ))
log "mkfs.ext4 -d ($size_mib MiB, no journal)"
img="$OUTPUT.tmp.$$"
rm -f "$img"
truncate -s "${size_mib}M" "$img"
# No journal: fewer block reads at mount (emulated kernel work on the PVM host).
mkfs.ext4 -q -F -L cloudinit-root -O ^has_journal -m 0 -E root_owner=0:0 -d "$root" "$img"
e2fsck -fn "$img" >/dev/null 2>&1 || die "fresh image fails e2fsck -fn $img"
mv -f "$img" "$OUTPUT"
log "done: $OUTPUT ($(du -h --apparent-size "$OUTPUT" | cut -f1), $(du -h "$OUTPUT" | cut -f1) used)"
info "cloud-init $(sed -n 's/^Version: //p' <(chroot "$root" dpkg -s cloud-init))"
