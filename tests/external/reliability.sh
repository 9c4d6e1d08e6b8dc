#!/usr/bin/env bash
# Hardening under abuse (issue #14): slow loris and non-Modbus clients on the Modbus port,
# descriptor exhaustion, the embedded broker's plain listener, config saves and corrupt
# files, password guessing, secrets on disk, an overflowing telegram, control characters,
# a broker URL at the Modbus port and a broker outage — each replayed against `run` on
# loopback, bounded in time (under 3 minutes in all). Fails on any that does not hold.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/debug/smart-connect-sim
[ -x "$bin" ] || cargo build --locked --bin smart-connect-sim
exec python3 tests/external/reliability.py "$bin"
