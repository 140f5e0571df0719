#!/usr/bin/env bash
# Installs the test peers from Debian (umoci, skopeo, runc, …), builds Kujira with its tests
# and runs the whole suite. Run as root: integration tests use the real kernel and peers.
# With KUJIRA_REQUIRE_PRIVILEGED=1 (CI), a test that cannot find root or a peer fails
# instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh debug
peers=(umoci skopeo runc jq)
missing=()
for p in "${peers[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "test: installing peers ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

swift build --build-tests
export KUJIRA_BIN
KUJIRA_BIN="$(swift build --show-bin-path)/kujira"
swift test --skip-build "$@"
