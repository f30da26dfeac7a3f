"""The reservation-expiry schedule, run by a real django-q2 cluster."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from conftest import wait_for
from inventory.models import Reservation, StockLevel
from inventory.services import ReserveLine, stock_reserve
from inventory.tests.helpers import put_stock

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_real_cluster_runs_the_expiry_schedule(qcluster, product, dc):
    put_stock(product, dc, 5)
    res = stock_reserve(lines=[ReserveLine(product.pk, 2)], ttl=timedelta(seconds=1))
    call_command("setup_schedules")
    Schedule.objects.filter(func="inventory.tasks.expire_reservations").update(next_run=timezone.now())

    def expired():
        return Reservation.objects.get(pk=res.pk).status == "expired"

    wait_for(expired, timeout=90, what="the cluster to expire the reservation")
    assert StockLevel.objects.get(product=product, location=dc).reserved == 0
