"""Cancelling some units of some lines, or the whole order, through one path (real routing, real stock)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from fulfillment.models import FulfillmentOrder, OutboxMessage
from fulfillment.services import fulfillment_order_release_now
from inventory.models import StockLevel
from inventory.selectors import stock_ledger_mismatches
from orders.models import Order, OrderLine
from orders.services import (
    OrderChangeConflict,
    OrderVersionStale,
    order_address_change,
    order_line_add,
    order_line_quantity_set,
    order_line_remove,
    order_method_change,
    order_units_cancel,
)
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def priced(order: Order, prices: list[str], *, shipping: str = "10.00", tax: str = "0") -> Order:
    """Give the lines prices and the order consistent totals."""
    subtotal = Decimal(0)
    for ln, price in zip(order.lines.order_by("line_number"), prices, strict=True):
        ln.unit_price = Decimal(price)
        ln.save(update_fields=["unit_price"])
        subtotal += ln.unit_price * ln.quantity
    Order.objects.filter(pk=order.pk).update(
        subtotal=subtotal,
        shipping_total=Decimal(shipping),
        tax_total=Decimal(tax),
        total=subtotal + Decimal(shipping) + Decimal(tax),
    )
    order.refresh_from_db()
    return order


def reserved(product, location) -> int:
    return StockLevel.objects.get(product=product, location=location).reserved


def line(order: Order, n: int) -> OrderLine:
    return order.lines.get(line_number=n)


@pytest.fixture
def split_order(web, dc, dc_west, product, product_b):
    """A product at each DC: the order routes to two locations, one fulfilment order each."""
    stock(product, dc, 5)
    stock(product_b, dc_west, 5)
    order = priced(make_order(channel=web, lines=[(product, 3), (product_b, 2)]), ["20.00", "5.00"], tax="7.00")
    order_route(order_id=order.pk, now=MONDAY_9AM)
    order.refresh_from_db()
    assert order.status == "routed" and order.fulfillment_orders.count() == 2
    return order


def test_partial_cancel_releases_stock_shrinks_the_work_and_recomputes_totals(split_order, ops_user, dc, product):
    before = split_order.version
    result = order_units_cancel(order=split_order, lines={1: 1}, reason="Customer wants two", actor=ops_user)
    order = Order.objects.get(pk=split_order.pk)
    assert line(order, 1).quantity_cancelled == 1 and line(order, 1).quantity_allocated == 2
    assert reserved(product, dc) == 2
    fo = order.fulfillment_orders.get(location=dc)
    assert fo.status == "created" and fo.lines.get().quantity == 2
    # Subtotal 70 -> 50, tax 7 -> 5 (in proportion), shipping kept: refund 22.
    assert (order.subtotal, order.tax_total, order.shipping_total, order.total) == (
        Decimal("50.00"),
        Decimal("5.00"),
        Decimal("10.00"),
        Decimal("65.00"),
    )
    assert result.refund_amount == Decimal("22.00")
    assert order.status == "routed" and order.version > before
    event = order.events.filter(type="cancelled").get()
    assert event.actor == ops_user
    assert "ops cancelled 1 unit: SKU-A × 1 (line 1). Why: Customer wants two. Refund due 22.00" in event.message
    out = Event.objects.get(order=order, type="order.cancelled")
    assert out.data["units"] == 1 and out.data["reason"] == "Customer wants two"
    assert out.data["lines"][0]["line_number"] == 1
    assert stock_ledger_mismatches() == []


def test_cancelling_a_whole_line_cancels_its_fulfilment_order(split_order, ops_user, dc_west, product_b):
    order_units_cancel(order=split_order, lines={2: 2}, reason="Out of fashion", actor=ops_user)
    fo = FulfillmentOrder.objects.get(order=split_order, location=dc_west)
    assert fo.status == "cancelled" and reserved(product_b, dc_west) == 0
    split_order.refresh_from_db()
    assert split_order.status == "routed"
    assert stock_ledger_mismatches() == []


def test_whole_order_cancel_goes_through_the_same_path(split_order, ops_user, dc, dc_west, product, product_b):
    result = order_units_cancel(order=split_order, lines=None, reason="Fraud confirmed", actor=ops_user)
    order = Order.objects.get(pk=split_order.pk)
    assert order.status == "cancelled" and order.total == Decimal("0.00")
    assert result.refund_amount == Decimal("87.00")
    assert reserved(product, dc) == 0 and reserved(product_b, dc_west) == 0
    assert set(order.fulfillment_orders.values_list("status", flat=True)) == {"cancelled"}
    assert order.events.get(type="cancelled").data["partial"] is False
    # Cancelling a cancelled order again changes nothing.
    version = order.version
    order_units_cancel(order=order, lines=None, reason="again", actor=ops_user)
    order.refresh_from_db()
    assert order.version == version
    assert stock_ledger_mismatches() == []


def test_backordered_units_go_first_and_need_no_fulfilment_change(web, dc, product, ops_user):
    stock(product, dc, 1)
    order = make_order(channel=web, lines=[(product, 3)])
    order_route(order_id=order.pk, now=MONDAY_9AM)
    order.refresh_from_db()
    assert order.status == "backordered"
    order_units_cancel(order=order, lines={1: 2}, reason="Will not wait", actor=ops_user)
    order.refresh_from_db()
    assert order.status == "routed" and reserved(product, dc) == 1
    assert line(order, 1).quantity_cancelled == 2


def test_units_on_released_work_are_asked_of_the_location_the_rest_cancelled_now(split_order, ops_user, dc, product):
    fo = FulfillmentOrder.objects.get(order=split_order, location=dc)
    fulfillment_order_release_now(fo_id=fo.pk)
    result = order_units_cancel(order=split_order, lines={1: 1, 2: 1}, reason="x", actor=ops_user)
    (req,) = result.requests
    assert req.fulfillment_order_id == fo.pk and req.status == "requested"
    assert "asked DC-EAST to cancel 1 × SKU-A (line 1)" in result.message
    order = Order.objects.get(pk=split_order.pk)
    # Line 2 (unreleased, at DC-WEST) is cancelled at once; line 1 waits for DC-EAST's answer.
    assert line(order, 2).quantity_cancelled == 1 and line(order, 1).quantity_cancelled == 0
    assert reserved(product, dc) == 3
    assert OutboxMessage.objects.filter(kind="cancel_request", location=dc).count() == 1


def test_shipped_units_cannot_be_cancelled_and_the_answer_names_them(split_order, ops_user):
    OrderLine.objects.filter(order=split_order, line_number=2).update(quantity_shipped=2, quantity_allocated=2)
    with pytest.raises(OrderChangeConflict) as exc:
        order_units_cancel(order=split_order, lines={2: 1}, reason="x", actor=ops_user)
    assert "Line 2 (SKU-B): 1 units asked, only 0 can be cancelled (2 of 2 shipped" in str(exc.value)
    assert "shipped units cannot be cancelled" in str(exc.value)


def test_bad_input_names_the_field_and_writes_nothing(split_order, ops_user):
    with pytest.raises(ValidationError) as exc:
        order_units_cancel(order=split_order, lines={9: 1, 1: 0}, reason="x", actor=ops_user)
    assert exc.value.message_dict["lines"] == [
        "Line 9 does not exist on this order.",
        "Line 1: cancel at least 1 unit, not 0.",
    ]
    with pytest.raises(ValidationError) as exc:
        order_units_cancel(order=split_order, lines={1: 1}, reason="  ", actor=ops_user)
    assert "reason" in exc.value.message_dict
    assert not split_order.events.filter(type="cancelled").exists()


def test_a_stale_version_is_refused(split_order, ops_user):
    stale = split_order.version
    order_units_cancel(order=split_order, lines={1: 1}, reason="one", actor=ops_user, expected_version=stale)
    with pytest.raises(OrderVersionStale):
        order_units_cancel(order=split_order, lines={1: 1}, reason="two", actor=ops_user, expected_version=stale)
    assert line(Order.objects.get(pk=split_order.pk), 1).quantity_cancelled == 1


# --- Address, method, lines ---------------------------------------------------------------------------------

LA = {"line1": "1 Main St", "city": "Los Angeles", "postal_code": "90001", "region": "CA", "country": "US"}
NEARBY = {"line1": "5 W 31st St", "city": "New York", "postal_code": "10001", "region": "NY", "country": "US"}


@pytest.fixture
def east_order(web, dc, dc_west, product):
    stock(product, dc, 5)
    stock(product, dc_west, 5)
    order = make_order(channel=web, lines=[(product, 2)])
    order_route(order_id=order.pk, now=MONDAY_9AM)
    order.refresh_from_db()
    assert order.fulfillment_orders.get().location == dc
    return order


def test_an_address_across_the_country_re_routes_unreleased_work_and_says_why(
    east_order, ops_user, dc, dc_west, product
):
    order_address_change(order=east_order, address=LA, reason="customer moved", actor=ops_user)
    order = Order.objects.get(pk=east_order.pk)
    assert order.shipping_address == LA and order.status == "routed"
    fos = {fo.location.code: fo.status for fo in order.fulfillment_orders.all()}
    assert fos == {"DC-EAST": "cancelled", "DC-WEST": "created"}
    assert reserved(product, dc) == 0 and reserved(product, dc_west) == 2
    event = order.events.get(type="changed")
    assert event.data["change"] == "address" and event.data["plan"][0]["reroute"] is True
    assert "re-routed: shipping from DC-EAST would cost" in event.message and "customer moved" in event.message
    assert Event.objects.filter(order=order, type="order.changed").exists()
    assert stock_ledger_mismatches() == []


def test_a_nearby_address_keeps_the_plan(east_order, ops_user, dc, product):
    order_address_change(order=east_order, address=NEARBY, reason="typo in the street", actor=ops_user)
    order = Order.objects.get(pk=east_order.pk)
    assert order.fulfillment_orders.get().status == "created" and reserved(product, dc) == 2
    assert "kept: DC-EAST still fits" in order.events.get(type="changed").message


def test_an_undeliverable_address_is_refused_by_field(east_order, ops_user):
    with pytest.raises(ValidationError) as exc:
        order_address_change(order=east_order, address={**LA, "postal_code": "00000"}, reason="", actor=ops_user)
    assert exc.value.message_dict["shipping_address"] == ["ZIP code '00000' does not exist."]
    with pytest.raises(ValidationError) as exc:
        order_address_change(order=east_order, address={**LA, "line1": "a\x00b"}, reason="", actor=ops_user)
    assert "shipping_address.line1" in exc.value.message_dict


def test_an_address_change_with_released_work_asks_the_location(east_order, ops_user):
    fo = east_order.fulfillment_orders.get()
    fulfillment_order_release_now(fo_id=fo.pk)
    result = order_address_change(order=east_order, address=LA, reason="x", actor=ops_user)
    (req,) = result.requests
    assert req.fulfillment_order_id == fo.pk and req.kind == "reroute"
    assert Order.objects.get(pk=east_order.pk).shipping_address == LA


def test_a_method_change_with_released_work_asks_the_location_and_reroutes_on_confirmation(
    east_order, ops_user, store, dc, product
):
    from fulfillment.services import fulfillment_event_apply

    stock(product, store, 3)
    fo = east_order.fulfillment_orders.get()
    fulfillment_order_release_now(fo_id=fo.pk)
    result = order_method_change(
        order=east_order, method="pickup", pickup_location=store, reason="will collect", actor=ops_user
    )
    (req,) = result.requests
    assert req.fulfillment_order_id == fo.pk and req.kind == "reroute" and req.status == "requested"
    order = Order.objects.get(pk=east_order.pk)
    assert order.fulfillment_method == "pickup" and order.pickup_location == store
    asked = order.events.get(type="cancellation_requested").message
    assert "asked DC-EAST to cancel" in asked and "routed again for the new fulfilment method" in asked
    assert reserved(product, dc) > 0  # DC-EAST keeps its units until it answers

    fulfillment_event_apply(fo_id=fo.pk, event_id="c-1", type="cancel_confirmed", payload={})
    req.refresh_from_db()
    assert req.status == "confirmed" and reserved(product, dc) == 0
    live = order.fulfillment_orders.exclude(status="cancelled").get()
    assert live.location == store and live.method == "pickup"
    assert not order.lines.filter(quantity_cancelled__gt=0).exists()  # moved, not cancelled
    assert "routed again after the fulfilment method changed" in order.events.filter(type="changed").last().message
    assert stock_ledger_mismatches() == []


def test_ship_to_pickup_moves_the_work_to_the_store(east_order, ops_user, store, dc, product):
    stock(product, store, 3)
    order_method_change(order=east_order, method="pickup", pickup_location=store, reason="will collect", actor=ops_user)
    order = Order.objects.get(pk=east_order.pk)
    assert order.fulfillment_method == "pickup" and order.pickup_location == store
    assert reserved(product, dc) == 0
    live = order.fulfillment_orders.exclude(status="cancelled").get()
    assert live.location == store and live.method == "pickup"
    assert stock_ledger_mismatches() == []


def test_pickup_needs_a_store_that_offers_it(east_order, ops_user, dc):
    with pytest.raises(ValidationError) as exc:
        order_method_change(order=east_order, method="pickup", pickup_location=None, reason="", actor=ops_user)
    assert "pickup_location" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        order_method_change(order=east_order, method="pickup", pickup_location=dc, reason="", actor=ops_user)
    assert exc.value.message_dict["pickup_location"] == ["DC-EAST does not offer pickup."]


def test_lines_added_grown_shrunk_and_removed(east_order, ops_user, dc, product, product_b):
    stock(product_b, dc, 4)
    priced(east_order, ["10.00"], shipping="5.00")
    order_line_add(order=east_order, sku="SKU-B", quantity=2, unit_price=Decimal("3.00"), reason="", actor=ops_user)
    order = Order.objects.get(pk=east_order.pk)
    assert line(order, 2).quantity_allocated == 2 and reserved(product_b, dc) == 2
    assert order.total == Decimal("31.00")
    order_line_quantity_set(order=order, line_number=1, quantity=4, reason="more", actor=ops_user)
    assert reserved(product, dc) == 4 and line(order, 1).quantity == 4
    order_line_quantity_set(order=order, line_number=1, quantity=1, reason="less", actor=ops_user)
    assert reserved(product, dc) == 1 and line(order, 1).quantity_cancelled == 3
    order_line_remove(order=order, line_number=2, reason="", actor=ops_user)
    assert reserved(product_b, dc) == 0 and line(order, 2).quantity_open == 0
    order.refresh_from_db()
    assert order.total == Decimal("15.00") and order.status == "routed"
    with pytest.raises(OrderChangeConflict):
        order_line_remove(order=order, line_number=2, reason="", actor=ops_user)
    with pytest.raises(ValidationError) as exc:
        order_line_add(order=order, sku="NOPE", quantity=1, unit_price=Decimal(1), reason="", actor=ops_user)
    assert "sku" in exc.value.message_dict
    assert stock_ledger_mismatches() == []
