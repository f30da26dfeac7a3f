"""Batch re-optimisation of routed, unreleased orders (issue 20 §4.1; the joint solver is routing.reopt).

Every few minutes the scheduled task takes the orders routed in the last `DOM["REOPT_WINDOW_MINUTES"]` whose
fulfilment work no location has yet (every open fulfilment order created, not released, nothing picked or
short; ship, same-day or ship-from-store work only), re-solves them together on the current stock and capacity,
and swaps the plans of the orders whose joint plan saves at least `DOM["REOPT_MARGIN"]` dollars per re-planned
order. A swap withdraws the old fulfilment orders through fulfilment (their reservations go back to sale
through inventory), routes the units again with the joint plan (a re-route decision: the explanation, with the
reason saying what changed) and adds the change to the order's timeline — together or not at all. Work
released meanwhile makes fulfilment refuse the withdrawal, and the whole window is left as it was.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from fulfillment.models import FulfillmentLine, FulfillmentOrder
from fulfillment.services import fulfillment_orders_withdraw
from orders.models import Order
from orders.services import order_lines_allocated_add
from routing.models import LocationCapacity, RoutingDecision
from routing.reopt import JointResult, Routed, plan_forcer, plans_resolve_joint
from routing.selectors import network_state_load, network_static, order_views_load
from routing.services.batch import _Job, _run

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

log = logging.getLogger(__name__)

_MOVABLE_METHODS = (FulfillmentOrder.Method.SHIP, FulfillmentOrder.Method.SAME_DAY)


@dataclass(slots=True)
class ReoptResult:
    orders: int = 0  # in the window
    replanned: int = 0
    shipments_before: int = 0  # of the window's orders
    shipments_after: int = 0
    saved: float = 0.0  # objective dollars saved by the swaps
    note: str = ""  # why nothing changed, when nothing did


@dataclass(slots=True)
class _Work:
    fo_ids: list[int]
    allocations: dict[int, dict[int, int]]  # location → order line → units
    ship_days: dict[int, object]
    cost: float


def _window(*, since: datetime, limit: int) -> dict[int, _Work]:
    """Routed orders with fulfilment work created since `since`, every open piece of it movable: created, not
    released, nothing picked or short, shipped (not picked up, transferred or drop-shipped), one per location."""
    ids = list(
        FulfillmentOrder.objects.filter(created_at__gte=since, order__status=Order.Status.ROUTED)
        .order_by("order_id")
        .values_list("order_id", flat=True)
        .distinct()[:limit]
    )
    fos = FulfillmentOrder.objects.filter(order_id__in=ids).exclude(status=FulfillmentOrder.Status.CANCELLED)
    rows = fos.values_list("pk", "order_id", "location_id", "status", "released_at", "method", "ship_by")
    bad: set[int] = set()
    work: dict[int, _Work] = {}
    tz = dict(fos.values_list("location_id", "location__timezone"))
    for pk, oid, loc, status, released_at, method, ship_by in rows:
        w = work.setdefault(oid, _Work([], {}, {}, 0.0))
        if status != FulfillmentOrder.Status.CREATED or released_at is not None or method not in _MOVABLE_METHODS:
            bad.add(oid)
        if loc in w.allocations or ship_by is None:
            bad.add(oid)
            continue
        w.fo_ids.append(pk)
        w.allocations[loc] = {}
        w.ship_days[loc] = ship_by.astimezone(ZoneInfo(tz.get(loc) or "America/New_York")).date()
    lines = FulfillmentLine.objects.filter(fulfillment_order__in=fos).values_list(
        "fulfillment_order__order_id",
        "fulfillment_order__location_id",
        "order_line_id",
        "quantity",
        "quantity_picked",
        "quantity_short",
        "quantity_cancelled",
        "fulfillment_order__estimated_cost",
    )
    for oid, loc, line_id, qty, picked, short, cancelled, _ in lines:
        if picked or short or cancelled:
            bad.add(oid)
        elif oid in work and loc in work[oid].allocations:
            at = work[oid].allocations[loc]
            at[line_id] = at.get(line_id, 0) + qty
    for oid, cost in fos.values_list("order_id", "estimated_cost"):
        if oid in work:
            work[oid].cost += float(cost)
    return {oid: w for oid, w in work.items() if oid not in bad and w.fo_ids}


def orders_reoptimise(
    *,
    window_minutes: int | None = None,
    margin: float | None = None,
    now: datetime | None = None,
    limit: int = 300,
    actor: AbstractBaseUser | None = None,
) -> ReoptResult:
    """Re-solve the window's unreleased orders jointly and swap the plans that save at least `margin` per
    re-planned order (defaults: the DOM settings). Returns what it did."""
    now = now or timezone.now()
    minutes = settings.DOM["REOPT_WINDOW_MINUTES"] if window_minutes is None else window_minutes
    margin = settings.DOM["REOPT_MARGIN"] if margin is None else margin
    if minutes < 0 or margin < 0:
        raise ValidationError("window_minutes and margin must be ≥ 0.")
    work = _window(since=now - timedelta(minutes=minutes), limit=limit)
    result = ReoptResult(orders=len(work), shipments_before=sum(len(w.fo_ids) for w in work.values()))
    result.shipments_after = result.shipments_before
    if len(work) < 2:
        result.note = "fewer than two unreleased orders in the window"
        return result
    quantities = {lid: q for w in work.values() for at in w.allocations.values() for lid, q in at.items()}
    views = order_views_load(order_ids=list(work), now=now, quantities=quantities)
    window = [
        Routed(order=views[oid], allocations=w.allocations, ship_days=w.ship_days, cost=w.cost)
        for oid, w in work.items()
        if oid in views and views[oid].lines
    ]
    static = network_static()
    product_ids = sorted({ln.product_id for r in window for ln in r.order.lines})
    state, _ = network_state_load(product_ids=product_ids, static=static, clock=now)
    joint = plans_resolve_joint(window=window, static=static, state=state, margin=margin)
    if not joint.decisions:
        result.note = joint.kept_reason
        return result
    try:
        _swap(joint=joint, window=window, work=work, now=now, actor=actor)
    except ValidationError as exc:  # work released or picked meanwhile: leave the whole window as it was
        result.note = f"left as it was: {'; '.join(exc.messages)}"
        log.info("re-optimisation skipped: %s", result.note)
        return result
    result.replanned = len(joint.decisions)
    result.shipments_after = joint.new_shipments
    result.saved = round(joint.old_cost - joint.new_cost, 2)
    return result


def _what_changed(*, before: Routed, after, codes: dict[int, str], others: int, saved: float) -> str:
    old = ", ".join(sorted(codes.get(loc, str(loc)) for loc in before.allocations))
    new = ", ".join(sorted(codes.get(s.location_id, str(s.location_id)) for s in after.shipments))
    n_old, n_new = before.shipments, len(after.shipments)
    return (
        f"re-optimised with {others} other unreleased order(s): {n_old} → {n_new} shipment(s), "
        f"from {old} to {new}, saving ${saved:.2f} on the window"
    )


def _swap(*, joint: JointResult, window: list[Routed], work: dict[int, _Work], now: datetime, actor) -> None:
    """Withdraw the old work of every re-planned order, route its units with the joint plan, note it — in one
    transaction (fulfilment refuses, with a ValidationError, work its location has by now)."""
    static = network_static()
    codes = {loc.id: loc.code for loc in static.locations.values()}
    by_id = {r.order.id: r for r in window}
    saved = joint.old_cost - joint.new_cost
    jobs, reasons = [], {}
    for oid, d in joint.decisions.items():
        before = by_id[oid]
        reasons[oid] = _what_changed(before=before, after=d, codes=codes, others=len(window) - 1, saved=saved)
        line_ids = [ln.id for ln in before.order.lines]
        units = {ln.id: ln.quantity for ln in before.order.lines}
        jobs.append(
            _Job(
                order_id=oid,
                kind=RoutingDecision.Kind.REROUTE,
                reason=reasons[oid],
                quantities=units,
                optimize=plan_forcer(decision=d, line_ids=line_ids),
            )
        )
    with transaction.atomic():
        taken: dict[int, int] = defaultdict(int)
        for oid in joint.decisions:
            got = fulfillment_orders_withdraw(
                order_id=oid, fulfillment_order_ids=work[oid].fo_ids, actor=actor, reason="re-optimised"
            )
            for lid, q in got.items():
                taken[lid] += q
        order_lines_allocated_add(amounts={lid: -q for lid, q in taken.items()})
        _capacity_give_back(
            slots=[(loc, by_id[oid].ship_days[loc]) for oid in joint.decisions for loc in work[oid].allocations]
        )
        result = _run(jobs=jobs, now=now, actor=actor)
        if len(result.decisions) != len(jobs):
            raise ValidationError("an order of the window changed while it was re-optimised")


def _capacity_give_back(*, slots: list[tuple[int, object]]) -> None:
    """One order's worth of capacity back to each withdrawn fulfilment order's location-day."""
    for loc, day in sorted(slots, key=lambda s: (s[0], s[1])):
        LocationCapacity.objects.filter(location_id=loc, day=day).update(used=Greatest(F("used") - 1, Value(0)))
