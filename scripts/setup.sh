#!/usr/bin/env bash
# Installs what Kujira needs to build on Debian 12 (the C libraries behind its system-library
# targets and busybox-static for the offline demo image), then builds the `kujira` example.
# Usage: scripts/setup.sh [debug|release]   (default: release)
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-release}

packages=(zlib1g-dev libzstd-dev libsqlite3-dev libssl-dev libseccomp-dev libcap-dev
          busybox-static tar gzip zstd nftables)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "setup: swift is not on PATH (Swift 6.1 or later is required)" >&2; exit 1; }
# kujira and the container init it starts (kujira-init must sit next to it).
swift build -c "$config" --product kujira
swift build -c "$config" --product kujira-init
echo "setup: built $(swift build -c "$config" --show-bin-path)/kujira and kujira-init"
