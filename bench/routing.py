"""`bench routing`: the standard world's order stream routed by ours (the real `route_pending` path, all
writes included), then — from the same initial stock, in memory — by the baseline policies, with the exact
MILP oracle run on the very problems our optimizer solved. See shared/design/BENCHMARK.md."""

from __future__ import annotations

import copy
import gc
import hashlib
import json
import time
from dataclasses import replace
from datetime import datetime, timedelta

from django.db import connection, transaction

from bench.scoring import LATE_FEE_PER_BUSINESS_DAY, policy_summary
from bench.tools import ensure_world, ms, percentile

PRIMARY_DC = "DC-EDISON"
BENCH_PREFIX = "BENCH-"


def _cleanup(*, log, days: tuple | None = None) -> None:
    """Release the reservations of earlier bench orders (through inventory.services) and delete them."""
    from fulfillment.models import FulfillmentLine, FulfillmentOrder
    from inventory.models import RefType, Reservation
    from inventory.services import reservation_release
    from orders.models import Order, OrderEvent, OrderLine
    from routing.models import LocationCapacity, RoutingDecision

    orders = Order.objects.filter(external_id__startswith=BENCH_PREFIX)
    res_ids = list(
        Reservation.objects.filter(
            ref_type=RefType.ORDER,
            ref_id__in=list(orders.values_list("pk", flat=True)),
            status=Reservation.Status.ACTIVE,
        ).values_list("pk", flat=True)
    )
    if res_ids:
        log(f"releasing {len(res_ids)} bench reservations…")
    for pk in res_ids:
        reservation_release(reservation=Reservation(pk=pk), reference="bench reset")
    with transaction.atomic():
        FulfillmentLine.objects.filter(fulfillment_order__order__in=orders).delete()
        FulfillmentOrder.objects.filter(order__in=orders).delete()
        RoutingDecision.objects.filter(order__in=orders).delete()
        OrderEvent.objects.filter(order__in=orders).delete()
        OrderLine.objects.filter(order__in=orders).delete()
        orders.delete()
        if days:
            LocationCapacity.objects.filter(day__gte=days[0], day__lte=days[1]).delete()


def _vacuum(*, log) -> None:
    """VACUUM ANALYZE the tables a run churns (PostgreSQL): every run creates, routes and deletes its orders,
    and without (auto)vacuum the dead rows of earlier runs would slow each later run's queries."""
    if connection.vendor != "postgresql":
        return
    from fulfillment.models import FulfillmentLine, FulfillmentOrder
    from inventory.models import Reservation, ReservationLine, StockLevel
    from orders.models import Order, OrderEvent, OrderLine
    from routing.models import LocationCapacity, RoutingDecision

    log("vacuuming…")
    models = (Order, OrderLine, OrderEvent, RoutingDecision, FulfillmentOrder, FulfillmentLine, Reservation)
    with connection.cursor() as cur:
        for model in (*models, ReservationLine, StockLevel, LocationCapacity):
            cur.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _create_orders(*, stream, log) -> list[int]:
    from inventory.models import Location, Product
    from orders.models import Channel, Order, OrderLine

    web = Channel.objects.get(code="web")
    loc_ids = dict(Location.objects.values_list("code", "pk"))
    skus = {sku for o in stream for sku, _ in o.lines}
    prod = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk"))
    with transaction.atomic():
        orders = Order.objects.bulk_create(
            [
                Order(
                    channel=web,
                    external_id=o.external_id,
                    number=o.external_id,
                    status=Order.Status.VALIDATED,
                    placed_at=o.placed_at,
                    shipping_address={
                        "postal_code": o.postal_code,
                        "country": "US",
                        "region": o.region,
                        "city": o.city,
                        "latitude": o.latitude,
                        "longitude": o.longitude,
                        "residential": o.residential,
                    },
                    fulfillment_method=o.method,
                    pickup_location_id=loc_ids.get(o.pickup_location) if o.pickup_location else None,
                    service_level=o.service_level,
                )
                for o in stream
            ],
            batch_size=2000,
        )
        OrderLine.objects.bulk_create(
            [
                OrderLine(order=order, line_number=i, product_id=prod[sku], sku=sku, quantity=q)
                for order, o in zip(orders, stream, strict=True)
                for i, (sku, q) in enumerate(o.lines, start=1)
            ],
            batch_size=5000,
        )
    log(f"created {len(orders)} orders")
    return [o.pk for o in orders]


def _baseline_static(static):
    """The same network and rates without the merchandisers' rules (pickup still falls back to ship-to-store)."""
    from routing.rules import ruleset_compile

    rules = ruleset_compile(
        version_id=None,
        label="baseline",
        rules=[
            (
                0,
                "pickup fallback",
                0,
                {"field": "order.method", "op": "eq", "value": "pickup"},
                {"type": "pickup_fallback", "fallback": "ship_to_store"},
            )
        ],
        resolver=None,
    )
    return replace(static, rules=rules, _dist_cache=copy.copy(static._dist_cache))


def _policy_optimizer(*, policy: str, order, static):
    """An `optimize` callable for routing.core.order_decide that applies a baseline policy."""
    from routing.optimizer import Plan, Problem, plan_optimize
    from routing.policies import LocationInfo, plan_shopify_default, plan_single_dc

    locs = static.locations
    pickup_id = order.pickup_location_id if order.method == "pickup" else None
    if pickup_id is not None and pickup_id in locs:
        store = locs[pickup_id]
        dest = (store.latitude, store.longitude)
    else:
        dest = (order.latitude, order.longitude)
    dist = static.distances(*dest)

    def info_for(problem: Problem) -> dict:
        return {
            c.key: LocationInfo(
                key=c.key,
                kind=locs[c.key].kind,
                distance_km=0.0 if c.key == pickup_id else dist.get(c.key, 0.0),
                is_primary_dc=locs[c.key].code == PRIMARY_DC,
                country=locs[c.key].country,
            )
            for c in problem.candidates
        }

    def remap(plan: Plan, index: list[int]) -> Plan:
        plan.allocations = [[(index[i], q) for i, q in alloc] for alloc in plan.allocations]
        return plan

    def optimize(*, problem: Problem) -> Plan:
        if policy == "shopify_default":
            return plan_shopify_default(problem=problem, info=info_for(problem), destination_country=order.country)
        if pickup_id is not None:
            at = [i for i, c in enumerate(problem.candidates) if c.key == pickup_id]
            if at:
                only = replace(problem, candidates=(problem.candidates[at[0]],))
                plan = plan_optimize(problem=only)
                if not any(plan.unplaced):
                    return remap(plan, at)
            rest = [i for i, c in enumerate(problem.candidates) if c.key != pickup_id]
            sub = replace(problem, candidates=tuple(problem.candidates[i] for i in rest))
            return remap(plan_single_dc(problem=sub, info=info_for(sub)), rest)
        return plan_single_dc(problem=problem, info=info_for(problem))

    return optimize


def _decisions_sha256(*, decisions: dict, order_ids: list[int]) -> str:
    """A SHA-256 over every decision, independent of database ids: per order (by number, sorted) its method,
    outcome, each shipment's location code, method, service and (line number, units), and the unplaced units."""
    from inventory.models import Location
    from orders.models import Order, OrderLine

    number = dict(Order.objects.filter(pk__in=order_ids).values_list("pk", "number"))
    line_no = dict(OrderLine.objects.filter(order_id__in=order_ids).values_list("pk", "line_number"))
    code = dict(Location.objects.values_list("pk", "code"))
    rows = []
    for oid, d in decisions.items():
        shipments = sorted(
            (
                code[s.location_id],
                s.method,
                s.service,
                s.ship_date.isoformat(),
                sorted((line_no[lid], q) for lid, q in s.lines),
            )
            for s in d.shipments
        )
        unplaced = sorted((line_no[lid], q) for lid, q in d.unplaced.items())
        rows.append([number[oid], d.method, d.outcome, shipments, unplaced])
    rows.sort(key=lambda r: r[0])
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def bench_routing(*, log, orders: int = 10000, scale: str = "large", oracle: bool = True, **_) -> dict:
    from bench.world import build_world, order_stream
    from routing.core import order_decide
    from routing.oracle import plan_oracle
    from routing.selectors import network_state_load, network_static, order_views_load
    from routing.services import orders_route_pending

    ensure_world(scale=scale, log=log)
    world = build_world(scale)
    stream = order_stream(world)[:orders]
    start: datetime = stream[0].placed_at
    days = (start.date() - timedelta(days=1), stream[-1].placed_at.date() + timedelta(days=14))
    _cleanup(log=log, days=days)
    ids = _create_orders(stream=stream, log=log)
    _vacuum(log=log)

    # The initial state, in memory, for the baselines (same stock ours starts from).
    static = network_static()
    views = order_views_load(order_ids=ids, now=start)
    product_ids = sorted({ln.product_id for v in views.values() for ln in v.lines})
    initial, _ = network_state_load(product_ids=product_ids, static=static, clock=start)
    log(f"initial state: {sum(len(v) for v in initial.stock.values())} stocked product × location pairs")

    # Ours: the real route_pending path, every write included. The benchmark's own data (the generated world,
    # the stream, the baselines' initial state: millions of references) is frozen out of the cyclic garbage
    # collector meanwhile: left in, each full collection would traverse it (~1 s), which a routing worker
    # holding no such data never pays.
    ours: dict[int, object] = {}
    connection.ensure_connection()
    gc.collect()
    gc.freeze()
    t0 = time.perf_counter()
    try:
        result = orders_route_pending(batch=1000, now=start, observer=lambda d: ours.__setitem__(d.order_id, d))
    finally:
        elapsed = time.perf_counter() - t0
        gc.unfreeze()
    log(f"ours: {result.orders} orders in {elapsed:.1f}s ({result.orders / elapsed:.0f}/s)")
    compute = [d.compute_ms for d in ours.values()]

    # Oracle on the very problems ours solved (same state, same objective).
    optimal = gaps = checked = 0
    gap_sum = 0.0
    oracle_costs = {}
    t1 = time.perf_counter()
    if oracle:
        for oid, d in ours.items():
            if d.problem is None or not d.problem.candidates:
                continue
            exact = plan_oracle(problem=d.problem)
            checked += 1
            placed_ours, placed_exact = d.plan.placed, exact.placed
            same = placed_ours == placed_exact and d.plan.cost <= exact.cost + 1e-6
            if placed_ours > placed_exact:
                same = True  # the oracle hit its time limit; ours placed more
            optimal += same
            if placed_ours == placed_exact and exact.cost > 0:
                gap_sum += max(0.0, (d.plan.cost - exact.cost) / exact.cost * 100.0)
                gaps += 1
            oracle_costs[oid] = exact.cost
        log(f"oracle: {checked} problems in {time.perf_counter() - t1:.1f}s")
        _store_oracle_costs(oracle_costs)

    # Baselines, each from the same initial state, in memory, in the same order.
    base_static = _baseline_static(static)
    policies = {}
    for policy in ("single_dc", "shopify_default"):
        state = copy.deepcopy(initial)
        out = {}
        for oid in ids:
            v = views[oid]
            d = order_decide(
                order=v,
                static=base_static,
                state=state,
                optimize=_policy_optimizer(policy=policy, order=v, static=base_static),
                prune=False,  # the policies choose among every eligible location
                policy_mode=True,
            )
            state.apply(d)
            out[oid] = d
        policies[policy] = out
        log(f"{policy}: done")

    every = {oid for oid in ids if all(oid in p and not p[oid].unplaced for p in (ours, *policies.values()))}
    # Every policy is held to the same promises: its late shipments pay the same penalty (bench.scoring).
    s_ours = policy_summary(decisions=ours, common=every)
    s_single = policy_summary(decisions=policies["single_dc"], common=every)
    s_shop = policy_summary(decisions=policies["shopify_default"], common=every)

    # The floor under every policy (a reference, not a policy): stock and capacity only shrink as orders are
    # routed, so no policy can route an order more cheaply than its optimum on the initial state, here without
    # rules, promises or late penalties (what the baselines ignore too). It shows how much reduction this world
    # allows at all.
    floor_static = replace(base_static, late_penalty=0.0)
    floor_cost = sum(
        order_decide(order=views[oid], static=floor_static, state=initial, policy_mode=True).model_cost for oid in every
    )

    def reduction(other: dict, cost: float | None = None) -> float:
        cost = s_ours["cost_total"] if cost is None else cost
        return round(100.0 * (other["cost_total"] - cost) / max(1e-9, other["cost_total"]), 2)

    signature = _decisions_sha256(decisions=ours, order_ids=ids)
    _cleanup(log=log, days=days)
    return {
        "database": connection.vendor,
        "orders": len(ids),
        "orders_per_s": round(result.orders / elapsed, 1),
        "decisions_sha256": signature,
        # Locations fully priced per order (routing.core: the rest are ruled out or cut by a cost bound).
        "priced_per_order": round(sum(d.priced for d in ours.values()) / max(1, len(ours)), 2),
        "compute_p50_ms": ms(percentile(compute, 0.5) / 1000.0),
        "compute_p99_ms": ms(percentile(compute, 0.99) / 1000.0),
        "ours": s_ours,
        "single_dc": s_single,
        "shopify_default": s_shop,
        "optimal_share_pct": round(100.0 * optimal / max(1, checked), 3),
        "mean_gap_pct": round(gap_sum / max(1, gaps), 4),
        "cost_reduction_vs_single_dc_pct": reduction(s_single),
        "cost_reduction_vs_shopify_default_pct": reduction(s_shop),
        "floor_cost_total": round(floor_cost, 2),
        "floor_reduction_vs_single_dc_pct": reduction(s_single, floor_cost),
        "floor_reduction_vs_shopify_default_pct": reduction(s_shop, floor_cost),
        "compared_orders": len(every),
        "late_fee_per_business_day": LATE_FEE_PER_BUSINESS_DAY,
        "oracle_checked": checked,
        "outcomes": {"routed": result.routed, "partial": result.partial, "backordered": result.backordered},
        "targets": {
            "orders_per_s": 1000,
            "compute_p99_ms": 5,
            "optimal_share_pct": 99.5,
            "cost_reduction_vs_single_dc_pct": 26,
            "cost_reduction_vs_shopify_default_pct": 8,
        },
    }


def _store_oracle_costs(costs: dict[int, float]) -> None:
    """Record the oracle's cost on each bench decision (the explanation shows it)."""
    from decimal import Decimal

    from routing.models import RoutingDecision

    recs = list(RoutingDecision.objects.filter(order_id__in=list(costs)).only("pk", "order_id"))
    for r in recs:
        r.oracle_cost = Decimal(str(round(costs[r.order_id], 2)))
    RoutingDecision.objects.bulk_update(recs, ["oracle_cost"], batch_size=2000)


def bench_routing_optimizer(*, log, iterations: int = 2000, **_) -> dict:
    """The optimizer alone on generated problems of the standard world (bench.routing_optimizer)."""
    from bench.routing_optimizer import optimizer_bench

    return optimizer_bench(problems=iterations)


BENCHMARKS = {"routing": bench_routing, "routing_optimizer": bench_routing_optimizer}

# The rule editor's what-if simulation benchmark (bench/routing_simulate.py).
from bench.routing_simulate import bench_simulate  # noqa: E402

BENCHMARKS["simulate"] = bench_simulate
