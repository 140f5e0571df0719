#!/bin/bash
# Benchmarks/runtime/run.sh — `run` of /bin/true with kujira-runtime against runc, same bundle,
# same run. Results and how to read them: Docs/performance.md, section "Runtime".
#
#   sudo Benchmarks/runtime/run.sh          # RUNS=30 by default; SKIP_BUILD=1 reuses the build
#
# Needs root, hyperfine, runc, /usr/bin/time (package `time`) and Debian's busybox-static. The
# bundle (busybox rootfs, the default `spec` with terminal off and args /bin/true: read-only
# root, all namespaces but user/cgroup, seccomp off in both) and both state roots live on a
# tmpfs the script mounts itself and removes at exit. Each timed command is one `run` (create,
# start, wait, delete) of a fixed id; hyperfine's --prepare force-deletes a leftover first.
# A third command times kujira-runtime with `--debug` after the subcommand, a form its
# hand-written parser leaves to ArgumentParser: the cost of ArgumentParser, in the same run.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-30}
RUNC=${RUNC:-$(command -v runc)}
RESULTS=${RESULTS:-/tmp/kujira-runtime-bench}

for tool in hyperfine runc /usr/bin/time /bin/busybox python3; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "run.sh: run as root" >&2; exit 1; }

# The release build of kujira-runtime (Examples/kujira-runtime/release/build.sh): the Swift
# runtime and FoundationEssentials linked statically, ld.lld with packed relative relocations
# and the run path's functions placed together. kujira-init is inside it
# (Plugins/KujiraInitImage builds it with clang, libc only).
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    "$REPO/Examples/kujira-runtime/release/build.sh" >&2
fi
KUJIRA=${KUJIRA:-$REPO/.build/release/kujira-runtime}
unset KUJIRA_INIT_PATH  # time the embedded init

WORK=$(mktemp -d /tmp/kujira-runtime-bench.XXXXXX)
mount -t tmpfs -o size=256m,mode=0755 kujira-runtime-bench "$WORK"
cleanup() {
    "$KUJIRA" --root "$WORK/kujira" delete --force bench >/dev/null 2>&1 || true
    "$RUNC" --root "$WORK/runc" delete --force bench >/dev/null 2>&1 || true
    umount -l "$WORK" 2>/dev/null || true
    rmdir "$WORK" 2>/dev/null || true
}
trap cleanup EXIT
mkdir -p "$RESULTS" "$WORK/bundle/rootfs/bin" "$WORK/kujira" "$WORK/runc"

# The bundle: busybox and its applets; Kujira's default spec (runc's) with terminal off.
cp /bin/busybox "$WORK/bundle/rootfs/bin/"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$WORK/bundle/rootfs/bin/$applet"
done
mkdir -p "$WORK/bundle/rootfs/"{proc,sys,dev,etc,tmp}
"$KUJIRA" spec --bundle "$WORK/bundle"
python3 - "$WORK/bundle/config.json" <<'EOF'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
config["process"]["terminal"] = False
config["process"]["args"] = ["/bin/true"]
json.dump(config, open(path, "w"), indent=2)
EOF

K="$KUJIRA --root $WORK/kujira"
R="$RUNC --root $WORK/runc"
# Both must work before anything is timed.
$K run --bundle "$WORK/bundle" bench
$R run --bundle "$WORK/bundle" bench

hyperfine --warmup 3 --runs "$RUNS" -N \
    --export-markdown "$RESULTS/run.md" --export-json "$RESULTS/run.json" \
    --prepare "$KUJIRA --root $WORK/kujira delete --force bench" \
    --command-name "kujira-runtime run" "$K run --bundle $WORK/bundle bench" \
    --prepare "$RUNC --root $WORK/runc delete --force bench" \
    --command-name "runc run" "$R run --bundle $WORK/bundle bench" \
    --prepare "$KUJIRA --root $WORK/kujira delete --force bench" \
    --command-name "kujira-runtime run, ArgumentParser path" "$K run --debug --bundle $WORK/bundle bench"

# Peak RSS, the largest of 5: wait4 folds each waited-for child's peak into its parent's.
peak_of() {
    local best=0 value
    for _ in 1 2 3 4 5; do
        value=$(/usr/bin/time -f '%M' -o "$WORK/rss" "$@" >/dev/null 2>&1; cat "$WORK/rss")
        value=${value##*$'\n'}
        [ "$value" -gt "$best" ] && best=$value
    done
    echo "$best"
}
KRSS=$(peak_of $K run --bundle "$WORK/bundle" bench)
RRSS=$(peak_of $R run --bundle "$WORK/bundle" bench)

python3 - "$RESULTS/run.json" "$KRSS" "$RRSS" <<'EOF' | tee "$RESULTS/summary.txt"
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
k, r = results["kujira-runtime run"], results["runc run"]
a = results["kujira-runtime run, ArgumentParser path"]
krss, rrss = int(sys.argv[2]), int(sys.argv[3])
print(f"kujira-runtime run: {k['mean']*1000:.1f} ± {k['stddev']*1000:.1f} ms (median {k['median']*1000:.1f}), peak RSS {krss} KB")
print(f"runc run:           {r['mean']*1000:.1f} ± {r['stddev']*1000:.1f} ms (median {r['median']*1000:.1f}), peak RSS {rrss} KB")
print(f"kujira-runtime, ArgumentParser path: {a['mean']*1000:.1f} ± {a['stddev']*1000:.1f} ms")
print(f"CPU user+sys: kujira {1000*(k['user']+k['system']):.1f} ms, runc {1000*(r['user']+r['system']):.1f} ms, ArgumentParser path {1000*(a['user']+a['system']):.1f} ms")
print(f"time ratio kujira/runc = {k['mean']/r['mean']:.2f} (target <= 0.50); RSS ratio = {krss/rrss:.2f} (target <= 1.00)")
EOF
cat "$RESULTS/run.md"
