#!/usr/bin/env python3
"""Realism of the synthetic meters (#19), checked with dsmr_parser — the P1 library of Home
Assistant's DSMR integration, written elsewhere — on the telegrams `smart-connect-sim
generate` writes for a winter week (21–28 December 2026, with Christmas) and a summer week
(6–13 July 2026) of an NL SMR 5.0, an NL DSMR 4.2 and a BE e-MUCS meter with a PV roof.

Rules, each computed here independently of the simulator's code:
1. tariff: `0-0:96.14.0` follows the country's schedule (NL: low = tariff 1 23:00–07:00 on
   weekdays, weekends and Dutch public holidays; BE: night = tariff 2 22:00–07:00 and
   weekends), and between two telegrams of one clock hour the registers grow only in the
   tariff the indicator shows;
2. PV: no export (2.7.0 and the 2.8.x registers) while the sun (NOAA formulas here) is below
   the horizon; some export in the summer week;
3. gas: the M-Bus capture time lies on the meter's cadence (SMR 5: 5 min, DSMR 4.2: 1 h,
   e-MUCS: 5 min at a fixed offset), at or before the telegram, and the value changes only
   when the capture time does;
4. e-MUCS demand (a stream across a month boundary, every telegram): `1.4.0` = the import
   of the current quarter hour recomputed from `1.7.0` ÷ 15 min, `1.6.0` = the month's
   largest recomputed quarter with its end time, `98.1.0` = the closed month's peak.

Every telegram of the DSMR 4.2 weeks and of the demand stream is parsed; of the
one-second meters every 20th (a week is 604 800 telegrams; dsmr_parser reads ~2 500/s).
Usage: realism_check.py BINARY
"""

import datetime as dt
import math
import re
import subprocess
import sys
from zoneinfo import ZoneInfo

from dsmr_parser import telegram_specifications as specs
from dsmr_parser.parsers import TelegramParser
from solar import sun_elevation  # noqa: E402 (tests/external/solar.py)

TZ = ZoneInfo("Europe/Amsterdam")
END = re.compile(rb"![0-9A-F]{4}\r\n")
WEEKS = [("winter", "2026-12-21T00:00:00+01:00"), ("summer", "2026-07-06T00:00:00+02:00")]
# meter, dsmr_parser specification, tariff region, site (lat, lon), telegram interval s,
# M-Bus period s, every how many telegrams dsmr_parser reads.
METERS = [
    ("smr5", specs.V5, "nl", (52.1, 5.2), 1, 300, 20),
    ("dsmr42", specs.V4, "nl", (52.1, 5.2), 10, 3600, 1),
    ("emucs", specs.BELGIUM_FLUVIUS, "be", (50.8, 4.4), 1, 300, 20),
]
KEEP = {
    "P1_MESSAGE_TIMESTAMP", "ELECTRICITY_USED_TARIFF_1", "ELECTRICITY_USED_TARIFF_2",
    "ELECTRICITY_DELIVERED_TARIFF_1", "ELECTRICITY_DELIVERED_TARIFF_2",
    "ELECTRICITY_ACTIVE_TARIFF", "CURRENT_ELECTRICITY_USAGE", "CURRENT_ELECTRICITY_DELIVERY",
    "BELGIUM_CURRENT_AVERAGE_DEMAND", "BELGIUM_MAXIMUM_DEMAND_MONTH",
    "BELGIUM_MAXIMUM_DEMAND_13_MONTHS", "MBUS_DEVICE_TYPE", "MBUS_METER_READING",
    "HOURLY_GAS_METER_READING",
}
failures = []


def fail(msg):
    failures.append(msg)
    if len(failures) <= 20:
        print("FAIL:", msg)


def parser(spec):
    """dsmr_parser with the library's own objects for what the rules read (faster)."""
    small = dict(spec)
    small["objects"] = [o for o in spec["objects"] if o["value_name"] in KEEP]
    return TelegramParser(small)


def telegrams(binary, meter, start, duration, every):
    """Every `every`-th telegram `generate` writes, as text, streamed."""
    cmd = [binary, "generate", "--meter", meter, "--seed", "19", "--start", start,
           "--duration", duration]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    buf = b""
    n = 0
    while True:
        chunk = proc.stdout.read(1 << 20)
        if not chunk:
            break
        buf += chunk
        pos = 0
        for m in END.finditer(buf):
            if n % every == 0:
                yield buf[pos:m.end()].decode("ascii")
            n += 1
            pos = m.end()
        buf = buf[pos:]
    if proc.wait() != 0:
        sys.exit(f"generate failed: {' '.join(cmd)}")


def easter(y):
    """Easter Sunday (Meeus/Jones/Butcher)."""
    a, b, c = y % 19, y // 100, y % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return dt.date(y, month, day + 1)


def nl_holiday(d):
    e = easter(d.year)
    kings = dt.date(d.year, 4, 27)
    if kings.weekday() == 6:
        kings = dt.date(d.year, 4, 26)
    days = {dt.date(d.year, 1, 1), e + dt.timedelta(1), kings, e + dt.timedelta(39),
            e + dt.timedelta(50), dt.date(d.year, 12, 25), dt.date(d.year, 12, 26)}
    return d in days


def expected_tariff(region, t):
    local = t.astimezone(TZ)
    weekend = local.weekday() >= 5
    if region == "nl":
        low = weekend or nl_holiday(local.date()) or not 7 <= local.hour < 23
        return 1 if low else 2
    night = weekend or not 7 <= local.hour < 22
    return 2 if night else 1


def gas_of(tel):
    g = getattr(tel, "HOURLY_GAS_METER_READING", None)
    if g is None:
        dev = tel.get_mbus_device_by_channel(1)
        g = dev.MBUS_METER_READING
    return g.datetime, g.value


def check_week(binary, meter, spec, region, site, interval_s, mbus_s, every, season, start):
    p = parser(spec)
    prev = None
    counted = {1: 0, 2: 0}
    exported_wh = 0.0
    offsets = set()
    n = 0
    for text in telegrams(binary, meter, start, "7d", every):
        tel = p.parse(text)
        n += 1
        t = tel.P1_MESSAGE_TIMESTAMP.value
        shown = int(tel.ELECTRICITY_ACTIVE_TARIFF.value)
        want = expected_tariff(region, t)
        if shown != want:
            fail(f"{meter} {season} {t}: indicator {shown}, the {region} schedule says {want}")
        regs = (tel.ELECTRICITY_USED_TARIFF_1.value, tel.ELECTRICITY_USED_TARIFF_2.value,
                tel.ELECTRICITY_DELIVERED_TARIFF_1.value, tel.ELECTRICITY_DELIVERED_TARIFF_2.value)
        export_w = float(tel.CURRENT_ELECTRICITY_DELIVERY.value) * 1000
        gas_at, gas = gas_of(tel)
        elevation = sun_elevation(t, *site)
        if elevation < -0.5 and export_w > 0:
            fail(f"{meter} {season} {t}: {export_w} W export with the sun at {elevation:.1f}°")
        if not gas_at <= t or (t - gas_at).total_seconds() >= mbus_s:
            fail(f"{meter} {season} {t}: gas captured at {gas_at}")
        offsets.add(int(gas_at.timestamp()) % mbus_s)
        if prev is not None:
            pt, pshown, pregs, pgas, pelev = prev
            t1 = regs[0] != pregs[0] or regs[2] != pregs[2]
            t2 = regs[1] != pregs[1] or regs[3] != pregs[3]
            same_hour = pt.astimezone(TZ).replace(minute=0, second=0) == \
                t.astimezone(TZ).replace(minute=0, second=0)
            if same_hour and shown == pshown and ((t1 and shown != 1) or (t2 and shown != 2)):
                fail(f"{meter} {season} {t}: registers {pregs} → {regs} under indicator {shown}")
            counted[1] += t1
            counted[2] += t2
            exported = (regs[2] - pregs[2]) + (regs[3] - pregs[3])
            if exported > 0 and max(elevation, pelev) < -0.5:
                fail(f"{meter} {season} {t}: export registers grew at night ({exported} kWh)")
            exported_wh += float(exported) * 1000
            if pgas[0] == gas_at and pgas[1] != gas:
                fail(f"{meter} {season} {t}: gas moved from {pgas[1]} to {gas} between captures")
        prev = (t, shown, regs, (gas_at, gas), elevation)
    if not (counted[1] and counted[2]):
        fail(f"{meter} {season}: both tariffs should count in a week, got {counted}")
    if len(offsets) != 1 or (meter != "emucs" and offsets != {0}):
        fail(f"{meter} {season}: capture offsets {sorted(offsets)[:5]} (period {mbus_s} s)")
    if season == "summer" and exported_wh <= 0:
        fail(f"{meter} summer: no export in a July week")
    print(f"{meter} {season}: {n} telegrams parsed; register changes t1 {counted[1]}, "
          f"t2 {counted[2]}; {exported_wh / 1000:.1f} kWh exported")
    return n


def check_demand(binary):
    """e-MUCS across 31 January → 1 February: every telegram."""
    p = parser(specs.BELGIUM_FLUVIUS)
    start = "2026-01-31T22:00:00+01:00"
    feb = dt.datetime(2026, 2, 1, tzinfo=TZ)
    quarter_kwh = 0.0
    prev_kw = None
    quarters = []
    n = 0
    for text in telegrams(binary, "emucs", start, "3h", 1):
        tel = p.parse(text)
        n += 1
        t = tel.P1_MESSAGE_TIMESTAMP.value
        if prev_kw is not None:
            quarter_kwh += prev_kw / 3600
        if n > 1 and t.minute % 15 == 0 and t.second == 0:
            quarters.append((t, quarter_kwh * 4))
            quarter_kwh = 0.0
        prev_kw = float(tel.CURRENT_ELECTRICITY_USAGE.value)
        avg = float(tel.BELGIUM_CURRENT_AVERAGE_DEMAND.value)
        if abs(avg - quarter_kwh * 4) > 0.0015:
            fail(f"demand {t}: 1.4.0 {avg} kW, recomputed {quarter_kwh * 4:.4f} kW")
        month = [q for q in quarters if (q[0] > feb) == (t >= feb)]
        peak = tel.BELGIUM_MAXIMUM_DEMAND_MONTH
        if month:
            at, kw = max(month, key=lambda q: q[1])
            if peak.datetime != at or abs(float(peak.value) - kw) > 0.0015:
                fail(f"demand {t}: 1.6.0 {peak.value} kW at {peak.datetime}, "
                     f"recomputed {kw:.4f} kW at {at}")
        elif float(peak.value) != 0.0:
            fail(f"demand {t}: 1.6.0 {peak.value} kW before the month's first quarter")
        history = getattr(tel, "BELGIUM_MAXIMUM_DEMAND_13_MONTHS", None)
        if t >= feb:
            at, kw = max((q for q in quarters if q[0] <= feb), key=lambda q: q[1])
            rows = list(history or [])
            if len(rows) != 1:
                fail(f"demand {t}: 98.1.0 has {len(rows)} months, want 1")
            elif rows[0].datetime != feb or rows[0].occurred != at or \
                    abs(float(rows[0].value) - kw) > 0.0015:
                fail(f"demand {t}: 98.1.0 {rows[0]}, recomputed {kw:.4f} kW at {at}")
        elif history:
            fail(f"demand {t}: 98.1.0 lists {len(history)} months before any closed")
    print(f"emucs demand: {n} telegrams parsed, {len(quarters)} quarter hours recomputed")
    return n


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/smart-connect-sim"
    total = 0
    for meter, spec, region, site, interval_s, mbus_s, every in METERS:
        for season, start in WEEKS:
            total += check_week(binary, meter, spec, region, site, interval_s, mbus_s, every,
                                season, start)
    total += check_demand(binary)
    if failures:
        sys.exit(f"{len(failures)} realism failures in {total} telegrams")
    print(f"realism: {total} telegrams parsed by dsmr_parser, every rule holds")


if __name__ == "__main__":
    main()
