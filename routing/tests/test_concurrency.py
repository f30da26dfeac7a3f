"""Orders racing for the last units never oversell (real threads, real locks; run on SQLite and PostgreSQL)."""

import threading

import pytest
from django.db import connection

from inventory.models import Reservation, StockLevel
from inventory.selectors import stock_ledger_mismatches
from orders.models import Order
from routing.models import LocationCapacity
from routing.services import order_route, orders_route_pending
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def race(targets) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def run(fn):
        try:
            barrier.wait()
            fn()
        except BaseException as exc:  # noqa: BLE001 - collected and reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(fn,)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_routing_for_the_last_units_never_oversells(web, dc, dc_west, product):
    stock(product, dc, 3)
    stock(product, dc_west, 2)
    orders = [make_order(channel=web, lines=[(product, 1)]) for _ in range(12)]
    errors = race([lambda o=o: order_route(order_id=o.pk, now=MONDAY_9AM) for o in orders])
    assert errors == []
    for loc, on_hand in ((dc, 3), (dc_west, 2)):
        level = StockLevel.objects.get(product=product, location=loc)
        assert level.on_hand == on_hand and level.reserved == on_hand
    statuses = list(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("status", flat=True))
    assert statuses.count("routed") == 5 and statuses.count("backordered") == 7
    assert Reservation.objects.filter(status="active").count() == 5
    assert stock_ledger_mismatches() == []


def test_route_pending_workers_and_single_routes_race_safely(web, dc, product, product_b):
    stock(product, dc, 4)
    stock(product_b, dc, 50)
    orders = [make_order(channel=web, lines=[(product, 1), (product_b, 1)]) for _ in range(10)]
    targets = [lambda: orders_route_pending(batch=3, now=MONDAY_9AM) for _ in range(2)]
    targets += [lambda o=o: order_route(order_id=o.pk, now=MONDAY_9AM) for o in orders[:4]]
    assert race(targets) == []
    level = StockLevel.objects.get(product=product, location=dc)
    assert level.reserved == 4
    assert StockLevel.objects.get(product=product_b, location=dc).reserved == 10
    assert Order.objects.filter(pk__in=[o.pk for o in orders], status="validated").count() == 0
    # Each order was routed once: one decision each, capacity used once per fulfilment order.
    assert sum(o.routing_decisions.count() for o in orders) == 10
    assert LocationCapacity.objects.get(location=dc).used == 10
    assert stock_ledger_mismatches() == []
