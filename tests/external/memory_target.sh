#!/usr/bin/env bash
# The in-memory target (#18): the whole conformance suite against the virtual device whose
# interfaces (Modbus TCP, HTTP, HTTPS, the MQTT broker's TLS and password listeners) and the
# suite's clients meet on in-memory pipes. Checks, with tools written elsewhere:
#  1. the suite passes on `--target memory`;
#  2. strace sees the process open no socket at all (no `socket`/`socketpair` call);
#  3. with the same seed, every scenario's verdict and seed equal the loopback-socket run's
#     (`--target virtual`): the wire changes nothing a scenario judges.
# Usage: bash tests/external/memory_target.sh   (SC_SEED picks the seed; default 42)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/conformance/memory
mkdir -p "$out"
seed="${SC_SEED:-42}"
bin=target/debug/smart-connect-sim
[ -x "$bin" ] || cargo build --locked --quiet --features defects --bin smart-connect-sim
command -v strace >/dev/null || { echo "memory target: strace is needed (apt-get install strace)"; exit 1; }

status=0
started=$SECONDS
if strace -f -qq -e trace=socket,socketpair -e signal=none -o "$out/strace.txt" \
     "$bin" conformance --target memory --seed "$seed" --results "$out/memory.jsonl" >"$out/memory.log" 2>&1; then
  echo "memory: suite passed in $((SECONDS - started)) s (under strace)"
else
  echo "memory: the suite FAILED on the in-memory target (log: $out/memory.log)"
  grep -E '✘|FAILED|BLOCKED' "$out/memory.log" | head -20 || true
  status=1
fi
sockets=$(grep -cE 'socket(pair)?\(' "$out/strace.txt" || true)
if [ "$sockets" -eq 0 ]; then
  echo "memory: strace saw no socket() or socketpair() call in the whole run"
else
  echo "memory: the in-memory run opened $sockets sockets:"
  grep -E 'socket(pair)?\(' "$out/strace.txt" | head -10
  status=1
fi

started=$SECONDS
if "$bin" conformance --target virtual --seed "$seed" --results "$out/loopback.jsonl" >"$out/loopback.log" 2>&1; then
  echo "loopback: suite passed in $((SECONDS - started)) s"
else
  echo "loopback: the suite FAILED (log: $out/loopback.log)"
  status=1
fi

strip() {
  python3 - "$1" <<'PY'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    rows = [json.loads(line) for line in f]
for r in sorted(rows, key=lambda r: (r["file"], r["line"])):
    r.pop("duration_ms", None)
    print(json.dumps(r, sort_keys=True, ensure_ascii=False))
PY
}
strip "$out/memory.jsonl" >"$out/memory.stripped"
strip "$out/loopback.jsonl" >"$out/loopback.stripped"
lines=$(wc -l <"$out/memory.stripped")
if cmp -s "$out/memory.stripped" "$out/loopback.stripped"; then
  echo "memory vs loopback: the $lines scenarios' verdicts and seeds are identical (seed $seed)"
else
  echo "memory vs loopback: the results DIFFER (seed $seed):"
  diff "$out/loopback.stripped" "$out/memory.stripped" | head -20 || true
  status=1
fi
exit "$status"
