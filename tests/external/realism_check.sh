#!/usr/bin/env bash
# Realism of the synthetic meters (#19) checked with dsmr_parser on `generate` output: a
# winter and a summer week of NL SMR 5.0, NL DSMR 4.2 and BE e-MUCS (tariff indicator ↔
# registers, no PV export between sunset and sunrise, gas capture cadence) and an e-MUCS
# stream across a month boundary (1.4.0/1.6.0/98.1.0 recomputed), and the same weeks with a
# water meter (channel 2) and a heat meter (channel 3; e-MUCS water only): capture cadence,
# monotonic values, daily water volume, winter heat ≫ summer heat. Called by .ci/run after
# the P1 stream check; about 3 minutes. Then the Linky check (tic_realism_check.py): a
# winter and a summer week of historic and standard producer frames on the HC/HP option,
# decoded from the Enedis spec; about 1 minute.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-target/debug/smart-connect-sim}
[ -x "$bin" ] || cargo build --locked --bin smart-connect-sim
timeout 600 python3 tests/external/realism_check.py "$bin"
exec timeout 300 python3 tests/external/tic_realism_check.py "$bin"
