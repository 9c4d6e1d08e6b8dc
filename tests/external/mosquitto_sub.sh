#!/usr/bin/env bash
# The embedded broker and the virtual device's MQTT messages, seen by mosquitto_sub — an MQTT
# client written elsewhere (Debian package mosquitto-clients):
#  1. with the device certificate (CN = serial) from the test CA it receives a measurement
#     whose JSON has exactly the keys of schemas/measurements.schema.json (MQ-05, MQ-08..MQ-14);
#  2. with a client certificate from ANOTHER CA it is refused (MQ-05).
# Runs examples/mqtt_demo.rs (a virtual device + embedded broker on loopback ports).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v mosquitto_sub > /dev/null || { echo "mosquitto_sub not found: apt-get install mosquitto-clients" >&2; exit 1; }

cargo build --quiet --features defects --example mqtt_demo
TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
DEMO="$TARGET/debug/examples/mqtt_demo"

out=$(mktemp)
"$DEMO" --seconds 90 > "$out" &
pid=$!
CERT_DIR=
cleanup() { kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; rm -f "$out"; if [ -n "$CERT_DIR" ]; then rm -rf "$CERT_DIR"; fi; }
trap cleanup EXIT

for _ in $(seq 1 300); do
  grep -q '^READY$' "$out" && break
  kill -0 "$pid" 2> /dev/null || { echo "mqtt_demo exited early:" >&2; cat "$out" >&2; exit 1; }
  sleep 0.1
done
grep -q '^READY$' "$out" || { echo "mqtt_demo did not get ready" >&2; cat "$out" >&2; exit 1; }
val() { sed -n "s/^$1=//p" "$out"; }
CERT_DIR=$(val CERT_DIR); TLS_PORT=$(val TLS_PORT); SERIAL=$(val SERIAL); TOPIC=$(val TOPIC); FOREIGN_DIR=$(val FOREIGN_DIR)
echo "== broker 127.0.0.1:$TLS_PORT, device $SERIAL, certificates in $CERT_DIR"

passed=0; failed=0

echo "== 1. mosquitto_sub with the device certificate receives a valid measurement"
msg=$(mktemp)
if mosquitto_sub --cafile "$CERT_DIR/ca.pem" --cert "$CERT_DIR/device.pem" --key "$CERT_DIR/device.key" \
    -h 127.0.0.1 -p "$TLS_PORT" -t 'devices/#' -C 1 -W 20 -v > "$msg" \
  && python3 - "$msg" "$TOPIC" "$SERIAL" schemas/measurements.schema.json << 'EOF'
import json, sys
line = open(sys.argv[1]).read().strip()
topic, _, payload = line.partition(" ")
schema = json.load(open(sys.argv[4]))
v = json.loads(payload)
problems = []
if topic != sys.argv[2]:
    problems.append(f"topic {topic!r} is not {sys.argv[2]!r}")
if set(v) != set(schema["required"]):
    problems.append(f"keys differ from the schema: extra {set(v) - set(schema['required'])}, missing {set(schema['required']) - set(v)}")
types = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "null": type(None)}
for k, spec in schema["properties"].items():
    allowed = spec.get("type")
    if allowed is None or k not in v:
        continue
    allowed = allowed if isinstance(allowed, list) else [allowed]
    if not any(isinstance(v[k], types[t]) and not (t in ("integer", "number") and isinstance(v[k], bool)) for t in allowed):
        problems.append(f"{k} = {v[k]!r} is not {allowed}")
if v.get("serial") != sys.argv[3]:
    problems.append(f"serial {v.get('serial')!r}")
if problems:
    print("INVALID:", *problems, sep="\n  ")
    sys.exit(1)
print(f"ok: {topic} timestamp={v['timestamp']} power_import_w={v['power_import_w']}")
EOF
then passed=$((passed + 1)); else echo "FAILED: no valid measurement (got: $(cat "$msg"))"; failed=$((failed + 1)); fi
rm -f "$msg"

echo "== 2. a client certificate from another CA is refused"
if mosquitto_sub --cafile "$CERT_DIR/ca.pem" --cert "$FOREIGN_DIR/device.pem" --key "$FOREIGN_DIR/device.key" \
    -h 127.0.0.1 -p "$TLS_PORT" -t 'devices/#' -C 1 -W 5 > /dev/null 2>&1; then
  echo "FAILED: the foreign certificate was accepted"; failed=$((failed + 1))
else
  echo "ok: refused"; passed=$((passed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
