"""Routing never strands an order (issue 19 §4): a promise that can no longer be kept routes late, handling
exclusions apply per line, a pickup's promise includes the transfer, a full store is offered for its next
ship day."""

from datetime import UTC, date, datetime

import pytest

from fulfillment.models import FulfillmentOrder
from orders.models import Order
from routing.services import backorders_retry, order_reroute, order_route
from routing.tests.helpers import make_order, stock

pytestmark = pytest.mark.django_db

# Monday 2026-03-02, 21:00 in New York: after every cut-off.
MONDAY_9PM = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
TUESDAY_9AM = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


def _late_note(d) -> str:
    return next(n for n in d.notes if n.startswith("late:"))


def test_overnight_order_after_the_only_cutoff_is_routed_late_not_backordered(web, dc, product):
    stock(product, dc, 5)
    order = make_order(channel=web, lines=[(product, 1)], service_level="overnight", placed_at=MONDAY_9PM)
    d = order_route(order_id=order.pk, now=MONDAY_9PM)
    assert d.outcome == "routed"
    (shipment,) = d.plan
    assert shipment["promise_met"] is False and shipment["delivery_date"] == "2026-03-04"
    assert "2026-03-03" in _late_note(d) and "new promise of 2026-03-04" in _late_note(d)
    assert FulfillmentOrder.objects.filter(order=order, location=dc).exists()
    # The order carries the new promise, keeps the first one, and its timeline says why it moved.
    order.refresh_from_db()
    assert order.promised_delivery_date == date(2026, 3, 4)
    assert order.original_promised_delivery_date == date(2026, 3, 3)
    (event,) = order.events.filter(type="changed", data__change="promise")
    assert event.data["from"] == "2026-03-03" and event.data["to"] == "2026-03-04"
    assert event.data["original"] == "2026-03-03" and event.data["reason"] == _late_note(d)
    assert "Promise moved from 2026-03-03 to 2026-03-04" in event.message


def test_a_second_late_move_keeps_the_first_promise(web, dc, product):
    order = make_order(channel=web, lines=[(product, 2)], service_level="overnight", placed_at=MONDAY_9PM)
    order.promised_delivery_date = date(2026, 3, 3)
    order.save(update_fields=["promised_delivery_date"])
    stock(product, dc, 1)
    d = order_route(order_id=order.pk, now=MONDAY_9PM)
    assert d.outcome == "partial" and any(n.startswith("late:") for n in d.notes)
    order.refresh_from_db()
    assert (order.promised_delivery_date, order.original_promised_delivery_date) == (date(2026, 3, 4), date(2026, 3, 3))
    stock(product, dc, 1)  # the last unit turns up on Wednesday evening: now Friday at the earliest
    line = order.lines.get()
    wednesday_9pm = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    d = order_reroute(
        order_id=order.pk, quantities={line.pk: 1}, exclude_location_ids=[], reason="x", now=wednesday_9pm
    )
    assert d.outcome == "routed" and "new promise of 2026-03-06" in _late_note(d)
    order.refresh_from_db()
    assert (order.promised_delivery_date, order.original_promised_delivery_date) == (date(2026, 3, 6), date(2026, 3, 3))
    moves = [e.data["to"] for e in order.events.filter(type="changed", data__change="promise")]
    assert moves == ["2026-03-04", "2026-03-06"]


def test_an_order_that_keeps_its_promise_is_not_redated(web, dc, product):
    from routing.tests.helpers import MONDAY_9AM  # noqa: PLC0415

    stock(product, dc, 5)
    order = make_order(channel=web, lines=[(product, 1)], service_level="overnight")
    order.promised_delivery_date = date(2026, 3, 3)
    order.save(update_fields=["promised_delivery_date"])
    order_route(order_id=order.pk, now=MONDAY_9AM)
    order.refresh_from_db()
    assert (order.promised_delivery_date, order.original_promised_delivery_date) == (date(2026, 3, 3), None)
    assert not order.events.filter(type="changed").exists()


def test_backordered_order_with_a_fixed_passed_promise_is_routed_by_retry_and_reroute(web, dc, product):
    order = make_order(channel=web, lines=[(product, 1)], service_level="overnight", placed_at=MONDAY_9PM)
    order.promised_delivery_date = date(2026, 3, 3)
    order.save(update_fields=["promised_delivery_date"])
    d = order_route(order_id=order.pk, now=MONDAY_9PM)  # no stock yet: backordered
    assert d.outcome == "backordered"
    stock(product, dc, 5)  # arrives the next morning: the promise (Tuesday) cannot be kept any more
    assert backorders_retry(now=TUESDAY_9AM) == 1
    order.refresh_from_db()
    assert order.status != Order.Status.BACKORDERED
    assert FulfillmentOrder.objects.filter(order=order, location=dc).exists()


def test_manual_reroute_of_a_passed_promise_places_the_units(web, dc, product):
    order = make_order(channel=web, lines=[(product, 1)], service_level="overnight", placed_at=MONDAY_9PM)
    order.promised_delivery_date = date(2026, 3, 3)
    order.save(update_fields=["promised_delivery_date"])
    assert order_route(order_id=order.pk, now=MONDAY_9PM).outcome == "backordered"
    stock(product, dc, 5)
    line = order.lines.get()
    d = order_reroute(
        order_id=order.pk, quantities={line.pk: 1}, exclude_location_ids=[], reason="manual", now=TUESDAY_9AM
    )
    assert d.outcome == "routed" and any(n.startswith("late:") for n in d.notes)
    assert FulfillmentOrder.objects.filter(order=order, location=dc).exists()


def test_hazmat_rule_excludes_stores_per_line_not_for_the_whole_order(web, dc_west, store, product):
    """The default "hazmat and oversized never from stores" rule: the ambient line still ships from the store
    that holds it; only the hazmat line must come from a DC."""
    from inventory.models import Product  # noqa: PLC0415

    hz = Product.objects.create(sku="HZ-9", name="Solvent", handling_class="hazmat", weight_grams=800)
    store.handling_classes = ["ambient", "hazmat"]
    store.save(update_fields=["handling_classes"])
    stock(hz, dc_west, 5)
    stock(hz, store, 5)  # the store holds it but may not send hazmat
    stock(product, store, 5)  # the ambient line: only the store holds it
    order = make_order(channel=web, lines=[(hz, 1), (product, 1)])
    d = order_route(order_id=order.pk, now=TUESDAY_9AM)
    assert d.outcome == "routed"
    sent = {s["location_id"]: s["lines"] for s in d.plan}
    hz_line, amb_line = order.lines.order_by("line_number")
    assert sent[store.pk] == [[amb_line.pk, 1]] and sent[dc_west.pk] == [[hz_line.pk, 1]]


def test_pickup_waiting_for_a_cross_country_transfer_does_not_meet_its_promise(web, dc_west, store, product):
    from routing.tests.helpers import MONDAY_9AM  # noqa: PLC0415

    stock(product, dc_west, 5)  # Ontario CA → the Manhattan store: 5 business days in transit
    order = make_order(channel=web, lines=[(product, 1)], method="pickup", pickup_location=store)
    order.promised_delivery_date = date(2026, 3, 3)  # ready for pickup on Tuesday
    order.save(update_fields=["promised_delivery_date"])
    d = order_route(order_id=order.pk, now=MONDAY_9AM)
    assert d.outcome == "routed"
    (shipment,) = d.plan
    assert shipment["method"] == "transfer" and shipment["delivery_date"] == "2026-03-09"
    assert shipment["promise_met"] is False


def test_pickup_transfer_that_arrives_in_time_meets_its_promise(web, dc, store, product):
    from routing.tests.helpers import MONDAY_9AM  # noqa: PLC0415

    stock(product, dc, 5)  # Edison NJ → Manhattan: 1 business day
    order = make_order(channel=web, lines=[(product, 1)], method="pickup", pickup_location=store)
    order.promised_delivery_date = date(2026, 3, 3)
    order.save(update_fields=["promised_delivery_date"])
    d = order_route(order_id=order.pk, now=MONDAY_9AM)
    (shipment,) = d.plan
    assert shipment["method"] == "transfer" and shipment["promise_met"] is True


def test_a_full_store_is_offered_for_its_next_ship_day(web, store, dc_west, product):
    """Today's capacity at the nearby store is used up: shipping from it tomorrow is still cheaper and faster
    than sending the order across the country today."""
    from routing.models import LocationCapacity  # noqa: PLC0415
    from routing.tests.helpers import MONDAY_9AM  # noqa: PLC0415

    stock(product, store, 5)
    stock(product, dc_west, 5)
    LocationCapacity.objects.create(location=store, day=date(2026, 3, 2), capacity=3, used=3)
    order = make_order(channel=web, lines=[(product, 1)])
    d = order_route(order_id=order.pk, now=MONDAY_9AM)
    (shipment,) = d.plan
    assert shipment["location_id"] == store.pk
    assert shipment["ship_date"] == "2026-03-03" and shipment["delivery_date"] == "2026-03-04"
    assert shipment["promise_met"] is True
    assert LocationCapacity.objects.get(location=store, day=date(2026, 3, 3)).used == 1


def test_express_with_a_passed_promise_ships_late_rather_than_waiting(web, dc_west, product):
    # On the rate card (issue 20 §2) express is two-day air to every zone, no longer ground within 1,000 km
    # upgraded to overnight beyond: Ontario CA → New York ships express, late, instead of overnight late.
    stock(product, dc_west, 5)  # ships Tuesday (after the cut-off): express Thursday, overnight Wednesday
    order = make_order(channel=web, lines=[(product, 1)], service_level="express", placed_at=MONDAY_9PM)
    order.promised_delivery_date = date(2026, 3, 3)
    order.save(update_fields=["promised_delivery_date"])
    d = order_route(order_id=order.pk, now=MONDAY_9PM)
    assert d.outcome == "routed" and d.service_level == "express"
    (shipment,) = d.plan
    assert shipment["promise_met"] is False and "new promise of 2026-03-05" in _late_note(d)
