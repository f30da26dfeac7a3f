"""Monthly partitions of append-only history tables (PostgreSQL declarative partitioning).

`table_partition_by_month` turns a plain table into one partitioned by RANGE on its creation timestamp, in a
migration: same columns, identity sequence, check constraints, indexes (re-created on the parent, so on every
partition) and foreign keys; primary key (id, <column>) because a partitioned table's unique keys must contain
the partition key. Django's models are unchanged: ids still come from the one sequence, so they stay unique.
Tables referenced by a foreign key, or with another unique constraint, cannot be partitioned this way: it
refuses them.

Partitions are named `<table>_pYYYYMM` (months in UTC) plus `<table>_default`, which catches a row no monthly
partition covers, so an insert never fails for want of a partition. `partitions_ensure` creates the coming
months' partitions ahead of time (moving any rows the default partition holds for them);
`partitions_archive` detaches the months older than a retention period, writes each to a gzipped CSV and
drops it. Every partitioned table of the schema is found from the catalogue: no list to keep up to date.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from django.db import connection, transaction

NAME = re.compile(r"^(?P<table>.+)_p(?P<year>\d{4})(?P<month>\d{2})$")


def month_add(*, month: date, months: int) -> date:
    """The first day of the month `months` after `month`'s (negative: before)."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_bound(month: date) -> str:
    return datetime(month.year, month.month, 1, tzinfo=UTC).isoformat()


def _one(sql: str, params: list | None = None):
    with connection.cursor() as cur:
        cur.execute(sql, params or [])
        row = cur.fetchone()
        return row[0] if row else None


def _all(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params or [])
        return list(cur.fetchall())


def _run(*statements: str) -> None:
    with connection.cursor() as cur:
        for sql in statements:
            cur.execute(sql)


@dataclass(frozen=True)
class _Shape:
    """What a table carries besides its columns, to re-create on its replacement."""

    indexes: list[str]  # CREATE INDEX statements (not those behind the primary key)
    foreign_keys: list[tuple[str, str]]  # (name, definition)
    sequence: str | None


def _shape(*, table: str) -> _Shape:
    refs = _all("SELECT conname FROM pg_constraint WHERE confrelid = %s::regclass", [table])
    if refs:
        raise ValueError(f"{table} is referenced by foreign keys {[r[0] for r in refs]}: not partitioned.")
    uniques = _all("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'u'", [table])
    if uniques:
        raise ValueError(f"{table} has unique constraints {[u[0] for u in uniques]}: not partitioned.")
    indexes = _all(
        """SELECT pg_get_indexdef(i.indexrelid), i.indisunique FROM pg_index i
           WHERE i.indrelid = %s::regclass AND NOT i.indisprimary ORDER BY i.indexrelid""",
        [table],
    )
    if any(unique for _, unique in indexes) and not table_is_partitioned(table=table):
        raise ValueError(f"{table} has unique indexes: not partitioned.")
    fks = _all(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    return _Shape(
        indexes=[i[0] for i in indexes],
        foreign_keys=fks,
        sequence=_one("SELECT pg_get_serial_sequence(%s, 'id')", [table]),
    )


def _swap(*, table: str, new: str, shape: _Shape, primary_key: str) -> None:
    """Copy `table`'s rows into `new`, drop `table`, give `new` its name, keys, indexes and sequence."""
    qt, qn = connection.ops.quote_name(table), connection.ops.quote_name(new)
    _run(f"INSERT INTO {qn} SELECT * FROM {qt}")
    new_sequence = _one("SELECT pg_get_serial_sequence(%s, 'id')", [new])
    if new_sequence:
        _one(f"SELECT setval(%s, COALESCE((SELECT MAX(id) FROM {qn}), 0) + 1, false)", [new_sequence])
    _run(f"DROP TABLE {qt}", f"ALTER TABLE {qn} RENAME TO {qt}")
    if new_sequence and shape.sequence:
        _run(f"ALTER SEQUENCE {new_sequence} RENAME TO {shape.sequence.split('.')[-1]}")
    _run(f"ALTER TABLE {qt} ADD CONSTRAINT {connection.ops.quote_name(table + '_pkey')} PRIMARY KEY ({primary_key})")
    _run(*shape.indexes)
    _run(*(f"ALTER TABLE {qt} ADD CONSTRAINT {connection.ops.quote_name(n)} {d}" for n, d in shape.foreign_keys))


def table_partition_by_month(*, table: str, column: str, months_ahead: int, today: date) -> None:
    """Turn plain `table` into one partitioned by month on `column` (PostgreSQL only; see the module)."""
    if connection.vendor != "postgresql" or table_is_partitioned(table=table):
        return
    shape = _shape(table=table)
    new = f"{table}__partitioned"
    qt, qn, qc = (connection.ops.quote_name(x) for x in (table, new, column))
    _run(
        f"CREATE TABLE {qn} (LIKE {qt} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS)"
        f" PARTITION BY RANGE ({qc})",
        f"CREATE TABLE {connection.ops.quote_name(table + '_default')} PARTITION OF {qn} DEFAULT",
    )
    oldest = _one(f"SELECT MIN({qc}) FROM {qt}")
    month = month_add(month=(oldest.date() if oldest else today), months=0)
    last = month_add(month=today, months=months_ahead)
    while month <= last:
        _run(
            f"CREATE TABLE {connection.ops.quote_name(partition_name(table=table, month=month))} PARTITION OF {qn}"
            f" FOR VALUES FROM ('{month_bound(month)}') TO ('{month_bound(month_add(month=month, months=1))}')"
        )
        month = month_add(month=month, months=1)
    _swap(table=table, new=new, shape=shape, primary_key=f"id, {qc}")


def table_unpartition(*, table: str) -> None:
    """The reverse of `table_partition_by_month`: one plain table with primary key (id)."""
    if connection.vendor != "postgresql" or not table_is_partitioned(table=table):
        return
    shape = _shape(table=table)
    new = f"{table}__plain"
    qt, qn = connection.ops.quote_name(table), connection.ops.quote_name(new)
    _run(f"CREATE TABLE {qn} (LIKE {qt} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS)")
    _swap(table=table, new=new, shape=shape, primary_key="id")


def partition_name(*, table: str, month: date) -> str:
    return f"{table}_p{month:%Y%m}"


def table_is_partitioned(*, table: str) -> bool:
    return bool(_one("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [table]))


def partitioned_tables() -> list[tuple[str, str]]:
    """(table, partition column) of every table partitioned by range in the current schema."""
    if connection.vendor != "postgresql":
        return []
    return _all(
        """SELECT c.relname, a.attname FROM pg_partitioned_table p
           JOIN pg_class c ON c.oid = p.partrelid AND c.relnamespace = current_schema()::regnamespace
           JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
           WHERE p.partstrat = 'r' ORDER BY c.relname"""
    )


def partitions_of(*, table: str) -> dict[date, str]:
    """The monthly partitions of `table` by month (the default partition is not listed)."""
    rows = _all(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        [table],
    )
    found = {}
    for (name,) in rows:
        m = NAME.match(name)
        if m and m["table"] == table:
            found[date(int(m["year"]), int(m["month"]), 1)] = name
    return found


def _partition_add(*, table: str, column: str, month: date) -> None:
    """Create `table`'s partition for `month`, taking over the rows the default partition holds for it."""
    name, default = partition_name(table=table, month=month), f"{table}_default"
    q = connection.ops.quote_name
    lo, hi = month_bound(month), month_bound(month_add(month=month, months=1))
    _run(
        f"CREATE TABLE {q(name)} (LIKE {q(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
        f"WITH moved AS (DELETE FROM {q(default)} WHERE {q(column)} >= '{lo}' AND {q(column)} < '{hi}' RETURNING *)"
        f" INSERT INTO {q(name)} SELECT * FROM moved",
        f"ALTER TABLE {q(table)} ATTACH PARTITION {q(name)} FOR VALUES FROM ('{lo}') TO ('{hi}')",
    )


def partitions_ensure(*, months_ahead: int, today: date) -> list[str]:
    """Create every partitioned table's partitions from this month to `months_ahead` months on; returns the
    partitions created. Idempotent."""
    created = []
    for table, column in partitioned_tables():
        have = partitions_of(table=table)
        for n in range(months_ahead + 1):
            month = month_add(month=today, months=n)
            if month not in have:
                with transaction.atomic():
                    _partition_add(table=table, column=column, month=month)
                created.append(partition_name(table=table, month=month))
    return created


# Called with (table, partition names) inside the transaction that archives them, before they are detached:
# the owner of a table whose remaining rows must still add up (the stock ledger) writes what it needs there.
ArchiveHook = Callable[[str, list[str]], None]


def partitions_archive(
    *, older_than_months: int, today: date, dump_dir: Path, before_detach: ArchiveHook
) -> list[Path]:
    """Detach every monthly partition wholly older than `older_than_months` months before this month, write its
    rows to `<dump_dir>/<partition>.csv.gz` (CSV with a header) and drop it. Returns the files written."""
    if older_than_months < 1:
        raise ValueError("Keep at least one month: --older-than-months must be 1 or more.")
    boundary = month_add(month=today, months=-older_than_months)
    dump_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for table, _column in partitioned_tables():
        old = [name for month, name in sorted(partitions_of(table=table).items()) if month < boundary]
        if not old:
            continue
        with transaction.atomic():
            before_detach(table, old)
            for name in old:
                q = connection.ops.quote_name(name)
                _run(f"ALTER TABLE {connection.ops.quote_name(table)} DETACH PARTITION {q}")
                path = dump_dir / f"{name}.csv.gz"
                with (
                    gzip.open(path, "wb") as out,
                    connection.cursor() as cur,
                    cur.cursor.copy(f"COPY {q} TO STDOUT WITH (FORMAT csv, HEADER)") as cp,
                ):
                    for chunk in cp:
                        out.write(chunk)
                _run(f"DROP TABLE {q}")
                written.append(path)
    return written
