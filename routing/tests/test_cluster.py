"""The routing task on a real django-q2 cluster."""

import pytest
from django.db import transaction
from django_q.tasks import async_task

from conftest import wait_for
from fulfillment.models import FulfillmentOrder
from orders.models import Order
from routing.tests.helpers import make_order, stock

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_route_order_task_runs_on_the_cluster(qcluster, web, dc, product):
    stock(product, dc, 3)
    order = make_order(channel=web, lines=[(product, 2)])
    with transaction.atomic():
        transaction.on_commit(lambda: async_task("routing.tasks.route_order", order.pk))
    wait_for(
        lambda: Order.objects.filter(pk=order.pk, status="routed").exists(), timeout=90, what="the order to be routed"
    )
    assert FulfillmentOrder.objects.filter(order=order, location=dc).count() == 1
