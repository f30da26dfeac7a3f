"""The shipping cost model as plain data, and business-day date arithmetic.

Pure Python (no Django, no database): the carrier rate card (routing.ratecard: ZIP3 zones, billable weight,
surcharges) is loaded into these dataclasses; `DEFAULT_RATES` are the default card's services by zone plus a
same-day courier by distance, and the benchmark world prices its orders with them.

Business days are Monday–Friday. There is no holiday calendar yet: a public holiday counts as a working day.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from common.geo import haversine_km  # noqa: F401  (re-exported: one great-circle formula in the project)
from routing.ratecard import DEFAULT_CARD, KG_PER_LB, RateBand, ServiceRates, card_rates

SERVICE_LEVELS = ("standard", "express", "overnight", "same_day")

# Not on the carrier's card: a local courier for same-day orders ($12.00 + $1.00/kg within 50 km, same day).
SAME_DAY_MAX_KM = 50.0
SAME_DAY_BAND = RateBand(max_km=SAME_DAY_MAX_KM, base=12.00, per_kg=1.00, transit_days=0)


def _default_rates() -> dict[str, ServiceRates]:
    """The default rate card's services by zone (routing.ratecard) and the same-day courier by distance."""
    rates = card_rates(DEFAULT_CARD)
    rates["same_day"] = ServiceRates(service_level="same_day", bands=(SAME_DAY_BAND,), max_km=SAME_DAY_MAX_KM)
    return rates


DEFAULT_RATES: dict[str, ServiceRates] = _default_rates()

# BENCHMARK.md handling per order / per unit, by location kind (inventory.models.LocationKind values).
HANDLING_DEFAULTS: dict[str, tuple[float, float]] = {
    "warehouse": (2.50, 0.25),
    "3pl": (3.00, 0.40),
    "store": (5.00, 0.75),
    "dropship": (4.00, 0.50),
}
SPLIT_PENALTY_DEFAULT = 2.0
# Business days from placed time to the promised delivery date.
PROMISE_DAYS: dict[str, int] = {"standard": 5, "express": 2, "overnight": 1, "same_day": 0}


def rate_for(*, rates: ServiceRates, distance_km: float) -> RateBand | None:
    """The band that prices a package over `distance_km`, or None when the service cannot go that far.

    Band upper bounds are inclusive: 150 km exactly is still the first band."""
    if distance_km < 0:
        raise ValueError(f"distance_km must be ≥ 0, got {distance_km}")
    if rates.max_km is not None and distance_km > rates.max_km:
        return None
    for band in rates.bands:
        if band.max_km is None or distance_km <= band.max_km:
            return band
    return None


def package_cost(*, band: RateBand, weight_kg: float) -> float:
    """Carrier cost of one package of `weight_kg` billable weight: base + per-kg × weight; on a zone band
    (the rate card) the weight is rounded up to the pound first, fuel included, surcharges excluded."""
    if band.zone:
        weight_kg = max(1, math.ceil(weight_kg / KG_PER_LB - 1e-9)) * KG_PER_LB
    return band.base + band.per_kg * weight_kg


def is_business_day(d: date) -> bool:
    return d.weekday() < 5


def next_business_day(d: date) -> date:
    """The first business day strictly after `d`."""
    d += timedelta(days=1)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def add_business_days(d: date, days: int) -> date:
    """`d` plus `days` business days (Friday + 1 = Monday; Saturday + 1 = Monday)."""
    if days < 0:
        raise ValueError(f"days must be ≥ 0, got {days}")
    for _ in range(days):
        d = next_business_day(d)
    return d


def _local(placed_at: datetime, tz: str) -> datetime:
    if placed_at.tzinfo is None or placed_at.utcoffset() is None:
        raise ValueError("placed_at must be timezone-aware")
    return placed_at.astimezone(ZoneInfo(tz))


def ship_date(*, placed_at: datetime, tz: str, cutoff: time, capacity_ok: bool = True) -> date:
    """The local business day the location can dispatch an order placed at `placed_at`: today if it is a
    business day before the location's cut-off (in its own time zone) and today's capacity is not used up,
    else the next business day."""
    local = _local(placed_at, tz)
    today = local.date()
    if is_business_day(today) and local.time() < cutoff and capacity_ok:
        return today
    return next_business_day(today)


def delivery_date(*, ship_date: date, transit_days: int) -> date:
    """Delivery date of a package dispatched on `ship_date` with `transit_days` business days in transit."""
    return add_business_days(ship_date, transit_days)


def promise_date(*, placed_at: datetime, service_level: str, tz: str = "America/New_York") -> date:
    """The date promised to the customer: standard 5, express 2, overnight 1 business days (same_day 0) from
    the local business day the order was placed on (a weekend order counts from the next Monday)."""
    try:
        days = PROMISE_DAYS[service_level]
    except KeyError:
        raise ValueError(
            f"unknown service level {service_level!r}; expected one of {', '.join(PROMISE_DAYS)}"
        ) from None
    day = _local(placed_at, tz).date()
    if not is_business_day(day):
        day = next_business_day(day)
    return add_business_days(day, days)
