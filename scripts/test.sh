#!/usr/bin/env bash
# Installs the test peers from Debian (umoci, skopeo, runc, …), builds Kujira with its tests
# and runs the whole suite. Run as root: integration tests use the real kernel and peers.
# With KUJIRA_REQUIRE_PRIVILEGED=1 (CI), a test that cannot find root or a peer fails
# instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh debug
peers=(umoci skopeo runc jq debootstrap hyperfine docker-registry apache2-utils openssl podman
       nftables containernetworking-plugins curl iproute2 containerd conmon time buildah catatonit python3-venv
       uidmap)
# kujirad's tests drive the real docker CLI (client only; dockerd is never started): Debian's
# docker.io when no docker client is installed.
command -v docker >/dev/null || peers+=(docker.io)
missing=()
for p in "${peers[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "test: installing peers ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A Debian minbase tree (REFERENCE.md): the large realistic image of the layer-store tests.
# Made once per machine with debootstrap from Debian's default mirror, then reused.
export KUJIRA_DEBIAN_ROOTFS=${KUJIRA_DEBIAN_ROOTFS:-/var/cache/kujira-test/debian-minbase}
if [ ! -d "$KUJIRA_DEBIAN_ROOTFS/etc" ]; then
    echo "test: debootstrap --variant=minbase bookworm $KUJIRA_DEBIAN_ROOTFS"
    rm -rf "$KUJIRA_DEBIAN_ROOTFS.tmp"
    mkdir -p "$(dirname "$KUJIRA_DEBIAN_ROOTFS")"
    debootstrap --variant=minbase bookworm "$KUJIRA_DEBIAN_ROOTFS.tmp" >/dev/null
    mv "$KUJIRA_DEBIAN_ROOTFS.tmp" "$KUJIRA_DEBIAN_ROOTFS"
fi

# Docker's parser test files (Dockerfile + result dumps), from Debian's imagebuilder sources:
# only that package is unpacked (apt-get download, no Go toolchain), once per machine.
export KUJIRA_PARSER_TESTFILES=${KUJIRA_PARSER_TESTFILES:-/var/cache/kujira-test/docker-parser-testfiles}
if [ ! -d "$KUJIRA_PARSER_TESTFILES" ]; then
    echo "test: unpacking Docker's parser test files"
    work=$(mktemp -d)
    (cd "$work" && { apt-get download -qq golang-github-openshift-imagebuilder-dev 2>/dev/null ||
                     { apt-get update -qq && apt-get download -qq golang-github-openshift-imagebuilder-dev 2>/dev/null; }; } &&
        dpkg -x ./*.deb x)
    mkdir -p "$(dirname "$KUJIRA_PARSER_TESTFILES")"
    cp -r "$work"/x/usr/share/gocode/src/github.com/openshift/imagebuilder/dockerfile/parser/testfiles "$KUJIRA_PARSER_TESTFILES.tmp"
    mv "$KUJIRA_PARSER_TESTFILES.tmp" "$KUJIRA_PARSER_TESTFILES"
    rm -rf "$work"
fi

# SwiftPM itself has been seen to crash (SIGSEGV in libdispatch's event loop) halfway through
# a clean build on this 2-core machine; a crash (not a compile error) gets one more try, which
# picks up where the first stopped.
build_status=0
swift build --build-tests || build_status=$?
if [ "$build_status" -ge 128 ]; then
    echo "test: swift build died with signal $((build_status - 128)); building again" >&2
    swift build --build-tests
elif [ "$build_status" -ne 0 ]; then
    exit "$build_status"
fi
export KUJIRA_BIN
KUJIRA_BIN="$(swift build --show-bin-path)/kujira"
swift test --skip-build "$@"
