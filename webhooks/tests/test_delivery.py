"""Outbound events end to end with a real HTTP receiver: signed, once, in order; retried while the receiver
is down; dead-lettered after the budget; nothing for a change that rolled back."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from fulfillment.services import fulfillment_order_ship
from orders.models import Order
from orders.services import order_cancel, order_hold_place, order_ingest, order_status_set
from orders.tests.services.test_order_checks import make_in
from routing.services import order_route
from webhooks.models import Delivery, Event, EventType
from webhooks.services import deliveries_deliver_due, delivery_deliver, delivery_resend, subscription_create

pytestmark = pytest.mark.django_db

PLACED_ROUTED_SHIPPED = ["order.accepted", "order.routed", "fulfillment.shipped"]


def place_route_ship(channel, ext="W-1") -> Order:
    order = order_ingest(channel=channel, order_in=make_in(ext=ext)).order
    order_route(order_id=order.pk)
    fo = order.fulfillment_orders.get()
    fulfillment_order_ship(fo_id=fo.pk, service="ups_ground", tracking_number="1Z999")
    return order


def test_placed_routed_shipped_arrive_once_in_order_signed(web, stocked, receiver, subscribed, fast_retries):
    sub, secret = subscribed
    order = place_route_ship(web)
    assert deliveries_deliver_due() == 3
    events = receiver.events(secret=secret)  # every signature verified by the standardwebhooks package
    assert [e["type"] for e in events] == PLACED_ROUTED_SHIPPED
    assert all(e["version"] == 1 and e["data"]["order"]["number"] == order.number for e in events)
    shipped = events[2]["data"]
    assert shipped["carrier"] and shipped["service"] == "ups_ground" and shipped["tracking_number"] == "1Z999"
    assert shipped["tracking_url"] and shipped["units"] == 1 and shipped["lines"][0]["sku"] == "SKU-A"
    ids = [h["webhook-id"] for h, _ in receiver.accepted]
    assert ids == list(Event.objects.filter(order=order).order_by("id").values_list("uid", flat=True))
    # Nothing is sent twice: another sweep and a direct retry of a delivered row send nothing.
    assert deliveries_deliver_due() == 0
    delivery_deliver(delivery_id=Delivery.objects.first().pk)
    assert receiver.requests == 3


def test_a_receiver_down_gets_every_event_once_in_order_when_it_returns(
    web, stocked, receiver, subscribed, fast_retries
):
    sub, secret = subscribed
    receiver.stop()
    place_route_ship(web)
    t = timezone.now()
    # Connection refused: the first event fails, the later ones of the order wait behind it.
    deliveries_deliver_due(now=t)
    first, *rest = Delivery.objects.order_by("event_id")
    first.refresh_from_db()
    assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, None)
    assert "refused" in first.last_error.lower() or "errno" in first.last_error.lower()
    assert first.next_attempt_at == t + timedelta(seconds=1)
    assert all(d.attempts == 0 for d in rest)
    deliveries_deliver_due(now=t)  # before the backoff: nothing is tried
    first.refresh_from_db()
    assert first.attempts == 1

    # Back, but answering 500.
    receiver.start()
    receiver.mode = "500"
    deliveries_deliver_due(now=t + timedelta(seconds=1))
    first.refresh_from_db()
    assert (first.attempts, first.last_status_code, first.last_response) == (2, 500, "receiver is broken today")
    assert first.next_attempt_at == t + timedelta(seconds=3)

    # Then too slow: the sender times out.
    receiver.mode = "slow"
    deliveries_deliver_due(now=t + timedelta(seconds=3))
    first.refresh_from_db()
    assert first.attempts == 3 and first.status == "pending" and "timed out" in first.last_error.lower()

    # Healthy again: every event arrives once, in order, signed.
    receiver.mode = "ok"
    assert deliveries_deliver_due(now=t + timedelta(seconds=7)) == 3
    assert [e["type"] for e in receiver.events(secret=secret)] == PLACED_ROUTED_SHIPPED
    assert deliveries_deliver_due(now=t + timedelta(seconds=60)) == 0
    assert len(receiver.accepted) == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_after_the_retry_budget_a_delivery_is_dead_and_can_be_sent_again(
    web, stocked, receiver, subscribed, fast_retries, settings
):
    settings.DOM = {**settings.DOM, "OUTBOX_MAX_ATTEMPTS": 2}
    sub, secret = subscribed
    receiver.mode = "500"
    order_ingest(channel=web, order_in=make_in())
    t = timezone.now()
    deliveries_deliver_due(now=t)
    deliveries_deliver_due(now=t + timedelta(seconds=1))
    d = Delivery.objects.get()
    assert (d.status, d.attempts, d.next_attempt_at) == ("dead", 2, None)
    assert deliveries_deliver_due(now=t + timedelta(hours=1)) == 0
    assert receiver.requests == 2
    receiver.mode = "ok"
    delivery_resend(delivery=d)
    assert deliveries_deliver_due(now=t + timedelta(seconds=2)) == 1
    assert [e["type"] for e in receiver.events(secret=secret)] == ["order.accepted"]
    with pytest.raises(ValidationError):
        Delivery.objects.filter(pk=d.pk).update(status="pending")
        d.refresh_from_db()
        delivery_resend(delivery=d)


def test_a_dead_delivery_does_not_block_the_orders_later_events(web, stocked, receiver, subscribed, settings):
    settings.DOM = {**settings.DOM, "OUTBOX_MAX_ATTEMPTS": 1, "OUTBOX_TIMEOUT_SECONDS": 1}
    receiver.mode = "500"
    order = order_ingest(channel=web, order_in=make_in()).order
    deliveries_deliver_due()
    receiver.mode = "ok"
    order_route(order_id=order.pk)
    assert deliveries_deliver_due() == 1
    assert receiver.types() == ["order.routed"]


def test_exactly_one_delivery_per_event_and_subscription(web, stocked, subscribed):
    order_ingest(channel=web, order_in=make_in())
    d = Delivery.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(event=d.event, subscription=d.subscription, created_at=timezone.now())


def test_no_event_for_a_change_that_rolled_back(web, stocked, subscribed):
    order = order_ingest(channel=web, order_in=make_in()).order
    before = (Event.objects.count(), Delivery.objects.count())
    with pytest.raises(RuntimeError), transaction.atomic():
        order_hold_place(order=order, kind="manual", reason="check the address")
        assert Event.objects.filter(type=EventType.ORDER_ON_HOLD).exists()
        raise RuntimeError("the rest of the change failed")
    assert (Event.objects.count(), Delivery.objects.count()) == before
    order.refresh_from_db()
    assert order.status == "validated"


def test_every_status_change_writes_its_event(web, stocked, ops_user):
    """No change without its event: hold, cancel (with lines, units and reason), delivered."""
    order = order_ingest(channel=web, order_in=make_in()).order
    order_hold_place(order=order, kind="manual", reason="check")
    order_cancel(order=order, actor=ops_user, reason="customer asked")
    types = list(Event.objects.filter(order=order).values_list("type", flat=True))
    assert types == ["order.accepted", "order.on_hold", "order.cancelled"]
    data = Event.objects.get(type="order.cancelled").data
    assert data["reason"] == "customer asked" and data["units"] == 1
    assert data["lines"] == [{"line_number": 1, "sku": "SKU-A", "quantity": 1}]

    shipped = place_route_ship(web, ext="W-2")
    fo = shipped.fulfillment_orders.get()
    from fulfillment.services import fulfillment_order_deliver

    fulfillment_order_deliver(fo_id=fo.pk)
    assert Event.objects.filter(order=shipped).last().type == "order.delivered"
    with pytest.raises(ValidationError):
        order_status_set(order=shipped, status="validated")
    assert Event.objects.filter(order=shipped).last().type == "order.delivered"


def test_subscriptions_get_only_their_channel_and_types(web, marketplace, stocked, receiver):
    subscription_create(name="routed only", url=receiver.url, event_types=["order.routed"], channel=web)
    subscription_create(name="other channel", url=receiver.url, event_types=EventType.values, channel=marketplace)
    glob, _ = subscription_create(name="global", url=receiver.url, event_types=["order.accepted"])
    place_route_ship(web)
    got = sorted(Delivery.objects.values_list("subscription__name", "event__type"))
    assert got == [("global", "order.accepted"), ("routed only", "order.routed")]


def test_a_paused_subscription_keeps_its_deliveries_until_resumed(web, stocked, receiver, subscribed):
    from webhooks.services import subscription_active_set

    sub, secret = subscribed
    subscription_active_set(subscription=sub, is_active=False)
    order_ingest(channel=web, order_in=make_in())
    assert deliveries_deliver_due() == 0 and receiver.requests == 0
    subscription_active_set(subscription=sub, is_active=True)
    assert deliveries_deliver_due() == 1
