import pytest

from fulfillment.models import FulfillmentOrder
from inventory.models import InventoryMovement, Reservation, StockLevel
from inventory.selectors import stock_ledger_mismatches
from orders.models import Order, OrderEvent
from routing.models import LocationCapacity, RoutingDecision
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = pytest.mark.django_db


def test_routes_to_cheapest_location_and_writes_everything(web, dc, dc_west, product):
    stock(product, dc, 10)
    stock(product, dc_west, 10)
    order = make_order(channel=web, lines=[(product, 2)], postal_code="10001")
    decision = order_route(order_id=order.pk, now=MONDAY_9AM)
    order.refresh_from_db()
    assert order.status == Order.Status.ROUTED
    assert decision.outcome == "routed"
    fos = list(FulfillmentOrder.objects.filter(order=order))
    assert [fo.location_id for fo in fos] == [dc.pk]  # Edison is near New York
    res = fos[0].reservation
    assert res.reference == f"order:{order.pk}" and res.channel_id == web.pk
    line = order.lines.get()
    assert [(rl.reference, rl.quantity) for rl in res.lines.all()] == [(f"order_line:{line.pk}", 2)]
    assert line.quantity_allocated == 2
    assert StockLevel.objects.get(product=product, location=dc).reserved == 2
    assert LocationCapacity.objects.get(location=dc).used == 1
    assert OrderEvent.objects.filter(order=order, type="routed").count() == 1
    assert stock_ledger_mismatches() == []
    assert InventoryMovement.objects.filter(reason="reserve").count() == 1


def test_routing_twice_routes_once(web, dc, product):
    stock(product, dc, 10)
    order = make_order(channel=web, lines=[(product, 1)])
    first = order_route(order_id=order.pk, now=MONDAY_9AM)
    second = order_route(order_id=order.pk, now=MONDAY_9AM)
    assert first.pk == second.pk
    assert RoutingDecision.objects.filter(order=order).count() == 1
    assert Reservation.objects.filter(reference=f"order:{order.pk}").count() == 1


def test_capacity_is_consumed_atomically_never_past_its_limit(dc):
    from datetime import date

    from django.db import transaction

    from routing.services import CapacityTaken
    from routing.services.batch import _capacity_consume

    day = date(2026, 3, 2)
    LocationCapacity.objects.create(location=dc, day=day, capacity=2, used=1)
    with pytest.raises(CapacityTaken), transaction.atomic():
        _capacity_consume(increments={(dc.pk, day): 2})
    assert LocationCapacity.objects.get(location=dc, day=day).used == 1
    with transaction.atomic():
        _capacity_consume(increments={(dc.pk, day): 1})
    assert LocationCapacity.objects.get(location=dc, day=day).used == 2


def test_route_pending_batches_share_stock_without_overselling(web, dc, product):
    from routing.services import orders_route_pending

    stock(product, dc, 5)
    orders = [make_order(channel=web, lines=[(product, 2)]) for _ in range(4)]
    result = orders_route_pending(batch=3, now=MONDAY_9AM)
    assert (result.orders, result.routed, result.partial, result.backordered) == (4, 2, 1, 1)
    assert StockLevel.objects.get(product=product, location=dc).reserved == 5
    assert [o.lines.get().quantity_allocated for o in orders] == [2, 2, 1, 0]
    assert stock_ledger_mismatches() == []
