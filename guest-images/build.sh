#!/usr/bin/env bash
# Build the ec2lab guest images from Debian packages only:
#   out/vmlinux      minimal Linux 6.1 (Debian linux-source-6.1), uncompressed ELF with PVH note
#   out/rootfs.ext4  "ec2lab Linux": busybox (Debian busybox-static) root file system with
#                    dropbear (Debian dropbear-bin), ec2-user, sudo and the first-boot agent
#                    (guest-images/agent, Rust, built here), made with mkfs.ext4 -d
# The kernel build is cached outside the repo (see --help). Idempotent: run it again any time.
set -euo pipefail

# Bump when the kernel build recipe below changes in a way that must invalidate the cache.
readonly KERNEL_RECIPE_VERSION="ec2lab-kernel-recipe-1"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly OUT_DIR="$HERE/out"
readonly KERNEL_DIR="$HERE/kernel"
readonly FRAGMENT="$KERNEL_DIR/ec2lab-6.1.config"
readonly PATCH_DIR="$KERNEL_DIR/patches"
readonly PVM_CMDLINE="$KERNEL_DIR/pvm-cmdline.txt"
readonly ROOTFS_SRC="$HERE/rootfs"
readonly CACHE_DIR="${EC2LAB_CACHE_DIR:-/var/cache/ec2lab}"
readonly LINUX_SRC_PKG="linux-source-6.1"
readonly LINUX_SRC_TAR="/usr/src/linux-source-6.1.tar.xz"
readonly BUSYBOX="/bin/busybox"
readonly DROPBEAR="/usr/sbin/dropbear"
readonly AGENT_DIR="$HERE/agent"
readonly AGENT_TARGET="x86_64-unknown-linux-gnu"
readonly ROOTFS_SIZE_MIB=64
readonly PROGRESS_INTERVAL=15

DO_KERNEL=1
DO_ROOTFS=1
FORCE_KERNEL=0
JOBS=$(nproc)
OVERLAY="${EC2LAB_ROOTFS_OVERLAY:-}"

usage() {
    cat <<EOF
Usage: guest-images/build.sh [options]

Builds the ec2lab guest kernel and root file system from Debian packages
(linux-source-6.1, busybox-static, dropbear-bin, e2fsprogs, libc6-dev; installed
with apt-get if missing) and the guest agent in $AGENT_DIR (cargo, static).

Outputs (copies; out/ is git-ignored):
  $OUT_DIR/vmlinux        uncompressed ELF kernel with the PVH entry note
  $OUT_DIR/kernel.config  the kernel's full .config
  $OUT_DIR/rootfs.ext4    ${ROOTFS_SIZE_MIB} MiB ext4 root file system, "ec2lab Linux":
      busybox init, dropbear sshd, ec2-user + sudo, busybox httpd (not started),
      systemctl/service/yum shims, ec2lab-agent (metadata, ssh key, user data)

Options:
  --kernel-only      build (or fetch from cache) only the kernel
  --rootfs-only      build only the root file system
  --force-kernel     rebuild the kernel even if a cached build exists
                     (the new build replaces the cache entry)
  --overlay DIR      copy DIR's contents over the root file system tree, last
                     (your pages, rc.d hooks, programs; see README.md).
                     Also: EC2LAB_ROOTFS_OVERLAY.
  -j N, --jobs N     parallel make jobs (default: nproc = $JOBS)
  -h, --help         this text

Kernel cache: \${EC2LAB_CACHE_DIR:-/var/cache/ec2lab}/kernel-<sha256>/ (now: $CACHE_DIR).
The key is a sha256 of: the recipe version and kernel-build code in this script,
the config fragment, the patches, the installed $LINUX_SRC_PKG version and the
gcc version. Any change rebuilds (about 5-10 minutes on 2 cores); an unchanged
input set reuses the cached vmlinux, also from a fresh clone. Cache entries are
written atomically (built in a temp dir, then renamed), so an interrupted build
leaves no half entry. Old entries can be deleted at will.
The agent is built with cargo (offline, no dependencies) in $CACHE_DIR/agent-target.
EOF
}

# log, info, die, ensure_packages
# shellcheck source-path=SCRIPTDIR source=build-lib.sh
source "$HERE/build-lib.sh"

while (($#)); do
    case "$1" in
        --kernel-only) DO_ROOTFS=0 ;;
        --rootfs-only) DO_KERNEL=0 ;;
        --force-kernel) FORCE_KERNEL=1 ;;
        --overlay) (($# >= 2)) || die "--overlay needs a directory"; OVERLAY=$2; shift ;;
        --overlay=*) OVERLAY=${1#--overlay=} ;;
        -j|--jobs) (($# >= 2)) || die "$1 needs a number"; JOBS=$2; shift ;;
        -j*) JOBS=${1#-j} ;;
        --jobs=*) JOBS=${1#--jobs=} ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done
((DO_KERNEL || DO_ROOTFS)) || die "--kernel-only and --rootfs-only exclude each other"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "bad job count: $JOBS"
[[ -z $OVERLAY || -d $OVERLAY ]] || die "overlay is not a directory: $OVERLAY"

# ---------------------------------------------------------------- build deps
deps=()
((DO_KERNEL)) && deps+=("$LINUX_SRC_PKG" build-essential bc bison flex libelf-dev xz-utils patch binutils)
# libc6-dev: the static glibc the agent links against; dropbear-bin: sshd and the
# shared libraries it needs (copied from the host's installed packages).
((DO_ROOTFS)) && deps+=(busybox-static e2fsprogs dropbear-bin libc6-dev)
ensure_packages "${deps[@]}"

# -------------------------------------------------------------------- kernel
# Prints the list of things the kernel build depends on; its sha256 is the cache key.
kernel_inputs() {
    local p
    echo "recipe: $KERNEL_RECIPE_VERSION"
    echo "package: $LINUX_SRC_PKG $(dpkg-query -W -f='${Version}' "$LINUX_SRC_PKG")"
    echo "tarball: $(stat -c %s "$LINUX_SRC_TAR") bytes"
    echo "gcc: $(gcc --version | head -n1)"
    echo "ld: $(ld --version | head -n1)"
    echo "fragment: $(sha256sum < "$FRAGMENT" | cut -d' ' -f1)"
    for p in "$PATCH_DIR"/[0-9][0-9][0-9][0-9]-*.patch; do
        [[ -e $p ]] || continue
        echo "patch: $(basename "$p") $(sha256sum < "$p" | cut -d' ' -f1)"
    done
    # The code that builds the kernel is part of the input too (not the
    # progress display, which does not change the result).
    echo "code: $(declare -f build_kernel_uncached | sha256sum | cut -d' ' -f1)"
}

# Runs make with its output in a log; every PROGRESS_INTERVAL s prints elapsed
# time, the number of objects built so far and the log's last line.
make_with_progress() {
    local srcdir=$1 logfile=$2 pid start=$SECONDS next objs last
    shift 2
    make -C "$srcdir" "$@" >>"$logfile" 2>&1 &
    pid=$!
    MAKE_PID=$pid
    next=$((start + PROGRESS_INTERVAL))
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        if ((SECONDS >= next)); then
            next=$((SECONDS + PROGRESS_INTERVAL))
            objs=$(grep -c '^  CC ' "$logfile" || true)
            last=$(tail -n1 "$logfile" 2>/dev/null | cut -c1-60)
            printf '    make %s: %4ds, %4d files compiled; %s\n' "$*" "$((SECONDS - start))" "$objs" "$last"
        fi
    done
    MAKE_PID=
    if ! wait "$pid"; then
        tail -n 40 "$logfile" >&2
        die "make $* failed (full log: $logfile)"
    fi
    info "make $* done in $((SECONDS - start))s"
}

# Fails unless every setting of the fragment holds in the final .config.
verify_config() {
    local config=$1 fragment=$2 line sym bad=0
    while IFS= read -r line; do
        case "$line" in
            "# CONFIG_"*" is not set")
                sym=${line#\# }
                sym=${sym%% is not set}
                if grep -q "^$sym=" "$config"; then
                    echo "config check: want '$line', got '$(grep "^$sym=" "$config")'" >&2
                    bad=1
                fi
                ;;
            CONFIG_*=*)
                sym=${line%%=*}
                if ! grep -qxF "$line" "$config"; then
                    echo "config check: want '$line', got '$(grep -E "^(# )?${sym}[= ]" "$config" || echo "$sym absent")'" >&2
                    bad=1
                fi
                ;;
            "" | "#"*) ;;
            *) echo "config check: unexpected fragment line '$line'" >&2; bad=1 ;;
        esac
    done <"$fragment"
    ((bad == 0)) || die "kernel config does not match $fragment (see above)"
}

verify_vmlinux() {
    local vmlinux=$1
    readelf -h "$vmlinux" | grep -q 'Class:.*ELF64' || die "$vmlinux is not ELF64"
    readelf -h "$vmlinux" | grep -q 'Machine:.*X86-64' || die "$vmlinux is not x86-64"
    # XEN_ELFNOTE_PHYS32_ENTRY (type 0x12, owner "Xen") is the PVH entry point.
    readelf -n "$vmlinux" | grep -A0 -E '^\s*Xen\s' | grep -qiE '0x00000012|PHYS32_ENTRY' \
        || die "$vmlinux has no PVH (XEN_ELFNOTE_PHYS32_ENTRY) note"
}

# Builds the kernel in $1 (an empty temp dir) and leaves the results in $1/result.
build_kernel_uncached() {
    local tmp=$1 src p
    src="$tmp/linux-source-6.1"
    log "kernel: extracting $LINUX_SRC_TAR"
    tar -xf "$LINUX_SRC_TAR" -C "$tmp"
    [[ -f $src/Makefile ]] || die "unexpected layout in $LINUX_SRC_TAR"
    for p in "$PATCH_DIR"/[0-9][0-9][0-9][0-9]-*.patch; do
        [[ -e $p ]] || continue
        log "kernel: applying $(basename "$p")"
        patch -d "$src" -p1 --forward --batch --no-backup-if-mismatch <"$p" >/dev/null \
            || die "patch $(basename "$p") does not apply"
    done
    log "kernel: make tinyconfig + $(basename "$FRAGMENT") + olddefconfig"
    {
        make -C "$src" tinyconfig
        (cd "$src" && scripts/kconfig/merge_config.sh -m .config "$FRAGMENT")
        make -C "$src" olddefconfig
    } >"$tmp/build.log" 2>&1
    verify_config "$src/.config" "$FRAGMENT"
    info "all $(grep -c '^CONFIG_\|^# CONFIG_.* is not set' "$FRAGMENT") fragment settings hold"
    log "kernel: make -j$JOBS vmlinux (several minutes; progress every ${PROGRESS_INTERVAL}s)"
    make_with_progress "$src" "$tmp/build.log" -j"$JOBS" vmlinux
    verify_vmlinux "$src/vmlinux"
    mkdir "$tmp/result"
    cp "$src/vmlinux" "$tmp/result/vmlinux"
    cp "$src/.config" "$tmp/result/kernel.config"
    make -C "$src" savedefconfig >>"$tmp/build.log" 2>&1
    cp "$src/defconfig" "$tmp/result/kernel.defconfig"
    cp "$src/arch/x86/include/asm/cpufeatures.h" "$tmp/result/cpufeatures.h"
    cp "$tmp/build.log" "$tmp/result/build.log"
}

# clearcpuid= in pvm-cmdline.txt takes bit numbers (word*32+bit); its comment
# lists them as name=number. Check each pair against this source's cpufeatures.h.
check_clearcpuid() {
    local header=$1 pairs pair name num word bit line nums bad=0
    pairs=$(grep -oE '\b[a-z0-9_]+=[0-9]+\b' <(grep '^# *clearcpuid:' "$PVM_CMDLINE") || true)
    [[ -n $pairs ]] || die "no '# clearcpuid: name=number ...' line in $PVM_CMDLINE"
    nums=$(grep -v '^#' "$PVM_CMDLINE" | grep -oE 'clearcpuid=[0-9,]+' | cut -d= -f2)
    for pair in $pairs; do
        name=${pair%%=*}
        num=${pair#*=}
        line=$(grep -E "define X86_FEATURE_${name^^}[[:space:]]" "$header" || true)
        [[ $line =~ \(\ *([0-9]+)\ *\*\ *32\ *\+\ *([0-9]+)\ *\) ]] || { echo "clearcpuid check: $name not in cpufeatures.h" >&2; bad=1; continue; }
        word=${BASH_REMATCH[1]}
        bit=${BASH_REMATCH[2]}
        if ((word * 32 + bit != num)); then
            echo "clearcpuid check: $name is $((word * 32 + bit)) in this source, not $num" >&2
            bad=1
        fi
        [[ ",$nums," == *",$num,"* ]] || { echo "clearcpuid check: $name=$num missing from clearcpuid=" >&2; bad=1; }
    done
    # 6.1 copies the clearcpuid= value into a 128-byte buffer (cpu_parse_early_param).
    ((${#nums} <= 127)) || { echo "clearcpuid check: value is ${#nums} chars, 6.1 reads at most 127" >&2; bad=1; }
    ((bad == 0)) || die "$PVM_CMDLINE does not match this kernel source"
}

MAKE_PID=
KERNEL_TMP=
ROOTFS_TMP=
cleanup() {
    if [[ -n $MAKE_PID ]]; then
        kill "$MAKE_PID" 2>/dev/null || true
        wait "$MAKE_PID" 2>/dev/null || true
    fi
    [[ -z $KERNEL_TMP ]] || rm -rf "$KERNEL_TMP"
    [[ -z $ROOTFS_TMP ]] || rm -rf "$ROOTFS_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

install_file() { # copy $1 to $2 atomically
    cp "$1" "$2.tmp.$$"
    mv -f "$2.tmp.$$" "$2"
}

build_kernel() {
    local key entry
    [[ -f $LINUX_SRC_TAR ]] || die "$LINUX_SRC_TAR missing (package $LINUX_SRC_PKG)"
    key=$(kernel_inputs | sha256sum | cut -d' ' -f1)
    entry="$CACHE_DIR/kernel-$key"
    log "kernel: cache key ${key:0:16}... ($entry)"
    mkdir -p "$CACHE_DIR"
    # One kernel build at a time per cache directory.
    exec 9>"$CACHE_DIR/.lock"
    flock 9
    if ((FORCE_KERNEL)) || [[ ! -f $entry/vmlinux ]]; then
        KERNEL_TMP=$(mktemp -d "$CACHE_DIR/.tmp-kernel-XXXXXX")
        build_kernel_uncached "$KERNEL_TMP"
        kernel_inputs >"$KERNEL_TMP/result/inputs.txt"
        if [[ -e $entry ]]; then
            mv "$entry" "$KERNEL_TMP/old"
        fi
        mv "$KERNEL_TMP/result" "$entry"
        rm -rf "$KERNEL_TMP"
        KERNEL_TMP=
        log "kernel: built and cached in $entry"
    else
        log "kernel: using cached build (delete the directory or pass --force-kernel to rebuild)"
    fi
    flock -u 9
    verify_vmlinux "$entry/vmlinux"
    check_clearcpuid "$entry/cpufeatures.h"
    info "pvm-cmdline.txt clearcpuid numbers match this source's cpufeatures.h"
    mkdir -p "$OUT_DIR"
    install_file "$entry/vmlinux" "$OUT_DIR/vmlinux"
    install_file "$entry/kernel.config" "$OUT_DIR/kernel.config"
}

# -------------------------------------------------------------------- rootfs
# Builds guest-images/agent as a static binary (glibc, crt-static); prints its path.
build_agent() {
    local cargo target_dir bin
    cargo=$(command -v cargo || true)
    [[ -n $cargo ]] || { [[ -x ${HOME:-/root}/.cargo/bin/cargo ]] && cargo=${HOME:-/root}/.cargo/bin/cargo; }
    [[ -n $cargo ]] || die "cargo not found: Rust is needed to build the guest agent ($AGENT_DIR)"
    target_dir="$CACHE_DIR/agent-target"
    mkdir -p "$target_dir"
    RUSTFLAGS='-C target-feature=+crt-static' CARGO_TARGET_DIR="$target_dir" \
        "$cargo" build --release --locked --offline --quiet --target "$AGENT_TARGET" \
        --manifest-path "$AGENT_DIR/Cargo.toml" >&2 \
        || die "cargo build of $AGENT_DIR failed"
    bin="$target_dir/$AGENT_TARGET/release/ec2lab-agent"
    # Static: no program interpreter, no shared libraries (it runs before anything else).
    if readelf -l "$bin" | grep -q 'Requesting program interpreter' \
        || readelf -d "$bin" | grep -q '(NEEDED)'; then
        die "$bin is not a static binary"
    fi
    echo "$bin"
}

# Builds guest-images/stress/ec2lab-stress.c (static glibc, the guest self-check); prints
# its path. Seconds: one gcc run.
build_stress() {
    local bin="$CACHE_DIR/ec2lab-stress.$$"
    gcc -O2 -Wall -Wextra -Werror -static -pthread -o "$bin" "$HERE/stress/ec2lab-stress.c" >&2 \
        || die "gcc of $HERE/stress/ec2lab-stress.c failed"
    echo "$bin"
}

# Copies dropbear and the shared libraries it loads (found with ldd, from the host's
# installed Debian packages) into the tree $1.
install_dropbear() {
    local root=$1 lib pkg n=0
    install -D -m 0755 "$DROPBEAR" "$root/usr/sbin/dropbear"
    install -D -m 0755 /usr/bin/dropbearkey "$root/usr/bin/dropbearkey"
    # ldd lines: "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" and
    # "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
    while IFS= read -r lib; do
        [[ -n $lib ]] || continue
        # cp -L: the file itself under the name the program asks for (its soname link).
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
        # merged /usr: dpkg may know the file under /lib or under /usr/lib.
        pkg=$({ dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null; } | head -n1 | cut -d: -f1 || true)
        info "$(printf '%-36s %7s  %s' "$lib" "$(du -h --apparent-size "$root$lib" | cut -f1)" "${pkg:-?}")"
        n=$((n + 1))
    done < <(ldd "$DROPBEAR" /usr/bin/dropbearkey | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $2 ~ /^\(/ {print $1}' | sort -u)
    ((n > 0)) || die "ldd found no libraries for $DROPBEAR"
    # A loader cache, so each library is found without probing the hwcaps directories
    # (every failed open is emulated kernel work on the PVM host).
    ldconfig -r "$root" -X 2>/dev/null || info "ldconfig -r failed (harmless: the loader searches its default paths)"
}

build_rootfs() {
    local root applet img agent stress
    log "rootfs: building the guest agent (cargo, static, $AGENT_TARGET)"
    agent=$(build_agent)
    info "$agent ($(du -h --apparent-size "$agent" | cut -f1))"
    log "rootfs: staging busybox tree"
    ROOTFS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ec2lab-rootfs-XXXXXX")
    root="$ROOTFS_TMP/root"
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,etc/ec2lab/rc.d,etc/ec2lab/enabled,proc,sys,dev,run,tmp,root,var/log,var/www/html,mnt}
    chmod 1777 "$root/tmp"
    chmod 0700 "$root/root"
    install -m 0755 "$BUSYBOX" "$root/bin/busybox"
    # One symlink per applet (sh, mount, reboot, init, httpd, ...): costs no space.
    while IFS= read -r applet; do
        [[ -e $root/$applet || -L $root/$applet ]] || ln -s /bin/busybox "$root/$applet"
    done < <("$BUSYBOX" --list-full)
    [[ -L $root/sbin/init && -L $root/bin/sh && -L $root/sbin/reboot ]] \
        || die "busybox lacks init, sh or reboot"
    [[ -L $root/usr/sbin/httpd ]] || die "busybox lacks httpd"
    # Fallback nodes in case devtmpfs is not mounted yet.
    mknod -m 0666 "$root/dev/null" c 1 3
    mknod -m 0600 "$root/dev/console" c 5 1
    # Config files and shims kept in the repo (inittab, rcS, passwd, systemctl, yum, ...).
    # --remove-destination: a file replacing an applet symlink must not write through it.
    cp -R --remove-destination "$ROOTFS_SRC/files/." "$root/"
    chmod 0755 "$root/etc/init.d/rcS" "$root/usr/bin/systemctl" "$root/usr/bin/yum" "$root/bin/bash"
    ln -s systemctl "$root/usr/bin/service"
    ln -s yum "$root/usr/bin/dnf"
    chmod 0600 "$root/etc/shadow"
    log "rootfs: dropbear (ssh server) and its libraries from the host's Debian packages"
    install_dropbear "$root"
    install -d -m 0700 "$root/etc/dropbear"
    log "rootfs: ec2-user, sudo, ec2lab-agent"
    install -d -m 0700 -o 1000 -g 1000 "$root/home/ec2-user"
    install -d -m 0700 "$root/var/lib/ec2lab-agent"
    install -m 0755 "$agent" "$root/usr/sbin/ec2lab-agent"
    # The same program is sudo when started as "sudo" (setuid root: only ever sudo).
    install -m 4755 "$agent" "$root/usr/bin/sudo"
    # curl, ec2-metadata and lsblk are applets of the agent, chosen by argv[0]: one static
    # program, no libraries to map (Debian's curl would load ~30; README.md has the numbers).
    for applet in curl ec2-metadata lsblk; do
        ln -sf ../sbin/ec2lab-agent "$root/usr/bin/$applet"
    done
    log "rootfs: ec2lab-stress (the guest self-check, run with ec2lab.stress=SECONDS)"
    stress=$(build_stress)
    install -m 0755 "$stress" "$root/usr/sbin/ec2lab-stress"
    rm -f "$stress"
    if [[ -n $OVERLAY ]]; then
        log "rootfs: applying overlay $OVERLAY"
        cp -a --remove-destination "$OVERLAY/." "$root/"
    fi
    info "tree: $(du -sh --apparent-size "$root" | cut -f1) in $(find "$root" | wc -l) entries"
    log "rootfs: mkfs.ext4 -d (${ROOTFS_SIZE_MIB} MiB, no journal)"
    mkdir -p "$OUT_DIR"
    img="$OUT_DIR/rootfs.ext4.tmp.$$"
    rm -f "$img"
    truncate -s "${ROOTFS_SIZE_MIB}M" "$img"
    # No journal: fewer block reads at mount (each is emulated kernel work on
    # the PVM host); guests are disposable. 4 KiB blocks and one 128 MiB block group of
    # 2048 inodes: the agent grows the file system online to fill the root volume at first
    # boot (8 GiB: 64 groups, 131072 inodes, 32 MiB of inode tables); with mkfs's small-
    # file-system defaults (1 KiB blocks, 8 MiB groups) that would be 1024 groups to add.
    # Owners and modes come from the staged tree (ec2-user's home, setuid sudo).
    mkfs.ext4 -q -F -L ec2lab-root -O ^has_journal -m 0 -b 4096 -g 32768 -N 2048 \
        -E root_owner=0:0 -d "$root" "$img"
    e2fsck -fn "$img" >/dev/null 2>&1 || die "fresh rootfs image fails e2fsck -fn $img"
    mv -f "$img" "$OUT_DIR/rootfs.ext4"
    rm -rf "$ROOTFS_TMP"
    ROOTFS_TMP=
}

((DO_KERNEL)) && build_kernel
((DO_ROOTFS)) && build_rootfs

log "done"
for f in vmlinux kernel.config rootfs.ext4; do
    [[ -f $OUT_DIR/$f ]] && printf '    %-40s %8s\n' "$OUT_DIR/$f" "$(du -h --apparent-size "$OUT_DIR/$f" | cut -f1)"
done
printf '    kernel command line: %s + (PVM host only) %s\n' \
    "$KERNEL_DIR/base-cmdline.txt" "$PVM_CMDLINE"
