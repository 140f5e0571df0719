#!/bin/sh
# Builds kujira-fuzz with libFuzzer and AddressSanitizer and fuzzes the tar reader and the
# whiteout logic for SECONDS (default 600). Extra arguments go to libFuzzer (e.g. -jobs=2).
# New inputs go to .build/fuzz/corpus, findings to .build/fuzz/artifacts; see Fuzz/README.md.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-600}
[ $# -gt 0 ] && shift
swift build -c release --product kujira-fuzz --scratch-path .build/fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DKUJIRA_LIBFUZZER
mkdir -p .build/fuzz/corpus .build/fuzz/artifacts
# Leak checking is off: the Swift runtime's caches look like leaks to LeakSanitizer.
exec .build/fuzz/release/kujira-fuzz -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
    -max_len=65536 -dict=Fuzz/tar.dict -detect_leaks=0 -print_final_stats=1 -artifact_prefix=.build/fuzz/artifacts/ \
    "$@" .build/fuzz/corpus Fuzz/corpus
