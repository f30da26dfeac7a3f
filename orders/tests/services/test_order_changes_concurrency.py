"""Order changes racing a store's pick, routing and another editor (real threads, real locks; run on SQLite and
PostgreSQL): one wins, the other gets a conflict naming it, nothing is oversold and the ledger equals the
levels."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F, Sum

from fulfillment.models import FulfillmentLine, FulfillmentOrder
from fulfillment.services import fulfillment_line_pick
from inventory.models import ReservationLine, StockLevel
from inventory.selectors import stock_ledger_mismatches
from orders.models import Order, OrderLine
from orders.services import OrderChangeConflict, OrderVersionStale, order_units_cancel
from routing.services import order_reroute, order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]
EXPECTED = (OrderChangeConflict, OrderVersionStale, ValidationError)


def race(targets) -> tuple[list[object], list[BaseException]]:
    """Run the targets at once; (results, unexpected errors). Expected refusals count as results."""
    results: list[object] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def run(fn):
        try:
            barrier.wait()
            results.append(fn())
        except EXPECTED as exc:
            results.append(exc)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(fn,)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def assert_stock_consistent() -> None:
    """Nothing oversold, every held unit belongs to an open reservation line, the ledger equals the levels."""
    assert stock_ledger_mismatches() == []
    for level in StockLevel.objects.all():
        assert 0 <= level.reserved <= level.on_hand, level
        held = (
            ReservationLine.objects.filter(
                product_id=level.product_id, location_id=level.location_id, reservation__status="active"
            ).aggregate(n=Sum(F("quantity") - F("quantity_closed")))["n"]
            or 0
        )
        assert held == level.reserved, (level, held)


def assert_allocation_matches_work(order: Order) -> None:
    """An order line's allocated units are exactly the units on its fulfilment orders that are not cancelled."""
    for ln in OrderLine.objects.filter(order=order):
        on_fos = (
            FulfillmentLine.objects.filter(order_line=ln)
            .exclude(fulfillment_order__status="cancelled")
            .aggregate(n=Sum("quantity"))["n"]
            or 0
        )
        assert ln.quantity_allocated == on_fos, (ln, on_fos)
        assert ln.quantity_cancelled + ln.quantity_allocated <= ln.quantity


def test_a_cancel_racing_a_store_pick_one_wins_the_other_hears_why(web, store, product):
    stock(product, store, 30)
    orders = [make_order(channel=web, lines=[(product, 3)]) for _ in range(5)]
    for o in orders:
        order_route(order_id=o.pk, now=MONDAY_9AM)
    targets = []
    for o in orders:
        fl = FulfillmentLine.objects.get(fulfillment_order__order=o)
        targets.append(lambda o=o: order_units_cancel(order=o, lines={1: 1}, reason="race", actor=None))
        targets.append(lambda fl=fl: fulfillment_line_pick(line_id=fl.pk, delta=1))
    results, errors = race(targets)
    assert errors == []
    for o in orders:
        o.refresh_from_db()
        fo = FulfillmentOrder.objects.get(order=o)
        line = o.lines.get()
        fl = fo.lines.get()
        assert fl.quantity_picked == 1 and fo.status == "picking"  # the pick never loses
        # Either the cancel went first (the line shrank to 2) or it was refused naming the work.
        assert (line.quantity_cancelled, fl.quantity) in ((1, 2), (0, 3))
        assert_allocation_matches_work(o)
    refusals = [r for r in results if isinstance(r, OrderChangeConflict)]
    assert all("FO-" in str(r) for r in refusals)
    assert_stock_consistent()


def test_a_cancel_racing_a_reroute_of_backordered_units(web, dc, product):
    stock(product, dc, 2)
    orders = [make_order(channel=web, lines=[(product, 2)]) for _ in range(3)]
    for o in orders:
        order_route(order_id=o.pk, now=MONDAY_9AM)
    stock(product, dc, 10)  # the backordered orders can now be placed
    targets = []
    for o in orders:
        line = o.lines.get()
        targets.append(lambda o=o: order_units_cancel(order=o, lines={1: 1}, reason="race", actor=None))
        targets.append(
            lambda o=o, line=line: order_reroute(
                order_id=o.pk, quantities={line.pk: 2}, exclude_location_ids=[], reason="stock arrived", now=MONDAY_9AM
            )
        )
    _, errors = race(targets)
    assert errors == []
    for o in orders:
        line = OrderLine.objects.get(order=o)
        assert line.quantity_cancelled == 1 and line.quantity_allocated == 1
        assert_allocation_matches_work(o)
    assert_stock_consistent()


def test_two_editors_with_the_same_version_one_wins_the_other_gets_stale(web, dc, product):
    stock(product, dc, 10)
    order = make_order(channel=web, lines=[(product, 5)])
    order_route(order_id=order.pk, now=MONDAY_9AM)
    version = Order.objects.get(pk=order.pk).version
    targets = [
        lambda n=n: order_units_cancel(
            order=order, lines={1: 1}, reason=f"editor {n}", actor=None, expected_version=version
        )
        for n in range(4)
    ]
    results, errors = race(targets)
    assert errors == []
    assert sum(isinstance(r, OrderVersionStale) for r in results) == 3
    assert OrderLine.objects.get(order=order).quantity_cancelled == 1
    assert StockLevel.objects.get(product=product, location=dc).reserved == 4
    assert_stock_consistent()
