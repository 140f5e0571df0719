#!/bin/bash
# Examples/kujira-runtime/release/make-order.sh — regenerates symbol-order.txt: the functions
# of kujira-runtime that one `run` of a container executes, from a callgrind trace.
#
#   sudo Examples/kujira-runtime/release/make-order.sh BUNDLE
#
# BUNDLE: an OCI bundle whose process exits at once (Benchmarks/runtime/run.sh's: busybox,
# /bin/true). Needs root and valgrind. The binary traced is the release build without debug
# information (valgrind 3.19 cannot read clang's DWARF 5); the order of the names does not
# matter much, only which functions are on the path.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
BUNDLE=${1:?usage: make-order.sh BUNDLE}
command -v valgrind >/dev/null || { echo "make-order.sh: valgrind is missing" >&2; exit 1; }
"$HERE/build.sh" >&2
WORK=$(mktemp -d /tmp/kujira-runtime-order.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
objcopy --strip-debug "$REPO/.build/release/kujira-runtime" "$WORK/kujira-runtime"
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$WORK/callgrind.out" \
    "$WORK/kujira-runtime" --root "$WORK/root" run --bundle "$BUNDLE" "order-$$" >&2
python3 - "$WORK/callgrind.out" "$HERE/symbol-order.txt" <<'PY'
import re, sys
objects, functions, current, order, seen = {}, {}, None, [], set()
for line in open(sys.argv[1]):
    match = re.match(r'^(ob|fn|cob|cfn)=\((\d+)\)(?: (.*))?$', line.rstrip('\n'))
    if not match:
        continue
    kind, index, name = match.groups()
    table = objects if kind in ('ob', 'cob') else functions
    if name is not None:
        table[index] = name
    if kind == 'ob':
        current = objects[index]
    elif kind == 'fn' and current and current.endswith('/kujira-runtime'):
        name = re.sub(r"'\d+$", '', functions[index])
        if not name.startswith('0x') and name not in seen:
            seen.add(name)
            order.append(name)
open(sys.argv[2], 'w').write('\n'.join(order) + '\n')
print(f"{len(order)} functions → {sys.argv[2]}", file=sys.stderr)
PY
