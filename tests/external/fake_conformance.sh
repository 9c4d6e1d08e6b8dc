#!/usr/bin/env bash
# The conformance suite against an implementation we did not derive from our simulator: an
# independent fake P1 firmware in Python (tests/external/fake_firmware: pymodbus +
# dsmr_parser, Modbus and P1 only — no HTTP, no MQTT, no LED), in real time, through a
# ser2net-style TCP meter line and a `fresh` hook. Checks:
#   - the correct fake: 0 FAIL, every HTTP/status/web/MQTT/LED/button/power scenario skipped
#     with its reason;
#   - each planted bug fails its requirement ID with an actionable message;
#   - a slow but correct fake (400 ms latency, max_latency_ms 1000) passes;
#   - the torn update over ~5 ms is caught in >= 19 of 20 runs of MB-08;
#   - an unreachable meter line blocks the run (exit 2, JUnit <error>), not a device FAIL.
# Prints the verdict table; everything lands under target/conformance/fake/.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/debug/smart-connect-sim
[ -x "$bin" ] || cargo build --locked --bin smart-connect-sim
fake_dir=$PWD/tests/external/fake_firmware
out=$PWD/target/conformance/fake
rm -rf "$out" && mkdir -p "$out"
table=$out/verdicts.md
printf '| fake | tags | expected | verdict | exit | time | message |\n|---|---|---|---|---|---|---|\n' >"$table"

fake_pid=""
stop_fake() {
  if [ -n "$fake_pid" ]; then kill "$fake_pid" 2>/dev/null || true; wait "$fake_pid" 2>/dev/null || true; fi
  fake_pid=""
}
trap stop_fake EXIT

# start_fake NAME [fake args…]: the fake on ephemeral loopback ports, and its target file.
start_fake() {
  local name=$1; shift
  local dir=$out/$name
  mkdir -p "$dir"
  python3 "$fake_dir/fake_smart_connect.py" --modbus 127.0.0.1:0 --meter-line 127.0.0.1:0 \
    --control 127.0.0.1:0 --ports-file "$dir/ports.json" --boot-ms 300 "$@" >"$dir/fake.log" 2>&1 &
  fake_pid=$!
  for _ in $(seq 1 100); do [ -s "$dir/ports.json" ] && break; sleep 0.1; done
  [ -s "$dir/ports.json" ] || { echo "the fake did not start:"; cat "$dir/fake.log"; exit 1; }
  port() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$dir/ports.json" "$1"; }
  cat >"$dir/fake.yaml" <<EOF
description: independent fake P1 firmware (Python, pymodbus + dsmr_parser) — $name
firmware: fake-1.0 ($name)
variant: p1
meters: [smr5, smr5-1ph, dsmr42, emucs]
modbus: 127.0.0.1:$(port modbus)
feed: {tcp: 127.0.0.1:$(port meter_line)}
boot_ms: 600
settle_ms: 100
max_latency_ms: 1000
hooks:
  fresh: python3 $fake_dir/fake_ctl.py --control 127.0.0.1:$(port control) fresh
EOF
}

# judge NAME TAGS EXPECTED_ID EXPECTED_EXIT HINT: one suite run against the running fake.
judge() {
  local name=$1 tags=$2 want=$3 want_exit=$4 hint=$5 dir=$out/$1
  local args=(conformance --target "$dir/fake.yaml" --results "$dir/results.jsonl"
    --junit "$dir/junit.xml" --report "$dir/report.md")
  [ -n "$tags" ] && args+=(--tags "$tags")
  local t0=$SECONDS rc=0
  "$bin" "${args[@]}" >"$dir/suite.log" 2>&1 || rc=$?
  local took=$((SECONDS - t0))
  python3 - "$dir/results.jsonl" "$name" "$tags" "$want" "$rc" "$want_exit" "$took" "$hint" >>"$table" <<'PY'
import json, sys
path, name, tags, want, rc, want_exit, took, hint = sys.argv[1:]
runs = [json.loads(l) for l in open(path)]
failed = [r for r in runs if r["status"] == "failed"]
verdict = f"{sum(r['status'] == 'passed' for r in runs)} pass, {len(failed)} FAIL, " \
          f"{sum(r['status'] == 'blocked' for r in runs)} blocked, {sum(r['status'] == 'skipped' for r in runs)} skipped"
msg = ""
problems = []
if int(rc) != int(want_exit):
    problems.append(f"exit {rc}, expected {want_exit}")
if want == "-":
    if failed:
        problems.append("false FAIL: " + "; ".join(f"{r['file']}:{r['line']} {r.get('reason','')}" for r in failed))
else:
    hits = [r for r in failed if f"@{want}" in r["tags"]]
    if not hits:
        problems.append(f"no failing scenario carries @{want}")
    else:
        msg = hits[0].get("reason", "")
        if hint.lower() not in msg.lower():
            problems.append(f"the message does not say {hint!r}: {msg}")
msg = (msg or "").replace("|", "\\|").replace("\n", " ")[:220]
print(f"| {name} | {tags or '(all)'} | {want if want != '-' else 'no FAIL'} | {verdict} | {rc} | {took} s | {msg} |")
if problems:
    sys.stderr.write(f"fake conformance ({name}): " + "; ".join(problems) + "\n")
    sys.exit(1)
PY
}

echo "== the correct fake: the whole suite in real time"
start_fake correct
judge correct "" - 0 ""
python3 - "$out/correct/results.jsonl" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
need = ("@needs-http", "@needs-status", "@needs-web", "@needs-mqtt", "@needs-led", "@needs-button", "@needs-power")
wrong = [r for r in runs if any(t in r["tags"] for t in need)
         and not (r["status"] == "skipped" and r.get("reason"))]
assert not wrong, "not skipped with a reason: " + "; ".join(f"{r['file']}:{r['line']} {r['status']}" for r in wrong)
passed = sum(r["status"] == "passed" for r in runs)
assert passed >= 30, f"only {passed} scenarios passed"
print(f"correct fake: {passed} passed; every HTTP/status/web/MQTT/LED/button/power scenario skipped with its reason")
PY
stop_fake

echo "== planted bugs: each must fail its requirement with an actionable message"
for spec in "abcd|@MB-06|MB-06|AB CD" "unit1|@MB-03|MB-03|unit id" "no-fc4|@MB-04|MB-04|illegal function" \
            "dsmr42-nan|@P1-05|P1-05|NaN" "second-client|@MB-02|MB-02|second Modbus client" \
            "torn|@MB-08|MB-08|mixed two telegrams"; do
  IFS='|' read -r bug tags want hint <<<"$spec"
  start_fake "bug-$bug" --bug "$bug"
  judge "bug-$bug" "$tags" "$want" 1 "$hint"
  stop_fake
done

echo "== a slow but correct device: 400 ms register latency within max_latency_ms 1000"
start_fake latency-400 --latency-ms 400
judge latency-400 "(@modbus or @p1) and not @MB-10" - 0 ""
stop_fake

echo "== the torn update over ~5 ms, 20 runs of MB-08 with different seeds"
start_fake torn-20 --bug torn
caught=0
for seed in $(seq 1 20); do
  if ! "$bin" conformance --target "$out/torn-20/fake.yaml" --tags @MB-08 --seed "$seed" \
      --results "$out/torn-20/results-$seed.jsonl" >"$out/torn-20/suite-$seed.log" 2>&1; then
    grep -q '"status":"failed"' "$out/torn-20/results-$seed.jsonl" && caught=$((caught + 1))
  fi
done
stop_fake
echo "| torn ×20 | @MB-08 | MB-08 | caught in $caught of 20 runs | | | |" >>"$table"
[ "$caught" -ge 19 ] || { echo "the torn update was caught in only $caught of 20 runs"; exit 1; }

echo "== a bench fault: the meter line unreachable blocks the run"
mkdir -p "$out/blocked"
closed=$(python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1]);s.close()")
cat >"$out/blocked/fake.yaml" <<EOF
description: a bench whose meter line is unplugged
variant: p1
modbus: 127.0.0.1:$closed
feed: {tcp: 127.0.0.1:$closed}
EOF
rc=0
"$bin" conformance --target "$out/blocked/fake.yaml" --tags @MB-06 --results "$out/blocked/results.jsonl" \
  --junit "$out/blocked/junit.xml" >"$out/blocked/suite.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { echo "an unreachable meter line exited $rc, expected 2"; cat "$out/blocked/suite.log"; exit 1; }
grep -q '"status":"blocked"' "$out/blocked/results.jsonl"
! grep -q '"status":"failed"' "$out/blocked/results.jsonl"
grep -q '<error message=' "$out/blocked/junit.xml"
echo "| unplugged meter line | @MB-06 | blocked | exit 2, JUnit error | 2 | | $(grep -o 'BLOCKED before[^"]*' "$out/blocked/suite.log" | head -1 | cut -c1-200) |" >>"$table"

cat "$table"
echo "fake conformance: 0 false FAIL on the correct fake; every planted bug caught with its requirement"
