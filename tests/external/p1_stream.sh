#!/usr/bin/env bash
# The P1 stream (`run --p1-tcp`) read by dsmr_parser — the library Home Assistant's DSMR
# integration uses — against the Modbus registers read by pymodbus, and by ten readers at
# once (byte-identical). Called by .ci/run after the Modbus checks; under a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-target/debug/smart-connect-sim}
[ -x "$bin" ] || cargo build --locked --bin smart-connect-sim
exec timeout 60 python3 tests/external/p1_stream.py "$bin"
