"""ZIP3 centroids (the mean of the `zipcodes` package's ZIP centroids per three-digit prefix) and the carrier
zones computed from them. The centroids are a small committed file, `routing/data/zip3_centroids.csv`,
written by `python manage.py zip3_centroids` from the `zipcodes` data (loading every ZIP takes seconds; the
file loads in milliseconds, once per process).

Zones: 2–8 by the great-circle distance between origin and destination ZIP3 centroids, with the usual breaks
at 150, 300, 600, 1,000, 1,400 and 1,800 miles; the same ZIP3 is zone 2. Alaska, Hawaii, Puerto Rico and the
other territories are zone 9 from anywhere outside their own area (as FedEx prices them: one zone beyond 8,
not a distance), and distance zones within it.
"""

from __future__ import annotations

import csv
import math
from functools import lru_cache
from pathlib import Path

from common.geo import haversine_km

DATA_FILE = Path(__file__).resolve().parent / "data" / "zip3_centroids.csv"
KM_PER_MILE = 1.609344
ZONE_BREAKS_MILES = (150.0, 300.0, 600.0, 1000.0, 1400.0, 1800.0)  # zone 2 up to 150 mi … zone 8 beyond 1,800
ZONES = (2, 3, 4, 5, 6, 7, 8, 9)
OFFSHORE_ZONE = 9
# A distance no two points on Earth reach: the "distance" of an offshore pair, so distance bands put it in zone 9.
OFFSHORE_KM = 1.0e6
# ZIP3 prefixes outside the contiguous US, by area: Puerto Rico and the Virgin Islands, Hawaii, Guam and the
# Pacific territories, Alaska.
OFFSHORE_AREAS: dict[str, str] = {
    **dict.fromkeys(("006", "007", "008", "009"), "PR"),
    **dict.fromkeys(("967", "968"), "HI"),
    **dict.fromkeys(("969",), "GU"),
    **dict.fromkeys(("995", "996", "997", "998", "999"), "AK"),
}
ZONE_BREAKS_KM = tuple(m * KM_PER_MILE for m in ZONE_BREAKS_MILES)


def zip3_of(postal_code: str | None) -> str:
    """The three-digit prefix of a US ZIP ('' when it is not one)."""
    code = (postal_code or "").strip()[:5]
    return code[:3] if len(code) == 5 and code.isdigit() else ""


def zip3_centroids_compute() -> dict[str, tuple[float, float]]:
    """Mean latitude and longitude of every ZIP centroid per ZIP3, from the `zipcodes` data (slow: seconds)."""
    import zipcodes

    sums: dict[str, list[float]] = {}
    for z in zipcodes.list_all():
        try:
            lat, lon = float(z["lat"]), float(z["long"])
        except (KeyError, TypeError, ValueError):
            continue
        if not (lat or lon):
            continue
        acc = sums.setdefault(z["zip_code"][:3], [0.0, 0.0, 0])
        acc[0] += lat
        acc[1] += lon
        acc[2] += 1
    return {k: (round(a / n, 4), round(b / n, 4)) for k, (a, b, n) in sorted(sums.items())}


@lru_cache(maxsize=1)
def zip3_centroids() -> dict[str, tuple[float, float]]:
    """ZIP3 → (lat, lon), from the committed file (computed from `zipcodes` when the file is missing)."""
    if not DATA_FILE.exists():
        return zip3_centroids_compute()
    with DATA_FILE.open(newline="") as fh:
        return {r["zip3"]: (float(r["latitude"]), float(r["longitude"])) for r in csv.DictReader(fh)}


def zone_for_km(km: float) -> int:
    """The zone of a ZIP3-to-ZIP3 distance in km (OFFSHORE_KM and beyond: zone 9)."""
    if km >= OFFSHORE_KM:
        return OFFSHORE_ZONE
    for zone, top in zip(ZONES, ZONE_BREAKS_KM, strict=False):
        if km <= top:
            return zone
    return 8


def zone_km(*, origin_zip3: str, dest_zip3: str) -> float | None:
    """The distance the zone is read from: ZIP3 centroid to ZIP3 centroid (0 within one ZIP3), OFFSHORE_KM
    between different offshore areas or between one and the contiguous US; None when a ZIP3 is unknown."""
    if not origin_zip3 or not dest_zip3:
        return None
    if origin_zip3 == dest_zip3:
        return 0.0
    if OFFSHORE_AREAS.get(origin_zip3) != OFFSHORE_AREAS.get(dest_zip3):
        return OFFSHORE_KM
    cents = zip3_centroids()
    a, b = cents.get(origin_zip3), cents.get(dest_zip3)
    if a is None or b is None:
        return None
    return haversine_km(a[0], a[1], b[0], b[1])


def zone_for(*, origin_zip: str, dest_zip: str) -> int | None:
    """The carrier zone from one US ZIP (or ZIP3) to another, or None when either is unknown."""
    o = origin_zip[:3] if len(origin_zip) == 3 else zip3_of(origin_zip)
    d = dest_zip[:3] if len(dest_zip) == 3 else zip3_of(dest_zip)
    km = zone_km(origin_zip3=o, dest_zip3=d)
    return None if km is None or math.isnan(km) else zone_for_km(km)
