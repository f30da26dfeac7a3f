"""End to end with real local HTTP servers: an order placed through the Shopify webhook door is routed to a
store, picked short there, re-routed for the missing unit, and shipped from both places. The channel's
receiver gets every event once, in order, each with a valid Standard Webhooks signature (checked with the
`standardwebhooks` package); the shop's Admin API gets one `fulfillmentCreate` per shipment.

Tasks run inline (settings_test: django-q2 `sync`) when each step's transaction commits, as the cluster
would run them: routing after intake and after the short pick, deliveries after every event."""

import json

import pytest
from django.core import mail
from django.test import Client
from standardwebhooks.webhooks import Webhook

from fulfillment.services import fulfillment_line_short, fulfillment_order_pick_confirm, fulfillment_order_ship
from inventory.tests.helpers import put_stock
from orders.models import Order
from orders.tests.conftest import shopify_order
from routing.models import RoutingDecision
from webhooks.models import Delivery, Event, EventType
from webhooks.services import deliveries_deliver_due, subscription_create
from webhooks.tests.shopify_shop import LINE_ITEMS, shopify_webhook

pytestmark = pytest.mark.django_db
FOLI = "gid://shopify/FulfillmentOrderLineItem/"


def check_customer_notifications(*, order: Order, outbox: list) -> None:
    """What the customer was sent for this order: one shipped e-mail per shipment, with its tracking number,
    to the customer, even when the send job runs again; nothing went out twice."""
    from notifications.services import messages_send_due

    messages_send_due()
    messages_send_due()  # a second run sends nothing more
    sent = [(m.subject, tuple(m.to), m.body) for m in outbox]
    assert len(sent) == len(set(sent)), "a customer message was sent twice"
    shipped = [m for m in outbox if m.subject == f"Your order {order.number} has shipped"]
    assert [m.to for m in shipped] == [[order.customer.email]] * 2
    assert sorted(next(t for t in ("1ZSTORE0001", "1ZWEST00002") if t in m.body) for m in shipped) == [
        "1ZSTORE0001",
        "1ZWEST00002",
    ]


def test_shopify_order_short_picked_at_a_store_rerouted_and_shipped_tells_everyone_once_in_order(
    shopify_channel,
    ipods,
    shop,
    shopify_sub,
    receiver,
    ops_user,
    dc,
    dc_west,
    store,
    django_capture_on_commit_callbacks,
):
    green, red, black = ipods
    for p in ipods:  # the ipods fixture stocked the DC: only the store holds the whole order, the west DC green
        put_stock(p, dc, -10)
        put_stock(p, store, 1)
    put_stock(green, dc_west, 5)
    hook, secret = subscription_create(
        name="Storefront", url=receiver.url, event_types=EventType.values, channel=shopify_channel
    )
    shop.add_order(order_id=450789469, line_items=LINE_ITEMS)

    # 1. Placed through the Shopify webhook door; routing runs when intake commits.
    with django_capture_on_commit_callbacks(execute=True):
        r = shopify_webhook(Client(), shopify_order())
    assert r.status_code == 200, r.content
    order = Order.objects.get(pk=r.json()["id"])
    fo_store = order.fulfillment_orders.get()
    assert fo_store.location == store and order.status == "routed"

    # 2. Picked short at the store: red and black found, green not; the missing unit is re-routed.
    lines = {ln.order_line.sku: ln for ln in fo_store.lines.select_related("order_line")}
    with django_capture_on_commit_callbacks(execute=True):
        fulfillment_order_pick_confirm(
            fo_id=fo_store.pk,
            quantities={lines["IPOD2008RED"].pk: 1, lines["IPOD2008BLACK"].pk: 1, lines["IPOD2008GREEN"].pk: 0},
        )
    with django_capture_on_commit_callbacks(execute=True):
        fulfillment_line_short(line_id=lines["IPOD2008GREEN"].pk, quantity=1, reason_code="mismatch", actor=ops_user)
    assert RoutingDecision.objects.filter(order=order).order_by("pk").last().kind == "reroute"
    fo_west = order.fulfillment_orders.get(location=dc_west)

    # 3. Shipped from both.
    with django_capture_on_commit_callbacks(execute=True):
        fulfillment_order_ship(fo_id=fo_store.pk, service="ups_ground", tracking_number="1ZSTORE0001")
    with django_capture_on_commit_callbacks(execute=True):
        fulfillment_order_ship(fo_id=fo_west.pk, service="ups_ground", tracking_number="1ZWEST00002")
    deliveries_deliver_due()  # anything a task left (none expected) goes now; nothing goes twice
    assert deliveries_deliver_due() == 0

    # The receiver: each event of the order once, in the order they happened, every signature valid.
    events = list(Event.objects.filter(deliveries__subscription=hook).order_by("id"))  # with stock.low
    assert {e.order_id for e in events} <= {order.pk, None}
    verified = [Webhook(secret).verify(body, headers) for headers, body in receiver.accepted]
    # Each event once; in event order per order, not globally: the delivery lanes guarantee per-order ordering
    # (what a channel needs), while an order-less event (stock.low) may go before an earlier event of an order.
    arrived = [h["webhook-id"] for h, _ in receiver.accepted]
    assert sorted(arrived) == sorted(e.uid for e in events) and len(set(arrived)) == len(arrived)
    of_order = [e.uid for e in events if e.order_id == order.pk]
    assert [uid for uid in arrived if uid in set(of_order)] == of_order
    by_uid = {e.uid: e.type for e in events}
    assert [v["type"] for v in verified] == [by_uid[uid] for uid in arrived]
    types = [e.type for e in events if e.order_id == order.pk]
    story = ["order.accepted", "order.routed", "order.changed", "fulfillment.shipped", "fulfillment.shipped"]
    it = iter(types)
    assert all(t in it for t in story), types  # the story, in this order (other events may sit between)
    shipped = [v["data"] for v in verified if v["type"] == "fulfillment.shipped"]
    assert [s["tracking_number"] for s in shipped] == ["1ZSTORE0001", "1ZWEST00002"]
    assert all(v["data"]["order"]["external_id"] == "450789469" for v in verified if v["type"] != "stock.low")
    assert set(Delivery.objects.filter(subscription=hook).values_list("status", flat=True)) == {"delivered"}

    # The shop: one fulfilment per shipment, on the right fulfillment-order line items, with tracking.
    assert shop.rejected == []
    creates = [v["fulfillment"] for op, v in shop.mutations]
    assert [op for op, _ in shop.mutations] == ["fulfillmentCreate", "fulfillmentCreate"]
    assert [c["trackingInfo"]["number"] for c in creates] == ["1ZSTORE0001", "1ZWEST00002"]
    items = [
        sorted(
            (i["id"], i["quantity"]) for g in c["lineItemsByFulfillmentOrder"] for i in g["fulfillmentOrderLineItems"]
        )
        for c in creates
    ]
    assert items == [
        [(f"{FOLI}9518995019", 1), (f"{FOLI}9703073504", 1)],
        [(f"{FOLI}9466157049", 1)],
    ]
    fo_1001 = shop.orders["gid://shopify/Order/450789469"]["fulfillmentOrders"][1001]
    remaining = [li["remainingQuantity"] for li in fo_1001["items"]]
    assert remaining == [0, 0, 0]
    assert json.loads(json.dumps(shop.requests))  # every request was JSON with the token (checked by the shop)

    check_customer_notifications(order=order, outbox=mail.outbox)
