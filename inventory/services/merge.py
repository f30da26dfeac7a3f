"""Bulk merge of staged stock rows (CSV imports and WMS feeds) and full snapshots: set-based SQL, one
ledger row per change, refusing or clamping rows that would go below zero."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from inventory.models import (
    StockLevel,
)
from inventory.services.shortages import _shortages_from_diff, stock_shortages_sync
from inventory.services.stock import Reason, StockChange, _lock_levels, stock_apply_changes
from inventory.signals import stock_levels_changed_send_for_table

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import AbstractBaseUser
    from django.db.backends.utils import CursorWrapper

# Above this many rows a merge takes an EXCLUSIVE lock on the stock table (PostgreSQL) instead of locking
# each row: reads go on, writers queue for the few seconds the merge takes, and nobody can deadlock with it.
MERGE_TABLE_LOCK_ROWS = 20_000


# stock_merge_staged joins by index lookups when the stock table has this many times the staged rows or more.
MERGE_INDEX_LOOKUP_RATIO = 4


@dataclass(slots=True)
class MergeResult:
    rows_changed: int = 0
    rows_created: int = 0
    movements: int = 0
    shortages_opened: int = 0
    shortages_resolved: int = 0


@dataclass(frozen=True, slots=True)
class NegativeRow:
    row: int
    product_id: int
    location_id: int
    on_hand: int
    would_be: int


class StockWouldGoNegative(ValidationError):
    """A delta would take on hand below zero; `rows` lists the first offenders, `total` counts them all."""

    def __init__(self, rows: list[NegativeRow], total: int) -> None:
        self.rows = rows
        self.total = total
        super().__init__(f"{total} row(s) would take on hand below zero.")


def _sql_now():
    return connection.ops.adapt_datetimefield_value(timezone.now())


def _merge_by_index(*, staged: float, stock_rows: float) -> bool:
    """Whether a merge of `staged` rows joins the stock table by index lookups (PostgreSQL's row estimates;
    -1 for a table never analyzed)."""
    return 0 <= staged * MERGE_INDEX_LOOKUP_RATIO < stock_rows


@contextmanager
def _joins_by_index(cur: CursorWrapper, *, enabled: bool) -> Iterator[None]:
    """Inside the block (when `enabled`, on PostgreSQL), joins go by index lookups only: no hash or merge
    joins, no memoize (staged keys are distinct: its cache would never hit). The caller's settings are put
    back after it, unless the transaction failed meanwhile. Inside a savepoint, a rollback to it undoes
    both the change and the restore, which leaves the settings as before as well."""
    if not enabled:
        yield
        return
    names = ("enable_hashjoin", "enable_mergejoin", "enable_memoize")
    cur.execute("SELECT " + ", ".join(f"current_setting('{n}')" for n in names))
    before = cur.fetchone()
    cur.execute("SELECT " + ", ".join(f"set_config('{n}', 'off', true)" for n in names))
    try:
        yield
    finally:
        from psycopg import pq

        if connection.connection.info.transaction_status != pq.TransactionStatus.INERROR:
            cur.execute("SELECT " + ", ".join(f"set_config('{n}', %s, true)" for n in names), before)


class BelowZero(StrEnum):
    """What a stock merge does where on hand would end below zero."""

    REFUSE = "refuse"  # raise StockWouldGoNegative, nothing written
    CLAMP = "clamp"  # write zero (a WMS feed reports what it counts, never less than nothing)


def _merge_new_expr(*, mode: str, below_zero: BelowZero, pg: bool) -> str:
    if mode == "snapshot":
        new_expr = "t.qty"
    elif mode == "delta":
        new_expr = "COALESCE(s.on_hand, 0) + t.qty"
    elif mode == "mixed":
        new_expr = "COALESCE(t.set_qty, s.on_hand, 0) + t.delta"
    else:
        raise ValueError(f"Unknown merge mode {mode!r}.")
    if below_zero == BelowZero.CLAMP:
        new_expr = f"{'GREATEST' if pg else 'MAX'}(0, {new_expr})"
    return new_expr


def _merge_lock_pg(cur: CursorWrapper, *, t: str, staged_rows: int | None) -> bool:
    """PostgreSQL: session settings for the merge and locks on the stock rows it touches (the whole table
    for a big merge). Returns whether joins should find stock rows by index."""
    cur.execute("SET LOCAL work_mem = '256MB'")
    # These few big, simple statements cost the planner past jit_above_cost, and compiling them
    # (0.1–0.35 s each, measured) never pays back on scans and joins this plain.
    cur.execute("SET LOCAL jit = off")
    if staged_rows is None:
        cur.execute(f"ANALYZE {t}")  # temporary tables have no statistics until told
    # ANALYZE just counted it (exactly below 30,000 rows, closely above), or the caller did: no scan.
    cur.execute(
        "SELECT (SELECT reltuples FROM pg_class WHERE oid = %s::regclass),"
        " (SELECT reltuples FROM pg_class WHERE oid = 'inventory_stocklevel'::regclass)",
        [t],
    )
    staged, stock_rows = cur.fetchone()
    if staged_rows is not None:
        staged = staged_rows
    # A merge much smaller than the stock table (a feed document, a small delta file) finds its rows
    # by index: the planner would rather hash the whole stock table, which for 100k staged rows
    # against 1.4M stock rows took 1.0–1.3 s where index lookups took 0.4 s (and the update by id
    # as much again).
    index_lookups = _merge_by_index(staged=staged, stock_rows=stock_rows)
    if staged > MERGE_TABLE_LOCK_ROWS:
        cur.execute("LOCK TABLE inventory_stocklevel IN EXCLUSIVE MODE")
    else:
        # The same order as stock_apply_changes (primary key), so the two never deadlock.
        cur.execute(
            f"SELECT s.id FROM inventory_stocklevel s JOIN {t} t ON s.product_id = t.product_id"
            f" AND s.location_id = t.location_id ORDER BY s.id FOR UPDATE OF s"
        )
    return index_lookups


def _merge_rows_create(cur: CursorWrapper, *, diff: str, now: datetime, created: int) -> int:
    """Insert the diff's new stock rows; refuses the merge if any names a product or location that does not
    exist. Returns how many were inserted."""
    # StockLevel has no database FK checks: new rows are written only for ids that exist (two
    # semi-joins in the insert itself; callers resolve ids from codes, so this is a guard, not
    # validation), and if any were left out the whole merge is refused. In product order, so each
    # product's rows share a page or two (inventory/maintenance.py).
    cur.execute(
        f"INSERT INTO inventory_stocklevel (product_id, location_id, on_hand, reserved, updated_at)"
        f" SELECT d.product_id, d.location_id, d.new_on_hand, 0, %s FROM {diff} d WHERE d.stock_id IS NULL"
        f" AND EXISTS (SELECT 1 FROM inventory_product p WHERE p.id = d.product_id)"
        f" AND EXISTS (SELECT 1 FROM inventory_location l WHERE l.id = d.location_id)"
        f" ORDER BY d.product_id, d.location_id",
        [now],
    )
    inserted = cur.rowcount
    if inserted != created:
        cur.execute(
            f"SELECT d.product_id, d.location_id FROM {diff} d WHERE d.stock_id IS NULL"
            f" AND (NOT EXISTS (SELECT 1 FROM inventory_product p WHERE p.id = d.product_id)"
            f" OR NOT EXISTS (SELECT 1 FROM inventory_location l WHERE l.id = d.location_id)) LIMIT 1"
        )
        unknown = cur.fetchone() or ("?", "?")
        raise ValidationError(
            f"Unknown product id {unknown[0]} or location id {unknown[1]} in staged stock: nothing was applied."
        )
    return inserted


@dataclass(frozen=True, slots=True)
class _MergeDiff:
    diff: str
    rows: int
    created: int
    any_short: bool
    index_lookups: bool


def _merge_apply(
    cur: CursorWrapper,
    *,
    d: _MergeDiff,
    result: MergeResult,
    reason: str,
    reference: str,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Write the diff: update changed rows, insert new ones, one ledger movement per change, shortages."""
    diff = d.diff
    # A savepoint: if the guard below refuses, nothing of this merge stays, even for a caller that
    # catches the error inside its own transaction.
    with transaction.atomic():
        if d.rows > d.created:  # (a first load has nothing to update: don't scan the stock table for it)
            with _joins_by_index(cur, enabled=d.index_lookups):
                cur.execute(
                    f"UPDATE inventory_stocklevel SET on_hand = d.new_on_hand, updated_at = %s"
                    f" FROM {diff} d WHERE inventory_stocklevel.id = d.stock_id",
                    [now],
                )
                result.rows_changed = cur.rowcount  # (before the settings are put back)
        if d.created:
            result.rows_created = _merge_rows_create(cur, diff=diff, now=now, created=d.created)
        cur.execute(
            f"INSERT INTO inventory_inventorymovement"
            f" (product_id, location_id, delta_on_hand, delta_reserved, reason, reference, actor_id, created_at)"
            f" SELECT product_id, location_id, new_on_hand - old_on_hand, 0, %s, %s, %s, %s"
            f" FROM {diff} WHERE new_on_hand <> old_on_hand",
            [reason, reference[:200], actor_id, now],
        )
        result.movements = cur.rowcount
        result.shortages_opened, result.shortages_resolved = _shortages_from_diff(
            cur, diff, reference, now, any_short=d.any_short
        )


def stock_merge_staged(
    *,
    table: str,
    reason: str,
    reference: str = "",
    actor_id: int | None = None,
    mode: str = "snapshot",
    below_zero: BelowZero = BelowZero.REFUSE,
    error_cap: int = 100,
    staged_rows: int | None = None,
) -> MergeResult:
    """Merge a staged table of stock rows into StockLevel and the ledger, set-based, in the caller's
    transaction (it must be inside `transaction.atomic`).

    `table` holds one row per product × location (the caller validated ids and uniqueness) with columns
    `row_no, product_id, location_id` and either `qty` (mode "snapshot": sets on hand; "delta": adds) or
    `set_qty` (nullable) and `delta` (mode "mixed": on hand = coalesce(set_qty, on hand) + delta).
    Reserved never changes. Unchanged rows are skipped; one ledger movement per changed row. Where on hand
    ends below reserved a StockShortage opens; where it recovers the open shortage resolves. Raises
    StockWouldGoNegative (nothing written) if on hand would go below zero, unless `below_zero` is CLAMP, and
    ValidationError (nothing written) if a new row names a product or location that does not exist.
    A caller that knows how many rows it staged passes `staged_rows`, which saves counting them (an ANALYZE).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("stock_merge_staged must run inside transaction.atomic().")
    pg = connection.vendor == "postgresql"
    qn = connection.ops.quote_name
    t = qn(table)
    diff = qn(f"{table}_diff")
    new_expr = _merge_new_expr(mode=mode, below_zero=below_zero, pg=pg)
    now = _sql_now()
    result = MergeResult()
    with connection.cursor() as cur:
        index_lookups = _merge_lock_pg(cur, t=t, staged_rows=staged_rows) if pg else False
        cur.execute(f"DROP TABLE IF EXISTS {diff}")
        with _joins_by_index(cur, enabled=index_lookups):
            cur.execute(
                f"CREATE TEMP TABLE {diff} AS"
                f" SELECT t.row_no, s.id AS stock_id, t.product_id, t.location_id,"
                f" COALESCE(s.on_hand, 0) AS old_on_hand, COALESCE(s.reserved, 0) AS reserved,"
                f" {new_expr} AS new_on_hand"
                f" FROM {t} t LEFT JOIN inventory_stocklevel s"
                f" ON s.product_id = t.product_id AND s.location_id = t.location_id"
                f" WHERE s.id IS NULL OR {new_expr} <> s.on_hand"
            )
        # No ANALYZE of the diff: the statements below scan it whole or hash it, and for that the planner
        # needs only its size, which it reads from the table's pages (ANALYZE cost 0.1–0.3 s per million).
        # One pass over the changes: how many would go negative, how many are new rows, any shortage?
        cur.execute(
            f"SELECT COALESCE(SUM(CASE WHEN new_on_hand < 0 THEN 1 ELSE 0 END), 0),"
            f" COALESCE(SUM(CASE WHEN stock_id IS NULL THEN 1 ELSE 0 END), 0),"
            f" COALESCE(MAX(CASE WHEN new_on_hand < reserved THEN 1 ELSE 0 END), 0), COUNT(*) FROM {diff}"
        )
        negative, created, any_short, diff_rows = cur.fetchone()
        if negative:
            cur.execute(
                f"SELECT row_no, product_id, location_id, old_on_hand, new_on_hand FROM {diff}"
                f" WHERE new_on_hand < 0 ORDER BY row_no LIMIT %s",
                [error_cap],
            )
            raise StockWouldGoNegative([NegativeRow(*r) for r in cur.fetchall()], negative)
        d = _MergeDiff(diff, diff_rows, created, bool(any_short), index_lookups)
        _merge_apply(cur, d=d, result=result, reason=reason, reference=reference, actor_id=actor_id, now=now)
        stock_levels_changed_send_for_table(cursor=cur, table=diff)
        cur.execute(f"DROP TABLE {diff}")
    return result


def stock_snapshot_apply(
    *,
    levels: list[tuple[int, int, int]],
    reason: str = Reason.IMPORT,
    reference: str = "",
    actor: AbstractBaseUser | None = None,
) -> list[StockLevel]:
    """Set on hand absolutely for (product_id, location_id, on_hand) triples through the ledger, then
    open or resolve shortages. For modest batches (admin imports, counts); big files use the fast path."""
    for p, loc, qty in levels:
        if qty < 0:
            raise ValidationError(f"On hand cannot be negative (product {p}, location {loc}: {qty}).")
    if len(levels) > SNAPSHOT_SET_BASED_ROWS:
        _snapshot_apply_staged(levels=levels, reason=reason, reference=reference, actor=actor)
        return []
    with transaction.atomic():
        keys = [(p, loc) for p, loc, _ in levels]
        current = _lock_levels(keys)
        changes = [
            StockChange(p, loc, delta_on_hand=qty - (current[(p, loc)].on_hand if (p, loc) in current else 0))
            for p, loc, qty in levels
        ]
        changes = [c for c in changes if c.delta_on_hand or (c.product_id, c.location_id) not in current]
        result = stock_apply_changes(changes=changes, reason=reason, reference=reference, actor=actor)
        stock_shortages_sync(keys=keys, source=reference)
        return result


SNAPSHOT_SET_BASED_ROWS = 500


def _snapshot_apply_staged(
    *, levels: list[tuple[int, int, int]], reason: str, reference: str, actor: AbstractBaseUser | None
) -> None:
    from common.bulk import rows_insert

    keys = {(p, loc) for p, loc, _ in levels}
    if len(keys) != len(levels):
        raise ValidationError("The same product and location appear more than once.")
    pg = connection.vendor == "postgresql"
    table = "stock_snapshot_stage"
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(
                f"CREATE TEMP TABLE {table} (row_no bigint, product_id bigint, location_id bigint, qty integer)"
                + (" ON COMMIT DROP" if pg else "")
            )
        rows_insert(
            table=table,
            columns=["row_no", "product_id", "location_id", "qty"],
            rows=([n, p, loc, qty] for n, (p, loc, qty) in enumerate(levels, start=1)),
        )
        stock_merge_staged(
            table=table,
            mode="snapshot",
            reason=reason,
            reference=reference,
            actor_id=actor.pk if getattr(actor, "pk", None) else None,
        )
        if not pg:
            with connection.cursor() as cur:
                cur.execute(f"DROP TABLE {table}")
