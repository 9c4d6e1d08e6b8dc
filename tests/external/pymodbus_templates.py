#!/usr/bin/env python3
"""Every register map template (MB-12, docs/register-maps.md), read with pymodbus — a client
no one here wrote — and decoded with pymodbus's own `convert_from_registers` per the vendor's
documented format (data type, word order, scale, not-available value), then compared with
what the device must show for the capture it is fed (the last line of
`smart-connect-sim replay CAPTURE`).

The device is `smart-connect-sim run` on loopback ports the OS picks (the banner says where).
Its meter line is a TCP feed served here, on an ephemeral port, repeating one captured
telegram, so the values stay the same across template switches. Each template is chosen with
`PATCH /api/v1/config {"MeterType": …}` and `POST /api/v1/reset` (Basic auth, user `user`,
the label password from the banner).

usage: pymodbus_templates.py          (from the repository root; BIN overrides the binary)
exit 0 when every value of every template matches.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reliability_device  # noqa: E402  (the banner parser and a plain HTTP client)
from reliability_device import Device, http_request  # noqa: E402

BIN = os.environ.get("BIN", "target/debug/smart-connect-sim")
reliability_device.BIN = BIN
DT = ModbusTcpClient.DATATYPE

# (capture, --meter): an e-MUCS telegram that exports (L3 −1928 W, L2 has no voltage) and a
# DSMR 4.2 telegram (no voltage at all, L1 exporting, currents 111/222/333 A).
CAPTURES = [
    ("fixtures/dsmr/p1dongel-fluvius-50217-3ph-3x230-water-gas.txt", "smr5"),
    ("fixtures/dsmr/dsmrreader-landisgyr-e350-42-3ph.txt", "dsmr42"),
]

PHASES = ("l1", "l2", "l3")


def fields(v, i, p, total, v_step=2, i_step=2, p_step=2):
    """The ten values of the device at their addresses: key → address."""
    out = {}
    for n, ph in enumerate(PHASES):
        out[f"voltage_{ph}_v"] = v + n * v_step
        out[f"current_{ph}_a"] = i + n * i_step
        out[f"active_power_{ph}_w"] = p + n * p_step
    out["active_power_w"] = total
    return out


# Per template (in the order the check switches to them, each `probe` address readable on
# that template and not on the one before it): word order, then per kind of value (voltage, current, power) the pymodbus data
# type, the unit of one count and the not-available pattern (None: the vendor has none, a
# value the meter lacks reads 0). Transcribed from the vendors' maps (see register-maps.md),
# not from the simulator's tables.
FLOAT = (DT.FLOAT32, 1.0, None)
TEMPLATES = {
    "PhoenixContact-EMPro": dict(order="little", at=fields(0x8006, 0x800E, 0x801E, 0x8016),
                                 v=FLOAT, i=FLOAT, p=FLOAT, past=0x8040, probe=0x8100),
    "Eastron-SDM630": dict(order="big", at=fields(0x0000, 0x0006, 0x000C, 0x0034),
                           v=FLOAT, i=FLOAT, p=FLOAT, past=0x0050, probe=0x0000),
    "Eastron-SDM72D-M": dict(order="big", at=fields(0x0000, 0x0006, 0x000C, 0x0034),
                             v=FLOAT, i=FLOAT, p=FLOAT, past=0x0050, probe=0x0156),
    "Chint-DTSU666": dict(order="big", at=fields(0x2006, 0x200C, 0x2014, 0x2012),
                          v=(DT.FLOAT32, 0.1, None), i=(DT.FLOAT32, 0.001, None),
                          p=(DT.FLOAT32, 0.1, None), past=0x2046, probe=0x2000),
    "ABB-B23": dict(order="big", at=fields(0x5B00, 0x5B0C, 0x5B16, 0x5B14),
                    v=(DT.UINT32, 0.1, 0xFFFFFFFF), i=(DT.UINT32, 0.01, 0xFFFFFFFF),
                    p=(DT.INT32, 0.01, 0x7FFFFFFF), past=0x5B3E, probe=0x5B00),
    "CarloGavazzi-EM24": dict(order="little", at=fields(0x0000, 0x000C, 0x0012, 0x0028),
                              v=(DT.INT32, 0.1, None), i=(DT.INT32, 0.001, None),
                              p=(DT.INT32, 0.1, None), past=0x005E, probe=0x0000),
    "Socomec-Countis": dict(order="big", at=fields(0xC558, 0xC560, 0xC570, 0xC568),
                            v=(DT.UINT32, 0.01, None), i=(DT.UINT32, 0.001, None),
                            p=(DT.INT32, 10.0, None), past=0xC590, probe=0xC550),
}


def kind(key):
    return "v" if key.startswith("voltage") else "i" if key.startswith("current") else "p"


class Feed:
    """A meter line on an ephemeral loopback port: the capture, again and again."""

    def __init__(self, path):
        self.data = open(path, "rb").read()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.repeat, args=(conn,), daemon=True).start()

    def repeat(self, conn):
        try:
            while True:
                conn.sendall(self.data)
                time.sleep(0.1)
        except OSError:
            conn.close()


def client_for(dev):
    c = ModbusTcpClient(dev.modbus[0], port=dev.modbus[1], timeout=3, retries=0)
    deadline = time.monotonic() + 10
    while not c.connect():
        if time.monotonic() > deadline:
            raise RuntimeError("cannot connect to the Modbus server")
        time.sleep(0.1)
    return c


def read(c, fc, addr, count):
    r = (c.read_holding_registers if fc == 3 else c.read_input_registers)(addr, count=count, device_id=1)
    if r.isError():
        raise RuntimeError(f"FC{fc} read of {count} at {addr:#06x}: {r}")
    return r.registers


def check_vendor(c, name, t, want):
    """[(ok, line)] for a template with a flat map."""
    out = []
    addrs = sorted(t["at"].values())
    lo, hi = addrs[0], addrs[-1] + 2
    block = read(c, 3, lo, hi - lo)  # one consistent snapshot (MB-08)
    if read(c, 4, lo, hi - lo) != block:
        out.append((False, f"FC3 and FC4 differ at {lo:#06x}+{hi - lo} (MB-04)"))
    for key, addr in t["at"].items():
        dtype, unit, na = t[kind(key)]
        words = block[addr - lo: addr - lo + 2]
        expected = want[key]
        raw = c.convert_from_registers(words, data_type=dtype, word_order=t["order"])
        if expected == 0.0 and key.startswith("voltage") and na is not None:
            bits = c.convert_from_registers(words, data_type=DT.UINT32, word_order=t["order"])
            ok = bits == na
            out.append((ok, f"{addr:#06x} {key:18} expected n/a {na:#x}, got {bits:#x}"))
            continue
        got = raw * unit
        tol = 1e-3 if dtype == DT.FLOAT32 else unit / 2 + 1e-9
        ok = abs(got - expected) <= tol
        out.append((ok, f"{addr:#06x} {key:18} expected {expected:10.3f} got {got:10.3f}"))
    r = c.read_holding_registers(t["past"], count=2, device_id=1)
    ok = r.isError() and getattr(r, "exception_code", None) == 2
    out.append((ok, f"{t['past']:#06x} past the map -> exception 0x02 ({'yes' if ok else r})"))
    return out


def check_sunspec(c, want):
    out = []
    regs = read(c, 3, 40000, 125) + read(c, 4, 40125, 54)
    at = lambda a: regs[a - 40000]  # noqa: E731
    u16 = lambda a: c.convert_from_registers([at(a)], data_type=DT.UINT16)  # noqa: E731
    i16 = lambda a: c.convert_from_registers([at(a)], data_type=DT.INT16)  # noqa: E731
    marker = c.convert_from_registers(regs[0:2], data_type=DT.STRING)
    out.append((marker == "SunS", f"40000 marker {marker!r}"))
    # Walk the models as a SunSpec client does: ID, length, next.
    addr, models = 40002, []
    while addr < 40179 and u16(addr) != 0xFFFF:
        models.append((addr, u16(addr), u16(addr + 1)))
        addr += 2 + u16(addr + 1)
    end_ok = addr == 40177 and u16(40178) == 0
    out.append((models == [(40002, 1, 66), (40070, 203, 105)] and end_ok,
                f"models {[(m[1], m[2]) for m in models]}, end at {addr}"))
    mn = c.convert_from_registers(regs[4:20], data_type=DT.STRING).rstrip("\0")
    md = c.convert_from_registers(regs[20:36], data_type=DT.STRING).rstrip("\0")
    out.append((mn == "Xemex" and md == "Smart Connect", f"Mn {mn!r}, Md {md!r}"))
    sf = {"i": i16(40076), "v": i16(40085), "p": i16(40092)}
    at203 = fields(40078, 40073, 40089, 40088, 1, 1, 1)
    for key, a in at203.items():
        k = kind(key)
        expected = want[key]
        if expected == 0.0 and k == "v":
            out.append((u16(a) == 0x8000, f"{a} {key:18} expected n/a 0x8000, got {u16(a):#x}"))
            continue
        got = i16(a) * 10.0 ** sf[k]
        ok = abs(got - expected) <= 10.0 ** sf[k] / 2 + 1e-9
        out.append((ok, f"{a} {key:18} expected {expected:10.3f} got {got:10.3f} (sf {sf[k]})"))
    total_a = sum(want[f"current_{p}_a"] for p in PHASES)
    got = i16(40072) * 10.0 ** sf["i"]
    out.append((abs(got - total_a) <= 10.0 ** sf["i"] / 2 + 1e-9, f"40072 A (sum) expected {total_a:.3f} got {got:.3f}"))
    out.append((u16(40086) == 0x8000 and u16(40087) == 0x8000, "40086 Hz, Hz_SF not implemented (0x8000)"))
    acc = c.convert_from_registers(regs[108:110], data_type=DT.UINT32)
    out.append((acc == 0, f"40108 TotWhExp acc32 not accumulated: {acc}"))
    return out


def switch(dev, name):
    status, _, body = http_request(dev, "PATCH", "/api/v1/config", {"MeterType": name}, password=dev.password)
    if status != 200:
        raise RuntimeError(f"PATCH MeterType {name}: {status} {body}")
    status = http_request(dev, "POST", "/api/v1/reset", password=dev.password)[0]
    if status != 202:
        raise RuntimeError(f"POST /api/v1/reset: {status}")


def check(dev, name, want, limit_s=20):
    """Poll until the template serves the capture's values (the device reboots, then reads
    the next telegram); the last attempt's lines."""
    deadline = time.monotonic() + limit_s
    while True:
        try:
            c = client_for(dev)
            try:
                # The template is active once an address only it serves (and the one chosen
                # before it does not) can be read: a reset takes a moment.
                read(c, 3, TEMPLATES.get(name, {}).get("probe", 40000), 2)
                lines = check_sunspec(c, want) if name == "SunSpec-203" else check_vendor(c, name, TEMPLATES[name], want)
            finally:
                c.close()
        except (ModbusException, RuntimeError, OSError, IndexError, ValueError) as e:
            lines = [(False, f"read failed: {e}")]
        if all(ok for ok, _ in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.3)


def main():
    names = list(TEMPLATES) + ["SunSpec-203"]
    failures = passed = 0
    with tempfile.TemporaryDirectory() as work:
        for capture, meter in CAPTURES:
            line = subprocess.run([BIN, "replay", capture], capture_output=True, text=True, check=True).stdout
            want = json.loads(line.strip().splitlines()[-1])
            feed = Feed(capture)
            dev = Device(work, os.path.basename(capture), extra=(
                "--meter", meter, "--feed", f"tcp:127.0.0.1:{feed.port}", "--speed", "10"))
            print(f"== {capture} (device Modbus {dev.modbus[1]}, HTTP {dev.http[1]}, feed {feed.port})")
            try:
                if not dev.wait_serving():
                    sys.exit(f"the device does not serve Modbus: {dev.log()}")
                # Unknown names are refused, naming every valid one (MB-12).
                status, _, body = http_request(dev, "PATCH", "/api/v1/config", {"MeterType": "Acme-X1"}, password=dev.password)
                text = json.dumps(body)
                ok = status == 422 and all(n in text for n in names)
                print(f"{'ok  ' if ok else 'FAIL'} unknown MeterType refused with the valid names ({status})")
                failures += not ok
                passed += ok
                for name in names:
                    switch(dev, name)
                    print(f"-- {name}")
                    for ok, text in check(dev, name, want):
                        print(f"{'ok  ' if ok else 'FAIL'} {text}")
                        failures += not ok
                        passed += ok
            finally:
                dev.stop()
                feed.sock.close()
    print(f"pymodbus {__import__('pymodbus').__version__}: {passed} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
