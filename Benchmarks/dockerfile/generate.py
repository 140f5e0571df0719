#!/usr/bin/env python3
"""Writes a realistic Dockerfile of about SIZE bytes with SIZE/25 instructions.

    generate.py OUT [SIZE_BYTES]   (default 4_000_000: 4 MB, 160,000 instructions)

Deterministic: the same size always gives the same file. Mixes every instruction kind,
continuations, comments, JSON and shell forms, flags and heredocs, one stage per ~1,000
instructions.
"""
import random
import sys

out = sys.argv[1]
size = int(sys.argv[2]) if len(sys.argv) > 2 else 4_000_000
target = size // 25
rng = random.Random(1)
lines = ["# syntax=docker/dockerfile:1", "ARG BASE=alpine:3.19"]
n = 0
stage = 0
words = ["application", "library", "sources", "binaries", "xdg", "database", "configuration", "temporary"]


def w():
    return rng.choice(words)


while n < target:
    if n % 1000 == 0:
        if stage:
            lines.append(f'ENTRYPOINT ["/{w()}"]')
            lines.append(f'CMD ["--{w()}"]')
            n += 2
        lines.append(f"FROM $BASE AS s{stage}")
        stage += 1
        n += 1
        continue
    k = rng.randrange(16)
    if k == 0:
        lines.append(f"RUN make {w()} && \\\n    make install")
    elif k == 1:
        lines.append(f"ENV K{n % 97}={w()}")
    elif k == 2:
        lines.append(f"COPY {w()}/ /{w()}/")
    elif k == 3:
        lines.append(f'RUN ["/{w()}", "-v"]')
    elif k == 4:
        lines.append(f"WORKDIR /{w()}")
    elif k == 5:
        lines.append(f"EXPOSE {8000 + n % 100}")
    elif k == 6:
        lines.append(f"LABEL a{n % 13}={w()}")
    elif k == 7:
        lines.append(f"ARG V{n % 31}=1")
    elif k == 8:
        lines.append(f"# step {n}")
        lines.append(f"USER {w()}")
    elif k == 9:
        lines.append(f"RUN --mount=type=cache,target=/c {w()}")
    elif k == 10:
        lines.append(f"ADD --chown=1:1 {w()} /{w()}")
    elif k == 11:
        lines.append(f"VOLUME /{w()}")
    elif k == 12:
        lines.append(f"RUN echo {w()} {w()} {w()}")
    elif k == 13:
        lines.append(f"STOPSIGNAL SIGTERM")
    elif k == 14:
        lines.append(f"SHELL [\"/bin/sh\", \"-c\"]")
    else:
        lines.append(f"RUN <<EOF\necho {w()}\nEOF")
    n += 1
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
