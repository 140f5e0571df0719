#!/bin/sh
# Kujira's Dockerfile parser against Python's dockerfile-parse, in one run.
#
#   Benchmarks/dockerfile/bench.sh [RUNS]
#
# 1. builds kujira-dockerfile-bench (release);
# 2. installs dockerfile-parse from PyPI into .build/dockerfile-bench-venv (or the user site);
# 3. generates a 4 MB Dockerfile with 160,000 instructions (generate.py) and a size series
#    (1, 2, 4, 8 MB) for the linearity check, on tmpfs when /dev/shm exists;
# 4. times both with hyperfine (whole processes: start-up, reading the file, parsing).
# Results are printed and written to .build/dockerfile-bench/*.md.
set -eu
cd "$(dirname "$0")/../.."
RUNS=${1:-10}
OUT=.build/dockerfile-bench
mkdir -p "$OUT"
DATA=${TMPDIR:-/tmp}
[ -d /dev/shm ] && DATA=/dev/shm
DATA="$DATA/kujira-dockerfile-bench"
mkdir -p "$DATA"

swift build -c release --product kujira-dockerfile-bench >/dev/null
BENCH=.build/release/kujira-dockerfile-bench

PY=python3
if [ ! -x .build/dockerfile-bench-venv/bin/python3 ]; then
    python3 -m venv .build/dockerfile-bench-venv 2>/dev/null || true
fi
if [ -x .build/dockerfile-bench-venv/bin/python3 ]; then
    PY=.build/dockerfile-bench-venv/bin/python3
    $PY -m pip install --quiet dockerfile-parse
else
    python3 -m pip install --quiet --user dockerfile-parse 2>/dev/null || python3 -m pip install --quiet dockerfile-parse
fi
cat > "$OUT/dockerfile_parse_bench.py" <<'PYEOF'
import sys
from dockerfile_parse import DockerfileParser
with open(sys.argv[1], "rb") as f:
    structure = DockerfileParser(fileobj=f).structure
print(len(structure))
PYEOF

for size in 1000000 2000000 4000000 8000000; do
    python3 Benchmarks/dockerfile/generate.py "$DATA/Dockerfile.$size" "$size"
done
F="$DATA/Dockerfile.4000000"
echo "file: $(wc -c < "$F") bytes, $($BENCH "$F" --mode syntax | cut -d' ' -f2) instructions"
echo "dockerfile-parse $($PY -c 'import dockerfile_parse; print(dockerfile_parse.__version__)'), $($PY --version)"

hyperfine --warmup 2 --runs "$RUNS" -N --export-markdown "$OUT/compare.md" \
    -n "kujira parse (typed model, validation, lint)" "$BENCH $F --mode full" \
    -n "kujira parseSyntax (line parser only)" "$BENCH $F --mode syntax" \
    -n "python dockerfile-parse" "$PY $OUT/dockerfile_parse_bench.py $F"

# In-process parse times (best of 5), for the linearity series.
for size in 1000000 2000000 4000000 8000000; do
    $BENCH "$DATA/Dockerfile.$size" --mode full --repeat 5
done | tee "$OUT/linearity.txt"
