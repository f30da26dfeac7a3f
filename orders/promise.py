"""Ship-by and delivery promise at intake: one small, swappable function.

Routing builds the fuller model (per location cut-off, carrier transit by distance). At intake no location
is chosen yet, so this uses the network's default cut-off, time zone and country (`settings.DOM`
PROMISE_CUTOFF, PROMISE_TIMEZONE, PROMISE_COUNTRY): the dispatch day is a working day of that country's
national calendar and transit counts carrier working days (both from `common.calendar`, the one place that
knows weekends and public holidays). `settings.DOM["PROMISE_FUNCTION"]` may name a replacement with the same
signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.module_loading import import_string

from common.calendar import (
    WorkCalendar,
    business_day_next,
    business_day_on_or_after,
    business_days_add,
    carrier_calendar,
)

# Business days in transit after dispatch, by service level (BENCHMARK.md: standard 5, express 2, overnight 1).
TRANSIT_DAYS = {"standard": 5, "express": 2, "overnight": 1}
# Business days of slack between the dispatch day and ship-by: standard orders may leave a day later.
SHIP_SLACK_DAYS = {"standard": 1, "express": 0, "overnight": 0}


@dataclass(frozen=True, slots=True)
class Promise:
    ship_by: datetime
    promised_delivery_date: date


def promise_default(*, placed_at: datetime, service_level: str, method: str) -> Promise:
    """Dispatch day = the placed day when it is a working day before the cut-off, else the next working day.
    Ship-by is the cut-off of the dispatch day (plus slack for standard); delivery is dispatch + transit on
    the carrier calendar. Pickup and same-day orders are due on the dispatch day."""
    dom = settings.DOM
    tz = ZoneInfo(dom.get("PROMISE_TIMEZONE", "America/New_York"))
    cutoff = time.fromisoformat(dom.get("PROMISE_CUTOFF", "15:00"))
    country = dom.get("PROMISE_COUNTRY", "US")
    network = WorkCalendar(country=country)
    local = placed_at.astimezone(tz)
    dispatch = business_day_on_or_after(day=local.date(), calendar=network)
    if dispatch == local.date() and local.time() >= cutoff:
        dispatch = business_day_next(day=dispatch, calendar=network)
    if method in ("pickup", "same_day"):
        ship_day, delivery = dispatch, dispatch
    else:
        ship_day = business_days_add(day=dispatch, days=SHIP_SLACK_DAYS.get(service_level, 1), calendar=network)
        delivery = business_days_add(
            day=dispatch, days=TRANSIT_DAYS.get(service_level, 5), calendar=carrier_calendar(country)
        )
    return Promise(ship_by=datetime.combine(ship_day, cutoff, tzinfo=tz), promised_delivery_date=delivery)


def promise_for(*, placed_at: datetime, service_level: str, method: str) -> Promise:
    """The configured promise function (the default above unless settings name another)."""
    path = settings.DOM.get("PROMISE_FUNCTION")
    fn = import_string(path) if path else promise_default
    return fn(placed_at=placed_at, service_level=service_level, method=method)
