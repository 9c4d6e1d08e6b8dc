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
   largest recomputed quarter with its end time, `98.1.0` = the closed month's peak;
5. water and heat (a scenario with `mbus: {water: {persons: 3}, heat: {annual_gj: 25}}`, the
   winter and summer weeks; e-MUCS carries water only): dsmr_parser finds device type 7 (m³)
   on channel 2 and 4 (GJ) on channel 3; each capture time lies on the meter's cadence (at
   the device's own fixed offset), at or before the telegram; the values never go back and
   change only when their capture time does; each whole local day uses 80–175 L of water a
   person (100–150 L ± 15 %); the winter week uses more than 5× the summer week's heat.

Every telegram of the DSMR 4.2 weeks and of the demand stream is parsed; of the
one-second meters every 20th (a week is 604 800 telegrams; dsmr_parser reads ~2 500/s); of
the water/heat weeks one a minute.
Usage: realism_check.py BINARY
"""

import datetime as dt
import math
import os
import re
import subprocess
import sys
import tempfile
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
    "HOURLY_GAS_METER_READING", "DEVICE_TYPE",
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


def telegrams(binary, meter, start, duration, every, scenario=None):
    """Every `every`-th telegram `generate` writes, as text, streamed."""
    cmd = [binary, "generate", "--meter", meter, "--seed", "19", "--start", start,
           "--duration", duration] + (["--scenario", scenario] if scenario else [])
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


MBUS_SCENARIO = """name: water-and-heat
seed: 19
meter: {meter}
duration: 7d
start: {start}
load:
  - base: {{watts: 400, noise: 0.2}}
mbus:
  water: {{persons: {persons}}}
{heat}"""
PERSONS = 3


def mbus_of(tel, channel):
    """(device type, capture time, value, unit) of an M-Bus channel, or None."""
    dev = tel.get_mbus_device_by_channel(channel)
    if dev is None:
        return None
    kind = getattr(dev, "MBUS_DEVICE_TYPE", None) or getattr(dev, "DEVICE_TYPE")
    reading = getattr(dev, "MBUS_METER_READING", None) or getattr(dev, "HOURLY_GAS_METER_READING")
    return int(kind.value), reading.datetime, reading.value, reading.unit


def check_mbus_week(binary, meter, spec, interval_s, mbus_s, season, start):
    """Water (channel 2) and heat (channel 3) of one week; returns (telegrams, heat GJ)."""
    p = parser(spec)
    heat = meter != "emucs"
    text = MBUS_SCENARIO.format(meter=meter, start=start, persons=PERSONS,
                                heat="  heat: {annual_gj: 25}\n" if heat else "")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    devices = {2: (7, "m3")} | ({3: (4, "GJ")} if heat else {})
    prev = {}
    offsets = {ch: set() for ch in devices}
    first = {ch: None for ch in devices}
    last = {}
    day_start = {}
    n = 0
    try:
        for tel_text in telegrams(binary, meter, start, "7d", 60 // interval_s, f.name):
            tel = p.parse(tel_text)
            n += 1
            t = tel.P1_MESSAGE_TIMESTAMP.value
            if heat is False and tel.get_mbus_device_by_channel(3) is not None:
                fail(f"mbus {meter} {season} {t}: a heat meter on e-MUCS")
            for ch, (want_kind, want_unit) in devices.items():
                got = mbus_of(tel, ch)
                if got is None:
                    fail(f"mbus {meter} {season} {t}: nothing on channel {ch}")
                    continue
                kind, at, value, unit = got
                if (kind, unit) != (want_kind, want_unit):
                    fail(f"mbus {meter} {season} {t}: channel {ch} is type {kind} in {unit}")
                if not at <= t or (t - at).total_seconds() >= mbus_s:
                    fail(f"mbus {meter} {season} {t}: channel {ch} captured at {at}")
                offsets[ch].add(int(at.timestamp()) % mbus_s)
                if ch in prev:
                    pat, pvalue = prev[ch]
                    if value < pvalue:
                        fail(f"mbus {meter} {season} {t}: channel {ch} went back {pvalue} → {value}")
                    if pat == at and pvalue != value:
                        fail(f"mbus {meter} {season} {t}: channel {ch} moved between captures")
                prev[ch] = (at, value)
                if first[ch] is None:
                    first[ch] = value
                last[ch] = value
            day = t.astimezone(TZ).date()
            if day not in day_start:
                day_start[day] = prev[2][1]
    finally:
        os.unlink(f.name)
    for ch, seen in offsets.items():
        if len(seen) != 1 or (meter != "emucs" and seen != {0}):
            fail(f"mbus {meter} {season}: channel {ch} capture offsets {sorted(seen)[:5]}")
    days = sorted(day_start)
    for a, b in zip(days, days[1:]):
        litres = float(day_start[b] - day_start[a]) * 1000
        if not 80 * PERSONS <= litres <= 175 * PERSONS:
            fail(f"mbus {meter} {season} {a}: {litres:.0f} L of water for {PERSONS} persons")
    heat_gj = float(last[3] - first[3]) if heat else 0.0
    water_m3 = float(last[2] - first[2])
    print(f"mbus {meter} {season}: {n} telegrams parsed; water {water_m3:.3f} m³ "
          f"({len(days) - 1} whole days checked)" + (f", heat {heat_gj:.3f} GJ" if heat else ""))
    return n, heat_gj


def check_mbus(binary):
    """Water and heat meters on their M-Bus channels: winter and summer weeks."""
    total = 0
    for meter, spec, _, _, interval_s, mbus_s, _ in METERS:
        heat = {}
        for season, start in WEEKS:
            n, heat[season] = check_mbus_week(binary, meter, spec, interval_s, mbus_s, season,
                                              start)
            total += n
        if meter != "emucs" and not (heat["summer"] > 0 and heat["winter"] > 5 * heat["summer"]):
            fail(f"mbus {meter}: heat winter {heat['winter']} GJ, summer {heat['summer']} GJ")
    return total


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/smart-connect-sim"
    total = 0
    for meter, spec, region, site, interval_s, mbus_s, every in METERS:
        for season, start in WEEKS:
            total += check_week(binary, meter, spec, region, site, interval_s, mbus_s, every,
                                season, start)
    total += check_demand(binary)
    total += check_mbus(binary)
    if failures:
        sys.exit(f"{len(failures)} realism failures in {total} telegrams")
    print(f"realism: {total} telegrams parsed by dsmr_parser, every rule holds")


if __name__ == "__main__":
    main()
