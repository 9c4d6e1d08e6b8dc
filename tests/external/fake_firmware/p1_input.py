"""P1 input of the fake Smart Connect: byte-stream framing, CRC-16/ARC, version gate
(P1-01/P1-02), telegram parsing with dsmr_parser and the values the register map needs.
Written from spec/requirements.md only."""
from __future__ import annotations

import re
from decimal import Decimal

from dsmr_parser import telegram_specifications
from dsmr_parser.parsers import TelegramParser


# ---------------------------------------------------------------- P1 framing
def crc16_arc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


HEX = frozenset(b"0123456789abcdefABCDEF")
NON_PRINTABLE = re.compile(rb"[^\x20-\x7e\r\n]")
MAX_TELEGRAM = 16384


def header_verdict(buf: bytes | bytearray) -> bool | None:
    """Does buf start like a telegram ('/' + 3-letter manufacturer flag)? None: too short."""
    ident = bytes(buf[1:4])
    if ident.isalpha():                # bytes.isalpha(): ASCII letters only
        return True if len(ident) == 3 else None
    return None if not ident else False


class P1Framer:
    """Splits a P1 byte stream into telegrams: '/' .. '!' [0-4 hex] CR LF.

    feed() returns events: ("telegram", body, crc_text) with body = '/'..'!' inclusive,
    ("reject", reason, nbytes) for framing failures, ("noise", nbytes).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.state = "hunt"
        self.header_done = False
        self.buf = bytearray()
        self.trailer = bytearray()
        self.noise = 0

    @property
    def in_telegram(self) -> bool:
        return self.state != "hunt"

    def _start(self, events: list) -> None:
        if self.noise:
            events.append(("noise", self.noise))
            self.noise = 0
        self.state, self.buf, self.trailer = "body", bytearray(b"/"), bytearray()
        self.header_done = False

    def feed(self, data: bytes) -> list:
        events: list = []
        i, n = 0, len(data)
        while i < n:
            if self.state == "hunt":
                j = data.find(b"/", i)
                chunk = data[i:] if j < 0 else data[i:j]
                self.noise += len(chunk.strip(b"\r\n"))   # line ends after a CRC are not noise
                if j < 0:
                    break
                self._start(events)
                i = j + 1
            elif self.state == "body":
                j_end, j_new = data.find(b"!", i), data.find(b"/", i)
                stops = [j for j in (j_end, j_new) if j >= 0]
                k = min(stops) if stops else n
                if not self.header_done:                # header line "/XXX5...": printable,
                    line_end = data.find(b"\n", i, k)  # 3-letter manufacturer flag
                    bad = NON_PRINTABLE.search(data, i, k if line_end < 0 else line_end)
                    cut = bad.end() if bad else k
                    self.buf += data[i:cut]
                    verdict = header_verdict(self.buf)
                    if bad or verdict is False or (verdict is None and (cut < n or line_end >= 0)):
                        self.noise += len(self.buf)     # a '/' inside line noise, not a telegram
                        self.state, self.buf = "hunt", bytearray()
                        i = cut
                        continue
                    self.header_done = line_end >= 0
                else:
                    self.buf += data[i:k]
                if len(self.buf) > MAX_TELEGRAM:
                    events.append(("reject", "too_long", len(self.buf)))
                    self.reset()
                    i = k
                    continue
                if k == n:
                    break
                if data[k] == ord("/"):
                    events.append(("reject", "truncated", len(self.buf)))
                    self._start(events)
                else:
                    self.buf.append(ord("!"))
                    self.state = "trailer"
                i = k + 1
            else:  # trailer: up to 4 hex digits, then CR LF
                c = data[i]
                i += 1
                if c in HEX and b"\r" not in self.trailer and len(self.trailer) < 4:
                    self.trailer.append(c)
                    if len(self.trailer) == 4:          # complete: do not wait for CR LF
                        events.append(("telegram", bytes(self.buf), self.trailer.decode()))
                        self.reset()
                elif c == ord("\r") and b"\r" not in self.trailer:
                    self.trailer.append(c)
                elif c == ord("\n"):
                    events.append(("telegram", bytes(self.buf), self.trailer.strip(b"\r").decode()))
                    self.reset()
                elif c == ord("/"):
                    events.append(("reject", "truncated", len(self.buf) + len(self.trailer)))
                    self._start(events)
                else:
                    events.append(("reject", "malformed_trailer", len(self.buf) + len(self.trailer)))
                    self.reset()
        return events


# ---------------------------------------------------------------- telegram judge
RE_VERSION = re.compile(r"^\d-\d:0\.2\.8\((\d+)\)", re.MULTILINE)
RE_EMUCS = re.compile(r"^\d-\d:96\.1\.4\((\d+)\)", re.MULTILINE)
PARSER_NL = TelegramParser(telegram_specifications.V5, apply_checksum_validation=False)
PARSER_BE = TelegramParser(telegram_specifications.BELGIUM_FLUVIUS, apply_checksum_validation=False)


MAGNITUDES = {f"u{n}": f"INSTANTANEOUS_VOLTAGE_L{n}" for n in (1, 2, 3)}
MAGNITUDES.update({f"i{n}": f"INSTANTANEOUS_CURRENT_L{n}" for n in (1, 2, 3)})
POWERS = {"p": ("CURRENT_ELECTRICITY_USAGE", "CURRENT_ELECTRICITY_DELIVERY")}
POWERS.update({f"p{n}": (f"INSTANTANEOUS_ACTIVE_POWER_L{n}_POSITIVE",
                         f"INSTANTANEOUS_ACTIVE_POWER_L{n}_NEGATIVE") for n in (1, 2, 3)})


class Rejected(Exception):
    pass


def _num(tg, name: str, kilo: bool) -> Decimal | None:
    obj = getattr(tg, name, None)
    value = getattr(obj, "value", None)
    if not isinstance(value, Decimal):
        return None
    unit = (getattr(obj, "unit", None) or "").strip()
    if kilo and unit.lower() != "w":               # kW (normal) -> W; meters in W stay
        value *= 1000
    return value


def judge(body: bytes, crc_text: str) -> tuple[str, dict[str, float]]:
    """Return (version label, values) for an acceptable telegram, else raise Rejected."""
    text = body.decode("latin-1") + "\r\n"
    version, emucs = RE_VERSION.search(text), RE_EMUCS.search(text)
    if not crc_text:
        if version or emucs:
            raise Rejected("missing_crc")
        raise Rejected("incompatible: DSMR 2.2/3.0 (no CRC)")
    computed = crc16_arc(body)
    if computed != int(crc_text, 16):
        raise Rejected(f"bad_crc: printed {crc_text}, computed {computed:04X}")
    if emucs:
        label, ver = f"e-MUCS {emucs.group(1)}", 50
    elif version:
        ver = int(version.group(1))
        label = f"DSMR {ver // 10}.{ver % 10}"
        if ver < 42:
            raise Rejected(f"incompatible: {label} (older than 4.2)")
    else:
        label, ver = "CRC-protected, no version line", 50
    try:
        tg = (PARSER_BE if emucs else PARSER_NL).parse(text)
    except Exception as exc:  # dsmr_parser raises several kinds  # noqa: BLE001
        raise Rejected(f"parse_error: {exc}") from exc

    values: dict = {"_dsmr42": ver == 42}
    for key, name in MAGNITUDES.items():          # MB-13: magnitude; missing -> 0, never NaN
        v = _num(tg, name, False)
        values[key] = float(abs(v)) if v is not None else 0.0
    for key, (pos, neg) in POWERS.items():        # W = (drawn - injected) * 1000
        values[key] = float((_num(tg, pos, True) or 0) - (_num(tg, neg, True) or 0))
    return label, values
