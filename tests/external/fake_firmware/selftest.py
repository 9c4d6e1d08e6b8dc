#!/usr/bin/env python3
"""Self-test of the fake Smart Connect: starts it on ephemeral ports, feeds fixture
telegrams over the meter line, checks the Modbus side with pymodbus's own client (and
raw sockets where pymodbus refuses to send a malformed request), then checks that each
planted bug shows. Exit 0 when everything passes, 1 with a message otherwise."""
from __future__ import annotations

import json
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pymodbus.client import ModbusTcpClient

HERE = Path(__file__).resolve().parent
FAKE, CTL = HERE / "fake_smart_connect.py", HERE / "fake_ctl.py"
FIX = HERE.parents[2] / "fixtures"
SMR5_A = FIX / "dsmr/nb-dsmr50-iskra-am550t-3ph.txt"       # 236.7 V ... 433 W
SMR5_B = FIX / "dsmr/ndokter-v50-iskra-3ph.txt"            # 230.0 V ... 244 W
DSMR42 = FIX / "dsmr/ndokter-v42-kaifa-3ph.txt"
EMUCS_LC = FIX / "dsmr/p1dongel-fluvius-50217-3ph-3x230-water-gas.txt"  # lower-case CRC
OLD = [FIX / "dsmr/arduino-dsmr-kaifa-40-1ph.txt", FIX / "dsmr/nb-dsmr22-iskra-mt382-1003.txt",
       FIX / "dsmr/nb-dsmr3-landisgyr-xmx.txt"]
NEG = FIX / "negative"
A_VALUES = [236.7, 234.5, 236.0, 0, 0, 2, 433, 45, 10, 379]
B_VALUES = [230.0, 230.0, 229.0, 0.48, 0.44, 0.86, 244, 70, 32, 142]
V42_VALUES = [0, 0, 0, 0, 6, 2, 2027, 170, 1247, 209]
OFFSETS = [0x8006, 0x8008, 0x800A, 0x800E, 0x8010, 0x8012, 0x8016, 0x801E, 0x8020, 0x8022]
PASSED: list[str] = []


class Failure(Exception):
    pass


def check(cond: bool, what: str) -> None:
    if not cond:
        raise Failure(what)
    PASSED.append(what)
    print(f"  ok  {what}", flush=True)


def floats_cdab(regs: list[int], client: ModbusTcpClient) -> list[float]:
    """Values at OFFSETS from a read of 0x8006 x30, decoded by pymodbus (word order CD AB)."""
    out = []
    for reg in OFFSETS:
        i = reg - 0x8006
        out.append(client.convert_from_registers(regs[i:i + 2], client.DATATYPE.FLOAT32,
                                                 word_order="little"))
    return out


def close_enough(got: list[float], want: list[float]) -> bool:
    return all(math.isclose(g, w, rel_tol=1e-6, abs_tol=1e-4) for g, w in zip(got, want))


# ------------------------------------------------------------------ raw Modbus helpers
def recv_exact(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except (socket.timeout, ConnectionError):
            return None
        if not chunk:
            return None
        data += chunk
    return data


def frame(fc: int, addr: int, qty: int, tid: int = 1, unit: int = 1) -> bytes:
    return struct.pack(">HHHBBHH", tid, 0, 6, unit, fc, addr, qty)


def transact(sock: socket.socket, fc: int, addr: int, qty: int, tid: int = 1, unit: int = 1,
             timeout: float = 2.0):
    """Returns (tid, unit, pdu) or None when no answer / closed."""
    sock.settimeout(timeout)
    try:
        sock.sendall(frame(fc, addr, qty, tid, unit))
    except OSError:
        return None
    return read_reply(sock)


def read_reply(sock: socket.socket):
    head = recv_exact(sock, 7)
    if head is None:
        return None
    tid, _pid, length, unit = struct.unpack(">HHHB", head)
    pdu = recv_exact(sock, length - 1)
    return None if pdu is None else (tid, unit, pdu)


def closed_by_peer(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionError:
        return True
    except socket.timeout:
        return False


# ------------------------------------------------------------------ the device under test
class Fake:
    def __init__(self, *extra: str, boot_ms: int = 150) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        ports_file = os.path.join(self.tmp.name, "ports.json")
        self.log = open(os.path.join(self.tmp.name, "fake.log"), "w+b")
        cmd = [sys.executable, str(FAKE), "--modbus", "127.0.0.1:0", "--meter-line", "127.0.0.1:0",
               "--control", "127.0.0.1:0", "--ports-file", ports_file, "--boot-ms", str(boot_ms),
               *extra]
        self.proc = subprocess.Popen(cmd, stderr=self.log, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not os.path.exists(ports_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise Failure(f"fake did not start: {self.tail()}")
            time.sleep(0.05)
        with open(ports_file, encoding="utf-8") as fh:
            self.ports = json.load(fh)
        self.meter: socket.socket | None = None
        self.wait_booted()

    def tail(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def ctl(self, cmd: str) -> dict:
        with socket.create_connection(("127.0.0.1", self.ports["control"]), timeout=5) as s:
            s.sendall(json.dumps({"cmd": cmd}).encode() + b"\n")
            return json.loads(s.makefile("rb").readline())

    def wait_booted(self) -> None:
        deadline = time.monotonic() + 5
        while not self.ctl("info")["booted"]:
            if time.monotonic() > deadline:
                raise Failure("device never finished booting")
            time.sleep(0.02)

    def feed(self, *paths: Path, raw: bytes = b"", wait: bool = True) -> dict:
        before = self.ctl("info")
        if self.meter is None:
            self.meter = socket.create_connection(("127.0.0.1", self.ports["meter_line"]))
        self.meter.sendall(raw + b"".join(p.read_bytes() for p in paths))
        deadline = time.monotonic() + 3
        while wait:
            info = self.ctl("info")
            if info["accepted"] + info["rejected"] >= before["accepted"] + before["rejected"] + len(paths):
                return info
            if time.monotonic() > deadline:
                raise Failure(f"telegrams not judged within 3 s: {info}")
            time.sleep(0.02)
        return before

    def modbus(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.ports["modbus"]), timeout=2)

    def client(self) -> ModbusTcpClient:
        c = ModbusTcpClient("127.0.0.1", port=self.ports["modbus"], timeout=2, retries=0)
        if not c.connect():
            raise Failure("pymodbus client could not connect")
        return c

    def stop(self) -> int:
        if self.meter:
            self.meter.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = -9
        self.log.close()
        self.tmp.cleanup()
        return rc


def read_values(sock: socket.socket) -> bytes:
    reply = transact(sock, 3, 0x8006, 30)
    if reply is None or reply[2][0] != 3:
        raise Failure(f"read 0x8006 x30 failed: {reply}")
    return reply[2][2:]


def decode_raw(data: bytes) -> list[float]:
    """Values at OFFSETS from the raw bytes of a read of 0x8006 x30 (CD AB)."""
    out = []
    for reg in OFFSETS:
        o = 2 * (reg - 0x8006)
        out.append(struct.unpack(">f", data[o + 2:o + 4] + data[o:o + 2])[0])
    return out


def hammer(fake: Fake, seconds: float, sock: socket.socket | None = None) -> tuple[int, int, int]:
    """Alternate telegrams A/B every 10 ms while reading; returns (reads, mixed, changes)."""
    own = sock is None
    sock = sock or fake.modbus()
    fake.feed(SMR5_A)
    time.sleep(0.1)
    snap_a = read_values(sock)
    fake.feed(SMR5_B)
    time.sleep(0.1)
    snap_b = read_values(sock)
    data_a, data_b = SMR5_A.read_bytes(), SMR5_B.read_bytes()
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            fake.meter.sendall(data_a if n % 2 == 0 else data_b)
            n += 1
            time.sleep(0.01)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    reads = mixed = changes = 0
    last = snap_b
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        got = read_values(sock)
        reads += 1
        mixed += got not in (snap_a, snap_b)
        changes += got != last
        last = got
    stop.set()
    thread.join()
    if own:
        sock.close()
    return reads, mixed, changes


# ------------------------------------------------------------------ the tests
def test_correct() -> None:
    print("correct device (no bug)")
    fake = Fake("--idle-timeout-s", "2")
    try:
        r = subprocess.run([sys.executable, str(CTL), "--control",
                            f"127.0.0.1:{fake.ports['control']}", "info"], capture_output=True, text=True)
        check(r.returncode == 0 and json.loads(r.stdout)["booted"], "fake_ctl.py info exits 0")
        c = fake.client()
        r1, r2 = c.read_holding_registers(0x8000, count=64), c.read_holding_registers(0x8100, count=8)
        check(not r1.isError() and not any(r1.registers) and not any(r2.registers),
              "MB-11 all registers 0 before the first telegram")
        info = fake.feed(SMR5_A)
        check(info["accepted"] == 1 and info["rejected"] == 0, "SMR5 telegram accepted")
        regs = c.read_holding_registers(0x8006, count=30).registers
        check(close_enough(floats_cdab(regs, c), A_VALUES), "MB-05/06 SMR5 values at 0x8006.. (CD AB)")
        check(c.read_input_registers(0x8006, count=30).registers == regs, "MB-04 FC4 == FC3")
        check(all(c.read_holding_registers(0x8006, count=30, device_id=u).registers == regs
                  for u in (0, 17, 247, 255)), "MB-03 any unit id answered")
        c.close()
        s = fake.modbus()
        tid, unit, pdu = transact(s, 3, 0x8006, 2, tid=0xBEEF, unit=0x55)
        check((tid, unit) == (0xBEEF, 0x55) and pdu[:2] == b"\x03\x04", "MB-09 tid and unit echoed")
        for fc, addr, qty, want in [(6, 0x8006, 1, b"\x86\x01"), (1, 0, 1, b"\x81\x01"),
                                    (0x10, 0x8006, 1, b"\x90\x01"), (3, 0x7FFE, 2, b"\x83\x02"),
                                    (3, 0x803F, 2, b"\x83\x02"), (3, 0x8108, 1, b"\x83\x02"),
                                    (4, 0x0000, 1, b"\x84\x02"), (3, 0x8000, 65, b"\x83\x02"),
                                    (3, 0x8006, 0, b"\x83\x03"), (4, 0x8006, 126, b"\x84\x03")]:
            got = transact(s, fc, addr, qty)
            check(got is not None and got[2] == want, f"MB-09 fc {fc} @0x{addr:04X} x{qty} -> {want.hex()}")
        check(transact(s, 4, 0x8000, 64)[2][:2] == b"\x04\x80" and
              transact(s, 3, 0x8100, 8)[2] == b"\x03\x10" + bytes(16), "MB-09 whole blocks readable")
        s2 = fake.modbus()
        check(closed_by_peer(s2, 1.0), "MB-02/10 second client closed at once")
        check(transact(s, 3, 0x8006, 2) is not None, "MB-10 first client keeps working")
        s2.close()
        s.close()
        time.sleep(0.05)
        s3 = fake.modbus()
        check(transact(s3, 3, 0x8006, 2) is not None, "MB-10 next client served after first left")
        t0 = time.monotonic()
        check(closed_by_peer(s3, 4.0) and time.monotonic() - t0 > 1.5,
              "MB-10 silent client dropped after the idle timeout (2 s here)")
        s4 = fake.modbus()
        s4.sendall(struct.pack(">HHHB", 7, 0, 254, 1))          # promises 253 more bytes
        t0 = time.monotonic()
        trickled = False
        while time.monotonic() - t0 < 5:
            try:
                s4.sendall(b"\x03")
            except OSError:
                break
            if closed_by_peer(s4, 0.4):
                trickled = True
                break
        check(trickled and time.monotonic() - t0 < 4, "MB-10 trickling partial frame cannot hold the slot")
        s4.close()
        s5 = fake.modbus()
        check(not fake.ctl("info")["meter_data"] and close_enough(decode_raw(read_values(s5)), A_VALUES),
              "P1-07 meter silent > 3 s: no meter data, last values stay")
        req = frame(3, 0x8006, 2, tid=9)
        s5.sendall(req[:5])
        time.sleep(0.3)
        s5.sendall(req[5:] + frame(4, 0x8016, 2, tid=10))
        a, b = read_reply(s5), read_reply(s5)
        check(a[0] == 9 and b[0] == 10 and a[2][:2] == b"\x03\x04" and b[2][:2] == b"\x04\x04",
              "split and pipelined requests answered in order")
        info = fake.feed(DSMR42)
        regs = read_values(s5)
        check(regs[:12] == bytes(12), "P1-05 DSMR 4.2 voltage registers read exactly 0")
        check(close_enough(decode_raw(regs), V42_VALUES),
              "DSMR 4.2 currents and powers")
        for bad, why in [(NEG / "dsmr-bad-crc.txt", "bad CRC"),
                         (FIX / "dsmr/spec-dsmr502-example-badcrc.txt", "spec example bad CRC"),
                         (NEG / "dsmr-bitflip-in-value.txt", "bit flip")]:
            before = info["rejected"]
            info = fake.feed(bad)
            check(info["rejected"] == before + 1 and read_values(s5) == regs,
                  f"P1-06 {why} refused, registers unchanged")
        before = fake.ctl("info")
        info = fake.feed(NEG / "dsmr-truncated.txt", SMR5_B, raw=b"\x00\xff/\x13no/1se!!\r\n")
        check(info["rejected"] == before["rejected"] + 1 and info["accepted"] == before["accepted"] + 1,
              "truncated telegram refused, next one (after noise) accepted")
        check(read_values(s5)[:4] == b"\x00\x00\x43\x66", "MB-06 230.0 V sent as 00 00 43 66")
        fake.feed(EMUCS_LC)
        check(close_enough(decode_raw(read_values(s5)), [245.3, 0, 246.8, 1.0, 7.74, 7.97, -1739, 188, 0, -1928]),
              "P1-01 e-MUCS (lower-case CRC) accepted, export negative, currents magnitude")
        reads, mixed, changes = hammer(fake, 1.0, s5)
        check(reads > 50 and changes > 20 and mixed == 0,
              f"MB-07/08 {reads} reads across {changes} updates, none mixed")
        answer = fake.ctl("fresh")
        check(answer == {"ok": True} and not fake.ctl("info")["booted"], "fresh answers ok, reboot begun")
        check(closed_by_peer(s5, 1.0), "fresh drops the Modbus client")
        s6 = fake.modbus()
        check(closed_by_peer(s6, 1.0), "Modbus refused while booting")
        fake.wait_booted()
        info = fake.ctl("info")
        s7 = fake.modbus()
        check(info["rejected"] == 0 and info["accepted"] == 0 and
              transact(s7, 3, 0x8000, 64)[2] == b"\x03\x80" + bytes(128), "fresh: registers and counters 0")
        info = fake.feed(*OLD)
        check(info["rejected"] == 3 and info["accepted"] == 0 and
              transact(s7, 3, 0x8000, 64)[2] == b"\x03\x80" + bytes(128),
              "P1-02 DSMR 4.0 / 2.2 / 3.0 refused, registers stay 0")
        fake.meter.close()
        fake.meter = None
        info = fake.feed(SMR5_A)
        check(info["accepted"] == 1, "new meter-line connection accepted")
        s7.close()
        check(fake.stop() == 0, "clean exit on SIGTERM")
    except Failure:
        print(fake.tail(), file=sys.stderr)
        fake.stop()
        raise


def test_bugs() -> None:
    print("planted bugs")
    r = subprocess.run([sys.executable, str(FAKE), "--modbus", "127.0.0.1:0", "--meter-line",
                        "127.0.0.1:0", "--control", "127.0.0.1:0", "--ports-file", "/dev/null",
                        "--bug", "nope"], capture_output=True, text=True)
    check(r.returncode == 2 and "torn" in r.stderr, "unknown bug -> exit 2 with the list")

    fake = Fake("--bug", "abcd")
    fake.feed(SMR5_B)
    with fake.modbus() as s:
        check(read_values(s)[:4] == b"\x43\x66\x00\x00", "bug abcd: 230.0 V sent as 43 66 00 00")
    fake.stop()

    fake = Fake("--bug", "unit1")
    with fake.modbus() as s:
        check(transact(s, 3, 0x8006, 2, unit=1) is not None and
              transact(s, 3, 0x8006, 2, unit=2, timeout=0.7) is None, "bug unit1: unit 2 unanswered")
    fake.stop()

    fake = Fake("--bug", "no-fc4")
    with fake.modbus() as s:
        check(transact(s, 4, 0x8006, 2)[2] == b"\x84\x01", "bug no-fc4: FC4 -> exception 01")
    fake.stop()

    fake = Fake("--bug", "dsmr42-nan")
    fake.feed(DSMR42)
    with fake.modbus() as s:
        check(read_values(s)[:4] == b"\x00\x00\x7f\xc0", "bug dsmr42-nan: voltage NaN")
    fake.stop()

    fake = Fake("--bug", "second-client")
    with fake.modbus() as s1, fake.modbus() as s2:
        check(transact(s1, 3, 0x8006, 2) is not None and transact(s2, 3, 0x8006, 2) is not None,
              "bug second-client: both clients served")
    fake.stop()

    fake = Fake("--bug", "torn")
    reads, mixed, _ = hammer(fake, 1.0)
    check(mixed > 0, f"bug torn: {mixed} of {reads} reads mixed two telegrams")
    fake.stop()

    fake = Fake("--latency-ms", "400")
    fake.feed(SMR5_B)
    with fake.modbus() as s:
        early = read_values(s)
        time.sleep(0.6)
        check(early == bytes(60) and read_values(s)[:4] == b"\x00\x00\x43\x66",
              "--latency-ms 400: applied late, not lost")
    fake.stop()


def main() -> int:
    t0 = time.monotonic()
    try:
        test_correct()
        test_bugs()
    except Failure as exc:
        print(f"FAIL: {exc}", file=sys.stderr)
        print(f"{len(PASSED)} passed, 1 failed")
        return 1
    print(f"{len(PASSED)} passed, 0 failed ({time.monotonic() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
