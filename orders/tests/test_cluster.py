"""The priority-refresh schedule, run by a real django-q2 cluster."""

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from conftest import wait_for
from inventory.models import Product
from orders.models import Order
from orders.tests.services.test_order_lifecycle import ingest

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_real_cluster_refreshes_waiting_orders_priorities(qcluster, web, settings):
    settings.DOM = {**settings.DOM, "ROUTE_ORDER_TASK": ""}
    Product.objects.create(sku="SKU-A", name="Widget")
    order = ingest(web, placed_at=timezone.now())
    fresh = order.priority
    Order.objects.filter(pk=order.pk).update(priority=-1)  # stale, as if computed long ago
    call_command("setup_schedules")
    Schedule.objects.filter(func="orders.tasks.refresh_priorities").update(next_run=timezone.now())

    wait_for(
        lambda: Order.objects.get(pk=order.pk).priority >= fresh,
        timeout=90,
        what="the cluster to refresh the order's priority",
    )
