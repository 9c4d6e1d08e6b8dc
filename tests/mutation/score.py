#!/usr/bin/env python3
"""The mutation score of a cargo-mutants run, with its 95 % Wilson interval.

Reads `caught.txt`, `missed.txt`, `timeout.txt` and `unviable.txt` from a `mutants.out`
folder. Viable mutants are the caught, missed and timed-out ones; a time-out counts as
killed (the test command did not pass), and is shown apart. Prints the score, the interval,
the per-file table and every missed mutant; `--markdown` prints the same as Markdown for
docs/mutation.md.
"""

import argparse
import math
import sys
from collections import Counter
from pathlib import Path


def lines(folder, name):
    p = folder / name
    return [l.strip() for l in p.read_text().splitlines() if l.strip()] if p.exists() else []


def wilson(k, n, z=1.959964):
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    d = 1 + z * z / n
    c = p + z * z / (2 * n)
    r = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return ((c - r) / d, (c + r) / d)


def file_of(name):
    return name.split(":", 1)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="the mutants.out folder")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    if not (a.folder / "outcomes.json").exists():
        raise SystemExit(f"{a.folder}: no outcomes.json (is this a cargo-mutants output folder?)")
    caught, missed = lines(a.folder, "caught.txt"), lines(a.folder, "missed.txt")
    timeout, unviable = lines(a.folder, "timeout.txt"), lines(a.folder, "unviable.txt")
    killed = len(caught) + len(timeout)
    viable = killed + len(missed)
    lo, hi = wilson(killed, viable)
    score = killed / viable if viable else 0.0
    per_file = Counter()
    kill_file = Counter()
    for n in caught + timeout:
        per_file[file_of(n)] += 1
        kill_file[file_of(n)] += 1
    for n in missed:
        per_file[file_of(n)] += 1
    out = sys.stdout
    if a.markdown:
        out.write(f"| sampled | unviable | viable | caught | timed out | missed | score | 95 % Wilson interval |\n")
        out.write("|---|---|---|---|---|---|---|---|\n")
        out.write(
            f"| {viable + len(unviable)} | {len(unviable)} | {viable} | {len(caught)} | {len(timeout)} "
            f"| {len(missed)} | {score:.1%} | {lo:.1%} – {hi:.1%} |\n\n"
        )
        out.write("| file | viable | killed |\n|---|---|---|\n")
        for f in sorted(per_file):
            out.write(f"| `{f}` | {per_file[f]} | {kill_file[f]} |\n")
        out.write("\nMissed:\n\n")
        for n in missed:
            out.write(f"- `{n}`\n")
    else:
        out.write(
            f"viable {viable} (unviable {len(unviable)}): caught {len(caught)}, timed out "
            f"{len(timeout)}, missed {len(missed)}\n"
            f"score {score:.1%}, 95 % Wilson interval {lo:.1%} .. {hi:.1%} (targets: ≥ 90 %, lower bound ≥ 85 %)\n"
        )
        for n in missed:
            out.write(f"missed: {n}\n")


if __name__ == "__main__":
    main()
