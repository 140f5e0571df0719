#!/bin/sh
# Builds the libFuzzer target and runs it.
#   Fuzz/dockerfile/run.sh [seconds]   (default 600)
# Crashes land in Fuzz/dockerfile/artifacts/; the corpus grows in Fuzz/dockerfile/corpus/.
set -eu
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-600}
OUT=.build/fuzz
mkdir -p "$OUT" Fuzz/dockerfile/corpus Fuzz/dockerfile/artifacts
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name KujiraDockerfileFuzz \
    $(find Sources/KujiraDockerfile -name '*.swift') Fuzz/dockerfile/FuzzDockerfile.swift \
    -o "$OUT/fuzz-dockerfile"
# Seed the corpus with the test tables' style of input.
printf 'FROM a AS b\nRUN --mount=type=cache,target=/c echo ${v:-w} \\\n  x\nCOPY <<EOF /d\nhi\nEOF\n' > Fuzz/dockerfile/corpus/seed1
printf '# escape=`\nFROM a\nENV k="v w" x=y\nHEALTHCHECK --interval=5s CMD ["a"]\nONBUILD RUN x\n' > Fuzz/dockerfile/corpus/seed2
exec "$OUT/fuzz-dockerfile" -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=4096 -max_len=4096 \
    -artifact_prefix=Fuzz/dockerfile/artifacts/ -print_final_stats=1 Fuzz/dockerfile/corpus
