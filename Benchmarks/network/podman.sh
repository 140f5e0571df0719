#!/bin/sh
# Container on a bridge network, Kujira vs podman: the wall time of
# `run --rm --network NET IMAGE true` (create, attach, start, exit, detach, remove) and of the
# same with `--network none`; the difference is what joining a bridge network costs each.
# Debian 12's podman 4.3 uses the CNI backend (bridge + host-local + portmap + firewall +
# tuning). Both run from private roots (podman --root/--runroot/--network-config-dir) with
# their own bridges and subnets, removed at the end. Needs root, podman and
# containernetworking-plugins. Results: Docs/performance.md.
# Usage: Benchmarks/network/podman.sh [runs]   (KUJIRA=path/to/kujira to skip the build)
set -eu
cd "$(dirname "$0")/../.."
N=${1:-20}
K=${KUJIRA:-}
if [ -z "$K" ]; then
    swift build -c release --product kujira >/dev/null
    swift build -c release --product kujira-init >/dev/null
    K="$(swift build -c release --show-bin-path)/kujira"
fi
work=$(mktemp -d)
tag=$$
KJ="$K --root $work/kroot --state $work/kstate"
PM="podman --root $work/proot --runroot $work/prun --network-config-dir $work/cni --cgroup-manager cgroupfs --events-backend none"
cleanup() {
    $PM network rm -f "kjbench$tag" >/dev/null 2>&1 || true
    $KJ network __teardown >/dev/null 2>&1 || true
    for m in $(awk -v d="$work" '$5 ~ "^"d {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/cni"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh true; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
$KJ import --change 'CMD ["sh"]' "$work/rootfs" localhost/bench:1 >/dev/null
$PM import --change 'CMD ["sh"]' "$work/rootfs.tar" localhost/bench:1 >/dev/null
$KJ network create --subnet 10.219.250.0/24 "kjbench$tag" >/dev/null
$PM network create --subnet 10.219.251.0/24 "kjbench$tag" >/dev/null

# The four commands run interleaved, N rounds after one warm-up round, so that load from
# other processes falls on all of them alike; prints median and p90 per command in ms.
KF="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
export KUJIRA_IP_FORWARD=0
set -- \
    "kujira  --network none|$KJ run --rm $KF --network none localhost/bench:1 true" \
    "kujira  --network bridge-net|$KJ run --rm $KF --network kjbench$tag localhost/bench:1 true" \
    "podman  --network none|$PM run --rm $KF --network none localhost/bench:1 true" \
    "podman  --network bridge-net|$PM run --rm $KF --network kjbench$tag localhost/bench:1 true"
round=0
while [ $round -le "$N" ]; do
    k=0
    for entry in "$@"; do
        k=$((k + 1))
        s=$(date +%s%N); ${entry#*|} >/dev/null; e=$(date +%s%N)
        [ $round -gt 0 ] && echo $(( (e - s) / 1000 )) >> "$work/times.$k"
    done
    round=$((round + 1))
done
k=0
for entry in "$@"; do
    k=$((k + 1))
    sort -n "$work/times.$k" | awk -v n="${entry%%|*}" '{a[NR]=$1} END {printf "%-32s median %7.1f ms   p90 %7.1f ms\n", n, a[int((NR+1)/2)]/1000, a[int(NR*0.9+0.5)]/1000}'
done
