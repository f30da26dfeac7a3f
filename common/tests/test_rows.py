"""common.rows: fixed statements run as prepared statements (PostgreSQL), seen by Django like any query, and
model rows inserted by one multi-row INSERT … RETURNING."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from common.rows import rows_insert_returning, rows_insert_together, sql_prepared_rows
from orders.models import Channel

pytestmark = pytest.mark.django_db

SQL = "SELECT %s + 1"


def _prepared() -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        return [r[0] for r in cur.fetchall()]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_a_statement_is_prepared_once_per_connection_and_answers():
    assert sql_prepared_rows(sql=SQL, params=[41]) == [(42,)]
    assert sql_prepared_rows(sql=SQL, params=[1]) == [(2,)]
    assert len([s for s in _prepared() if "+ 1" in s]) == 1


def test_it_is_counted_logged_and_wrapped_like_any_query():
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as q, connection.execute_wrapper(wrapper):
        assert sql_prepared_rows(sql=SQL, params=[1]) == [(2,)]
    assert seen == [SQL] and len(q.captured_queries) == 1 and "+ 1" in q.captured_queries[0]["sql"]


def test_a_refused_wrapper_stops_the_query():
    def refuse(execute, sql, params, many, context):
        raise RuntimeError("database unavailable")

    with connection.execute_wrapper(refuse), pytest.raises(RuntimeError):
        sql_prepared_rows(sql=SQL, params=[1])


def test_database_errors_are_djangos(web):
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert_returning(objs=[Channel(code=web.code, name="Again", kind="web")])


def test_the_setting_turns_preparing_off(settings):
    settings.DOM = {**settings.DOM, "PREPARED_STATEMENTS": False}
    assert sql_prepared_rows(sql=SQL, params=[5]) == [(6,)]
    if connection.vendor == "postgresql":
        assert not [s for s in _prepared() if "+ 1" in s]


def test_rows_get_their_primary_keys_in_order(db):
    objs = [Channel(code=f"r{i}", name=f"R {i}", kind="web") for i in range(3)]
    rows_insert_returning(objs=objs)
    assert [o.pk for o in objs] == list(
        Channel.objects.filter(code__in=["r0", "r1", "r2"]).order_by("code").values_list("pk", flat=True)
    )
    assert all(not o._state.adding for o in objs)


def test_groups_of_several_models_go_in_one_statement(web):
    from django.utils import timezone

    from orders.models import Order, OrderEvent

    # The order's key handed out first, so its events can name it in the same statement.
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT nextval(pg_get_serial_sequence('orders_order', 'id'))")
            pk = cur.fetchone()[0]
        else:
            pk = 10_000
    order = Order(pk=pk, channel=web, external_id="T-1", number="T-1", placed_at=timezone.now())
    events = [OrderEvent(order=order, type=t, message=t) for t in ("received", "screened", "status_changed")]
    with CaptureQueriesContext(connection) as q:
        rows_insert_together(groups=[[order], [], events])
    if connection.vendor == "postgresql":
        assert len(q.captured_queries) == 1
    stored = list(OrderEvent.objects.filter(order_id=pk).order_by("pk").values_list("pk", "type"))
    assert stored == [(e.pk, e.type) for e in events]
    assert Order.objects.get(pk=pk).number == "T-1" and not order._state.adding
