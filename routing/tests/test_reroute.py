"""Re-routing: after a rejection, after a shortage, when backordered stock arrives; the tasks."""

import pytest
from django.core.exceptions import ValidationError

from fulfillment.models import FulfillmentOrder
from inventory.models import Reservation, StockLevel
from inventory.selectors import stock_ledger_mismatches
from inventory.services import reservation_release, stock_set_on_hand
from orders.models import Order, OrderEvent
from routing.models import RoutingDecision
from routing.services import backorders_retry, order_reroute, order_route, shortages_reroute
from routing.tasks import reroute_order, route_order
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = pytest.mark.django_db


def reject(fo: FulfillmentOrder) -> dict[int, int]:
    """What the fulfilment app does when a location rejects: release, un-allocate, mark rejected."""
    from django.db.models import F

    from orders.models import OrderLine

    reservation_release(reservation=fo.reservation)
    qty = {}
    for fl in fo.lines.all():
        OrderLine.objects.filter(pk=fl.order_line_id).update(quantity_allocated=F("quantity_allocated") - fl.quantity)
        qty[fl.order_line_id] = fl.quantity
    FulfillmentOrder.objects.filter(pk=fo.pk).update(status=FulfillmentOrder.Status.REJECTED)
    return qty


def test_reroute_after_rejection_excludes_the_rejecting_location(web, dc, dc_west, store, product):
    for loc in (dc, dc_west, store):
        stock(product, loc, 5)
    order = make_order(channel=web, lines=[(product, 2)], postal_code="08817")
    order_route(order_id=order.pk, now=MONDAY_9AM)
    fo = FulfillmentOrder.objects.get(order=order)
    assert fo.location_id == dc.pk
    qty = reject(fo)
    d = order_reroute(
        order_id=order.pk, quantities=qty, exclude_location_ids=[dc.pk], reason="store short-pick", now=MONDAY_9AM
    )
    assert d.kind == "reroute" and d.reason == "store short-pick"
    new = FulfillmentOrder.objects.filter(order=order).exclude(pk=fo.pk).get()
    assert new.location_id != dc.pk
    assert dc.pk in d.excluded["by_reason"]["re-route: store short-pick"]
    order.refresh_from_db()
    assert order.status == Order.Status.ROUTED and order.lines.get().quantity_allocated == 2
    assert OrderEvent.objects.filter(order=order, type="rerouted").count() == 1
    assert RoutingDecision.objects.filter(order=order).count() == 2
    # A second delivery of the same task changes nothing.
    again = reroute_order(order.pk, {str(k): v for k, v in qty.items()}, [dc.pk], "store short-pick")
    assert again == d.pk and FulfillmentOrder.objects.filter(order=order).count() == 2
    assert stock_ledger_mismatches() == []


def test_reroute_refuses_lines_of_other_orders(web, dc, product):
    stock(product, dc, 5)
    a = make_order(channel=web, lines=[(product, 1)])
    b = make_order(channel=web, lines=[(product, 1)])
    order_route(order_id=a.pk, now=MONDAY_9AM)
    with pytest.raises(ValidationError, match="does not belong to order"):
        order_reroute(
            order_id=a.pk, quantities={b.lines.get().pk: 1}, exclude_location_ids=[], reason="x", now=MONDAY_9AM
        )


def test_backorder_retry_places_units_when_stock_arrives(web, dc, product):
    order = make_order(channel=web, lines=[(product, 2)])
    assert order_route(order_id=order.pk, now=MONDAY_9AM).outcome == "backordered"
    assert backorders_retry(now=MONDAY_9AM) == 0  # nothing arrived: no new decision
    assert RoutingDecision.objects.filter(order=order).count() == 1
    stock(product, dc, 5)
    assert backorders_retry(now=MONDAY_9AM) == 1
    order.refresh_from_db()
    assert order.status == Order.Status.ROUTED
    assert FulfillmentOrder.objects.filter(order=order, location=dc).exists()
    assert RoutingDecision.objects.filter(order=order).latest("id").reason == "stock arrived"


def test_shortage_reroutes_the_short_units_elsewhere(web, dc, dc_west, product):
    stock(product, dc, 3)
    stock(product, dc_west, 10)
    orders = [make_order(channel=web, lines=[(product, 1)]) for _ in range(3)]
    for o in orders:
        order_route(order_id=o.pk, now=MONDAY_9AM)
    assert StockLevel.objects.get(product=product, location=dc).reserved == 3
    stock_set_on_hand(product=product, location=dc, on_hand=1)  # the WMS says only one is there
    decisions = shortages_reroute(shortages=[(product.pk, dc.pk)])
    assert len(decisions) == 2
    level = StockLevel.objects.get(product=product, location=dc)
    assert level.reserved == 1 and level.on_hand == 1
    assert StockLevel.objects.get(product=product, location=dc_west).reserved == 2
    assert FulfillmentOrder.objects.filter(location=dc, status="cancelled").count() == 2
    assert shortages_reroute(shortages=[(product.pk, dc.pk)]) == []  # nothing short any more
    assert stock_ledger_mismatches() == []
    for o in orders:
        o.refresh_from_db()
        assert o.status == Order.Status.ROUTED and o.lines.get().quantity_allocated == 1


def test_route_order_task_is_safe_to_run_twice(web, dc, product):
    stock(product, dc, 5)
    order = make_order(channel=web, lines=[(product, 1)])
    assert route_order(order.pk) == route_order(order.pk)
    assert Reservation.objects.filter(reference=f"order:{order.pk}").count() == 1


def test_orders_on_hold_are_not_routed(web, dc, product):
    stock(product, dc, 5)
    order = make_order(channel=web, lines=[(product, 1)], status=Order.Status.ON_HOLD)
    with pytest.raises(ValidationError, match="only created or validated orders are routed"):
        order_route(order_id=order.pk, now=MONDAY_9AM)


def test_a_wms_snapshot_shortage_is_rerouted_by_the_schedule_task(web, dc, dc_west, product):
    from inventory.models import StockShortage
    from inventory.services import stock_snapshot_apply
    from routing.tasks import reroute_shortages

    stock(product, dc, 2)
    stock(product, dc_west, 10)
    orders = [make_order(channel=web, lines=[(product, 1)]) for _ in range(2)]
    for o in orders:
        order_route(order_id=o.pk, now=MONDAY_9AM)
    stock_snapshot_apply(levels=[(product.pk, dc.pk, 1)], reference="wms snapshot")  # one unit missing
    assert StockShortage.objects.filter(resolved_at__isnull=True, product=product, location=dc).exists()
    assert reroute_shortages() == 1
    assert reroute_shortages() == 0  # run twice: nothing left
    assert not StockShortage.objects.filter(resolved_at__isnull=True).exists()
    assert StockLevel.objects.get(product=product, location=dc).reserved == 1
    assert StockLevel.objects.get(product=product, location=dc_west).reserved == 1
    assert stock_ledger_mismatches() == []
