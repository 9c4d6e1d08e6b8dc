#!/usr/bin/env python3
"""Hardening under abuse: the attacks of issue #14 replayed against `smart-connect-sim run`
on loopback, each bounded in time, every one judged. Prints one line per check with the
numbers (how soon a slot is freed, descriptors used, when throttling starts) and exits 1 if
any check does not hold. Written against the device's sockets only (no project code).

    python3 tests/external/reliability.py [path/to/smart-connect-sim]
"""

import base64
import http.client
import json
import os
import resource
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reliability_device as rd  # noqa: E402
from reliability_device import (  # noqa: E402
    addr, closed_within, count_publishes, http_request, modbus_read, mqtt_connect_packet,
    mqtt_publish, mqtt_session, mqtt_subscribe)

if len(sys.argv) > 1:
    rd.BIN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="reliability-")


def Device(name, extra=(), nofile=None, prepare=None):
    return rd.Device(WORK, name, extra, nofile, prepare)
RESULTS = []  # (item, check, ok, numbers)


def check(item, name, ok, numbers):
    RESULTS.append((item, name, bool(ok), numbers))
    print(f"{'ok  ' if ok else 'FAIL'} {item:>2}  {name}: {numbers}", flush=True)


# --- the checks --------------------------------------------------------------------------------

SPEED = 10  # device seconds per real second on the main device


def item1_modbus_slot(dev):
    # Slow loris: a header announcing the largest frame, then a byte every 0.2 s.
    loris = socket.create_connection(dev.modbus)
    loris.sendall(bytes([0, 1, 0, 0, 0, 254, 1]))
    start, closed = time.monotonic(), None
    while time.monotonic() - start < 30:
        try:
            loris.sendall(b"\x00")
        except OSError:
            closed = time.monotonic() - start
            break
        if closed_within(loris, 0.2) is not None:
            closed = time.monotonic() - start
            break
    loris.close()
    served = modbus_read(dev.modbus) is not None
    check(1, "slow loris (1 byte per 0.2 s) loses the Modbus slot",
          closed is not None and closed * SPEED <= 8 and served,
          f"closed after {closed if closed is None else round(closed * SPEED, 1)} s of device time "
          f"(limit 5 s; before: held ~18 h); next client served: {served}")
    # Non-Modbus clients that stay connected: closed at once, the slot is free again.
    for name, first in [("MQTT CONNECT", mqtt_connect_packet("x")),
                        ("TLS ClientHello", bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])),
                        ("MBAP length 65535", bytes([0, 1, 0, 0, 0xFF, 0xFF, 1]))]:
        s = socket.create_connection(dev.modbus)
        s.sendall(first)
        t = closed_within(s, 5)
        s.close()
        served = modbus_read(dev.modbus) is not None
        check(1, f"{name} on the Modbus port closed at once", t is not None and t < 1 and served,
              f"closed after {None if t is None else round(t * 1000)} ms (before: held 60 s); next client served: {served}")


def raise_own_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def item2_descriptors():
    limit = 160  # below the four 64-connection budgets together: descriptors do run out
    dev = Device("fds", ["--speed", str(SPEED)], nofile=limit)
    try:
        if not dev.wait_serving():
            return check(2, "device under fd limit serves", False, dev.log())
        auth = base64.b64encode(f"user:{dev.password}".encode()).decode()
        head = (f"PATCH /api/v1/config HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n"
                "Content-Type: application/merge-patch+json\r\nContent-Length: 100\r\n\r\n{").encode()
        held, refused = [], 0
        attack = time.monotonic()
        for target in [dev.http] * 300 + [dev.https] * 300 + [dev.mqtt] * 300 + [dev.mqtts] * 300:
            try:
                s = socket.create_connection(target, timeout=2)
                if target == dev.http:
                    s.sendall(head)
                held.append(s)
            except OSError:
                refused += 1
        time.sleep(0.5)  # let the device's accept loops see every connection (real process)
        still_open = 0
        for s in held:
            s.setblocking(False)
            try:
                still_open += 0 if s.recv(1) == b"" else 1
            except BlockingIOError:
                still_open += 1
            except OSError:
                pass
        fds = dev.fds()
        value = modbus_read(dev.modbus)
        whole = dev.log(whole=True)
        log_lines, emfile = whole.count("\n"), whole.count("Too many open files")
        check(2, f"{len(held) + refused} slow HTTP/HTTPS/MQTT/MQTTS clients under `ulimit -n {limit}`",
              fds < limit and value is not None and log_lines < 5000,
              f"{still_open} kept open, the rest closed at once; device fds {fds}/{limit}; descriptors ran out "
              f"({emfile} log lines say so, {log_lines} in all); "
              f"Modbus during the attack: {'served' if value is not None else 'REFUSED'} "
              "(before: 'modbus server stopped: Too many open files', for good)")
        t0 = attack
        status = None
        # Each generation of slow bodies holds the 64 HTTP slots for one 10 s body timeout, and
        # attack connections still queued in the listen backlog take the freed slots first: a
        # few generations may pass (11.7 s, 21.7 s, 28.7 s seen on 2 cores) before a new client
        # gets a slot. Never is the failure; the time is printed.
        while time.monotonic() - t0 < 45:
            try:
                status = http_request(dev, "GET", "/api/v1/status", password=dev.password, timeout=2)[0]
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)  # waiting for the device's wall-clock body timeout
        for s in held:
            s.close()
        check(2, "slow bodies time out and HTTP serves again", status == 200,
              f"HTTP {status} {round(time.monotonic() - t0, 1)} s after the attack began "
              f"(body timeout 10 s; before: never); 'modbus server stopped' in log: "
              f"{'modbus server stopped' in dev.log(whole=True)}")
    finally:
        dev.stop()


def dsmr_crc(data):
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def item8_overflowing_version():
    body = ("/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(999999999.9)\r\n0-0:1.0.0(261203120000W)\r\n"
            "1-0:1.7.0(01.234*kW)\r\n1-0:2.7.0(00.000*kW)\r\n1-0:32.7.0(230.0*V)\r\n!")
    telegram = body + f"{dsmr_crc(body.encode()):04X}\r\n"
    path = os.path.join(WORK, "overflow.txt")
    with open(path, "w", newline="") as f:
        f.write(telegram * 3)
    dev = Device("overflow", ["--speed", str(SPEED), "--meter", "smr5", "--feed", f"file:{path}"])
    try:
        served = dev.wait_serving(15)
        time.sleep(1)  # three telegrams at the meter's cadence (10 s of device time)
        alive = dev.alive()
        check(8, "a valid telegram with version 999999999.9 (correct CRC)",
              alive and served and "panicked" not in dev.log(whole=True),
              f"device alive: {alive}; Modbus served: {served}; panic in log: {'panicked' in dev.log(whole=True)} "
              "(before: 'attempt to multiply with overflow' in debug builds)")
    finally:
        dev.stop()


def rig_call(dev, method, path, body=None, token="__device__"):
    c = http.client.HTTPConnection(*dev.rig, timeout=15)
    headers = {"Content-Type": "application/json"}
    token = dev.rig_token if token == "__device__" else token
    if token:
        headers["Authorization"] = f"Bearer {token}"
    c.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def item7_rig_token(dev):
    anon = rig_call(dev, "GET", "/rig", token=None)
    wrong = rig_call(dev, "GET", "/rig", token="0" * 32)
    right = rig_call(dev, "GET", "/rig")
    leaked = dev.password.encode() in anon[1] or dev.password.encode() in wrong[1]
    check(7, "GET /rig needs the printed token",
          anon[0] == 401 and wrong[0] == 401 and right[0] == 200 and not leaked,
          f"no token {anon[0]}, wrong token {wrong[0]}, printed token {right[0]}; "
          f"label password in a refusal: {leaked} (before: 200 with the password to anyone)")


def item9_broker_at_modbus_port(dev):
    """The device's broker URL pointed at its own Modbus port: Modbus polls keep working."""
    url = f"mqtt://127.0.0.1:{dev.modbus[1]}"
    status = http_request(dev, "PATCH", "/api/v1/config", {"MQTT": {"Broker": url}},
                          password=dev.password)[0]
    http_request(dev, "POST", "/api/v1/reset", password=dev.password)  # MQ-01: after a restart
    time.sleep(0.2)
    dev.wait_serving()
    ok = total = 0
    end = time.monotonic() + 4  # 40 s of device time: several MQTT attempts at the port
    while time.monotonic() < end:
        total += 1
        try:
            ok += modbus_read(dev.modbus, timeout=1) is not None
        except OSError:
            pass
        time.sleep(0.05)  # a charger polling (and reconnecting) 20 times a second
    http_request(dev, "PATCH", "/api/v1/config",
                 {"MQTT": {"Broker": "mqtts://broker.xemex-cloud.eu:8883"}}, password=dev.password)
    http_request(dev, "POST", "/api/v1/reset", password=dev.password)
    time.sleep(0.2)
    dev.wait_serving()
    share = ok / max(total, 1)
    check(9, "broker URL pointing at the device's own Modbus port",
          status == 200 and share >= 0.95,
          f"PATCH {status}; {ok}/{total} reconnecting Modbus polls served ({share:.0%}; before: 52 %)")


def item9_reconnect(dev):
    """A 60 s broker outage (device time): MQTT back within 10 s of the broker's return."""
    watch = json.loads(rig_call(dev, "GET", "/rig")[1])["watch"]
    wa = addr(watch["url"].split("://")[1])
    s, code = mqtt_session(wa, "reliability-watch", watch["username"], watch["password"])
    mqtt_subscribe(s, f"devices/+/smart-connect/{dev.serial}/data/measurements")
    before = count_publishes(s, 1.0)
    rig_call(dev, "POST", "/rig/broker", {"reachable": False})
    time.sleep(60 / SPEED)  # the outage: 60 s of device time at --speed 10
    during = count_publishes(s, 0.1)
    rig_call(dev, "POST", "/rig/broker", {"reachable": True})
    t0 = time.monotonic()
    back = None
    while time.monotonic() - t0 < 30 / SPEED * 2:
        if count_publishes(s, 0.1):
            back = (time.monotonic() - t0) * SPEED
            break
    s.close()
    check(9, "MQTT back after a 60 s broker outage", code == 0 and before > 0 and back is not None and back <= 12,
          f"watch CONNACK {code}; {before} messages/s before; back {None if back is None else round(back, 1)} s "
          "(device time) after the broker (limit 10 s + one telegram; before: 53 s)")


def item4_failed_save(dev):
    before = http_request(dev, "GET", "/api/v1/config", password=dev.password)[2]["MQTT"]["Site"]
    blocker = os.path.join(dev.state, "config.json.tmp")
    os.makedirs(blocker)  # the temp file's path is taken: the save cannot happen
    status, _, body = http_request(dev, "PATCH", "/api/v1/config", {"MQTT": {"Site": "changed-site"}},
                                   password=dev.password)
    after = http_request(dev, "GET", "/api/v1/config", password=dev.password)[2]["MQTT"]["Site"]
    shown = http_request(dev, "GET", "/api/v1/status", password=dev.password)[2].get("Config", {})
    os.rmdir(blocker)
    detail = body.get("detail", "") if isinstance(body, dict) else str(body)
    check(4, "a config save that fails", status == 500 and after == before and shown.get("SaveError"),
          f"PATCH {status} ({detail[:80]}); Site still {after!r}; status Config.SaveError set: "
          f"{bool(shown.get('SaveError'))} (before: 200 with the new value, lost at restart)")


def item5_corrupt_config():
    def prepare(state):
        with open(os.path.join(state, "config.json"), "w") as f:
            f.write('{"MQTT": {"Site": "half-writ')
        with open(os.path.join(state, "config.json.tmp"), "w") as f:
            f.write("left by a kill")
    dev = Device("corrupt", ["--speed", str(SPEED)], prepare=prepare)
    try:
        dev.wait_serving()
        files = sorted(os.listdir(dev.state))
        backups = [f for f in files if f.startswith("config.json.corrupt-")]
        cfg = http_request(dev, "GET", "/api/v1/status", password=dev.password)[2].get("Config", {})
        check(5, "a corrupt config file at start",
              backups and cfg.get("Recovered") and "config.json.tmp" not in files,
              f"kept as {backups}; status Config.Recovered {cfg.get('Recovered')!r}; stale temp file "
              f"removed: {'config.json.tmp' not in files} (before: factory settings, one WARN line, "
              "the bad file overwritten by the next PATCH, temp files never cleaned)")
    finally:
        dev.stop()


def item6_throttling(dev):
    codes, first_429, retry = [], None, None
    for i in range(20):
        status, headers, _ = http_request(dev, "GET", "/api/v1/status", password="wrong-password")
        codes.append(status)
        if status == 429 and first_429 is None:
            first_429, retry = i + 1, headers.get("retry-after")
    legit = []
    for _ in range(20):
        t = time.monotonic()
        legit.append((http_request(dev, "GET", "/api/v1/status", password=dev.password)[0],
                      time.monotonic() - t))
    p50 = sorted(d for _, d in legit)[len(legit) // 2] * 1000
    check(6, "20 wrong passwords from one address",
          first_429 is not None and first_429 <= 10 and all(c == 200 for c, _ in legit),
          f"401 ×{codes.count(401)}, first 429 at attempt {first_429} (Retry-After {retry} s); the right "
          f"password meanwhile: {sum(c == 200 for c, _ in legit)}/20 × 200, p50 {p50:.1f} ms "
          "(before: 3 047 wrong passwords/s, all plain 401)")


def item7_secrets_on_disk(dev):
    def mode(p):
        return os.stat(p).st_mode & 0o777
    loose = []
    for root, dirs, files in os.walk(dev.state):
        for f in files:
            secret = f == "config.json" or f.endswith(".key") or f in ("rig-token", "label-seed")
            if secret and mode(os.path.join(root, f)) & 0o077:
                loose.append(f"{os.path.relpath(os.path.join(root, f), dev.state)} {mode(os.path.join(root, f)):o}")
    top = mode(dev.state)
    check(7, "state folder and secrets on disk", top == 0o700 and not loose,
          f"state folder {top:o}; readable by others: {loose or 'nothing'} (before: 0755 folder, 0644 config.json and keys)")
    other = Device("second-install", ["--speed", str(SPEED)])
    other.stop()
    check(7, "the label password differs per installation (same --seed)", other.password != dev.password,
          f"{dev.password[:4]}… vs {other.password[:4]}… (before: M6paif6D93wJThtC on every default run)")


def item9_control_characters(dev):
    status, _, body = http_request(dev, "PATCH", "/api/v1/config", {"MQTT": {"Username": "ab\u0000c"}},
                                   password=dev.password)
    pointer = body.get("pointer") if isinstance(body, dict) else None
    check(9, "an MQTT username with a NUL byte", status in (400, 422) and pointer == "/MQTT/Username",
          f"PATCH {status}, pointer {pointer} (before: 200, then the broker dropped the device)")


def item3_plain_broker(dev):
    """Anonymous commands and client-id takeovers on the plain listener."""
    topic = f"devices/unknown-site/smart-connect/{dev.serial}"
    user, password = dev.installer
    watch, code = mqtt_session(dev.mqtt, "reliability-installer", user, password)
    mqtt_subscribe(watch, f"{topic}/data/measurements")
    before = count_publishes(watch, 1.0)
    anon, anon_code = mqtt_session(dev.mqtt, "reliability-anon")
    try:
        mqtt_publish(anon, f"{topic}/cmd/reset")
    except OSError:
        pass
    anon.close()
    served = down = 0
    end = time.monotonic() + 1.0  # 10 s of device time: a reset would take Modbus down ~5 s
    while time.monotonic() < end:
        try:
            ok = modbus_read(dev.modbus, timeout=1) is not None
        except OSError:
            ok = False
        served, down = served + ok, down + (not ok)
        time.sleep(0.05)  # a charger polling 20 times a second
    check(3, "anonymous cmd/reset on the plain listener",
          code == 0 and anon_code != 0 and down == 0,
          f"installer CONNACK {code}; anonymous CONNACK {anon_code}; Modbus polls after it "
          f"{served} served / {down} failed (before: accepted, Modbus down 4.9 s per message)")
    results = []
    for creds in [(None, None), (user, password)]:
        thief, thief_code = mqtt_session(dev.mqtt, dev.serial, *creds)
        thief.close()
        results.append(thief_code)
    after = count_publishes(watch, 1.0)
    watch.close()
    check(3, "the device's client id taken over on the plain listener",
          all(c != 0 for c in results) and before > 0 and after > 0,
          f"CONNACK anonymous {results[0]}, installer {results[1]} (5 = not authorised); device "
          f"messages per real second before {before}, after {after} (before: kicked off, 55 % lost)")


def main():
    raise_own_fd_limit()
    started = time.monotonic()
    dev = Device("main", ["--speed", str(SPEED), "--rig", "127.0.0.1:0"])
    try:
        if not dev.wait_serving():
            check(0, "the device serves", False, dev.log())
        else:
            item1_modbus_slot(dev)
            item3_plain_broker(dev)
            item4_failed_save(dev)
            item6_throttling(dev)
            item7_rig_token(dev)
            item7_secrets_on_disk(dev)
            item9_control_characters(dev)
            item9_broker_at_modbus_port(dev)
            item9_reconnect(dev)
    finally:
        dev.stop()
    item2_descriptors()
    item5_corrupt_config()
    item8_overflowing_version()
    failed = [r for r in RESULTS if not r[2]]
    print(f"reliability: {len(RESULTS) - len(failed)}/{len(RESULTS)} held in {time.monotonic() - started:.0f} s")
    if failed:
        print("did not hold:", ", ".join(f"{i}: {n}" for i, n, _, _ in failed))
        print(f"device logs under {WORK}")
        sys.exit(1)
    if not os.environ.get("RELIABILITY_KEEP"):
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
