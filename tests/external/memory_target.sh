#!/usr/bin/env bash
# The in-memory target (#18): the whole conformance suite against the virtual device whose
# interfaces (Modbus TCP, HTTP, HTTPS, the MQTT broker's TLS and password listeners) and the
# suite's clients meet on in-memory pipes. Checks, with tools written elsewhere:
#  1. the suite passes on `--target memory`;
#  2. strace sees the process open no socket: no `socket`, `bind`, `listen` or `connect` call
#     at all (the only `socketpair` allowed is the one tokio's runtime makes at start for its
#     signal driver's self-pipe, an AF_UNIX pair inside the process);
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
if strace -f -qq -e trace=socket,socketpair,bind,listen,connect -e signal=none -o "$out/strace.txt" \
     "$bin" conformance --target memory --seed "$seed" --results "$out/memory.jsonl" >"$out/memory.log" 2>&1; then
  echo "memory: suite passed in $((SECONDS - started)) s (under strace)"
else
  echo "memory: the suite FAILED on the in-memory target (log: $out/memory.log)"
  grep -E '✘|FAILED|BLOCKED' "$out/memory.log" | head -20 || true
  status=1
fi
calls=$(grep -cE ' (socket|bind|listen|connect)\(' "$out/strace.txt" || true)
pairs=$(grep -cE ' socketpair\(AF_UNIX' "$out/strace.txt" || true)
others=$(grep -E ' socketpair\(' "$out/strace.txt" | grep -cv 'AF_UNIX' || true)
if [ "$calls" -eq 0 ] && [ "$pairs" -le 1 ] && [ "$others" -eq 0 ]; then
  echo "memory: strace saw no socket(), bind(), listen() or connect() call in the whole run ($pairs AF_UNIX socketpair: tokio's signal self-pipe)"
else
  echo "memory: the in-memory run touched the network ($calls socket/bind/listen/connect calls, $pairs socketpairs):"
  grep -E ' (socket|socketpair|bind|listen|connect)\(' "$out/strace.txt" | head -10
  status=1
fi

# The detector's own control: the loopback target under the same strace must show sockets.
strace -f -qq -e trace=socket,bind,listen,connect -e signal=none -o "$out/strace-loopback.txt" \
  "$bin" conformance --target virtual --seed "$seed" --tags @smoke --results "$out/smoke.jsonl" >/dev/null 2>&1 || true
control=$(grep -cE ' (socket|bind|listen|connect)\(' "$out/strace-loopback.txt" || true)
if [ "$control" -gt 0 ]; then
  echo "control: the same strace sees $control socket/bind/listen/connect calls on --target virtual (@smoke)"
else
  echo "control: strace saw no socket call on the loopback target either: the check above proves nothing"
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
  python3 tests/external/strip_results.py "$1"
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
