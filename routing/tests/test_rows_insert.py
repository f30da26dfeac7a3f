"""common.bulk.model_rows_insert, routing's batch writer (COPY on PostgreSQL, bulk_create elsewhere)."""

import pytest
from django.db import connection

from common.bulk import model_rows_insert
from inventory.models import InventoryMovement
from orders.models import OrderEvent
from routing.models import RoutingDecision
from routing.services import order_route, orders_route_pending
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = pytest.mark.django_db


def test_rows_insert_returns_ids_in_row_order_and_fills_defaults(web, product):
    orders = [make_order(channel=web, lines=[(product, 1)]) for _ in range(3)]
    rows = [
        {"order_id": o.pk, "type": "note", "message": f"m{i}", "data": {"i": i, "nested": [1, "é"]}, "actor_id": None}
        for i, o in enumerate(orders)
    ]
    ids = model_rows_insert(model=OrderEvent, rows=rows)
    assert len(set(ids)) == 3
    got = {e.pk: e for e in OrderEvent.objects.filter(pk__in=ids)}
    for pk, row in zip(ids, rows, strict=True):
        ev = got[pk]
        assert (ev.order_id, ev.message, ev.data) == (row["order_id"], row["message"], row["data"])
        assert ev.created_at is not None  # auto_now_add filled


def test_rows_insert_without_returning_lets_the_column_number_rows(product, dc):
    """The ledger's way (returning=False): nothing returned, ids from the table's own default."""
    now = MONDAY_9AM
    rows = [
        {"product_id": product.pk, "location_id": dc.pk, "delta_reserved": q, "reason": "reserve", "reference": "r"}
        for q in (1, 2)
    ]
    before = InventoryMovement.objects.count()
    assert model_rows_insert(model=InventoryMovement, rows=rows, now=now, returning=False) == []
    new = list(InventoryMovement.objects.order_by("-id")[:2])
    assert InventoryMovement.objects.count() == before + 2
    assert sorted(m.delta_reserved for m in new) == [1, 2]
    assert all(m.actor_id is None and m.delta_on_hand == 0 and m.reference == "r" for m in new)
    if connection.vendor == "postgresql":  # (bulk_create, elsewhere, stamps auto_now_add fields itself)
        assert all(m.created_at == now for m in new)


def test_rows_insert_refuses_unknown_fields(web, product):
    order = make_order(channel=web, lines=[(product, 1)])
    with pytest.raises(ValueError, match="no_such_field"):
        model_rows_insert(model=OrderEvent, rows=[{"order_id": order.pk, "type": "x", "no_such_field": 1}])


def test_batch_decisions_match_what_was_stored(web, dc, product):
    stock(product, dc, 50)
    ids = [make_order(channel=web, lines=[(product, 1)]).pk for _ in range(4)]
    seen = []
    result = orders_route_pending(batch=10, now=MONDAY_9AM, observer=seen.append)
    assert sorted(d.order_id for d in seen) == sorted(ids)
    assert (result.orders, result.routed, result.partial, result.backordered) == (4, 4, 0, 0)  # counted, not read
    for rec in RoutingDecision.objects.filter(order_id__in=ids):
        assert rec.plan[0]["location_id"] == dc.pk
        assert rec.candidates["rows"] and rec.excluded["by_reason"] is not None
        ev = OrderEvent.objects.get(order_id=rec.order_id, type="routed")
        assert ev.data["decision_id"] == rec.pk  # the timeline points at the stored decision
    # The single-order interface returns the stored decision (same pk, same fields).
    one = make_order(channel=web, lines=[(product, 2)])
    dec = order_route(order_id=one.pk, now=MONDAY_9AM)
    stored = RoutingDecision.objects.get(pk=dec.pk)
    assert (stored.order_id, stored.plan, stored.cost, stored.outcome) == (one.pk, dec.plan, dec.cost, dec.outcome)
