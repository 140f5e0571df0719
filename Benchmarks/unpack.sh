#!/bin/bash
# Benchmarks/unpack.sh — layer unpack and rootfs creation, against GNU tar and umoci.
# Results and how to read them: Docs/performance.md.
#
#   sudo Benchmarks/unpack.sh            # RUNS=10 ROOTFS_ITERATIONS=50 by default
#
# Needs root (ownership, overlay mounts), hyperfine, umoci, tar, gzip, and a debootstrap
# minbase tree (KUJIRA_DEBIAN_ROOTFS, default /var/tmp/kj/debian). Everything runs on a
# tmpfs the script mounts itself and removes at exit, so the disk is not measured.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
DEBIAN=${KUJIRA_DEBIAN_ROOTFS:-/var/tmp/kj/debian}
BUSYBOX=${BUSYBOX:-/bin/busybox}
RUNS=${RUNS:-10}
ROOTFS_ITERATIONS=${ROOTFS_ITERATIONS:-50}
LAYER_CACHE=${LAYER_CACHE:-/var/tmp/kj/debian-layer.tar.gz}
RESULTS=${RESULTS:-/tmp/kujira-bench-results}

for tool in hyperfine umoci tar gzip; do
    command -v "$tool" >/dev/null || { echo "unpack.sh: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "unpack.sh: run as root (ownership and overlay mounts)" >&2; exit 1; }
[ -d "$DEBIAN/etc" ] || { echo "unpack.sh: no debootstrap tree at $DEBIAN (set KUJIRA_DEBIAN_ROOTFS)" >&2; exit 1; }

swift build -c release --product kujira-bench --package-path "$REPO" >&2
BENCH=$REPO/.build/release/kujira-bench

WORK=$(mktemp -d /tmp/kujira-bench.XXXXXX)
mount -t tmpfs -o size=6g,mode=0755 kujira-bench "$WORK"
cleanup() {
    umount -l "$WORK/mnt" 2>/dev/null || true
    umount -l "$WORK" 2>/dev/null || true
    rmdir "$WORK" 2>/dev/null || true
}
trap cleanup EXIT
mkdir -p "$RESULTS"

# The Debian layer: one gzip blob, made once (cached outside the tmpfs), used by all three.
if [ ! -f "$LAYER_CACHE" ]; then
    tar -C "$DEBIAN" --numeric-owner -czf "$LAYER_CACHE.tmp" . && mv "$LAYER_CACHE.tmp" "$LAYER_CACHE"
fi
cp "$LAYER_CACHE" "$WORK/debian.tar.gz"

# A busybox layer: busybox-static and a few applet links.
mkdir -p "$WORK/bb/bin" "$WORK/bb/etc"
cp "$BUSYBOX" "$WORK/bb/bin/busybox"
for applet in sh ls cat echo env id sleep true; do ln -s busybox "$WORK/bb/bin/$applet"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$WORK/bb/etc/passwd"
tar -C "$WORK/bb" --numeric-owner -czf "$WORK/busybox.tar.gz" .

# make_layout DIR BLOB: an OCI layout (tag latest) holding BLOB as its only layer.
make_layout() {
    local dir=$1 blob=$2 digest diffid size config cdigest manifest mdigest
    mkdir -p "$dir/blobs/sha256"
    digest=$(sha256sum < "$blob" | cut -d' ' -f1)
    diffid=$(gzip -dc < "$blob" | sha256sum | cut -d' ' -f1)
    size=$(stat -c %s "$blob")
    cp "$blob" "$dir/blobs/sha256/$digest"
    config="{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$diffid\"]}}"
    cdigest=$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
    printf '%s' "$config" > "$dir/blobs/sha256/$cdigest"
    manifest="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cdigest\",\"size\":${#config}},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$digest\",\"size\":$size}]}"
    mdigest=$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)
    printf '%s' "$manifest" > "$dir/blobs/sha256/$mdigest"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
        "$mdigest" "${#manifest}" > "$dir/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
    echo "sha256:$digest sha256:$diffid"
}
read -r DIGEST DIFFID < <(make_layout "$WORK/debian-oci" "$WORK/debian.tar.gz")
make_layout "$WORK/busybox-oci" "$WORK/busybox.tar.gz" >/dev/null
LAYER="$WORK/debian.tar.gz"
GZ=application/vnd.oci.image.layer.v1.tar+gzip

echo "== (a) unpack the Debian layer ($(du -h "$LAYER" | cut -f1) gzip) into tmpfs" >&2
hyperfine --warmup 1 --runs "$RUNS" --style basic \
    --prepare "rm -rf $WORK/out && mkdir $WORK/out" \
    --export-markdown "$RESULTS/unpack.md" --export-json "$RESULTS/unpack.json" \
    -n "kujira (LayerUnpacker, both digests verified)" "$BENCH unpack-layer $LAYER $GZ $DIGEST $DIFFID $WORK/out/rootfs" \
    -n "kujira, single thread" "$BENCH unpack-layer $LAYER $GZ $DIGEST $DIFFID $WORK/out/rootfs --serial" \
    -n "tar -xzf" "tar -C $WORK/out -xzf $LAYER" \
    -n "umoci unpack" "umoci unpack --image $WORK/debian-oci:latest $WORK/out/bundle"
rm -rf "$WORK/out"

echo "== (b) container rootfs from an unpacked image: overlay mount + unmount" >&2
"$BENCH" import "$WORK/store" "$WORK/debian-oci" debian >&2
"$BENCH" import "$WORK/store" "$WORK/busybox-oci" busybox >&2
mkdir -p "$WORK/mnt"
hyperfine --warmup 2 --runs "$RUNS" --style basic \
    --export-markdown "$RESULTS/rootfs.md" --export-json "$RESULTS/rootfs.json" \
    -n "debian ($ROOTFS_ITERATIONS rootfs)" "$BENCH rootfs $WORK/store debian $WORK/mnt $ROOTFS_ITERATIONS" \
    -n "busybox ($ROOTFS_ITERATIONS rootfs)" "$BENCH rootfs $WORK/store busybox $WORK/mnt $ROOTFS_ITERATIONS"
"$BENCH" rootfs "$WORK/store" debian "$WORK/mnt" 200
"$BENCH" rootfs "$WORK/store" busybox "$WORK/mnt" 200

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r); results in $RESULTS" >&2
