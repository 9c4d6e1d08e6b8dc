"""What `reliability.py` attacks with: `run` started on loopback ports the OS picks (the banner
says where everything is), and raw Modbus, HTTP and MQTT clients written for the attacks
(no project code)."""

import base64
import http.client
import json
import os
import re
import resource
import socket
import ssl
import struct
import subprocess
import threading
import time

BIN = "target/debug/smart-connect-sim"


# --- the device under attack ---------------------------------------------------------------


class Device:
    """`run` on loopback ports chosen by the OS; the banner tells where everything is."""

    def __init__(self, work, name, extra=(), nofile=None, prepare=None):
        self.state = os.path.join(work, name, "state")
        os.makedirs(self.state, exist_ok=True)
        if prepare:
            prepare(self.state)
        self.log_path = os.path.join(work, name, "device.log")
        args = [BIN, "run", "--modbus", "127.0.0.1:0", "--http", "127.0.0.1:0",
                "--https", "127.0.0.1:0", "--mqtt-tls-port", "0", "--mqtt-plain-port", "0",
                "--control", "127.0.0.1:0", "--control-modbus", "127.0.0.1:0",
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
    """Total power (W) read on a fresh connection; None when the device closed or reset the
    connection without an answer (refused: another client holds the slot). A connection
    that cannot be made at all raises."""
    with socket.create_connection(a, timeout=timeout) as s:
        s.sendall(READ_TOTAL)
        data = b""
        while len(data) < 13:
            try:
                chunk = s.recv(64)
            except (ConnectionResetError, BrokenPipeError):
                return None
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
