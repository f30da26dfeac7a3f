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
