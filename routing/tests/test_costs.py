"""The default rates (the default rate card by zone) and the business-day ship / delivery / promise dates."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from routing.costs import (
    DEFAULT_RATES,
    HANDLING_DEFAULTS,
    SPLIT_PENALTY_DEFAULT,
    add_business_days,
    delivery_date,
    haversine_km,
    package_cost,
    promise_date,
    rate_for,
    ship_date,
)

NY = "America/New_York"
LA = "America/Los_Angeles"
MON, FRI, SAT, SUN = date(2025, 6, 2), date(2025, 6, 6), date(2025, 6, 7), date(2025, 6, 8)


def at(d: date, hh: int, mm: int = 0, tz: str = NY) -> datetime:
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=ZoneInfo(tz))


def test_calendar_of_the_tests():
    assert [d.weekday() for d in (MON, FRI, SAT, SUN)] == [0, 4, 5, 6]


# The rate card replaced the five distance bands of the first benchmark (issue 20 §2): the default rates are
# now the default card's services by carrier zone (ZIP3-to-ZIP3 distance, breaks at 150/300/600/1,000/1,400/
# 1,800 miles), fuel included; the prices below are the card's (routing.ratecard._DEFAULT_TABLE), not the old
# $6.00–$13.00 bands.
MI = 1.609344


@pytest.mark.parametrize(
    ("km", "zone", "first_lb", "per_lb", "transit"),
    [
        (0, 2, 8.50, 0.35, 1),
        (150 * MI, 2, 8.50, 0.35, 1),  # zone upper bounds are inclusive
        (150 * MI + 0.01, 3, 8.90, 0.45, 2),
        (700 * MI, 5, 9.90, 0.65, 3),
        (1799 * MI, 7, 11.00, 0.95, 4),
        (2500 * MI, 8, 11.60, 1.10, 5),
    ],
)
def test_standard_is_ground_by_zone_with_fuel(km, zone, first_lb, per_lb, transit):
    band = rate_for(rates=DEFAULT_RATES["standard"], distance_km=km)
    assert (band.zone, band.transit_days) == (zone, transit)
    assert package_cost(band=band, weight_kg=0.3) == pytest.approx(first_lb * 1.15)  # one pound, fuel 15 %
    assert package_cost(band=band, weight_kg=2.5) == pytest.approx((first_lb + 5 * per_lb) * 1.15)  # 5.5 → 6 lb


@pytest.mark.parametrize(("km", "transit"), [(100, 1), (3000, 2)])  # never slower than ground
def test_express_is_two_day_air_at_most(km, transit):
    band = rate_for(rates=DEFAULT_RATES["express"], distance_km=km)
    assert band.transit_days == transit
    assert band.base > rate_for(rates=DEFAULT_RATES["standard"], distance_km=km).base


@pytest.mark.parametrize("km", [10, 400, 900, 1500, 4000])
def test_overnight_is_dearer_than_express_and_one_day_everywhere(km):
    express = rate_for(rates=DEFAULT_RATES["express"], distance_km=km)
    band = rate_for(rates=DEFAULT_RATES["overnight"], distance_km=km)
    assert band.base > express.base and band.per_kg > express.per_kg
    assert band.transit_days == 1


def test_same_day_is_local_only():
    assert rate_for(rates=DEFAULT_RATES["same_day"], distance_km=30).transit_days == 0
    assert rate_for(rates=DEFAULT_RATES["same_day"], distance_km=51) is None


def test_negative_distance_is_an_error():
    with pytest.raises(ValueError, match="distance_km"):
        rate_for(rates=DEFAULT_RATES["standard"], distance_km=-1)


def test_handling_defaults():
    assert HANDLING_DEFAULTS == {
        "warehouse": (2.50, 0.25),
        "3pl": (3.00, 0.40),
        "store": (5.00, 0.75),
        "dropship": (4.00, 0.50),
    }
    assert SPLIT_PENALTY_DEFAULT == 2.0


def test_haversine_edison_to_ontario_ca():
    # Edison NJ 08817 → Ontario CA 91761: about 3,900 km great-circle.
    assert 3800 < haversine_km(40.5171, -74.3973, 34.0264, -117.5714) < 4000


def test_ship_date_before_and_after_cutoff():
    cut = time(15, 0)
    assert ship_date(placed_at=at(MON, 14, 59), tz=NY, cutoff=cut) == MON
    assert ship_date(placed_at=at(MON, 15, 0), tz=NY, cutoff=cut) == date(2025, 6, 3)
    assert ship_date(placed_at=at(MON, 9), tz=NY, cutoff=cut, capacity_ok=False) == date(2025, 6, 3)


def test_ship_date_friday_after_cutoff_and_weekend_go_to_monday():
    cut = time(15, 0)
    next_mon = date(2025, 6, 9)
    assert ship_date(placed_at=at(FRI, 16), tz=NY, cutoff=cut) == next_mon
    assert ship_date(placed_at=at(SAT, 9), tz=NY, cutoff=cut) == next_mon
    assert ship_date(placed_at=at(SUN, 23, 59), tz=NY, cutoff=cut) == next_mon


def test_ship_date_uses_the_locations_time_zone():
    placed = datetime(2025, 6, 2, 20, 30, tzinfo=UTC)  # 16:30 in New York, 13:30 in Los Angeles
    cut = time(15, 0)
    assert ship_date(placed_at=placed, tz=NY, cutoff=cut) == date(2025, 6, 3)
    assert ship_date(placed_at=placed, tz=LA, cutoff=cut) == MON
    # 02:00 UTC Tuesday is still Monday 19:00 in Los Angeles: the local day, not the UTC one, counts.
    late = datetime(2025, 6, 3, 2, 0, tzinfo=UTC)
    assert ship_date(placed_at=late, tz=LA, cutoff=time(20, 0)) == MON
    assert ship_date(placed_at=late, tz=LA, cutoff=time(18, 0)) == date(2025, 6, 3)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        ship_date(placed_at=datetime(2025, 6, 2, 9), tz=NY, cutoff=time(15))


def test_delivery_date_counts_business_days():
    assert delivery_date(ship_date=MON, transit_days=0) == MON
    assert delivery_date(ship_date=FRI, transit_days=1) == date(2025, 6, 9)
    assert delivery_date(ship_date=date(2025, 6, 5), transit_days=2) == date(2025, 6, 9)  # Thu + 2 = Mon
    assert delivery_date(ship_date=MON, transit_days=5) == date(2025, 6, 9)
    with pytest.raises(ValueError):
        add_business_days(MON, -1)


def test_promise_dates_per_service_level():
    assert promise_date(placed_at=at(MON, 10), service_level="standard") == date(2025, 6, 9)
    assert promise_date(placed_at=at(MON, 10), service_level="express") == date(2025, 6, 4)
    assert promise_date(placed_at=at(MON, 10), service_level="overnight") == date(2025, 6, 3)
    assert promise_date(placed_at=at(FRI, 10), service_level="express") == date(2025, 6, 10)
    # A weekend order counts from Monday.
    assert promise_date(placed_at=at(SAT, 10), service_level="overnight") == date(2025, 6, 10)
    assert promise_date(placed_at=at(SUN, 10), service_level="same_day") == date(2025, 6, 9)


def test_promise_date_in_the_customers_time_zone():
    # Friday 23:30 in Los Angeles is already Saturday in New York.
    placed = at(FRI, 23, 30, tz=LA)
    assert promise_date(placed_at=placed, service_level="overnight", tz=LA) == date(2025, 6, 9)
    assert promise_date(placed_at=placed, service_level="overnight", tz=NY) == date(2025, 6, 10)


def test_unknown_service_level_is_named():
    with pytest.raises(ValueError, match="'teleport'"):
        promise_date(placed_at=at(MON, 10), service_level="teleport")


def test_a_shipment_keeps_its_promise_only_before_the_cutoff():
    # Overnight from a DC with a 15:00 cut-off: placed 14:00 → ships Monday, delivered Tuesday = promised.
    for hh, kept in ((14, True), (16, False)):
        placed = at(MON, hh)
        shipped = ship_date(placed_at=placed, tz=NY, cutoff=time(15))
        delivered = delivery_date(ship_date=shipped, transit_days=DEFAULT_RATES["overnight"].bands[0].transit_days)
        assert (delivered <= promise_date(placed_at=placed, service_level="overnight")) is kept
