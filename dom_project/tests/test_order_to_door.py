"""One order through every app: API intake → routing → a store reports a line short → re-route elsewhere →
ship → cancel the rest. Each hand-off uses the real services and tasks (django-q2 inline)."""

import pytest

from fulfillment.models import FulfillmentOrder
from fulfillment.services import fulfillment_line_short, fulfillment_order_ship
from inventory.models import Reservation, StockLevel
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock
from orders.models import Order
from orders.services import order_cancel
from routing.models import RoutingDecision

pytestmark = pytest.mark.django_db


def level(product, location) -> StockLevel:
    return StockLevel.objects.get(product=product, location=location)


def test_order_from_intake_to_reroute_ship_and_cancel(
    api, ops_user, web, dc, dc_west, store, product, product_b, django_capture_on_commit_callbacks
):
    put_stock(product, store, 3)
    put_stock(product, dc_west, 10)
    put_stock(product_b, dc, 4)
    payload = {
        "channel": "web",
        "external_id": "E2E-1",
        "placed_at": "2026-03-02T14:00:00Z",
        "customer": {"email": "ann@example.com", "name": "Ann Smith"},
        "shipping_address": {
            "name": "Ann Smith",
            "line1": "1 Main St",
            "city": "New York",
            "region": "NY",
            "postal_code": "10001",
            "country": "US",
        },
        "fulfillment_method": "ship",
        "service_level": "standard",
        "payment_status": "authorized",
        "currency": "USD",
        "lines": [
            {"sku": "SKU-A", "quantity": 2, "unit_price": "19.99"},
            {"sku": "SKU-B", "quantity": 1, "unit_price": "5.00"},
        ],
    }
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post("/api/v1/orders/", payload, format="json")
    assert r.status_code == 201, r.json()
    order = Order.objects.get(pk=r.json()["id"])
    assert order.status == Order.Status.ROUTED, list(order.events.values_list("type", "message"))
    assert RoutingDecision.objects.filter(order=order).count() == 1
    fos = list(order.fulfillment_orders.all())
    assert fos and all(fo.reservation.reference == f"order:{order.pk}" for fo in fos)
    held = sum(s.reserved for s in StockLevel.objects.all())
    assert held == 3
    assert_ledger_matches_levels()

    # The location holding SKU-A reports one unit short; routing places it elsewhere, never back there.
    line_a = order.lines.get(sku="SKU-A")
    fo_a = next(fo for fo in fos if fo.lines.filter(order_line=line_a).exists())
    fl = fo_a.lines.get(order_line=line_a)
    with django_capture_on_commit_callbacks(execute=True):
        fulfillment_line_short(line_id=fl.pk, quantity=1, reason_code="mismatch", actor=ops_user)
    decisions = list(RoutingDecision.objects.filter(order=order).order_by("pk"))
    assert len(decisions) == 2 and decisions[1].kind == "reroute"
    new_fos = FulfillmentOrder.objects.filter(order=order).exclude(pk__in=[f.pk for f in fos])
    assert new_fos.exists()
    assert fo_a.location_id not in set(new_fos.values_list("location_id", flat=True))
    assert sum(fl.quantity for f in new_fos for fl in f.lines.filter(order_line=line_a)) == 1
    assert (
        order.events.filter(type__icontains="reroute").exists()
        or order.events.filter(message__icontains="new location").exists()
    )
    assert_ledger_matches_levels()

    # Ship the SKU-B fulfilment order: stock leaves the building (on_hand and reserved down together).
    fo_b = next(fo for fo in order.fulfillment_orders.all() if fo.lines.filter(order_line__sku="SKU-B").exists())
    before = level(product_b, fo_b.location)
    fulfillment_order_ship(fo_id=fo_b.pk, service="ups_ground", tracking_number="1Z999", actor=ops_user)
    after = level(product_b, fo_b.location)
    assert (after.on_hand, after.reserved) == (before.on_hand - 1, before.reserved - 1)
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_SHIPPED

    # Cancel what has not shipped: every remaining reservation of the order is released, its work cancelled.
    order_cancel(order=order, actor=ops_user, reason="customer changed their mind")
    assert not Reservation.objects.filter(reference=f"order:{order.pk}", status="active").exists()
    open_fos = order.fulfillment_orders.exclude(status__in=["shipped", "cancelled", "rejected", "delivered"])
    assert not open_fos.exists(), list(open_fos.values_list("status", flat=True))
    assert sum(s.reserved for s in StockLevel.objects.all()) == 0
    assert_ledger_matches_levels()
