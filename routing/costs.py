"""The shipping cost model as plain data, and business-day date arithmetic.

Pure Python (no Django, no database): the carrier rate card (routing.ratecard: ZIP3 zones, billable weight,
surcharges) is loaded into these dataclasses; `DEFAULT_RATES` are the default card's services by zone plus a
same-day courier by distance, and the benchmark world prices its orders with them.

Business days come from `common.calendar`: a location dispatches on its own working days (weekdays less the
public holidays of its country and state, less its closures), a carrier delivers on weekdays less the national
holidays of the destination country.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time

from common.calendar import (
    NATIONAL_US,
    WorkCalendar,
    business_day_is,
    business_day_next,
    business_day_on_or_after,
    business_days_add,
    carrier_calendar,
    local_datetime,
)
from common.calendar import ship_day as _ship_day
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


def is_business_day(d: date, calendar: WorkCalendar = NATIONAL_US) -> bool:
    return business_day_is(day=d, calendar=calendar)


def next_business_day(d: date, calendar: WorkCalendar = NATIONAL_US) -> date:
    """The first business day strictly after `d`."""
    return business_day_next(day=d, calendar=calendar)


def add_business_days(d: date, days: int, calendar: WorkCalendar = NATIONAL_US) -> date:
    """`d` plus `days` business days (Friday + 1 = Monday; Saturday + 1 = Monday)."""
    return business_days_add(day=d, days=days, calendar=calendar)


def ship_date(
    *, placed_at: datetime, tz: str, cutoff: time, capacity_ok: bool = True, calendar: WorkCalendar = NATIONAL_US
) -> date:
    """The local business day the location can dispatch an order placed at `placed_at`: today if it is one of
    the location's working days (`calendar`) before its cut-off (in its own time zone) and today's capacity is
    not used up, else the location's next working day."""
    day = _ship_day(at=placed_at, tz=tz, cutoff=cutoff, calendar=calendar)
    if capacity_ok or day != local_datetime(at=placed_at, tz=tz).date():
        return day
    return business_day_next(day=day, calendar=calendar)


def delivery_date(*, ship_date: date, transit_days: int, country: str = "US") -> date:
    """Delivery date of a package dispatched on `ship_date` with `transit_days` carrier business days in transit
    to `country` (weekdays less its national holidays)."""
    return business_days_add(day=ship_date, days=transit_days, calendar=carrier_calendar(country))


def promise_date(*, placed_at: datetime, service_level: str, tz: str = "America/New_York", country: str = "US") -> date:
    """The date promised to the customer: standard 5, express 2, overnight 1 business days (same_day 0) from
    the local business day the order was placed on (a weekend or holiday order counts from the next business
    day), on the carrier calendar of the destination `country`."""
    try:
        days = PROMISE_DAYS[service_level]
    except KeyError:
        raise ValueError(
            f"unknown service level {service_level!r}; expected one of {', '.join(PROMISE_DAYS)}"
        ) from None
    carrier = carrier_calendar(country)
    day = business_day_on_or_after(day=local_datetime(at=placed_at, tz=tz).date(), calendar=carrier)
    return business_days_add(day=day, days=days, calendar=carrier)
