#!/usr/bin/env bash
# Boot out/vmlinux + out/rootfs.ext4 under QEMU (microvm + an i8042), wait for
# EC2LAB-GUEST-READY, then ask for a graceful shutdown with Ctrl-Alt-Del
# through the i8042 and check that the guest's `reboot -f` (reboot=k: i8042
# reset pulse) ends QEMU (-no-reboot turns the reset into an exit).
# A check of the images with a reference VMM; not used by ec2lab itself.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
KERNEL="$HERE/out/vmlinux"
ROOTFS="$HERE/out/rootfs.ext4"
READY_TIMEOUT=300
EXIT_TIMEOUT=120
SHUTDOWN=cad
SMP=1
MEM=256
PVM=auto
EXTRA=""
NET=0

usage() {
    cat <<EOF
Usage: guest-images/qemu-boot-test.sh [options]
  --pvm | --no-pvm     add kernel/pvm-cmdline.txt (default: when the kvm_pvm module is loaded)
  --shutdown cad|wait|none  after READY: send Ctrl-Alt-Del via the QEMU monitor (default),
                       wait for the guest to end QEMU by itself, or just kill QEMU
  --smp N              vCPUs (default 1)
  --append "ARGS"      extra kernel command line arguments
  --net                add a virtio-net device (QEMU user networking) and ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off
  --ready-timeout S    seconds to wait for EC2LAB-GUEST-READY (default $READY_TIMEOUT)
  --exit-timeout S     seconds to wait for QEMU to exit after Ctrl-Alt-Del (default $EXIT_TIMEOUT)
  --kernel F / --rootfs F   images (default out/vmlinux, out/rootfs.ext4)
The serial log is kept in \$TMPDIR (path printed at the end).
EOF
}

while (($#)); do
    case "$1" in
        --pvm) PVM=1 ;;
        --no-pvm) PVM=0 ;;
        --shutdown) SHUTDOWN=$2; shift ;;
        --smp) SMP=$2; shift ;;
        --append) EXTRA=$2; shift ;;
        --net) NET=1 ;;
        --ready-timeout) READY_TIMEOUT=$2; shift ;;
        --exit-timeout) EXIT_TIMEOUT=$2; shift ;;
        --kernel) KERNEL=$2; shift ;;
        --rootfs) ROOTFS=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
done

cmdline_of() { grep -v '^#' "$1" | tr '\n' ' '; }
if [[ $PVM == auto ]]; then
    if [[ -d /sys/module/kvm_pvm ]]; then PVM=1; else PVM=0; fi
fi
APPEND="$(cmdline_of "$HERE/kernel/base-cmdline.txt")"
((PVM)) && APPEND+="$(cmdline_of "$HERE/kernel/pvm-cmdline.txt")"
APPEND+="root=/dev/vda rw $EXTRA"
net_args=()
if ((NET)); then
    net_args=(-netdev "user,id=net0" -device "virtio-net-device,netdev=net0")
    APPEND+=" ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ec2lab-qemu-XXXXXX")
SERIAL="$WORK/serial.log"
MON="$WORK/monitor.sock"
QEMU_PID=
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    if [[ -n $QEMU_PID ]] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill "$QEMU_PID" 2>/dev/null || true
        wait "$QEMU_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

echo "kernel command line: $APPEND"
: >"$SERIAL"
start=$SECONDS
qemu-system-x86_64 \
    -M microvm,x-option-roms=off,rtc=off,isa-serial=on,acpi=off \
    -enable-kvm -cpu host -smp "$SMP" -m "$MEM" \
    -nodefaults -no-user-config -display none -no-reboot \
    -serial "file:$SERIAL" -monitor "unix:$MON,server,nowait" \
    -device i8042 \
    -kernel "$KERNEL" -append "$APPEND" \
    -drive "id=root,file=$ROOTFS,format=raw,if=none" -device virtio-blk-device,drive=root \
    "${net_args[@]}" \
    >"$WORK/qemu.out" 2>&1 &
QEMU_PID=$!

ready=
while ((SECONDS - start < READY_TIMEOUT)); do
    if grep -q 'EC2LAB-GUEST-READY' "$SERIAL"; then ready=$((SECONDS - start)); break; fi
    kill -0 "$QEMU_PID" 2>/dev/null || break
    sleep 1
done

result=0
if [[ -z $ready ]]; then
    echo "FAIL: no EC2LAB-GUEST-READY within ${READY_TIMEOUT}s"
    result=1
else
    echo "OK: EC2LAB-GUEST-READY after ${ready}s (wall clock)"
    if [[ $SHUTDOWN == wait ]]; then
        # The guest is expected to end by itself (e.g. an overlay hook running reboot -f).
        while ((SECONDS - start < READY_TIMEOUT + EXIT_TIMEOUT)) && kill -0 "$QEMU_PID" 2>/dev/null; do sleep 1; done
        if kill -0 "$QEMU_PID" 2>/dev/null; then
            echo "FAIL: QEMU did not exit by itself"
            result=1
        else
            wait "$QEMU_PID" && rc=0 || rc=$?
            QEMU_PID=
            echo "OK: QEMU exited by itself (status $rc) $((SECONDS - start))s after start"
        fi
    elif [[ $SHUTDOWN == cad ]]; then
        sent=$SECONDS
        printf 'sendkey ctrl-alt-delete\n' | socat - "UNIX-CONNECT:$MON" >/dev/null
        exited=
        while ((SECONDS - sent < EXIT_TIMEOUT)); do
            if ! kill -0 "$QEMU_PID" 2>/dev/null; then exited=$((SECONDS - sent)); break; fi
            sleep 1
        done
        if [[ -n $exited ]]; then
            wait "$QEMU_PID" && rc=0 || rc=$?
            QEMU_PID=
            echo "OK: QEMU exited ${exited}s after Ctrl-Alt-Del (status $rc; $((SECONDS - start))s in all)"
        else
            echo "FAIL: QEMU still running ${EXIT_TIMEOUT}s after Ctrl-Alt-Del"
            result=1
        fi
    fi
fi
echo "--- guest time stamps"
grep -E 'Linux version|Run /|EXT4-fs|EC2LAB-GUEST-READY|reboot|Restarting|i8042|serio|input:|IP-Config|eth0|virtio_net' "$SERIAL" | cut -c1-120 || true
echo "--- serial log: $SERIAL ; qemu output: $WORK/qemu.out"
exit "$result"
