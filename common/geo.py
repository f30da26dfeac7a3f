"""US ZIP centroids and states from the `zipcodes` package (no network), and great-circle distance.

`zipcodes.matching` scans the package's whole list (~42,800 ZIPs, about a millisecond) on every call; the
lookups here read an index built from that list once per process (`zip_index`: a dict, built in about a
second and a half, which gunicorn's master builds before it forks its workers, see gunicorn.conf.py)."""

import math
from functools import cache
from typing import NamedTuple

import zipcodes

EARTH_RADIUS_KM = 6371.0088


class ZipFacts(NamedTuple):
    state: str | None
    centroid: tuple[float, float] | None


def _point(row: dict) -> tuple[float, float] | None:
    try:
        lat, lon = float(row["lat"]), float(row["long"])
    except (KeyError, TypeError, ValueError):
        return None
    return (lat, lon) if lat or lon else None


@cache
def zip_index() -> dict[str, ZipFacts]:
    """{five-digit ZIP: its state and centroid}, as `zipcodes.matching` answers them: the state of the
    first entry for the ZIP, the centroid of the first entry with coordinates."""
    first: dict[str, dict] = {}
    points: dict[str, tuple[float, float]] = {}
    for row in zipcodes.list_all():
        code = row.get("zip_code")
        if not isinstance(code, str):
            continue
        first.setdefault(code, row)
        if code not in points and (point := _point(row)) is not None:
            points[code] = point
    return {code: ZipFacts(row.get("state"), points.get(code)) for code, row in first.items()}


def _facts(postal_code: str) -> ZipFacts | None:
    code = (postal_code or "").strip()[:5]
    if len(code) != 5 or not code.isdigit():
        return None
    return zip_index().get(code)


def zip_centroid(*, postal_code: str) -> tuple[float, float] | None:
    """(lat, lon) of a US ZIP's centroid, or None when the ZIP is unknown."""
    facts = _facts(postal_code)
    return facts.centroid if facts else None


def zip_state(*, postal_code: str) -> str | None:
    """The state code of a US ZIP, or None when unknown."""
    facts = _facts(postal_code)
    return facts.state if facts else None


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
