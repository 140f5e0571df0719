#!/bin/sh
# Kujira's registry pull against skopeo's, from the same loopback docker-registry, in one run.
#
#   Benchmarks/registry/pull.sh [RUNS]
#
# Needs docker-registry, umoci, skopeo, hyperfine, busybox-static, python3. Everything
# (registry storage, images, stores) lives on tmpfs (/dev/shm) so the slow virtual disk does
# not dominate. Images: "big" = one ~100 MB layer of incompressible data; "layers" = 10 layers
# of ~5 MB each. Kujira pulls into its content store (no unpack); skopeo copies to oci:DIR.
set -eu
RUNS=${1:-10}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BASE=/dev/shm
[ -d "$BASE" ] || BASE=${TMPDIR:-/tmp}
WORK=$(mktemp -d "$BASE/kujira-registry-bench.XXXXXX")
REGISTRY_PID=
cleanup() {
    [ -n "$REGISTRY_PID" ] && kill "$REGISTRY_PID" 2>/dev/null && wait "$REGISTRY_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "building kujira-registry-bench (release)…" >&2
(cd "$ROOT" && swift build -c release --product kujira-registry-bench >&2)
BENCH="$ROOT/.build/release/kujira-registry-bench"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$PORT
YAML
docker-registry serve "$WORK/config.yml" >"$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT))" 2>/dev/null && break; sleep 0.1; done

# $1 layout, $2 layers, $3 MiB per layer
make_image() {
    umoci init --layout "$1"
    umoci new --image "$1:latest"
    i=0
    while [ "$i" -lt "$2" ]; do
        rootfs="$WORK/rootfs-$i"
        mkdir -p "$rootfs/bin" "$rootfs/data"
        [ "$i" = 0 ] && cp /bin/busybox "$rootfs/bin/busybox"
        head -c "$(($3 * 1048576))" /dev/urandom > "$rootfs/data/random-$i"
        umoci insert --image "$1:latest" "$rootfs" /
        rm -rf "$rootfs"
        i=$((i + 1))
    done
    skopeo --insecure-policy copy --dest-tls-verify=false "oci:$1:latest" "docker://127.0.0.1:$PORT/bench/$(basename "$1"):latest" >&2
}
echo "building and pushing test images…" >&2
make_image "$WORK/big" 1 100
make_image "$WORK/layers" 10 5

for image in big layers; do
    REF="127.0.0.1:$PORT/bench/$image:latest"
    hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$WORK/$image.json" \
        --command-name "kujira pull ($image)" --prepare "rm -rf $WORK/store" \
        "$BENCH pull $REF $WORK/store" \
        --command-name "skopeo copy ($image)" --prepare "rm -rf $WORK/oci" \
        "skopeo --insecure-policy copy --src-tls-verify=false docker://$REF oci:$WORK/oci:latest"
    python3 - "$WORK/$image.json" "$image" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
kujira, skopeo = results[0]["mean"], results[1]["mean"]
print(f"{sys.argv[2]}: kujira {kujira*1000:.0f} ms, skopeo {skopeo*1000:.0f} ms, ratio {kujira/skopeo:.2f}")
PY
done
