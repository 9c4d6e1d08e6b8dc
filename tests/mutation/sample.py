#!/usr/bin/env python3
"""A seeded random sample of cargo-mutants mutants, stratified by source file.

Reads the JSON list that `cargo mutants --list --json` prints (stdin or a file), draws
`--size` mutants with `random.Random(--seed)` so that every file gets its share of the
sample (largest-remainder allocation, at least one per file that has mutants), and writes:

- `<out>/sample.txt`: the chosen mutant names, one per line, in list order;
- `<out>/sample.re`: one anchored regular expression per mutant, for `--examine-re`;
- `<out>/strata.tsv`: file, mutants in the file, mutants drawn from it.

The same list, seed and size always give the same sample (docs/mutation.md).
"""

import argparse
import json
import random
import re
import sys
from collections import OrderedDict
from pathlib import Path


def allocate(counts, size):
    """Largest-remainder allocation of `size` over strata with at least one each."""
    total = sum(counts.values())
    if size < len(counts):
        raise SystemExit(f"--size {size} is smaller than the {len(counts)} files to cover")
    if size > total:
        raise SystemExit(f"--size {size} is larger than the {total} mutants listed")
    share = {f: max(1, size * n // total) for f, n in counts.items()}
    left = size - sum(share.values())
    by_remainder = sorted(counts, key=lambda f: (-(size * counts[f] % total), f))
    i = 0
    while left > 0:
        f = by_remainder[i % len(by_remainder)]
        if share[f] < counts[f]:
            share[f] += 1
            left -= 1
        i += 1
    while left < 0:  # the minimum of one per file overshot: take from the largest shares
        f = max(share, key=lambda g: (share[g], g))
        share[f] -= 1
        left += 1
    return share


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("list", nargs="?", help="JSON from `cargo mutants --list --json` (default stdin)")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    text = Path(a.list).read_text() if a.list else sys.stdin.read()
    try:
        mutants = json.loads(text)
    except json.JSONDecodeError as e:
        raise SystemExit(f"{a.list or 'stdin'}: not JSON at line {e.lineno} column {e.colno}: {e.msg}")
    by_file = OrderedDict()
    for i, m in enumerate(mutants):
        name = m.get("name")
        path = m.get("file") or m.get("source_file")
        if not name or not path:
            raise SystemExit(f"mutant #{i}: no 'name' or 'file' field (cargo-mutants ≥ 26.1 lists both)")
        by_file.setdefault(path, []).append(name)
    counts = {f: len(v) for f, v in by_file.items()}
    share = allocate(counts, a.size)
    rng = random.Random(a.seed)
    chosen = set()
    for f in sorted(by_file):
        chosen.update(rng.sample(by_file[f], share[f]))
    order = [m["name"] for m in mutants if m["name"] in chosen]
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "sample.txt").write_text("".join(n + "\n" for n in order))
    (a.out / "sample.re").write_text("".join("^" + re.escape(n) + "$\n" for n in order))
    (a.out / "strata.tsv").write_text(
        "file\tmutants\tsampled\n"
        + "".join(f"{f}\t{counts[f]}\t{share[f]}\n" for f in sorted(counts))
    )
    print(f"{len(order)} of {len(mutants)} mutants from {len(counts)} files, seed {a.seed}")


if __name__ == "__main__":
    main()
