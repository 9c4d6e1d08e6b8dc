#!/usr/bin/env python3
"""The P1 stream (`run --p1-tcp`) read by dsmr_parser, the library Home Assistant's DSMR
integration uses ("network" connection: `create_tcp_dsmr_reader`), and checked against the
Modbus registers read by pymodbus (no project code on the client side).

1. One dsmr_parser TCP reader for ~20 telegrams while pymodbus polls the EMPro block (57
   registers from 0x8006): every telegram arrives (timestamps 1 s of device time apart, none
   missing), none fails its CRC (dsmr_parser checks it; a bad one is counted — proved first
   with a corrupted telegram), and each register snapshot equals the telegram seen at or just
   before the poll (or the next one, already in the registers but not yet parsed here):
   voltage, current, total W = (import − export) × 1000, per phase (L+ − L−) × 1000.
2. Ten concurrent readers (raw sockets, each stream parsed by dsmr_parser) for a few seconds:
   every one gets byte-identical data over the stretch they all saw, every telegram CRC-valid.

    python3 tests/external/p1_stream.py [path/to/smart-connect-sim]

Exits 1 if any check fails; the device process is stopped on every exit.
"""

import asyncio
import atexit
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from dsmr_parser import telegram_specifications
from dsmr_parser.clients.protocol import create_dsmr_protocol, create_tcp_dsmr_reader
from dsmr_parser.clients.telegram_buffer import TelegramBuffer
from dsmr_parser.exceptions import InvalidChecksumError, ParseError
from dsmr_parser.parsers import TelegramParser
from pymodbus.client import AsyncModbusTcpClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simrun import die_with_parent  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/smart-connect-sim"
SPEED = 10  # device seconds per real second
TELEGRAMS = 20
READERS = 10
CONCURRENT_S = 3.0
FAILURES = []


def check(name, ok, numbers):
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {numbers}", flush=True)
    if not ok:
        FAILURES.append(name)


# --- the device ------------------------------------------------------------------------------

class Device:
    """`run` on loopback ports the OS picks; the banner says where everything is."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="p1-stream-")
        self.log_path = os.path.join(self.work, "device.log")
        args = [BIN, "run", "--speed", str(SPEED), "--p1-tcp", "127.0.0.1:0",
                "--modbus", "127.0.0.1:0", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0",
                "--mqtt-tls-port", "0", "--mqtt-plain-port", "0",
                "--control", "127.0.0.1:0", "--control-modbus", "127.0.0.1:0",
                "--state-dir", os.path.join(self.work, "state"), "--duration", "10m"]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(self.log_path, "w"),
                                     text=True, preexec_fn=die_with_parent)
        atexit.register(self.stop)
        lines = []
        found = threading.Event()

        def read_banner():
            for line in self.proc.stdout:
                lines.append(line.rstrip("\n"))
                if line.lstrip().startswith("P1 stream"):
                    found.set()
            found.set()

        threading.Thread(target=read_banner, daemon=True).start()
        found.wait(15)
        text = "\n".join(lines)
        p1 = re.search(r"P1 stream\s+tcp://(\S+):(\d+)", text)
        mb = re.search(r"Modbus TCP\s+(\S+):(\d+)", text)
        if not p1 or not mb:
            self.stop()
            sys.exit(f"no P1 stream / Modbus line on the banner:\n{text}\n{self.log()}")
        self.p1 = (p1.group(1), int(p1.group(2)))
        self.modbus = (mb.group(1), int(mb.group(2)))

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.work, ignore_errors=True)


# --- dsmr_parser: what counts as a rejected telegram ---------------------------------------------

class Rejections(logging.Handler):
    """dsmr_parser's protocol logs a telegram it throws away (bad CRC: InvalidChecksumError at
    INFO; unparsable: ParseError at ERROR) instead of calling back: count those."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.records = []

    def emit(self, record):
        msg = record.getMessage()
        if "CRC" in msg or "checksum" in msg or "failed to parse" in msg:
            self.records.append(msg)


REJECTED = Rejections()
logging.getLogger("dsmr_parser").addHandler(REJECTED)
logging.getLogger("dsmr_parser").setLevel(logging.INFO)
logging.getLogger("dsmr_parser").propagate = False
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # refusals while the device boots


def crc_is_checked(sample):
    """A corrupted copy of a real telegram must be refused by dsmr_parser's parser and, through
    the protocol Home Assistant uses, not be called back but counted here."""
    bad = re.sub(r"1-0:32\.7\.0\((\d)", lambda m: f"1-0:32.7.0({(int(m.group(1)) + 1) % 10}", sample, count=1)
    assert bad != sample
    parser = TelegramParser(telegram_specifications.V5)
    parser.parse(sample)  # the original is fine
    try:
        parser.parse(bad)
        refused = False
    except InvalidChecksumError:
        refused = True
    got = []
    factory, _ = create_dsmr_protocol("5", got.append, loop=None)
    proto = factory()
    before = len(REJECTED.records)
    proto.data_received(bad.encode("latin1"))
    counted = len(REJECTED.records) - before
    proto.data_received(sample.encode("latin1"))
    check("dsmr_parser checks the CRC (a corrupted telegram is refused and counted)",
          refused and counted == 1 and len(got) == 1,
          f"parser raised InvalidChecksumError: {refused}; protocol: {counted} counted, "
          f"{len(got)} called back (the good copy)")
    REJECTED.records.clear()


# --- 1. one reader + Modbus ---------------------------------------------------------------------

def cdab(client, regs, addr):
    i = addr - 0x8006
    return client.convert_from_registers(regs[i:i + 2], client.DATATYPE.FLOAT32, word_order="little")


def expected(t):
    """What the registers must show for a dsmr_parser telegram (floats, W/V/A)."""
    kw = lambda name: float(getattr(t, name).value)  # noqa: E731
    e = {"total_w": (kw("CURRENT_ELECTRICITY_USAGE") - kw("CURRENT_ELECTRICITY_DELIVERY")) * 1000}
    for p in (1, 2, 3):
        e[f"v{p}"] = kw(f"INSTANTANEOUS_VOLTAGE_L{p}")
        e[f"i{p}"] = abs(kw(f"INSTANTANEOUS_CURRENT_L{p}"))
        e[f"p{p}"] = (kw(f"INSTANTANEOUS_ACTIVE_POWER_L{p}_POSITIVE")
                      - kw(f"INSTANTANEOUS_ACTIVE_POWER_L{p}_NEGATIVE")) * 1000
    return e


def registers(client, regs):
    r = {"total_w": cdab(client, regs, 0x8016)}
    for p in (1, 2, 3):
        r[f"v{p}"] = cdab(client, regs, 0x8006 + 2 * (p - 1))
        r[f"i{p}"] = cdab(client, regs, 0x800E + 2 * (p - 1))
        r[f"p{p}"] = cdab(client, regs, 0x801E + 2 * (p - 1))
    return r


def same(a, b):
    """Equal up to Float32 rounding (the telegram's resolution is 0.1 V, 1 A, 1 W)."""
    return all(abs(a[k] - b[k]) <= 1e-3 + 1e-6 * abs(b[k]) for k in b)


async def modbus_client(dev):
    """A pymodbus client connected once the device serves (it refuses Modbus while booting)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        client = AsyncModbusTcpClient(dev.modbus[0], port=dev.modbus[1], timeout=1, retries=0)
        try:
            if await client.connect():
                rr = await client.read_holding_registers(0x8006, count=57, device_id=1)
                if not rr.isError():
                    return client
        except Exception:  # noqa: BLE001 — refused while booting; try again
            pass
        client.close()
        await asyncio.sleep(0.1)
    raise OSError(f"Modbus at {dev.modbus} never served")


async def one_reader_and_modbus(dev):
    client = await modbus_client(dev)
    telegrams = []
    arrived = asyncio.Event()

    def on_telegram(t):
        telegrams.append(t)
        arrived.set()

    transport, protocol = await create_tcp_dsmr_reader(*dev.p1, "5", on_telegram)
    polls = []  # (index of the last telegram seen before the poll, register values)
    deadline = time.monotonic() + 10
    while len(telegrams) < TELEGRAMS and time.monotonic() < deadline:
        if not telegrams:
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), 1)
            except asyncio.TimeoutError:
                pass
            continue
        seen = len(telegrams) - 1
        rr = await client.read_holding_registers(0x8006, count=57, device_id=1)
        if not rr.isError():
            polls.append((seen, registers(client, rr.registers)))
        await asyncio.sleep(0.02)
    # Let a telegram already in the registers at the last poll arrive here too.
    arrived.clear()
    try:
        await asyncio.wait_for(arrived.wait(), 2)
    except asyncio.TimeoutError:
        pass
    client.close()
    transport.close()

    stamps = [t.P1_MESSAGE_TIMESTAMP.value for t in telegrams]
    steps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:])]
    missing = sum(max(0, round(s) - 1) for s in steps)
    check(f"dsmr_parser (create_tcp_dsmr_reader, DSMR 5) reads {TELEGRAMS} telegrams, none missing",
          len(telegrams) >= TELEGRAMS and all(s == 1.0 for s in steps),
          f"{len(telegrams)} telegrams {stamps[0] if stamps else '-'} … {stamps[-1] if stamps else '-'}, "
          f"steps {sorted(set(steps))} s, {missing} missing")
    check("no telegram refused by dsmr_parser (CRC, parse)", not REJECTED.records,
          f"{len(REJECTED.records)} refused {REJECTED.records[:3]}")
    exp = [expected(t) for t in telegrams]
    matched = {"at": 0, "next": 0}
    bad = []
    for seen, regs in polls:
        if same(regs, exp[seen]):
            matched["at"] += 1
        elif seen + 1 < len(exp) and same(regs, exp[seen + 1]):
            matched["next"] += 1
        else:
            bad.append((seen, regs, exp[seen]))
    check("Modbus registers (pymodbus, CD-AB floats) equal the telegram seen at the poll",
          polls and not bad and matched["at"] > 0,
          f"{len(polls)} polls: {matched['at']} match the telegram seen at or just before the poll, "
          f"{matched['next']} already the next one, {len(bad)} wrong "
          f"{bad[:1] if bad else ''}; e.g. {exp[-1] if exp else '-'}")
    return protocol


# --- 2. ten readers at once -----------------------------------------------------------------------

def split_telegrams(data):
    """Complete telegrams (str) in `data`, as dsmr_parser's buffer cuts them."""
    buf = TelegramBuffer()
    buf.append(data.decode("latin1"))
    return list(buf.get_all())


async def raw_reader(addr, stop):
    r, w = await asyncio.open_connection(*addr)
    data = bytearray()
    while not stop.is_set():
        try:
            chunk = await asyncio.wait_for(r.read(65536), 0.2)
        except asyncio.TimeoutError:
            continue
        if not chunk:
            break
        data += chunk
    w.close()
    return bytes(data)


async def ten_readers(dev):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(raw_reader(dev.p1, stop)) for _ in range(READERS)]
    await asyncio.sleep(CONCURRENT_S)
    stop.set()
    streams = await asyncio.gather(*tasks)
    parser = TelegramParser(telegram_specifications.V5)
    valid, refused = [], 0
    for s in streams:
        n = 0
        for t in split_telegrams(s):
            try:
                parser.parse(t)
                n += 1
            except (InvalidChecksumError, ParseError):
                refused += 1
        valid.append(n)
    # Every reader connected at a slightly different moment: compare from the first telegram
    # that all of them got whole, to the end of the shortest.
    starts = [s.find(b"/") for s in streams]
    if min(valid) == 0 or -1 in starts:
        return check(f"{READERS} concurrent readers", False, f"telegrams per reader {valid}")
    latest = max(streams, key=lambda s: stamp_of(s, s.find(b"/")))
    first = latest[latest.find(b"/"):latest.find(b"\r\n", latest.find(b"!")) + 2]
    at = [s.find(first) for s in streams]
    tails = [s[i:] for s, i in zip(streams, at) if i >= 0]
    common = min(len(t) for t in tails) if len(tails) == READERS else 0
    identical = common > 0 and all(t[:common] == tails[0][:common] for t in tails)
    common_telegrams = len(split_telegrams(tails[0][:common])) if common else 0
    check(f"{READERS} concurrent readers get byte-identical streams, every telegram CRC-valid",
          identical and refused == 0 and common_telegrams >= CONCURRENT_S * SPEED / 2,
          f"{common} bytes ({common_telegrams} telegrams) identical in all {len(tails)}/{READERS}; "
          f"valid telegrams per reader {valid}, {refused} refused")


def stamp_of(stream, start):
    m = re.search(rb"0-0:1\.0\.0\((\d{12})", stream[start:])
    return m.group(1) if m else b""


async def main():
    dev = Device()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"device: P1 stream {dev.p1}, Modbus {dev.modbus}, speed {SPEED}x", flush=True)
    t0 = time.monotonic()
    try:
        # A sample telegram for the CRC self-test, straight off the stream.
        r, w = await asyncio.wait_for(asyncio.open_connection(*dev.p1), 5)
        data = b""
        while not split_telegrams(data):
            chunk = await asyncio.wait_for(r.read(65536), 5)
            if not chunk:
                sys.exit(f"P1 stream closed: {dev.log()}")
            data += chunk
        w.close()
        crc_is_checked(split_telegrams(data)[0])
        await one_reader_and_modbus(dev)
        await ten_readers(dev)
    except Exception as e:  # noqa: BLE001 — any failure is a FAIL line, never a traceback only
        check("the P1 stream answers", False, f"{type(e).__name__}: {e}\n{dev.log()}")
    finally:
        dev.stop()
    print(f"dsmr_parser, pymodbus: {len(FAILURES)} failed, {round(time.monotonic() - t0, 1)} s",
          flush=True)
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    asyncio.run(main())
