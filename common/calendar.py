"""Working days, in one place: which days a location dispatches and a carrier delivers.

A day is a working day of a `WorkCalendar` when it is a weekday (Monday–Friday), not a public holiday of the
calendar's country and subdivision (state, province; the `holidays` package, its default public category),
and not one of the calendar's closures (a location closed for a stock count, a move, …). Two kinds are used:

- a location's calendar: its country and state, with its own closures (`inventory.LocationClosure`);
- the carrier calendar (`carrier_calendar`): carriers pick up and deliver on weekdays except the national
  public holidays of the destination country; state holidays do not stop them.

Pure Python (no Django, no database) and fast: the holidays of a (country, subdivision, year) are worked out
once per process and kept; routing calls these for every order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as _holidays

_ONE_DAY = timedelta(days=1)
_NO_DAYS: frozenset[date] = frozenset()
# Enough for any chain of non-working days (the longest real run is a week or two of closures and holidays);
# a calendar closed for longer than this is refused rather than searched for ever.
_MAX_STEPS = 366


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Weekdays less the public holidays of `country` / `subdivision` ("" = national only) less `closures`."""

    country: str = "US"
    subdivision: str = ""
    closures: frozenset[date] = _NO_DAYS


NATIONAL_US = WorkCalendar()


@lru_cache(maxsize=1024)
def _holiday_set(country: str, subdivision: str, year: int) -> frozenset[date]:
    if not country:
        return _NO_DAYS
    try:
        found = _holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    except NotImplementedError:
        # A subdivision the package does not know keeps its country's national holidays; an unknown
        # country has weekdays only.
        return _holiday_set(country, "", year) if subdivision else _NO_DAYS
    return frozenset(found.keys())


def holidays_of(*, country: str, subdivision: str = "", year: int) -> frozenset[date]:
    """The public holidays of a country (and subdivision) in `year`, computed once per process."""
    return _holiday_set(country.upper(), subdivision.upper(), year)


@lru_cache(maxsize=64)
def carrier_calendar(country: str) -> WorkCalendar:
    """Carriers deliver on weekdays except the national public holidays of the destination country."""
    return WorkCalendar(country=(country or "US").upper())


def business_day_is(*, day: date, calendar: WorkCalendar) -> bool:
    """Whether `day` is a working day of `calendar`."""
    return (
        day.weekday() < 5
        and day not in _holiday_set(calendar.country, calendar.subdivision, day.year)
        and day not in calendar.closures
    )


def business_day_next(*, day: date, calendar: WorkCalendar) -> date:
    """The first working day strictly after `day`."""
    for _ in range(_MAX_STEPS):
        day += _ONE_DAY
        if business_day_is(day=day, calendar=calendar):
            return day
    raise ValueError(f"no working day within {_MAX_STEPS} days of {day} in {calendar}")


def business_day_on_or_after(*, day: date, calendar: WorkCalendar) -> date:
    """`day` itself when it is a working day, else the next one."""
    return day if business_day_is(day=day, calendar=calendar) else business_day_next(day=day, calendar=calendar)


def business_days_add(*, day: date, days: int, calendar: WorkCalendar) -> date:
    """`day` plus `days` working days (Friday + 1 = Monday; Saturday + 1 = Monday; + 0 = `day` itself)."""
    if days < 0:
        raise ValueError(f"days must be ≥ 0, got {days}")
    for _ in range(days):
        day = business_day_next(day=day, calendar=calendar)
    return day


def local_datetime(*, at: datetime, tz: str) -> datetime:
    """`at` in the time zone `tz` (it must be timezone-aware)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("placed_at must be timezone-aware")
    return at.astimezone(ZoneInfo(tz))


def ship_day(*, at: datetime, tz: str, cutoff: time, calendar: WorkCalendar) -> date:
    """The day a location dispatches work that reaches it at `at`: that local day when it is one of the
    location's working days (no weekend, no public holiday of its country and state, no closure) and it is
    before the location's cut-off in its own time zone, else the location's next working day."""
    local = local_datetime(at=at, tz=tz)
    today = local.date()
    if local.time() < cutoff and business_day_is(day=today, calendar=calendar):
        return today
    return business_day_next(day=today, calendar=calendar)
