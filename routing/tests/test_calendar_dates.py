"""Promise and ship dates skip non-working days (issue 19 §4.6): public holidays on the carrier calendar of
the destination, each location's own state holidays and closures, through the one calendar module."""

from datetime import UTC, date, datetime

import pytest

from inventory.models import Location, LocationClosure
from routing.selectors import network_static
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = pytest.mark.django_db

WEDNESDAY_BEFORE_THANKSGIVING_10AM = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
CHRISTMAS_EVE_10AM = datetime(2026, 12, 24, 15, 0, tzinfo=UTC)


def _only_shipment(d) -> dict:
    (shipment,) = d.plan
    return shipment


@pytest.mark.parametrize(
    "placed, level, ships, delivered, promised",
    [
        # Edison NJ → Manhattan is one carrier day: Thanksgiving Day and Christmas Day are skipped.
        (WEDNESDAY_BEFORE_THANKSGIVING_10AM, "overnight", "2026-11-25", "2026-11-27", "2026-11-27"),
        (WEDNESDAY_BEFORE_THANKSGIVING_10AM, "express", "2026-11-25", "2026-11-27", "2026-11-30"),
        (WEDNESDAY_BEFORE_THANKSGIVING_10AM, "standard", "2026-11-25", "2026-11-27", "2026-12-03"),
        (CHRISTMAS_EVE_10AM, "overnight", "2026-12-24", "2026-12-28", "2026-12-28"),
        # Five carrier days from Thursday 24th: 28, 29, 30, 31 December and 4 January (New Year's Day skipped).
        (CHRISTMAS_EVE_10AM, "standard", "2026-12-24", "2026-12-28", "2027-01-04"),
    ],
)
def test_promise_and_delivery_skip_the_holiday(web, dc, product, placed, level, ships, delivered, promised):
    stock(product, dc, 5)
    order = make_order(channel=web, lines=[(product, 1)], service_level=level, placed_at=placed)
    d = order_route(order_id=order.pk, now=placed)
    shipment = _only_shipment(d)
    assert (shipment["ship_date"], shipment["delivery_date"]) == (ships, delivered)
    assert d.promise_date.isoformat() == promised and shipment["promise_met"] is True


def test_overnight_after_the_cutoff_before_thanksgiving_is_dispatched_on_friday(web, dc, product):
    wednesday_4pm = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
    stock(product, dc, 5)
    order = make_order(channel=web, lines=[(product, 1)], service_level="overnight", placed_at=wednesday_4pm)
    shipment = _only_shipment(order_route(order_id=order.pk, now=wednesday_4pm))
    assert (shipment["ship_date"], shipment["delivery_date"]) == ("2026-11-27", "2026-11-30")


def test_a_closed_store_ships_on_its_next_open_day_with_the_promise_that_day_gives(web, store, product):
    stock(product, store, 5)
    LocationClosure.objects.create(location=store, date=date(2026, 3, 2), reason="inventory day")
    order = make_order(channel=web, lines=[(product, 1)])
    d = order_route(order_id=order.pk, now=MONDAY_9AM)
    shipment = _only_shipment(d)
    assert shipment["location_id"] == store.pk
    assert shipment["ship_date"] == "2026-03-03" and shipment["delivery_date"] == "2026-03-04"
    assert shipment["promise_met"] is True


def test_a_closure_that_breaks_an_overnight_promise_sends_the_order_elsewhere(web, dc, store, product):
    stock(product, dc, 5)
    stock(product, store, 5)
    order = make_order(channel=web, lines=[(product, 1)], service_level="overnight")
    d = order_route(order_id=order.pk, now=MONDAY_9AM)
    assert _only_shipment(d)["location_id"] == dc.pk  # open: the cheaper DC
    network_static()  # the network is cached now: a closure must still reach the next routing
    LocationClosure.objects.create(location=dc, date=date(2026, 3, 2), reason="stock count")
    assert date(2026, 3, 2) in network_static().locations[dc.pk].calendar.closures
    order = make_order(channel=web, lines=[(product, 1)], service_level="overnight")
    d = order_route(order_id=order.pk, now=MONDAY_9AM)
    shipment = _only_shipment(d)
    assert shipment["location_id"] == store.pk and shipment["ship_date"] == "2026-03-02"
    reasons = [r for r, ids in d.excluded["by_reason"].items() if dc.pk in ids]
    assert reasons and reasons[0].startswith("promise: overnight would arrive 2026-03-04")


def test_a_state_holiday_closes_the_locations_of_that_state_only(web, dc, product):
    """Texas Independence Day (Monday 2 March 2026): an Austin DC ships on Tuesday, the New Jersey DC on
    Monday. The state comes from the location's ZIP when its region is blank."""
    austin = Location.objects.create(
        code="DC-TX",
        name="Austin DC",
        kind="warehouse",
        postal_code="78701",
        timezone="America/Chicago",
        handling_classes=["ambient"],
        daily_capacity=1000,
    )
    assert network_static().locations[austin.pk].calendar.subdivision == "TX"
    stock(product, austin, 5)
    texan = make_order(channel=web, lines=[(product, 1)], postal_code="78704")
    assert _only_shipment(order_route(order_id=texan.pk, now=MONDAY_9AM))["ship_date"] == "2026-03-03"
    stock(product, dc, 5)
    jersey = make_order(channel=web, lines=[(product, 1)], postal_code="08901")
    shipment = _only_shipment(order_route(order_id=jersey.pk, now=MONDAY_9AM))
    assert shipment["location_id"] == dc.pk and shipment["ship_date"] == "2026-03-02"
