"""The issue's story, end to end through the doors: a Shopify order routed to two warehouses, one of which has
released its part; the customer's new address is refused while that location has the work (the answer names
it); one unit of the other part is cancelled (stock back, totals and refund right); Shopify's late, older
orders/updated is ignored; the timeline tells it in order."""

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


def test_placed_split_released_address_cancel_and_a_late_shopify_update(shopify_channel, ipods, dc, dc_west, ops_user):
    green, red, black = ipods
    stock(green, dc, 5)
    stock(red, dc_west, 5)
    stock(black, dc_west, 5)
    assert send(CREATE, shopify_order(), topic="orders/create", webhook_id="c-1").status_code == 200
    order = Order.objects.get()
    order_route(order_id=order.pk, now=MONDAY_9AM)
    west = FulfillmentOrder.objects.get(order=order, location=dc_west)
    east = FulfillmentOrder.objects.get(order=order, location=dc)
    fulfillment_order_release_now(fo_id=west.pk)
    api = api_for(ops_user)

    etag = api.get(f"/api/v1/orders/{order.pk}/").headers["ETag"]
    r = api.patch(
        f"/api/v1/orders/{order.pk}/", {"shipping_address": LA, "reason": "moved"}, format="json", HTTP_IF_MATCH=etag
    )
    assert r.status_code == 409 and f"FO-{west.pk} at DC-WEST (released)" in " ".join(r.json()["detail"])
    assert api.get(f"/api/v1/orders/{order.pk}/").headers["ETag"] == etag  # nothing written

    before = Order.objects.get(pk=order.pk)
    r = api.post(
        f"/api/v1/orders/{order.pk}/cancel",
        {"reason": "customer has one already", "lines": [{"line_number": 1, "quantity": 1}]},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert r.status_code == 200, r.json()
    after = Order.objects.get(pk=order.pk)
    assert StockLevel.objects.get(product=green, location=dc).reserved == 0
    assert FulfillmentOrder.objects.get(pk=east.pk).status == "cancelled"
    tax = (before.tax_total * (before.subtotal - Decimal("199.00")) / before.subtotal).quantize(Decimal("0.01"))
    assert after.subtotal == before.subtotal - Decimal("199.00") and after.tax_total == tax
    refund = Decimal("199.00") + before.tax_total - tax
    assert after.total == before.total - refund
    assert r.json()["change"]["refund_amount"] == str(refund)
    assert after.status == "routed" and StockLevel.objects.get(product=red, location=dc_west).reserved == 1

    late = updated(
        updated_at="2008-01-10T10:00:00-05:00",
        shipping_address={**shopify_order()["shipping_address"], "address1": "Old Street 1"},
    )
    assert send(CHANGES, late, topic="orders/updated", webhook_id="u-late").json()["outcome"] == "ignored_older"
    assert Order.objects.get(pk=order.pk).shipping_address["line1"] == "Chestnut Street 92"

    story = [(e.type, e.message) for e in Order.objects.get(pk=order.pk).events.all()]
    types = [t for t, _ in story]
    assert types.index("received") < types.index("routed") < types.index("fulfillment.released")
    assert types.index("fulfillment.released") < types.index("cancelled") < types.index("channel_update_ignored")
    cancelled = dict(story)["cancelled"]
    assert cancelled.startswith("ops cancelled 1 unit: IPOD2008GREEN × 1 (line 1). Why: customer has one already.")
    assert stock_ledger_mismatches() == []
