#!/bin/bash
# The real-GPU check, for a host with an NVIDIA GPU and its driver: builds kujira and
# kujira-init, runs `kujira cdi generate nvidia` to describe the host, then runs `nvidia-smi -L`
# in a container started with `kujira run --gpus all`, and compares the GPUs it lists with the
# host's. The image is busybox-static plus the host's C library (nvidia-smi is a glibc
# program); nvidia-smi itself, libnvidia-ml and the device nodes come from the driver through
# --gpus, as they would for any image. Prints PASS or FAIL with the output; exits 0 on PASS.
#
#   sudo Tests/gpu/real-gpu.sh [KUJIRA]     (KUJIRA: a built kujira; default: build one)
#
# Needs root, Swift (unless KUJIRA is given), busybox-static and the NVIDIA driver
# (nvidia-smi, /proc/driver/nvidia). On a host without them it prints FAIL and why, exit 1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

fail() { echo "real-gpu: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (containers, mounts and device nodes need it)"
[ -r /proc/driver/nvidia/version ] || fail "no NVIDIA driver on this host (/proc/driver/nvidia/version is missing); this check needs a machine with an NVIDIA GPU"
command -v nvidia-smi > /dev/null || fail "nvidia-smi is not installed; install the NVIDIA driver's utilities"
busybox=/bin/busybox
[ -x "$busybox" ] || busybox=$(command -v busybox || true)
# Static: `ldd` refuses it ("not a dynamic executable").
{ [ -n "$busybox" ] && ! ldd "$busybox" > /dev/null 2>&1; } \
    || fail "a static busybox is needed for the image (apt-get install -y busybox-static)"
host_list=$(nvidia-smi -L 2>&1) || fail "nvidia-smi -L fails on the host itself: $host_list"
grep -q '^GPU ' <<< "$host_list" || fail "nvidia-smi -L lists no GPU on the host: $host_list"

echo "== host: nvidia-smi -L"
echo "$host_list"

if [ $# -ge 1 ]; then
    kujira=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
else
    echo "== building kujira and kujira-init"
    (cd "$repo" && swift build --product kujira && swift build --product kujira-init) >&2
    kujira=$(cd "$repo" && swift build --show-bin-path)/kujira
fi
[ -x "$kujira" ] || fail "$kujira is not an executable"
[ -x "$(dirname "$kujira")/kujira-init" ] || [ -n "${KUJIRA_INIT_PATH:-}" ] \
    || fail "kujira-init is not next to $kujira (build it: swift build --product kujira-init)"

work=$(mktemp -d /tmp/kujira-real-gpu-XXXXXX)
k() { "$kujira" --root "$work/root" --state "$work/state" "$@"; }
cleanup() {
    k rm -f kujira-real-gpu > /dev/null 2>&1 || true
    # Mounts left by a failed run, deepest first, before the directory goes.
    awk -v d="$work/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
        umount -l "$m" 2> /dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

echo "== kujira cdi generate nvidia"
mkdir -p "$work/cdi"
"$kujira" cdi generate nvidia -o "$work/cdi/nvidia.yaml"
"$kujira" --cdi-spec-dir "$work/cdi" cdi list
# The directory of libnvidia-ml in the container: where nvidia-smi's loader must look.
libdir=$(awk '/containerPath: .*\/libnvidia-ml\.so\.1$/ { sub(/.*containerPath: /, ""); sub(/\/[^\/]*$/, ""); print; exit }' \
    "$work/cdi/nvidia.yaml")
[ -n "$libdir" ] || fail "the generated spec mounts no libnvidia-ml.so.1 (see $work/cdi/nvidia.yaml above)"
grep -q 'nvidia-smi' "$work/cdi/nvidia.yaml" || fail "the generated spec does not mount nvidia-smi"

echo "== image: busybox-static and the host's C library"
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root"
cp "$busybox" "$rootfs/bin/busybox"
for applet in sh ls cat env; do ln -s busybox "$rootfs/bin/$applet"; done
# The loader and the libraries nvidia-smi and libnvidia-ml link against, at the host's paths.
for lib in $(ldd "$(command -v nvidia-smi)" | grep -oE '/[^ ]+'); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
done
for name in libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1; do
    path=$(ldconfig -p | awk -v l=$name '$1 == l && /x86-64|AArch64/ { print $NF; exit }')
    [ -n "$path" ] || continue
    mkdir -p "$rootfs$(dirname "$path")"
    cp -L "$path" "$rootfs$path"
done
k import --change 'CMD ["sh"]' "$rootfs" localhost/kujira-real-gpu:test > /dev/null

echo "== kujira run --gpus all … nvidia-smi -L"
set +e
out=$(k run --rm --name kujira-real-gpu --gpus all -e "LD_LIBRARY_PATH=$libdir" \
    localhost/kujira-real-gpu:test nvidia-smi -L 2>&1)
status=$?
set -e
echo "$out"

host_gpus=$(grep -c '^GPU ' <<< "$host_list" || true)
inside_gpus=$(grep -c '^GPU ' <<< "$out" || true)
host_uuids=$(grep -oE 'UUID: [^)]+' <<< "$host_list" | sort)
inside_uuids=$(grep -oE 'UUID: [^)]+' <<< "$out" | sort)
if [ "$status" -eq 0 ] && [ "$inside_gpus" -eq "$host_gpus" ] && [ "$inside_uuids" = "$host_uuids" ]; then
    echo "real-gpu: PASS: the container lists the host's $host_gpus GPU(s)"
else
    fail "kujira run exited $status; the container lists $inside_gpus GPU(s), the host $host_gpus"
fi
