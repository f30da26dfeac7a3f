"""The shipping cost model of shared/design/BENCHMARK.md as plain data, and business-day date arithmetic.

Pure Python (no Django, no database): the rate tables the routing app stores are loaded into these
dataclasses, and the benchmark world prices its orders with `DEFAULT_RATES` directly.

Business days come from `common.calendar`: a location dispatches on its own working days (weekdays less the
public holidays of its country and state, less its closures), a carrier delivers on weekdays less the national
holidays of the destination country.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class RateBand:
    """One distance band of one service level."""

    max_km: float | None  # inclusive upper bound; None = no bound (the last band)
    base: float  # $ per package
    per_kg: float  # $ per kg
    transit_days: int  # business days


@dataclass(frozen=True, slots=True)
class ServiceRates:
    service_level: str  # "standard" | "express" | "overnight" | "same_day"
    bands: tuple[RateBand, ...]  # ascending max_km
    max_km: float | None = None  # beyond this the service is infeasible by ground


SERVICE_LEVELS = ("standard", "express", "overnight", "same_day")

# BENCHMARK.md: standard service by distance band 0–150 / 150–500 / 500–1,000 / 1,000–2,000 / 2,000+ km.
STANDARD_BANDS: tuple[RateBand, ...] = (
    RateBand(max_km=150.0, base=6.00, per_kg=0.50, transit_days=1),
    RateBand(max_km=500.0, base=7.50, per_kg=0.80, transit_days=2),
    RateBand(max_km=1000.0, base=9.00, per_kg=1.10, transit_days=3),
    RateBand(max_km=2000.0, base=11.00, per_kg=1.40, transit_days=4),
    RateBand(max_km=None, base=13.00, per_kg=1.70, transit_days=5),
)
EXPRESS_FACTOR = 1.8
EXPRESS_MAX_KM = 1000.0
EXPRESS_MAX_TRANSIT_DAYS = 2
OVERNIGHT_FACTOR = 3.0
# Not in BENCHMARK.md: a local courier for same-day orders (twice the first standard band, 50 km radius).
SAME_DAY_MAX_KM = 50.0
SAME_DAY_FACTOR = 2.0


def _scaled(band: RateBand, *, factor: float, transit_days: int, max_km: float | None) -> RateBand:
    return RateBand(
        max_km=max_km,
        base=round(band.base * factor, 4),
        per_kg=round(band.per_kg * factor, 4),
        transit_days=transit_days,
    )


def _default_rates() -> dict[str, ServiceRates]:
    express = tuple(
        _scaled(b, factor=EXPRESS_FACTOR, transit_days=min(b.transit_days, EXPRESS_MAX_TRANSIT_DAYS), max_km=b.max_km)
        for b in STANDARD_BANDS
        if b.max_km is not None and b.max_km <= EXPRESS_MAX_KM
    )
    overnight = tuple(_scaled(b, factor=OVERNIGHT_FACTOR, transit_days=1, max_km=b.max_km) for b in STANDARD_BANDS)
    same_day = (_scaled(STANDARD_BANDS[0], factor=SAME_DAY_FACTOR, transit_days=0, max_km=SAME_DAY_MAX_KM),)
    return {
        "standard": ServiceRates(service_level="standard", bands=STANDARD_BANDS),
        "express": ServiceRates(service_level="express", bands=express, max_km=EXPRESS_MAX_KM),
        "overnight": ServiceRates(service_level="overnight", bands=overnight),
        "same_day": ServiceRates(service_level="same_day", bands=same_day, max_km=SAME_DAY_MAX_KM),
    }


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
    """Carrier cost of one package: base + per-kg × weight."""
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
