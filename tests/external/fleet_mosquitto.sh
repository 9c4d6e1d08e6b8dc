#!/usr/bin/env bash
# `smart-connect-sim fleet` against a real Mosquitto (#15), the way docs/fleet.md runs it:
# `fleet --pki` makes the fleet CA and the broker certificate, Mosquitto trusts that CA with
# use_identity_as_username and the ACL (so the broker itself checks CN = serial and that each
# device writes only its own topics), and 1 000 devices (SMR5/DSMR 4.2/e-MUCS mix, 1 % with an
# unset clock, 2 % silent meters, the latency tap) run 120 s of device time at --speed 4; the
# broker is killed 10 s in and started again 5 s later. Checked from the JSON summary: every
# good-clock device connected and reconnected after the outage, the bad-clock ones were
# refused by their own certificate check (MQ-06), nothing dropped (the queue outlasts the
# outage), the tap got the messages, and no second saw more connection attempts than the ramp.
# Then `fleet --auth password` on the plain listener (username = serial, same ACL).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-target/debug/smart-connect-sim}
work=$(mktemp -d)
trap 'kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tls=$(free_port); plain=$(free_port)
"$BIN" fleet --devices 1 --mqtt "mqtts://127.0.0.1:$tls" --seed 11 --pki "$work/pki" --pki-only
sed -e "s|@TLS_PORT@|$tls|" -e "s|@PLAIN_PORT@|$plain|" -e "s|@PKI_DIR@|$work/pki|" \
    -e "s|@ACL_FILE@|$PWD/tests/external/fleet_mosquitto.acl|" \
    tests/external/fleet_mosquitto.conf.in > "$work/mosquitto.conf"
start_broker() {
  /usr/sbin/mosquitto -c "$work/mosquitto.conf" >> "$work/mosquitto.log" 2>&1 &
  echo $! > "$work/pid"
  for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$tls) 2>/dev/null && return 0; sleep 0.1; done
  echo "mosquitto did not start"; cat "$work/mosquitto.log"; exit 1
}
start_broker
"$BIN" fleet --devices 1000 --mqtt "mqtts://127.0.0.1:$tls" --seed 11 \
  --meter-mix smr5:70,dsmr42:20,emucs:10 --bad-clocks 1 --silent 2 --tap \
  --ramp 500/s --speed 4 --duration 120s --summary "$work/mtls.json" 2> "$work/mtls.log" &
fleet=$!
sleep 10
kill -9 "$(cat "$work/pid")"; echo "broker killed"
sleep 5
start_broker; echo "broker back"
wait $fleet || { cat "$work/mtls.log"; exit 1; }
tail -3 "$work/mtls.log"
"$BIN" fleet --devices 300 --mqtt "mqtt://127.0.0.1:$plain" --auth password --seed 11 --tap \
  --speed 4 --duration 40s --summary "$work/plain.json" 2> "$work/plain.log" || { cat "$work/plain.log"; exit 1; }
python3 - "$work/mtls.json" "$work/plain.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); p = json.load(open(sys.argv[2]))
print("mTLS:", json.dumps(m)); print("plain:", json.dumps(p))
fails = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok: fails.append(what)
good = m["connects"] - m["reconnects"]
check(good == 1000 - m["bad_clock_devices"] and m["bad_clock_devices"] > 0 and m["clock_refused"] > 0, f"{good} good-clock devices connected, {m['clock_refused']} attempts refused by a device clock (MQ-06)")
check(m["all_connected_s"] is not None, f"all good-clock devices connected after {m['all_connected_s']} s")
check(m["lost"] >= good and m["reconnects"] >= good, f"outage: {m['lost']} connections lost, {m['reconnects']} reconnections")
# Only the unset-clock devices drop: never connected, their queue of 100 overflows after 100 s.
check(m["dropped"] <= m["bad_clock_devices"] * 20, f"dropped {m['dropped']}: only the {m['bad_clock_devices']} unset-clock devices' overflow (the queue outlasts the 20 s outage of device time)")
# SMR5 and e-MUCS send every second, DSMR 4.2 every 10 s: at least 70 % of the devices × 120.
check(m["sent"] >= 0.7 * 120 * good * 0.9, f"sent {m['sent']} measurements")
check(m["silent"] > 0, f"silent meters skipped {m['silent']} telegrams")
# The tap is a subscriber like any other: what Mosquitto let through (the ACL denies
# silently) and delivered; messages written while the broker was being killed are lost.
check(m["latency_samples"] >= 0.9 * m["sent"], f"the tap received {m['latency_samples']} of {m['sent']}")
check(m["max_attempts_per_s"] <= 510, f"at most {m['max_attempts_per_s']} connection attempts in one second (ramp 500/s; a task woken a millisecond late lands in the next second)")
check(p["connects"] == 300 and p["reconnects"] == 0 and p["dropped"] == 0, "plain TCP, username = serial: 300 devices connected once, nothing dropped")
check(p["latency_samples"] >= 0.9 * p["sent"], f"plain: the tap received {p['latency_samples']} of {p['sent']}")
sys.exit(1 if fails else 0)
PY
echo "fleet against Mosquitto: ok"
