#!/bin/bash
# Benchmarks/kujirad/run.sh — `docker run --rm busybox true` through kujirad against
# `podman run --rm busybox true` (podman's own CLI, runc runtime), same image, same run.
# Results: Docs/performance.md, section "kujirad".
#
#   sudo Benchmarks/kujirad/run.sh          # RUNS=20 by default; SKIP_BUILD=1 reuses the build
#
# Needs root, hyperfine, the docker CLI (client only: dockerd is never started), podman, runc
# and Debian's busybox-static. The busybox image (busybox-static's applets, made with
# `kujira import` and `kujira save`) is loaded into a temporary kujirad root and a temporary
# podman store; both are removed at exit. Each runs once with its default network (a bridge,
# a veth pair and an address: kujirad's `bridge`, podman's netavark) and once with
# `--network none` (an own namespace with loopback only).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-20}
RESULTS=${RESULTS:-/tmp/kujirad-bench}
CONFIG=${CONFIG:-release}

for tool in hyperfine docker podman runc /bin/busybox; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "run.sh: run as root" >&2; exit 1; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    for product in kujirad kujira kujira-init; do
        swift build -c "$CONFIG" --product "$product" --package-path "$REPO" >&2
    done
fi
BIN=$REPO/.build/$CONFIG

WORK=$(mktemp -d /tmp/kujirad-bench.XXXXXX)
DAEMON=
cleanup() {
    if [ -n "$DAEMON" ]; then kill -TERM "$DAEMON" 2>/dev/null || true; wait "$DAEMON" 2>/dev/null || true; fi
    # kujirad's root has its own default bridge and nftables table: remove them.
    "$BIN/kujira" --root "$WORK/kroot" --state "$WORK/kstate" network __teardown >/dev/null 2>&1 || true
    podman --root "$WORK/podman" --runroot "$WORK/podman-run" rm -af >/dev/null 2>&1 || true
    podman --root "$WORK/podman" --runroot "$WORK/podman-run" system reset -f >/dev/null 2>&1 || true
    for mount in $(awk -v w="$WORK" '$2 ~ "^"w {print $2}' /proc/self/mounts | sort -r); do umount -l "$mount" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$RESULTS" "$WORK/rootfs/bin" "$WORK/rootfs/etc" "$WORK/rootfs/tmp"

# The image: busybox-static and its applets.
cp /bin/busybox "$WORK/rootfs/bin/"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$WORK/rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$WORK/rootfs/etc/passwd"
echo 'root:x:0:' > "$WORK/rootfs/etc/group"
"$BIN/kujira" --root "$WORK/seed" import --change 'CMD ["sh"]' "$WORK/rootfs" busybox:latest >/dev/null
"$BIN/kujira" --root "$WORK/seed" save -o "$WORK/busybox.tar" busybox:latest

# kujirad on its own socket and root.
SOCKET=$WORK/kujirad.sock
"$BIN/kujirad" -H "unix://$SOCKET" --root "$WORK/kroot" --state "$WORK/kstate" 2>"$WORK/kujirad.log" &
DAEMON=$!
for _ in $(seq 200); do [ -S "$SOCKET" ] && break; sleep 0.05; done
export DOCKER_HOST=unix://$SOCKET DOCKER_CONFIG=$WORK/docker-config
# podman reads DOCKER_CONFIG too (for credentials) and wants the file to exist.
mkdir -p "$DOCKER_CONFIG" && echo "{}" > "$DOCKER_CONFIG/config.json"
docker load -q -i "$WORK/busybox.tar" >/dev/null

PODMAN="podman --root $WORK/podman --runroot $WORK/podman-run --runtime runc --cgroup-manager cgroupfs --events-backend none"
$PODMAN load -q -i "$WORK/busybox.tar" >/dev/null
LIMITS="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
# One run of each outside the timing, so a failure shows its message.
docker run --rm busybox true
docker run --rm --network none busybox true
$PODMAN run --rm $LIMITS busybox true
$PODMAN run --rm --network none $LIMITS busybox true

hyperfine --warmup 3 --runs "$RUNS" --export-json "$RESULTS/kujirad.json" --export-markdown "$RESULTS/kujirad.md" \
    -n "docker run --rm (kujirad)" "docker run --rm busybox true" \
    -n "docker run --rm --network none (kujirad)" "docker run --rm --network none busybox true" \
    -n "podman run --rm (runc)" "$PODMAN run --rm $LIMITS busybox true" \
    -n "podman run --rm --network none (runc)" "$PODMAN run --rm --network none $LIMITS busybox true"
cat "$RESULTS/kujirad.md"
