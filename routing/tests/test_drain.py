"""The routing drain: routes every waiting order, one drain at a time on PostgreSQL (an advisory lock that
kickers read), and looks once more after letting the lock go."""

import threading

import pytest
from django.db import connection, connections

from orders.models import Order
from routing.selectors import DRAIN_LOCK, routing_drain_active
from routing.services import orders_route_draining
from routing.tests.helpers import make_order, stock

pg_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="advisory locks are PostgreSQL's")


@pytest.mark.django_db
def test_a_drain_routes_every_waiting_order(web, dc, product):
    stock(product, dc, 10)
    orders = [make_order(channel=web, lines=[(product, 1)]) for _ in range(3)]
    result = orders_route_draining(linger_s=0, pause_s=0)
    assert result.orders == 3 and not result.skipped
    assert set(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("status", flat=True)) == {"routed"}
    assert not routing_drain_active()  # the lock is let go


@pg_only
@pytest.mark.django_db(transaction=True)
def test_a_second_drain_returns_while_one_holds_the_lock(web, dc, product):
    stock(product, dc, 10)
    make_order(channel=web, lines=[(product, 1)])
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(%s)", [DRAIN_LOCK])
                held.set()
                release.wait(10)
                cur.execute("SELECT pg_advisory_unlock(%s)", [DRAIN_LOCK])
        finally:
            connections.close_all()

    t = threading.Thread(target=holder)
    t.start()
    assert held.wait(10)
    try:
        assert routing_drain_active()
        result = orders_route_draining(linger_s=0, pause_s=0)
        assert result.skipped and result.orders == 0
        assert Order.objects.get().status == "validated"  # left to the holder
    finally:
        release.set()
        t.join()
    assert not routing_drain_active()
    assert orders_route_draining(linger_s=0, pause_s=0).orders == 1
