"""The delivery loop (webhooks.delivery): SKIP LOCKED chain claims shared by concurrent workers without a
double send or an order's events out of order, leases that expire, and the slow-lane stop."""

import threading
from collections import defaultdict
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from orders.services import order_ingest
from orders.tests.services.test_order_checks import make_in
from webhooks import delivery
from webhooks.models import Delivery, Event, EventType
from webhooks.services import (
    TimelineRow,
    deliveries_deliver_due,
    subscription_active_set,
    subscription_create,
    webhook_events_emit,
)
from webhooks.tests.receiver import Receiver

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED claims are PostgreSQL's")


def _orders_with_events(*, web, sub, orders: int, per_order: int) -> list[int]:
    """`orders` orders of the web channel with `per_order` more events each, interleaved across orders,
    written while `sub` is paused (the inline task queue of the tests must not send them first)."""
    subscription_active_set(subscription=sub, is_active=False)
    ids = [order_ingest(channel=web, order_in=make_in(ext=f"L-{n}")).order.pk for n in range(orders)]
    with transaction.atomic():
        rows = [
            TimelineRow(order_id=o, type="status_changed", data={"to": "on_hold"})
            for _ in range(per_order)
            for o in ids
        ]
        webhook_events_emit(rows=rows)
    subscription_active_set(subscription=sub, is_active=True)
    return ids


def _arrived_in_order(receiver: Receiver) -> dict[int, list[int]]:
    """The event ids each order's deliveries arrived in (webhook-id → event)."""
    by_uid = dict(Event.objects.values_list("uid", "pk"))
    arrived = defaultdict(list)
    orders = dict(Event.objects.values_list("pk", "order_id"))
    for headers, _ in receiver.accepted:
        pk = by_uid[headers["webhook-id"]]
        arrived[orders[pk]].append(pk)
    return arrived


@on_postgres
@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_workers_share_the_burst_each_event_once_and_each_order_in_order(web, stocked, receiver, settings):
    settings.DOM = {**settings.DOM, "OUTBOX_CLAIM_BATCH": 7}  # many small claims: the workers interleave
    sub, _ = subscription_create(name="Storefront", url=receiver.url, event_types=EventType.values, channel=web)
    _orders_with_events(web=web, sub=sub, orders=6, per_order=5)
    total = Delivery.objects.count()
    barrier, sent = threading.Barrier(2), []

    def worker():
        try:
            barrier.wait()
            sent.append(deliveries_deliver_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert total >= 36 and sum(sent) == total and receiver.requests == total  # no double send
    assert all(n > 0 for n in sent), sent  # both workers took a share
    uids = [h["webhook-id"] for h, _ in receiver.accepted]
    assert len(set(uids)) == total
    for order_id, events in _arrived_in_order(receiver).items():
        assert events == sorted(events), f"order {order_id} out of order: {events}"
    assert set(Delivery.objects.values_list("status", "attempts")) == {("delivered", 1)}


@on_postgres
@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_a_claim_skips_a_locked_row_and_never_takes_the_rest_of_its_order(web, stocked, receiver):
    """Another worker holds the head of order A (row locked, mid-claim): a claim takes the other orders'
    chains at once, without waiting, and none of order A's later events."""
    sub, _ = subscription_create(name="Storefront", url=receiver.url, event_types=EventType.values, channel=web)
    a, b = _orders_with_events(web=web, sub=sub, orders=2, per_order=2)
    head_a = Delivery.objects.filter(order_id=a).order_by("event_id").first()
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                Delivery.objects.select_for_update().filter(pk=head_a.pk).first()
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    t = threading.Thread(target=other_worker)
    t.start()
    try:
        assert locked.wait(10)
        claimed = delivery.lane_claim(subscription_id=sub.pk, now=timezone.now(), batch=100)
    finally:
        release.set()
        t.join()
    got = Delivery.objects.filter(pk__in=claimed)
    assert set(got.values_list("order_id", flat=True)) == {b}
    assert got.count() == Delivery.objects.filter(order_id=b).count() >= 3
    assert list(got.order_by("event_id").values_list("pk", flat=True)) == claimed
    assert set(Delivery.objects.filter(order_id=a).values_list("status", flat=True)) == {"pending"}


@pytest.mark.django_db
def test_a_crashed_workers_claim_is_taken_again_when_its_lease_ends(web, stocked, receiver, settings):
    settings.DOM = {**settings.DOM, "OUTBOX_TIMEOUT_SECONDS": 2}
    sub, _ = subscription_create(name="Storefront", url=receiver.url, event_types=EventType.values, channel=web)
    _orders_with_events(web=web, sub=sub, orders=1, per_order=1)
    t = timezone.now()
    # A worker claimed both and died before sending: `sending` under a lease of 3 × the timeout.
    Delivery.objects.update(status="sending", claimed_until=t + timedelta(seconds=6))
    assert deliveries_deliver_due(now=t + timedelta(seconds=5)) == 0 and receiver.requests == 0
    assert deliveries_deliver_due(now=t + timedelta(seconds=7)) == 2
    assert [h["webhook-id"] for h, _ in receiver.accepted] == list(
        Event.objects.order_by("id").values_list("uid", flat=True)
    )
    # The lost attempt counts when the row is claimed again, the delivery when it is recorded.
    assert set(Delivery.objects.values_list("status", "attempts", "claimed_until")) == {("delivered", 2, None)}


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_a_slow_lane_stops_and_lets_the_other_subscribers_go_first(web, stocked, settings):
    settings.DOM = {**settings.DOM, "OUTBOX_SLOW_SECONDS": 0.5, "OUTBOX_TIMEOUT_SECONDS": 2}
    slow, fast = Receiver().start(), Receiver().start()
    try:
        slow.mode, slow.slow_seconds = "slow", 0.3
        s_sub, _ = subscription_create(name="Slow", url=slow.url, event_types=EventType.values, channel=web)
        f_sub, _ = subscription_create(name="Fast", url=fast.url, event_types=EventType.values, channel=web)
        subscription_active_set(subscription=f_sub, is_active=False)
        _orders_with_events(web=web, sub=s_sub, orders=4, per_order=1)
        subscription_active_set(subscription=f_sub, is_active=True)
        # One turn of the slow lane: it stops after half a second, its unsent rows pending and untouched.
        n = Delivery.objects.filter(subscription=s_sub).count()
        assert n == Delivery.objects.filter(subscription=f_sub).count() >= 8
        claimed, sent = delivery.lane_deliver(subscription_id=s_sub.pk)
        assert claimed == n and 1 <= sent <= 3
        rest = Delivery.objects.filter(subscription=s_sub, status="pending")
        assert rest.count() == n - sent and set(rest.values_list("attempts", "claimed_until")) == {(0, None)}
        # The whole drain: the fast subscriber has everything long before the slow one is done.
        assert deliveries_deliver_due() == 2 * n - sent
        assert len(fast.times) == n and fast.times[-1] < slow.times[-1] - 0.5
        assert slow.requests == n  # "slow" mode answers 204 without keeping bodies
    finally:
        slow.stop()
        fast.stop()
