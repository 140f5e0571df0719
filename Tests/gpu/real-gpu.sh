#!/bin/bash
# The real-GPU check, for a host with an NVIDIA GPU and driver: `kujira cdi generate nvidia`
# describes the host, then `nvidia-smi -L` runs inside a runc container that got the GPUs
# with `kujira cdi apply --gpus all` (until `kujira run --gpus all` exists, which will replace
# the bundle steps). The rootfs is busybox plus the host's glibc, since nvidia-smi is a glibc
# program; the driver's libraries and nvidia-smi come from the CDI spec, as they would for
# any image.
#
#   swift build --product kujira && sudo Tests/gpu/real-gpu.sh [.build/debug/kujira]
set -euo pipefail
kujira=${1:-.build/debug/kujira}
for tool in runc nvidia-smi; do
    command -v $tool > /dev/null || { echo "real-gpu: $tool is missing" >&2; exit 1; }
done
busybox=$(command -v busybox || true)
work=$(mktemp -d)
id=kujira-real-gpu-$$
trap 'runc delete --force $id > /dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "== host"
nvidia-smi -L

echo "== kujira cdi generate nvidia"
"$kujira" cdi generate nvidia -o "$work/nvidia.yaml"
grep -E '^kind|^cdiVersion|name:' "$work/nvidia.yaml"

echo "== bundle"
mkdir -p "$work/bundle/rootfs/bin" "$work/bundle/rootfs/tmp"
if [ -n "$busybox" ]; then
    cp "$busybox" "$work/bundle/rootfs/bin/busybox"
    for applet in sh ls cat; do ln -s busybox "$work/bundle/rootfs/bin/$applet"; done
fi
# nvidia-smi needs the C library and the dynamic loader at the host's paths.
for lib in $(ldd "$(command -v nvidia-smi)" | grep -oE '/[^ ]+'); do
    mkdir -p "$work/bundle/rootfs$(dirname "$lib")"
    cp -L "$lib" "$work/bundle/rootfs$lib"
done
for lib in libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1; do
    path=$(ldconfig -p | awk -v l=$lib '$1 == l && /x86-64|AArch64/ { print $NF; exit }')
    [ -n "$path" ] || continue
    mkdir -p "$work/bundle/rootfs$(dirname "$path")"
    cp -L "$path" "$work/bundle/rootfs$path"
done
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" << 'EOF'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
config["process"]["terminal"] = False
config["process"]["args"] = ["/usr/bin/nvidia-smi", "-L"]
json.dump(config, open(path, "w"))
EOF
"$kujira" cdi apply --bundle "$work/bundle" --gpus all
echo "devices in config.json:"
python3 -c 'import json,sys; [print(" ", d["path"], d["major"], d["minor"]) for d in json.load(open(sys.argv[1]))["linux"]["devices"]]' \
    "$work/bundle/config.json"

echo "== nvidia-smi -L in the container"
out=$(runc run --bundle "$work/bundle" $id)
echo "$out"
host=$(nvidia-smi -L | wc -l)
inside=$(grep -c '^GPU ' <<< "$out" || true)
if [ "$inside" -eq "$host" ] && [ "$inside" -gt 0 ]; then
    echo "real-gpu: the container sees $inside GPU(s): 1 passed, 0 failed"
else
    echo "real-gpu: the container sees $inside GPU(s), the host $host: 0 passed, 1 failed"
    exit 1
fi
