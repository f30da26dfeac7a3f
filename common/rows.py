"""Model instances inserted by one multi-row `INSERT … VALUES … RETURNING` whose text is built once per process
(per model, columns and number of rows), for hot paths that insert a few rows many times a second (the order
doors): Django's `create()`/`bulk_create()` compile the same statement anew for every call, which costs more
CPU than the database spends on the insert. Set-based loads of thousands of rows use `common.bulk` (COPY).

Like `bulk_create`, `save()` overrides and pre/post_save signals are not run: only for models without either
(orders/tests/services/test_intake_rows_insert.py checks that the intake's models have none).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

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
    fields = _insert_fields(model=model, with_pk=with_pk)
    params = []
    for obj in objs:
        params += [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cur:
        cur.execute(_insert_sql(model=model, with_pk=with_pk, n=len(objs)), params)
        ids = None if with_pk else [r[0] for r in cur.fetchall()]
    for i, obj in enumerate(objs):
        if ids is not None:
            obj.pk = ids[i]
        obj._state.adding = False
        obj._state.db = connection.alias


@cache
def _insert_fields(*, model: type[Model], with_pk: bool) -> tuple:
    return tuple(f for f in model._meta.concrete_fields if with_pk or not f.primary_key)


@cache
def _insert_sql(*, model: type[Model], with_pk: bool, n: int) -> str:
    qn = connection.ops.quote_name
    fields = _insert_fields(model=model, with_pk=with_pk)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    returning = "" if with_pk else f" RETURNING {qn(model._meta.pk.column)}"
    return (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)})"
        f" VALUES {', '.join([row] * n)}{returning}"
    )
