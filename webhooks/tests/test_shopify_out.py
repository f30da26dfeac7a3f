"""Shopify channels are told: a shipment becomes `fulfillmentCreate` on the order's fulfillment orders, a
cancellation `orderCancel` (nothing shipped) or `fulfillmentOrderCancel` (after a partial shipment), sent
through the outbox to a real local HTTP server that checks the documented shape and the token header."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from fulfillment.services import fulfillment_order_ship
from inventory.tests.helpers import put_stock
from orders.models import Order
from orders.services import order_cancel
from orders.tests.conftest import shopify_order
from routing.services import order_route
from webhooks.models import Delivery, Subscription
from webhooks.services import deliveries_deliver_due, subscription_create
from webhooks.shopify_out import shopify_cancel_reason
from webhooks.tests.shopify_shop import LINE_ITEMS, shopify_webhook

pytestmark = pytest.mark.django_db


def placed(shop, *, fo_ids=(1001,)) -> Order:
    """The real Shopify fixture order, placed through the webhook door; the shop knows it too."""
    resp = shopify_webhook(Client(), shopify_order())
    assert resp.status_code == 200, resp.content
    shop.add_order(order_id=450789469, line_items=LINE_ITEMS, fo_ids=fo_ids)
    return Order.objects.get(pk=resp.json()["id"])


def test_intake_keeps_the_shopify_line_item_ids(shopify_channel, ipods, shop):
    order = placed(shop)
    assert list(order.lines.values_list("external_id", "sku")) == [(str(i), s) for i, s, _ in LINE_ITEMS]


def test_a_shipment_is_reported_as_fulfillment_create_with_tracking(shopify_channel, ipods, shop, shopify_sub):
    order = placed(shop, fo_ids=(1001, 1002))
    order_route(order_id=order.pk)
    fo = order.fulfillment_orders.get()
    fulfillment_order_ship(fo_id=fo.pk, service="ups_ground", tracking_number="1Z999AA10123456784")
    assert deliveries_deliver_due() == 1
    assert shop.rejected == []
    assert [r["operation"] for r in shop.requests] == ["order", "fulfillmentCreate"]
    assert {r["token"] for r in shop.requests} == {shop.token}
    assert shop.requests[0]["variables"] == {"id": "gid://shopify/Order/450789469"}
    fulfillment = shop.mutations[0][1]["fulfillment"]
    assert fulfillment["lineItemsByFulfillmentOrder"] == [
        {
            "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1001",
            "fulfillmentOrderLineItems": [
                {"id": "gid://shopify/FulfillmentOrderLineItem/9466157049", "quantity": 1},
                {"id": "gid://shopify/FulfillmentOrderLineItem/9703073504", "quantity": 1},
            ],
        },
        {
            "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1002",
            "fulfillmentOrderLineItems": [{"id": "gid://shopify/FulfillmentOrderLineItem/9518995019", "quantity": 1}],
        },
    ]
    tracking = fulfillment["trackingInfo"]
    assert tracking["number"] == "1Z999AA10123456784" and tracking["company"] and tracking["url"].startswith("http")
    assert fulfillment["notifyCustomer"] is False
    d = Delivery.objects.get()
    assert d.status == "delivered" and "fulfillmentCreate" in d.last_response
    # Delivered once: another sweep sends nothing.
    assert deliveries_deliver_due() == 0 and len(shop.requests) == 2


def test_a_lost_answer_is_retried_without_a_second_fulfilment(shopify_channel, ipods, shop, shopify_sub, settings):
    settings.DOM = {**settings.DOM, "OUTBOX_BACKOFF_SECONDS": 1, "OUTBOX_TIMEOUT_SECONDS": 2}
    order = placed(shop)
    order_route(order_id=order.pk)
    fulfillment_order_ship(fo_id=order.fulfillment_orders.get().pk, service="ups_ground", tracking_number="1ZLOST")
    shop.fail_next_after_apply = 1  # Shopify made the fulfilment, the answer was lost (502)
    t = timezone.now()
    deliveries_deliver_due(now=t)
    d = Delivery.objects.get()
    assert (d.status, d.attempts, d.last_status_code) == ("pending", 1, 502)
    deliveries_deliver_due(now=t + timedelta(seconds=1))
    d.refresh_from_db()
    assert d.status == "delivered" and "already has a fulfilment" in d.last_response
    assert [op for op, _ in shop.mutations] == ["fulfillmentCreate"]


def test_a_shop_that_is_down_for_a_while_gets_the_fulfilment_once_when_it_returns(
    shopify_channel, ipods, shop, shopify_sub, settings
):
    settings.DOM = {**settings.DOM, "OUTBOX_BACKOFF_SECONDS": 1, "OUTBOX_TIMEOUT_SECONDS": 1, "OUTBOX_MAX_ATTEMPTS": 8}
    order = placed(shop)
    order_route(order_id=order.pk)
    fulfillment_order_ship(fo_id=order.fulfillment_orders.get().pk, service="ups_ground", tracking_number="1ZDOWN")
    t = timezone.now()
    shop.stop()  # connection refused
    deliveries_deliver_due(now=t)
    shop.start()
    shop.mode = "500"
    deliveries_deliver_due(now=t + timedelta(seconds=1))
    shop.mode = "slow"  # the sender times out
    deliveries_deliver_due(now=t + timedelta(seconds=3))
    d = Delivery.objects.get()
    assert (d.status, d.attempts) == ("pending", 3) and "timed out" in d.last_error.lower()
    shop.mode = "ok"
    assert deliveries_deliver_due(now=t + timedelta(seconds=7)) == 1
    assert deliveries_deliver_due(now=t + timedelta(seconds=60)) == 0
    assert [op for op, _ in shop.mutations] == ["fulfillmentCreate"] and shop.rejected == []
    assert Delivery.objects.get().status == "delivered"


def test_a_wrong_token_fails_and_is_retried_then_dead(shopify_channel, ipods, shop, shopify_sub, settings):
    settings.DOM = {**settings.DOM, "OUTBOX_MAX_ATTEMPTS": 2, "OUTBOX_BACKOFF_SECONDS": 1}
    Subscription.objects.filter(pk=shopify_sub.pk).update(access_token="shpat_wrong")
    order = placed(shop)
    order_route(order_id=order.pk)
    fulfillment_order_ship(fo_id=order.fulfillment_orders.get().pk, service="ups_ground", tracking_number="1Z1")
    t = timezone.now()
    deliveries_deliver_due(now=t)
    deliveries_deliver_due(now=t + timedelta(seconds=1))
    d = Delivery.objects.get()
    assert (d.status, d.attempts, d.last_status_code) == ("dead", 2, 401)
    assert shop.mutations == []


def test_an_unshipped_cancelled_order_is_order_cancel(shopify_channel, ipods, shop, shopify_sub, ops_user):
    order = placed(shop)
    order_cancel(order=order, actor=ops_user, reason="Customer changed their mind")
    assert deliveries_deliver_due() == 1
    assert shop.rejected == []
    op, variables = shop.mutations[0]
    assert op == "orderCancel"
    assert variables["orderId"] == "gid://shopify/Order/450789469" and variables["reason"] == "CUSTOMER"
    assert variables["restock"] is False and variables["staffNote"] == "Customer changed their mind"
    assert shop.orders["gid://shopify/Order/450789469"]["cancelledAt"]


def test_a_cancel_after_a_partial_shipment_cancels_the_open_fulfillment_orders(
    shopify_channel, ipods, shop, shopify_sub, ops_user, dc, dc_west
):
    put_stock(ipods[2], dc, -10)  # the black one is only in the west: the order splits
    put_stock(ipods[2], dc_west, 5)
    order = placed(shop, fo_ids=(1001, 1002))  # Shopify: green + black on 1001, red on 1002
    order_route(order_id=order.pk)
    assert order.fulfillment_orders.count() == 2
    east = order.fulfillment_orders.get(location=dc)
    fulfillment_order_ship(fo_id=east.pk, service="ups_ground", tracking_number="1ZPART")
    order_cancel(order=order, actor=ops_user, reason="The black one is out of stock")
    assert deliveries_deliver_due() == 2
    assert shop.rejected == []
    assert [op for op, _ in shop.mutations] == ["fulfillmentCreate", "fulfillmentOrderCancel"]
    assert shop.mutations[1][1] == {"id": "gid://shopify/FulfillmentOrder/1001"}  # black still open there
    fos = shop.orders["gid://shopify/Order/450789469"]["fulfillmentOrders"]
    assert (fos[1001]["status"], fos[1002]["status"]) == ("CANCELLED", "OPEN")
    assert fos[1002]["items"][0]["remainingQuantity"] == 0  # red shipped


def test_cancel_reasons_map_to_shopify_codes():
    assert shopify_cancel_reason(reason="Suspected fraud") == "FRAUD"
    assert shopify_cancel_reason(reason="payment declined") == "DECLINED"
    assert shopify_cancel_reason(reason="Out of stock everywhere") == "INVENTORY"
    assert shopify_cancel_reason(reason="customer asked") == "CUSTOMER"
    assert shopify_cancel_reason(reason="whatever") == "OTHER"


def test_a_shopify_subscription_needs_its_channel_token_graphql_url_and_shopify_events(shop, shopify_channel):
    with pytest.raises(ValidationError) as exc:
        subscription_create(name="x", kind="shopify", url="https://h.example.com/hook", event_types=["order.routed"])
    assert set(exc.value.message_dict) == {"event_types", "channel", "url", "access_token"}
