"""An address change that released work cannot serve: the unreleased part re-routes at once, the location that
has the rest is asked to stop it (a `reroute` cancel request) and its units are routed again when it confirms
(real routing, real stock)."""

import pytest

from fulfillment.models import CancelRequest, FulfillmentOrder, OutboxMessage
from fulfillment.services import (
    fulfillment_cancel_request_refuse,
    fulfillment_event_apply,
    fulfillment_order_release_now,
)
from inventory.models import StockLevel
from inventory.selectors import stock_ledger_mismatches
from orders.models import Order
from orders.services import order_address_change, order_units_cancel
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = pytest.mark.django_db

LA = {"line1": "1 Main St", "city": "Los Angeles", "postal_code": "90001", "region": "CA", "country": "US"}


def reserved(product, location) -> int:
    return StockLevel.objects.get(product=product, location=location).reserved


@pytest.fixture
def east_split(web, dc, store, dc_west, product, product_b):
    """2 × SKU-A released to DC-EAST and 1 × SKU-B at STORE-0001 (not started); DC-WEST has both for later."""
    stock(product, dc, 5)
    stock(product_b, store, 5)
    order = make_order(channel=web, lines=[(product, 2), (product_b, 1)])
    order_route(order_id=order.pk, now=MONDAY_9AM)
    fos = {fo.location.code: fo for fo in FulfillmentOrder.objects.filter(order=order)}
    assert set(fos) == {"DC-EAST", "STORE-0001"}
    fulfillment_order_release_now(fo_id=fos["DC-EAST"].pk)
    stock(product, dc_west, 5)
    stock(product_b, dc_west, 5)
    order.refresh_from_db()
    return order, fos["DC-EAST"], fos["STORE-0001"]


def _counters(order: Order) -> list[tuple]:
    return list(
        order.lines.order_by("line_number").values_list("quantity_allocated", "quantity_cancelled", "quantity_shipped")
    )


def test_released_part_is_asked_to_stop_and_reroutes_on_confirmation(
    east_split, ops_user, dc, store, dc_west, product, product_b
):
    order, east, at_store = east_split
    result = order_address_change(order=order, address=LA, reason="customer moved", actor=ops_user)
    (req,) = result.requests
    assert req.kind == "reroute" and req.fulfillment_order_id == east.pk and req.status == "requested"
    msg = OutboxMessage.objects.get(kind="cancel_request")
    assert msg.payload["purpose"] == "reroute" and msg.payload["lines"] == [{"sku": "SKU-A", "quantity": 2}]
    order.refresh_from_db()
    assert order.shipping_address == LA
    # The store's part re-routed at once; DC-EAST still holds its units until it answers.
    at_store.refresh_from_db()
    assert at_store.status == "cancelled" and reserved(product_b, store) == 0
    assert reserved(product_b, dc_west) == 1 and reserved(product, dc) == 2
    changed = order.events.get(type="changed", data__change="address").message
    assert f"FO-{at_store.pk} re-routed" in changed
    assert f"FO-{east.pk} at DC-EAST already has the work, asked to stop it" in changed
    asked = order.events.get(type="cancellation_requested").message
    assert "asked DC-EAST to cancel 2 × SKU-A" in asked and "routed again for the new address" in asked
    assert _counters(order) == [(2, 0, 0), (1, 0, 0)]

    fulfillment_event_apply(fo_id=east.pk, event_id="c-1", type="cancel_confirmed", payload={})
    req.refresh_from_db()
    east.refresh_from_db()
    order.refresh_from_db()
    assert req.status == "confirmed" and east.status == "cancelled"
    assert reserved(product, dc) == 0 and reserved(product, dc_west) == 2
    # Nothing was cancelled from the order: every unit is allocated again, now from DC-WEST.
    assert _counters(order) == [(2, 0, 0), (1, 0, 0)] and order.status == "routed"
    west = FulfillmentOrder.objects.filter(order=order, location=dc_west).exclude(status="cancelled")
    assert sum(fl.quantity for fo in west for fl in fo.lines.all()) == 3
    assert not order.events.filter(type="cancelled").exists()
    assert "routed again after shipping address changed" in order.events.filter(type="changed").last().message
    assert stock_ledger_mismatches() == []


def test_already_packed_ships_as_packed_and_the_timeline_says_so(east_split, ops_user, dc, product):
    order, east, _ = east_split
    (req,) = order_address_change(order=order, address=LA, reason="customer moved", actor=ops_user).requests
    fulfillment_cancel_request_refuse(request_id=req.pk, actor=None, note="Already packed.")
    req.refresh_from_db()
    assert req.status == CancelRequest.Status.REFUSED
    said = order.events.get(type="cancellation_refused").message
    assert "could not stop 2 × SKU-A" in said and "old address" in said and "contact the carrier" in said
    order.refresh_from_db()
    assert order.shipping_address == LA and _counters(order)[0] == (2, 0, 0) and reserved(product, dc) == 2
    assert stock_ledger_mismatches() == []


def test_units_already_asked_of_the_location_are_not_asked_again(east_split, ops_user):
    order, east, _ = east_split
    order_units_cancel(order=order, lines={1: 2}, reason="customer changed mind", actor=ops_user)
    result = order_address_change(order=order, address=LA, reason="customer moved", actor=ops_user)
    assert result.requests == ()
    assert east.cancel_requests.count() == 1 and east.cancel_requests.get().kind == "cancel"
    changed = order.events.get(type="changed", data__change="address").message
    assert f"FO-{east.pk} at DC-EAST: its units are already asked of the location" in changed
    assert Order.objects.get(pk=order.pk).shipping_address == LA
