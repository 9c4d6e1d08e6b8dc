#!/usr/bin/env python3
"""Independent fake firmware for the Xemex "P1 Smart Connect" (P1/A1 variant).

Written from spec/requirements.md (P1-01/02/04..07, MB-01..11, MB-13) only, as a
firmware team would, to check that a conformance harness judges implementations it
was not built around.

What is used for what:
- pymodbus 3.16.1: decoding the Modbus request PDU (DecodePDU), building the response
  PDUs (Read{Holding,Input}RegistersResponse, ExceptionResponse) and the MBAP frame
  around them (FramerSocket.buildFrame).
- dsmr_parser (in p1_input.py): parsing the OBIS lines of a telegram (V5 spec for NL,
  BELGIUM_FLUVIUS for e-MUCS). Its own CRC check is not used (it refuses lower-case
  CRC digits, which real meters send).
- Hand-written with asyncio streams (pymodbus's server has no single-client slot, no
  idle timeout and always answers): the TCP servers, MBAP stream splitting, the
  single-client slot (a second connection is closed at once, unanswered), the 60 s
  idle / partial-frame timeout, the boot delay, the planted bugs and the JSON-line
  control port. Hand-written in p1_input.py: the P1 byte-stream framing with resync
  on '/', the CRC-16/ARC check and the DSMR version gate.
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import math
import os
import signal
import struct
import sys

from pymodbus.framer.socket import FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse
from pymodbus.pdu.register_message import ReadHoldingRegistersResponse, ReadInputRegistersResponse

sys.dont_write_bytecode = True  # importing p1_input must not leave __pycache__ in the tree
from p1_input import P1Framer, Rejected, judge  # noqa: E402

BUGS = {
    "abcd": "floats in ABCD word order (breaks MB-06)",
    "unit1": "answers only unit id 1, others get no reply (breaks MB-03)",
    "no-fc4": "function code 4 answered with exception 0x01 (breaks MB-04)",
    "dsmr42-nan": "DSMR 4.2 telegram puts NaN in the voltage registers (breaks P1-05)",
    "second-client": "a second Modbus client is accepted and served (breaks MB-02)",
    "torn": "registers written one value at a time over ~5 ms (breaks MB-08)",
}
log = logging.getLogger("fake-sc")

# ---------------------------------------------------------------- register map
BLOCKS = ((0x8000, 64), (0x8100, 8))          # MB-09 readable blocks (start, count)
VALUE_REGS = (("u1", 0x8006), ("u2", 0x8008), ("u3", 0x800A),
              ("i1", 0x800E), ("i2", 0x8010), ("i3", 0x8012),
              ("p", 0x8016), ("p1", 0x801E), ("p2", 0x8020), ("p3", 0x8022))


def encode_float(value: float, abcd: bool) -> bytes:
    raw = struct.pack(">f", value)                # A B C D
    return raw if abcd else raw[2:] + raw[:2]     # MB-06: C D A B


def zero_image() -> dict[int, bytes]:
    return {start: bytes(2 * n) for start, n in BLOCKS}


def build_image(values: dict[str, float], abcd: bool) -> dict[int, bytes]:
    block = bytearray(2 * BLOCKS[0][1])
    for name, reg in VALUE_REGS:
        off = 2 * (reg - BLOCKS[0][0])
        block[off:off + 4] = encode_float(values.get(name, 0.0), abcd)
    img = zero_image()
    img[BLOCKS[0][0]] = bytes(block)
    return img


def read_image(img: dict[int, bytes | bytearray], address: int, count: int) -> bytes | None:
    """Registers [address, address+count) as bytes, or None if outside both blocks."""
    for start, n in BLOCKS:
        if start <= address and address + count <= start + n:
            blk = img[start]
            return bytes(blk[2 * (address - start):2 * (address - start + count)])
    return None


# ---------------------------------------------------------------- the device
class Device:
    def __init__(self, args: argparse.Namespace) -> None:
        self.bug: str | None = args.bug
        self.boot_s = args.boot_ms / 1000.0
        self.latency_s = args.latency_ms / 1000.0
        self.idle_s = args.idle_timeout_s
        self.image: dict[int, bytes | bytearray] = zero_image()
        self.accepted = self.rejected = 0
        self.gen = 0                       # bumped by `fresh`: stale pending updates are dropped
        self.booting = True
        self.meter_data = False
        self._boot_timer: asyncio.TimerHandle | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self.mb_clients: dict[asyncio.StreamWriter, asyncio.StreamReader] = {}
        self.meter_writer: asyncio.StreamWriter | None = None
        self.meter_framer = P1Framer()
        self.updates: asyncio.Queue = asyncio.Queue()
        self.decoder = DecodePDU(is_server=True)
        self.framer = FramerSocket(self.decoder)
        self.conns: dict[asyncio.Task, asyncio.StreamWriter] = {}   # for a clean shutdown

    def tracked(self, handler):
        """Wraps a connection handler so shutdown can close it and wait for it to end."""
        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            self.conns[task] = writer
            try:
                await handler(reader, writer)
            finally:
                self.conns.pop(task, None)
        return run

    async def shutdown(self) -> None:
        for writer in self.conns.values():
            writer.close()                         # handlers see EOF and return normally
        if self.conns:
            await asyncio.wait(list(self.conns), timeout=2.0)

    # ---- boot / factory reset
    def start_boot(self) -> None:
        loop = asyncio.get_running_loop()
        self.booting = True
        self.meter_framer.reset()
        if self._boot_timer:
            self._boot_timer.cancel()
        self._boot_timer = loop.call_later(self.boot_s, self._boot_done)
        log.info("booting (%.0f ms): Modbus closed, meter bytes discarded (LED red)", self.boot_s * 1000)

    def _boot_done(self) -> None:
        self.booting = False
        self.meter_framer.reset()
        log.info("boot complete: serving Modbus, reading the meter line")

    def fresh(self) -> None:
        self.gen += 1
        self.image = zero_image()
        self.accepted = self.rejected = 0
        self._set_meter_data(False, quiet=True)
        for writer in list(self.mb_clients):
            writer.close()
        self.mb_clients.clear()
        log.info("fresh: factory state, registers zeroed, counters zeroed, Modbus clients dropped")
        self.start_boot()

    def _set_meter_data(self, ok: bool, quiet: bool = False) -> None:
        if self._watchdog:
            self._watchdog.cancel()
            self._watchdog = None
        if self.meter_data != ok and not quiet:
            log.info("meter data %s", "present (LED green)" if ok else
                     "lost: no meter data (LED red/green); registers keep their last values")
        self.meter_data = ok

    # ---- meter line (P1-01/02/06/07, MB-07)
    async def on_meter(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.meter_writer is not None:
            log.info("meter line: new connection replaces the old one")
            self.meter_writer.close()
        self.meter_writer = writer
        framer = self.meter_framer = P1Framer()
        log.info("meter line connected from %s", writer.get_extra_info("peername"))
        try:
            while data := await reader.read(65536):
                if self.booting:
                    continue                       # discarded during boot
                for event in framer.feed(data):
                    self._meter_event(event)
        except (ConnectionError, OSError) as exc:
            log.info("meter line error: %s", exc)
        finally:
            if framer.in_telegram and not self.booting:
                self._meter_event(("reject", "truncated (meter line closed)", len(framer.buf)))
            if self.meter_writer is writer:
                self.meter_writer = None
            writer.close()
            log.info("meter line disconnected")

    def _meter_event(self, event: tuple) -> None:
        kind = event[0]
        if kind == "noise":
            log.info("meter line: skipped %d bytes of noise before '/'", event[1])
            return
        if kind == "reject":
            self._reject(f"{event[1]} ({event[2]} bytes)")
            return
        body, crc_text = event[1], event[2]
        try:
            label, values = judge(body, crc_text)
        except Rejected as exc:
            self._reject(str(exc))
            return
        self.accepted += 1
        log.info("accepted telegram #%d: %s, %d bytes, total power %.1f W",
                 self.accepted, label, len(body), values["p"])
        self._set_meter_data(True)
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(30.0 if values["_dsmr42"] else 3.0, self._set_meter_data, False)
        self.updates.put_nowait((loop.time() + self.latency_s, self.gen, values))

    def _reject(self, reason: str) -> None:
        self.rejected += 1
        log.warning("rejected telegram: %s (rejected so far: %d)", reason, self.rejected)

    async def applier(self) -> None:
        """Applies accepted telegrams in order (after --latency-ms)."""
        loop = asyncio.get_running_loop()
        while True:
            due, gen, values = await self.updates.get()
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            if gen != self.gen:
                continue
            values = dict(values)
            if values.pop("_dsmr42"):              # P1-05: DSMR 4.2 carries no voltage
                for k in ("u1", "u2", "u3"):
                    values[k] = math.nan if self.bug == "dsmr42-nan" else 0.0
            new = build_image(values, abcd=self.bug == "abcd")
            if self.bug != "torn":
                self.image = new                   # MB-08: swap a whole snapshot at once
                continue
            live = self.image
            live[0x8000] = bytearray(live[0x8000])
            for _name, reg in VALUE_REGS:          # planted bug: one value at a time
                if gen != self.gen:
                    break
                off = 2 * (reg - 0x8000)
                live[0x8000][off:off + 4] = new[0x8000][off:off + 4]
                await asyncio.sleep(0.0005)

    # ---- Modbus TCP (MB-02..MB-11)
    async def on_modbus(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if self.booting:
            log.info("modbus: %s refused, device is booting", peer)
            writer.close()
            return
        live = [w for w, r in self.mb_clients.items() if not r.at_eof() and not w.is_closing()]
        if live and self.bug != "second-client":
            log.info("modbus: %s refused, the single client slot is taken (MB-02)", peer)
            writer.close()
            return
        self.mb_clients[writer] = reader
        log.info("modbus: client %s connected", peer)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, OSError) as exc:
            log.info("modbus: client %s error: %s", peer, exc)
        finally:
            self.mb_clients.pop(writer, None)
            writer.close()
            log.info("modbus: client %s disconnected", peer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        buf = bytearray()
        last_rx = loop.time()
        frame_start: float | None = None
        while not writer.is_closing():
            deadline = last_rx + self.idle_s
            if frame_start is not None:
                deadline = min(deadline, frame_start + self.idle_s)
            try:
                data = await asyncio.wait_for(reader.read(4096), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                log.info("modbus: %s for %.0f s, disconnecting (MB-10)",
                         "partial frame pending" if buf else "client silent", self.idle_s)
                return
            if not data:
                return
            last_rx = loop.time()
            buf += data
            consumed = False
            while len(buf) >= 7:
                tid, pid, length, unit = struct.unpack(">HHHB", buf[:7])
                if not 2 <= length <= 254:
                    log.warning("modbus: bad MBAP length %d, closing", length)
                    return
                if len(buf) < 6 + length:
                    break
                pdu = bytes(buf[7:6 + length])
                del buf[:6 + length]
                consumed = True
                if pid != 0:
                    log.warning("modbus: protocol id %d, frame discarded", pid)
                    continue
                reply = self.handle_pdu(tid, unit, pdu)
                if reply is not None:
                    writer.write(reply)
                    await writer.drain()
            if consumed or not buf:                # a new partial frame starts now
                frame_start = last_rx if buf else None
            elif frame_start is None:
                frame_start = last_rx

    def handle_pdu(self, tid: int, unit: int, pdu: bytes) -> bytes | None:
        if self.bug == "unit1" and unit != 1:
            log.info("modbus: unit id %d ignored (planted bug unit1)", unit)
            return None
        fc = pdu[0]

        def exc(code: int) -> bytes:
            log.info("modbus: tid %d unit %d fc %d -> exception 0x%02X", tid, unit, fc, code)
            return self.framer.buildFrame(ExceptionResponse(fc, code, device_id=unit, transaction=tid))

        if fc not in (3, 4) or (fc == 4 and self.bug == "no-fc4"):
            return exc(0x01)
        if len(pdu) != 5:
            return exc(0x03)
        request = self.decoder.decode(pdu)        # pymodbus refuses count outside 1..125
        if request is None or not 1 <= request.count <= 125:
            return exc(0x03)
        data = read_image(self.image, request.address, request.count)  # one snapshot
        if data is None:
            return exc(0x02)
        regs = list(struct.unpack(f">{request.count}H", data))
        cls = ReadHoldingRegistersResponse if fc == 3 else ReadInputRegistersResponse
        log.debug("modbus: tid %d unit %d fc %d read 0x%04X x%d", tid, unit, fc,
                  request.address, request.count)
        return self.framer.buildFrame(cls(registers=regs, dev_id=unit, transaction_id=tid))

    # ---- control port (the lab bench's relay board)
    async def on_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    req = json.loads(line)
                    cmd = req.get("cmd") if isinstance(req, dict) else None
                except ValueError:
                    cmd = None
                if cmd == "fresh":
                    self.fresh()
                    answer = {"ok": True}
                elif cmd == "info":
                    answer = {"ok": True, "rejected": self.rejected, "accepted": self.accepted,
                              "booted": not self.booting, "meter_data": self.meter_data}
                else:
                    answer = {"ok": False, "error": f"unknown request {line[:80]!r}; use fresh|info"}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, OSError, ValueError) as exc:  # ValueError: line too long
            log.info("control: %s", exc)
        finally:
            writer.close()


# ---------------------------------------------------------------- main
def host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    addr = ipaddress.ip_address(host)
    if addr.version != 4 or not addr.is_loopback:
        raise argparse.ArgumentTypeError(f"{text}: only 127.x.x.x (loopback) may be bound")
    return host, int(port)


async def amain(args: argparse.Namespace) -> int:
    dev = Device(args)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers = {
        "modbus": await asyncio.start_server(dev.tracked(dev.on_modbus), *args.modbus),
        "meter_line": await asyncio.start_server(dev.tracked(dev.on_meter), *args.meter_line),
        "control": await asyncio.start_server(dev.tracked(dev.on_control), *args.control),
    }
    ports = {name: srv.sockets[0].getsockname()[1] for name, srv in servers.items()}
    tmp = f"{args.ports_file}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(ports, fh)
    os.replace(tmp, args.ports_file)
    log.info("listening %s (bug=%s, latency=%d ms, boot=%d ms); ports in %s",
             ports, args.bug or "none", args.latency_ms, args.boot_ms, args.ports_file)
    dev.start_boot()
    applier = asyncio.create_task(dev.applier())
    await stop.wait()
    log.info("shutting down")
    for srv in servers.values():
        srv.close()
    await dev.shutdown()
    applier.cancel()
    try:
        await applier
    except asyncio.CancelledError:
        pass
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modbus", type=host_port, required=True)
    ap.add_argument("--meter-line", type=host_port, required=True)
    ap.add_argument("--control", type=host_port, required=True)
    ap.add_argument("--ports-file", required=True)
    ap.add_argument("--bug", default=None)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--boot-ms", type=int, default=300)
    ap.add_argument("--idle-timeout-s", type=float, default=60.0,
                    help="Modbus idle / partial-frame timeout (MB-10 says 60 s)")
    ap.add_argument("--log-level", default="info",
                    choices=["debug", "info", "warning", "error"])
    args = ap.parse_args()
    if args.bug is not None and args.bug not in BUGS:
        print(f"unknown bug {args.bug!r}; known bugs:", file=sys.stderr)
        for name, what in BUGS.items():
            print(f"  {name:14} {what}", file=sys.stderr)
        return 2
    if args.latency_ms < 0 or args.boot_ms < 0 or args.idle_timeout_s <= 0:
        print("--latency-ms and --boot-ms must be >= 0, --idle-timeout-s > 0", file=sys.stderr)
        return 2
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
