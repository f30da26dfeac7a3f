"""Ship-by and delivery promise at intake: one small, swappable function.

Routing builds the fuller model (per location cut-off, carrier transit by distance). At intake no location
is chosen yet, so this uses the network's default cut-off and time zone and business days (Mon–Fri).
`settings.DOM["PROMISE_FUNCTION"]` may name a replacement with the same signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.module_loading import import_string

# Business days in transit after dispatch, by service level (BENCHMARK.md: standard 5, express 2, overnight 1).
TRANSIT_DAYS = {"standard": 5, "express": 2, "overnight": 1}
# Business days of slack between the dispatch day and ship-by: standard orders may leave a day later.
SHIP_SLACK_DAYS = {"standard": 1, "express": 0, "overnight": 0}


@dataclass(frozen=True, slots=True)
class Promise:
    ship_by: datetime
    promised_delivery_date: date


def add_business_days(day: date, n: int) -> date:
    """`day` moved forward by n business days (Mon–Fri); n=0 rolls a weekend day on to Monday."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def promise_default(*, placed_at: datetime, service_level: str, method: str) -> Promise:
    """Dispatch day = the placed day when it is a business day before the cut-off, else the next business day.
    Ship-by is the cut-off of the dispatch day (plus slack for standard); delivery is dispatch + transit.
    Pickup and same-day orders are due on the dispatch day."""
    dom = settings.DOM
    tz = ZoneInfo(dom.get("PROMISE_TIMEZONE", "America/New_York"))
    cutoff = time.fromisoformat(dom.get("PROMISE_CUTOFF", "15:00"))
    local = placed_at.astimezone(tz)
    dispatch = local.date()
    if dispatch.weekday() >= 5 or local.time() >= cutoff:
        dispatch = add_business_days(dispatch + timedelta(days=1), 0)
    if method in ("pickup", "same_day"):
        ship_day, delivery = dispatch, dispatch
    else:
        ship_day = add_business_days(dispatch, SHIP_SLACK_DAYS.get(service_level, 1))
        delivery = add_business_days(dispatch, TRANSIT_DAYS.get(service_level, 5))
    return Promise(ship_by=datetime.combine(ship_day, cutoff, tzinfo=tz), promised_delivery_date=delivery)


def promise_for(*, placed_at: datetime, service_level: str, method: str) -> Promise:
    """The configured promise function (the default above unless settings name another)."""
    path = settings.DOM.get("PROMISE_FUNCTION")
    fn = import_string(path) if path else promise_default
    return fn(placed_at=placed_at, service_level=service_level, method=method)
