#!/bin/bash
# Interoperability: podman (Debian's 4.3, the CDI consumer) runs a container with
# `--device nvidia.com/gpu=all` using the spec that `kujira cdi generate nvidia` wrote for a
# fake NVIDIA root, and the container sees /dev/nvidia0 as character device 195:0.
# Needs root, podman (apt-get install -y podman), umoci, skopeo, busybox-static, runc, cc.
#
#   swift build --product kujira && Tests/gpu/podman-cdi.sh [.build/debug/kujira]
set -euo pipefail
kujira=${1:-.build/debug/kujira}
here=$(cd "$(dirname "$0")" && pwd)
for tool in podman umoci skopeo runc busybox cc ldconfig; do
    command -v $tool > /dev/null || { echo "podman-cdi: $tool is missing (apt-get install -y podman umoci skopeo runc busybox-static gcc)" >&2; exit 1; }
done
work=$(mktemp -d)
spec=/var/run/cdi/kujira-test-$$.json
cleanup() {
    rm -f "$spec"
    podman rmi -f localhost/kujira-busybox > /dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

"$here"/fake-nvidia-root.sh "$work/host"
mkdir -p /var/run/cdi
"$kujira" cdi generate nvidia --host-root "$work/host" -o "$spec"

# A busybox image, built offline.
mkdir -p "$work/rootfs/bin"
cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
for applet in sh stat ls cat; do ln -s busybox "$work/rootfs/bin/$applet"; done
umoci init --layout "$work/oci"
umoci new --image "$work/oci:latest"
umoci insert --image "$work/oci:latest" "$work/rootfs" /
umoci config --image "$work/oci:latest" --config.cmd=sh
skopeo copy --insecure-policy "oci:$work/oci:latest" containers-storage:localhost/kujira-busybox

out=$(podman run --rm --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network none \
    --device nvidia.com/gpu=all localhost/kujira-busybox \
    sh -c 'stat -c "%n %F %t:%T" /dev/nvidia0 /dev/nvidiactl; cat /usr/bin/nvidia-smi | head -2')
echo "$out"
grep -q '/dev/nvidia0 character special file c3:0' <<< "$out"
grep -q '/dev/nvidiactl character special file c3:ff' <<< "$out"
echo "podman-cdi: podman applied Kujira's spec: 1 passed, 0 failed"
