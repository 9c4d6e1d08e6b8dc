#!/usr/bin/env bash
# Replay determinism (#18): the whole conformance suite against the virtual device, run twice
# with the same seed — once on an idle machine, once while two CPU burners (`yes`) load it —
# must write byte-identical results files once `duration_ms` (wall time, the only field
# allowed to differ) is left out. Waits on the virtual target are in device time and end on
# the adapters' own events, so load may slow a run down but never change a verdict.
# Usage: bash tests/external/replay_identical.sh   (SC_SEED picks the seed; default 42)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/conformance/replay
mkdir -p "$out"
seed="${SC_SEED:-42}"
cargo test --locked --quiet --features defects --test conformance --no-run

status=0
run() {
  local name=$1 started=$SECONDS
  if SC_SEED="$seed" SC_RESULTS="$out/$name.jsonl" SC_TARGET=virtual \
       cargo test --locked --quiet --features defects --test conformance >"$out/$name.log" 2>&1; then
    echo "run $name: suite passed in $((SECONDS - started)) s"
  else
    echo "run $name: the suite FAILED (log: $out/$name.log)"
    grep -E '✘|FAILED|BLOCKED' "$out/$name.log" | head -20 || true
    status=1
  fi
}

run idle

burners=()
stop_burners() {
  for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null || true; done
  burners=()
}
trap stop_burners EXIT
for _ in 1 2; do
  yes >/dev/null &
  burners+=("$!")
done
run loaded
stop_burners
trap - EXIT

strip() {
  python3 tests/external/strip_results.py "$1"
}
strip "$out/idle.jsonl" >"$out/idle.stripped"
strip "$out/loaded.jsonl" >"$out/loaded.stripped"
lines=$(wc -l <"$out/idle.stripped")
if cmp -s "$out/idle.stripped" "$out/loaded.stripped"; then
  echo "replay: the two results files ($lines scenarios, seed $seed) are byte-identical without durations"
else
  echo "replay: the results DIFFER between the idle and the loaded run (seed $seed):"
  diff "$out/idle.stripped" "$out/loaded.stripped" | head -40 || true
  status=1
fi
exit "$status"
