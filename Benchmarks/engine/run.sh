#!/bin/sh
# `kujira run --rm IMAGE true` against `podman --runtime runc run --rm IMAGE true`, same image,
# same run (issue 8's benchmark). Results and how to read them: Docs/performance.md, section
# "Whole containers".
#
#   sudo Benchmarks/engine/run.sh [RUNS]    # RUNS=20 by default; KUJIRA=path skips the build
#   sudo KUJIRA_BEFORE=/tmp/kujira-old Benchmarks/engine/run.sh   # also times an older build
#
# 1. builds kujira (release, `--static-swift-stdlib`; DYNAMIC=1 for the default linking);
# 2. makes a busybox-static image (busybox and its applets, /etc/passwd), writes it once as an
#    OCI archive and loads that archive into a private Kujira root and a private podman root;
# 3. times with hyperfine, both with their default network (Kujira: the `bridge` network, its
#    own bridge and subnet; Debian's podman 4.3: the CNI `podman` network — bridge, host-local,
#    portmap, firewall, tuning) and both with `--network none`.
# Both get `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024` (this host's podman needs it,
# REFERENCE.md). podman runs with `--cgroup-manager cgroupfs --events-backend none` (no systemd
# here; no event log written) and runc. Both stores live in one temp directory on /tmp's
# filesystem, both state roots on a tmpfs the script mounts, as their defaults are
# (/run/kujira, /run/containers/storage): fsync and overlay unmounts cost both the same.
# Everything is removed at the end, with the Kujira root's networks. Results: printed and
# written to .build/engine-bench/*.md. Needs root, hyperfine, podman, runc,
# containernetworking-plugins and Debian's busybox-static.
set -eu
cd "$(dirname "$0")/../.."
RUNS=${1:-20}
OUT=$PWD/.build/engine-bench
for tool in hyperfine podman runc /bin/busybox; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "run.sh: run as root" >&2; exit 1; }
K=${KUJIRA:-}
if [ -z "$K" ]; then
    # As Benchmarks/runtime/run.sh: the Swift runtime and Foundation linked statically, so
    # neither the CLI nor the monitor relocates ~40 MB of shared libraries at every start.
    # DYNAMIC=1 builds the default way (both figures are in Docs/performance.md).
    if [ "${DYNAMIC:-0}" = 1 ]; then
        swift build -c release --product kujira >/dev/null
    else
        swift build -c release --static-swift-stdlib --product kujira >/dev/null
    fi
    K="$PWD/.build/release/kujira"
fi
WORK=$(mktemp -d /tmp/kujira-engine-bench-XXXXXX)
KJ="$K --root $WORK/kroot --state $WORK/run/kstate"
PM="podman --root $WORK/proot --runroot $WORK/run/prun --network-config-dir $WORK/cni --cgroup-manager cgroupfs --events-backend none --runtime $(command -v runc)"
cleanup() {
    $KJ network __teardown >/dev/null 2>&1 || true
    for m in $(awk -v d="$WORK" '$5 ~ "^"d {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$OUT" "$WORK/cni" "$WORK/run"
mount -t tmpfs -o size=256m,mode=0755 kujira-engine-bench "$WORK/run"

# The image: busybox-static with its applets, saved once as an OCI archive by a scratch root.
BASE=$WORK/busybox
mkdir -p "$BASE/bin" "$BASE/etc" "$BASE/tmp" "$BASE/root"
cp /bin/busybox "$BASE/bin/busybox"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$BASE/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$BASE/etc/passwd"
printf 'root:x:0:\n' > "$BASE/etc/group"
$K --root "$WORK/scratch" --state "$WORK/scratch-state" import --change 'CMD ["sh"]' "$BASE" localhost/bench:1 >/dev/null
$K --root "$WORK/scratch" --state "$WORK/scratch-state" save --format oci-archive -o "$WORK/bench.tar" localhost/bench:1
rm -rf "$WORK/scratch" "$WORK/scratch-state"
$KJ load -i "$WORK/bench.tar" >/dev/null
$PM load -q -i "$WORK/bench.tar" >/dev/null
$PM tag "$($PM images -q | head -1)" localhost/bench:1

F="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
export KUJIRA_IP_FORWARD=0
# One run each first: unpacks the image into the snapshot store, creates the default networks.
$KJ run --rm $F localhost/bench:1 true
$PM run --rm $F localhost/bench:1 true
# KUJIRA_BEFORE=path/to/an/older/kujira adds it on the same root: before/after in one run.
set --
[ -n "${KUJIRA_BEFORE:-}" ] && set -- -n "kujira (before) run --rm (bridge)" "$KUJIRA_BEFORE --root $WORK/kroot --state $WORK/run/kstate run --rm $F localhost/bench:1 true"
hyperfine -N --warmup 3 --runs "$RUNS" --export-markdown "$OUT/default.md" --export-json "$OUT/default.json" \
    -n "kujira run --rm (bridge)" "$KJ run --rm $F localhost/bench:1 true" \
    -n "podman run --rm (podman/CNI)" "$PM run --rm $F localhost/bench:1 true" "$@"
set --
[ -n "${KUJIRA_BEFORE:-}" ] && set -- -n "kujira (before) run --rm --network none" "$KUJIRA_BEFORE --root $WORK/kroot --state $WORK/run/kstate run --rm $F --network none localhost/bench:1 true"
hyperfine -N --warmup 3 --runs "$RUNS" --export-markdown "$OUT/none.md" --export-json "$OUT/none.json" \
    -n "kujira run --rm --network none" "$KJ run --rm $F --network none localhost/bench:1 true" \
    -n "podman run --rm --network none" "$PM run --rm $F --network none localhost/bench:1 true" "$@"
echo "default network:"; cat "$OUT/default.md"
echo "--network none:"; cat "$OUT/none.md"
# No container may be left behind by either.
$KJ ps -a -q | grep . && { echo "run.sh: kujira left containers behind" >&2; exit 1; }
$PM ps -a -q | grep . && { echo "run.sh: podman left containers behind" >&2; exit 1; }
exit 0
