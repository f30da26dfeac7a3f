"""Outbound events through a real django-q2 cluster: intake → routing on the cluster → deliveries, with the
receiver failing first and every event arriving once, in order, when it recovers."""

import pytest
from django.db import transaction
from django_q.tasks import async_task

from conftest import wait_for
from orders.services import order_ingest
from orders.tests.services.test_order_checks import make_in
from webhooks.models import Delivery

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fast_backoff_env(monkeypatch):
    """Read by the cluster process (the qcluster fixture copies the environment)."""
    monkeypatch.setenv("DOM_OUTBOX_BACKOFF_SECONDS", "1")
    monkeypatch.setenv("DOM_OUTBOX_TIMEOUT_SECONDS", "2")


def test_events_reach_a_recovering_receiver_once_in_order_via_the_cluster(
    fast_backoff_env, receiver, qcluster, web, stocked, subscribed
):
    sub, secret = subscribed
    receiver.mode = "500"
    with transaction.atomic():
        order = order_ingest(channel=web, order_in=make_in()).order  # routing and delivery run on the cluster
    wait_for(
        lambda: (
            Delivery.objects.filter(event__type="order.routed").exists()
            and Delivery.objects.filter(last_status_code=500).exists()
        ),
        timeout=90,
        what="routing on the cluster and a first failed delivery",
    )
    assert receiver.accepted == []
    receiver.mode = "ok"

    def swept_and_delivered() -> bool:
        # The every-minute sweep, run every two seconds (a retry is due a second or two after a failure).
        if Delivery.objects.filter(status="delivered").count() == 2:
            return True
        async_task("webhooks.tasks.deliver_due")
        return False

    wait_for(swept_and_delivered, timeout=90, interval=2, what="both events delivered")
    events = receiver.events(secret=secret)
    assert [e["type"] for e in events] == ["order.accepted", "order.routed"]
    assert {e["data"]["order"]["id"] for e in events} == {order.pk}
