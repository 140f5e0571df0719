#!/usr/bin/env bash
# The main job, offline: make a busybox image from Debian's busybox-static, store it, and move
# it through the formats other tools exchange. Run scripts/setup.sh first.
# Dockerfile builds and `kujira run` join this script as the builder and runtime land.
set -euo pipefail
cd "$(dirname "$0")/.."
K="$(swift build -c release --show-bin-path)/kujira"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"

mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in sh ls cat echo true; do ln -s busybox "$work/rootfs/bin/$applet"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"

set -x
"$K" --root "$root" import "$work/rootfs" demo/busybox:1
"$K" --root "$root" images
"$K" --root "$root" save -o "$work/busybox.tar" demo/busybox:1
"$K" --root "$work/root2" load -i "$work/busybox.tar"
"$K" --root "$work/root2" push demo/busybox:1 "oci:$work/layout:1"
"$K" --root "$work/root2" image inspect demo/busybox:1
