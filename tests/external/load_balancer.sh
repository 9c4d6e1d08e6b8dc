#!/usr/bin/env bash
# The closed loop: examples/load-balancer/balancer.py against `run --speed 10` for one simulated
# evening hour, and the same evening without it; KPIs printed side by side. About 6 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-target/debug/smart-connect-sim}
[ -x "$bin" ] || cargo build --locked --bin smart-connect-sim
exec timeout 900 python3 tests/external/load_balancer.py "$bin"
