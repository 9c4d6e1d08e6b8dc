#!/usr/bin/env bash
# fleet_mosquitto.conf.in + fleet_mosquitto.acl, checked with the real Mosquitto and
# mosquitto_pub/mosquitto_sub (Debian packages mosquitto, mosquitto-clients) and a throwaway
# Ed25519 PKI made with openssl, the fleet's key type (no `fleet` needed):
#  1. the filled-in config loads and both listeners (mTLS, plain) accept connections;
#  2. device 02584D000001 (certificate CN = serial) publishes to its own measurements topic:
#     the fleet-tap subscriber gets it;
#  3. its publish to device 02584D000002's topic is dropped by the ACL (Mosquitto drops it
#     silently: the tap gets the marker published after it, and not it); the same for Home
#     Assistant discovery topics (%u inside a topic level: smart_connect_<serial>);
#  4. a command from the tap reaches device 2 on its own cmd topic, and not device 1
#     subscribed to device 2's cmd topic (Mosquitto 2.0.11 grants that subscription in the
#     SUBACK and checks read access per message);
#  5. a certificate from another CA and a TLS client without a certificate are refused;
#  6. on the plain listener the username 02584D000001 is under the same ACL (own topic
#     delivered, another device's dropped); a client without a username (`fleet --tap` over
#     plain TCP) reads measurements and cannot publish.
# ACL_FILE=... runs it with another ACL (with `pattern readwrite #` checks 3, 3b, 4 and 6 fail,
# which is how the checks themselves were tried). Called by .ci/run; about 1 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
for tool in "$MOSQUITTO" mosquitto_pub mosquitto_sub openssl; do
  command -v "$tool" > /dev/null || { echo "$tool not found: apt-get install mosquitto mosquitto-clients openssl" >&2; exit 1; }
done

work=$(mktemp -d)
broker_pid=
cleanup() {
  for f in "$work"/*.pid; do if [ -e "$f" ]; then kill "$(cat "$f")" 2> /dev/null || true; fi; done
  if [ -n "$broker_pid" ]; then kill "$broker_pid" 2> /dev/null || true; wait "$broker_pid" 2> /dev/null || true; fi
  if [ -n "${KEEP_LOG:-}" ]; then cp "$work/broker.log" "$KEEP_LOG"; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- the throwaway PKI: the layout `fleet --pki DIR` writes, plus client certificates ------
pki=$work/pki
mkdir -p "$pki"
# Ed25519 like the fleet's own PKI (src/fleet/pki.rs); KEY_ALG=p256 for ECDSA P-256.
case "${KEY_ALG:-ed25519}" in
  ed25519) key() { openssl genpkey -algorithm ED25519 -out "$1" 2> /dev/null; } ;;
  p256) key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2> /dev/null; } ;;
  *) echo "KEY_ALG=${KEY_ALG}: expected ed25519 or p256" >&2; exit 2 ;;
esac
ca() { # ca NAME: self-signed CA NAME.pem / NAME.key
  key "$pki/$1.key"
  openssl req -x509 -new -key "$pki/$1.key" -subj "/CN=$1" -days 2 -out "$pki/$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() { # leaf CA NAME CN EXT: NAME.pem / NAME.key signed by CA
  key "$pki/$2.key"
  openssl req -new -key "$pki/$2.key" -subj "/CN=$3" -out "$pki/$2.csr"
  printf '%s\n' "$4" > "$pki/$2.ext"
  openssl x509 -req -in "$pki/$2.csr" -CA "$pki/$1.pem" -CAkey "$pki/$1.key" -CAcreateserial \
    -days 2 -extfile "$pki/$2.ext" -out "$pki/$2.pem" 2> /dev/null
}
ca fleet-ca
ca other-ca
leaf fleet-ca broker localhost "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
client_ext="extendedKeyUsage=clientAuth"
leaf fleet-ca dev1 02584D000001 "$client_ext"
leaf fleet-ca dev2 02584D000002 "$client_ext"
leaf fleet-ca tap fleet-tap "$client_ext"
leaf other-ca foreign 02584D000001 "$client_ext"

# --- the broker ---------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
tls_port=$(free_port); plain_port=$(free_port)
sed -e "s|@TLS_PORT@|$tls_port|" -e "s|@PLAIN_PORT@|$plain_port|" -e "s|@PKI_DIR@|$pki|" \
  -e "s|@ACL_FILE@|${ACL_FILE:-$PWD/tests/external/fleet_mosquitto.acl}|" \
  tests/external/fleet_mosquitto.conf.in > "$work/mosquitto.conf"
if grep -n '@[A-Z_]*@' "$work/mosquitto.conf"; then echo "placeholders left in the config" >&2; exit 1; fi
"$MOSQUITTO" -c "$work/mosquitto.conf" -v > "$work/broker.log" 2>&1 &
broker_pid=$!

passed=0; failed=0
result() { # result OK WHAT
  if [ "$1" = 0 ]; then echo "ok: $2"; passed=$((passed + 1)); else echo "FAILED: $2"; failed=$((failed + 1)); fi
}
# as WHO CLIENT ARGS...: mosquitto_pub/_sub on the mTLS listener with WHO's certificate.
as() { local who=$1 client=$2; shift 2; "$client" --cafile "$pki/fleet-ca.pem" --cert "$pki/$who.pem" --key "$pki/$who.key" -h 127.0.0.1 -p "$tls_port" "$@"; }
listening() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2> /dev/null; }

up=1
for _ in $(seq 1 50); do
  if listening "$tls_port" && listening "$plain_port"; then up=0; break; fi
  kill -0 "$broker_pid" 2> /dev/null || break
  sleep 0.1
done
result "$up" "1. ${KEY_ALG:-ed25519} PKI; mosquitto $("$MOSQUITTO" -h 2>&1 | sed -n 's/^mosquitto version //p') loads the config, listens on $tls_port (mTLS) and $plain_port (plain)"
if [ "$up" != 0 ]; then cat "$work/broker.log"; echo "$passed passed, $failed failed"; exit 1; fi

topic() { echo "devices/home/smart-connect/$1/$2"; }
# watch NAME WHO -t FILTER...: a background subscriber with WHO's certificate writing
# "topic payload" lines to $work/NAME.out (`ready` tells when it is subscribed).
watch() {
  local name=$1 who=$2; shift 2
  # Not through `as`: $! must be mosquitto_sub itself, not a subshell, for `stop_watch`.
  mosquitto_sub --cafile "$pki/fleet-ca.pem" --cert "$pki/$who.pem" --key "$pki/$who.key" \
    -h 127.0.0.1 -p "$tls_port" "$@" -v -W 30 > "$work/$name.out" 2> "$work/$name.err" &
  echo $! > "$work/$name.pid"
}
stop_watch() { kill "$(cat "$work/$1.pid")" 2> /dev/null || true; wait "$(cat "$work/$1.pid")" 2> /dev/null || true; }
# until_seen NAME TEXT: polls NAME's output for TEXT (≤ 10 s); returns 1 if it never came.
until_seen() {
  for _ in $(seq 1 100); do grep -q -- "$2" "$work/$1.out" && return 0; sleep 0.1; done
  return 1
}
# ready NAME PUBLISH...: publishes a probe until the subscriber NAME has it.
ready() {
  local name=$1; shift
  for _ in $(seq 1 50); do
    "$@" -m "probe-$name" -q 1 2> /dev/null || true
    grep -q "probe-$name" "$work/$name.out" && return 0
    sleep 0.1
  done
  return 1
}

# 2 + 3: the tap sees device 1's own topic, not its publish to device 2's topic.
watch tap tap -t 'devices/#' -t 'homeassistant/#'
ready tap as dev1 mosquitto_pub -t "$(topic 02584D000001 data/measurements)" || true
as dev1 mosquitto_pub -q 1 -t "$(topic 02584D000001 data/measurements)" -m own-1
result "$(until_seen tap "data/measurements own-1"; echo $?)" "2. device 1 publishes to $(topic 02584D000001 data/measurements): the tap gets it"
as dev1 mosquitto_pub -q 1 -t "$(topic 02584D000002 data/measurements)" -m forged-by-1
as dev1 mosquitto_pub -q 1 -t "$(topic 02584D000001 data/events)" -m marker-1
until_seen tap marker-1 || true
ok=1; grep -q marker-1 "$work/tap.out" && ! grep -q forged-by-1 "$work/tap.out" && ok=0
result "$ok" "3. device 1's publish to device 2's topic is dropped (the tap got the marker after it, not it)"
ha=homeassistant/sensor/smart_connect_
as dev1 mosquitto_pub -q 1 -t "${ha}02584D000002/active_power_w/config" -m ha-forged-by-1
as dev1 mosquitto_pub -q 1 -t "${ha}02584D000001/active_power_w/config" -m ha-own-1
until_seen tap ha-own-1 || true
ok=1; grep -q ha-own-1 "$work/tap.out" && ! grep -q ha-forged-by-1 "$work/tap.out" && ok=0
result "$ok" "3b. Home Assistant discovery: device 1's ${ha}02584D000001/... delivered, ${ha}02584D000002/... dropped"

# 4: commands: device 2 gets its own; device 1 subscribed to device 2's commands gets nothing.
watch dev2 dev2 -t "$(topic 02584D000002 'cmd/+')"
ready dev2 as tap mosquitto_pub -t "$(topic 02584D000002 cmd/probe)" || true
watch dev1 dev1 -t "$(topic 02584D000002 'cmd/+')" -t "$(topic 02584D000001 'cmd/+')"
ready dev1 as tap mosquitto_pub -t "$(topic 02584D000001 cmd/probe)" || true
as tap mosquitto_pub -q 1 -t "$(topic 02584D000002 cmd/reset)" -m reset-2
as tap mosquitto_pub -q 1 -t "$(topic 02584D000001 cmd/reset)" -m marker-cmd-1
until_seen dev2 reset-2 || true
until_seen dev1 marker-cmd-1 || true
ok=1
grep -q "cmd/reset reset-2" "$work/dev2.out" && grep -q marker-cmd-1 "$work/dev1.out" && ! grep -q reset-2 "$work/dev1.out" && ok=0
result "$ok" "4. the tap's command reaches device 2, not device 1 subscribed to device 2's cmd/+"
stop_watch dev1; stop_watch dev2

# 5: refused identities.
rc=0; mosquitto_pub --cafile "$pki/fleet-ca.pem" --cert "$pki/foreign.pem" --key "$pki/foreign.key" \
  -h 127.0.0.1 -p "$tls_port" -q 1 -t "$(topic 02584D000001 data/measurements)" -m foreign > /dev/null 2>&1 || rc=$?
result "$([ "$rc" -ne 0 ] && ! grep -q foreign "$work/tap.out"; echo $?)" "5a. a certificate from another CA (CN 02584D000001) is refused (mosquitto_pub exit $rc)"
rc=0; mosquitto_pub --cafile "$pki/fleet-ca.pem" -h 127.0.0.1 -p "$tls_port" -q 1 \
  -t "$(topic 02584D000001 data/measurements)" -m no-cert > /dev/null 2>&1 || rc=$?
result "$([ "$rc" -ne 0 ] && ! grep -q no-cert "$work/tap.out"; echo $?)" "5b. a TLS client without a certificate is refused (mosquitto_pub exit $rc)"

# 6: plain listener, username = serial, same ACL.
plain=(-h 127.0.0.1 -p "$plain_port" -u 02584D000001)
# an anonymous subscriber (the tap over plain TCP) reads measurements
mosquitto_sub -h 127.0.0.1 -p "$plain_port" -t 'devices/#' -v -W 30 > "$work/anon.out" 2> "$work/anon.err" &
echo $! > "$work/anon.pid"
for _ in $(seq 1 50); do
  mosquitto_pub "${plain[@]}" -q 1 -t "$(topic 02584D000001 data/measurements)" -m probe-anon
  grep -q probe-anon "$work/anon.out" && break
  sleep 0.1
done
mosquitto_pub "${plain[@]}" -q 1 -t "$(topic 02584D000002 data/measurements)" -m plain-forged
mosquitto_pub "${plain[@]}" -q 1 -t "$(topic 02584D000001 data/measurements)" -m plain-own
until_seen tap plain-own || true
ok=1; grep -q plain-own "$work/tap.out" && ! grep -q plain-forged "$work/tap.out" && ok=0
result "$ok" "6. plain listener: username 02584D000001 delivered on its own topic, dropped on device 2's"
until_seen anon plain-own || true
ok=1; grep -q plain-own "$work/anon.out" && ! grep -q plain-forged "$work/anon.out" && ok=0
result "$ok" "6b. plain listener: a client without a username (the tap over plain TCP) reads measurements"
rc=0; mosquitto_pub -h 127.0.0.1 -p "$plain_port" -q 1 -t "$(topic 02584D000001 data/measurements)" -m anon-write > /dev/null 2>&1 || rc=$?
mosquitto_pub "${plain[@]}" -q 1 -t "$(topic 02584D000001 data/events)" -m marker-anon
until_seen tap marker-anon || true
ok=1; grep -q marker-anon "$work/tap.out" && ! grep -q anon-write "$work/tap.out" && ok=0
result "$ok" "6c. ... and cannot publish (dropped)"
stop_watch anon; stop_watch tap

if [ "$failed" -ne 0 ]; then
  echo "--- the tap got:"; cat "$work/tap.out"
  echo "--- broker log (tail):"; tail -40 "$work/broker.log"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
