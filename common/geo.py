"""US ZIP centroids from the `zipcodes` package (no network) and great-circle distance."""

import math
from functools import lru_cache

import zipcodes

EARTH_RADIUS_KM = 6371.0088


@lru_cache(maxsize=65536)
def zip_centroid(*, postal_code: str) -> tuple[float, float] | None:
    """(lat, lon) of a US ZIP's centroid, or None when the ZIP is unknown."""
    code = (postal_code or "").strip()[:5]
    if len(code) != 5 or not code.isdigit():
        return None
    try:
        matches = zipcodes.matching(code)
    except (TypeError, ValueError):
        return None
    for m in matches:
        try:
            lat, lon = float(m["lat"]), float(m["long"])
        except (KeyError, TypeError, ValueError):
            continue
        if lat or lon:
            return lat, lon
    return None


@lru_cache(maxsize=65536)
def zip_state(*, postal_code: str) -> str | None:
    """The state code of a US ZIP, or None when unknown."""
    code = (postal_code or "").strip()[:5]
    if len(code) != 5 or not code.isdigit():
        return None
    try:
        matches = zipcodes.matching(code)
    except (TypeError, ValueError):
        return None
    return matches[0]["state"] if matches else None


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
