"""Two workers on one delivery: the conditional claim lets exactly one send it."""

import threading

import pytest
from django.db import connection

from orders.services import order_ingest
from orders.tests.services.test_order_checks import make_in
from webhooks.models import Delivery
from webhooks.services import delivery_deliver, subscription_active_set

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def test_two_workers_send_a_delivery_once(web, stocked, receiver, subscribed):
    receiver.mode, receiver.slow_seconds = "slow", 0.5  # slow but within the timeout: both workers overlap
    sub, _ = subscribed
    subscription_active_set(subscription=sub, is_active=False)  # the inline (sync) queue must not send it first
    order_ingest(channel=web, order_in=make_in())
    subscription_active_set(subscription=sub, is_active=True)
    pk = Delivery.objects.get(event__type="order.accepted").pk
    barrier = threading.Barrier(2)

    def worker():
        try:
            barrier.wait()
            delivery_deliver(delivery_id=pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    d = Delivery.objects.get(pk=pk)
    assert receiver.requests == 1 and (d.status, d.attempts) == ("delivered", 1)
