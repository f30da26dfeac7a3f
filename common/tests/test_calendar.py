"""The one working-day calendar (common.calendar): weekends, public holidays per country and state, location
closures, the carrier calendar and the ship day."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.calendar import (
    NATIONAL_US,
    WorkCalendar,
    business_day_is,
    business_day_next,
    business_day_on_or_after,
    business_days_add,
    carrier_calendar,
    holidays_of,
    ship_day,
)

NY = "America/New_York"
TEXAS = WorkCalendar(country="US", subdivision="TX")
NEW_JERSEY = WorkCalendar(country="US", subdivision="NJ")


def test_weekends_and_national_holidays_are_not_working_days():
    assert business_day_is(day=date(2026, 11, 25), calendar=NATIONAL_US)  # Wednesday
    assert not business_day_is(day=date(2026, 11, 26), calendar=NATIONAL_US)  # Thanksgiving
    assert not business_day_is(day=date(2026, 12, 25), calendar=NATIONAL_US)  # Christmas Day
    assert not business_day_is(day=date(2026, 11, 28), calendar=NATIONAL_US)  # Saturday
    assert business_day_is(day=date(2026, 12, 24), calendar=NATIONAL_US)  # Christmas Eve: no national holiday


def test_state_holidays_differ_by_state():
    # Texas Independence Day (Monday 2026-03-02) is a Texas holiday only.
    texas_day = date(2026, 3, 2)
    assert not business_day_is(day=texas_day, calendar=TEXAS)
    assert business_day_is(day=texas_day, calendar=NEW_JERSEY)
    assert business_day_is(day=texas_day, calendar=NATIONAL_US)
    # The Friday after Thanksgiving is a Texas holiday, not a New Jersey one.
    assert not business_day_is(day=date(2026, 11, 27), calendar=TEXAS)
    assert business_day_is(day=date(2026, 11, 27), calendar=NEW_JERSEY)
    assert texas_day in holidays_of(country="US", subdivision="TX", year=2026)
    assert texas_day not in holidays_of(country="US", subdivision="NJ", year=2026)
    assert business_day_next(day=date(2026, 2, 27), calendar=TEXAS) == date(2026, 3, 3)
    assert business_day_next(day=date(2026, 2, 27), calendar=NEW_JERSEY) == date(2026, 3, 2)


def test_closures_are_not_working_days():
    closed = WorkCalendar(country="US", subdivision="NY", closures=frozenset({date(2026, 3, 2), date(2026, 3, 3)}))
    assert not business_day_is(day=date(2026, 3, 2), calendar=closed)
    assert business_day_on_or_after(day=date(2026, 3, 2), calendar=closed) == date(2026, 3, 4)
    assert business_days_add(day=date(2026, 2, 27), days=1, calendar=closed) == date(2026, 3, 4)


def test_the_carrier_delivers_on_weekdays_except_national_holidays_of_the_destination():
    us = carrier_calendar("us")
    assert us == WorkCalendar(country="US") and us.subdivision == "" and not us.closures
    assert business_day_is(day=date(2026, 3, 2), calendar=us)  # a Texas holiday does not stop the carrier
    assert business_days_add(day=date(2026, 11, 25), days=1, calendar=us) == date(2026, 11, 27)
    assert business_days_add(day=date(2026, 12, 24), days=1, calendar=us) == date(2026, 12, 28)
    canada = carrier_calendar("CA")
    assert not business_day_is(day=date(2026, 7, 1), calendar=canada)  # Canada Day
    assert business_day_is(day=date(2026, 7, 1), calendar=us)


def test_unknown_subdivisions_keep_the_national_holidays_and_unknown_countries_have_weekdays_only():
    assert holidays_of(country="US", subdivision="ZZ", year=2026) == holidays_of(country="US", year=2026)
    assert holidays_of(country="QQ", year=2026) == frozenset()
    assert business_day_is(day=date(2026, 12, 25), calendar=WorkCalendar(country="QQ"))


def test_ship_day_honours_cutoff_holidays_and_closures():
    cut = time(15, 0)
    wed_10am = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    wed_4pm = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
    assert ship_day(at=wed_10am, tz=NY, cutoff=cut, calendar=NATIONAL_US) == date(2026, 11, 25)
    assert ship_day(at=wed_4pm, tz=NY, cutoff=cut, calendar=NATIONAL_US) == date(2026, 11, 27)  # not Thanksgiving
    closed_wed = WorkCalendar(closures=frozenset({date(2026, 11, 25)}))
    assert ship_day(at=wed_10am, tz=NY, cutoff=cut, calendar=closed_wed) == date(2026, 11, 27)
    with pytest.raises(ValueError):
        ship_day(at=datetime(2026, 11, 25, 10), tz=NY, cutoff=cut, calendar=NATIONAL_US)


def test_business_days_add_refuses_negative_days_and_endless_closures():
    with pytest.raises(ValueError):
        business_days_add(day=date(2026, 3, 2), days=-1, calendar=NATIONAL_US)
    year = frozenset(date(2026, 1, 1) + timedelta(days=i) for i in range(800))
    with pytest.raises(ValueError, match="no working day"):
        business_day_next(day=date(2026, 1, 1), calendar=WorkCalendar(closures=year))


calendars = st.sampled_from([NATIONAL_US, TEXAS, NEW_JERSEY, carrier_calendar("CA"), carrier_calendar("DE")])
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31))


@given(day=days, n=st.integers(min_value=0, max_value=30), calendar=calendars)
def test_adding_n_working_days_passes_exactly_n_working_days(day, n, calendar):
    end = business_days_add(day=day, days=n, calendar=calendar)
    between = [day + timedelta(days=i) for i in range(1, (end - day).days + 1)]
    assert sum(business_day_is(day=d, calendar=calendar) for d in between) == n
    assert n == 0 or business_day_is(day=end, calendar=calendar)


@given(day=days, calendar=calendars)
def test_the_next_working_day_skips_only_non_working_days(day, calendar):
    nxt = business_day_next(day=day, calendar=calendar)
    assert nxt > day and business_day_is(day=nxt, calendar=calendar)
    assert not any(business_day_is(day=day + timedelta(days=i), calendar=calendar) for i in range(1, (nxt - day).days))
    assert business_day_on_or_after(day=day, calendar=calendar) in (day, nxt)
