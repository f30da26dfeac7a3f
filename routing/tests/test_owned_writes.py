"""Routing's batch writer writes other apps' rows only through their services: typed references on the
reservations it holds, lifecycle-checked statuses, typed timeline events."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from inventory.models import RefType, Reservation, ReservationLine
from inventory.services import HoldLine, ReservationHold, reservations_hold_bulk
from orders.models import Order, OrderEvent
from orders.services import order_event_add, order_events_add_bulk, orders_status_set_bulk
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = pytest.mark.django_db


def test_routing_holds_stock_under_typed_references(web, dc, product):
    stock(product, dc, 10)
    order = make_order(channel=web, lines=[(product, 2)])
    order_route(order_id=order.pk, now=MONDAY_9AM)
    res = Reservation.objects.get(ref_type=RefType.ORDER, ref_id=order.pk)
    line = order.lines.get()
    assert [(rl.ref_type, rl.ref_id, rl.quantity) for rl in res.lines.all()] == [("order_line", line.pk, 2)]
    assert OrderEvent.objects.get(order=order, type=OrderEvent.Type.ROUTED)


def test_bulk_status_checks_every_transition_and_writes_nothing_when_one_is_refused(web, product):
    ok = make_order(channel=web, lines=[(product, 1)])
    shipped = make_order(channel=web, lines=[(product, 1)], status=Order.Status.SHIPPED)
    with pytest.raises(ValidationError, match="cannot go from shipped to routed"):
        orders_status_set_bulk(paths={ok.pk: (Order.Status.ROUTED,), shipped.pk: (Order.Status.ROUTED,)})
    ok.refresh_from_db()
    assert ok.status == Order.Status.VALIDATED
    assert orders_status_set_bulk(paths={ok.pk: ("routed",), shipped.pk: ("shipped",)}) == 1
    ok.refresh_from_db()
    assert ok.status == Order.Status.ROUTED


def test_bulk_status_checks_each_step_of_a_path(web, product):
    created = make_order(channel=web, lines=[(product, 1)], status=Order.Status.CREATED)
    with pytest.raises(ValidationError, match="cannot go from created to routed"):
        orders_status_set_bulk(paths={created.pk: ("routed",)})
    assert orders_status_set_bulk(paths={created.pk: ("validated", "backordered")}) == 1
    created.refresh_from_db()
    assert created.status == Order.Status.BACKORDERED


def test_routing_a_created_order_goes_through_validated(web, dc, product):
    stock(product, dc, 10)
    order = make_order(channel=web, lines=[(product, 1)], status=Order.Status.CREATED)
    order_route(order_id=order.pk, now=MONDAY_9AM)
    order.refresh_from_db()
    assert order.status == Order.Status.ROUTED


def test_event_types_are_choices(web, product):
    order = make_order(channel=web, lines=[(product, 1)])
    with pytest.raises(ValueError, match="Unknown order event type"):
        order_event_add(order=order, type="teleported")
    with pytest.raises(ValueError, match="Unknown order event type"):
        order_events_add_bulk(events=[{"order_id": order.pk, "type": "teleported"}])
    order_events_add_bulk(events=[{"order_id": order.pk, "type": "rerouted", "message": "x" * 600}])
    event = OrderEvent.objects.get(order=order)
    assert (event.type, len(event.message)) == ("rerouted", 500)


def test_bulk_hold_reserves_stock_with_one_movement_per_product_and_location(web, dc, product):
    from inventory.models import InventoryMovement, StockLevel

    stock(product, dc, 10)
    holds = [
        ReservationHold(web.pk, f"order:{n}", [HoldLine(product.pk, dc.pk, 2, "", RefType.ORDER_LINE, n)], "order", n)
        for n in (1, 2)
    ]
    ids = reservations_hold_bulk(holds=holds, movement_reference="batch")
    assert len(ids) == 2 and StockLevel.objects.get(product=product, location=dc).reserved == 4
    assert InventoryMovement.objects.filter(reason="reserve", reference="batch").count() == 1


def test_migration_types_the_references_of_existing_reservations(web, dc, product):
    res = Reservation.objects.create(channel=web, reference="order:41")
    rl = ReservationLine.objects.create(
        reservation=res, product=product, location=dc, quantity=1, reference="order_line:7"
    )
    cart = Reservation.objects.create(channel=web, reference="order:cart-token")
    migration = importlib.import_module("inventory.migrations.0008_reservation_typed_reference")
    migration.forwards(apps, None)
    res.refresh_from_db()
    rl.refresh_from_db()
    cart.refresh_from_db()
    assert (res.ref_type, res.ref_id) == ("order", 41)
    assert (rl.ref_type, rl.ref_id) == ("order_line", 7)
    assert (cart.ref_type, cart.ref_id) == ("", None)
