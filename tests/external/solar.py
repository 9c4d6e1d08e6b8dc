"""The sun's elevation for the realism checks (realism_check.py, tic_realism_check.py): the
NOAA low-precision formulas, written from their published description, not from our Rust
solar model."""
import datetime as dt
import math


def sun_elevation(t, lat, lon):
    """NOAA low-precision solar elevation, degrees."""
    t = t.astimezone(dt.timezone.utc)
    n = t.timetuple().tm_yday
    minute = t.hour * 60 + t.minute + t.second / 60
    year_len = 366 if t.year % 4 == 0 else 365
    g = 2 * math.pi / year_len * (n - 1 + (minute / 60 - 12) / 24)
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g)
            - 0.006758 * math.cos(2 * g) + 0.000907 * math.sin(2 * g)
            - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    eqt = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                    - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    ha = math.radians((minute + eqt + 4 * lon) / 4 - 180)
    la = math.radians(lat)
    cz = math.sin(la) * math.sin(decl) + math.cos(la) * math.cos(decl) * math.cos(ha)
    return 90 - math.degrees(math.acos(max(-1.0, min(1.0, cz))))
