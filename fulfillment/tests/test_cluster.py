"""Long jobs driven by a real django-q2 cluster: outbox delivery with a retry, and the no-show schedule."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from bench.factories import level, make_fo, make_order, put_stock
from conftest import wait_for
from fulfillment.models import Endpoint, FulfillmentOrder, OutboxMessage
from fulfillment.services import fulfillment_order_release
from fulfillment.tests.httpstub import endpoint

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fast_retries(monkeypatch):
    # Read by the qcluster subprocess (it inherits the environment), so retries are due at once.
    monkeypatch.setenv("DOM_OUTBOX_BACKOFF_SECONDS", "0")


def test_cluster_delivers_release_after_a_failure_exactly_once(fast_retries, qcluster, web, dc, product):
    put_stock(product, dc, 5)
    fo = make_fo(order=make_order(channel=web, lines=[(product, 1)], priority=99), location=dc)
    with endpoint(fail_first=1) as (url, state):
        Endpoint.objects.create(location=dc, url=url)
        call_command("setup_schedules")
        fulfillment_order_release(fo_id=fo.pk)  # high priority: released now, delivery enqueued on commit
        msg = OutboxMessage.objects.get(idempotency_key=f"release:{fo.pk}")
        wait_for(lambda: OutboxMessage.objects.get(pk=msg.pk).attempts >= 1, timeout=60, what="first attempt")
        Schedule.objects.filter(func="fulfillment.tasks.deliver_outbox_due").update(next_run=timezone.now())
        wait_for(
            lambda: OutboxMessage.objects.get(pk=msg.pk).status == "delivered",
            timeout=120,
            what="the sweeper to retry and deliver",
        )
        assert [k for k, _ in state["accepted"]] == [f"release:{fo.pk}"]
        assert state["requests"].count(f"release:{fo.pk}") == 2


def test_cluster_expires_no_shows_and_returns_stock(qcluster, web, store, product, store_user):
    put_stock(product, store, 4)
    fo = make_fo(
        order=make_order(channel=web, lines=[(product, 2)], method="pickup", pickup_location=store),
        location=store,
        method="pickup",
    )
    line = fo.lines.get()
    FulfillmentOrder.objects.filter(pk=fo.pk).update(
        status="ready_for_pickup", pickup_code="ABC234", pickup_by=timezone.now() - timedelta(minutes=1)
    )
    type(line).objects.filter(pk=line.pk).update(quantity_picked=2)
    call_command("setup_schedules")
    Schedule.objects.filter(func="fulfillment.tasks.expire_pickup_no_shows").update(next_run=timezone.now())
    wait_for(
        lambda: FulfillmentOrder.objects.get(pk=fo.pk).status == "expired",
        timeout=120,
        what="the cluster to expire the no-show",
    )
    assert level(product, store) == (4, 0)
