"""Fast set-based inserts: PostgreSQL COPY, executemany batches (or `bulk_create`) elsewhere."""

import gc
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from django.db import connection
from django.utils import timezone

BATCH = 5000


def rows_insert(*, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert rows into `table` as fast as the database allows; returns the number inserted.

    Runs in the caller's transaction. Values must already be valid for the columns.
    """
    count = 0
    if connection.vendor == "postgresql":
        cols = ", ".join(connection.ops.quote_name(c) for c in columns)
        with (
            connection.cursor() as cur,
            cur.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({cols}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {connection.ops.quote_name(table)} ({', '.join(columns)}) VALUES ({placeholders})"
    batch: list[Sequence] = []
    with connection.cursor() as cur:
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                cur.executemany(sql, batch)
                count += len(batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)
            count += len(batch)
    return count


def model_rows_insert(*, model, rows: list[dict], now: datetime | None = None, returning: bool = True) -> list[int]:
    """Insert `rows` ({field attname: value}, the same keys in every row) of `model` in the caller's
    transaction and return their new primary keys in row order (`returning=False`: return nothing, which on
    PostgreSQL spares the query that draws them). Fields left out take what `Model.__init__` would give them
    (auto_now/auto_now_add: `now`, default the current time; `bulk_create` stamps its own).

    PostgreSQL: primary keys are drawn from the table's sequence in one query (or left to the column's
    default) and the rows streamed with COPY (psycopg formats them in C) — several times faster than an
    INSERT with bound parameters, which the client-side binding renders in Python value by value. Other
    databases: `bulk_create`. Model `save()` and signals are skipped either way, as with `bulk_create`."""
    if not rows:
        return []
    unknown = set(rows[0]) - {f.attname for f in model._meta.concrete_fields}
    if unknown:
        raise ValueError(f"{model._meta.label}: unknown field(s) {', '.join(sorted(unknown))}")
    if connection.vendor != "postgresql":
        objs = model.objects.bulk_create([model(**r) for r in rows], batch_size=1000)
        return [o.pk for o in objs] if returning else []
    meta = model._meta
    now = now or timezone.now()
    fields, fixed = [], []
    for f in meta.concrete_fields:
        if f.primary_key:
            continue
        if f.attname in rows[0]:
            fields.append(f)
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            fixed.append((f, now))
        else:  # what Model.__init__ would give it: its default, "" for text, else NULL
            fixed.append((f, f.get_default()))
    keys = [f.attname for f in fields]
    encoders = {i: f.encoder for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"}
    tail = [json.dumps(v, cls=f.encoder) if f.get_internal_type() == "JSONField" else v for f, v in fixed]
    qn = connection.ops.quote_name
    pks: list[int] = []
    if returning:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(rows)],
            )
            pks = [r[0] for r in cur.fetchall()]
    head = [meta.pk.column] if returning else []
    columns = ", ".join(qn(c) for c in [*head, *(f.column for f in fields), *(f.column for f, _ in fixed)])
    with connection.connection.cursor() as raw, raw.copy(f"COPY {qn(meta.db_table)} ({columns}) FROM STDIN") as cp:
        for n, r in enumerate(rows):
            vals = [r[k] for k in keys]
            for i, encoder in encoders.items():
                vals[i] = json.dumps(vals[i], cls=encoder)
            cp.write_row([pks[n], *vals, *tail] if returning else [*vals, *tail])
    return pks


def values_cte(*, rows: Sequence[Sequence[int]], columns: Sequence[str]) -> tuple[str, list]:
    """`WITH v(<columns>) AS (…)` over rows of integers, with its parameters: on PostgreSQL one array
    parameter per column (`unnest`; psycopg's client-side binding would render thousands of placeholders
    in Python value by value), elsewhere a VALUES list (one placeholder per number)."""
    head = f"WITH v({', '.join(columns)}) AS "
    if connection.vendor == "postgresql":
        arrays = ", ".join(["%s::bigint[]"] * len(columns))
        return head + f"(SELECT * FROM unnest({arrays}))", [[r[i] for r in rows] for i in range(len(columns))]
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return head + "(VALUES " + ", ".join([row] * len(rows)) + ")", [x for r in rows for x in r]


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic-garbage-collector passes inside the block (collection resumes after it).

    Bulk work that keeps a hundred thousand small containers alive (parsed events, per-row results)
    otherwise triggers full collections that walk them all, again and again, for nothing: such code makes
    no cycles worth collecting midway. Left off if the caller had turned it off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
