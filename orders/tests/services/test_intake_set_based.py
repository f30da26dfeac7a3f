"""Set-based intake: a new order costs the same number of queries whatever its number of lines, the
customer's upsert counts orders and value in one statement, and routing is enqueued in batches per process."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from inventory.models import Product
from orders.inputs import CustomerIn, LineIn
from orders.models import Channel, Customer, Order
from orders.services import LIFETIME_VALUE_CAP, order_ingest
from orders.services import routing_kick as kick_module
from orders.tests.services.test_order_checks import make_in

pytestmark = pytest.mark.django_db

# A new validated order with a customer, on PostgreSQL: the idempotency read (with the new id and the fraud
# settings' digest), products, the customer's upsert, one statement inserting the order, its lines, holds and
# events, the webhook event and the subscriptions read, plus the savepoint around the writes. Elsewhere also
# the fraud settings' read, the order-number update and an insert per table.
MAX_QUERIES_PER_ORDER = 8


@pytest.fixture
def many_products(db) -> list[Product]:
    return Product.objects.bulk_create([Product(sku=f"SKU-{i:03d}", name=f"Item {i}") for i in range(40)])


def _queries_for(channel: Channel, *, ext: str, n_lines: int) -> int:
    lines = [LineIn(sku=f"SKU-{i:03d}", quantity=1, unit_price=Decimal("5.00")) for i in range(n_lines)]
    customer = CustomerIn(email=f"{ext}@example.com", name="Ann")
    with CaptureQueriesContext(connection) as q:
        result = order_ingest(channel=channel, order_in=make_in(ext, lines=lines, customer=customer))
    assert result.created and result.order.status == "validated", result.order.status
    assert result.order.lines.count() == n_lines
    return len(q.captured_queries)


def test_queries_per_order_do_not_grow_with_its_lines(web, many_products):
    _queries_for(web, ext="Q-warm", n_lines=1)  # the first order also creates the fraud settings' row
    counts = {n: _queries_for(web, ext=f"Q-{n}", n_lines=n) for n in (1, 5, 20, 40)}
    assert len(set(counts.values())) == 1, counts  # one query per line would make these differ
    assert counts[1] <= MAX_QUERIES_PER_ORDER + (0 if connection.vendor == "postgresql" else 5), counts


def test_a_repeat_delivery_reads_and_writes_nothing_more(web, many_products):
    _queries_for(web, ext="R-1", n_lines=3)
    with CaptureQueriesContext(connection) as q:
        again = order_ingest(channel=web, order_in=make_in("R-1"))
    assert not again.created
    assert not [x for x in q.captured_queries if x["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))]


def test_the_customer_upsert_counts_orders_value_and_identities(web, marketplace, catalogue):
    first = order_ingest(
        channel=web, order_in=make_in("U-1", customer=CustomerIn(email=" Ann@Example.com ", name="", external_id="w-1"))
    ).order
    second = order_ingest(
        channel=marketplace,
        order_in=make_in("U-2", customer=CustomerIn(email="ann@example.com", name="Ann B", external_id="m-9")),
    ).order
    customer = Customer.objects.get()
    assert first.customer_id == second.customer_id == customer.pk
    assert customer.order_count == 2 and customer.lifetime_value == first.total + second.total
    assert customer.identities == {"web": "w-1", "mkt": "m-9"}
    assert customer.name == "Ann B"  # filled in because it was empty; never overwritten once set
    order_ingest(channel=web, order_in=make_in("U-3", customer=CustomerIn(email="ann@example.com", name="Zed")))
    customer.refresh_from_db()
    assert customer.name == "Ann B" and customer.order_count == 3


def test_lifetime_value_is_capped_at_the_column(web, catalogue):
    Customer.objects.create(email="big@example.com", lifetime_value=LIFETIME_VALUE_CAP - 1)
    order_ingest(channel=web, order_in=make_in("C-1", customer=CustomerIn(email="big@example.com")))
    assert Customer.objects.get().lifetime_value == LIFETIME_VALUE_CAP


def test_velocity_counts_come_back_with_the_upsert(web, catalogue):
    from orders.models import FraudSettings

    FraudSettings.objects.update_or_create(pk=1, defaults={"velocity_max_orders": 2, "velocity_points": 100})
    now = datetime.now(UTC)
    made = [
        order_ingest(channel=web, order_in=make_in(f"V-{i}", placed_at=now - timedelta(minutes=1))).order
        for i in range(3)
    ]
    assert [o.status for o in made] == ["validated", "validated", "on_hold"]
    assert "velocity_email" in {r["rule"] for r in made[2].fraud_reasons}


def _commit_hooks_run() -> None:
    """The test's own transaction never commits: run the on-commit hooks now, as a commit would."""
    for _, hook, _ in connection.run_on_commit[:]:
        hook()
    connection.run_on_commit.clear()


def test_routing_is_enqueued_once_per_interval_not_once_per_order(web, catalogue, settings, monkeypatch):
    """Twenty orders committed back to back cost about one enqueue of the drain task per interval (here
    300 ms), the last one after the last order's commit (so the drain sees it)."""
    from django.core.cache import cache
    from django_q import tasks
    from django_q.conf import Conf

    calls: list[tuple[float, tuple]] = []
    monkeypatch.setattr(tasks, "async_task", lambda *args, **kw: calls.append((time.monotonic(), args)))
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(kick_module, "KICKER", kick_module._Kicker())
    cache.delete(kick_module.DRAIN_CLAIM)
    settings.DOM = {
        **settings.DOM,
        "ROUTE_ORDER_TASK": "routing.tasks.route_order",
        "ROUTE_PENDING_TASK": "routing.tasks.route_pending",
        "ROUTE_ENQUEUE_INTERVAL_MS": 300,
    }
    started = time.monotonic()
    for i in range(20):
        with transaction.atomic():
            order_ingest(channel=web, order_in=make_in(f"K-{i}"))
        _commit_hooks_run()
    last_commit = time.monotonic()
    deadline = time.monotonic() + 5
    while (not calls or calls[-1][0] < last_commit) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert calls and calls[-1][0] >= last_commit, "no enqueue after the last order's commit"
    assert all(args == ("routing.tasks.route_pending",) for _, args in calls)
    windows = (calls[-1][0] - started) / 0.3
    assert 1 <= len(calls) <= windows + 2 and len(calls) < 20, (len(calls), windows)
    assert Order.objects.filter(status="validated").count() == 20


def test_a_claim_younger_than_the_kick_covers_it_an_older_one_does_not(settings):
    from django.core.cache import cache

    cache.delete(kick_module.DRAIN_CLAIM)
    assert kick_module._drain_claim(window=5)[0]  # first: claimed
    claimed, held_at = kick_module._drain_claim(window=5)
    assert not claimed and held_at <= time.time()
    cache.set(kick_module.DRAIN_CLAIM, time.time() - 10)  # a stale claim is taken over
    assert kick_module._drain_claim(window=5)[0]


def test_inline_tasks_still_route_each_order_by_itself(web, catalogue, settings, monkeypatch):
    from django_q import tasks

    calls = []
    monkeypatch.setattr(tasks, "async_task", lambda *args, **kw: calls.append(args))
    settings.DOM = {**settings.DOM, "ROUTE_ORDER_TASK": "routing.tasks.route_order"}
    with transaction.atomic():
        order = order_ingest(channel=web, order_in=make_in("I-1")).order
    _commit_hooks_run()
    assert calls == [("routing.tasks.route_order", order.pk)]


def test_only_the_customers_first_order_counts_as_new(web, catalogue):
    from orders.models import FraudSettings

    FraudSettings.objects.update_or_create(
        pk=1, defaults={"new_customer_value_limit": Decimal("10"), "new_customer_value_points": 100}
    )
    first = order_ingest(channel=web, order_in=make_in("N-1")).order
    second = order_ingest(channel=web, order_in=make_in("N-2")).order
    assert "new_customer_value" in {r["rule"] for r in first.fraud_reasons}
    assert "new_customer_value" not in {r["rule"] for r in second.fraud_reasons}
