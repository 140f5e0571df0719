#!/bin/sh
# `kujira build` against Debian's buildah (`buildah bud --isolation chroot --layers`, overlay
# storage) on the same Dockerfile, context and busybox base, in one run.
#
#   Benchmarks/build/bench.sh [RUNS]
#
# 1. builds kujira and kujira-init (release);
# 2. makes a busybox-static base image and loads it into a private Kujira root and a private
#    buildah root;
# 3. times with hyperfine: a cold build (every step runs: `--no-cache` for both) and a fully
#    cached rebuild of the unchanged context.
# Results are printed and written to .build/build-bench/*.md. Needs root, buildah, hyperfine.
set -eu
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
OUT=$PWD/.build/build-bench
WORK=$(mktemp -d /tmp/kujira-build-bench-XXXXXX)
trap 'umount -R "$WORK/buildah/root/overlay" 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

swift build -c release --product kujira >/dev/null
swift build -c release --product kujira-init >/dev/null
KUJIRA=$PWD/.build/release/kujira
ROOT=$WORK/kujira-root
BUILDAH="buildah --root $WORK/buildah/root --runroot $WORK/buildah/run --storage-driver overlay"

# The base: busybox-static with its applets.
BASE=$WORK/busybox
mkdir -p "$BASE/bin" "$BASE/etc" "$BASE/tmp" "$BASE/root"
cp /bin/busybox "$BASE/bin/busybox"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$BASE/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$BASE/etc/passwd"
printf 'root:x:0:\n' > "$BASE/etc/group"
$KUJIRA --root "$ROOT" import "$BASE" busybox:latest >/dev/null
$KUJIRA --root "$ROOT" save --format oci-archive -o "$WORK/busybox.tar" busybox:latest
$BUILDAH pull -q "oci-archive:$WORK/busybox.tar" >/dev/null
$BUILDAH tag "$($BUILDAH images -q | head -1)" localhost/busybox:latest busybox:latest

# The context: a small app, a few RUN and COPY steps, metadata.
CTX=$WORK/context
mkdir -p "$CTX/src/lib" "$CTX/static"
i=0
while [ $i -lt 200 ]; do echo "file $i" > "$CTX/src/lib/f$i.txt"; i=$((i + 1)); done
head -c 4194304 /dev/urandom > "$CTX/static/blob.bin"
cat > "$CTX/Dockerfile" <<'DOCKERFILE'
FROM busybox
ENV APP=/app
WORKDIR /app
COPY src ./src
RUN find src -type f | sort > manifest.txt && wc -l manifest.txt > count.txt
COPY static/blob.bin /data/blob.bin
RUN sha256sum /data/blob.bin > /data/blob.sha256
RUN mkdir -p /var/log/app && echo ready > /var/log/app/state
LABEL org.example.bench=1
EXPOSE 8080
CMD ["cat", "/app/count.txt"]
DOCKERFILE

export SOURCE_DATE_EPOCH=
hyperfine --runs "$RUNS" --warmup 1 --export-markdown "$OUT/cold.md" \
    -n kujira "$KUJIRA --root $ROOT build -q --no-cache -t localhost/bench:cold $CTX" \
    -n buildah "$BUILDAH bud --isolation chroot --layers --no-cache --pull=never -q -t localhost/bench:cold $CTX"
# Warm both caches, then time the fully cached rebuild.
$KUJIRA --root "$ROOT" build -q -t localhost/bench:warm "$CTX" >/dev/null
$BUILDAH bud --isolation chroot --layers --pull=never -q -t localhost/bench:warm "$CTX" >/dev/null
hyperfine --runs "$((RUNS * 2))" --warmup 1 --export-markdown "$OUT/cached.md" \
    -n kujira "$KUJIRA --root $ROOT build -q -t localhost/bench:warm $CTX" \
    -n buildah "$BUILDAH bud --isolation chroot --layers --pull=never -q -t localhost/bench:warm $CTX"
echo "cold:"; cat "$OUT/cold.md"
echo "cached:"; cat "$OUT/cached.md"
