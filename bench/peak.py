"""`bench peak`: five peak days on the benchmark network (shared/design/BENCHMARK.md, "The peak world").

Every policy replays the same five-day order stream in memory through routing's core (`order_decide` on a
`NetworkState`), from the same initial stock: capacities that bind on the peak days, DCs restocked each morning
with the previous day's DC shipments, stores topped up from their nearest DC on Thursday, store picks that fail
at each store's seeded rate (the failed units are re-routed away from the store, whose ATS of that SKU drops to
0), backordered units retried each morning. Each policy is charged the same way: the cost model of its final
shipments, $10 per business day late per shipment, and a fixed charge per unit never placed. The hindsight
bound (bench.peak_bound) is a relaxation over the whole stream no policy can beat.

Policies: `single_dc`, `shopify_default`, and ours with and without batch re-optimisation (routing.reopt, the
same joint solver the scheduled task uses) and the pick-failure risk term (each store's rate learned online
from its picks, Beta(1, 19) prior, as routing.selectors.pick_risk_load learns it from short picks). Every
`ours*` policy but `ours_no_lookahead` prices DC units and DC order slots by routing's look-ahead, from the
forecast of bench.peak_outlook (the promotion calendar and each policy's own history, re-read hourly).
"""

from __future__ import annotations

import heapq
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from bench.peak_outlook import PeakForecast
from bench.peak_world import LATE_PER_DAY, SEED, TRUCK_DAYS, PeakWorld, peak_world
from bench.routing import _policy_optimizer
from routing.core import Decision, NetworkState, OrderView, Shipment, order_decide
from routing.costs import add_business_days
from routing.lookahead import Lookahead
from routing.reopt import Routed, plans_resolve_joint, state_give_back

UNPLACED_PENALTY = 50.0  # $ per unit never placed (every policy and the bound)
PRIOR = (1.0, 19.0)  # Beta prior of a store's pick-failure rate (mean 5 %)
REOPT_EVERY = timedelta(hours=1)
REOPT_MARGIN = 0.0
POLICIES = {  # name: (base policy, re-optimisation, risk term, forecast-driven look-ahead)
    "single_dc": ("single_dc", False, False, False),
    "shopify_default": ("shopify_default", False, False, False),
    "ours_myopic": ("ours", False, False, True),
    "ours_risk": ("ours", False, True, True),
    "ours_reopt": ("ours", True, False, True),
    "ours_no_lookahead": ("ours", True, True, False),
    "ours": ("ours", True, True, True),
}


def business_days_late(*, promise, delivered) -> int:
    """Business days from the promised date to the delivery date (0 when on time)."""
    n, d = 0, promise
    while d < delivered:
        d = add_business_days(d, 1)
        n += 1
    return n


@dataclass(slots=True)
class _Rec:
    view: OrderView
    promise: object
    shipments: list[Shipment] = field(default_factory=list)
    unplaced: dict[int, int] = field(default_factory=dict)
    day: int = 0
    rerouted: bool = False


@dataclass(slots=True)
class _ReoptStats:
    windows: int = 0
    orders: int = 0
    extra_before: int = 0
    extra_after: int = 0
    replanned: int = 0
    split_orders: int = 0
    split_avoidable: int = 0
    saved: float = 0.0
    seconds: float = 0.0


class _Sim:
    """One policy's five days (events in time order: arrivals, re-optimisation ticks, picks, mornings)."""

    def __init__(self, pw: PeakWorld, *, policy: str, reopt: bool, risk: bool, lookahead: bool = False) -> None:
        self.pw, self.policy, self.reopt, self.risk = pw, policy, reopt, risk
        self.forecast = PeakForecast(pw) if lookahead and policy == "ours" else None
        self.outlook_hour: datetime | None = None
        self.state = NetworkState(stock={pid: dict(at) for pid, at in pw.stock.items()})
        base = pw.base_static if policy != "ours" else pw.static
        self.static = replace(base, pick_risk={}, _dist_cache=type(base._dist_cache)())
        if risk:
            prior = PRIOR[0] / (PRIOR[0] + PRIOR[1])
            self.static.pick_risk = {lid: prior for lid in pw.fail_rate}
        self.picks: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        self.recs: dict[int, _Rec] = {}
        self.window: list[int] = []
        self.dc_used: dict[tuple[int, int, int], int] = defaultdict(int)
        self.events: list = []
        self.seq = 0
        self.reopt_stats = _ReoptStats()
        self.store_stock = defaultdict(dict)
        for pid, at in pw.stock.items():
            for lid, q in at.items():
                if lid in pw.fail_rate:
                    self.store_stock[lid][pid] = q
        self.compute_s = 0.0

    def push(self, when: datetime, kind: str, payload) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, self.seq, kind, payload))

    def decide(self, view: OrderView, exclude: frozenset[int] = frozenset()) -> Decision:
        t = time.perf_counter()
        if self.forecast is not None:
            self.look_ahead(view.clock)
        if self.policy == "ours":
            d = order_decide(order=view, static=self.static, state=self.state, exclude_location_ids=exclude)
        else:
            d = order_decide(
                order=view,
                static=self.static,
                state=self.state,
                exclude_location_ids=exclude,
                optimize=_policy_optimizer(policy=self.policy, order=view, static=self.static),
                prune=False,
                policy_mode=True,
            )
        self.compute_s += time.perf_counter() - t
        self.state.apply(d)
        if self.forecast is not None:
            self.forecast.observe(location_ids={s.location_id for s in d.shipments})
        return d

    def look_ahead(self, when: datetime) -> None:
        """Bid prices on DC units from the forecast of their demand until the next replenishment (re-read each
        hour: the demand still to come shrinks as the day goes on)."""
        hour = when.replace(minute=0, second=0, microsecond=0)
        if hour == self.outlook_hour:
            return
        self.outlook_hour = hour
        self.state.lookahead = Lookahead(
            static=self.static,
            stock=self.state.stock,
            rate={},
            share={},
            horizon_hours=0.0,
            clock=when,
            outlook=self.forecast.outlook(when=when, used=self.dc_used),
        )

    def take(self, rec: _Rec, d: Decision, when: datetime, *, release: bool) -> None:
        """Record a decision's shipments on the order (DC units counted for tomorrow's restock)."""
        day = self.pw.day_index(when)
        for s in d.shipments:
            if self.static.locations[s.location_id].kind == "warehouse":
                for lid, q in s.lines:
                    self.dc_used[(day, d.line_products[lid], s.location_id)] += q
        rec.shipments.extend(d.shipments)
        for lid, q in d.unplaced.items():
            rec.unplaced[lid] = rec.unplaced.get(lid, 0) + q
        if release:
            self.release(rec, d.shipments, when)

    def release(self, rec: _Rec, shipments: list[Shipment], when: datetime) -> None:
        """The locations get the work: store shipments are picked on their ship day (10:00 local)."""
        for s in shipments:
            loc = self.static.locations[s.location_id]
            if loc.kind == "store":
                at = datetime.combine(s.ship_date, dtime(10), tzinfo=ZoneInfo(loc.timezone))
                self.push(max(at, when + timedelta(minutes=30)), "pick", (rec.view.id, id(s)))

    def run(self) -> None:
        pw = self.pw
        for o in pw.orders:
            self.recs[o.id] = _Rec(view=o, promise=order_decide_promise(o), day=pw.day_index(o.placed_at))
            self.push(o.placed_at, "order", o.id)
        for i, day in enumerate([*pw.days, add_business_days(pw.days[-1], 1)]):
            self.push(datetime.combine(day, dtime(6), tzinfo=ZoneInfo("America/New_York")), "morning", i)
        if self.reopt:
            t = datetime.combine(pw.days[0], dtime(0), tzinfo=ZoneInfo("UTC"))
            while t < pw.orders[-1].placed_at + REOPT_EVERY * 2:
                t += REOPT_EVERY
                self.push(t, "tick", None)
        while self.events:
            when, _, kind, payload = heapq.heappop(self.events)
            getattr(self, f"on_{kind}")(when, payload)

    def on_order(self, when: datetime, oid: int) -> None:
        rec = self.recs[oid]
        d = self.decide(rec.view)
        self.take(rec, d, when, release=not self.reopt)
        if self.reopt:
            self.window.append(oid)

    def on_tick(self, when: datetime, _) -> None:
        recs = [self.recs[i] for i in self.window]
        self.window = []
        window = [r for r in recs if r.shipments and not r.unplaced and not r.rerouted]
        if len(window) >= 2:
            self.reoptimise(window, when)
        for rec in recs:
            self.release(rec, rec.shipments, when)

    def reoptimise(self, window: list[_Rec], when: datetime) -> None:
        t = time.perf_counter()
        routed = [_routed(rec) for rec in window]
        result = plans_resolve_joint(window=routed, static=self.static, state=self.state, margin=REOPT_MARGIN)
        st = self.reopt_stats
        st.windows += 1
        st.orders += len(window)
        st.extra_before += result.old_shipments - len(window)
        st.extra_after += result.new_shipments - len(window)
        st.replanned += len(result.decisions)
        st.split_orders += result.split_orders
        st.split_avoidable += result.split_avoidable
        st.saved += result.old_cost - result.new_cost
        by_id = {r.order.id: r for r in routed}
        for oid, d in result.decisions.items():
            rec = self.recs[oid]
            old = by_id[oid]
            state_give_back(state=self.state, routed=old)
            products = {ln.id: ln.product_id for ln in rec.view.lines}
            for s in rec.shipments:
                if self.static.locations[s.location_id].kind == "warehouse":
                    for lid, q in s.lines:
                        self.dc_used[(self.pw.day_index(when), products[lid], s.location_id)] -= q
            rec.shipments = []
            self.state.apply(d)
            self.take(rec, d, when, release=False)
        st.seconds += time.perf_counter() - t

    def on_pick(self, when: datetime, payload) -> None:
        oid, sid = payload
        rec = self.recs[oid]
        s = next((s for s in rec.shipments if id(s) == sid), None)
        if s is None:
            return
        failed = self.pick(rec, s)
        if not failed:
            return
        if not s.lines:
            rec.shipments.remove(s)
        rec.rerouted = True
        by_id = {ln.id: ln for ln in rec.view.lines}
        lines = tuple(replace(by_id[lid], quantity=q) for lid, q in failed.items())
        view = replace(rec.view, clock=when, promise=rec.promise, lines=lines)
        d = self.decide(view, frozenset({s.location_id}))
        self.take(rec, d, when, release=True)

    def pick(self, rec: _Rec, s: Shipment) -> dict[int, int]:
        """Pick a store shipment: each unit fails at the store's rate (the same draws for every policy); a failed
        line's units leave the shipment and the store's ATS of that SKU drops to 0. Returns {line: failed}."""
        store = s.location_id
        p = self.pw.fail_rate[store]
        products = {ln.id: ln.product_id for ln in rec.view.lines}
        failed: dict[int, int] = {}
        kept = []
        for lid, q in s.lines:
            rng = random.Random(hash((SEED, store, rec.view.id, lid)))
            bad = sum(rng.random() < p for _ in range(q))
            counts = self.picks[store]
            counts[0] += q
            counts[1] += bad
            if self.risk:
                self.static.pick_risk[store] = (PRIOR[0] + counts[1]) / (PRIOR[0] + PRIOR[1] + counts[0])
            if bad:
                failed[lid] = bad
                self.state.stock.get(products[lid], {}).pop(store, None)
                self.store_stock[store][products[lid]] = 0
            if q - bad > 0:
                kept.append((lid, q - bad))
        s.lines = kept
        return failed

    def on_morning(self, when: datetime, day: int) -> None:
        stock = self.state.stock
        for (d, pid, lid), q in list(self.dc_used.items()):
            if d == day - 1 and q > 0:
                at = stock.setdefault(pid, {})
                at[lid] = at.get(lid, 0) + q
        if day in TRUCK_DAYS:
            self.trucks()
        for rec in self.recs.values():
            if rec.unplaced and rec.view.placed_at < when:
                lines = tuple(
                    replace(ln, quantity=rec.unplaced[ln.id]) for ln in rec.view.lines if ln.id in rec.unplaced
                )
                rec.unplaced = {}
                d = self.decide(replace(rec.view, clock=when, promise=rec.promise, lines=lines))
                self.take(rec, d, when, release=True)

    def trucks(self) -> None:
        """Top every store's SKUs up to their opening ATS from its nearest DC (what the DC can spare)."""
        stock = self.state.stock
        for store, initial in self.store_stock.items():
            dc = self.pw.nearest_dc[store]
            for pid in initial:
                want = self.pw.stock[pid][store] - max(0, stock.get(pid, {}).get(store, 0))
                have = stock.get(pid, {}).get(dc, 0)
                move = min(want, have)
                if move > 0:
                    stock[pid][dc] = have - move
                    stock[pid][store] = stock[pid].get(store, 0) + move


def order_decide_promise(view: OrderView):
    from routing.costs import promise_date

    return promise_date(placed_at=view.placed_at, service_level=view.service_level)


def _routed(rec: _Rec) -> Routed:
    alloc: dict[int, dict[int, int]] = {}
    days = {}
    for s in rec.shipments:
        at = alloc.setdefault(s.location_id, {})
        for lid, q in s.lines:
            at[lid] = at.get(lid, 0) + q
        days[s.location_id] = s.ship_date
    cost = sum(s.shipping + s.handling + s.adjustment for s in rec.shipments)
    return Routed(order=rec.view, allocations=alloc, ship_days=days, cost=cost)


def _report(sim: _Sim, split_penalty: float) -> dict:
    model = late_pen = 0.0
    shipments = late = placed = unplaced_units = orders = 0
    for rec in sim.recs.values():
        orders += 1
        ships = [s for s in rec.shipments if s.lines]
        shipments += len(ships)
        model += sum(s.shipping + s.handling for s in ships) + split_penalty * max(0, len(ships) - 1)
        for s in ships:
            days = business_days_late(promise=rec.promise, delivered=s.delivery_date)
            late += days > 0
            late_pen += LATE_PER_DAY * days
        left = sum(rec.unplaced.values())
        unplaced_units += left
        placed += left == 0 and bool(ships)
    with_pen = model + late_pen + UNPLACED_PENALTY * unplaced_units
    return {
        "cost_without_penalties": round(model, 2),
        "late_penalties": round(late_pen, 2),
        "unplaced_units": unplaced_units,
        "cost_with_penalties": round(with_pen, 2),
        "late_share_pct": round(100.0 * late / max(1, shipments), 3),
        "late_shipments": late,
        "shipments_per_order": round(shipments / max(1, orders), 4),
        "placed_share_pct": round(100.0 * placed / max(1, orders), 3),
        "compute_s": round(sim.compute_s, 2),
    }


def peak_run(
    *, pw: PeakWorld, log, policies: tuple[str, ...] = tuple(POLICIES), bound: bool = True, gap: bool = False
) -> dict:
    """Every policy on the peak world, the hindsight bound, and the comparison."""
    from bench.peak_bound import hindsight_bound

    out: dict = {"scale": pw.scale, "orders": len(pw.orders), "orders_per_day": _per_day(pw)}
    results = {}
    for name in policies:
        base, reopt, risk, lookahead = POLICIES[name]
        t = time.perf_counter()
        sim = _Sim(pw, policy=base, reopt=reopt, risk=risk, lookahead=lookahead)
        sim.run()
        results[name] = _report(sim, pw.static.split_penalty)
        results[name]["seconds"] = round(time.perf_counter() - t, 1)
        if reopt:
            results[name]["reopt"] = _reopt_report(sim.reopt_stats)
        log(f"{name}: {results[name]}")
    out["policies"] = results
    if bound:
        b = hindsight_bound(pw=pw, log=log)
        out["bound"] = b
        for r in results.values():
            r["gap_to_bound_pct"] = (
                None if b["cost"] is None else round(100.0 * (r["cost_with_penalties"] - b["cost"]) / b["cost"], 2)
            )
        if gap:  # why ours is above the bound: staged plans and the gap decomposition (bench.peak_gap)
            from bench.peak_gap import peak_gap_report

            out |= peak_gap_report(pw=pw, bound=b, log=log)
    return out | _headline(results)


def _per_day(pw: PeakWorld) -> list[int]:
    counts = [0] * len(pw.days)
    for o in pw.orders:
        counts[min(len(counts) - 1, max(0, pw.day_index(o.placed_at)))] += 1
    return counts


def _reopt_report(st: _ReoptStats) -> dict:
    return {
        "windows": st.windows,
        "orders": st.orders,
        "extra_shipments_before": st.extra_before,
        "extra_shipments_after": st.extra_after,
        "reopt_extra_shipments_removed_pct": round(
            100.0 * (st.extra_before - st.extra_after) / max(1, st.extra_before), 2
        ),
        "orders_replanned": st.replanned,
        # Why the share removed is what it is: a split is removable only when one location could send the
        # whole order on the window's shared stock; the rest are forced by where the stock is.
        "split_orders": st.split_orders,
        "split_orders_one_location_could_send": st.split_avoidable,
        "objective_saved": round(st.saved, 2),
        "seconds": round(st.seconds, 1),
    }


def _headline(results: dict) -> dict:
    """The figures the targets are about."""
    out = {}
    ours = results.get("ours")
    if ours and "reopt" in ours:
        out["reopt_extra_shipments_removed_pct"] = ours["reopt"]["reopt_extra_shipments_removed_pct"]
    base = [results[k] for k in ("single_dc", "shopify_default") if k in results]
    if ours and base:
        out["best_baseline_late_shipments"] = min(b["late_shipments"] for b in base)
        out["ours_late_shipments"] = ours["late_shipments"]
    if ours and "gap_to_bound_pct" in ours:
        out["ours_gap_to_bound_pct"] = ours["gap_to_bound_pct"]
    pairs = (("ours_myopic", "ours_risk"), ("ours_reopt", "ours"))
    out["pick_risk_effect"] = [
        {
            "without": a,
            "with": b,
            "cost_with_penalties": [results[a]["cost_with_penalties"], results[b]["cost_with_penalties"]],
            "late_share_pct": [results[a]["late_share_pct"], results[b]["late_share_pct"]],
        }
        for a, b in pairs
        if a in results and b in results
    ]
    if "ours_myopic" in results and "ours_reopt" in results:
        m, r = results["ours_myopic"], results["ours_reopt"]
        out["reopt_cost_effect"] = round(r["cost_with_penalties"] - m["cost_with_penalties"], 2)
    if "ours" in results and "ours_no_lookahead" in results:
        out["lookahead_effect"] = _lookahead_effect(without=results["ours_no_lookahead"], with_=results["ours"])
    out["targets"] = {"ours_gap_to_bound_pct": 5, "reopt_extra_shipments_removed_pct": 40}
    return out


def _lookahead_effect(*, without: dict, with_: dict) -> dict:
    """Ours without and with the forecast-driven look-ahead (each pair: [without, with])."""
    removed = [r.get("reopt", {}).get("reopt_extra_shipments_removed_pct") for r in (without, with_)]
    return {
        "without": "ours_no_lookahead",
        "with": "ours",
        "cost_with_penalties": [without["cost_with_penalties"], with_["cost_with_penalties"]],
        "cost_without_penalties": [without["cost_without_penalties"], with_["cost_without_penalties"]],
        "late_shipments": [without["late_shipments"], with_["late_shipments"]],
        "unplaced_units": [without["unplaced_units"], with_["unplaced_units"]],
        "reopt_extra_shipments_removed_pct": removed,
    }


def bench_peak(*, log, scale: str = "large", gap: bool = False, **_) -> dict:
    t = time.perf_counter()
    pw = peak_world(scale=scale)
    log(f"peak world ({scale}): {len(pw.orders)} orders, built in {time.perf_counter() - t:.1f}s")
    return peak_run(pw=pw, log=log, gap=gap)


BENCHMARKS = {"peak": bench_peak}
