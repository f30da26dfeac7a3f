"""`bench simulate`: the standard world's order stream replayed by the what-if simulation (draft vs the
published rules, side by side, on a snapshot of today's stock), through the real service
(`routing.editor.simulation.simulation_run`); then the same orders routed live by `route_pending` (all writes) for
the rate to compare with. Live stock must be untouched by the simulation (checked)."""

from __future__ import annotations

import io
import time
from datetime import timedelta

from django.db import connection
from django.db.models import Count, Sum

from bench.tools import ensure_world

DRAFT_RULE = ("Prefer DCs a little", {}, {"type": "prefer", "kinds": ["warehouse"], "adjustment": -1.5})


def _live_totals() -> dict:
    from inventory.models import InventoryMovement, Reservation, StockLevel

    return {
        "stock": StockLevel.objects.aggregate(on_hand=Sum("on_hand"), reserved=Sum("reserved"), n=Count("pk")),
        "reservations": Reservation.objects.count(),
        "movements": InventoryMovement.objects.count(),
    }


def bench_simulate(*, log, orders: int = 10000, scale: str = "large", **_) -> dict:
    from bench.routing import _cleanup, _create_orders
    from bench.world import build_world, order_stream
    from orders.models import Order
    from routing.editor import services as editor
    from routing.editor.models import Simulation
    from routing.editor.selectors import version_draft
    from routing.editor.simulation import simulation_create, simulation_run
    from routing.models import RuleSet
    from routing.selectors import network_static
    from routing.services import orders_route_pending

    ensure_world(scale=scale, log=log)
    stream = order_stream(build_world(scale))[:orders]
    start = stream[0].placed_at
    days = (start.date() - timedelta(days=1), stream[-1].placed_at.date() + timedelta(days=14))
    _cleanup(log=log, days=days)
    ids = _create_orders(stream=stream, log=log)

    rule_set = RuleSet.objects.get(is_active=True)
    stale = version_draft(rule_set=rule_set)
    if stale is not None:
        editor.ruleset_draft_discard(version=stale, comment="bench")
    draft = editor.ruleset_draft_create(rule_set=rule_set, comment="bench simulate")
    name, conditions, action = DRAFT_RULE
    editor.rule_add(version=draft, name=name, conditions=conditions, action=action)
    network_static()  # warm the process cache, as a worker would have it

    numbers = dict(Order.objects.filter(pk__in=ids).values_list("pk", "number"))
    upload = io.StringIO("order\n" + "".join(f"{numbers[i]}\n" for i in ids))
    upload.name = "bench.csv"
    sim = simulation_create(draft=draft, csv_file=upload)
    before = _live_totals()
    t0 = time.perf_counter()
    sim = simulation_run(simulation_id=sim.pk)  # tests and the bench call the task's body directly
    elapsed = time.perf_counter() - t0
    untouched = _live_totals() == before
    if sim.status != Simulation.Status.DONE:
        raise RuntimeError(f"simulation failed: {sim.error}")
    res = sim.results
    log(f"simulated {res['orders']} orders × 2 rule sets in {elapsed:.1f}s ({res['orders'] / elapsed:.0f} orders/s)")

    t1 = time.perf_counter()
    live = orders_route_pending(batch=500, now=start)
    live_elapsed = time.perf_counter() - t1
    log(f"live route_pending: {live.orders} orders in {live_elapsed:.1f}s")

    editor.ruleset_draft_discard(version=draft, comment="bench done")
    _cleanup(log=log, days=days)

    def side(key: str) -> dict:
        s = res[key]
        return {
            k: s[k]
            for k in (
                "cost_total",
                "cost_like_for_like",
                "shipments_per_order",
                "avg_distance_km",
                "promise_met_pct",
                "backordered_orders",
            )
        }

    return {
        "database": connection.vendor,
        "orders": res["orders"],
        "orders_per_s": round(res["orders"] / elapsed, 1),
        "decisions_per_s": round(2 * res["orders"] / elapsed, 1),
        "seconds": round(elapsed, 2),
        "live_routing_orders_per_s": round(live.orders / live_elapsed, 1),
        "live_untouched": untouched,
        "changed_orders": res["changed_count"],
        "published": side("published"),
        "draft": side("draft"),
        "target": "orders_per_s >= live_routing_orders_per_s",
    }
