"""The only writers of stock. Every change to on_hand or reserved writes an InventoryMovement.

All writes go through `stock_apply_changes`, which locks the affected StockLevel rows in primary-key
order (so two writers can never deadlock), checks the non-negative invariants with messages naming the
SKU and location, updates the rows and appends the ledger, all in the caller's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from inventory.bulk import model_rows_insert, values_cte
from inventory.models import (
    CycleCount,
    InventoryMovement,
    Location,
    Product,
    RefType,
    Reservation,
    ReservationLine,
    SafetyStockRule,
    StockLevel,
    StockShortage,
)
from inventory.selectors import ats_for_products
from inventory.signals import stock_levels_changed_send_for_deltas, stock_levels_changed_send_for_table

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

Reason = InventoryMovement.Reason


@dataclass(frozen=True, slots=True)
class StockChange:
    product_id: int
    location_id: int
    delta_on_hand: int = 0
    delta_reserved: int = 0


@dataclass(frozen=True, slots=True)
class ReserveLine:
    product_id: int
    quantity: int
    location_id: int | None = None
    reference: str = ""
    ref_type: str = RefType.NONE  # what the line is held for (typed reference, see inventory.models.RefType)
    ref_id: int | None = None


@dataclass(frozen=True, slots=True)
class Shortage:
    sku: str
    requested: int
    available: int
    location: str | None = None

    def as_dict(self) -> dict:
        d = {"sku": self.sku, "requested": self.requested, "available": self.available}
        if self.location:
            d["location"] = self.location
        return d


class InsufficientStock(Exception):
    """Raised with every shortage of a request at once; nothing was held."""

    def __init__(self, shortages: list[Shortage]) -> None:
        self.shortages = shortages
        super().__init__(
            "Not enough stock: "
            + "; ".join(f"{s.sku} requested {s.requested}, available {s.available}" for s in shortages)
        )


def _describe(product_id: int, location_id: int) -> str:
    sku = Product.objects.filter(pk=product_id).values_list("sku", flat=True).first() or product_id
    code = Location.objects.filter(pk=location_id).values_list("code", flat=True).first() or location_id
    return f"SKU {sku} at {code}"


def stock_apply_changes(
    *,
    changes: list[StockChange],
    reason: str,
    reference: str = "",
    actor: AbstractBaseUser | None = None,
) -> list[StockLevel]:
    """Apply deltas to stock levels and append one ledger movement per change.

    Set-based whatever the size: one statement locks the rows (primary-key order), one creates missing
    rows, one updates them all, one inserts the ledger. Raises ValidationError naming SKU and location
    (nothing written) when on_hand or reserved would go below zero.
    """
    if not changes:
        return []
    merged: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for c in changes:
        m = merged[(c.product_id, c.location_id)]
        m[0] += c.delta_on_hand
        m[1] += c.delta_reserved
    with transaction.atomic():
        keys = list(merged)
        existing = _lock_levels(keys)
        missing = [k for k in keys if k not in existing]
        if missing:
            _refuse_unknown_keys(missing)
            StockLevel.objects.bulk_create(
                [StockLevel(product_id=p, location_id=loc) for p, loc in missing], ignore_conflicts=True
            )
            existing.update(_lock_levels(missing))
        errors = []
        for key, (d_on_hand, d_reserved) in merged.items():
            level = existing[key]
            level.on_hand += d_on_hand
            level.reserved += d_reserved
            if level.on_hand < 0:
                errors.append(f"{_describe(*key)}: on hand would become {level.on_hand}.")
            if level.reserved < 0:
                errors.append(f"{_describe(*key)}: reserved would become {level.reserved}.")
        if errors:
            raise ValidationError(errors)
        now = timezone.now()
        levels = [existing[k] for k in keys if merged[k] != [0, 0]]
        for level in levels:
            level.updated_at = now
        _levels_write(levels=levels, now=now)
        # The ledger by COPY on PostgreSQL (inventory.bulk): a routing batch appends thousands of rows here.
        actor_id = actor.pk if getattr(actor, "pk", None) else None
        model_rows_insert(
            model=InventoryMovement,
            rows=[
                {
                    "product_id": c.product_id,
                    "location_id": c.location_id,
                    "delta_on_hand": c.delta_on_hand,
                    "delta_reserved": c.delta_reserved,
                    "reason": reason,
                    "reference": reference[:200],
                    "actor_id": actor_id,
                }
                for c in changes
                if c.delta_on_hand or c.delta_reserved
            ],
            now=now,
            returning=False,
        )
        stock_levels_changed_send_for_deltas(deltas=merged, levels=existing)
        return [existing[k] for k in keys]


# Rows per statement: well under SQLite's 32k-parameter limit with three or two parameters a row.
_CHUNK = 5000


def _levels_write(*, levels: list[StockLevel], now) -> None:
    """One UPDATE … FROM a VALUES list per chunk (PostgreSQL and SQLite ≥ 3.33 both support it)."""
    with connection.cursor() as cur:
        for i in range(0, len(levels), _CHUNK):
            chunk = levels[i : i + _CHUNK]
            cte, params = values_cte(
                rows=[(lv.pk, lv.on_hand, lv.reserved) for lv in chunk], columns=("id", "on_hand", "reserved")
            )
            cur.execute(
                f"{cte} UPDATE inventory_stocklevel SET on_hand = v.on_hand, reserved = v.reserved, updated_at = %s "
                "FROM v WHERE inventory_stocklevel.id = v.id",
                [*params, now],
            )


def _refuse_unknown_keys(keys: list[tuple[int, int]]) -> None:
    """Refuse new stock rows for products or locations that do not exist (StockLevel has no database FK
    checks: they cost too much on bulk loads, so the services check the ids they are about to create)."""
    products = {p for p, _ in keys}
    locations = {loc for _, loc in keys}
    unknown_p = products - set(Product.objects.filter(pk__in=products).values_list("pk", flat=True))
    unknown_l = locations - set(Location.objects.filter(pk__in=locations).values_list("pk", flat=True))
    if unknown_p or unknown_l:
        raise ValidationError(
            "Unknown "
            + "; ".join(
                f"{what} id(s) {', '.join(map(str, sorted(ids)[:10]))}"
                for what, ids in (("product", unknown_p), ("location", unknown_l))
                if ids
            )
            + ": no stock was changed."
        )


def _lock_levels(keys: list[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    """Read (and on PostgreSQL lock, in primary-key order) the stock rows of these product × location keys."""
    found: dict[tuple[int, int], StockLevel] = {}
    lock = " FOR UPDATE OF s" if connection.features.has_select_for_update_of else ""
    with connection.cursor() as cur:
        for i in range(0, len(keys), _CHUNK):
            cte, params = values_cte(rows=keys[i : i + _CHUNK], columns=("p", "l"))
            cur.execute(
                f"{cte} SELECT s.id, s.product_id, s.location_id, s.on_hand, s.reserved FROM inventory_stocklevel s "
                f"JOIN v ON s.product_id = v.p AND s.location_id = v.l ORDER BY s.id{lock}",
                params,
            )
            for pk, pid, lid, on_hand, reserved in cur.fetchall():
                found[(pid, lid)] = StockLevel(
                    pk=pk, product_id=pid, location_id=lid, on_hand=on_hand, reserved=reserved
                )
    return found


def stock_adjust(
    *,
    product: Product,
    location: Location,
    delta: int,
    reason: str = Reason.ADJUST,
    reference: str = "",
    actor: AbstractBaseUser | None = None,
) -> StockLevel:
    """Add (or remove, with a negative delta) units on hand, with a reason for the ledger."""
    if delta == 0:
        raise ValidationError("An adjustment needs a non-zero quantity.")
    return stock_apply_changes(
        changes=[StockChange(product.pk, location.pk, delta_on_hand=delta)],
        reason=reason,
        reference=reference,
        actor=actor,
    )[0]


def stock_receive(
    *, product: Product, location: Location, quantity: int, reference: str = "", actor: AbstractBaseUser | None = None
) -> StockLevel:
    """Units arrived at a location (purchase order, transfer, return to stock)."""
    if quantity <= 0:
        raise ValidationError(f"Received quantity for SKU {product.sku} must be positive, got {quantity}.")
    return stock_adjust(
        product=product, location=location, delta=quantity, reason=Reason.RECEIVE, reference=reference, actor=actor
    )


def stock_set_on_hand(
    *,
    product: Product,
    location: Location,
    on_hand: int,
    reason: str = Reason.COUNT,
    reference: str = "",
    actor: AbstractBaseUser | None = None,
) -> StockLevel:
    """Set on_hand absolutely (a count or a snapshot); reserved stays as it was."""
    if on_hand < 0:
        raise ValidationError(f"On hand for SKU {product.sku} at {location.code} cannot be negative.")
    with transaction.atomic():
        current = _lock_levels([(product.pk, location.pk)]).get((product.pk, location.pk))
        delta = on_hand - (current.on_hand if current else 0)
        if delta == 0 and current:
            return current
        return stock_apply_changes(
            changes=[StockChange(product.pk, location.pk, delta_on_hand=delta)],
            reason=reason,
            reference=reference,
            actor=actor,
        )[0]


def _reserve_place(*, lines: list[ReserveLine], ats: dict) -> tuple[list[tuple[ReserveLine, int, int]], list[Shortage]]:
    """Place each line on the locked ATS: at its own location, or from the locations with the most ATS
    first. Returns what is placed, (line, location id, units), and every shortage."""
    # Remaining ATS per product × location and per product (pool-capped), spent as lines are placed.
    left_at = {(pid, la.location_id): la.available for pid, pa in ats.items() for la in pa.locations}
    left_total = {pid: pa.available for pid, pa in ats.items()}
    codes = {la.location_id: la.location_code for pa in ats.values() for la in pa.locations}
    placed: list[tuple[ReserveLine, int, int]] = []
    shortages: list[Shortage] = []
    for ln in lines:
        pa = ats[ln.product_id]
        if ln.location_id is not None:
            here = min(left_at.get((ln.product_id, ln.location_id), 0), left_total[ln.product_id])
            if here < ln.quantity:
                code = codes.get(ln.location_id) or Location.objects.get(pk=ln.location_id).code
                shortages.append(Shortage(pa.sku, ln.quantity, here, code))
                continue
            take = [(ln.location_id, ln.quantity)]
        else:
            if left_total[ln.product_id] < ln.quantity:
                shortages.append(Shortage(pa.sku, ln.quantity, left_total[ln.product_id]))
                continue
            need, take = ln.quantity, []
            for la in sorted(pa.locations, key=lambda a: (-left_at[(ln.product_id, a.location_id)], a.location_code)):
                can = left_at[(ln.product_id, la.location_id)]
                if can <= 0:
                    break
                q = min(can, need)
                take.append((la.location_id, q))
                need -= q
                if need == 0:
                    break
        for loc_id, q in take:
            left_at[(ln.product_id, loc_id)] -= q
            left_total[ln.product_id] -= q
            placed.append((ln, loc_id, q))
    return placed, shortages


def stock_reserve(
    *,
    lines: list[ReserveLine],
    channel=None,
    method: str | None = None,
    ttl: timedelta | None = None,
    reference: str = "",
    ref_type: str = RefType.NONE,
    ref_id: int | None = None,
    actor: AbstractBaseUser | None = None,
) -> Reservation:
    """Hold stock for every line or for none (all-or-nothing), never more than ATS. `ref_type`/`ref_id`
    name what it is held for (an order), as do each line's.

    Lines naming a location are held there; others are taken from the locations with the most ATS for
    the channel and method. Raises InsufficientStock listing every shortage; nothing is held then.
    """
    if not lines:
        raise ValidationError("A reservation needs at least one line.")
    for ln in lines:
        if ln.quantity <= 0:
            raise ValidationError(f"Quantity must be positive (got {ln.quantity}).")
    with transaction.atomic():
        product_ids = sorted({ln.product_id for ln in lines})
        ats = ats_for_products(product_ids=product_ids, channel=channel, method=method, for_update=True)
        placed, shortages = _reserve_place(lines=lines, ats=ats)
        if shortages:
            raise InsufficientStock(shortages)
        reservation = Reservation.objects.create(
            channel=channel,
            reference=reference[:100],
            ref_type=ref_type,
            ref_id=ref_id,
            expires_at=timezone.now() + ttl if ttl else None,
        )
        ReservationLine.objects.bulk_create(
            [
                ReservationLine(
                    reservation=reservation,
                    product_id=ln.product_id,
                    location_id=loc_id,
                    quantity=q,
                    reference=ln.reference,
                    ref_type=ln.ref_type,
                    ref_id=ln.ref_id,
                )
                for ln, loc_id, q in placed
            ]
        )
        stock_apply_changes(
            changes=[StockChange(ln.product_id, loc_id, delta_reserved=q) for ln, loc_id, q in placed],
            reason=Reason.RESERVE,
            reference=f"reservation:{reservation.pk}",
            actor=actor,
        )
        return reservation


# --- Locations -------------------------------------------------------------------------------------------


def location_settings_set(
    *, location: Location, daily_capacity: int | None = None, sell_online: bool | None = None
) -> Location:
    """Change a location's daily capacity and/or whether it sells online. Saved through the model, so the
    post_save signal fires and every process's cached routing network is rebuilt on its next routing."""
    if daily_capacity is not None and daily_capacity < 0:
        raise ValidationError({"daily_capacity": "Capacity cannot be negative."})
    with transaction.atomic():
        loc = Location.objects.select_for_update().get(pk=location.pk)
        changed = []
        for name, value in (("daily_capacity", daily_capacity), ("sell_online", sell_online)):
            if value is not None and getattr(loc, name) != value:
                setattr(loc, name, value)
                setattr(location, name, value)
                changed.append(name)
        if changed:
            loc.save(update_fields=changed)
        return loc


def location_safety_stock_set(*, location: Location, quantity: int, note: str = "") -> None:
    """The location-wide safety-stock rule (every product): `quantity` units held back from online orders;
    0 removes the rule."""
    if quantity < 0:
        raise ValidationError({"quantity": "Safety stock cannot be negative."})
    rule = SafetyStockRule.objects.filter(product=None, location=location, location_kind="").first()
    if quantity > 0:
        if rule is None:
            SafetyStockRule.objects.create(location=location, quantity=quantity, note=note)
        else:
            rule.quantity, rule.note = quantity, note
            rule.save(update_fields=["quantity", "note"])
    elif rule is not None:
        rule.delete()


@dataclass(frozen=True, slots=True)
class HoldLine:
    product_id: int
    location_id: int
    quantity: int
    reference: str = ""
    ref_type: str = RefType.NONE
    ref_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReservationHold:
    """One reservation to create: placed units at named locations (the caller decided where)."""

    channel_id: int | None
    reference: str
    lines: list[HoldLine]
    ref_type: str = RefType.NONE
    ref_id: int | None = None


def reservations_hold_bulk(
    *,
    holds: list[ReservationHold],
    movement_reference: str | None = None,
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Create many reservations at once (routing's batch writer, ship-to-store receipts) and hold their stock,
    in the caller's transaction: reservations and their lines streamed set-based (COPY on PostgreSQL), then
    one `stock_apply_changes` with one ledger movement per product × location (the lines keep the detail).

    No ATS check: the caller already decided against fresh ATS (routing re-checks under lock); the stock
    write still refuses to drive reserved past on_hand's invariants. Returns the reservation ids in order."""
    if not holds:
        return []
    res_ids = model_rows_insert(
        model=Reservation,
        rows=[
            {
                "channel_id": h.channel_id,
                "reference": h.reference[:100],
                "ref_type": h.ref_type,
                "ref_id": h.ref_id,
                "status": "active",
            }
            for h in holds
        ],
        now=now,
    )
    rows, merged = [], defaultdict(int)
    for res_id, h in zip(res_ids, holds, strict=True):
        for ln in h.lines:
            rows.append(
                {
                    "reservation_id": res_id,
                    "product_id": ln.product_id,
                    "location_id": ln.location_id,
                    "quantity": ln.quantity,
                    "reference": ln.reference,
                    "ref_type": ln.ref_type,
                    "ref_id": ln.ref_id,
                }
            )
            merged[(ln.product_id, ln.location_id)] += ln.quantity
    model_rows_insert(model=ReservationLine, rows=rows, now=now)
    if merged:
        changes = [StockChange(p, lid, delta_reserved=q) for (p, lid), q in sorted(merged.items())]
        ref = movement_reference or (f"reservation:{res_ids[0]}" if len(res_ids) == 1 else "reservations")
        stock_apply_changes(changes=changes, reason=Reason.RESERVE, reference=ref, actor=actor)
    return res_ids


def reservation_hold(*, hold: ReservationHold, actor: AbstractBaseUser | None = None) -> Reservation:
    """Create one reservation of placed units (see `reservations_hold_bulk`) and return it."""
    with transaction.atomic():
        (pk,) = reservations_hold_bulk(holds=[hold], actor=actor)
        return Reservation.objects.get(pk=pk)


def _close_lines(
    *,
    reservation: Reservation,
    quantities: dict[int, int] | None,
    consume: bool,
    reason: str,
    actor: AbstractBaseUser | None,
    reference: str,
) -> list[ReservationLine]:
    lines = list(reservation.lines.select_for_update().order_by("pk"))
    changes, touched = [], []
    for line in lines:
        q = line.quantity_open if quantities is None else quantities.get(line.pk, 0)
        if q <= 0:
            continue
        if q > line.quantity_open:
            raise ValidationError(f"Reservation line {line.pk}: only {line.quantity_open} open, cannot close {q}.")
        line.quantity_closed += q
        touched.append(line)
        changes.append(
            StockChange(line.product_id, line.location_id, delta_on_hand=-q if consume else 0, delta_reserved=-q)
        )
    stock_apply_changes(
        changes=changes, reason=reason, reference=reference or f"reservation:{reservation.pk}", actor=actor
    )
    ReservationLine.objects.bulk_update(touched, ["quantity_closed"])
    return lines


def _lock_reservation(reservation_id: int) -> Reservation:
    return Reservation.objects.select_for_update().get(pk=reservation_id)


def reservation_release(
    *,
    reservation: Reservation,
    quantities: dict[int, int] | None = None,
    reason: str = Reason.RELEASE,
    actor: AbstractBaseUser | None = None,
    reference: str = "",
) -> Reservation:
    """Give held units back to sale: all open units, or `quantities` per reservation line id.

    Safe to call twice: a reservation that is no longer active is returned unchanged.
    """
    with transaction.atomic():
        res = _lock_reservation(reservation.pk)
        if res.status != Reservation.Status.ACTIVE:
            return res
        lines = _close_lines(
            reservation=res, quantities=quantities, consume=False, reason=reason, actor=actor, reference=reference
        )
        _finish_if_closed(
            res, lines, Reservation.Status.EXPIRED if reason == Reason.EXPIRE else Reservation.Status.RELEASED
        )
        return res


def reservation_consume(
    *,
    reservation: Reservation,
    quantities: dict[int, int] | None = None,
    actor: AbstractBaseUser | None = None,
    reference: str = "",
) -> Reservation:
    """Units left the building (shipped or handed over): on_hand and reserved go down together."""
    with transaction.atomic():
        res = _lock_reservation(reservation.pk)
        if res.status != Reservation.Status.ACTIVE:
            raise ValidationError(f"Reservation {res.pk} is {res.status}; only active reservations can ship.")
        lines = _close_lines(
            reservation=res,
            quantities=quantities,
            consume=True,
            reason=Reason.CONSUME,
            actor=actor,
            reference=reference,
        )
        _finish_if_closed(res, lines, Reservation.Status.CONSUMED)
        return res


def _finish_if_closed(res: Reservation, lines: list[ReservationLine], status: str) -> None:
    if all(line.quantity_open == 0 for line in lines):
        res.status = status
        res.save(update_fields=["status", "updated_at"])


def reservation_expire_due(*, now: datetime | None = None, batch: int = 500) -> int:
    """Release every active reservation past its expiry. Idempotent: run it as often as you like."""
    now = now or timezone.now()
    count = 0
    ids = list(
        Reservation.objects.filter(status=Reservation.Status.ACTIVE, expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )
    for pk in ids:
        res = reservation_release(reservation=Reservation(pk=pk), reason=Reason.EXPIRE, reference=f"expired:{pk}")
        count += res.status == Reservation.Status.EXPIRED
    return count


# --- Bulk merge (imports and WMS feeds) ------------------------------------------------------------------

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
def _joins_by_index(cur, *, enabled: bool) -> Iterator[None]:
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


def _merge_lock_pg(cur, *, t: str, staged_rows: int | None) -> bool:
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


def _merge_rows_create(cur, *, diff: str, now, created: int) -> int:
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


def _merge_apply(cur, *, d: _MergeDiff, result: MergeResult, reason: str, reference: str, actor_id, now) -> None:
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


def _shortages_from_diff(cur, diff: str, source: str, now, *, any_short: bool) -> tuple[int, int]:
    """Open, refresh or resolve shortages for the keys a merge changed (`any_short`: one ends below reserved)."""
    cur.execute("SELECT EXISTS (SELECT 1 FROM inventory_stockshortage WHERE resolved_at IS NULL)")
    any_open = bool(cur.fetchone()[0])
    opened = resolved = 0
    if any_open:
        cur.execute(
            f"UPDATE inventory_stockshortage SET resolved_at = %s FROM {diff} d"
            f" WHERE inventory_stockshortage.product_id = d.product_id"
            f" AND inventory_stockshortage.location_id = d.location_id"
            f" AND inventory_stockshortage.resolved_at IS NULL AND d.new_on_hand >= d.reserved",
            [now],
        )
        resolved = cur.rowcount
        cur.execute(
            f"UPDATE inventory_stockshortage SET on_hand = d.new_on_hand, reserved = d.reserved FROM {diff} d"
            f" WHERE inventory_stockshortage.product_id = d.product_id"
            f" AND inventory_stockshortage.location_id = d.location_id"
            f" AND inventory_stockshortage.resolved_at IS NULL AND d.new_on_hand < d.reserved"
        )
    if any_short:
        cur.execute(
            f"INSERT INTO inventory_stockshortage (product_id, location_id, on_hand, reserved, source, detected_at)"
            f" SELECT d.product_id, d.location_id, d.new_on_hand, d.reserved, %s, %s FROM {diff} d"
            f" WHERE d.new_on_hand < d.reserved AND NOT EXISTS (SELECT 1 FROM inventory_stockshortage x"
            f" WHERE x.product_id = d.product_id AND x.location_id = d.location_id AND x.resolved_at IS NULL)",
            [source[:200], now],
        )
        opened = cur.rowcount
    return opened, resolved


def stock_shortages_sync(*, keys: Iterable[tuple[int, int]], source: str = "") -> tuple[int, int]:
    """Open or resolve shortages for a few product × location keys after a change (counts, admin imports).

    Returns (opened, resolved). Runs in the caller's transaction.
    """
    keys = set(keys)
    if not keys:
        return 0, 0
    now = timezone.now()
    levels = {
        (lv.product_id, lv.location_id): lv
        for lv in StockLevel.objects.filter(
            product_id__in={p for p, _ in keys}, location_id__in={loc for _, loc in keys}
        )
        if (lv.product_id, lv.location_id) in keys
    }
    open_ = {
        (s.product_id, s.location_id): s
        for s in StockShortage.objects.filter(
            resolved_at__isnull=True, product_id__in={p for p, _ in keys}, location_id__in={loc for _, loc in keys}
        )
    }
    opened = resolved = 0
    for key in keys:
        level, shortage = levels.get(key), open_.get(key)
        short = level is not None and level.on_hand < level.reserved
        if short and shortage is None:
            StockShortage.objects.create(
                product_id=key[0],
                location_id=key[1],
                on_hand=level.on_hand,
                reserved=level.reserved,
                source=source[:200],
                detected_at=now,
            )
            opened += 1
        elif short:
            StockShortage.objects.filter(pk=shortage.pk).update(on_hand=level.on_hand, reserved=level.reserved)
        elif shortage is not None:
            StockShortage.objects.filter(pk=shortage.pk).update(resolved_at=now)
            resolved += 1
    return opened, resolved


def stock_shortage_resolve(*, shortage_id: int, actor: AbstractBaseUser | None = None) -> StockShortage:
    """Close an open shortage (e.g. once routing has re-routed what it left uncovered). Idempotent."""
    with transaction.atomic():
        shortage = StockShortage.objects.select_for_update().get(pk=shortage_id)
        if shortage.resolved_at is None:
            shortage.resolved_at = timezone.now()
            shortage.save(update_fields=["resolved_at"])
        return shortage


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
    from inventory.bulk import rows_insert

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


def _cycle_count_create(
    *,
    product: Product,
    location: Location,
    counted_quantity: int,
    counted_at: datetime | None,
    adjust: bool,
    note: str,
    actor: AbstractBaseUser | None,
) -> CycleCount:
    """Record a physical count against the system's on hand at this moment; with `adjust`, set on hand to
    the count (ledger reason "count") and flag a shortage if it is now below reserved."""
    if counted_quantity < 0:
        raise ValidationError(f"Counted quantity for SKU {product.sku} at {location.code} cannot be negative.")
    with transaction.atomic():
        level = _lock_levels([(product.pk, location.pk)]).get((product.pk, location.pk))
        count = CycleCount.objects.create(
            product=product,
            location=location,
            counted_quantity=counted_quantity,
            system_quantity=level.on_hand if level else 0,
            counted_at=counted_at or timezone.now(),
            counted_by=actor if getattr(actor, "pk", None) else None,
            adjusted=adjust,
            note=note[:200],
        )
        if adjust:
            stock_snapshot_apply(
                levels=[(product.pk, location.pk, counted_quantity)],
                reason=Reason.COUNT,
                reference=f"count:{count.pk}",
                actor=actor,
            )
        return count


def cycle_count_record(
    *,
    product: Product,
    location: Location,
    counted_quantity: int,
    counted_at: datetime | None = None,
    note: str = "",
    actor: AbstractBaseUser | None = None,
) -> CycleCount:
    """Record a physical count and set on hand to it (ledger reason "count"); a shortage is flagged if on
    hand is now below reserved."""
    return _cycle_count_create(
        product=product,
        location=location,
        counted_quantity=counted_quantity,
        counted_at=counted_at,
        adjust=True,
        note=note,
        actor=actor,
    )


def cycle_count_log(
    *,
    product: Product,
    location: Location,
    counted_quantity: int,
    counted_at: datetime | None = None,
    note: str = "",
    actor: AbstractBaseUser | None = None,
) -> CycleCount:
    """Record a physical count for the accuracy figures only: on hand stays as it is."""
    return _cycle_count_create(
        product=product,
        location=location,
        counted_quantity=counted_quantity,
        counted_at=counted_at,
        adjust=False,
        note=note,
        actor=actor,
    )
