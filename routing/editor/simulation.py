"""What-if simulation: route past orders with a draft and with the published version, side by side, on an
in-memory snapshot of today's stock, channel pools and capacity; and "test one order" the same way.

Nothing live is written: the snapshot is read once (no locks) with the routing selectors, each side gets
its own copy, and every order is decided by the pure routing core (`routing.core.order_decide`) — the same
code live routing runs — then taken out of that side's copy (`NetworkState.apply`), so orders compete for
stock as they would. Only the `Simulation` row (progress and results) and the audit trail are written.

Each past order is routed as if it arrived now: all its units (minus cancelled ones), today's clock,
cut-offs and promise dates from its service level.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from orders.models import Order, OrderLine
from routing.core import Decision, NetworkState, NetworkStatic, OrderView, order_decide
from routing.editor.models import RuleSetEvent, Simulation
from routing.models import RoutingDecision, RuleSetVersion
from routing.selectors import (
    network_state_load,
    network_static,
    order_views_load,
    pools_load,
    ruleset_compiled_for,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.contrib.auth.models import AbstractBaseUser

log = logging.getLogger(__name__)

MAX_ORDERS = 50_000
MAX_CHANGED_LISTED = 1000  # changed orders listed on the result page
MAX_CHANGED_EXPLAINED = 200  # of those, kept with both full explanations
NEAREST_CANDIDATES_KEPT = 12  # candidate rows kept per stored explanation (plus every location used)
STALE_RUN = timedelta(minutes=15)  # a "running" simulation older than this was abandoned by its worker
CSV_COLUMNS = ("order", "order_number", "number", "external_id", "name")


# ---------------------------------------------------------------------------------------------------------
# Loading what the core needs


LOAD_CHUNK = 5000  # ids per query (SQLite allows at most 32,766 parameters)


def order_views_full(*, order_ids: list[int], now: datetime) -> dict[int, OrderView]:
    """Order views asking for every unit of each line (minus cancelled ones), re-placed at `now`."""
    out: dict[int, OrderView] = {}
    for start in range(0, len(order_ids), LOAD_CHUNK):
        chunk = order_ids[start : start + LOAD_CHUNK]
        quantities = {
            pk: qty - cancelled
            for pk, qty, cancelled in OrderLine.objects.filter(order_id__in=chunk).values_list(
                "pk", "quantity", "quantity_cancelled"
            )
            if qty > cancelled
        }
        views = order_views_load(order_ids=chunk, now=now, quantities=quantities)
        out.update({k: replace(v, clock=now, placed_at=now, promise=None) for k, v in views.items()})
    return out


def _state_copy(state: NetworkState) -> NetworkState:
    """An independent copy of a snapshot (much cheaper than deepcopy for large stock maps)."""
    return NetworkState(
        stock={pid: dict(at) for pid, at in state.stock.items()},
        capacity_used=dict(state.capacity_used),
        capacity_limit=dict(state.capacity_limit),
        pool_left=dict(state.pool_left),
    )


def static_for(*, version: RuleSetVersion | None, base: NetworkStatic, dist_cache: OrderedDict) -> NetworkStatic:
    """The cached network (locations, rates, penalties) with `version`'s rules compiled in."""
    return replace(base, rules=ruleset_compiled_for(version=version, locations=base.locations), _dist_cache=dist_cache)


@dataclass(slots=True)
class Snapshot:
    state: NetworkState
    pools: dict[str, dict[int, int]]
    taken_at: datetime


def snapshot_load(*, views: dict[int, OrderView], static: NetworkStatic, now: datetime) -> Snapshot:
    """Today's ATS (after safety stock), channel pools and capacity for the orders' products. No locks."""
    product_ids = sorted({ln.product_id for v in views.values() for ln in v.lines})
    state, _ = network_state_load(product_ids=product_ids, static=static, clock=now)
    pools = pools_load(channel_codes={v.channel for v in views.values()}, stock=state.stock, static=static)
    return Snapshot(state=state, pools=pools, taken_at=now)


# ---------------------------------------------------------------------------------------------------------
# The side-by-side run (pure: no database)


@dataclass(slots=True)
class SideTotals:
    """Running totals of one side."""

    orders: int = 0
    placed_in_full: int = 0
    orders_with_shipments: int = 0
    backordered_orders: int = 0
    backordered_units: int = 0
    shipments: int = 0
    cost: float = 0.0
    promise_met_orders: int = 0
    distance_sum: float = 0.0
    load: Counter = field(default_factory=Counter)  # location id → shipments
    units_by_location: Counter = field(default_factory=Counter)
    rules_fired: Counter = field(default_factory=Counter)

    def add(self, d: Decision) -> None:
        self.orders += 1
        if d.shipments:
            self.orders_with_shipments += 1
            self.promise_met_orders += d.promise_met
        if d.unplaced:
            self.backordered_orders += 1
            self.backordered_units += sum(d.unplaced.values())
        else:
            self.placed_in_full += 1
        self.shipments += len(d.shipments)
        self.cost += d.model_cost
        km = {c.location_id: c.distance_km for c in d.candidates}
        for s in d.shipments:
            self.distance_sum += km.get(s.location_id, 0.0)
            self.load[s.location_id] += 1
            self.units_by_location[s.location_id] += sum(q for _, q in s.lines)
        for r in d.rules_fired:
            self.rules_fired[r["name"]] += 1

    def as_json(self, *, codes: dict[int, str], like_for_like_cost: float) -> dict:
        with_ship = max(1, self.orders_with_shipments)
        return {
            "orders": self.orders,
            "placed_in_full": self.placed_in_full,
            "placed_pct": round(100.0 * self.placed_in_full / max(1, self.orders), 2),
            "backordered_orders": self.backordered_orders,
            "backordered_units": self.backordered_units,
            "shipments": self.shipments,
            "shipments_per_order": round(self.shipments / with_ship, 4),
            "cost_total": round(self.cost, 2),
            "cost_per_order": round(self.cost / with_ship, 2),
            "cost_like_for_like": round(like_for_like_cost, 2),
            "avg_distance_km": round(self.distance_sum / max(1, self.shipments), 1),
            "promise_met_pct": round(100.0 * self.promise_met_orders / with_ship, 2),
            "load": {codes.get(k, str(k)): v for k, v in self.load.most_common()},
            "units_by_location": {codes.get(k, str(k)): v for k, v in self.units_by_location.most_common()},
            "rules_fired": dict(self.rules_fired.most_common()),
        }


def _signature(d: Decision) -> tuple:
    return (
        tuple(sorted((s.location_id, s.method, tuple(sorted(s.lines))) for s in d.shipments)),
        tuple(sorted(d.unplaced.items())),
    )


@dataclass(slots=True)
class PairResult:
    published: SideTotals
    draft: SideTotals
    changed: list[tuple[int, Decision, Decision]]  # (order id, published, draft), first MAX_CHANGED_LISTED
    changed_count: int
    like_for_like: tuple[float, float, int]  # cost published, cost draft, orders placed in full by both


def simulate_pair(
    *,
    views: list[OrderView],
    published: NetworkStatic,
    draft: NetworkStatic,
    snapshot: Snapshot,
    progress: Callable[[int], None] | None = None,
    every: int = 200,
) -> PairResult:
    """Route `views` in order with both rule sets, each on its own copy of the snapshot."""
    states = {"published": _state_copy(snapshot.state), "draft": _state_copy(snapshot.state)}
    pools = {side: {ch: dict(p) for ch, p in snapshot.pools.items()} for side in ("published", "draft")}
    statics = {"published": published, "draft": draft}
    totals = {"published": SideTotals(), "draft": SideTotals()}
    changed: list[tuple[int, Decision, Decision]] = []
    changed_count = 0
    lfl_pub = lfl_draft = 0.0
    lfl_n = 0
    for i, view in enumerate(views, start=1):
        out = {}
        for side in ("published", "draft"):
            state = states[side]
            state.pool_left = pools[side].get(view.channel, {})
            d = order_decide(order=view, static=statics[side], state=state)
            state.apply(d)
            totals[side].add(d)
            out[side] = d
        if _signature(out["published"]) != _signature(out["draft"]):
            changed_count += 1
            if len(changed) < MAX_CHANGED_LISTED:
                changed.append((view.id, out["published"], out["draft"]))
        if not out["published"].unplaced and not out["draft"].unplaced:
            lfl_pub += out["published"].model_cost
            lfl_draft += out["draft"].model_cost
            lfl_n += 1
        if progress is not None and i % every == 0:
            progress(i)
    return PairResult(
        published=totals["published"],
        draft=totals["draft"],
        changed=changed,
        changed_count=changed_count,
        like_for_like=(lfl_pub, lfl_draft, lfl_n),
    )


# ---------------------------------------------------------------------------------------------------------
# Explanations (the same shape as a stored RoutingDecision, so routing's partial renders them)


def _money(x: float) -> str:
    return str(Decimal(str(round(x, 2))))


def decision_record_json(*, d: Decision, static: NetworkStatic, trim: bool) -> dict:
    """A JSON-safe dict of RoutingDecision fields for an in-memory decision. With `trim`, candidate rows are
    cut to the locations used plus the nearest few (the explanation notes how many were left out)."""
    infos = d.candidates
    notes = list(d.notes)
    if trim and len(infos) > NEAREST_CANDIDATES_KEPT:
        used = {s.location_id for s in d.shipments}
        nearest = {c.location_id for c in sorted(infos, key=lambda c: c.distance_km)[:NEAREST_CANDIDATES_KEPT]}
        kept = [c for c in infos if c.location_id in used or c.location_id in nearest]
        notes.append(f"{len(infos) - len(kept)} more eligible location(s) not kept in this simulation record")
        infos = kept
    return {
        "order_id": d.order_id,
        "kind": RoutingDecision.Kind.ROUTE,
        "outcome": d.outcome,
        "reason": "",
        "rule_set_version_id": d.rule_set_version_id,
        "service_level": d.service_level,
        "method": d.method,
        "rules_fired": d.rules_fired,
        "candidates": {
            "line_ids": list(d.line_products),
            "quantities": list(d.problem.quantities) if d.problem else [],
            "rows": [c.row() for c in infos],
            "unit_kg": [round(kg, 4) for kg in d.unit_kg],
        },
        "excluded": {"by_reason": d.excluded, "others_without_stock": d.unlisted_locations},
        "plan": [
            {
                "location_id": s.location_id,
                "location": static.locations[s.location_id].code,
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
        "notes": notes,
        "promise_date": d.promise.isoformat() if d.promise else None,
        "cost": _money(d.cost),
        "model_cost": _money(d.model_cost),
        "optimal": d.optimal,
        "compute_ms": round(d.compute_ms, 4),
    }


def decision_from_json(data: dict) -> RoutingDecision:
    """An unsaved RoutingDecision from `decision_record_json` output (for routing.selectors.decision_explain)."""
    fields = {k: v for k, v in data.items() if k != "plan"}
    fields["promise_date"] = date.fromisoformat(data["promise_date"]) if data.get("promise_date") else None
    fields["cost"] = Decimal(data["cost"])
    fields["model_cost"] = Decimal(data["model_cost"])
    plan = [{k: v for k, v in s.items() if k != "location"} for s in data["plan"]]
    return RoutingDecision(plan=plan, **fields)


def _brief(d: Decision, static: NetworkStatic) -> dict:
    return {
        "outcome": d.outcome,
        "cost": round(d.model_cost, 2),
        "shipments": [
            f"{static.locations[s.location_id].code} ({s.method}, {sum(q for _, q in s.lines)} u)" for s in d.shipments
        ],
        "backordered_units": sum(d.unplaced.values()),
        "rules": [r["name"] for r in d.rules_fired],
    }


# ---------------------------------------------------------------------------------------------------------
# Services


def _orders_from_csv(*, csv_file) -> list[int]:
    raw = csv_file.read()
    text = raw.decode("utf-8-sig", errors="replace") if isinstance(raw, bytes) else raw
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise ValidationError("The CSV file is empty: give one order number per row (column “order”).")
    header = [c.strip().lower() for c in rows[0]]
    col = next((header.index(c) for c in CSV_COLUMNS if c in header), None)
    start = 1 if col is not None else 0
    col = col or 0
    numbers: list[tuple[int, str]] = []
    errors = []
    for i, row in enumerate(rows[start:], start=start + 1):
        value = row[col].strip() if col < len(row) else ""
        if not value:
            errors.append(f"Row {i}: no order number in column {col + 1}.")
        else:
            numbers.append((i, value))
    wanted = {n for _, n in numbers}
    found: dict[str, int] = {}
    for pk, number in Order.objects.filter(number__in=wanted).values_list("pk", "number"):
        found[number] = pk
    missing = wanted - set(found)
    if missing:
        for pk, ext in Order.objects.filter(external_id__in=missing).values_list("pk", "external_id"):
            found.setdefault(ext, pk)
    for i, n in numbers:
        if n not in found:
            errors.append(f"Row {i}: no order with number {n!r}.")
    if errors:
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        raise ValidationError([*errors[:20], f"Nothing was started{more}; fix the file and upload it again."])
    seen: set[int] = set()
    ids = []
    for _, n in numbers:
        pk = found[n]
        if pk not in seen:
            seen.add(pk)
            ids.append(pk)
    return ids


DEFAULT_DAYS = 7


def simulation_default_range(*, today: date | None = None) -> tuple[date, date]:
    """The range a simulation replays when no day is chosen: the last seven days, today included."""
    last = today or timezone.localdate()
    return last - timedelta(days=DEFAULT_DAYS - 1), last


def _orders_in_range(*, date_from: date, date_to: date, channel_code: str | None) -> list[int]:
    if date_from > date_to:
        raise ValidationError(f"The first day ({date_from}) is after the last day ({date_to}).")
    tz = timezone.get_current_timezone()
    start = datetime.combine(date_from, time.min, tzinfo=tz)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=tz)
    qs = Order.objects.filter(placed_at__gte=start, placed_at__lt=end).exclude(status=Order.Status.CANCELLED)
    if channel_code:
        qs = qs.filter(channel__code=channel_code)
    return list(qs.order_by("placed_at", "pk").values_list("pk", flat=True)[: MAX_ORDERS + 1])


def simulation_create(
    *,
    draft: RuleSetVersion,
    actor: AbstractBaseUser | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    channel_code: str | None = None,
    csv_file=None,
) -> Simulation:
    """Choose the past orders (a date range, by default the last seven days, and optional channel, or an
    uploaded CSV of order numbers),
    record a queued Simulation and enqueue its run after commit. Nothing is created when the choice is bad."""
    from routing.editor.services import ruleset_event_add

    if draft.status == RuleSetVersion.Status.PUBLISHED:
        raise ValidationError("This version is the published one; simulate a draft to compare it with.")
    if csv_file is not None:
        ids = _orders_from_csv(csv_file=csv_file)
        params = {"source": "csv", "filename": getattr(csv_file, "name", "upload.csv")}
    else:
        if date_to is None:
            date_to = simulation_default_range()[1] if date_from is None else max(date_from, timezone.localdate())
        if date_from is None:
            date_from = simulation_default_range(today=date_to)[0]
        ids = _orders_in_range(date_from=date_from, date_to=date_to, channel_code=channel_code or None)
        params = {
            "source": "range",
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
            "channel": channel_code or "",
        }
        if not ids:
            on = f" on channel {channel_code}" if channel_code else ""
            raise ValidationError(f"No orders were placed from {date_from} to {date_to}{on}; widen the range.")
    if len(ids) > MAX_ORDERS:
        raise ValidationError(f"That is more than {MAX_ORDERS:,} orders; choose a shorter range or a smaller file.")
    with transaction.atomic():
        baseline = draft.rule_set.versions.filter(status=RuleSetVersion.Status.PUBLISHED).first()
        sim = Simulation.objects.create(
            rule_set=draft.rule_set,
            draft=draft,
            baseline=baseline,
            params=params,
            order_ids=ids,
            progress_total=len(ids),
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        ruleset_event_add(
            rule_set=draft.rule_set,
            version=draft,
            action=RuleSetEvent.Action.SIMULATION_STARTED,
            summary=f"Simulation {sim.pk}: v{draft.number} vs "
            + (f"v{baseline.number}" if baseline else "no published rules")
            + f" on {len(ids)} past order(s)",
            data={"simulation_id": sim.pk, **params},
            actor=actor,
        )
        transaction.on_commit(lambda: _enqueue(sim.pk))
    return sim


def _enqueue(simulation_id: int) -> None:
    from django_q.tasks import async_task

    async_task("routing.editor.tasks.simulate", simulation_id, task_name=f"simulation-{simulation_id}")


def _claim(simulation_id: int, now: datetime) -> bool:
    """Take the run (queued, or running but abandoned); False when done, failed or running elsewhere."""
    from django.db.models import Q

    return bool(
        Simulation.objects.filter(pk=simulation_id)
        .filter(
            Q(status=Simulation.Status.QUEUED) | Q(status=Simulation.Status.RUNNING, started_at__lt=now - STALE_RUN)
        )
        .update(status=Simulation.Status.RUNNING, started_at=now, progress_done=0, error="")
    )


def simulation_run(*, simulation_id: int, now: datetime | None = None) -> Simulation:
    """Run a queued simulation (the django-q2 task calls this). Safe to deliver twice: a run that is done,
    failed or in progress elsewhere is left alone. Writes only the Simulation row."""
    now = now or timezone.now()
    if not _claim(simulation_id, now):
        return Simulation.objects.get(pk=simulation_id)
    sim = Simulation.objects.select_related("draft", "baseline").get(pk=simulation_id)
    try:
        results = _simulate(sim=sim, now=now)
    except Exception as exc:  # recorded on the row for the merchandiser to see, and logged
        log.exception("simulation %s failed", simulation_id)
        Simulation.objects.filter(pk=simulation_id).update(
            status=Simulation.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
    else:
        Simulation.objects.filter(pk=simulation_id).update(
            status=Simulation.Status.DONE,
            results=results,
            progress_done=sim.progress_total,
            finished_at=timezone.now(),
        )
    return Simulation.objects.get(pk=simulation_id)


def _simulate(*, sim: Simulation, now: datetime) -> dict:
    base = network_static()
    dist_cache: OrderedDict = OrderedDict()
    s_pub = static_for(version=sim.baseline, base=base, dist_cache=dist_cache)
    s_draft = static_for(version=sim.draft, base=base, dist_cache=dist_cache)
    views_by_id = order_views_full(order_ids=list(sim.order_ids), now=now)
    views = [views_by_id[i] for i in sim.order_ids if i in views_by_id and views_by_id[i].lines]
    snapshot = snapshot_load(views=views_by_id, static=base, now=now)
    total = sim.progress_total

    def progress(done: int) -> None:
        Simulation.objects.filter(pk=sim.pk).update(progress_done=min(done, total))

    result = simulate_pair(views=views, published=s_pub, draft=s_draft, snapshot=snapshot, progress=progress)
    codes = {loc.id: loc.code for loc in base.locations.values()}
    numbers = dict(Order.objects.filter(pk__in=[oid for oid, _, _ in result.changed]).values_list("pk", "number"))
    changed = []
    for n, (oid, d_pub, d_draft) in enumerate(result.changed):
        item = {
            "order_id": oid,
            "number": numbers.get(oid, str(oid)),
            "published": _brief(d_pub, base),
            "draft": _brief(d_draft, base),
            "cost_delta": round(d_draft.model_cost - d_pub.model_cost, 2),
        }
        if n < MAX_CHANGED_EXPLAINED:
            item["published_decision"] = decision_record_json(d=d_pub, static=base, trim=True)
            item["draft_decision"] = decision_record_json(d=d_draft, static=base, trim=True)
        changed.append(item)
    lfl_pub, lfl_draft, lfl_n = result.like_for_like
    return {
        "snapshot_at": snapshot.taken_at.isoformat(),
        "orders": len(views),
        "skipped_without_lines": len(sim.order_ids) - len(views),
        "published": result.published.as_json(codes=codes, like_for_like_cost=lfl_pub),
        "draft": result.draft.as_json(codes=codes, like_for_like_cost=lfl_draft),
        "like_for_like_orders": lfl_n,
        "changed_count": result.changed_count,
        "changed": changed,
        "changed_explained": min(len(changed), MAX_CHANGED_EXPLAINED),
    }


@dataclass(slots=True)
class TriedOrder:
    label: str
    version: RuleSetVersion | None
    record: dict  # decision_record_json output


def order_try(
    *, order: Order, versions: list[tuple[str, RuleSetVersion | None]], actor: AbstractBaseUser | None = None
) -> list[TriedOrder]:
    """Route one order with each version on today's stock, in memory: which rules matched, which locations
    were considered and why others did not qualify. Reserves nothing; only the audit trail is written."""
    from routing.editor.services import ruleset_event_add

    now = timezone.now()
    base = network_static()
    views = order_views_full(order_ids=[order.pk], now=now)
    view = views.get(order.pk)
    if view is None or not view.lines:
        raise ValidationError(f"Order {order.number} has no lines with known products to route.")
    snapshot = snapshot_load(views=views, static=base, now=now)
    dist_cache: OrderedDict = OrderedDict()
    out = []
    for label, version in versions:
        static = static_for(version=version, base=base, dist_cache=dist_cache)
        state = _state_copy(snapshot.state)
        state.pool_left = dict(snapshot.pools.get(view.channel, {}))
        d = order_decide(order=view, static=static, state=state)
        out.append(TriedOrder(label=label, version=version, record=decision_record_json(d=d, static=base, trim=False)))
    first = next((v for _, v in versions if v is not None), None)
    if first is not None:
        ruleset_event_add(
            rule_set=first.rule_set,
            version=first,
            action=RuleSetEvent.Action.ORDER_TESTED,
            summary=f"Tested order {order.number}: "
            + "; ".join(
                f"{t.label} → {', '.join(s['location'] for s in t.record['plan']) or 'backorder'}" for t in out
            ),
            data={"order_id": order.pk},
            actor=actor,
        )
    return out
