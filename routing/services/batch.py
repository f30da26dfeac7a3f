"""Routing in set-based batches: lock the orders, lock their stock rows in primary-key order and read fresh
ATS, decide in memory with the pure core, then take capacity (conditional updates, never past a limit) and
have each owning app write the rest through its bulk services, together or not at all. Everything pending is
routed through here, in batches."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from common.bulk import gc_paused, model_rows_insert, values_cte
from fulfillment.services import FulfillmentOrderNew, fulfillment_orders_create_bulk
from inventory.models import RefType
from inventory.selectors import SafetyStock
from inventory.services import HoldLine, ReservationHold, reservations_hold_bulk
from orders.models import Order, OrderLine
from orders.services import (
    order_events_add_bulk,
    order_lines_allocated_add,
    order_promise_redate,
    orders_allocation_status_apply,
)
from routing.core import Decision, NetworkStatic, network_prime, order_decide
from routing.lookahead import lookahead_load
from routing.models import LocationCapacity, RoutingDecision
from routing.optimizer import plan_optimize
from routing.selectors import (
    ids_in,
    network_state_load,
    network_static,
    order_ids_pending,
    order_views_load,
    pools_load,
)
from routing.services.backorders import backorders_date_for_lines

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.db.backends.utils import CursorWrapper


log = logging.getLogger(__name__)


ROUTABLE_STATUSES = (Order.Status.CREATED, Order.Status.VALIDATED)


REROUTABLE_STATUSES = (Order.Status.ROUTED, Order.Status.BACKORDERED, Order.Status.PARTIALLY_SHIPPED)


# Statuses routing may move between routed and backordered (never touches shipped, cancelled, …).
_STATUS_OWNED = (*ROUTABLE_STATUSES, Order.Status.ROUTED, Order.Status.BACKORDERED)


_CAPACITY_ATTEMPTS = 3


class CapacityTaken(Exception):
    """Another transaction used the last capacity of a location-day first; the batch is retried."""


class StockMoved(Exception):
    """Stock read without locks changed before the chosen rows were locked; the batch is retried locked."""


@dataclass(slots=True)
class _Job:
    """One order to decide inside a batch."""

    order_id: int
    kind: str
    reason: str = ""
    quantities: dict[int, int] | None = None
    exclude_location_ids: frozenset[int] = frozenset()
    require_progress: bool = False
    optimize: Callable | None = None  # a plan chosen beforehand (batch re-optimisation); None: the optimizer


@dataclass(slots=True)
class BatchResult:
    decisions: list[RoutingDecision] = field(default_factory=list)  # the stored records (unless not asked for)
    outcomes: list[str] = field(default_factory=list)  # routed / partial / backordered, per decision written
    skipped: list[int] = field(default_factory=list)  # order ids not routable now (status) or without progress


def _ship_by(static: NetworkStatic, location_id: int, day: date) -> datetime:
    loc = static.locations[location_id]
    return datetime.combine(day, loc.cutoff, tzinfo=ZoneInfo(loc.timezone))


def _money(x: float) -> Decimal:
    return Decimal(str(round(x, 2)))


def _decision_json(d: Decision) -> dict:
    return {
        "line_ids": [ln_id for ln_id in d.line_products],
        "quantities": list(d.problem.quantities) if d.problem else [],
        "rows": [c.row() for c in d.candidates],
        "unit_kg": [round(kg, 4) for kg in d.unit_kg],
    }


@dataclass(frozen=True, slots=True)
class BatchMode:
    """How a batch locks and what it hands back (one value instead of flags on every call)."""

    skip_locked: bool = False  # skip orders another worker holds (PostgreSQL), for the background runs
    lock_all: bool = False  # lock every stock row of the batch's products before reading it (the last retry)
    records: bool = True  # return the stored RoutingDecision records; counting callers go without


INTERACTIVE = BatchMode()


BACKGROUND = BatchMode(skip_locked=True, records=False)


def _orders_lock(*, ids: list[int], skip_locked: bool) -> dict[int, tuple[str, int]]:
    """Lock the orders (primary-key order): {order id: (status, channel id)}."""
    return {
        pk: (status, channel_id)
        for pk, status, channel_id in Order.objects.select_for_update(skip_locked=skip_locked)
        .filter(pk__in=ids_in(ids))
        .order_by("pk")
        .values_list("pk", "status", "channel_id")
    }


def _jobs_routable(*, jobs: list[_Job], locked: dict[int, tuple[str, int]], skipped: list[int]) -> list[_Job]:
    """The jobs whose order is in a status their kind may route; the others' ids go to `skipped`."""
    todo = []
    for job in jobs:
        status = locked.get(job.order_id, (None,))[0]
        kind_ok = ROUTABLE_STATUSES if job.kind == RoutingDecision.Kind.ROUTE else REROUTABLE_STATUSES
        j = _job_open_units(job) if status in kind_ok and job.quantities is not None else job
        ok = status in kind_ok and (j.quantities is None or bool(j.quantities))
        (todo if ok else skipped).append(j if ok else j.order_id)
    return todo


def _job_open_units(j: _Job) -> _Job:
    """A partial job's units cut to what is still open now that the order is locked: its caller read them
    before the lock, and an order change (a cancellation) may have taken some meanwhile."""
    open_units = {
        pk: qty - alloc - cancelled
        for pk, qty, alloc, cancelled in OrderLine.objects.filter(order_id=j.order_id).values_list(
            "pk", "quantity", "quantity_allocated", "quantity_cancelled"
        )
    }
    cut = {k: min(q, open_units.get(k, 0)) for k, q in j.quantities.items()}
    return replace(j, quantities={k: q for k, q in cut.items() if q > 0})


def _views_load(*, todo: list[_Job], now: datetime) -> dict:
    """The order views to decide: partial quantities one order at a time, the plain orders in one read."""
    views = {}
    for j in todo:
        if j.quantities is not None:
            views.update(order_views_load(order_ids=[j.order_id], now=now, quantities=j.quantities))
    plain = [j.order_id for j in todo if j.quantities is None]
    if plain:
        views.update(order_views_load(order_ids=plain, now=now))
    return views


def _decide_all(
    *, todo: list[_Job], views: dict, static: NetworkStatic, now: datetime, lock_all: bool, skipped: list[int]
) -> list[tuple[_Job, Decision]]:
    """Load the network state for the batch's products and decide its orders in turn, each seeing what the
    earlier ones took."""
    product_ids = sorted({ln.product_id for v in views.values() for ln in v.lines})
    clock = min((v.clock for v in views.values()), default=now)
    state, _ = network_state_load(product_ids=product_ids, static=static, clock=clock, lock=lock_all)
    state.lookahead = lookahead_load(static=static, state=state, product_ids=product_ids, clock=clock)
    pools = pools_load(channel_codes={v.channel for v in views.values()}, stock=state.stock, static=static)
    network_prime(static=static, orders=[views[j.order_id] for j in todo])
    decided: list[tuple[_Job, Decision]] = []
    for j in todo:
        view = views[j.order_id]
        state.pool_left = pools.get(view.channel, {})
        d = order_decide(
            order=view,
            static=static,
            state=state,
            exclude_location_ids=j.exclude_location_ids,
            exclude_reason=f"re-route: {j.reason or 'excluded'}",
            optimize=j.optimize or plan_optimize,
            prune=j.optimize is None,  # a plan chosen beforehand may use a location the order alone would prune
        )
        if j.require_progress and not d.shipments:
            skipped.append(j.order_id)
            continue
        state.apply(d)
        decided.append((j, d))
    return decided


def _route_batch(
    *,
    jobs: list[_Job],
    now: datetime | None,
    actor: AbstractBaseUser | None = None,
    observer: Callable[[Decision], None] | None = None,
    mode: BatchMode = INTERACTIVE,
) -> BatchResult:
    """Decide and write a batch of orders in one transaction (see the module docstring).

    By default stock is read without locks and only the rows the batch reserves are then locked (primary-key
    order) and re-checked: if any has less ATS than the batch takes, StockMoved is raised and the caller
    retries with `mode.lock_all`, which locks every stock row of the batch's products before reading them."""
    result = BatchResult()
    if not jobs:
        return result
    now = now or timezone.now()
    with transaction.atomic():
        locked = _orders_lock(ids=[j.order_id for j in jobs], skip_locked=mode.skip_locked)
        todo = _jobs_routable(jobs=jobs, locked=locked, skipped=result.skipped)
        if not todo:
            return result
        static = network_static()
        views = _views_load(todo=todo, now=now)
        decided = _decide_all(
            todo=todo, views=views, static=static, now=now, lock_all=mode.lock_all, skipped=result.skipped
        )
        if not mode.lock_all:
            _stock_recheck(decided=decided, static=static)
        channel_of = {pk: channel_id for pk, (_, channel_id) in locked.items()}
        result.decisions = _persist(
            decided=decided, static=static, channel_of=channel_of, actor=actor, now=now, records=mode.records
        )
        result.outcomes = [d.outcome for _, d in decided]
    if observer is not None:
        for _, d in decided:
            observer(d)
    return result


def _stock_recheck(*, decided: list[tuple[_Job, Decision]], static: NetworkStatic) -> None:
    """Lock the stock rows the batch takes from (primary-key order) and check each still has the ATS."""
    take: dict[tuple[int, int], int] = defaultdict(int)
    for _, d in decided:
        for s in d.shipments:
            for line_id, q in s.lines:
                take[(d.line_products[line_id], s.location_id)] += q
    if not take:
        return
    pairs = sorted(take)
    safety = SafetyStock(product_ids={p for p, _ in pairs})
    cte, params = values_cte(rows=pairs, columns=("p", "l"))
    lock = " FOR UPDATE OF s" if connection.features.has_select_for_update_of else ""
    fresh = {}
    with connection.cursor() as cur:
        cur.execute(
            f"{cte} SELECT s.product_id, s.location_id, s.on_hand, s.reserved FROM inventory_stocklevel s"
            f" JOIN v ON s.product_id = v.p AND s.location_id = v.l ORDER BY s.id{lock}",
            params,
        )
        for pid, lid, on_hand, reserved in cur.fetchall():
            kind = static.locations[lid].kind
            fresh[(pid, lid)] = on_hand - reserved - safety.quantity(product_id=pid, location_id=lid, kind=kind)
    short = [key for key, q in take.items() if fresh.get(key, 0) < q]
    if short:
        raise StockMoved(f"{len(short)} stock row(s) changed while deciding")


def _capacity_take(*, decided: list[tuple[_Job, Decision]], static: NetworkStatic) -> None:
    """One order's worth of capacity per shipment's location-day; a location-day that filled up meanwhile
    aborts the batch before anything else is written."""
    increments: dict[tuple[int, object], int] = defaultdict(int)
    for _, d in decided:
        for s in d.shipments:
            increments[(s.location_id, s.ship_date)] += 1
    if increments:
        LocationCapacity.objects.bulk_create(
            [
                LocationCapacity(location_id=lid, day=day, capacity=static.locations[lid].daily_capacity)
                for lid, day in increments
            ],
            ignore_conflicts=True,
        )
        _capacity_consume(increments=increments)


def _reservations_hold(
    *, shipments: list, channel_of: dict[int, int], order_ids: list[int], actor: AbstractBaseUser | None
) -> list[int]:
    """Reservations, one per fulfilment order, and the stock they hold (inventory's bulk service: one ledger
    movement per product × location per batch, the reservation lines hold the per-order detail)."""
    return reservations_hold_bulk(
        holds=[
            ReservationHold(
                channel_id=channel_of[d.order_id],
                reference=f"order:{d.order_id}",
                ref_type=RefType.ORDER,
                ref_id=d.order_id,
                lines=[
                    HoldLine(
                        d.line_products[line_id],
                        s.location_id,
                        q,
                        f"order_line:{line_id}",
                        RefType.ORDER_LINE,
                        line_id,
                    )
                    for line_id, q in s.lines
                ],
            )
            for d, s in shipments
        ],
        movement_reference=(
            f"order:{order_ids[0]}" if len(order_ids) == 1 else f"routing batch order:{min(order_ids)}…{max(order_ids)}"
        ),
        actor=actor,
    )


def _decision_row(*, j: _Job, d: Decision, fo_of: dict[tuple[int, int], int], actor_id: int | None) -> dict:
    """The stored decision (the explanation) as a row."""
    return {
        "order_id": d.order_id,
        "kind": j.kind,
        "outcome": d.outcome,
        "reason": j.reason[:300],
        "rule_set_version_id": d.rule_set_version_id,
        "service_level": d.service_level,
        "method": d.method,
        "rules_fired": d.rules_fired,
        "candidates": _decision_json(d),
        "excluded": {"by_reason": d.excluded, "others_without_stock": d.unlisted_locations},
        "plan": [
            {
                "location_id": s.location_id,
                "fulfillment_order_id": fo_of[(d.order_id, s.location_id)],
                "method": s.method,
                "service": s.service,
                "lines": [[lid, q] for lid, q in s.lines],
                "ship_date": s.ship_date.isoformat(),
                "delivery_date": s.delivery_date.isoformat(),
                "promise_met": s.promise_met,
                "shipping": round(s.shipping, 2),
                "handling": round(s.handling, 2),
                "adjustment": round(s.adjustment, 2),
                "charges": {k: round(v, 2) if isinstance(v, float) else v for k, v in s.charges.items()},
            }
            for s in d.shipments
        ],
        "unplaced": {str(k): v for k, v in d.unplaced.items()},
        "notes": d.notes,
        "promise_date": d.promise,
        "cost": _money(d.cost),
        "model_cost": _money(d.model_cost),
        "optimal": d.optimal,
        "compute_ms": round(d.compute_ms, 4),
        "actor_id": actor_id,
    }


def _timeline_event(
    *, dec_id: int, j: _Job, d: Decision, static: NetworkStatic, actor_id: int | None, expected: dict
) -> dict:
    where = ", ".join(f"{static.locations[s.location_id].code} ({s.method})" for s in d.shipments) or "nowhere"
    verb = "Re-routed" if j.kind == RoutingDecision.Kind.REROUTE else "Routed"
    msg = f"{verb} to {where}, cost ${d.model_cost:.2f}"
    if d.unplaced:
        msg += f"; {sum(d.unplaced.values())} unit(s) backordered"
    if j.reason:
        msg += f" ({j.reason})"
    data = {"decision_id": dec_id, "outcome": d.outcome, "fulfillment_orders": len(d.shipments)}
    if d.unplaced:
        when = expected.get(d.order_id)
        data["expected_date"] = when.isoformat() if when else None
        msg += f"; expected {when.isoformat()}" if when else ""
    return {
        "order_id": d.order_id,
        "type": "rerouted" if j.kind == RoutingDecision.Kind.REROUTE else d.outcome,
        "message": msg,
        "data": data,
        "actor_id": actor_id,
    }


def _persist(
    *,
    decided: list[tuple[_Job, Decision]],
    static: NetworkStatic,
    channel_of: dict[int, int],
    actor: AbstractBaseUser | None,
    now: datetime,
    records: bool = True,
) -> list:
    """Set-based writes for a batch of decisions (inside the caller's transaction); `channel_of` maps each
    order id to its channel id. Returns the stored decisions as model instances (none without `records`:
    route_pending only counts outcomes)."""
    if not decided:
        return []
    order_ids = [d.order_id for _, d in decided]
    # 1. Capacity first: a location-day that filled up meanwhile aborts the batch before anything is written.
    _capacity_take(decided=decided, static=static)
    # 2. Reservations and the stock they hold.
    shipments = [(d, s) for _, d in decided for s in d.shipments]
    res_ids = _reservations_hold(shipments=shipments, channel_of=channel_of, order_ids=order_ids, actor=actor)
    # 3. Fulfilment orders and their lines (fulfilment's bulk service).
    fo_ids = fulfillment_orders_create_bulk(
        orders=[
            FulfillmentOrderNew(
                order_id=d.order_id,
                location_id=s.location_id,
                method=s.method,
                reservation_id=res_id,
                carrier_service="" if s.method == "pickup" else s.service,
                ship_by=_ship_by(static, s.location_id, s.ship_date),
                estimated_cost=_money(s.shipping + s.handling),
                lines=s.lines,
            )
            for res_id, (d, s) in zip(res_ids, shipments, strict=True)
        ]
    )
    fo_of: dict[tuple[int, int], int] = {
        (d.order_id, s.location_id): fo_id for fo_id, (d, s) in zip(fo_ids, shipments, strict=True)
    }
    # 4. The decisions (the explanation).
    actor_id = actor.pk if getattr(actor, "pk", None) else None
    rows = [_decision_row(j=j, d=d, fo_of=fo_of, actor_id=actor_id) for j, d in decided]
    stamp = timezone.now()
    decision_ids = model_rows_insert(model=RoutingDecision, rows=rows, now=stamp)
    # 5. Order lines: allocated units go up (one UPDATE for the batch, through orders.services).
    alloc: dict[int, int] = defaultdict(int)
    for _, d in decided:
        for s in d.shipments:
            for line_id, q in s.lines:
                alloc[line_id] += q
    order_lines_allocated_add(amounts=alloc)
    # 6. Order status through the lifecycle: backordered while any unit is neither allocated nor cancelled,
    # else routed (orders routing does not own, e.g. partially shipped, keep theirs).
    orders_allocation_status_apply(order_ids=order_ids, statuses_from=_STATUS_OWNED, now=stamp)
    # 7. Backordered units are dated against inbound supply (when any is on its way), then the timeline.
    unplaced = [line_id for _, d in decided for line_id in d.unplaced]
    expected = (
        backorders_date_for_lines(line_ids=unplaced, order_ids=frozenset(d.order_id for _, d in decided if d.unplaced))
        if unplaced
        else {}
    )
    events = [
        _timeline_event(dec_id=dec_id, j=j, d=d, static=static, actor_id=actor_id, expected=expected)
        for dec_id, (j, d) in zip(decision_ids, decided, strict=True)
    ]
    order_events_add_bulk(events=events, now=stamp)
    # 8. Orders placed late carry their new promise (orders keeps the first one and tells the timeline why).
    _promises_redate(decided=decided, actor=actor)
    if not records:
        return []
    out = []
    for pk, row in zip(decision_ids, rows, strict=True):
        rec = RoutingDecision(pk=pk, created_at=stamp, **row)
        rec._state.adding, rec._state.db = False, connection.alias
        out.append(rec)
    return out


def _promises_redate(*, decided: list[tuple[_Job, Decision]], actor: AbstractBaseUser | None) -> None:
    for _, d in decided:
        if d.repromise is not None and d.shipments:
            why = next((n for n in d.notes if n.startswith("late:")), "late: the promise can no longer be kept")
            order_promise_redate(order_id=d.order_id, promised=d.repromise, reason=why, previous=d.promise, actor=actor)


def _rowcount(cur: CursorWrapper) -> int:
    """Rows changed by the last statement (Python's sqlite3 reports -1 for a statement starting with WITH)."""
    if cur.rowcount >= 0:
        return cur.rowcount
    cur.execute("SELECT changes()")
    return cur.fetchone()[0]


def location_capacity_day_set(*, location_id: int, day: date, capacity: int) -> None:
    """Set the limit of a location's capacity row for `day`, if routing has opened one (a day without a row
    takes the location's daily capacity when first routed). Never below what the day has already taken."""
    LocationCapacity.objects.filter(location_id=location_id, day=day).update(
        capacity=Greatest(Value(capacity), F("used"))
    )


def _capacity_consume(*, increments: dict[tuple[int, object], int]) -> None:
    """Take orders off each location-day's capacity atomically: every row is updated only while it stays
    within its limit (the database check constraint backs this up); a row that would overflow raises
    CapacityTaken and the whole batch rolls back to be decided again on fresh figures."""
    days = {day for _, day in increments}
    lids = {lid for lid, _ in increments}
    ids = {
        (lid, day): pk
        for pk, lid, day in LocationCapacity.objects.filter(location_id__in=lids, day__in=days).values_list(
            "pk", "location_id", "day"
        )
    }
    rows = sorted((ids[key], inc) for key, inc in increments.items())
    table = connection.ops.quote_name(LocationCapacity._meta.db_table)
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        cte, params = values_cte(rows=chunk, columns=("id", "amount"))
        with connection.cursor() as cur:
            cur.execute(
                f"{cte} UPDATE {table} SET used = used + v.amount FROM v "
                f"WHERE {table}.id = v.id AND {table}.used + v.amount <= {table}.capacity",
                params,
            )
            changed = _rowcount(cur)
            if changed != len(chunk):
                raise CapacityTaken(f"{len(chunk) - changed} location-day(s) ran out of capacity meanwhile")


def _run(
    *,
    jobs: list[_Job],
    now: datetime | None,
    actor: AbstractBaseUser | None = None,
    observer: Callable[[Decision], None] | None = None,
    mode: BatchMode = INTERACTIVE,
) -> BatchResult:
    """Run a batch, retrying on fresh figures when stock or capacity moved under it (the last attempt
    locks every stock row it reads, so it cannot be overtaken on stock)."""
    route = partial(_route_batch, jobs=jobs, now=now, actor=actor, observer=observer)
    # No cyclic-GC passes while a batch runs: it keeps ~100 objects per order alive until it ends (views,
    # candidates, decisions, rows to write) and makes no cycles, yet they set off a full collection over the
    # process's whole heap every few hundred orders (≈8 % of a 10,000-order run, measured). The collector
    # resumes once the batch has returned and its objects are gone.
    with gc_paused():
        for attempt in range(_CAPACITY_ATTEMPTS):
            try:
                return route(mode=mode)
            except (CapacityTaken, StockMoved) as exc:
                log.info("routing batch retried (%s), attempt %s", exc, attempt + 1)
                if isinstance(exc, StockMoved):
                    mode = replace(mode, lock_all=True)
        return route(mode=replace(mode, lock_all=True))


@dataclass(slots=True)
class PendingResult:
    orders: int = 0
    routed: int = 0
    partial: int = 0
    backordered: int = 0
    batches: int = 0


def orders_route_pending(
    *,
    batch: int = 500,
    limit: int | None = None,
    now: datetime | None = None,
    observer: Callable[[Decision], None] | None = None,
) -> PendingResult:
    """Route every waiting order (created or validated), most urgent first, `batch` orders per transaction
    with set-based writes. Safe to run concurrently (PostgreSQL skips orders another worker holds)."""
    if batch < 1:
        raise ValidationError("batch must be at least 1.")
    out = PendingResult()
    seen: set[int] = set()
    while limit is None or out.orders < limit:
        size = batch if limit is None else min(batch, limit - out.orders)
        ids = [i for i in order_ids_pending(limit=size + len(seen)) if i not in seen][:size]
        if not ids:
            break
        seen.update(ids)
        # The batch's result is counted and dropped before the collector resumes (see _run): it would
        # otherwise walk it once more.
        with gc_paused():
            result = _run(
                jobs=[_Job(order_id=i, kind=RoutingDecision.Kind.ROUTE) for i in ids],
                now=now,
                observer=observer,
                mode=BACKGROUND,
            )
            out.batches += 1
            for outcome in result.outcomes:
                out.orders += 1
                if outcome == RoutingDecision.Outcome.ROUTED:
                    out.routed += 1
                elif outcome == RoutingDecision.Outcome.PARTIAL:
                    out.partial += 1
                else:
                    out.backordered += 1
            del result
    return out
