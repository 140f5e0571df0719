#!/usr/bin/env bash
# The main job, offline: build a small image from a Dockerfile (FROM scratch + Debian's
# busybox-static) and run a container from it; then move the image through the formats other
# tools exchange. Run scripts/setup.sh first (as root: containers need namespaces and mounts).
set -euo pipefail
cd "$(dirname "$0")/.."
K="$(swift build -c release --show-bin-path)/kujira"
work=$(mktemp -d)
root="$work/root"
state="$work/state"
# The root's default network (its bridge and nftables table) goes with the root.
trap '"$K" --root "$root" --state "$state" network __teardown 2>/dev/null || true; rm -rf "$work"' EXIT

# The build context: the example Dockerfile and busybox.
mkdir -p "$work/context"
cp Examples/demo/Dockerfile "$work/context/Dockerfile"
cp /bin/busybox "$work/context/busybox"

set -x
"$K" --root "$root" --state "$state" build -t demo/hello:1 "$work/context"
"$K" --root "$root" --state "$state" run --rm demo/hello:1
"$K" --root "$root" --state "$state" images
"$K" --root "$root" save -o "$work/hello.tar" demo/hello:1
"$K" --root "$work/root2" load -i "$work/hello.tar"
"$K" --root "$work/root2" push demo/hello:1 "oci:$work/layout:1"
