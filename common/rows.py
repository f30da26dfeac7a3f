"""Model instances inserted by one multi-row `INSERT … VALUES … RETURNING` whose text is built once per process
(per model, columns and number of rows), for hot paths that insert a few rows many times a second (the order
doors): Django's `create()`/`bulk_create()` compile the same statement anew for every call, which costs more
CPU than the database spends on the insert. `rows_insert_together` puts several models' rows in one
statement (one round trip). Set-based loads of thousands of rows use `common.bulk` (COPY).

Like `bulk_create`, `save()` overrides and pre/post_save signals are not run: only for models without either
(orders/tests/services/test_intake_rows_insert.py checks that the intake's models have none).

`sql_prepared_rows` runs such a fixed statement as a PostgreSQL prepared statement: parsed and planned once
per connection instead of per call, its parameters bound by the server instead of rendered into the text in
Python (Django's psycopg cursors bind on the client and prepare nothing, so that poolers in transaction mode
keep working; a deployment behind one sets `DOM_PREPARED_STATEMENTS=0`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cache

from django.conf import settings
from django.db import connection
from django.db.models import Model


def rows_insert_returning(*, objs: Sequence[Model]) -> None:
    """Insert `objs` (instances of one model, each with the same fields set; the primary key either set on
    all or on none) in the caller's transaction, and set the primary keys the database handed out. Fields
    with `auto_now`/`auto_now_add` are stamped as `save()` would. Other databases than PostgreSQL:
    `bulk_create`."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return
    with_pk = objs[0].pk is not None
    rows = sql_prepared_rows(
        sql=_insert_sql(model=model, with_pk=with_pk, n=len(objs)), params=_row_params(objs=objs, with_pk=with_pk)
    )
    _rows_saved(objs=objs, ids=None if with_pk else [r[0] for r in rows])


def rows_insert_together(*, groups: Sequence[Sequence[Model]]) -> None:
    """Insert several models' rows in one statement and one round trip (PostgreSQL: a data-modifying CTE per
    group, each as `rows_insert_returning` would insert it); elsewhere group after group. A row that
    references another group's row must carry its primary key already (handed out beforehand): the groups
    are inserted side by side, not one after the other (foreign keys are checked at commit)."""
    groups = [g for g in groups if g]
    if connection.vendor != "postgresql" or len(groups) < 2:
        for g in groups:
            rows_insert_returning(objs=g)
        return
    shapes = tuple((type(g[0]), g[0].pk is not None, len(g)) for g in groups)
    params = [
        v for g, (_, with_pk, _) in zip(groups, shapes, strict=True) for v in _row_params(objs=g, with_pk=with_pk)
    ]
    (ids_by_group,) = sql_prepared_rows(sql=_together_sql(shapes=shapes), params=params)
    for g, (_, with_pk, _), ids in zip(groups, shapes, ids_by_group, strict=True):
        _rows_saved(objs=g, ids=None if with_pk else ids)


def _row_params(*, objs: Sequence[Model], with_pk: bool) -> list:
    fields = _insert_fields(model=type(objs[0]), with_pk=with_pk)
    params = []
    for obj in objs:
        params += [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    return params


def _rows_saved(*, objs: Sequence[Model], ids: list[int] | None) -> None:
    for i, obj in enumerate(objs):
        if ids is not None:
            obj.pk = ids[i]
        obj._state.adding = False
        obj._state.db = connection.alias


# psycopg prepares a statement after this many runs unprompted: never (only what asks with prepare=True).
NEVER_AUTOMATICALLY = 2**31 - 1


@cache
def _insert_fields(*, model: type[Model], with_pk: bool) -> tuple:
    return tuple(f for f in model._meta.concrete_fields if with_pk or not f.primary_key)


@cache
def _insert_sql(*, model: type[Model], with_pk: bool, n: int) -> str:
    qn = connection.ops.quote_name
    fields = _insert_fields(model=model, with_pk=with_pk)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)})"
        f" VALUES {', '.join([row] * n)} RETURNING {qn(model._meta.pk.column)}"
    )


@cache
def _together_sql(*, shapes: tuple) -> str:
    """One CTE per group; the answer is one row: each group's new primary keys, in insertion order (a
    sequence hands them out ascending, row after row)."""
    ctes = ", ".join(
        f"i{n} AS ({_insert_sql(model=model, with_pk=with_pk, n=rows)})"
        for n, (model, with_pk, rows) in enumerate(shapes)
    )
    pk = [connection.ops.quote_name(model._meta.pk.column) for model, _, _ in shapes]
    arrays = ", ".join(f"(SELECT array_agg({pk[n]} ORDER BY {pk[n]}) FROM i{n})" for n in range(len(shapes)))
    return f"WITH {ctes} SELECT {arrays}"


def sql_prepared_rows(*, sql: str, params: Sequence) -> list[tuple]:
    """The rows `sql` returns ([] for a statement without rows), run in the caller's transaction. On
    PostgreSQL (unless settings.DOM["PREPARED_STATEMENTS"] is False) as a prepared statement of the
    connection, through Django's execute wrappers and query log like any query; elsewhere a Django cursor.
    Only for statement texts that repeat (built once per process), never for text built from values."""
    if connection.vendor != "postgresql" or not settings.DOM.get("PREPARED_STATEMENTS", True):
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description is not None else []
    import psycopg

    connection.ensure_connection()
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    pg = connection.connection
    if pg.prepare_threshold is None:  # Django's default turns preparing off, also when asked for: on when asked
        pg.prepare_threshold = NEVER_AUTOMATICALLY
    raw = psycopg.Cursor(pg)  # server-side binding

    def run(sql: str, params: Sequence, many: bool, context: dict) -> list[tuple]:
        with connection.wrap_database_errors:
            raw.execute(sql, params, prepare=True)
            return raw.fetchall() if raw.description is not None else []

    executor = run
    context = {"connection": connection, "cursor": raw}
    for wrapper in reversed(connection.execute_wrappers):
        executor = _wrapped(wrapper=wrapper, executor=executor)
    start = time.monotonic()
    try:
        return executor(sql, params, False, context)
    finally:
        raw.close()
        if connection.queries_logged:
            connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - start:.3f}"})


def _wrapped(*, wrapper, executor):
    def call(sql: str, params: Sequence, many: bool, context: dict):
        return wrapper(executor, sql, params, many, context)

    return call
