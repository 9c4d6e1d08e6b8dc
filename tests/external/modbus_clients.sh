#!/usr/bin/env bash
# Run the virtual device fed with a real capture and read it with pymodbus (PyPI) — a Modbus
# client written elsewhere — checking every register against the replay of the same capture.
# Then every register map template (pymodbus_templates.py).
# Called by .ci/run after `cargo test`; needs python3 with pymodbus installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-target/debug/smart-connect-sim}
PORT=${PORT:-15020}
status=0
for capture in fixtures/dsmr/nb-dsmr50-iskra-am550t-3ph.txt fixtures/dsmr/p1dongel-fluvius-50217-3ph-3x230-water-gas.txt fixtures/tic/standard-tri-producer.txt; do
  expected=$(mktemp)
  "$BIN" replay "$capture" | tail -n 1 > "$expected"
  meter=smr5; case "$capture" in *tic*) meter=tic-standard-tri;; esac
  state=$(mktemp -d)
  "$BIN" run --meter "$meter" --feed "file:$capture" --modbus "127.0.0.1:$PORT" --speed 10 --state-dir "$state" > /dev/null 2>&1 &
  pid=$!
  echo "== $capture (pid $pid)"
  # The device boots (5 s device time, 0.5 s at --speed 10) before it reads the capture.
  sleep 2
  python3 tests/external/pymodbus_check.py 127.0.0.1 "$PORT" "$expected" || status=1
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$expected" "$state"
done
# Every MeterType template (MB-12), each decoded per its vendor's format; ephemeral ports.
echo "== register map templates"
BIN="$BIN" python3 tests/external/pymodbus_templates.py || status=1
exit $status
