#!/bin/sh
# Network attach benchmark: "create to reachable" for the native bridge driver versus
# Debian's CNI bridge + host-local plugins driven through CNIDriver, same host, same run.
# Needs root, and containernetworking-plugins in /usr/lib/cni. Results: Docs/network.md.
set -eu
cd "$(dirname "$0")/../.."
swift build -c release --product kujira-netbench
ITERATIONS=${ITERATIONS:-50}
POOL=${POOL:-10.218.0.0/16}   # must not collide with a host route (check ip route)
.build/release/kujira-netbench attach "$ITERATIONS" "$POOL"
