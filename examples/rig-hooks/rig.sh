#!/bin/sh
# Bench hooks for the simulator's rig (`smart-connect-sim run --rig ADDR`), for a target
# file's `hooks:` section — the shape a lab's own relay / button / photodiode scripts take.
#   rig.sh power USB METER     1/0 each: USB-C power, meter P1 supply
#   rig.sh button down|up
#   rig.sh led                 prints red, green, blue, orange or off
#   rig.sh device-clock UTC_MS
#   rig.sh time [UNTIL_MS] FED_BYTES   prints the device time (ms); empty UNTIL_MS: don't move
#   rig.sh fresh               factory-new device, unpowered
# RIG selects the rig (default http://127.0.0.1:7100); SMART_CONNECT_RIG_TOKEN is the token
# `run --rig` printed (also in its state dir's rig-token file). Needs curl.
set -eu
RIG=${RIG:-http://127.0.0.1:7100}
AUTH="Authorization: Bearer ${SMART_CONNECT_RIG_TOKEN:?the rig token \(run --rig prints it\)}"

post() {
    curl -sS --fail-with-body -X POST -H "$AUTH" -H 'content-type: application/json' -d "$2" "$RIG$1"
}
bool() { if [ "$1" = 1 ]; then echo true; else echo false; fi; }
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([a-z0-9]*\).*/\1/p"; }

verb=${1:-}
[ $# -gt 0 ] && shift
case "$verb" in
    power) post /rig/power "{\"usb\": $(bool "$1"), \"meter\": $(bool "$2")}" >/dev/null ;;
    button) post /rig/button "{\"down\": $([ "$1" = down ] && echo true || echo false)}" >/dev/null ;;
    led) curl -sS --fail-with-body -H "$AUTH" "$RIG/rig/led" | field colour ;;
    device-clock) post /rig/device-clock "{\"utc\": $1}" >/dev/null ;;
    time) post /rig/time "{\"until\": ${1:-null}, \"fed_bytes\": $2}" | field now ;;
    fresh) post /rig/fresh '{}' >/dev/null ;;
    *) echo "usage: rig.sh power|button|led|device-clock|time|fresh …" >&2; exit 2 ;;
esac
