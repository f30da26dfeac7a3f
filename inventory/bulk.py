"""Fast set-based inserts: PostgreSQL COPY, executemany batches elsewhere."""

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from django.db import connection

BATCH = 5000


def rows_insert(*, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert rows into `table` as fast as the database allows; returns the number inserted.

    Runs in the caller's transaction. Values must already be valid for the columns.
    """
    count = 0
    if connection.vendor == "postgresql":
        cols = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cur:
            with cur.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({cols}) FROM STDIN") as copy:
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
