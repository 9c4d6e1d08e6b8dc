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
import re
import resource
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/smart-connect-sim"
WORK = tempfile.mkdtemp(prefix="reliability-")
RESULTS = []  # (item, check, ok, numbers)


def check(item, name, ok, numbers):
    RESULTS.append((item, name, bool(ok), numbers))
    print(f"{'ok  ' if ok else 'FAIL'} {item:>2}  {name}: {numbers}", flush=True)


# --- the device under attack ---------------------------------------------------------------


class Device:
    """`run` on loopback ports chosen by the OS; the banner tells where everything is."""

    def __init__(self, name, extra=(), nofile=None, prepare=None):
        self.state = os.path.join(WORK, name, "state")
        os.makedirs(self.state, exist_ok=True)
        if prepare:
            prepare(self.state)
        self.log_path = os.path.join(WORK, name, "device.log")
        args = [BIN, "run", "--modbus", "127.0.0.1:0", "--http", "127.0.0.1:0",
                "--https", "127.0.0.1:0", "--mqtt-tls-port", "0", "--mqtt-plain-port", "0",
                "--state-dir", self.state, *extra]

        def limits():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(self.log_path, "w"),
                                     text=True, preexec_fn=limits)
        self.banner = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"run {name} exited: {self.log()}")
            self.banner.append(line.rstrip("\n"))
            if "Ctrl-C stops." in line:
                break
        if "--rig" in extra:
            self.banner.append(self.proc.stdout.readline().rstrip("\n"))
        text = "\n".join(self.banner)
        self.serial = re.search(r"serial (\w+)", text).group(1)
        self.modbus = addr(re.search(r"Modbus TCP\s+(\S+)", text).group(1))
        web = re.search(r"web / API\s+http://(\S+)\s+https://(\S+)", text)
        self.http, self.https = addr(web.group(1)), addr(web.group(2))
        self.password = re.search(r"HTTP login\s+user / (\S+)", text).group(1)
        mqtts = re.search(r"MQTT broker\s+mqtts://(\S+)", text)
        plain = re.search(r"MQTT plain\s+mqtt://(\S+)\s+(\S+)/(\S+)", text)
        self.mqtts = addr(mqtts.group(1)) if mqtts else None
        self.mqtt = addr(plain.group(1)) if plain else None
        self.installer = (plain.group(2), plain.group(3)) if plain else None
        rig = re.search(r"bench rig\s+http://(\S+)/rig\s+token (\w+)", text)
        self.rig, self.rig_token = (addr(rig.group(1)), rig.group(2)) if rig else (None, None)
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def log(self, whole=False):
        with open(self.log_path, errors="replace") as f:
            text = f.read()
        return text if whole else text[-3000:]

    def alive(self):
        return self.proc.poll() is None

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def wait_serving(self, limit_s=30):
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            try:
                if modbus_read(self.modbus) is not None:
                    return True
            except OSError:
                pass
            time.sleep(0.1)  # a real process boots in real time
        return False

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def addr(s):
    host, port = s.rsplit(":", 1)
    return (host, int(port))


# --- clients ---------------------------------------------------------------------------------

READ_TOTAL = bytes([0x00, 0x01, 0, 0, 0, 6, 1, 0x03, 0x80, 0x16, 0, 2])


def modbus_read(a, timeout=3.0):
    """Total power (W) read on a fresh connection; None when refused or unanswered."""
    with socket.create_connection(a, timeout=timeout) as s:
        s.sendall(READ_TOTAL)
        data = b""
        while len(data) < 13:
            chunk = s.recv(64)
            if not chunk:
                return None
            data += chunk
    if data[7] != 0x03:
        return None
    w = struct.unpack(">HH", data[9:13])
    return struct.unpack(">f", struct.pack(">HH", w[1], w[0]))[0]


def closed_within(s, limit_s):
    """Seconds until the peer closed `s`, or None if it stayed open `limit_s`."""
    start = time.monotonic()
    s.settimeout(limit_s)
    try:
        while True:
            if not s.recv(64):
                break
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        return None
    return time.monotonic() - start


def http_request(dev, method, path, body=None, password=None, tls=False, timeout=10):
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        c = http.client.HTTPSConnection(*dev.https, timeout=timeout, context=ctx)
    else:
        c = http.client.HTTPConnection(*dev.http, timeout=timeout)
    headers = {}
    if password is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"user:{password}".encode()).decode()
    if body is not None:
        headers["Content-Type"] = "application/merge-patch+json"
        body = json.dumps(body)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        data = json.loads(data)
    except ValueError:
        data = data.decode(errors="replace")
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def mqtt_connect_packet(client_id, user=None, password=None):
    def s(x):
        b = x.encode()
        return struct.pack(">H", len(b)) + b
    flags = 0x02 | (0x80 if user is not None else 0) | (0x40 if password is not None else 0)
    var = s("MQTT") + bytes([4, flags]) + struct.pack(">H", 30)
    payload = s(client_id) + (s(user) if user is not None else b"") + (s(password) if password is not None else b"")
    return packet(0x10, var + payload)


def packet(kind, body):
    n, rem = len(body), b""
    while True:
        d, n = n % 128, n // 128
        rem += bytes([d | (0x80 if n else 0)])
        if not n:
            break
    return bytes([kind]) + rem + body


def mqtt_session(a, client_id, user=None, password=None, timeout=3.0):
    """(socket, CONNACK return code) — code None when the broker closed without CONNACK."""
    s = socket.create_connection(a, timeout=timeout)
    s.sendall(mqtt_connect_packet(client_id, user, password))
    try:
        ack = s.recv(4)
    except (socket.timeout, ConnectionResetError):
        ack = b""
    return s, (ack[3] if len(ack) == 4 and ack[0] == 0x20 else None)


def mqtt_publish(s, topic, payload=b""):
    t = topic.encode()
    s.sendall(packet(0x30, struct.pack(">H", len(t)) + t + payload))


def mqtt_subscribe(s, topic):
    t = topic.encode()
    s.sendall(packet(0x82, struct.pack(">H", 1) + struct.pack(">H", len(t)) + t + b"\x00"))


def count_publishes(s, seconds):
    """PUBLISH packets received on `s` within `seconds` (wall time)."""
    n, buf, end = 0, b"", time.monotonic() + seconds
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 2:
            mult, length, i = 1, 0, 1
            while i < len(buf):
                length += (buf[i] & 0x7F) * mult
                mult *= 128
                i += 1
                if not buf[i - 1] & 0x80:
                    break
            else:
                break
            if len(buf) < i + length:
                break
            if buf[0] >> 4 == 3:
                n += 1
            buf = buf[i + length:]
    return n


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
    limit = 256
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
        log_lines = dev.log(whole=True).count("\n")
        check(2, f"{len(held) + refused} slow HTTP/HTTPS/MQTT/MQTTS clients under `ulimit -n {limit}`",
              fds < limit and value is not None and log_lines < 5000,
              f"{still_open} kept open, the rest closed at once; device fds {fds}/{limit}; log lines {log_lines}; "
              f"Modbus during the attack: {'served' if value is not None else 'REFUSED'} "
              "(before: 'modbus server stopped: Too many open files', for good)")
        t0 = attack
        status = None
        while time.monotonic() - t0 < 25:
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
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
