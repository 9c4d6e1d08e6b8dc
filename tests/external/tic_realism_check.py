#!/usr/bin/env python3
"""Realism of the synthetic Linky meters (#19), checked on the frames `smart-connect-sim
generate --scenario` writes for a winter week (21–28 December 2026) and a summer week
(6–13 July 2026) of a historic-mode meter and a standard-mode producer (PV roof), both on
the Heures Creuses option (`site: {tariff_region: fr-hc}`, HC 22:00–06:00 Europe/Paris).

The frames are decoded here from the Enedis TIC specification (Enedis-NOI-CPT_02E for the
historic mode, Enedis-NOI-CPT_54E for the standard mode), not with the simulator's code:
a frame is STX … ETX, a group LF label SEP [horodate SEP] data SEP checksum CR; the
checksum is (sum of the bytes from the label to the data, plus the last separator in the
standard mode (mode 2) but not in the historic mode (mode 1)) & 0x3F + 0x20.

Rules:
1. every group's checksum is right (every frame of the sample);
2. the period shown (historic PTEC HC../HP..; standard NTARF 01/02 with LTARF HEURE
   CREUSE/PLEINE) is HC from 22:00 to 06:00 local time and HP otherwise, and between two
   sampled frames showing the same period only that period's index (HCHC/HCHP,
   EASF01/EASF02) grows; EAST = EASF01 + EASF02 (mod 10⁹);
3. counters never go backwards (modulo their nine-digit width);
4. standard DATE: season letter E while France is on summer time, H otherwise;
5. no injection (SINSTI = 0, EAIT unchanged) while the sun is below the horizon at the
   site (NOAA formulas); some injection in the summer week, more than in the winter week.

Every 10th frame is decoded (a standard week is ~670 000 frames).
Usage: tic_realism_check.py BINARY
"""

import datetime as dt
import math
import os
import subprocess
import sys
import tempfile
from zoneinfo import ZoneInfo
from solar import sun_elevation  # noqa: E402 (tests/external/solar.py)

TZ = ZoneInfo("Europe/Paris")
WRAP = 10**9
LAT, LON = 46.6, 2.2
WEEKS = [("winter", "2026-12-21T00:00:00+01:00"), ("summer", "2026-07-06T00:00:00+02:00")]
# meter, nominal interval (s), standard mode
METERS = [("tic-historic", 2.0, False), ("tic-producer", 0.9, True)]
EVERY = 10
failures = []


def fail(msg):
    failures.append(msg)
    if len(failures) <= 20:
        print("FAIL:", msg)


def decode(frame, standard):
    """{label: (horodate, data)} of one frame body (between STX and ETX); checks checksums."""
    sep = b"\t" if standard else b" "
    groups = {}
    for raw in frame.split(b"\r"):
        raw = raw.lstrip(b"\n")
        if not raw:
            continue
        if len(raw) < 3 or raw[-2:-1] != sep:
            fail(f"malformed group {raw!r}")
            continue
        body = raw[:-1] if standard else raw[:-2]
        if (sum(body) & 0x3F) + 0x20 != raw[-1]:
            fail(f"checksum of {raw!r}")
        parts = raw[:-2].split(sep)
        label = parts[0].decode()
        if standard and len(parts) == 3:
            groups[label] = (parts[1].decode(), parts[2].decode())
        else:
            groups[label] = (None, sep.join(parts[1:]).decode())
    return groups


def frames(binary, meter, start):
    """Every EVERY-th frame of a week, as (number, body)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(f"name: tic realism\nseed: 19\nmeter: {meter}\nduration: 7d\n"
                f"start: {start}\nsite: {{tariff_region: fr-hc}}\nload:\n"
                "  - base: {watts: 900, noise: 0.3}\n  - pv: {peak_watts: 5000}\n")
        path = f.name
    proc = subprocess.Popen([binary, "generate", "--scenario", path], stdout=subprocess.PIPE)
    buf, n = b"", 0
    try:
        while True:
            chunk = proc.stdout.read(1 << 20)
            if not chunk:
                break
            buf += chunk
            *whole, buf = buf.split(b"\x03")
            for fr in whole:
                if n % EVERY == 0:
                    yield n, fr[fr.index(b"\x02") + 1:]
                n += 1
    finally:
        proc.wait()
        os.unlink(path)
    if proc.returncode != 0 or n == 0:
        sys.exit(f"generate failed for {meter} at {start}")


def hc_expected(local):
    return not 6 <= local.hour < 22


def check_week(binary, meter, interval_s, standard, season, start):
    t0 = dt.datetime.fromisoformat(start)
    prev = None
    count = injected_wh = 0
    for n, body in frames(binary, meter, start):
        g = decode(body, standard)
        count += 1
        try:
            if standard:
                horo = g["DATE"][0]
                t = dt.datetime.strptime(horo[1:], "%y%m%d%H%M%S").replace(tzinfo=TZ)
                summer = bool(t.dst())
                if horo[0] != ("E" if summer else "H"):
                    fail(f"{meter} {season}: DATE {horo} season letter")
                hc = g["NTARF"][1] == "01"
                ltarf = g["LTARF"][1].split()
                if ltarf != ["HEURE", "CREUSE" if hc else "PLEINE"]:
                    fail(f"{meter}: NTARF {g['NTARF'][1]} with LTARF {g['LTARF'][1]!r}")
                idx = (int(g["EASF01"][1]), int(g["EASF02"][1]))
                if (idx[0] + idx[1]) % WRAP != int(g["EAST"][1]):
                    fail(f"{meter} {t}: EAST {g['EAST'][1]} != EASF01+EASF02 {idx}")
                export = int(g["EAIT"][1])
                sinsti = int(g["SINSTI"][1])
            else:
                t = t0 + dt.timedelta(seconds=n * interval_s)
                if g["OPTARIF"][1] != "HC..":
                    fail(f"{meter}: OPTARIF {g['OPTARIF'][1]}")
                hc = {"HC..": True, "HP..": False}[g["PTEC"][1]]
                idx = (int(g["HCHC"][1]), int(g["HCHP"][1]))
                export = sinsti = 0
        except (KeyError, ValueError) as e:
            fail(f"{meter} {season} frame {n}: {e!r}")
            continue
        local = t.astimezone(TZ)
        # Historic frames carry no time: the nominal one is within seconds, so only
        # frames away from 06:00 and 22:00 are judged on the schedule.
        edge = min(abs(local.hour * 60 + local.minute - m) for m in (360, 1320)) < 2
        if hc != hc_expected(local) and (standard or not edge):
            fail(f"{meter} {local}: shows {'HC' if hc else 'HP'}")
        night = sun_elevation(t, LAT, LON) < 0
        if night and sinsti:
            fail(f"{meter} {local}: SINSTI {sinsti} with the sun below the horizon")
        if prev:
            p_hc, p_idx, p_export, p_night = prev
            grew = [(idx[i] - p_idx[i]) % WRAP for i in (0, 1)]
            if any(d > 100_000 for d in grew):
                fail(f"{meter} {local}: an index went backwards or jumped {p_idx} -> {idx}")
            if p_hc == hc and grew[1 if hc else 0]:
                fail(f"{meter} {local}: {'HP' if hc else 'HC'} index grew during "
                     f"{'HC' if hc else 'HP'} {p_idx} -> {idx}")
            d_export = (export - p_export) % WRAP
            if p_night and night and d_export:
                fail(f"{meter} {local}: EAIT grew by {d_export} Wh at night")
            injected_wh += d_export
        prev = (hc, idx, export, night)
    print(f"{meter} {season}: {count} frames decoded, {injected_wh} Wh injected")
    return count, injected_wh


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/smart-connect-sim"
    total = 0
    for meter, interval_s, standard in METERS:
        injected = {}
        for season, start in WEEKS:
            n, injected[season] = check_week(binary, meter, interval_s, standard, season, start)
            total += n
        if standard and not injected["summer"] > injected["winter"] > 0:
            fail(f"{meter}: injection winter {injected['winter']} Wh, "
                 f"summer {injected['summer']} Wh")
    if failures:
        sys.exit(f"{len(failures)} TIC realism failures in {total} frames")
    print(f"tic realism: {total} frames decoded from the Enedis spec, every rule holds")


if __name__ == "__main__":
    main()
