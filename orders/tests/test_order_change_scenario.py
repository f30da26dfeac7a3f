"""The issue's story, end to end through the doors: a Shopify order routed to two warehouses, one of which has
released its part; the customer's new address applies at once, the unreleased part is re-planned and the
location that has the released part is asked to stop it (202, completed when it confirms); one unit of the
unreleased part is cancelled (stock back, totals and refund right); Shopify's late, older orders/updated is
ignored; the timeline tells it in order."""

from decimal import Decimal

import pytest

from conftest import api_for
from fulfillment.models import FulfillmentOrder
from fulfillment.services import fulfillment_order_release_now
from inventory.models import StockLevel
from inventory.selectors import stock_ledger_mismatches
from orders.models import Order
from orders.tests.api.test_shopify_changes import CHANGES, CREATE, send, updated
from orders.tests.conftest import shopify_order
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, stock

pytestmark = pytest.mark.django_db
LA = {"line1": "1 Main St", "city": "Los Angeles", "postal_code": "90001", "region": "CA", "country": "US"}


def test_placed_split_released_address_cancel_and_a_late_shopify_update(
    shopify_channel, ipods, dc, dc_west, ops_user, settings
):
    # A retailer that moves a shipment once the new address costs 5 % more to serve from where it is.
    settings.DOM = {**settings.DOM, "ADDRESS_CHANGE_REROUTE_THRESHOLD": 0.05}
    green, red, black = ipods
    stock(green, dc, 5)
    stock(red, dc_west, 5)
    stock(black, dc_west, 5)
    assert send(CREATE, shopify_order(), topic="orders/create", webhook_id="c-1").status_code == 200
    order = Order.objects.get()
    order_route(order_id=order.pk, now=MONDAY_9AM)
    west = FulfillmentOrder.objects.get(order=order, location=dc_west)
    east = FulfillmentOrder.objects.get(order=order, location=dc)
    fulfillment_order_release_now(fo_id=east.pk)  # DC-EAST has its part; DC-WEST's is not released yet
    api = api_for(ops_user)

    etag = api.get(f"/api/v1/orders/{order.pk}/").headers["ETag"]
    r = api.patch(
        f"/api/v1/orders/{order.pk}/", {"shipping_address": LA, "reason": "moved"}, format="json", HTTP_IF_MATCH=etag
    )
    assert r.status_code == 202, r.json()["change"]
    assert f"FO-{west.pk} kept: DC-WEST still fits" in r.json()["change"]["message"]
    (asked,) = r.json()["change"]["cancel_requests"]
    assert asked["fulfillment_order"] == east.pk and asked["kind"] == "reroute"  # NJ → LA: dearer
    assert Order.objects.get(pk=order.pk).shipping_address["line1"] == "1 Main St"
    stale = api.patch(f"/api/v1/orders/{order.pk}/", {"shipping_address": LA}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412  # the change moved the version on
    etag = api.get(f"/api/v1/orders/{order.pk}/").headers["ETag"]

    before = Order.objects.get(pk=order.pk)
    r = api.post(
        f"/api/v1/orders/{order.pk}/cancel",
        {"reason": "customer has one already", "lines": [{"line_number": 2, "quantity": 1}]},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert r.status_code == 200, r.json()
    after = Order.objects.get(pk=order.pk)
    assert StockLevel.objects.get(product=red, location=dc_west).reserved == 0
    assert StockLevel.objects.get(product=black, location=dc_west).reserved == 1
    tax = (before.tax_total * (before.subtotal - Decimal("199.00")) / before.subtotal).quantize(Decimal("0.01"))
    assert after.subtotal == before.subtotal - Decimal("199.00") and after.tax_total == tax
    refund = Decimal("199.00") + before.tax_total - tax
    assert after.total == before.total - refund
    assert r.json()["change"]["refund_amount"] == str(refund)
    assert after.status == "routed" and StockLevel.objects.get(product=green, location=dc).reserved == 1

    late = updated(
        updated_at="2008-01-10T10:00:00-05:00",
        shipping_address={**shopify_order()["shipping_address"], "address1": "Old Street 1"},
    )
    assert send(CHANGES, late, topic="orders/updated", webhook_id="u-late").json()["outcome"] == "ignored_older"
    assert Order.objects.get(pk=order.pk).shipping_address["line1"] == "1 Main St"

    # DC-EAST confirms it stopped its part: the unit stays on the order and is routed again for the new address
    # (DC-EAST alone holds green, so it is planned there again, now to Los Angeles).
    from fulfillment.services import fulfillment_event_apply

    fulfillment_event_apply(fo_id=east.pk, event_id="e-1", type="cancel_confirmed", payload={})
    assert FulfillmentOrder.objects.get(pk=east.pk).status == "cancelled"
    assert StockLevel.objects.get(product=green, location=dc).reserved == 1
    assert not Order.objects.get(pk=order.pk).lines.filter(sku="IPOD2008GREEN", quantity_cancelled__gt=0).exists()

    story = [(e.type, e.message) for e in Order.objects.get(pk=order.pk).events.all()]
    types = [t for t, _ in story]
    assert types.index("received") < types.index("routed") < types.index("fulfillment.released")
    assert types.index("fulfillment.released") < types.index("changed") < types.index("cancellation_requested")
    assert types.index("cancellation_requested") < types.index("cancelled") < types.index("channel_update_ignored")
    cancelled = dict(story)["cancelled"]
    assert cancelled.startswith("ops cancelled 1 unit: IPOD2008RED × 1 (line 2). Why: customer has one already.")
    assert stock_ledger_mismatches() == []
