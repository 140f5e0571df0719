#!/bin/bash
# Examples/kujira-runtime/release/build.sh — the release build of kujira-runtime: what
# Benchmarks/runtime/run.sh times and what to install in runc's place.
#
#   Examples/kujira-runtime/release/build.sh [extra swift build arguments]
#   → .build/release/kujira-runtime
#
# A plain `swift build -c release --product kujira-runtime` works too; this adds what makes a
# start cheap (Docs/performance.md, "Runtime"). The flags are given here, on the command line,
# because Package.swift could only carry them as unsafeFlags, which SwiftPM refuses in a
# package used as a dependency.
#
# - --static-swift-stdlib: the Swift runtime and FoundationEssentials linked in, no dynamic
#   loading and relocation of Swift's shared libraries at every start.
# - ld.lld (shipped with the Swift toolchain) with -z pack-relative-relocs: the ~40 000
#   relative relocations as a 8 KB DT_RELR table instead of a 950 KB .rela.dyn that the
#   dynamic loader reads at every start. Needs glibc 2.36 or later at run time (Debian 12+);
#   an older loader refuses the binary with "version `GLIBC_ABI_DT_RELR' not found".
# - --symbol-ordering-file: the ~1 500 functions a `run` executes (symbol-order.txt, made by
#   make-order.sh) placed next to each other, so that the kernel's 64 KB fault-around maps a
#   few hundred KB of text instead of pages from all over the 14 MB of code. A name that no
#   longer exists is skipped; regenerate the list after large changes to the create path.
# - libstdc++ linked statically: the static Swift runtime needs a few of its functions, and
#   the shared libstdc++ costs ≈ 5 200 relocations, most of them symbol lookups, at every
#   start (≈ 0.3 ms of the 2.7 ms CPU of a `state`). The Swift driver adds `-lstdc++` itself,
#   before any -Xlinker flag, so a directory holding only libstdc++.a (from libstdc++-12-dev,
#   which the toolchain needs anyway) goes first on the library path. Without the archive
#   the shared library is used, as before.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
static_cxx=()
archive=$(clang -print-file-name=libstdc++.a 2>/dev/null || true)
if [ -n "$archive" ] && [ -f "$archive" ]; then
    cxx_dir="$REPO/.build/kujira-static-libstdcxx"
    mkdir -p "$cxx_dir"
    ln -sfn "$archive" "$cxx_dir/libstdc++.a"
    static_cxx=(-Xswiftc "-L$cxx_dir")
else
    echo "build.sh: libstdc++.a not found (package libstdc++-12-dev); linking the shared libstdc++" >&2
fi
exec swift build -c release --static-swift-stdlib --product kujira-runtime --package-path "$REPO" \
    "${static_cxx[@]}" \
    -Xswiftc -use-ld=lld \
    -Xlinker -z -Xlinker pack-relative-relocs \
    -Xlinker --symbol-ordering-file="$HERE/symbol-order.txt" \
    -Xlinker --no-warn-symbol-ordering \
    "$@"
