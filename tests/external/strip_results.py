"""Print a conformance results file (JSON lines) without what may differ between two runs of
the same seed: each scenario's `duration_ms` (wall time). Lines come out sorted by feature
file and line, keys sorted, so two runs compare with `cmp`.
Usage: python3 tests/external/strip_results.py RESULTS.jsonl"""
import json
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    rows = [json.loads(line) for line in f]
for r in sorted(rows, key=lambda r: (r["file"], r["line"])):
    r.pop("duration_ms", None)
    print(json.dumps(r, sort_keys=True, ensure_ascii=False))
