"""The door's per-process shortcuts: the order, its lines, holds and events are inserted by
`common.rows.rows_insert_returning` (no `save()`, no signals), and the fraud settings come from a per-process
copy kept current by a digest read in the idempotency query."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Model, signals
from django.test.utils import CaptureQueriesContext

from orders.inputs import CustomerIn, LineIn
from orders.models import FraudSettings, Order, OrderEvent, OrderHold, OrderLine
from orders.selectors import fraud_settings_current
from orders.services import order_ingest
from orders.tests.services.test_order_checks import make_in

pytestmark = pytest.mark.django_db

RAW_INSERTED = [Order, OrderLine, OrderHold, OrderEvent]


@pytest.mark.parametrize("model", RAW_INSERTED, ids=lambda m: m.__name__)
def test_raw_inserted_models_have_no_save_override_or_save_signal(model):
    """The raw insert would bypass both: a model that gains either must leave the raw insert first."""
    assert model.save is Model.save, f"{model.__name__} overrides save()"
    assert model.save_base is Model.save_base, f"{model.__name__} overrides save_base()"
    for signal in (signals.pre_save, signals.post_save):
        assert not signal.has_listeners(model), f"{model.__name__} has a {signal} receiver"


def test_the_guard_sees_a_receiver(db):
    def receiver(**kwargs):
        pass

    signals.post_save.connect(receiver, sender=Order, weak=False)
    try:
        assert signals.post_save.has_listeners(Order)
    finally:
        signals.post_save.disconnect(receiver, sender=Order)


def test_raw_inserted_order_reads_back_as_written(web, catalogue):
    customer = CustomerIn(email="raw@example.com", name="Ann")
    lines = [LineIn(sku=p.sku, quantity=2, unit_price=Decimal("3.50")) for p in catalogue[:2]]
    result = order_ingest(channel=web, order_in=make_in("RAW-1", lines=lines, customer=customer))
    order = result.order
    stored = Order.objects.get(pk=order.pk)
    for f in Order._meta.concrete_fields:
        assert getattr(stored, f.attname) == getattr(order, f.attname), f.name
    assert stored.created_at is not None and stored.number.endswith(f"{order.pk:07d}")
    assert [(ln.line_number, ln.sku, ln.quantity) for ln in stored.lines.order_by("line_number")] == [
        (1, catalogue[0].sku, 2),
        (2, catalogue[1].sku, 2),
    ]
    assert list(stored.events.order_by("id").values_list("type", flat=True)) == [
        "received",
        "screened",
        "status_changed",
    ]
    assert all(e.created_at is not None for e in stored.events.all())


def test_an_unknown_sku_order_stores_its_hold(web, catalogue):
    lines = [LineIn(sku="NOPE-1", quantity=1, unit_price=Decimal("1.00"))]
    order = order_ingest(channel=web, order_in=make_in("RAW-HOLD", lines=lines)).order
    assert order.status == "on_hold"
    assert list(OrderHold.objects.filter(order=order).values_list("kind", flat=True)) == ["unknown_item"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the digest rides in PostgreSQL's query")
def test_a_settings_change_in_the_database_is_seen_by_the_next_order(web, catalogue):
    customer = CustomerIn(email="fraud@example.com", name="Ann")
    first = order_ingest(channel=web, order_in=make_in("DG-1", customer=customer)).order
    assert first.status == "validated"
    # Another process changes the settings: an UPDATE behind this process's copy, no signal, no cache call.
    FraudSettings.objects.filter(pk=1).update(hold_score=0)
    second = order_ingest(channel=web, order_in=make_in("DG-2", customer=customer)).order
    assert second.status == "on_hold"
    assert OrderHold.objects.filter(order=second, kind="fraud").exists()
    FraudSettings.objects.filter(pk=1).update(hold_score=50)
    third = order_ingest(channel=web, order_in=make_in("DG-3", customer=customer)).order
    assert third.status == "validated"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the digest rides in PostgreSQL's query")
def test_a_cache_hit_reads_nothing_and_a_new_digest_reads_the_row(db):
    FraudSettings.objects.get_or_create(pk=1)
    with connection.cursor() as cur:
        cur.execute("SELECT md5(f::text) FROM orders_fraudsettings f WHERE f.id = 1")
        digest = cur.fetchone()[0]
    fraud_settings_current(digest=digest)
    with CaptureQueriesContext(connection) as q:
        assert fraud_settings_current(digest=digest).pk == 1
    assert len(q.captured_queries) == 0
    with CaptureQueriesContext(connection) as q:
        fraud_settings_current(digest="another")
    assert len(q.captured_queries) == 1
